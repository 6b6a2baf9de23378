//! Parsing `#[ws_resource("/path", key = value, ...)]`.

use proc_macro2::Span;
use syn::{
    Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, Token, UnOp,
    parse::{Parse, ParseStream},
};

/// The options, each with the kind of value it takes.
const OPTIONS: &[(&str, Kind)] = &[
    ("max_payload", Kind::Count),
    ("max_frames", Kind::Count),
    ("max_message", Kind::Count),
    ("max_queue", Kind::Count),
    ("slow_consumer", Kind::Policy),
    ("ping_interval", Kind::Duration { off: true }),
    ("pong_timeout", Kind::Duration { off: false }),
    ("idle_timeout", Kind::Duration { off: true }),
    ("compression", Kind::Compression),
    ("compress_threshold", Kind::Size),
    ("window_bits", Kind::WindowBits),
];

#[derive(Clone, Copy)]
enum Kind {
    Count,
    /// A byte count that may be zero.
    Size,
    WindowBits,
    Compression,
    Policy,
    /// `off`: whether `"off"` is accepted.
    Duration {
        off: bool,
    },
}

/// The attribute's arguments, parsed and checked.
pub(crate) struct ResourceArgs {
    pub(crate) path: LitStr,
    pub(crate) options: Vec<Setting>,
}

/// One `key = value` option.
pub(crate) struct Setting {
    pub(crate) key: Ident,
    pub(crate) value: Value,
}

pub(crate) enum Value {
    /// A positive integer.
    Count(usize),
    /// `"off"`, `"on"` or `"client-takeover"`.
    Compression { enabled: bool, takeover: bool },
    /// 9 to 15.
    WindowBits(u8),
    /// A `SlowConsumer` variant.
    Policy(Ident),
    /// Milliseconds, or `None` for `"off"`.
    Duration(Option<u64>),
}

impl Parse for ResourceArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "#[ws_resource] needs the resource path, like #[ws_resource(\"/chat\")]",
            ));
        }
        let path: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected the resource path as a string literal, like \"/chat\"",
            )
        })?;
        check_path(&path)?;
        let mut options: Vec<Setting> = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let setting = parse_setting(input)?;
            if options.iter().any(|seen| seen.key == setting.key) {
                return Err(syn::Error::new(
                    setting.key.span(),
                    format!("`{}` specified more than once", setting.key),
                ));
            }
            options.push(setting);
        }
        Ok(ResourceArgs { path, options })
    }
}

fn parse_setting(input: ParseStream<'_>) -> syn::Result<Setting> {
    let unknown = || {
        let names: Vec<String> = OPTIONS
            .iter()
            .map(|(name, _)| format!("`{name}`"))
            .collect();
        format!("expected one of: {}", names.join(", "))
    };
    let key: Ident = input
        .parse()
        .map_err(|error| syn::Error::new(error.span(), unknown()))?;
    let Some(&(_, kind)) = OPTIONS.iter().find(|(name, _)| key == name) else {
        return Err(syn::Error::new(key.span(), unknown()));
    };
    if !input.peek(Token![=]) {
        return Err(syn::Error::new(
            key.span(),
            format!("`{key}` needs a value, like `{key} = {}`", example(kind)),
        ));
    }
    input.parse::<Token![=]>()?;
    let value: Expr = input.parse()?;
    let value = ungroup(&value);
    let value = match kind {
        Kind::Count => Value::Count(positive_integer(&key, value)?),
        Kind::Size => Value::Count(integer(&key, value)?),
        Kind::WindowBits => Value::WindowBits(window_bits(&key, value)?),
        Kind::Compression => compression(&key, value)?,
        Kind::Policy => Value::Policy(policy(&key, value)?),
        Kind::Duration { off } => Value::Duration(duration(&key, value, off)?),
    };
    Ok(Setting { key, value })
}

/// A value passed through `macro_rules!` arrives wrapped in an invisible group.
fn ungroup(mut value: &Expr) -> &Expr {
    while let Expr::Group(group) = value {
        value = &group.expr;
    }
    value
}

fn example(kind: Kind) -> &'static str {
    match kind {
        Kind::Count | Kind::Size => "65536",
        Kind::WindowBits => "12",
        Kind::Compression => "\"on\"",
        Kind::Policy => "\"drop\"",
        Kind::Duration { .. } => "\"30s\"",
    }
}

/// `"off"`, `"on"` or `"client-takeover"`.
fn compression(key: &Ident, value: &Expr) -> syn::Result<Value> {
    let message = || format!("`{key}` must be \"off\", \"on\" or \"client-takeover\"");
    let Expr::Lit(ExprLit {
        lit: Lit::Str(text),
        ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(value, message()));
    };
    let (enabled, takeover) = match text.value().as_str() {
        "off" => (false, false),
        "on" => (true, false),
        "client-takeover" => (true, true),
        _ => return Err(syn::Error::new(text.span(), message())),
    };
    Ok(Value::Compression { enabled, takeover })
}

/// A window size the server can compress with: 9 to 15 bits.
fn window_bits(key: &Ident, value: &Expr) -> syn::Result<u8> {
    let bits = integer(key, value)?;
    match u8::try_from(bits) {
        Ok(bits @ 9..=15) => Ok(bits),
        _ => Err(syn::Error::new_spanned(
            value,
            format!("`{key}` must be 9 to 15 (zlib cannot compress with an 8-bit window)"),
        )),
    }
}

/// An integer literal, zero allowed, unsuffixed or `usize`.
fn integer(key: &Ident, value: &Expr) -> syn::Result<usize> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) if matches!(int.suffix(), "" | "usize") => int.base10_parse::<usize>(),
        _ => Err(syn::Error::new_spanned(
            value,
            format!(
                "`{key}` must be an integer literal, like `{key} = {}`",
                if key == "window_bits" { "12" } else { "1024" }
            ),
        )),
    }
}

/// `"close"`, `"drop"` or `"wait"`, as the `SlowConsumer` variant's name.
fn policy(key: &Ident, value: &Expr) -> syn::Result<Ident> {
    let message = || format!("`{key}` must be \"close\", \"drop\" or \"wait\"");
    let Expr::Lit(ExprLit {
        lit: Lit::Str(text),
        ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(value, message()));
    };
    let variant = match text.value().as_str() {
        "close" => "Close",
        "drop" => "Drop",
        "wait" => "Wait",
        _ => return Err(syn::Error::new(text.span(), message())),
    };
    Ok(Ident::new(variant, text.span()))
}

/// A duration like `"250ms"`, `"30s"`, `"5m"` or `"1h"` (above zero), in milliseconds;
/// `"off"` (where `off` allows it) is `None`.
fn duration(key: &Ident, value: &Expr, off: bool) -> syn::Result<Option<u64>> {
    let message = || {
        let alternative = if off { ", or \"off\"" } else { "" };
        format!("`{key}` must be a duration like \"250ms\", \"30s\", \"5m\" or \"1h\"{alternative}")
    };
    let Expr::Lit(ExprLit {
        lit: Lit::Str(text),
        ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(value, message()));
    };
    let written = text.value();
    if off && written == "off" {
        return Ok(None);
    }
    let digits = written.len()
        - written
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .len();
    let (number, unit) = written.split_at(digits);
    let scale: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(syn::Error::new(text.span(), message())),
    };
    let millis = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| syn::Error::new(text.span(), message()))?;
    if millis == 0 {
        return Err(syn::Error::new(
            text.span(),
            format!("`{key}` must be longer than zero"),
        ));
    }
    Ok(Some(millis))
}

/// Reads a limit's value: an integer literal of at least 1, unsuffixed or `usize`.
fn positive_integer(key: &Ident, value: &Expr) -> syn::Result<usize> {
    let expected = || format!("`{key}` must be a positive integer literal, like `{key} = 65536`");
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => {
            if !matches!(int.suffix(), "" | "usize") {
                return Err(syn::Error::new(int.span(), expected()));
            }
            match int.base10_parse::<usize>()? {
                0 => Err(syn::Error::new(
                    int.span(),
                    format!("`{key}` must be at least 1"),
                )),
                n => Ok(n),
            }
        }
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_), ..
        }) => Err(syn::Error::new_spanned(
            value,
            format!("`{key}` must be positive"),
        )),
        _ => Err(syn::Error::new_spanned(value, expected())),
    }
}

/// A request path: starts with `/`, no query or fragment, no spaces or control characters.
fn check_path(path: &LitStr) -> syn::Result<()> {
    let value = path.value();
    let problem = if !value.starts_with('/') {
        Some("the resource path must start with `/`, like \"/chat\"".to_owned())
    } else if let Some(c) = value.chars().find(|c| matches!(c, '?' | '#')) {
        Some(format!(
            "the resource path cannot contain `{c}`: it matches the path alone, without query or fragment"
        ))
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("the resource path cannot contain spaces or control characters".to_owned())
    } else {
        None
    };
    match problem {
        Some(message) => Err(syn::Error::new(path.span(), message)),
        None => Ok(()),
    }
}

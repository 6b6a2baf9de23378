//! What the options of `#[ws_resource]` mean: each value checked against its option's kind
//! and turned into a typed value, or a compile error spanned on the offending tokens.
//!
//! The table below is the macro's one place per option; what an option does is defined
//! in ws-server's `config/resource.rs`, whose `with_` setter of the same name the
//! expansion calls.

use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, UnOp};

use crate::ast::{OptionArg, ResourceArgs};

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
    ("origins", Kind::Origins),
    ("protocols", Kind::Protocols),
    ("allow_no_protocol", Kind::Bool),
    ("max_connections", Kind::Count),
];

#[derive(Clone, Copy)]
enum Kind {
    Count,
    /// A byte count that may be zero.
    Size,
    WindowBits,
    Compression,
    Policy,
    Origins,
    Protocols,
    Bool,
    /// `off`: whether `"off"` is accepted.
    Duration {
        off: bool,
    },
}

/// A resource's attribute, checked.
pub(crate) struct Resource {
    pub(crate) path: LitStr,
    pub(crate) settings: Vec<Setting>,
}

/// One option, checked.
pub(crate) struct Setting {
    pub(crate) key: Ident,
    pub(crate) value: Value,
}

pub(crate) enum Value {
    /// A byte or item count.
    Count(usize),
    /// `"off"`, `"on"` or `"client-takeover"`.
    Compression {
        enabled: bool,
        takeover: bool,
    },
    /// 9 to 15.
    WindowBits(u8),
    /// A `SlowConsumer` variant.
    Policy(Ident),
    /// Milliseconds, or `None` for `"off"`, where the option allows it.
    OptionalDuration(Option<u64>),
    /// Milliseconds.
    Duration(u64),
    /// An `Origins` variant: `Any`, `SameHost`, or `Only` with the list.
    Origins(OriginsValue),
    /// Subprotocol names.
    Protocols(Vec<LitStr>),
    Bool(bool),
}

pub(crate) enum OriginsValue {
    Any,
    SameHost,
    Only(Vec<LitStr>),
}

/// Checks the path and every option.
pub(crate) fn validate(args: ResourceArgs) -> syn::Result<Resource> {
    check_path(&args.path)?;
    let mut settings: Vec<Setting> = Vec::new();
    for OptionArg { key, value } in args.options {
        let Some(&(_, kind)) = OPTIONS.iter().find(|(name, _)| key == name) else {
            return Err(syn::Error::new(key.span(), expected_one_of()));
        };
        if settings.iter().any(|seen| seen.key == key) {
            return Err(syn::Error::new(
                key.span(),
                format!("`{key}` specified more than once"),
            ));
        }
        let Some(value) = value else {
            return Err(syn::Error::new(
                key.span(),
                format!("`{key}` needs a value, like `{key} = {}`", example(kind)),
            ));
        };
        let value = check_value(&key, kind, ungroup(&value))?;
        settings.push(Setting { key, value });
    }
    Ok(Resource {
        path: args.path,
        settings,
    })
}

/// The message for an unknown option.
pub(crate) fn expected_one_of() -> String {
    let names: Vec<String> = OPTIONS
        .iter()
        .map(|(name, _)| format!("`{name}`"))
        .collect();
    format!("expected one of: {}", names.join(", "))
}

fn check_value(key: &Ident, kind: Kind, value: &Expr) -> syn::Result<Value> {
    Ok(match kind {
        Kind::Count => Value::Count(positive_integer(key, value)?),
        Kind::Size => Value::Count(integer(key, value)?),
        Kind::WindowBits => Value::WindowBits(window_bits(key, value)?),
        Kind::Compression => compression(key, value)?,
        Kind::Policy => Value::Policy(policy(key, value)?),
        Kind::Duration { off: true } => Value::OptionalDuration(duration(key, value, true)?),
        Kind::Duration { off: false } => {
            let millis = duration(key, value, false)?;
            Value::Duration(millis.ok_or_else(|| {
                syn::Error::new_spanned(value, format!("`{key}` cannot be \"off\""))
            })?)
        }
        Kind::Origins => Value::Origins(origins(key, value)?),
        Kind::Protocols => Value::Protocols(protocols(key, value)?),
        Kind::Bool => Value::Bool(boolean(key, value)?),
    })
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
        Kind::Origins => "[\"https://example.com\"]",
        Kind::Protocols => "[\"chat.v1\"]",
        Kind::Bool => "true",
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

/// `"any"`, `"same-host"`, or a non-empty array of origins like `"https://example.com"`.
fn origins(key: &Ident, value: &Expr) -> syn::Result<OriginsValue> {
    let message =
        format!("`{key}` must be \"any\", \"same-host\" or a list like [\"https://example.com\"]");
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(text),
        ..
    }) = value
    {
        return match text.value().as_str() {
            "any" => Ok(OriginsValue::Any),
            "same-host" => Ok(OriginsValue::SameHost),
            _ => Err(syn::Error::new(text.span(), message)),
        };
    }
    let list = string_list(key, value, &message)?;
    for origin in &list {
        check_origin(origin)?;
    }
    Ok(OriginsValue::Only(list))
}

/// `scheme://host[:port]`, nothing more, host possibly starting with `*.`.
fn check_origin(origin: &LitStr) -> syn::Result<()> {
    let text = origin.value();
    let problem = match text.split_once("://") {
        None => Some("an origin is `scheme://host[:port]`, like \"https://example.com\""),
        Some((scheme, _))
            if scheme.is_empty()
                || !scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            Some("an origin starts with a scheme, like \"https://\"")
        }
        Some((_, "")) => Some("the origin has no host"),
        Some((_, authority)) if authority.contains(['/', '?', '#']) => {
            Some("an origin has no path, query or trailing slash: `scheme://host[:port]`")
        }
        Some((_, authority)) if !authority.is_ascii() => Some(
            "browsers send a host in ASCII: write an internationalized name in punycode, like \"https://xn--9ca.com\"",
        ),
        Some((_, authority))
            if authority.contains(['@', ' '])
                || authority.get(1..).is_some_and(|rest| rest.contains('*')) =>
        {
            Some("invalid host in origin (a wildcard is allowed only as a leading `*.`)")
        }
        Some((_, authority)) if authority.starts_with('*') && !authority.starts_with("*.") => {
            Some("a wildcard is written `*.example.com`")
        }
        Some(_) => None,
    };
    match problem {
        Some(problem) => Err(syn::Error::new(origin.span(), problem)),
        None => Ok(()),
    }
}

/// A non-empty array of distinct subprotocol names, each an HTTP token.
fn protocols(key: &Ident, value: &Expr) -> syn::Result<Vec<LitStr>> {
    let message = format!("`{key}` must be a list like [\"chat.v2\", \"chat.v1\"]");
    let list = string_list(key, value, &message)?;
    for (index, protocol) in list.iter().enumerate() {
        let name = protocol.value();
        // RFC 6455 section 4.1: tokens as RFC 2616 defines them.
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
        if !token {
            return Err(syn::Error::new(
                protocol.span(),
                "a subprotocol name is a token: visible ASCII without spaces or separators like `,` `;` `/`",
            ));
        }
        if list[..index].iter().any(|seen| seen.value() == name) {
            return Err(syn::Error::new(
                protocol.span(),
                format!("subprotocol \"{name}\" is listed twice"),
            ));
        }
    }
    Ok(list)
}

/// `[ "a", "b" ]`: a non-empty array of string literals.
fn string_list(key: &Ident, value: &Expr, message: &str) -> syn::Result<Vec<LitStr>> {
    let Expr::Array(array) = value else {
        return Err(syn::Error::new_spanned(value, message));
    };
    if array.elems.is_empty() {
        return Err(syn::Error::new_spanned(
            value,
            format!("`{key}` needs at least one entry"),
        ));
    }
    array
        .elems
        .iter()
        .map(|elem| match ungroup(elem) {
            Expr::Lit(ExprLit {
                lit: Lit::Str(text),
                ..
            }) => Ok(text.clone()),
            other => Err(syn::Error::new_spanned(
                other,
                format!("`{key}` entries must be string literals"),
            )),
        })
        .collect()
}

/// `true` or `false`.
fn boolean(key: &Ident, value: &Expr) -> syn::Result<bool> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(flag),
            ..
        }) => Ok(flag.value),
        _ => Err(syn::Error::new_spanned(
            value,
            format!("`{key}` must be `true` or `false`"),
        )),
    }
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

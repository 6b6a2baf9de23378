//! Parsing `#[ws_resource("/path", key = value, ...)]`.

use proc_macro2::Span;
use syn::{
    Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, Token, UnOp,
    parse::{Parse, ParseStream},
};

mod kw {
    syn::custom_keyword!(max_payload);
    syn::custom_keyword!(max_frames);
    syn::custom_keyword!(max_message);
}

/// The attribute's arguments, parsed and checked.
pub(crate) struct ResourceArgs {
    pub(crate) path: LitStr,
    pub(crate) limits: Vec<Limit>,
}

/// One `key = positive integer` option.
pub(crate) struct Limit {
    pub(crate) key: Ident,
    pub(crate) value: usize,
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
        let mut limits: Vec<Limit> = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let limit = parse_limit(input)?;
            if limits.iter().any(|seen| seen.key == limit.key) {
                return Err(syn::Error::new(
                    limit.key.span(),
                    format!("`{}` specified more than once", limit.key),
                ));
            }
            limits.push(limit);
        }
        Ok(ResourceArgs { path, limits })
    }
}

fn parse_limit(input: ParseStream<'_>) -> syn::Result<Limit> {
    let lookahead = input.lookahead1();
    let key = if lookahead.peek(kw::max_payload) {
        Ident::new("max_payload", input.parse::<kw::max_payload>()?.span)
    } else if lookahead.peek(kw::max_frames) {
        Ident::new("max_frames", input.parse::<kw::max_frames>()?.span)
    } else if lookahead.peek(kw::max_message) {
        Ident::new("max_message", input.parse::<kw::max_message>()?.span)
    } else {
        return Err(lookahead.error());
    };
    if !input.peek(Token![=]) {
        return Err(syn::Error::new(
            key.span(),
            format!("`{key}` needs a value, like `{key} = 65536`"),
        ));
    }
    input.parse::<Token![=]>()?;
    let value: Expr = input.parse()?;
    Ok(Limit {
        value: positive_integer(&key, &value)?,
        key,
    })
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

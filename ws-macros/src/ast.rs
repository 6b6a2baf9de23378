//! `#[ws_resource("/path", key = value, ...)]` as written: the path and each option's
//! name and value, read as Rust syntax and nothing more (see `valid` for their meaning).

use proc_macro2::Span;
use syn::{
    Expr, Ident, LitStr, Token,
    parse::{Parse, ParseStream},
};

/// The attribute's arguments.
pub(crate) struct ResourceArgs {
    pub(crate) path: LitStr,
    pub(crate) options: Vec<OptionArg>,
}

/// One `key = value`, or a `key` without its value.
pub(crate) struct OptionArg {
    pub(crate) key: Ident,
    pub(crate) value: Option<Expr>,
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
        let mut options = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: Ident = input
                .parse()
                .map_err(|error| syn::Error::new(error.span(), crate::valid::expected_one_of()))?;
            let value = if input.peek(Token![=]) {
                input.parse::<Token![=]>()?;
                Some(input.parse()?)
            } else {
                None
            };
            options.push(OptionArg { key, value });
        }
        Ok(ResourceArgs { path, options })
    }
}

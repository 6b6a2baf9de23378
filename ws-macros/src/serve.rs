//! `serve!(addr)`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::{
    Expr, ExprLit, Lit, LitStr, Token,
    parse::{Parse, ParseStream},
};

use crate::paths;

struct ServeArgs {
    addr: Expr,
}

impl Parse for ServeArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let addr: Expr = input.parse()?;
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        }
        if !input.is_empty() {
            return Err(
                input.error("unexpected tokens after the address: `serve!` takes one address")
            );
        }
        Ok(ServeArgs { addr })
    }
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match parse(input) {
        Ok(addr) => {
            let private = paths::private();
            quote!(#private::serve(#addr))
        }
        Err(error) => error.to_compile_error(),
    }
}

fn parse(input: TokenStream) -> syn::Result<Expr> {
    if input.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            "`serve!` needs the address to listen on, like `serve!(\"127.0.0.1:9001\")`",
        ));
    }
    let ServeArgs { addr } = syn::parse2(input)?;
    if let Expr::Lit(ExprLit { lit, .. }) = &addr {
        match lit {
            Lit::Str(text) => check_address(text)?,
            other => {
                return Err(syn::Error::new_spanned(
                    other.to_token_stream(),
                    "the address must be a string like \"127.0.0.1:9001\", or an expression that gives one",
                ));
            }
        }
    }
    Ok(addr)
}

/// A literal address must be `host:port` with a numeric port.
fn check_address(text: &LitStr) -> syn::Result<()> {
    let value = text.value();
    if value.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(());
    }
    let valid = match value.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty() && !host.contains(char::is_whitespace) && port.parse::<u16>().is_ok()
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(syn::Error::new(
            text.span(),
            format!(
                "`{value}` is not an address to listen on: expected `host:port`, like \"127.0.0.1:9001\""
            ),
        ))
    }
}

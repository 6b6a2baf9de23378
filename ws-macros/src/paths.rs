//! Every path the generated code names, in one place, through the name under which the
//! crate using the macro depends on ws-server (it may rename it).

use proc_macro_crate::{FoundCrate, crate_name};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Ident;

/// ws-server as the crate being compiled names it: `::ws_server`, or its own name for it
/// (`wsx = { package = "ws-server", ... }` in its Cargo.toml).
fn runtime() -> TokenStream {
    match crate_name("ws-server") {
        Ok(FoundCrate::Name(name)) => {
            let name = Ident::new(&name, Span::call_site());
            quote!(::#name)
        }
        // ws-server itself never expands its macros; its examples and tests are crates
        // of their own that see it as `ws_server`.
        Ok(FoundCrate::Itself) | Err(_) => quote!(::ws_server),
    }
}

pub(crate) fn resource_trait() -> TokenStream {
    let runtime = runtime();
    quote!(#runtime::Resource)
}

pub(crate) fn resource_config() -> TokenStream {
    let runtime = runtime();
    quote!(#runtime::ResourceConfig)
}

pub(crate) fn private() -> TokenStream {
    let runtime = runtime();
    quote!(#runtime::__private)
}

pub(crate) fn slow_consumer() -> TokenStream {
    let runtime = runtime();
    quote!(#runtime::SlowConsumer)
}

pub(crate) fn origins() -> TokenStream {
    let runtime = runtime();
    quote!(#runtime::Origins)
}

//! Every path the generated code names, in one place.

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn resource_trait() -> TokenStream {
    quote!(::ws_server::Resource)
}

pub(crate) fn resource_config() -> TokenStream {
    quote!(::ws_server::ResourceConfig)
}

pub(crate) fn private() -> TokenStream {
    quote!(::ws_server::__private)
}

pub(crate) fn slow_consumer() -> TokenStream {
    quote!(::ws_server::SlowConsumer)
}

pub(crate) fn origins() -> TokenStream {
    quote!(::ws_server::Origins)
}

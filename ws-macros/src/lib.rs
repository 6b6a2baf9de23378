//! The macros of [ws-server](https://docs.rs/ws-server): `#[ws_resource]` and `serve!`.
//!
//! Use them through `ws_server`, which re-exports them; the code they generate calls
//! `ws_server`'s runtime.

mod ast;
mod expand;
mod paths;
mod resource;
mod serve;
mod valid;

use proc_macro::TokenStream;

/// Makes a struct a WebSocket resource. See `ws_server::ws_resource`.
#[proc_macro_attribute]
pub fn ws_resource(args: TokenStream, item: TokenStream) -> TokenStream {
    resource::expand(args.into(), item.into()).into()
}

/// Serves every registered resource on an address. See `ws_server::serve`.
#[proc_macro]
pub fn serve(input: TokenStream) -> TokenStream {
    serve::expand(input.into()).into()
}

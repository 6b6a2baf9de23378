//! `#[ws_resource]`: the item checks, then its arguments parsed (`ast`), checked (`valid`)
//! and expanded (`expand`); on error the item is still emitted.

use proc_macro2::TokenStream;
use syn::{Item, spanned::Spanned};

use crate::{ast::ResourceArgs, expand, valid};

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let parsed_item = syn::parse2::<Item>(item.clone());
    let strukt = match parsed_item {
        Ok(Item::Struct(strukt)) => strukt,
        Ok(other) => return with_error(item, not_a_struct(&other)),
        Err(error) => return with_error(item, error),
    };
    if !strukt.generics.params.is_empty() || strukt.generics.where_clause.is_some() {
        let error = syn::Error::new_spanned(
            &strukt.generics,
            "a WebSocket resource cannot be generic: the server needs one concrete type per path",
        );
        return with_error(item, error);
    }
    match syn::parse2::<ResourceArgs>(args).and_then(valid::validate) {
        Ok(resource) => expand::resource(&strukt, &resource),
        // Keep `impl Handler for ...` compiling so that this is the only error shown.
        Err(error) => {
            let mut out = expand::fallback(&strukt);
            out.extend(error.to_compile_error());
            out
        }
    }
}

fn not_a_struct(item: &Item) -> syn::Error {
    let message = "#[ws_resource] applies to a struct: the per-connection state of the endpoint";
    let span = match item {
        Item::Enum(item) => item
            .enum_token
            .span
            .join(item.ident.span())
            .unwrap_or(item.ident.span()),
        Item::Fn(item) => item
            .sig
            .fn_token
            .span
            .join(item.sig.ident.span())
            .unwrap_or(item.sig.ident.span()),
        Item::Union(item) => item
            .union_token
            .span
            .join(item.ident.span())
            .unwrap_or(item.ident.span()),
        other => other.span(),
    };
    syn::Error::new(span, message)
}

fn with_error(mut item: TokenStream, error: syn::Error) -> TokenStream {
    item.extend(error.to_compile_error());
    item
}

//! Code generation for `#[ws_resource]`; everything here has been validated.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemStruct;

use crate::{attr::ResourceArgs, paths};

/// The struct, its `Resource` impl and its registration.
pub(crate) fn resource(strukt: &ItemStruct, args: &ResourceArgs) -> TokenStream {
    let ident = &strukt.ident;
    let path = &args.path;
    let resource_trait = paths::resource_trait();
    let config_type = paths::resource_config();
    let private = paths::private();
    let keys = args.limits.iter().map(|limit| &limit.key);
    let values = args.limits.iter().map(|limit| limit.value);
    // Spanned on the struct's name: "`Chat` does not implement `Handler`" points there.
    let route = quote_spanned!(ident.span()=> #private::Route::of::<#ident>());
    quote! {
        #strukt

        const _: () = {
            impl #resource_trait for #ident {
                const PATH: &'static str = #path;
                const CONFIG: #config_type = #config_type::new() #(.#keys(#values))*;

                fn __construct() -> ::core::option::Option<Self> {
                    #[allow(unused_imports)]
                    use #private::{ViaDefault as _, WithoutDefault as _};
                    (&&#private::Probe::<Self>::new()).construct()
                }
            }

            #private::inventory::submit! { #route }
        };
    }
}

/// The struct with a stub `Resource` impl and no registration, emitted beside an error so
/// that code using the type reports nothing further.
pub(crate) fn fallback(strukt: &ItemStruct) -> TokenStream {
    let ident = &strukt.ident;
    let resource_trait = paths::resource_trait();
    let config_type = paths::resource_config();
    quote! {
        #strukt

        impl #resource_trait for #ident {
            const PATH: &'static str = "/";
            const CONFIG: #config_type = #config_type::new();

            fn __construct() -> ::core::option::Option<Self> {
                ::core::option::Option::None
            }
        }
    }
}

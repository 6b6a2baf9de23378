//! Code generation for `#[ws_resource]`, from options already checked (see `valid`): each
//! option becomes a call of the `with_` setter of the same name on the resource's
//! `ResourceConfig`.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ItemStruct;

use crate::{
    paths,
    valid::{OriginsValue, Resource, Setting, Value},
};

/// The struct, its `Resource` impl and its registration.
pub(crate) fn resource(strukt: &ItemStruct, resource: &Resource) -> TokenStream {
    let ident = &strukt.ident;
    let path = &resource.path;
    let resource_trait = paths::resource_trait();
    let config_type = paths::resource_config();
    let private = paths::private();
    let setters = resource.settings.iter().map(setter);
    // Spanned on the struct's name: "`Chat` does not implement `Handler`" points there.
    let route = quote_spanned!(ident.span()=> #private::Route::of::<#ident>());
    quote! {
        #strukt

        const _: () = {
            impl #resource_trait for #ident {
                const PATH: &'static str = #path;
                const CONFIG: #config_type = #config_type::new() #(#setters)*;

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

/// `.with_key(value)` on the resource's `ResourceConfig`.
fn setter(setting: &Setting) -> TokenStream {
    let with = |key: &Ident| format_ident!("with_{}", key, span = key.span());
    let setter = with(&setting.key);
    let value = match &setting.value {
        Value::Count(count) => quote!(#count),
        Value::WindowBits(bits) => quote!(#bits),
        Value::Bool(flag) => quote!(#flag),
        Value::Compression { enabled, takeover } => {
            return quote!(.#setter(#enabled).with_client_context_takeover(#takeover));
        }
        Value::Protocols(list) => quote!(&[#(#list),*]),
        Value::Origins(origins) => {
            let origins_type = paths::origins();
            match origins {
                OriginsValue::Any => quote!(#origins_type::Any),
                OriginsValue::SameHost => quote!(#origins_type::SameHost),
                OriginsValue::Only(list) => quote!(#origins_type::Only(&[#(#list),*])),
            }
        }
        Value::Policy(variant) => {
            let policy = paths::slow_consumer();
            quote!(#policy::#variant)
        }
        Value::Duration(millis) => quote!(::core::time::Duration::from_millis(#millis)),
        Value::OptionalDuration(None) => quote!(::core::option::Option::None),
        Value::OptionalDuration(Some(millis)) => {
            quote!(::core::option::Option::Some(::core::time::Duration::from_millis(#millis)))
        }
    };
    quote!(.#setter(#value))
}

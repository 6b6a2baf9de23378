//! Code generation for `#[ws_resource]`; everything here has been validated.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemStruct;

use crate::{
    attr::{OriginsValue, ResourceArgs, Setting, Value},
    paths,
};

/// The struct, its `Resource` impl and its registration.
pub(crate) fn resource(strukt: &ItemStruct, args: &ResourceArgs) -> TokenStream {
    let ident = &strukt.ident;
    let path = &args.path;
    let resource_trait = paths::resource_trait();
    let config_type = paths::resource_config();
    let private = paths::private();
    let setters = args.options.iter().map(setter);
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

/// `.key(value)` on the resource's `ResourceConfig`.
fn setter(setting: &Setting) -> TokenStream {
    let key = &setting.key;
    let value = match &setting.value {
        Value::Count(count) => quote!(#count),
        Value::WindowBits(bits) => quote!(#bits),
        Value::Compression { enabled, takeover } => {
            return quote!(.compression(#enabled).client_context_takeover(#takeover));
        }
        Value::Bool(flag) => quote!(#flag),
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
        Value::Duration(millis) => {
            let duration =
                millis.map(|millis| quote!(::core::time::Duration::from_millis(#millis)));
            if key == "pong_timeout" {
                quote!(#duration)
            } else {
                match duration {
                    Some(duration) => quote!(::core::option::Option::Some(#duration)),
                    None => quote!(::core::option::Option::None),
                }
            }
        }
    };
    quote!(.#key(#value))
}

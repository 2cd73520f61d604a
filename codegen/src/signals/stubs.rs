//! Typed device and server stubs for a signal map, running on `ferrocom-runtime`.
//!
//! For a map named `gina`:
//!
//! * `Gina`: the device kind (`ferrocom_runtime::typed::DeviceKind`, with the map as
//!   JSON); `Gina::config(network, connect)` and `Gina::connect(config)`.
//! * `GinaDevice`: the device side — `set_<signal>(value)` for upward signals, `<signal>()`
//!   for the device's own copy of every signal, `writes()`: a stream of `GinaWrite`, one
//!   variant per downward signal, as the server writes them.
//! * `GinaRemote`: the server side, from `server.device::<Gina>("gina1")` — `<signal>()`
//!   for every signal, `set_<signal>(value)` for downward ones, `changes()`: a stream of
//!   `GinaChange`, one variant per signal.
//!
//! A signal's method and variant are named after the signal alone when its name is
//! unique in the map, else after block and signal (`exp_counter`, `ExpCounter`).

use std::collections::HashMap;

use ferrocom_spec::signals::{Signal, SignalMap, SignalType};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::names::{Scope, rust_ident, upper_camel};
use super::{BindingsError, BindingsOptions, device_name};

/// The Rust type a stub uses for a signal's value.
fn value_type(sig: &Signal, rt: &TokenStream) -> TokenStream {
    let elem = match sig.ty {
        SignalType::Boolean => quote!(bool),
        SignalType::Char => quote!(i8),
        SignalType::Uchar => quote!(u8),
        SignalType::Short => quote!(i16),
        SignalType::Ushort => quote!(u16),
        SignalType::Int => quote!(i32),
        SignalType::Uint => quote!(u32),
        SignalType::Int64 | SignalType::Long => quote!(i64),
        SignalType::Float => quote!(f32),
        SignalType::Double => quote!(f64),
        SignalType::Dec01 => quote!(#rt::typed::Dec01),
        SignalType::Dec001 => quote!(#rt::typed::Dec001),
        SignalType::Str => return quote!(::std::string::String),
    };
    if sig.array > 1 {
        let n = sig.array;
        quote!([#elem; #n])
    } else {
        elem
    }
}

struct StubSignal<'a> {
    block: &'a str,
    signal: &'a Signal,
    down: bool,
    method: syn::Ident,
    setter: syn::Ident,
    variant: syn::Ident,
    ty: TokenStream,
}

/// Rust items of the device and server stubs of `map`; `support` is the path of the
/// runtime crate (default `::ferrocom_runtime`).
pub fn rust_stubs_for_map(
    map: &SignalMap,
    opts: &BindingsOptions,
    runtime: &str,
) -> Result<TokenStream, BindingsError> {
    let rt: TokenStream = runtime.parse().map_err(|_| {
        BindingsError::Invalid(ferrocom_spec::signals::SignalMapError::at(
            &Default::default(),
            format!("runtime crate path `{runtime}` is not a Rust path"),
        ))
    })?;
    let device = device_name(map, opts);
    let camel = upper_camel(&device);
    let pos = map
        .blocks
        .first()
        .map(|b| b.pos.clone())
        .unwrap_or_default();
    let kind = rust_ident(&camel, "device name", &pos)?;
    let dev_ty = format_ident!("{}Device", camel);
    let remote_ty = format_ident!("{}Remote", camel);
    let write_ty = format_ident!("{}Write", camel);
    let writes_ty = format_ident!("{}Writes", camel);
    let change_ty = format_ident!("{}Change", camel);
    let changes_ty = format_ident!("{}Changes", camel);

    let mut count: HashMap<&str, usize> = HashMap::new();
    for b in &map.blocks {
        for s in b.signals() {
            *count.entry(s.name.as_str()).or_default() += 1;
        }
    }
    // Names the stubs define themselves.
    let mut methods = Scope::default();
    for r in [
        "handle",
        "writes",
        "changes",
        "device",
        "shutdown",
        "connected",
        "wait_connected",
        "from",
        "server",
    ] {
        methods.reserve(r, "a method of the stub");
    }
    let mut variants = Scope::default();
    let mut sigs = Vec::new();
    for b in &map.blocks {
        if b.name == "info" {
            continue;
        }
        for s in b.signals() {
            let base = if count.get(s.name.as_str()).copied().unwrap_or(0) > 1 {
                format!("{}_{}", b.name, s.name)
            } else {
                s.name.clone()
            };
            let method = base.to_lowercase();
            let what = format!("signal `{}` of block `{}`", s.name, b.name);
            methods.claim(&method, what.clone(), &s.pos, "stub method")?;
            methods.claim(
                &format!("set_{method}"),
                what.clone(),
                &s.pos,
                "stub method",
            )?;
            let variant = upper_camel(&base);
            variants.claim(&variant, what, &s.pos, "enum variant")?;
            sigs.push(StubSignal {
                block: &b.name,
                signal: s,
                down: b.is_down(),
                method: rust_ident(&method, "signal name", &s.pos)?,
                setter: rust_ident(&format!("set_{method}"), "signal name", &s.pos)?,
                variant: rust_ident(&variant, "signal name", &s.pos)?,
                ty: value_type(s, &rt),
            });
        }
    }

    let map_json = map.to_json_text(false);
    let dev_name = device.as_str();

    let getters_dev = sigs.iter().map(|s| {
        let (m, ty, block, name) = (&s.method, &s.ty, s.block, s.signal.name.as_str());
        let doc = format!("`{name}` of `{block}`: the device's own copy, with its state byte.");
        quote! {
            #[doc = #doc]
            pub fn #m(&self) -> ::core::result::Result<(#ty, #rt::typed::State), #rt::device::DeviceError> {
                #rt::typed::device_get(&self.handle, #block, #name)
            }
        }
    });
    let setters_dev = sigs.iter().filter(|s| !s.down).map(|s| {
        let (m, ty, block, name) = (&s.setter, &s.ty, s.block, s.signal.name.as_str());
        let doc =
            format!("Sets `{name}` of `{block}` (state CONNECTED) and sends it to the server.");
        quote! {
            #[doc = #doc]
            pub fn #m(&self, value: #ty) -> ::core::result::Result<(), #rt::device::DeviceError> {
                #rt::typed::device_set(&self.handle, #block, #name, value)
            }
        }
    });
    let getters_remote = sigs.iter().map(|s| {
        let (m, ty, block, name) = (&s.method, &s.ty, s.block, s.signal.name.as_str());
        let doc = format!("`{name}` of `{block}` as the server last saw it, with its state byte.");
        quote! {
            #[doc = #doc]
            pub fn #m(&self) -> ::core::result::Result<(#ty, #rt::typed::State), #rt::server::ServerError> {
                self.0.get(#block, #name)
            }
        }
    });
    let setters_remote = sigs.iter().filter(|s| s.down).map(|s| {
        let (m, ty, block, name) = (&s.setter, &s.ty, s.block, s.signal.name.as_str());
        let doc = format!("Writes `{name}` of `{block}` to the device (kept while it is away).");
        quote! {
            #[doc = #doc]
            pub fn #m(&self, value: #ty) -> ::core::result::Result<(), #rt::server::ServerError> {
                self.0.set(#block, #name, value)
            }
        }
    });
    let variant_def = |s: &StubSignal<'_>| {
        let (v, ty) = (&s.variant, &s.ty);
        let doc = format!("`{}` of `{}`.", s.signal.name, s.block);
        quote! {
            #[doc = #doc]
            #v {
                /// The new value.
                value: #ty,
                /// Its state byte.
                state: #rt::typed::State,
            }
        }
    };
    let variant_arm = |s: &StubSignal<'_>, ty_name: &syn::Ident| {
        let (v, ty, block, name) = (&s.variant, &s.ty, s.block, s.signal.name.as_str());
        quote! {
            (#block, #name) => #rt::typed::typed::<#ty>(value).map(|value| #ty_name::#v { value, state }),
        }
    };
    let down: Vec<&StubSignal<'_>> = sigs.iter().filter(|s| s.down).collect();
    let writes = if down.is_empty() {
        quote!()
    } else {
        let defs = down.iter().map(|s| variant_def(s));
        let arms = down.iter().map(|s| variant_arm(s, &write_ty));
        let doc = format!("A downward signal of `{dev_name}` written by the server.");
        let doc_s =
            format!("The server's writes to a `{dev_name}` device; see [`{dev_ty}::writes`].");
        quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, PartialEq)]
            #[non_exhaustive]
            pub enum #write_ty { #(#defs,)* }

            impl #write_ty {
                fn from_parts(block: &str, signal: &str, value: &#rt::signal::SignalValue, state: #rt::typed::State) -> ::core::option::Option<Self> {
                    match (block, signal) {
                        #(#arms)*
                        _ => ::core::option::Option::None,
                    }
                }
            }

            #[doc = #doc_s]
            #[derive(Debug)]
            pub struct #writes_ty(#rt::device::DeviceEvents);

            impl #writes_ty {
                /// The next write; `None` once the device is stopped.
                pub async fn recv(&mut self) -> ::core::option::Option<#write_ty> {
                    loop {
                        let #rt::device::DeviceEvent::Write { block, signal, value, state } = self.0.recv().await? else {
                            continue;
                        };
                        if let ::core::option::Option::Some(w) = #write_ty::from_parts(&block, &signal, &value, state) {
                            return ::core::option::Option::Some(w);
                        }
                    }
                }
            }

            impl #dev_ty {
                /// The server's writes to this device's downward signals, from now on.
                pub fn writes(&self) -> #writes_ty {
                    #writes_ty(self.handle.subscribe())
                }
            }
        }
    };
    let change_defs = sigs.iter().map(variant_def);
    let change_arms = sigs.iter().map(|s| variant_arm(s, &change_ty));

    let kind_doc = format!(
        "Devices of kind `{dev_name}` (generated from its signal map): `{kind}::connect` runs one, \
         `server.device::<{kind}>(\"{dev_name}1\")` reaches one from a server."
    );
    let dev_doc = format!("A running `{dev_name}` device.");
    let remote_doc = format!("A `{dev_name}` device as a server sees it.");
    let change_doc = format!("A signal of a `{dev_name}` device changed (as the server saw it).");
    let changes_doc = format!("Changes of one `{dev_name}` device; see [`{remote_ty}::changes`].");
    Ok(quote! {
        #[doc = #kind_doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct #kind;

        impl #rt::typed::DeviceKind for #kind {
            const NAME: &'static str = #dev_name;
            const MAP_JSON: &'static str = #map_json;
            type Remote<'s> = #remote_ty<'s>;
        }

        impl #kind {
            /// A device configuration with this kind's signal map (automatic device
            /// number, no password, default back-off); adjust it, then [`Self::connect`].
            pub fn config(network: &str, connect: #rt::device::Connect) -> ::core::result::Result<#rt::device::DeviceConfig, #rt::device::DeviceError> {
                let map = <Self as #rt::typed::DeviceKind>::map()?;
                ::core::result::Result::Ok(#rt::device::DeviceConfig::new(#dev_name, network, map, connect))
            }

            /// Starts the device: it connects, and reconnects, in the background.
            pub fn connect(config: #rt::device::DeviceConfig) -> ::core::result::Result<#dev_ty, #rt::device::DeviceError> {
                ::core::result::Result::Ok(#dev_ty { handle: #rt::device::Device::start(config)? })
            }
        }

        #[doc = #dev_doc]
        #[derive(Debug)]
        pub struct #dev_ty {
            handle: #rt::device::DeviceHandle,
        }

        impl #dev_ty {
            /// The untyped handle (signals by name, events).
            pub fn handle(&self) -> &#rt::device::DeviceHandle {
                &self.handle
            }

            /// `true` while the server has accepted the device.
            pub fn connected(&self) -> bool {
                self.handle.connected()
            }

            /// Waits until the server has accepted the device.
            pub async fn wait_connected(&self) {
                self.handle.wait_connected().await
            }

            /// Stops the device.
            pub async fn shutdown(self) {
                self.handle.shutdown().await
            }

            #(#getters_dev)*
            #(#setters_dev)*
        }

        #writes

        #[doc = #remote_doc]
        #[derive(Debug, Clone)]
        pub struct #remote_ty<'s>(#rt::typed::RemoteDevice<'s>);

        impl<'s> ::core::convert::From<#rt::typed::RemoteDevice<'s>> for #remote_ty<'s> {
            fn from(d: #rt::typed::RemoteDevice<'s>) -> Self {
                #remote_ty(d)
            }
        }

        impl #remote_ty<'_> {
            /// Which device.
            pub fn device(&self) -> &#rt::server::DeviceRef {
                self.0.device()
            }

            /// Changes of this device's signals, from now on.
            pub fn changes(&self) -> #changes_ty {
                #changes_ty(self.0.changes())
            }

            #(#getters_remote)*
            #(#setters_remote)*
        }

        #[doc = #change_doc]
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum #change_ty { #(#change_defs,)* }

        impl #change_ty {
            fn from_parts(block: &str, signal: &str, value: &#rt::signal::SignalValue, state: #rt::typed::State) -> ::core::option::Option<Self> {
                match (block, signal) {
                    #(#change_arms)*
                    _ => ::core::option::Option::None,
                }
            }
        }

        #[doc = #changes_doc]
        #[derive(Debug)]
        pub struct #changes_ty(#rt::typed::RemoteChanges);

        impl #changes_ty {
            /// The next change; `None` once the server is gone.
            pub async fn recv(&mut self) -> ::core::option::Option<#change_ty> {
                loop {
                    let (block, signal, value, state) = self.0.recv().await?;
                    if let ::core::option::Option::Some(c) = #change_ty::from_parts(&block, &signal, &value, state) {
                        return ::core::option::Option::Some(c);
                    }
                }
            }
        }
    })
}

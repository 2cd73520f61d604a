#![doc = include_str!("../README.md")]
//! Procedural macros of ferrocom.
//!
//! `protocol!("path/to/spec.wire")` parses and validates a protocol spec at compile
//! time and expands to `pub mod <protocol> { ... }` with its typed codec. The path is
//! relative to the invoking crate's root (`CARGO_MANIFEST_DIR`). A spec error stops the
//! build with the spec's file, line and column; the macro never panics.
#![warn(missing_docs)]

use std::path::PathBuf;

use proc_macro::TokenStream;
use quote::quote;
use syn::LitStr;

/// Generates a protocol module from a `.wire` spec file.
///
/// ```ignore
/// ferrocom_macros::protocol!("spec/protocols/mqtt311.wire");
/// // defines `pub mod mqtt311 { pub struct Packet<'a> { .. } ... }`
/// ```
#[proc_macro]
pub fn protocol(input: TokenStream) -> TokenStream {
    let lit = match syn::parse::<LitStr>(input) {
        Ok(l) => l,
        Err(e) => return e.to_compile_error().into(),
    };
    match expand(&lit) {
        Ok(t) => t.into(),
        Err(msg) => syn::Error::new(lit.span(), msg).to_compile_error().into(),
    }
}

/// Generates a protocol module from spec text written inline (handy for small protocols
/// and tests). Errors name `<inline>` with the line and column inside the text.
///
/// ```ignore
/// ferrocom_macros::protocol_str!(r#"
///     protocol demo { byte_order big; frame Ping { id: u16; } }
/// "#);
/// ```
#[proc_macro]
pub fn protocol_str(input: TokenStream) -> TokenStream {
    let lit = match syn::parse::<LitStr>(input) {
        Ok(l) => l,
        Err(e) => return e.to_compile_error().into(),
    };
    let spec = match ferrocom_spec::parse_str("<inline>", &lit.value()) {
        Ok(s) => s,
        Err(e) => {
            return syn::Error::new(lit.span(), e.to_string())
                .to_compile_error()
                .into();
        }
    };
    match ferrocom_codegen::generate_module(&spec, &ferrocom_codegen::Options::default()) {
        Ok(t) => t.into(),
        Err(e) => syn::Error::new(lit.span(), e.to_string())
            .to_compile_error()
            .into(),
    }
}

fn expand(lit: &LitStr) -> Result<proc_macro2::TokenStream, String> {
    let rel = lit.value();
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let path = root.join(&rel);
    let spec =
        ferrocom_spec::parse_file(&path).map_err(|e| relabel(&e.to_string(), &path, &rel))?;
    let options = ferrocom_codegen::Options {
        file_label: rel.clone(),
        ..Default::default()
    };
    let module = ferrocom_codegen::generate_module(&spec, &options).map_err(|e| e.to_string())?;
    // Makes cargo rebuild the crate when the spec changes.
    let abs = path.display().to_string();
    Ok(quote! {
        const _: &[u8] = include_bytes!(#abs);
        #module
    })
}

/// Shows the path as the user wrote it rather than the absolute one.
fn relabel(msg: &str, abs: &std::path::Path, rel: &str) -> String {
    msg.replace(&abs.display().to_string(), rel)
}

/// Derives typed signal bindings for a struct that declares one memory block, one field
/// per signal, laid out by IOCOM's algorithm exactly as the same block written as a JSON
/// signal map (see `ferrocom_codegen::derive` for the attributes).
///
/// Expands to a module named after the block (`exp` for `#[signals(block = "exp")]`)
/// holding a `Signal` constant per signal, `SIZE`, and a block type with typed getters
/// and setters over a byte buffer; and to `SIGNAL_MAP_JSON` on the struct: the block as
/// a JSON signal map.
#[proc_macro_derive(Signals, attributes(signals, signal))]
pub fn derive_signals(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    let expanded = ferrocom_codegen::derive::derive_signals(&input, |map| {
        let block = map
            .blocks
            .first()
            .ok_or_else(|| "a signal block needs at least one field".to_string())?;
        let options = ferrocom_codegen::signals::BindingsOptions::default();
        let items = ferrocom_codegen::signals::rust_for_block(block, &options)
            .map_err(|e| e.to_string())?;
        let vis = &input.vis;
        let module = syn::Ident::new(&block.name, proc_macro2::Span::call_site());
        let ident = &input.ident;
        let json = map.to_json_text(false);
        let doc = format!(
            " Typed bindings of memory block `{}`, declared by [`{ident}`].",
            block.name
        );
        Ok(quote! {
            #[doc = #doc]
            #vis mod #module {
                #items
            }
            impl #ident {
                /// This block as a JSON signal map (what the same block written in JSON
                /// would say; addresses follow from the order of the fields).
                pub const SIGNAL_MAP_JSON: &'static str = #json;
            }
        })
    });
    expanded.into()
}

/// Typed device and server stubs for a device whose memory blocks are the
/// `#[derive(Signals)]` structs of the module it is put on (the derive counterpart of
/// `ferrocom gen --stubs` / `Bindings::stubs_file`; the stubs run on `ferrocom-runtime`):
///
/// ```ignore
/// #[ferrocom_macros::device_stubs(device = "thermostat")]
/// mod thermostat {
///     use ferrocom_macros::Signals;
///     #[derive(Signals)]
///     #[signals(block = "exp", flags = "up")]
///     pub struct Exp { temperature: f32, heating: bool }
///     #[derive(Signals)]
///     #[signals(block = "imp", flags = "down")]
///     pub struct Imp { setpoint: f32 }
/// }
/// // thermostat::Thermostat::connect(...), server.device::<thermostat::Thermostat>(...)
/// ```
#[proc_macro_attribute]
pub fn device_stubs(attr: TokenStream, item: TokenStream) -> TokenStream {
    let module = syn::parse_macro_input!(item as syn::ItemMod);
    ferrocom_codegen::derive::module_stubs(attr.into(), module).into()
}

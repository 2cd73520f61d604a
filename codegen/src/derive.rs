//! `#[derive(Signals)]`: a Rust struct declares one memory block, one field per signal.
//! The derive turns it into the same [`SignalMap`] model a JSON signal map gives, lays it
//! out with the same IOCOM algorithm, and generates the same bindings; so a block
//! declared either way has byte-identical addresses.
//!
//! ```ignore
//! #[derive(Signals)]
//! #[signals(block = "exp", device = "gina", flags = "up")]
//! struct Exp {
//!     frame_rate: f32,
//!     testfloat: [f32; 5],
//!     #[signal(str)]
//!     teststr: [u8; 10],
//!     testbool: bool,
//!     in_x: bool,
//!     potentiometer: f32,
//! }
//! ```
//!
//! Field types: `bool`, `i8` (char), `u8` (uchar), `i16` (short), `u16` (ushort), `i32`
//! (int), `u32` (uint), `i64` (int64; `#[signal(type = "long")]` for long), `f32` (float),
//! `f64` (double), arrays `[T; N]` of those, and `[u8; N]` with `#[signal(str)]` for a
//! string of capacity N. `#[signal(name = "...", addr = N, type = "...")]` override the
//! signal name, place it at an explicit address, or pick a type the Rust type maps to
//! several of (`long`, `dec01`, `dec001` for `i16`). Every error points at the field or
//! attribute it is about, and all errors are reported at once.

use ferrocom_spec::signals::{Block, Group, Signal, SignalMap, SignalType};
use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;

/// Collects errors so that one compile reports all of them.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, span: Span, msg: impl std::fmt::Display) {
        let e = syn::Error::new(span, msg);
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
}

/// Options of `#[signals(...)]` on the struct.
struct BlockAttrs {
    block: Option<(String, Span)>,
    device: Option<(String, Span)>,
    flags: Option<String>,
}

/// Options of `#[signal(...)]` on a field.
#[derive(Default)]
struct FieldAttrs {
    name: Option<(String, Span)>,
    ty: Option<(String, Span)>,
    addr: Option<usize>,
    is_str: bool,
}

/// IOCOM limits (reference §19): signal names < 32 bytes, block and device names < 16.
const MAX_SIGNAL_NAME: usize = 31;
const MAX_BLOCK_NAME: usize = 15;

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn lit_str(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<(String, Span)> {
    let lit: syn::LitStr = meta.value()?.parse()?;
    Ok((lit.value(), lit.span()))
}

fn parse_block_attrs(input: &syn::DeriveInput, errors: &mut Errors) -> BlockAttrs {
    let mut out = BlockAttrs {
        block: None,
        device: None,
        flags: None,
    };
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("signals")) {
        let res = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("block") {
                out.block = Some(lit_str(&meta)?);
            } else if meta.path.is_ident("device") {
                out.device = Some(lit_str(&meta)?);
            } else if meta.path.is_ident("flags") {
                let (f, span) = lit_str(&meta)?;
                let words: Vec<&str> = f.split(',').map(str::trim).collect();
                if !words.iter().all(|w| matches!(*w, "up" | "down" | "conf")) {
                    return Err(syn::Error::new(
                        span,
                        "flags are `up` or `down`, optionally with `,conf`",
                    ));
                }
                out.flags = Some(f);
            } else {
                return Err(meta.error("unknown option; expected `block`, `device` or `flags`"));
            }
            Ok(())
        });
        if let Err(e) = res {
            errors.push(e.span(), e);
        }
    }
    out
}

fn parse_field_attrs(field: &syn::Field, errors: &mut Errors) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("signal")) {
        let res = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                out.name = Some(lit_str(&meta)?);
            } else if meta.path.is_ident("type") {
                out.ty = Some(lit_str(&meta)?);
            } else if meta.path.is_ident("addr") {
                let lit: syn::LitInt = meta.value()?.parse()?;
                out.addr = Some(lit.base10_parse()?);
            } else if meta.path.is_ident("str") {
                out.is_str = true;
            } else {
                return Err(meta.error("unknown option; expected `name`, `type`, `addr` or `str`"));
            }
            Ok(())
        });
        if let Err(e) = res {
            errors.push(e.span(), e);
        }
    }
    out
}

/// The signal type and element count a Rust field type stands for.
fn map_type(
    ty: &syn::Type,
    attrs: &FieldAttrs,
    errors: &mut Errors,
) -> Option<(SignalType, usize)> {
    let (elem, n) = match ty {
        syn::Type::Array(a) => {
            let n = match &a.len {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(i),
                    ..
                }) => match i.base10_parse::<usize>() {
                    Ok(n) if n >= 1 => n,
                    _ => {
                        errors.push(
                            a.len.span(),
                            "array length must be an integer of at least 1",
                        );
                        return None;
                    }
                },
                other => {
                    errors.push(other.span(), "array length must be an integer literal");
                    return None;
                }
            };
            (a.elem.as_ref(), n)
        }
        t => (t, 1),
    };
    let prim = match elem {
        syn::Type::Path(p) if p.qself.is_none() => p.path.get_ident().map(|i| i.to_string()),
        _ => None,
    };
    let supported = "use bool, i8, u8, i16, u16, i32, u32, i64, f32, f64, an array [T; N] of them, or [u8; N] with #[signal(str)]";
    let Some(prim) = prim else {
        errors.push(
            ty.span(),
            format!("unsupported signal field type; {supported}"),
        );
        return None;
    };
    if attrs.is_str {
        if prim != "u8" || !matches!(ty, syn::Type::Array(_)) {
            errors.push(ty.span(), "a string signal is declared as `[u8; CAPACITY]`");
            return None;
        }
        return Some((SignalType::Str, n));
    }
    let natural = match prim.as_str() {
        "bool" => SignalType::Boolean,
        "i8" => SignalType::Char,
        "u8" => SignalType::Uchar,
        "i16" => SignalType::Short,
        "u16" => SignalType::Ushort,
        "i32" => SignalType::Int,
        "u32" => SignalType::Uint,
        "i64" => SignalType::Int64,
        "f32" => SignalType::Float,
        "f64" => SignalType::Double,
        other => {
            errors.push(
                elem.span(),
                format!("unsupported signal type `{other}`; {supported}"),
            );
            return None;
        }
    };
    let ty = match &attrs.ty {
        None => natural,
        Some((name, span)) => match SignalType::from_name(name) {
            None => {
                errors.push(*span, format!("unknown signal type `{name}`"));
                return None;
            }
            // A different name for the same Rust representation.
            Some(t) if t == natural => t,
            Some(t @ SignalType::Long) if natural == SignalType::Int64 => t,
            Some(t @ (SignalType::Dec01 | SignalType::Dec001)) if natural == SignalType::Short => t,
            Some(t) => {
                errors.push(
                    *span,
                    format!("type `{}` does not match the Rust type `{prim}`", t.name()),
                );
                return None;
            }
        },
    };
    Some((ty, n))
}

/// Lays the struct out as a one-block signal map, or returns every error found.
pub fn struct_to_map(input: &syn::DeriveInput) -> Result<SignalMap, syn::Error> {
    let mut errors = Errors::default();
    let attrs = parse_block_attrs(input, &mut errors);
    let syn::Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "`Signals` is derived for a struct with named fields, one per signal",
        ));
    };
    let syn::Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new(
            input.ident.span(),
            "`Signals` needs named fields, one per signal",
        ));
    };
    let block_name = match &attrs.block {
        Some((b, _)) => b.clone(),
        None => input.ident.to_string().to_lowercase(),
    };
    let block_span = attrs.block.as_ref().map_or(input.ident.span(), |b| b.1);
    if !valid_name(&block_name) || block_name.len() > MAX_BLOCK_NAME {
        errors.push(
            block_span,
            format!(
                "block name `{block_name}` must be 1 to {MAX_BLOCK_NAME} letters, digits or `_`"
            ),
        );
    }
    if let Some((d, span)) = &attrs.device
        && (d.is_empty()
            || d.len() > MAX_BLOCK_NAME
            || !d.chars().all(|c| c.is_ascii_alphabetic() || c == '_'))
    {
        errors.push(*span, format!("device name `{d}` must be 1 to {MAX_BLOCK_NAME} letters or `_` (the number is appended)"));
    }

    let mut signals = Vec::new();
    let mut spans = Vec::new();
    let mut seen: Vec<(String, Span)> = Vec::new();
    for field in &fields.named {
        let fattrs = parse_field_attrs(field, &mut errors);
        let Some(ident) = &field.ident else { continue };
        let (name, name_span) = match &fattrs.name {
            Some((n, s)) => (n.clone(), *s),
            None => (
                ident.to_string().trim_start_matches("r#").to_string(),
                ident.span(),
            ),
        };
        if !valid_name(&name) || name.len() > MAX_SIGNAL_NAME {
            errors.push(
                name_span,
                format!(
                    "signal name `{name}` must be 1 to {MAX_SIGNAL_NAME} letters, digits or `_`"
                ),
            );
        }
        if seen.iter().any(|(n, _)| *n == name) {
            errors.push(
                name_span,
                format!("duplicate signal name `{name}` in block `{block_name}`"),
            );
        }
        seen.push((name.clone(), name_span));
        let Some((ty, n)) = map_type(&field.ty, &fattrs, &mut errors) else {
            continue;
        };
        let mut s = Signal::new(name, ty);
        s.type_given = true;
        s.array = n;
        s.array_given = n > 1 || ty == SignalType::Str;
        s.explicit_addr = fattrs.addr;
        signals.push(s);
        spans.push(field.span());
    }
    if signals.is_empty() && errors.0.is_none() {
        errors.push(
            input.ident.span(),
            "a signal block needs at least one field",
        );
    }
    let mut map = SignalMap {
        name: attrs.device.as_ref().map(|d| d.0.clone()),
        ..Default::default()
    };
    map.blocks.push(Block {
        name: block_name,
        flags: attrs.flags.clone(),
        groups: vec![Group {
            name: input.ident.to_string(),
            signals,
            ..Default::default()
        }],
        ..Default::default()
    });
    // Layout errors (overlapping explicit addresses) name both signals; they point at
    // the struct since they concern two fields.
    if errors.0.is_none()
        && let Err(e) = map.assign_addresses()
    {
        errors.push(input.ident.span(), e.to_string());
    }
    match errors.0 {
        Some(e) => Err(e),
        None => Ok(map),
    }
}

/// The derive's whole expansion: errors as `compile_error!`s at their spans, or the
/// generated bindings.
pub fn derive_signals(
    input: &syn::DeriveInput,
    generate: impl FnOnce(&SignalMap) -> Result<TokenStream, String>,
) -> TokenStream {
    match struct_to_map(input) {
        Err(e) => e.to_compile_error(),
        Ok(map) => match generate(&map) {
            Ok(t) => t,
            Err(msg) => syn::Error::new(input.ident.span(), msg).to_compile_error(),
        },
    }
}

/// `#[device_stubs(device = "...")]` on an inline module: the module's
/// `#[derive(Signals)]` structs are the device's memory blocks (each laid out as the
/// derive lays it out), and typed device and server stubs for the whole device are
/// appended to the module (see [`crate::signals::rust_stubs_for_map`]). Options:
/// `device` (default: the structs' common `device`), `runtime` (path of the runtime
/// crate, default `::ferrocom_runtime`).
pub fn module_stubs(attr: TokenStream, mut module: syn::ItemMod) -> TokenStream {
    let mut device: Option<(String, Span)> = None;
    let mut runtime = "::ferrocom_runtime".to_string();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("device") {
            device = Some(lit_str(&meta)?);
        } else if meta.path.is_ident("runtime") {
            runtime = lit_str(&meta)?.0;
        } else {
            return Err(meta.error("unknown option; expected `device` or `runtime`"));
        }
        Ok(())
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, attr) {
        return e.to_compile_error();
    }
    let Some((_, items)) = module.content.as_mut() else {
        return syn::Error::new(
            module.ident.span(),
            "`device_stubs` needs an inline module (`mod name { ... }`) holding the block structs",
        )
        .to_compile_error();
    };
    let mut errors = Errors::default();
    let mut map = SignalMap::default();
    for item in items.iter() {
        let syn::Item::Struct(s) = item else {
            continue;
        };
        if !s.attrs.iter().any(|a| a.path().is_ident("signals")) {
            continue;
        }
        // Reparsed: syn is built without `clone-impls`.
        let input = match syn::parse2::<syn::DeriveInput>(quote::ToTokens::to_token_stream(s)) {
            Ok(i) => i,
            Err(e) => {
                errors.push(e.span(), e);
                continue;
            }
        };
        match struct_to_map(&input) {
            Ok(one) => {
                if let (Some(theirs), None) = (&one.name, &device) {
                    match &map.name {
                        Some(ours) if ours != theirs => errors.push(
                            s.ident.span(),
                            format!("block of device `{theirs}`, but another block names device `{ours}`"),
                        ),
                        _ => map.name = Some(theirs.clone()),
                    }
                }
                map.blocks.extend(one.blocks);
            }
            Err(e) => errors.push(e.span(), e),
        }
    }
    if let Some((d, _)) = &device {
        map.name = Some(d.clone());
    }
    if map.blocks.is_empty() {
        errors.push(
            module.ident.span(),
            "no memory block: put the `#[derive(Signals)]` structs (with `#[signals(block = ...)]`) in this module",
        );
    }
    if map.name.is_none() {
        errors.push(
            module.ident.span(),
            "no device name: give `#[device_stubs(device = \"...\")]` or `device` in the blocks' `#[signals(...)]`",
        );
    }
    if let Some(e) = errors.0 {
        return e.to_compile_error();
    }
    let options = crate::signals::BindingsOptions::default();
    match crate::signals::rust_stubs_for_map(&map, &options, &runtime) {
        Ok(stubs) => {
            items.push(syn::Item::Verbatim(stubs));
            quote::ToTokens::into_token_stream(module)
        }
        Err(e) => syn::Error::new(module.ident.span(), e.to_string()).to_compile_error(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn gina_exp_from_a_struct_has_gina_layout() {
        let input: syn::DeriveInput = syn::parse_quote! {
            #[signals(block = "exp", device = "gina", flags = "up")]
            struct Exp {
                frame_rate: f32,
                testfloat: [f32; 5],
                #[signal(str)]
                teststr: [u8; 10],
                testbool: bool,
                in_x: bool,
                potentiometer: f32,
            }
        };
        let map = struct_to_map(&input).unwrap();
        let b = &map.blocks[0];
        let addrs: Vec<(&str, usize)> = b.signals().map(|s| (s.name.as_str(), s.addr)).collect();
        assert_eq!(
            addrs,
            [
                ("frame_rate", 0),
                ("testfloat", 5),
                ("teststr", 26),
                ("testbool", 37),
                ("in_x", 38),
                ("potentiometer", 39)
            ]
        );
        assert_eq!(b.size, 44);
    }

    #[test]
    fn errors_are_collected() {
        let input: syn::DeriveInput = syn::parse_quote! {
            struct Bad {
                a: String,
                b: u16,
                #[signal(name = "b")]
                c: u16,
                #[signal(type = "float")]
                d: i32,
            }
        };
        let e = struct_to_map(&input).err().unwrap();
        let msgs: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(
            msgs[0].contains("unsupported signal type `String`"),
            "{msgs:?}"
        );
        assert!(msgs[1].contains("duplicate signal name `b`"), "{msgs:?}");
        assert!(
            msgs[2].contains("does not match the Rust type `i32`"),
            "{msgs:?}"
        );
    }
}

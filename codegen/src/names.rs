//! Naming, Rust type mapping and small helpers shared by the generators.

use std::collections::HashSet;

use ferrocom_spec::model::{ByteOrder, Expr, ExprKind, IntType, Item, Size, Type};
use proc_macro2::{Span as PmSpan, TokenStream};
use quote::{format_ident, quote};

use crate::{Cx, Result};

/// A Rust identifier for a spec name (raw identifier for Rust keywords).
pub fn ident(name: &str) -> syn::Ident {
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while",
        "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro", "override",
        "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    if KEYWORDS.contains(&name) {
        syn::Ident::new_raw(name, PmSpan::call_site())
    } else {
        syn::Ident::new(name, PmSpan::call_site())
    }
}

/// Name of the `FieldInfo` constant of a field.
pub fn info_const(field: &str) -> syn::Ident {
    format_ident!("F_{}", field.trim_start_matches('_').to_uppercase())
}

/// Smallest Rust unsigned/signed primitive holding `bits` bits.
pub fn prim(bits: u8, signed: bool) -> TokenStream {
    let w: u32 = match bits {
        0..=8 => 8,
        9..=16 => 16,
        17..=32 => 32,
        _ => 64,
    };
    let name = format_ident!("{}{}", if signed { "i" } else { "u" }, w);
    quote!(#name)
}

/// Rust type of a fixed-width integer.
pub fn int_ty(t: &IntType) -> TokenStream {
    prim(t.bits, t.signed)
}

/// The byte order of an integer field, as a support-crate expression.
pub fn order(cx: &Cx<'_>, t: Option<ByteOrder>) -> TokenStream {
    let s = &cx.support;
    match t.unwrap_or(cx.spec.protocol.byte_order) {
        ByteOrder::Big => quote!(#s::codec::ByteOrder::Big),
        ByteOrder::Little => quote!(#s::codec::ByteOrder::Little),
    }
}

/// The largest integer literal in a width expression (to size `uint(..)` fields).
pub fn max_literal(e: &Expr) -> Option<i128> {
    match &e.kind {
        ExprKind::Int(v) => Some(*v),
        ExprKind::Ternary(_, a, b) => match (max_literal(a), max_literal(b)) {
            (Some(x), Some(y)) => Some(x.max(y)),
            _ => None,
        },
        _ => None,
    }
}

/// Rust type of a `uint(expr)` field: `u32` when the width can be shown to be ≤ 4.
pub fn dyn_uint_bits(width: &Expr) -> u8 {
    match max_literal(width) {
        Some(w) if (1..=4).contains(&w) => 32,
        _ => 64,
    }
}

/// What kind of item a type name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Enum,
    Flags,
    Bits,
    Record,
    Union,
}

pub fn kind_of(cx: &Cx<'_>, name: &str) -> Option<Kind> {
    Some(match cx.item(name)? {
        Item::Enum(_) => Kind::Enum,
        Item::Flags(_) => Kind::Flags,
        Item::Bits(_) => Kind::Bits,
        Item::Record(_) => Kind::Record,
        Item::Union(_) => Kind::Union,
        Item::Extern(_) => return None,
    })
}

/// The separator of a separated (text) record, if `name` is one.
pub fn separator_of(cx: &Cx<'_>, name: &str) -> Option<u8> {
    match cx.item(name)? {
        Item::Record(r) => r.separator.map(|s| s.byte),
        _ => None,
    }
}

/// Whether a field of this type continues the parts of its separated record (a separated
/// record or a union of them) rather than taking one part.
pub fn is_spread(cx: &Cx<'_>, ty: &Type) -> bool {
    match ty {
        Type::Named { name, .. } => match cx.item(&name.name) {
            Some(Item::Record(r)) => r.separator.is_some(),
            Some(Item::Union(_)) => true,
            _ => false,
        },
        _ => false,
    }
}

/// The integer representation of an enum, flags or bits item.
pub fn repr_of(cx: &Cx<'_>, name: &str) -> Option<IntType> {
    match cx.item(name)? {
        Item::Enum(d) => Some(d.repr),
        Item::Flags(d) => Some(d.repr),
        Item::Bits(d) => Some(d.repr),
        _ => None,
    }
}

/// Whether values of this type are `Copy` scalars usable in expressions.
pub fn is_scalar(cx: &Cx<'_>, ty: &Type) -> bool {
    match ty {
        Type::Int(_)
        | Type::DynUint { .. }
        | Type::MqttVarint
        | Type::Intser
        | Type::Decimal(_) => true,
        Type::Named { name, .. } => matches!(
            kind_of(cx, &name.name),
            Some(Kind::Enum | Kind::Flags | Kind::Bits)
        ),
        Type::Within { inner, .. } => is_scalar(cx, inner),
        _ => false,
    }
}

/// Whether a named record or union needs a lifetime (borrows from the input).
pub fn item_needs_lifetime(cx: &Cx<'_>, name: &str, seen: &mut HashSet<String>) -> bool {
    if !seen.insert(name.to_string()) {
        return false;
    }
    match cx.item(name) {
        Some(Item::Record(r)) => {
            r.params
                .iter()
                .any(|p| type_needs_lifetime(cx, &p.ty, seen))
                || r.fields
                    .iter()
                    .filter(|f| f.derive.is_none())
                    .any(|f| type_needs_lifetime(cx, &f.ty, seen))
        }
        Some(Item::Union(u)) => u.arms.iter().any(|a| match &a.body {
            ferrocom_spec::model::ArmBody::Variant {
                payload: Some(t), ..
            } => type_needs_lifetime(cx, t, seen),
            _ => false,
        }),
        _ => false,
    }
}

pub fn type_needs_lifetime(cx: &Cx<'_>, ty: &Type, seen: &mut HashSet<String>) -> bool {
    match ty {
        Type::Bytes(_)
        | Type::BytesPrefixed(_)
        | Type::BytesUntil(_)
        | Type::Str(_)
        | Type::StrPrefixed { .. }
        | Type::CStr => true,
        Type::Named { name, .. } => item_needs_lifetime(cx, &name.name, seen),
        Type::Array { elem, .. } => type_needs_lifetime(cx, elem, seen),
        Type::Within { inner, .. } => type_needs_lifetime(cx, inner, seen),
        _ => false,
    }
}

pub fn needs_lifetime(cx: &Cx<'_>, name: &str) -> bool {
    item_needs_lifetime(cx, name, &mut HashSet::new())
}

/// `Name` or `Name<'a>`.
pub fn named_ty(cx: &Cx<'_>, name: &str) -> TokenStream {
    let id = ident(name);
    if needs_lifetime(cx, name) {
        quote!(#id<'a>)
    } else {
        quote!(#id)
    }
}

/// The Rust type stored for a field of spec type `ty` (without `Option`).
pub fn rust_ty(cx: &Cx<'_>, ty: &Type, transformed: bool) -> Result<TokenStream> {
    let s = &cx.support;
    Ok(match ty {
        Type::Int(t) => int_ty(t),
        Type::DynUint { width, .. } => prim(dyn_uint_bits(width), false),
        Type::MqttVarint => quote!(u32),
        Type::Intser => quote!(i64),
        Type::Decimal(t) => int_ty(t),
        Type::Bytes(_) | Type::BytesPrefixed(_) | Type::BytesUntil(_) => {
            if transformed {
                quote!(#s::__private::Cow<'a, [u8]>)
            } else {
                quote!(&'a [u8])
            }
        }
        Type::Str(_) | Type::StrPrefixed { .. } | Type::CStr => quote!(&'a str),
        Type::Named { name, .. } => named_ty(cx, &name.name),
        Type::Array { elem, .. } => {
            let e = rust_ty(cx, elem, false)?;
            quote!(#s::__private::Vec<#e>)
        }
        Type::Within { inner, .. } => rust_ty(cx, inner, transformed)?,
    })
}

/// The size expression of a field type, if it has one that refers to other fields.
pub fn size_expr(ty: &Type) -> Option<&Expr> {
    match ty {
        Type::Bytes(Size::Expr(e)) | Type::Str(Size::Expr(e)) => Some(e),
        Type::Array {
            count: Size::Expr(e),
            ..
        } => Some(e),
        _ => None,
    }
}

/// Names referenced by an expression (first path segments and call arguments).
pub fn expr_refs(e: &Expr, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Path(p) => {
            if let Some(first) = p.first() {
                out.push(first.name.clone());
            }
        }
        ExprKind::Call { args, .. } => args.iter().for_each(|a| expr_refs(a, out)),
        ExprKind::Unary(_, a) => expr_refs(a, out),
        ExprKind::Binary(_, a, b) => {
            expr_refs(a, out);
            expr_refs(b, out);
        }
        ExprKind::Ternary(a, b, c) => {
            expr_refs(a, out);
            expr_refs(b, out);
            expr_refs(c, out);
        }
        ExprKind::Int(_) | ExprKind::Bool(_) => {}
    }
}

/// Source-like text of an expression, for error messages in generated code (without the
/// outermost parentheses).
pub fn expr_text(e: &Expr) -> String {
    let t = expr_text_inner(e);
    match (
        &e.kind,
        t.strip_prefix('(').and_then(|t| t.strip_suffix(')')),
    ) {
        (ExprKind::Binary(..) | ExprKind::Ternary(..), Some(inner)) => inner.to_string(),
        _ => t,
    }
}

fn expr_text_inner(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Path(p) => p
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join("."),
        ExprKind::Call { func, args } => format!(
            "{}({})",
            func.name,
            args.iter()
                .map(expr_text_inner)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ExprKind::Unary(op, a) => format!(
            "{}{}",
            match op {
                ferrocom_spec::model::UnOp::Not => "!",
                ferrocom_spec::model::UnOp::Neg => "-",
            },
            expr_text_inner(a)
        ),
        ExprKind::Binary(op, a, b) => {
            format!(
                "({} {} {})",
                expr_text_inner(a),
                op.symbol(),
                expr_text_inner(b)
            )
        }
        ExprKind::Ternary(c, a, b) => {
            format!(
                "({} ? {} : {})",
                expr_text_inner(c),
                expr_text_inner(a),
                expr_text_inner(b)
            )
        }
    }
}

/// A `FieldInfo` constant for a field.
pub fn field_info(
    cx: &Cx<'_>,
    item: &str,
    field: &str,
    meta: &ferrocom_spec::model::Meta,
) -> TokenStream {
    let s = &cx.support;
    let cname = info_const(field);
    let protocol = cx.protocol_name();
    let clause = match &meta.clause {
        Some(c) => quote!(Some(#c)),
        None => quote!(None),
    };
    let line = meta.span.line;
    quote! {
        const #cname: #s::codec::FieldInfo = #s::codec::FieldInfo {
            protocol: #protocol, item: #item, field: #field, clause: #clause, line: #line,
        };
    }
}

/// `name: Type` for each parameter, as in a function signature.
pub fn param_decls(
    cx: &Cx<'_>,
    params: &[ferrocom_spec::model::Param],
) -> Result<Vec<TokenStream>> {
    params
        .iter()
        .map(|p| {
            let n = ident(&p.name.name);
            let t = rust_ty(cx, &p.ty, false)?;
            Ok(quote!(#n: #t))
        })
        .collect()
}

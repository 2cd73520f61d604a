//! Compiles spec expressions to Rust expressions.
//!
//! Every numeric value is widened to `i128` (which holds every wire integer the
//! language has, signed or not), so comparisons and arithmetic never depend on the
//! field's Rust type. Arithmetic is wrapping and division is checked: a generated
//! decoder must not panic whatever the input.

use ferrocom_spec::model::{BinOp, Expr, ExprKind, Item, Type, UnOp};
use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::names::{self, Kind};
use crate::{Cx, Result};

/// A value an expression can name.
#[derive(Clone)]
pub struct Local<'s> {
    /// Spec name.
    pub name: String,
    /// How generated code refers to the value (an identifier or `v.field`).
    pub tokens: TokenStream,
    /// Its spec type (`None`: an `i128` computed by the generator, e.g. a derived length).
    pub ty: Option<&'s Type>,
    /// Stored as `Option<T>`.
    pub optional: bool,
    /// Tokens for the field as it goes on the wire: a `codec::Transformed` (which has
    /// `len()`) for transformed fields when encoding.
    pub wire: Option<TokenStream>,
}

/// Names visible to an expression.
#[derive(Clone)]
pub struct Scope<'s> {
    pub locals: Vec<Local<'s>>,
    /// Fields whose start offset is bound as `__at_<name>` (to place tag errors).
    pub offsets: Vec<String>,
    /// Offset reported when converting an argument fails (default: the reader position).
    pub arg_at: Option<TokenStream>,
    /// `?` may be used (inside functions returning `Result<_, EncodeError>`); otherwise
    /// fallible sub-expressions fall back to 0.
    pub fallible: bool,
}

impl<'s> Scope<'s> {
    pub fn new(fallible: bool) -> Self {
        Self {
            locals: Vec::new(),
            offsets: Vec::new(),
            arg_at: None,
            fallible,
        }
    }

    /// A scope with each parameter bound to a local of its own name.
    pub fn with_params(params: &'s [ferrocom_spec::model::Param], fallible: bool) -> Self {
        let mut scope = Self::new(fallible);
        for p in params {
            let n = crate::names::ident(&p.name.name);
            scope.push(Local {
                name: p.name.name.clone(),
                tokens: quote!(#n),
                ty: Some(&p.ty),
                optional: false,
                wire: None,
            });
        }
        scope
    }

    pub fn push(&mut self, local: Local<'s>) {
        self.locals.retain(|l| l.name != local.name);
        self.locals.push(local);
    }

    /// The same scope with `name` known to be present (inside `if let Some(name)`).
    pub fn unwrapped(&self, name: &str) -> Self {
        let mut s = self.clone();
        for l in &mut s.locals {
            if l.name == name {
                l.optional = false;
            }
        }
        s
    }

    pub fn get(&self, name: &str) -> Option<&Local<'s>> {
        self.locals.iter().rev().find(|l| l.name == name)
    }
}

/// A compiled expression: an `i128` or a `bool`.
pub enum Val {
    Int(TokenStream),
    Bool(TokenStream),
}

impl Val {
    pub fn int(self) -> TokenStream {
        match self {
            Val::Int(t) => t,
            Val::Bool(t) => quote!((#t as i128)),
        }
    }

    pub fn bool(self) -> TokenStream {
        match self {
            Val::Int(t) => quote!((#t != 0)),
            Val::Bool(t) => t,
        }
    }
}

fn lit(v: i128) -> TokenStream {
    let l = Literal::i128_suffixed(v);
    quote!(#l)
}

/// Compiles an expression in a scope.
pub fn compile(cx: &Cx<'_>, scope: &Scope<'_>, e: &Expr) -> Result<Val> {
    Ok(match &e.kind {
        ExprKind::Int(v) => Val::Int(lit(*v)),
        ExprKind::Bool(b) => Val::Bool(quote!(#b)),
        ExprKind::Path(path) => compile_path(cx, scope, e, path)?,
        ExprKind::Call { func, args } => compile_call(cx, scope, e, &func.name, args)?,
        ExprKind::Unary(UnOp::Not, a) => {
            let a = compile(cx, scope, a)?.bool();
            Val::Bool(quote!((!#a)))
        }
        ExprKind::Unary(UnOp::Neg, a) => {
            let a = compile(cx, scope, a)?.int();
            Val::Int(quote!(#a.wrapping_neg()))
        }
        ExprKind::Ternary(c, a, b) => {
            let c = compile(cx, scope, c)?.bool();
            match (compile(cx, scope, a)?, compile(cx, scope, b)?) {
                (Val::Bool(a), Val::Bool(b)) => Val::Bool(quote!((if #c { #a } else { #b }))),
                (a, b) => {
                    let (a, b) = (a.int(), b.int());
                    Val::Int(quote!((if #c { #a } else { #b })))
                }
            }
        }
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (compile(cx, scope, a)?, compile(cx, scope, b)?);
            match op {
                BinOp::Or | BinOp::And => {
                    let (a, b) = (a.bool(), b.bool());
                    if *op == BinOp::Or {
                        Val::Bool(quote!((#a || #b)))
                    } else {
                        Val::Bool(quote!((#a && #b)))
                    }
                }
                BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                    let (a, b) = match (a, b) {
                        (Val::Bool(a), Val::Bool(b)) => (a, b),
                        (a, b) => (a.int(), b.int()),
                    };
                    Val::Bool(match op {
                        BinOp::Eq => quote!((#a == #b)),
                        BinOp::Ne => quote!((#a != #b)),
                        BinOp::Lt => quote!((#a < #b)),
                        BinOp::Le => quote!((#a <= #b)),
                        BinOp::Gt => quote!((#a > #b)),
                        _ => quote!((#a >= #b)),
                    })
                }
                _ => {
                    let (a, b) = (a.int(), b.int());
                    Val::Int(match op {
                        BinOp::BitOr => quote!((#a | #b)),
                        BinOp::BitAnd => quote!((#a & #b)),
                        BinOp::Shl => {
                            quote!((u32::try_from(#b).ok().and_then(|s| (#a).checked_shl(s)).unwrap_or(0)))
                        }
                        BinOp::Shr => {
                            quote!((u32::try_from(#b).ok().and_then(|s| (#a).checked_shr(s)).unwrap_or(0)))
                        }
                        BinOp::Add => quote!((#a).wrapping_add(#b)),
                        BinOp::Sub => quote!((#a).wrapping_sub(#b)),
                        BinOp::Mul => quote!((#a).wrapping_mul(#b)),
                        BinOp::Div => quote!((#a).checked_div(#b).unwrap_or(0)),
                        _ => quote!((#a).checked_rem(#b).unwrap_or(0)),
                    })
                }
            }
        }
    })
}

/// The numeric value of a scalar of spec type `ty` held in `v` (not optional).
/// When `checked`, a bits value is packed with `to_bits()?`, so a value whose fields do
/// not fit their widths or constraints is an encode error rather than silently masked.
fn scalar_value(cx: &Cx<'_>, ty: &Type, v: &TokenStream, checked: bool) -> Option<TokenStream> {
    match ty {
        // `clone()` reads through a reference as well as from a value.
        Type::Int(_) | Type::DynUint { .. } | Type::MqttVarint | Type::Intser => {
            Some(quote!(i128::from(#v.clone())))
        }
        Type::Named { name, .. } => match names::kind_of(cx, &name.name)? {
            Kind::Enum | Kind::Flags => Some(quote!((#v.0 as i128))),
            Kind::Bits if checked => Some(quote!((#v.to_bits()? as i128))),
            Kind::Bits => Some(quote!((#v.to_raw() as i128))),
            _ => None,
        },
        Type::Within { inner, .. } => scalar_value(cx, inner, v, checked),
        _ => None,
    }
}

fn wrap_optional(
    optional: bool,
    tokens: &TokenStream,
    f: impl Fn(&TokenStream) -> TokenStream,
    default: TokenStream,
) -> TokenStream {
    if optional {
        let inner = f(&quote!(v));
        quote!(#tokens.map_or(#default, |v| #inner))
    } else {
        f(tokens)
    }
}

fn compile_path(
    cx: &Cx<'_>,
    scope: &Scope<'_>,
    e: &Expr,
    path: &[ferrocom_spec::model::Ident],
) -> Result<Val> {
    let Some(first) = path.first() else {
        return Err(cx.err(e.span, "empty path"));
    };
    let Some(local) = scope.get(&first.name) else {
        if path.len() == 1 {
            return enum_constant(cx, e, &first.name);
        }
        return Err(cx.err(first.span, format!("unknown name `{}`", first.name)));
    };
    let Some(ty) = local.ty else {
        return Ok(Val::Int(local.tokens.clone()));
    };
    let ty = match ty {
        Type::Within { inner, .. } => inner.as_ref(),
        t => t,
    };
    if path.len() == 1 {
        let t = &local.tokens;
        // `?` cannot be used inside the closure of an optional value.
        let checked = scope.fallible && !local.optional;
        return match scalar_value(cx, ty, &quote!(x), checked) {
            Some(_) => Ok(Val::Int(wrap_optional(
                local.optional,
                t,
                |v| scalar_value(cx, ty, v, checked).unwrap_or_default(),
                quote!(0i128),
            ))),
            None => Err(cx.err(
                first.span,
                format!(
                    "`{}` is not a number and cannot be used in an expression",
                    first.name
                ),
            )),
        };
    }
    let member = &path[1];
    let Type::Named { name, .. } = ty else {
        return Err(cx.err(member.span, format!("`{}` has no members", first.name)));
    };
    let tname = names::ident(&name.name);
    let m = names::ident(&member.name);
    let t = &local.tokens;
    match cx.item(&name.name) {
        Some(Item::Flags(_)) => Ok(Val::Bool(wrap_optional(
            local.optional,
            t,
            |v| quote!(#v.contains(#tname::#m)),
            quote!(false),
        ))),
        Some(Item::Bits(b)) => {
            let Some(bf) = b.fields.iter().find(|f| f.name.name == member.name) else {
                return Err(cx.err(
                    member.span,
                    format!("`{}` has no field `{}`", name.name, member.name),
                ));
            };
            let val = match &bf.ty {
                ferrocom_spec::model::BitType::Bool => {
                    return Ok(Val::Bool(wrap_optional(
                        local.optional,
                        t,
                        |v| quote!(#v.#m),
                        quote!(false),
                    )));
                }
                ferrocom_spec::model::BitType::Uint(_) => {
                    |v: &TokenStream, m: &syn::Ident| quote!((#v.#m as i128))
                }
                ferrocom_spec::model::BitType::Named(_) => {
                    |v: &TokenStream, m: &syn::Ident| quote!((#v.#m.0 as i128))
                }
            };
            if bf.derive.is_some() {
                // Constant sub-fields are not stored; read them from the raw value.
                return Err(cx.err(
                    member.span,
                    format!("`{}` is a constant field of `{}`", member.name, name.name),
                ));
            }
            Ok(Val::Int(wrap_optional(
                local.optional,
                t,
                |v| val(v, &m),
                quote!(0i128),
            )))
        }
        Some(Item::Record(r)) => {
            let ty = r
                .params
                .iter()
                .map(|p| (&p.name, &p.ty))
                .chain(
                    r.fields
                        .iter()
                        .filter(|f| f.derive.is_none())
                        .map(|f| (&f.name, &f.ty)),
                )
                .find(|(n, _)| n.name == member.name)
                .map(|(_, t)| t);
            let Some(ty) = ty else {
                return Err(cx.err(
                    member.span,
                    format!("`{}` has no stored field `{}`", name.name, member.name),
                ));
            };
            if local.optional {
                return Err(cx.err(
                    member.span,
                    "member access through an optional record is not supported",
                ));
            }
            let field_opt = r
                .fields
                .iter()
                .any(|f| f.name.name == member.name && f.condition.is_some());
            let sub = Local {
                name: member.name.clone(),
                tokens: quote!(#t.#m),
                ty: Some(ty),
                optional: field_opt,
                wire: None,
            };
            let mut inner = Scope::new(scope.fallible);
            inner.push(sub);
            let rest: Vec<_> = path[1..].to_vec();
            compile_path(cx, &inner, e, &rest)
        }
        _ => Err(cx.err(member.span, format!("`{}` has no members", first.name))),
    }
}

fn enum_constant(cx: &Cx<'_>, e: &Expr, name: &str) -> Result<Val> {
    let mut found = Vec::new();
    for item in &cx.spec.protocol.items {
        if let Item::Enum(d) = item
            && d.variants.iter().any(|v| v.name.name == name)
        {
            found.push(d);
        }
    }
    match found.as_slice() {
        [d] => {
            let t = names::ident(&d.name.name);
            let c = names::ident(name);
            Ok(Val::Int(quote!((#t::#c.0 as i128))))
        }
        [] => Err(cx.err(e.span, format!("unknown name `{name}`"))),
        _ => Err(cx.err(
            e.span,
            format!("`{name}` is a constant of several enums; it is ambiguous here"),
        )),
    }
}

fn compile_call(
    cx: &Cx<'_>,
    scope: &Scope<'_>,
    e: &Expr,
    func: &str,
    args: &[Expr],
) -> Result<Val> {
    if func == "more" && args.is_empty() {
        // Another part follows in the separated record being read.
        return Ok(Val::Bool(quote!(__r.more_parts())));
    }
    let target = match args {
        [
            Expr {
                kind: ExprKind::Path(p),
                ..
            },
        ] if p.len() == 1 => &p[0].name,
        _ => return Err(cx.err(e.span, format!("`{func}` takes one field name"))),
    };
    if func == "crc16_modbus" {
        // Checksums are written as zero and patched once the frame is complete.
        return Ok(Val::Int(quote!(0i128)));
    }
    let Some(local) = scope.get(target) else {
        return Err(cx.err(e.span, format!("unknown field `{target}`")));
    };
    let t = &local.tokens;
    match func {
        "len" => {
            if let Some(w) = &local.wire {
                return Ok(Val::Int(quote!((#w.len() as i128))));
            }
            let Some(ty) = local.ty else {
                return Err(cx.err(e.span, format!("`{target}` has no encoded length")));
            };
            let len = content_len_of(cx, ty, t)?;
            Ok(Val::Int(if local.optional {
                let inner = content_len_of(cx, ty, &quote!(v))?;
                quote!((#t.as_ref().map_or(0usize, |v| #inner) as i128))
            } else {
                quote!((#len as i128))
            }))
        }
        "count" => Ok(Val::Int(quote!((#t.len() as i128)))),
        "tag" => Ok(Val::Int(if scope.fallible {
            quote!(#t.tag()?)
        } else {
            quote!(#t.tag().unwrap_or(0))
        })),
        _ => Err(cx.err(e.span, format!("unknown function `{func}`"))),
    }
}

/// `len(f)`: the bytes of the field's content on the wire, without the length prefix or
/// terminator its type adds (so `str(u8)` "abc" has length 3); for composite types the
/// whole encoded length.
fn content_len_of(cx: &Cx<'_>, ty: &Type, v: &TokenStream) -> Result<TokenStream> {
    match ty {
        Type::Bytes(_)
        | Type::BytesPrefixed(_)
        | Type::BytesUntil(_)
        | Type::Str(_)
        | Type::StrPrefixed { .. }
        | Type::CStr => Ok(quote!(#v.len())),
        Type::Within { inner, .. } => content_len_of(cx, inner, v),
        _ => encoded_len_of(cx, ty, v),
    }
}

/// `usize` tokens for the encoded length of a value of spec type `ty` held in `v`.
pub fn encoded_len_of(cx: &Cx<'_>, ty: &Type, v: &TokenStream) -> Result<TokenStream> {
    let s = &cx.support;
    Ok(match ty {
        Type::Int(t) => {
            let n = usize::from(t.bits / 8);
            quote!(#n)
        }
        Type::DynUint { .. } => {
            return Err(cx.err(
                ferrocom_spec::model::Span::default(),
                "len() of a uint(..) field is not supported",
            ));
        }
        Type::MqttVarint => quote!(#s::codec::mqtt_varint_len(#v.clone())),
        Type::Intser => quote!(#s::codec::intser_len(#v.clone())),
        Type::Decimal(_) => quote!(#s::codec::decimal_len(#v.clone() as i128)),
        Type::Bytes(_) | Type::Str(_) => quote!(#v.len()),
        Type::BytesPrefixed(p) => {
            let n = usize::from(p.bits / 8);
            quote!((#n + #v.len()))
        }
        Type::StrPrefixed { prefix, nul } => {
            let n = usize::from(prefix.bits / 8) + usize::from(*nul);
            quote!((#n + #v.len()))
        }
        Type::CStr | Type::BytesUntil(_) => quote!((#v.len() + 1)),
        Type::Named { name, .. } => match names::kind_of(cx, &name.name) {
            Some(Kind::Enum | Kind::Flags | Kind::Bits) => {
                let bits = names::repr_of(cx, &name.name).map_or(8, |r| r.bits);
                let n = usize::from(bits.div_ceil(8));
                quote!(#n)
            }
            // Nested in another separated record (the only place one can be): its
            // parts, each with the separator that ends it.
            Some(Kind::Record) if names::separator_of(cx, &name.name).is_some() => {
                quote!(#v.parts_len())
            }
            _ => quote!(#v.encoded_len()),
        },
        Type::Array { elem, .. } => {
            let inner = encoded_len_of(cx, elem, &quote!(e))?;
            quote!(#v.iter().map(|e| #inner).sum::<usize>())
        }
        Type::Within { inner, .. } => encoded_len_of(cx, inner, v)?,
    })
}

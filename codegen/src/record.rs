//! Records and frames: the struct, `read`/`decode`, `write`/`encode`, `encoded_len` and
//! `Arbitrary`; plus the per-type read/write/length/arbitrary generators that unions
//! reuse for their payloads.
//!
//! Naming inside generated functions: fields and parameters are locals with their spec
//! names; the generator's own locals start with `__` so they cannot collide.

use ferrocom_spec::model::{ExprKind, Field, Item, Param, RecordDef, Size, Type};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::expr::{self, Local, Scope};
use crate::names::{self, Kind};
use crate::{Cx, Result};

/// How a value of an integer `i128` expression is converted to a parameter's type.
pub enum OnErr {
    /// Inside `read`: a decode error at the current field.
    Decode,
    /// Inside `arbitrary_with`: reject the input.
    Arbitrary,
}

/// Converts an `i128` expression to a value of spec type `ty` (params and args).
pub fn conv(
    cx: &Cx<'_>,
    ty: &Type,
    v: TokenStream,
    on: &OnErr,
    at: &TokenStream,
) -> Result<TokenStream> {
    let s = &cx.support;
    let err = match on {
        OnErr::Decode => {
            quote!(|_| __r.error(#s::codec::DecodeErrorKind::TooLarge { value: __v }))
        }
        OnErr::Arbitrary => quote!(|_| #s::__private::arbitrary::Error::IncorrectFormat),
    };
    let int = |p: TokenStream| quote!({ let __v: i128 = #v; #p::try_from(__v).map_err(#err)? });
    Ok(match ty {
        Type::Int(t) => int(names::int_ty(t)),
        Type::DynUint { width, .. } => int(names::prim(names::dyn_uint_bits(width), false)),
        Type::MqttVarint => int(quote!(u32)),
        Type::Intser => int(quote!(i64)),
        Type::Named { name, .. } => {
            let t = names::ident(&name.name);
            let repr = names::repr_of(cx, &name.name).ok_or_else(|| {
                cx.err(
                    name.span,
                    format!("`{}` cannot be built from a number", name.name),
                )
            })?;
            let raw = int(names::int_ty(&repr));
            match names::kind_of(cx, &name.name) {
                Some(Kind::Bits) => match on {
                    OnErr::Decode => quote! {
                        #t::from_raw(#raw).map_err(|(__i, __k)| #s::codec::Fail::Invalid(#s::codec::DecodeError::new(__i, #at, __k)))?
                    },
                    OnErr::Arbitrary => quote! {
                        #t::from_raw(#raw).map_err(|_| #s::__private::arbitrary::Error::IncorrectFormat)?
                    },
                },
                _ => quote!(#t(#raw)),
            }
        }
        _ => {
            return Err(cx.err(
                Default::default(),
                "a parameter must be an integer, enum, flags or bits type",
            ));
        }
    })
}

/// Converts an `i128` size expression to `usize` inside `read`.
fn to_usize(cx: &Cx<'_>, v: TokenStream) -> TokenStream {
    let s = &cx.support;
    quote!({
        let __v: i128 = #v;
        usize::try_from(__v).map_err(|_| __r.error(#s::codec::DecodeErrorKind::TooLarge { value: __v }))?
    })
}

fn size_tokens(
    cx: &Cx<'_>,
    scope: &Scope<'_>,
    e: &ferrocom_spec::model::Expr,
) -> Result<TokenStream> {
    Ok(to_usize(cx, expr::compile(cx, scope, e)?.int()))
}

/// Arguments for a named type's parameters, converted to the parameter types.
fn args_tokens(
    cx: &Cx<'_>,
    scope: &Scope<'_>,
    params: &[Param],
    args: &[ferrocom_spec::model::Expr],
    on: &OnErr,
) -> Result<Vec<TokenStream>> {
    params
        .iter()
        .zip(args)
        .map(|(p, a)| {
            let at = scope.arg_at.clone().unwrap_or(quote!(__r.pos()));
            conv(cx, &p.ty, expr::compile(cx, scope, a)?.int(), on, &at)
        })
        .collect()
}

/// Parameters of a record or union by name.
pub fn params_of<'s>(cx: &Cx<'s>, name: &str) -> &'s [Param] {
    match cx.item(name) {
        Some(Item::Record(r)) => &r.params,
        Some(Item::Union(u)) => &u.params,
        _ => &[],
    }
}

/// Expression reading a value of `ty` from reader `rd` (a `&mut Reader` expression).
pub fn read_ty(
    cx: &Cx<'_>,
    scope: &Scope<'_>,
    ty: &Type,
    rd: &TokenStream,
    info: &TokenStream,
) -> Result<TokenStream> {
    let s = &cx.support;
    Ok(match ty {
        Type::Int(t) => {
            let n = usize::from(t.bits / 8);
            let o = names::order(cx, t.order);
            let p = names::int_ty(t);
            if t.signed {
                quote!((#rd.int(#n, #o)? as #p))
            } else {
                quote!((#rd.uint(#n, #o)? as #p))
            }
        }
        Type::DynUint { width, .. } => {
            let w = expr::compile(cx, scope, width)?.int();
            let o = names::order(cx, None);
            let p = names::prim(names::dyn_uint_bits(width), false);
            quote!({
                let __w: i128 = #w;
                if !(1..=8).contains(&__w) {
                    return Err(#rd.error(#s::codec::DecodeErrorKind::InvalidWidth { width: __w }));
                }
                let __v = #rd.uint(__w as usize, #o)?;
                #p::try_from(__v).map_err(|_| #rd.error(#s::codec::DecodeErrorKind::TooLarge { value: __v as i128 }))?
            })
        }
        Type::MqttVarint => quote!(#rd.mqtt_varint()?),
        Type::Intser => quote!(#rd.intser()?),
        Type::Decimal(t) => {
            let p = names::int_ty(t);
            quote!({
                let __v: i128 = #rd.decimal()?;
                #p::try_from(__v).map_err(|_| #rd.error(#s::codec::DecodeErrorKind::TooLarge { value: __v }))?
            })
        }
        Type::Bytes(Size::Rest) => quote!(#rd.rest()),
        Type::Bytes(Size::Expr(e)) => {
            let n = size_tokens(cx, scope, e)?;
            quote!(#rd.bytes(#n)?)
        }
        Type::BytesPrefixed(p) => {
            let n = usize::from(p.bits / 8);
            let o = names::order(cx, p.order);
            quote!({
                let __n = #rd.uint(#n, #o)?;
                let __n = usize::try_from(__n).map_err(|_| #rd.error(#s::codec::DecodeErrorKind::TooLarge { value: __n as i128 }))?;
                #rd.bytes(__n)?
            })
        }
        Type::Str(size) => {
            let b = read_ty(cx, scope, &Type::Bytes(size.clone()), rd, info)?;
            quote!({ let __b = #b; #rd.utf8(__b)? })
        }
        Type::StrPrefixed { prefix, nul } => {
            let b = read_ty(cx, scope, &Type::BytesPrefixed(*prefix), rd, info)?;
            if *nul {
                quote!({
                    let __b = #b;
                    match __b.split_last() {
                        Some((0, __text)) => #rd.utf8(__text)?,
                        _ => return Err(#rd.error(#s::codec::DecodeErrorKind::MissingNul)),
                    }
                })
            } else {
                quote!({ let __b = #b; #rd.utf8(__b)? })
            }
        }
        Type::CStr => quote!({ let __b = #rd.cstr()?; #rd.utf8(__b)? }),
        Type::BytesUntil(b) => quote!(#rd.until(#b)?),
        Type::Named { name, args } => {
            let t = names::ident(&name.name);
            let repr = names::repr_of(cx, &name.name);
            match (names::kind_of(cx, &name.name), repr) {
                (Some(Kind::Enum | Kind::Flags), Some(rep)) => {
                    let n = usize::from(rep.bits.div_ceil(8));
                    let o = names::order(cx, rep.order);
                    let p = names::int_ty(&rep);
                    if rep.signed {
                        quote!(#t(#rd.int(#n, #o)? as #p))
                    } else {
                        quote!(#t(#rd.uint(#n, #o)? as #p))
                    }
                }
                (Some(Kind::Bits), Some(rep)) => {
                    let n = usize::from(rep.bits.div_ceil(8));
                    let o = names::order(cx, rep.order);
                    let p = names::int_ty(&rep);
                    quote!({
                        let __at = #rd.pos();
                        let __raw = #rd.uint(#n, #o)? as #p;
                        #t::from_raw(__raw).map_err(|(__i, __k)| #s::codec::Fail::Invalid(#s::codec::DecodeError::new(__i, __at, __k)))?
                    })
                }
                (Some(Kind::Record), _) => {
                    let params = params_of(cx, &name.name);
                    let args = args_tokens(cx, scope, params, args, &OnErr::Decode)?;
                    quote!(#t::read(#rd, #(#args),*)?)
                }
                (Some(Kind::Union), _) => {
                    let params = params_of(cx, &name.name);
                    let at = tag_offset(scope, args, rd);
                    let args = args_tokens(cx, scope, params, args, &OnErr::Decode)?;
                    quote!(#t::read(#rd, #at, #(#args),*)?)
                }
                _ => return Err(cx.err(name.span, format!("unknown type `{}`", name.name))),
            }
        }
        Type::Array { elem, count } => {
            let e = read_ty(cx, scope, elem, rd, info)?;
            let v = quote!(#s::__private::Vec);
            // Without `alloc` an array holds a bounded number of elements (`codec::push`).
            let push = quote! {
                #s::codec::push(&mut __v, __e)
                    .map_err(|__n| #rd.error(#s::codec::DecodeErrorKind::TooLarge { value: __n as i128 }))?;
            };
            match count {
                Size::Expr(c) => {
                    let n = size_tokens(cx, scope, c)?;
                    quote!({
                        let __n: usize = #n;
                        // Never reserve more than the input could hold.
                        let mut __v = #v::with_capacity(__n.min(#rd.remaining()));
                        for _ in 0..__n {
                            let __e = #e;
                            #push
                        }
                        __v
                    })
                }
                Size::Rest => quote!({
                    let mut __v = #v::new();
                    while #rd.remaining() > 0 {
                        let __before = #rd.pos();
                        let __e = #e;
                        #push
                        if #rd.pos() == __before {
                            break;
                        }
                    }
                    __v
                }),
            }
        }
        Type::Within { inner, size } => {
            // A union's tag is checked before waiting for the whole region, so a stream
            // with a bad tag fails at once instead of asking for more bytes.
            let early = match inner.as_ref() {
                Type::Named { name, args }
                    if names::kind_of(cx, &name.name) == Some(Kind::Union) =>
                {
                    let t = names::ident(&name.name);
                    let at = tag_offset(scope, args, rd);
                    let tag = match args.first() {
                        Some(a) => expr::compile(cx, scope, a)?.int(),
                        None => {
                            return Err(
                                cx.err(name.span, "a union needs its tag as the first argument")
                            );
                        }
                    };
                    quote!(#t::check_tag(#tag, #at)?;)
                }
                _ => quote!(),
            };
            let n = size_tokens(cx, scope, size)?;
            let inner = read_ty(cx, scope, inner, &quote!(__r), info)?;
            quote!({
                #early
                let __n: usize = #n;
                let mut __sub = #rd.region(__n)?;
                __sub.field(#info);
                let __v = {
                    let __r = &mut __sub;
                    #inner
                };
                __sub.finish()?;
                __v
            })
        }
    })
}

/// Statements writing `v` (a reference to a value of `ty`) to `__out`.
pub fn write_ty(
    cx: &Cx<'_>,
    scope: &Scope<'_>,
    ty: &Type,
    v: &TokenStream,
    info: &TokenStream,
) -> Result<TokenStream> {
    let s = &cx.support;
    let err = |kind: TokenStream| quote!(#s::codec::EncodeError::new(#info, #kind));
    Ok(match ty {
        Type::Int(t) => {
            let n = usize::from(t.bits / 8);
            let o = names::order(cx, t.order);
            let bits = u32::from(t.bits);
            let range = err(
                quote!(#s::codec::EncodeErrorKind::OutOfRange { value: __x as i128, bits: #bits }),
            );
            // A value whose Rust type is exactly the field's width always fits (u8, u16,
            // u32, u64 and their signed twins); only odd widths such as u24 are checked.
            let exact = matches!(t.bits, 8 | 16 | 32 | 64);
            let check = if exact {
                quote!()
            } else if t.signed {
                quote!(if !#s::codec::fits_int(__x as i128, #bits) { return Err(#range); })
            } else {
                quote!(if !#s::codec::fits_uint(__x as i128, #bits) { return Err(#range); })
            };
            if t.signed {
                quote! {{
                    let __x = *#v;
                    #check
                    #s::codec::put_int(__out, __x as i64, #n, #o);
                }}
            } else {
                quote! {{
                    let __x = *#v;
                    #check
                    #s::codec::put_uint(__out, __x as u64, #n, #o);
                }}
            }
        }
        Type::DynUint { width, .. } => {
            let w = expr::compile(cx, scope, width)?.int();
            let o = names::order(cx, None);
            let bad = err(quote!(#s::codec::EncodeErrorKind::InvalidWidth { width: __w }));
            let range = err(
                quote!(#s::codec::EncodeErrorKind::OutOfRange { value: __x as i128, bits: (__w as u32) * 8 }),
            );
            quote! {{
                let __w: i128 = #w;
                if !(1..=8).contains(&__w) { return Err(#bad); }
                let __x = *#v;
                if !#s::codec::fits_uint(__x as i128, (__w as u32) * 8) { return Err(#range); }
                #s::codec::put_uint(__out, __x as u64, __w as usize, #o);
            }}
        }
        Type::MqttVarint => {
            let e = err(quote!(__k));
            quote!(#s::codec::put_mqtt_varint(__out, *#v).map_err(|__k| #e)?;)
        }
        Type::Intser => quote!(#s::codec::put_intser(__out, *#v);),
        Type::Decimal(_) => quote!(#s::codec::put_decimal(__out, *#v as i128);),
        Type::Bytes(_) => quote!(__out.extend_from_slice(&#v[..]);),
        Type::Str(_) => quote!(__out.extend_from_slice(#v.as_bytes());),
        Type::BytesPrefixed(p) | Type::StrPrefixed { prefix: p, .. } => {
            let n = usize::from(p.bits / 8);
            let o = names::order(cx, p.order);
            let bits = u32::from(p.bits);
            let (bytes, extra) = match ty {
                Type::StrPrefixed { nul: true, .. } => (quote!(#v.as_bytes()), 1usize),
                Type::StrPrefixed { .. } => (quote!(#v.as_bytes()), 0),
                _ => (quote!(&#v[..]), 0),
            };
            let long = err(
                quote!(#s::codec::EncodeErrorKind::TooLong { len: __b.len(), max: ((1u128 << #bits) - 1 - #extra as u128) as u64 }),
            );
            let nul = if extra == 1 {
                quote!(__out.push(0);)
            } else {
                quote!()
            };
            quote! {{
                let __b: &[u8] = #bytes;
                let __len = __b.len() + #extra;
                if !#s::codec::fits_uint(__len as i128, #bits) { return Err(#long); }
                #s::codec::put_uint(__out, __len as u64, #n, #o);
                __out.extend_from_slice(__b);
                #nul
            }}
        }
        Type::BytesUntil(b) => {
            let e = err(quote!(#s::codec::EncodeErrorKind::ContainsSeparator { separator: #b }));
            quote! {{
                let __b: &[u8] = &#v[..];
                if __b.contains(&#b) { return Err(#e); }
                __out.extend_from_slice(__b);
                __out.push(#b);
            }}
        }
        Type::CStr => {
            let e = err(quote!(#s::codec::EncodeErrorKind::ContainsNul));
            quote! {{
                let __b: &[u8] = #v.as_bytes();
                if __b.contains(&0) { return Err(#e); }
                __out.extend_from_slice(__b);
                __out.push(0);
            }}
        }
        Type::Named { name, .. } => {
            let repr = names::repr_of(cx, &name.name);
            match (names::kind_of(cx, &name.name), repr) {
                (Some(Kind::Enum | Kind::Flags), Some(rep)) => {
                    let inner = write_ty(cx, scope, &Type::Int(rep), &quote!((&#v.0)), info)?;
                    quote!(#inner)
                }
                (Some(Kind::Bits), Some(rep)) => {
                    let inner = write_ty(cx, scope, &Type::Int(rep), &quote!((&__bits)), info)?;
                    quote!({ let __bits = #v.to_bits()?; #inner })
                }
                (Some(Kind::Record | Kind::Union), _) => quote!(#v.write(__out, __frame, __ck)?;),
                _ => return Err(cx.err(name.span, format!("unknown type `{}`", name.name))),
            }
        }
        Type::Array { elem, .. } => {
            let inner = write_ty(cx, scope, elem, &quote!(__e), info)?;
            quote!(for __e in #v.iter() { #inner })
        }
        Type::Within { inner, .. } => write_ty(cx, scope, inner, v, info)?,
    })
}

/// The value reported when a field's `where` fails: the number itself, or the length of a
/// byte run or text, or the element count of an array.
fn constraint_value(cx: &Cx<'_>, scope: &Scope<'_>, f: &Field) -> Result<TokenStream> {
    let fname = names::ident(&f.name.name);
    let ty = match &f.ty {
        Type::Within { inner, .. } => inner.as_ref(),
        t => t,
    };
    Ok(match ty {
        _ if names::is_scalar(cx, ty) => expr::compile(
            cx,
            scope,
            &ferrocom_spec::model::Expr {
                kind: ExprKind::Path(vec![f.name.clone()]),
                span: f.name.span,
            },
        )?
        .int(),
        Type::Bytes(_)
        | Type::BytesPrefixed(_)
        | Type::BytesUntil(_)
        | Type::Str(_)
        | Type::StrPrefixed { .. }
        | Type::CStr
        | Type::Array { .. } => {
            quote!((#fname.len() as i128))
        }
        _ => quote!(0i128),
    })
}

/// Where the tag of a union field starts: the offset of the field it names, else here.
fn tag_offset(
    scope: &Scope<'_>,
    args: &[ferrocom_spec::model::Expr],
    rd: &TokenStream,
) -> TokenStream {
    if let Some(ferrocom_spec::model::Expr {
        kind: ExprKind::Path(p),
        ..
    }) = args.first()
        && let [one] = p.as_slice()
        && scope.offsets.contains(&one.name)
    {
        let at = format_ident!("__at_{}", one.name);
        return quote!(#at);
    }
    quote!(#rd.pos())
}

/// Whether the size expression is exactly a derived field computed as `len(field)` or
/// `count(field)` of this very field (then a consistency check is redundant).
fn size_is_own_len(r: &RecordDef, size: &ferrocom_spec::model::Expr, field: &str) -> bool {
    let ExprKind::Path(p) = &size.kind else {
        return false;
    };
    let [name] = p.as_slice() else { return false };
    r.fields.iter().any(|f| {
        f.name.name == name.name
            && matches!(&f.derive, Some(d) if matches!(&d.kind,
                ExprKind::Call { func, args } if (func.name == "len" || func.name == "count")
                    && matches!(args.as_slice(), [a] if matches!(&a.kind, ExprKind::Path(q) if q.len() == 1 && q[0].name == field))))
    })
}

/// Expression producing an arbitrary value of `ty`. `known` tells whether a size
/// expression can be evaluated (it refers only to values generated so far).
pub fn arb_ty(
    cx: &Cx<'_>,
    scope: &Scope<'_>,
    ty: &Type,
    derived: &[String],
) -> Result<TokenStream> {
    let s = &cx.support;
    let bad = quote!(#s::__private::arbitrary::Error::IncorrectFormat);
    let uses_derived = |e: &ferrocom_spec::model::Expr| {
        let mut refs = Vec::new();
        names::expr_refs(e, &mut refs);
        refs.iter().any(|r| derived.contains(r))
    };
    Ok(match ty {
        Type::Int(t) => crate::items::arbitrary_int(t.bits, t.signed),
        Type::DynUint { width, .. } => {
            let w = expr::compile(cx, scope, width)?.int();
            let p = names::prim(names::dyn_uint_bits(width), false);
            quote!({
                let __w: i128 = #w;
                if !(1..=8).contains(&__w) { return Err(#bad); }
                let __max: u64 = if __w >= 8 { u64::MAX } else { (1u64 << (__w * 8)) - 1 };
                let __v: u64 = u.int_in_range(0..=__max)?;
                #p::try_from(__v).map_err(|_| #bad)?
            })
        }
        Type::MqttVarint => quote!(u.int_in_range(0..=268_435_455u32)?),
        Type::Intser => quote!(u.arbitrary::<i64>()?),
        Type::Decimal(t) => crate::items::arbitrary_int(t.bits, t.signed),
        Type::Bytes(Size::Expr(e)) | Type::Str(Size::Expr(e)) if !uses_derived(e) => {
            let n = expr::compile(cx, scope, e)?.int();
            let b = quote!({
                let __n = usize::try_from(#n).map_err(|_| #bad)?;
                u.bytes(__n)?
            });
            if matches!(ty, Type::Str(_)) {
                quote!(::core::str::from_utf8(#b).map_err(|_| #bad)?)
            } else {
                b
            }
        }
        Type::Bytes(_) | Type::BytesPrefixed(_) | Type::BytesUntil(_) => {
            quote!(<&'a [u8] as #s::__private::arbitrary::Arbitrary<'a>>::arbitrary(u)?)
        }
        Type::Str(_) | Type::StrPrefixed { .. } | Type::CStr => {
            quote!(<&'a str as #s::__private::arbitrary::Arbitrary<'a>>::arbitrary(u)?)
        }
        Type::Named { name, args } => {
            let t = names::ident(&name.name);
            match names::kind_of(cx, &name.name) {
                Some(Kind::Enum | Kind::Flags | Kind::Bits) => {
                    quote!(<#t as #s::__private::arbitrary::Arbitrary<'a>>::arbitrary(u)?)
                }
                Some(Kind::Record) => {
                    let params = params_of(cx, &name.name);
                    let a = args_tokens(cx, scope, params, args, &OnErr::Arbitrary)?;
                    quote!(#t::arbitrary_with(u, #(#a),*)?)
                }
                Some(Kind::Union) => {
                    // The tag comes from the variant; only the other arguments are passed.
                    let params = params_of(cx, &name.name);
                    let a = args_tokens(
                        cx,
                        scope,
                        params.get(1..).unwrap_or(&[]),
                        args.get(1..).unwrap_or(&[]),
                        &OnErr::Arbitrary,
                    )?;
                    quote!(#t::arbitrary_with(u, #(#a),*)?)
                }
                None => return Err(cx.err(name.span, format!("unknown type `{}`", name.name))),
            }
        }
        Type::Array { elem, count } => {
            let e = arb_ty(cx, scope, elem, derived)?;
            let v = quote!(#s::__private::Vec);
            match count {
                Size::Expr(c) if !uses_derived(c) => {
                    let n = expr::compile(cx, scope, c)?.int();
                    quote!({
                        let __n = usize::try_from(#n).map_err(|_| #bad)?;
                        if __n > 4096 { return Err(#bad); }
                        let mut __v = #v::with_capacity(__n);
                        for _ in 0..__n { __v.push(#e); }
                        __v
                    })
                }
                _ => quote!({
                    let mut __v = #v::new();
                    u.arbitrary_loop(Some(0), Some(8), |u| {
                        __v.push(#e);
                        Ok(::core::ops::ControlFlow::Continue(()))
                    })?;
                    __v
                }),
            }
        }
        Type::Within { inner, .. } => arb_ty(cx, scope, inner, derived)?,
    })
}

/// A stored field's Rust type (with `Option` for conditional fields).
fn field_ty(cx: &Cx<'_>, f: &Field) -> Result<TokenStream> {
    let t = names::rust_ty(cx, &f.ty, f.transform.is_some())?;
    Ok(if f.condition.is_some() {
        quote!(::core::option::Option<#t>)
    } else {
        t
    })
}

fn is_checksum(f: &Field) -> bool {
    matches!(&f.derive, Some(d) if matches!(&d.kind, ExprKind::Call { func, .. } if func.name == "crc16_modbus"))
}

pub fn gen_record(cx: &Cx<'_>, r: &RecordDef) -> Result<TokenStream> {
    let s = &cx.support;
    let name = names::ident(&r.name.name);
    let name_str = &r.name.name;
    let docs = cx.docs(&r.meta);
    let lt = names::needs_lifetime(cx, name_str);
    let (gen_decl, gen_use) = if lt {
        (quote!(<'a>), quote!(<'a>))
    } else {
        (quote!(), quote!())
    };
    // `'a` is needed in signatures even when the struct does not borrow.
    let impl_gen = quote!(<'a>);

    // ---- struct and field infos -------------------------------------------------------
    let mut members = Vec::new();
    let mut infos = vec![names::field_info(cx, name_str, "", &r.meta)];
    for p in &r.params {
        let pname = names::ident(&p.name.name);
        let pty = names::rust_ty(cx, &p.ty, false)?;
        let doc = format!(
            "Parameter `{}`, supplied by the enclosing frame.",
            p.name.name
        );
        members.push(quote!(#[doc = #doc] pub #pname: #pty,));
    }
    for f in &r.fields {
        infos.push(names::field_info(cx, name_str, &f.name.name, &f.meta));
        if f.derive.is_some() {
            continue;
        }
        if f.transform.is_some() && !matches!(f.ty, Type::Bytes(_) | Type::BytesPrefixed(_)) {
            return Err(cx.err(f.name.span, "`transform` applies to a `bytes` field only"));
        }
        let fdocs = cx.docs(&f.meta);
        let fname = names::ident(&f.name.name);
        let fty = field_ty(cx, f)?;
        members.push(quote!(#fdocs pub #fname: #fty,));
    }
    let stored: Vec<syn::Ident> = r
        .params
        .iter()
        .map(|p| names::ident(&p.name.name))
        .chain(
            r.fields
                .iter()
                .filter(|f| f.derive.is_none())
                .map(|f| names::ident(&f.name.name)),
        )
        .collect();
    let param_decls = names::param_decls(cx, &r.params)?;
    let param_names: Vec<syn::Ident> = r
        .params
        .iter()
        .map(|p| names::ident(&p.name.name))
        .collect();

    // A separated (text) record: each field is a part, ended by the separator.
    let sep = r.separator.map(|x| x.byte);
    let has_more = r
        .fields
        .iter()
        .any(|f| f.condition.as_ref().is_some_and(is_more_call));

    // ---- read ----------------------------------------------------------------------------
    let mut scope = Scope::with_params(&r.params, false);
    let mut read = Vec::new();
    for f in &r.fields {
        let fname = names::ident(&f.name.name);
        let info_c = names::info_const(&f.name.name);
        let info = quote!(&Self::#info_c);
        let at = format_ident!("__at_{}", f.name.name);
        read.push(quote!(let #at = __r.pos(); __r.field(#info);));
        let value = if is_checksum(f) {
            let Type::Int(t) = &f.ty else {
                return Err(cx.err(f.name.span, "a checksum field must be an integer"));
            };
            let n = usize::from(t.bits / 8);
            let o = names::order(cx, t.order);
            quote!({
                let __at = __r.pos();
                let __v = __r.uint(#n, #o)?;
                __r.set_checksum(#s::codec::PendingChecksum { info: #info, offset: __at, width: #n, stored: __v });
                __v
            })
        } else {
            let raw = match (sep, &f.ty) {
                (None, _) => read_ty(cx, &scope, &f.ty, &quote!(__r), &info)?,
                // Records and unions continue the sequence of parts.
                (Some(_), t) if names::is_spread(cx, t) => {
                    read_ty(cx, &scope, t, &quote!(__r), &info)?
                }
                // A `..` array: one element per remaining part.
                (
                    Some(b),
                    Type::Array {
                        elem,
                        count: Size::Rest,
                    },
                ) => {
                    let e = read_ty(cx, &scope, elem, &quote!(__r), &info)?;
                    let v = quote!(#s::__private::Vec);
                    quote!({
                        let mut __v = #v::new();
                        while __r.more_parts() {
                            let mut __p = __r.part(#b)?;
                            __p.field(#info);
                            let __e = { let __r = &mut __p; #e };
                            __p.finish()?;
                            #s::codec::push(&mut __v, __e)
                                .map_err(|__n| __r.error(#s::codec::DecodeErrorKind::TooLarge { value: __n as i128 }))?;
                        }
                        __v
                    })
                }
                // Anything else fills one part exactly.
                (Some(b), t) => {
                    let inner = read_ty(cx, &scope, t, &quote!(__r), &info)?;
                    quote!({
                        let mut __p = __r.part(#b)?;
                        __p.field(#info);
                        let __v = { let __r = &mut __p; #inner };
                        __p.finish()?;
                        __v
                    })
                }
            };
            if let Some(t) = &f.transform {
                let Some(Item::Extern(ext)) = cx.item(&t.name.name) else {
                    return Err(cx.err(t.name.span, format!("unknown transform `{}`", t.name.name)));
                };
                let path: syn::Path = syn::parse_str(&ext.rust_path).map_err(|e| {
                    cx.err(
                        ext.name.span,
                        format!("bad Rust path `{}`: {e}", ext.rust_path),
                    )
                })?;
                let _tname = &t.name.name;
                let cond = match &t.condition {
                    Some(c) => expr::compile(cx, &scope, c)?.bool(),
                    None => quote!(true),
                };
                quote!({
                    let __raw: &'a [u8] = #raw;
                    if #cond {
                        let __v = if __r.keeps_transforms() {
                            #s::codec::check::<#path>(__raw).map(|()| #s::__private::Cow::Borrowed(__raw))
                        } else {
                            #s::codec::expand::<#path>(__raw)
                        };
                        __v.map_err(|__m| __r.error(#s::codec::DecodeErrorKind::Transform { name: <#path as #s::codec::Transform>::NAME, message: __m }))?
                    } else {
                        #s::__private::Cow::Borrowed(__raw)
                    }
                })
            } else {
                raw
            }
        };
        let value = match &f.condition {
            Some(c) => {
                let c = expr::compile(cx, &scope, c)?.bool();
                quote!(if #c { Some(#value) } else { None })
            }
            None => value,
        };
        read.push(quote!(let #fname = #value;));
        scope.offsets.push(f.name.name.clone());
        // Locals keep their native type while decoding.
        scope.push(Local {
            name: f.name.name.clone(),
            tokens: quote!(#fname),
            ty: Some(&f.ty),
            optional: f.condition.is_some(),
            wire: None,
        });
        if let Some(d) = &f.derive
            && !is_checksum(f)
            && !matches!(&d.kind, ExprKind::Call { .. })
            && !expr_has_call(d)
        {
            // A constant: check it.
            let expected = expr::compile(cx, &scope, d)?.int();
            let found = expr::compile(
                cx,
                &scope,
                &ferrocom_spec::model::Expr {
                    kind: ExprKind::Path(vec![f.name.clone()]),
                    span: f.name.span,
                },
            )?
            .int();
            read.push(quote! {
                    if #found != #expected {
                        return Err(__r.error(#s::codec::DecodeErrorKind::Constant { expected: #expected, found: #found }));
                    }
                });
        }
        if let Some(w) = &f.constraint {
            // Optional fields are checked inside `if let Some(..)`, where they are plain.
            let inner = scope.unwrapped(&f.name.name);
            let scope = &inner;
            let cond = expr::compile(cx, scope, w)?.bool();
            let text = names::expr_text(w);
            let value = constraint_value(cx, scope, f)?;
            let check = quote! {
                if !#cond {
                    return Err(__r.error(#s::codec::DecodeErrorKind::Constraint { condition: #text, value: #value }));
                }
            };
            read.push(if f.condition.is_some() {
                quote!(if let Some(#fname) = &#fname { #check })
            } else {
                check
            });
        }
    }

    // ---- write and encoded_len -------------------------------------------------------------
    let (prologue_w, scope_w) = encode_prologue(cx, r, true)?;
    let mut write = Vec::new();
    for f in &r.fields {
        let fname = names::ident(&f.name.name);
        let info_c = names::info_const(&f.name.name);
        let info = quote!(&Self::#info_c);
        if is_checksum(f) {
            let Type::Int(t) = &f.ty else {
                return Err(cx.err(f.name.span, "a checksum field must be an integer"));
            };
            let n = usize::from(t.bits / 8);
            let o = names::order(cx, t.order);
            write.push(quote! {
                *__ck = Some((__out.len(), #n, #o));
                #s::codec::put_uint(__out, 0, #n, #o);
            });
            continue;
        }
        if f.derive.is_some() {
            // The derived value was computed in the prologue as an `i128`.
            let v = format_ident!("{}", fname.to_string().trim_start_matches("r#"));
            let value_ty = match &f.ty {
                Type::Named { name, .. } => match names::repr_of(cx, &name.name) {
                    Some(rep) => Type::Int(rep),
                    None => return Err(cx.err(f.name.span, "a derived field must be a number")),
                },
                t => t.clone(),
            };
            let p = match &value_ty {
                Type::Int(t) => names::int_ty(t),
                Type::MqttVarint => quote!(u32),
                Type::Intser => quote!(i64),
                Type::DynUint { width, .. } => names::prim(names::dyn_uint_bits(width), false),
                _ => return Err(cx.err(f.name.span, "a derived field must be a number")),
            };
            let bits = match &value_ty {
                Type::Int(t) => u32::from(t.bits),
                _ => 64,
            };
            let inner = write_ty(cx, &scope_w, &value_ty, &quote!((&__d)), &info)?;
            let inner = end_part(cx, sep, &info, inner);
            write.push(quote! {{
                let __d: #p = #p::try_from(#v).map_err(|_| #s::codec::EncodeError::new(#info, #s::codec::EncodeErrorKind::OutOfRange { value: #v, bits: #bits }))?;
                #inner
            }});
            continue;
        }
        let mut checks = Vec::new();
        let inner_scope = scope_w.unwrapped(&f.name.name);
        let scope_w = &scope_w;
        if let Some(c) = &f.condition
            && is_more_call(c)
        {
            // Optional trailing parts: once one is absent, the rest must be too (a later
            // part would be read back as this one).
            let text = format!(
                "`{}` is present although an earlier optional part (`if more()`) is absent",
                f.name.name
            );
            write.push(quote! {
                if #fname.is_some() && !__more {
                    return Err(#s::codec::EncodeError::new(#info, #s::codec::EncodeErrorKind::Inconsistent { message: #text }));
                }
                __more = #fname.is_some();
            });
        } else if let Some(c) = &f.condition {
            let cond = expr::compile(cx, scope_w, c)?.bool();
            let text = format!(
                "`{}` must be present exactly when `{}` holds",
                f.name.name,
                names::expr_text(c)
            );
            write.push(quote! {
                if #cond != #fname.is_some() {
                    return Err(#s::codec::EncodeError::new(#info, #s::codec::EncodeErrorKind::Inconsistent { message: #text }));
                }
            });
        }
        if let Some(size) = names::size_expr(&f.ty)
            && !size_is_own_len(r, size, &f.name.name)
        {
            let n = expr::compile(cx, &inner_scope, size)?.int();
            let text = format!(
                "length of `{}` must equal `{}`",
                f.name.name,
                names::expr_text(size)
            );
            // A transformed field's size counts its wire bytes.
            let actual = if f.transform.is_some() {
                let w = format_ident!("__{}_wire", fname.to_string().trim_start_matches("r#"));
                if f.condition.is_some() {
                    quote!(#w.as_ref().map_or(0usize, |__w| __w.len()))
                } else {
                    quote!(#w.len())
                }
            } else {
                quote!(#fname.len())
            };
            checks.push(quote! {
                    if (#actual as i128) != #n {
                        return Err(#s::codec::EncodeError::new(#info, #s::codec::EncodeErrorKind::Inconsistent { message: #text }));
                    }
                });
        }
        if let Type::Within { inner, size } = &f.ty
            && !size_is_own_len(r, size, &f.name.name)
        {
            let n = expr::compile(cx, &inner_scope, size)?.int();
            let len = expr::encoded_len_of(cx, inner, &quote!(#fname))?;
            let text = format!(
                "encoded length of `{}` must equal `{}`",
                f.name.name,
                names::expr_text(size)
            );
            checks.push(quote! {
                    if (#len as i128) != #n {
                        return Err(#s::codec::EncodeError::new(#info, #s::codec::EncodeErrorKind::Inconsistent { message: #text }));
                    }
                });
        }
        if let Some(w) = &f.constraint {
            let cond = expr::compile(cx, &inner_scope, w)?.bool();
            let text = names::expr_text(w);
            let value = constraint_value(cx, &inner_scope, f)?;
            checks.push(quote! {
                if !#cond {
                    return Err(#s::codec::EncodeError::new(#info, #s::codec::EncodeErrorKind::Constraint { condition: #text, value: #value }));
                }
            });
        }
        let body = if f.transform.is_some() {
            let w = format_ident!("__{}_wire", fname.to_string().trim_start_matches("r#"));
            let write = if f.condition.is_some() {
                quote!(if let Some(__w) = &#w { __w.write(__out); })
            } else {
                quote!(#w.write(__out);)
            };
            end_part(cx, sep, &info, write)
        } else {
            match (sep, &f.ty) {
                (Some(_), t) if names::is_spread(cx, t) => {
                    write_ty(cx, &inner_scope, t, &quote!(#fname), &info)?
                }
                (
                    Some(_),
                    Type::Array {
                        elem,
                        count: Size::Rest,
                    },
                ) => {
                    let e = write_ty(cx, &inner_scope, elem, &quote!(__e), &info)?;
                    let e = end_part(cx, sep, &info, e);
                    quote!(for __e in #fname.iter() { #e })
                }
                _ => end_part(
                    cx,
                    sep,
                    &info,
                    write_ty(cx, &inner_scope, &f.ty, &quote!(#fname), &info)?,
                ),
            }
        };
        if f.condition.is_some() {
            write.push(quote!(if let Some(#fname) = #fname { #(#checks)* #body }));
        } else {
            write.push(quote!(#(#checks)* #body));
        }
    }

    let (prologue_l, scope_l) = encode_prologue(cx, r, false)?;
    let mut lens = Vec::new();
    for f in &r.fields {
        let fname = names::ident(&f.name.name);
        // In a separated record, the separator that ends each single part.
        let part_sep = if sep.is_some() && !names::is_spread(cx, &f.ty) {
            quote!(+ 1usize)
        } else {
            quote!()
        };
        let with_sep = |t: TokenStream| {
            if part_sep.is_empty() {
                t
            } else {
                quote!((#t #part_sep))
            }
        };
        let len = if f.derive.is_some() {
            let plain = format_ident!("{}", fname.to_string().trim_start_matches("r#"));
            let d = match &f.ty {
                Type::MqttVarint => {
                    quote!(#s::codec::mqtt_varint_len(u32::try_from(#plain).unwrap_or(0)))
                }
                Type::Intser => quote!(#s::codec::intser_len(i64::try_from(#plain).unwrap_or(0))),
                Type::DynUint { width, .. } => {
                    let w = expr::compile(cx, &scope_l, width)?.int();
                    quote!(usize::try_from(#w).unwrap_or(0))
                }
                t => expr::encoded_len_of(cx, t, &quote!(#plain))?,
            };
            with_sep(d)
        } else if f.transform.is_some() {
            let w = format_ident!("__{}_wire", fname.to_string().trim_start_matches("r#"));
            if f.condition.is_some() {
                quote!(#w.as_ref().map_or(0usize, |__w| __w.len() #part_sep))
            } else {
                with_sep(quote!(#w.len()))
            }
        } else if let (
            Some(_),
            Type::Array {
                elem,
                count: Size::Rest,
            },
        ) = (sep, &f.ty)
        {
            let one = expr::encoded_len_of(cx, elem, &quote!(__e))?;
            quote!(#fname.iter().map(|__e| #one + 1).sum::<usize>())
        } else {
            let one = match &f.ty {
                Type::DynUint { width, .. } => {
                    let w = expr::compile(cx, &scope_l, width)?.int();
                    quote!(usize::try_from(#w).unwrap_or(0))
                }
                Type::MqttVarint => quote!(#s::codec::mqtt_varint_len(*#fname)),
                Type::Intser => quote!(#s::codec::intser_len(*#fname)),
                t => expr::encoded_len_of(cx, t, &quote!(#fname))?,
            };
            if f.condition.is_some() {
                quote!(#fname.as_ref().map_or(0usize, |#fname| #one #part_sep))
            } else {
                with_sep(one)
            }
        };
        lens.push(quote!(__n += #len;));
    }

    // ---- arbitrary ------------------------------------------------------------------------------
    let mut arb = Vec::new();
    let mut ascope = Scope::with_params(&r.params, false);
    let mut derived_names = Vec::new();
    for f in &r.fields {
        let fname = names::ident(&f.name.name);
        if f.derive.is_some() {
            // Not generated: computed when encoding. Conditions that read it see 0 and the
            // final encode check rejects an inconsistent result.
            derived_names.push(f.name.name.clone());
            ascope.push(Local {
                name: f.name.name.clone(),
                tokens: quote!(0i128),
                ty: None,
                optional: false,
                wire: None,
            });
            continue;
        }
        let mut value = arb_field(cx, &ascope, f, &derived_names)?;
        if f.transform.is_some() {
            value = quote!(#s::__private::Cow::Borrowed(#value));
        }
        let value = match &f.condition {
            // Optional trailing parts: present while the chain of present ones holds.
            Some(c) if is_more_call(c) => quote!({
                __more = __more && u.arbitrary::<bool>()?;
                if __more { Some(#value) } else { None }
            }),
            Some(c) => {
                let c = expr::compile(cx, &ascope, c)?.bool();
                quote!(if #c { Some(#value) } else { None })
            }
            None => value,
        };
        arb.push(quote!(let #fname = #value;));
        ascope.push(Local {
            name: f.name.name.clone(),
            tokens: quote!(#fname),
            ty: Some(&f.ty),
            optional: f.condition.is_some(),
            wire: None,
        });
    }
    let param_arbs: Vec<TokenStream> = r
        .params
        .iter()
        .map(|p| {
            let n = names::ident(&p.name.name);
            let v = arb_ty(cx, &Scope::new(false), &p.ty, &[])?;
            Ok(quote!(let #n = #v;))
        })
        .collect::<Result<_>>()?;

    let has_params = !r.params.is_empty();
    let decode_doc = if has_params {
        "Decodes from the start of `buf`, with the parameters the enclosing frame would supply."
    } else {
        "Decodes one message from the start of `buf` (streaming: `Incomplete` asks for more bytes)."
    };
    let allow = crate::allow_lints();
    // A separated record built for an enclosing one needs only a valid `write` (its
    // parts); built on its own (`Arbitrary`), it must also encode as a whole message.
    let arb_check = if sep.is_some() {
        quote!(__v.write(&mut __scratch, 0, &mut None))
    } else {
        quote!(__v.encode(&mut __scratch))
    };
    let whole = |build: TokenStream| {
        if sep.is_some() {
            quote! {
                let __v = #build?;
                if __v.encode(&mut #s::__private::Vec::new()).is_err() {
                    return Err(#s::__private::arbitrary::Error::IncorrectFormat);
                }
                Ok(__v)
            }
        } else {
            build
        }
    };
    let whole_with_params = whole(quote!(Self::arbitrary_with(u, #(#param_names),*)));
    let whole_plain = whole(quote!(Self::arbitrary_with(u)));
    let arbitrary_impl = if has_params {
        quote! {
            #[cfg(feature = "arbitrary")]
            #allow
            impl<'a> #s::__private::arbitrary::Arbitrary<'a> for #name #gen_use {
                fn arbitrary(u: &mut #s::__private::arbitrary::Unstructured<'a>) -> #s::__private::arbitrary::Result<Self> {
                    #(#param_arbs)*
                    #whole_with_params
                }
            }
        }
    } else {
        quote! {
            #[cfg(feature = "arbitrary")]
            #allow
            impl<'a> #s::__private::arbitrary::Arbitrary<'a> for #name #gen_use {
                fn arbitrary(u: &mut #s::__private::arbitrary::Unstructured<'a>) -> #s::__private::arbitrary::Result<Self> {
                    #whole_plain
                }
            }
        }
    };

    let more_init = if has_more {
        quote!(let mut __more = true;)
    } else {
        quote!()
    };
    let has_transform = r.fields.iter().any(|f| f.transform.is_some())
        || r.fields.iter().any(|f| contains_transform(cx, &f.ty, 0));
    let decode_wire = if r.is_frame && has_transform {
        quote! {
            /// [`decode`](Self::decode), but fields with a transform are only checked and
            /// keep their wire bytes (the caller applies the transform where the bytes
            /// go); needs no heap.
            #[inline]
            pub fn decode_wire(buf: &'a [u8] #(, #param_decls)*) -> ::core::result::Result<#s::codec::Decoded<Self>, #s::codec::DecodeError> {
                let mut __r = #s::codec::Reader::new(buf).keeping_transforms();
                match Self::read_checked(&mut __r #(, #param_names)*) {
                    Ok(v) => Ok(#s::codec::Decoded::Complete(v, __r.pos())),
                    Err(#s::codec::Fail::Incomplete(n)) => Ok(#s::codec::Decoded::Incomplete(n)),
                    Err(#s::codec::Fail::Invalid(e)) => Err(e),
                }
            }
        }
    } else {
        quote!()
    };

    // The same for both layouts; `read_checked` differs (checksums vs parts).
    let decode_exact = quote! {
        #[inline]
        pub fn decode_exact(buf: &'a [u8] #(, #param_decls)*) -> ::core::result::Result<Self, #s::codec::DecodeError> {
            let mut __r = #s::codec::Reader::exact(buf);
            let __v = Self::read_checked(&mut __r #(, #param_names)*).and_then(|v| __r.finish().map(|()| v));
            match __v {
                Ok(v) => Ok(v),
                Err(#s::codec::Fail::Invalid(e)) => Err(e),
                Err(#s::codec::Fail::Incomplete(needed)) => Err(#s::codec::DecodeError::new(
                    &Self::F_, buf.len(), #s::codec::DecodeErrorKind::Truncated { needed })),
            }
        }
    };
    let (entry, encode_fn, len_fns) = match sep {
        None => (
            quote! {
            #[doc = #decode_doc]
            ///
            /// Returns the message and the number of bytes it took, or how many more bytes
            /// are needed at least, or an error naming the field, byte offset and clause.
            #[inline]
            pub fn decode(buf: &'a [u8] #(, #param_decls)*) -> ::core::result::Result<#s::codec::Decoded<Self>, #s::codec::DecodeError> {
                let mut __r = #s::codec::Reader::new(buf);
                match Self::read_checked(&mut __r #(, #param_names)*) {
                    Ok(v) => Ok(#s::codec::Decoded::Complete(v, __r.pos())),
                    Err(#s::codec::Fail::Incomplete(n)) => Ok(#s::codec::Decoded::Incomplete(n)),
                    Err(#s::codec::Fail::Invalid(e)) => Err(e),
                }
            }

            #decode_wire

            /// Decodes exactly `buf`: missing bytes and bytes left over are errors.
            #decode_exact

            /// Reads the message and verifies a checksum it carries.
            #[inline]
            fn read_checked(__r: &mut #s::codec::Reader<'a> #(, #param_decls)*) -> ::core::result::Result<Self, #s::codec::Fail> {
                let __start = __r.pos();
                let __v = Self::read(__r #(, #param_names)*)?;
                if let Some(__c) = __r.take_checksum() {
                    let __frame = __r.slice(__start, __r.pos());
                    let __computed = u64::from(#s::codec::crc16_modbus_zeroed(__frame, __c.offset.saturating_sub(__start), __c.width));
                    if __computed != __c.stored {
                        return Err(#s::codec::Fail::Invalid(#s::codec::DecodeError::new(
                            __c.info, __c.offset, #s::codec::DecodeErrorKind::Checksum { expected: __computed, found: __c.stored })));
                    }
                }
                Ok(__v)
            }
            },
            quote! {
            /// Appends the encoded message to `out` and returns its length. On error
            /// nothing is appended.
            #[inline]
            pub fn encode<__W: #s::codec::Sink + ?Sized>(&self, out: &mut __W) -> ::core::result::Result<usize, #s::codec::EncodeError> {
                let __start = out.len();
                let mut __ck = None;
                if let Err(e) = self.write(out, __start, &mut __ck) {
                    out.truncate(__start);
                    return Err(e);
                }
                if let Some((__at, _, __order)) = __ck {
                    #s::codec::patch_crc16(out.written_mut(), __start, __at, __order);
                }
                Ok(out.len() - __start)
            }
            },
            quote! {
            /// The number of bytes `encode` writes (for a valid message).
            #[inline]
            pub fn encoded_len(&self) -> usize {
                #prologue_l
                let mut __n = 0usize;
                #(#lens)*
                __n
            }
            },
        ),
        Some(b) => (
            quote! {
                /// Decodes `buf`, which must hold exactly one message: the parts of a
                /// separated record run to the end of their region, so the region is
                /// delimited by whatever carries it (a frame's byte run, say).
                #[inline]
                pub fn decode(buf: &'a [u8] #(, #param_decls)*) -> ::core::result::Result<#s::codec::Decoded<Self>, #s::codec::DecodeError> {
                    Self::decode_exact(buf #(, #param_names)*).map(|v| #s::codec::Decoded::Complete(v, buf.len()))
                }

                /// Decodes exactly `buf`: a missing part and parts left over are errors.
                #decode_exact

                /// Reads the parts from the reader's position to its end.
                #[inline]
                fn read_checked(__r: &mut #s::codec::Reader<'a> #(, #param_decls)*) -> ::core::result::Result<Self, #s::codec::Fail> {
                    __r.begin_parts();
                    let __v = Self::read(__r #(, #param_names)*)?;
                    __r.end_parts(#b)?;
                    Ok(__v)
                }
            },
            quote! {
                /// Appends the encoded message to `out` and returns its length. On error
                /// nothing is appended.
                #[inline]
                pub fn encode<__W: #s::codec::Sink + ?Sized>(&self, out: &mut __W) -> ::core::result::Result<usize, #s::codec::EncodeError> {
                    let __start = out.len();
                    let mut __ck = None;
                    if let Err(e) = self.write(out, __start, &mut __ck) {
                        out.truncate(__start);
                        return Err(e);
                    }
                    // An empty region reads back as one empty part, so a message of no
                    // parts (every optional part absent) has no encoding of its own.
                    if out.len() == __start {
                        return Err(#s::codec::EncodeError::new(&Self::F_, #s::codec::EncodeErrorKind::Inconsistent {
                            message: "a separated record needs at least one part (an empty message reads back as one empty part)",
                        }));
                    }
                    // Every part was written with the separator that ends it; the last
                    // one ends the message instead.
                    out.truncate(out.len() - 1);
                    Ok(out.len() - __start)
                }
            },
            quote! {
                /// The number of bytes `encode` writes (for a valid message).
                #[inline]
                pub fn encoded_len(&self) -> usize {
                    self.parts_len().saturating_sub(1)
                }

                /// The number of bytes `write` writes: every part with its separator
                /// (used by enclosing separated records).
                #[inline]
                pub fn parts_len(&self) -> usize {
                    #prologue_l
                    let mut __n = 0usize;
                    #(#lens)*
                    __n
                }
            },
        ),
    };

    let allow = crate::allow_lints();
    Ok(quote! {
        #docs
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct #name #gen_decl {
            #(#members)*
        }

        #allow
        impl #impl_gen #name #gen_use {
            #(#infos)*

            #entry

            /// Reads the message from a reader positioned at its first byte (used by
            /// enclosing frames; checksums are verified by the outermost `decode`).
            #[inline]
            pub fn read(__r: &mut #s::codec::Reader<'a> #(, #param_decls)*) -> ::core::result::Result<Self, #s::codec::Fail> {
                #(#read)*
                Ok(Self { #(#stored),* })
            }

            #encode_fn

            /// Writes the message inside an enclosing frame that starts at `__frame`;
            /// a checksum field records its position in `__ck` for the frame to patch.
            #[inline]
            pub fn write<__W: #s::codec::Sink + ?Sized>(&self, __out: &mut __W, __frame: usize, __ck: &mut Option<(usize, usize, #s::codec::ByteOrder)>) -> ::core::result::Result<(), #s::codec::EncodeError> {
                #prologue_w
                #more_init
                #(#write)*
                Ok(())
            }

            #len_fns

            /// Builds an arbitrary, encodable message from fuzzer or proptest bytes.
            #[cfg(feature = "arbitrary")]
            pub fn arbitrary_with(u: &mut #s::__private::arbitrary::Unstructured<'a> #(, #param_decls)*) -> #s::__private::arbitrary::Result<Self> {
                #more_init
                #(#arb)*
                let __v = Self { #(#stored),* };
                let mut __scratch = #s::__private::Vec::new();
                if #arb_check.is_err() {
                    return Err(#s::__private::arbitrary::Error::IncorrectFormat);
                }
                Ok(__v)
            }
        }

        #arbitrary_impl
    })
}

/// `more()`: the whole condition of an optional trailing part.
fn is_more_call(e: &ferrocom_spec::model::Expr) -> bool {
    matches!(&e.kind, ExprKind::Call { func, args } if func.name == "more" && args.is_empty())
}

/// In a separated record, wraps the statements writing one part so that the separator
/// follows it (and the part is checked not to contain it).
fn end_part(cx: &Cx<'_>, sep: Option<u8>, info: &TokenStream, body: TokenStream) -> TokenStream {
    let s = &cx.support;
    match sep {
        None => body,
        Some(b) => quote!({
            let __ps = __out.len();
            #body
            #s::codec::end_part(__out, __ps, #b).map_err(|__k| #s::codec::EncodeError::new(#info, __k))?;
        }),
    }
}

/// `true` if a value of type `ty` contains a field with a transform (through records and
/// union arms, to a small depth: specs nest a few levels).
fn contains_transform(cx: &Cx<'_>, ty: &Type, depth: usize) -> bool {
    if depth > 8 {
        return false;
    }
    match ty {
        Type::Named { name, .. } => match cx.item(&name.name) {
            Some(Item::Record(r)) => r
                .fields
                .iter()
                .any(|f| f.transform.is_some() || contains_transform(cx, &f.ty, depth + 1)),
            Some(Item::Union(u)) => u.arms.iter().any(|a| match &a.body {
                ferrocom_spec::model::ArmBody::Variant {
                    payload: Some(t), ..
                } => contains_transform(cx, t, depth + 1),
                _ => false,
            }),
            _ => false,
        },
        Type::Array { elem, .. } => contains_transform(cx, elem, depth + 1),
        Type::Within { inner, .. } => contains_transform(cx, inner, depth + 1),
        _ => false,
    }
}

fn expr_has_call(e: &ferrocom_spec::model::Expr) -> bool {
    match &e.kind {
        ExprKind::Call { .. } => true,
        ExprKind::Unary(_, a) => expr_has_call(a),
        ExprKind::Binary(_, a, b) => expr_has_call(a) || expr_has_call(b),
        ExprKind::Ternary(a, b, c) => expr_has_call(a) || expr_has_call(b) || expr_has_call(c),
        _ => false,
    }
}

/// Binds stored fields as references, measures transformed wire bytes, then derived
/// values (as `i128`), for `write` (fallible) or `encoded_len`.
fn encode_prologue<'s>(
    cx: &Cx<'s>,
    r: &'s RecordDef,
    fallible: bool,
) -> Result<(TokenStream, Scope<'s>)> {
    let s = &cx.support;
    let mut out = Vec::new();
    let mut scope = Scope::new(fallible);
    for p in &r.params {
        let n = names::ident(&p.name.name);
        out.push(quote!(let #n = &self.#n;));
        scope.push(Local {
            name: p.name.name.clone(),
            tokens: quote!(#n),
            ty: Some(&p.ty),
            optional: false,
            wire: None,
        });
    }
    for f in r.fields.iter().filter(|f| f.derive.is_none()) {
        let n = names::ident(&f.name.name);
        out.push(quote!(let #n = &self.#n;));
        let mut wire = None;
        if let Some(t) = &f.transform {
            let Some(Item::Extern(ext)) = cx.item(&t.name.name) else {
                return Err(cx.err(t.name.span, format!("unknown transform `{}`", t.name.name)));
            };
            let path: syn::Path = syn::parse_str(&ext.rust_path).map_err(|e| {
                cx.err(
                    ext.name.span,
                    format!("bad Rust path `{}`: {e}", ext.rust_path),
                )
            })?;
            let cond = match &t.condition {
                Some(c) => expr::compile(cx, &scope, c)?.bool(),
                None => quote!(true),
            };
            let w = format_ident!("__{}_wire", n.to_string().trim_start_matches("r#"));
            let wire_of = quote!(#s::codec::Transformed::<#path>::new(&#n[..], #cond));
            out.push(if f.condition.is_some() {
                quote!(let #w = #n.as_ref().map(|#n| #wire_of);)
            } else {
                quote!(let #w = #wire_of;)
            });
            wire = Some(quote!(#w));
        }
        scope.push(Local {
            name: f.name.name.clone(),
            tokens: quote!(#n),
            ty: Some(&f.ty),
            optional: f.condition.is_some(),
            wire,
        });
    }
    for f in r.fields.iter().filter(|f| f.derive.is_some()) {
        let Some(d) = &f.derive else { continue };
        let plain = format_ident!("{}", f.name.name);
        if !fallible && !matches!(f.ty, Type::MqttVarint | Type::Intser | Type::DynUint { .. }) {
            // encoded_len only needs derived values whose size depends on the value.
            out.push(quote!(let #plain: i128 = 0;));
        } else {
            let v = expr::compile(cx, &scope, d)?.int();
            out.push(quote!(let #plain: i128 = #v;));
        }
        scope.push(Local {
            name: f.name.name.clone(),
            tokens: quote!(#plain),
            ty: None,
            optional: false,
            wire: None,
        });
    }
    Ok((quote!(#(#out)*), scope))
}

/// Bounds of an integer-like type: (min, max, Rust primitive, wrapper for named types).
fn int_bounds(cx: &Cx<'_>, ty: &Type) -> Option<(i128, i128, TokenStream, Option<syn::Ident>)> {
    let range = |t: &ferrocom_spec::model::IntType| {
        let b = u32::from(t.bits);
        if t.signed {
            (-(1i128 << (b - 1)), (1i128 << (b - 1)) - 1)
        } else {
            (0, (1i128 << b) - 1)
        }
    };
    match ty {
        Type::Int(t) => {
            let (lo, hi) = range(t);
            Some((lo, hi, names::int_ty(t), None))
        }
        Type::Named { name, .. } if names::kind_of(cx, &name.name) == Some(Kind::Enum) => {
            let rep = names::repr_of(cx, &name.name)?;
            let (lo, hi) = range(&rep);
            Some((lo, hi, names::int_ty(&rep), Some(names::ident(&name.name))))
        }
        _ => None,
    }
}

/// Arbitrary value of a record field, steered by its `where` clause where possible.
fn arb_field(cx: &Cx<'_>, scope: &Scope<'_>, f: &Field, derived: &[String]) -> Result<TokenStream> {
    let s = &cx.support;
    let bad = quote!(#s::__private::arbitrary::Error::IncorrectFormat);
    let Some(w) = &f.constraint else {
        return arb_ty(cx, scope, &f.ty, derived);
    };
    if let Type::Array {
        elem,
        count: Size::Rest,
    } = &f.ty
        && let Some(crate::arb::Directed::Range(lo, hi)) =
            crate::arb::directed(cx, w, &f.name.name, true)?
    {
        let e = arb_ty(cx, scope, elem, derived)?;
        let lo = lo.unwrap_or(quote!(0i128));
        let hi = hi.unwrap_or(quote!(8i128));
        let v = quote!(#s::__private::Vec);
        return Ok(quote!({
            let __lo = usize::try_from(#lo).map_err(|_| #bad)?;
            let __hi = usize::try_from(#hi).map_err(|_| #bad)?.min(__lo + 8);
            let mut __v = #v::new();
            u.arbitrary_loop(Some(__lo as u32), Some(__hi as u32), |u| {
                __v.push(#e);
                Ok(::core::ops::ControlFlow::Continue(()))
            })?;
            __v
        }));
    }
    let Some((min, max, prim, wrap)) = int_bounds(cx, &f.ty) else {
        return arb_ty(cx, scope, &f.ty, derived);
    };
    let wrap = |v: TokenStream| match &wrap {
        Some(t) => quote!(#t(#v)),
        None => v,
    };
    Ok(match crate::arb::directed(cx, w, &f.name.name, false)? {
        Some(crate::arb::Directed::Choices(c)) => wrap(quote!({
            let __c: &[i128] = &[#(#c),*];
            let __v: i128 = *u.choose(__c)?;
            #prim::try_from(__v).map_err(|_| #bad)?
        })),
        Some(crate::arb::Directed::Range(lo, hi)) => {
            let lo = lo.unwrap_or(quote!(#min));
            let hi = hi.unwrap_or(quote!(#max));
            wrap(quote!({
                let (__lo, __hi): (i128, i128) = ((#lo).max(#min), (#hi).min(#max));
                if __lo > __hi { return Err(#bad); }
                let __v: i128 = u.int_in_range(__lo..=__hi)?;
                #prim::try_from(__v).map_err(|_| #bad)?
            }))
        }
        None => arb_ty(cx, scope, &f.ty, derived)?,
    })
}

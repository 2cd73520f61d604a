//! Tagged unions: an enum with one variant per arm. The tag is read by the enclosing
//! record (usually as a field derived with `tag(..)`) and passed in as the union's
//! first parameter; when encoding, `tag()` recomputes it from the variant.

use ferrocom_spec::model::{ArmBody, Item, PatValue, Pattern, Type, UnionDef};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::expr::{self, Local, Scope};
use crate::names;
use crate::record::{arb_ty, read_ty, write_ty};
use crate::{Cx, Result};

fn pat_value(cx: &Cx<'_>, tag_ty: &Type, v: &PatValue) -> Result<i128> {
    match v {
        PatValue::Int(i, _) => Ok(*i),
        PatValue::Const(id) => {
            let enum_name = match tag_ty {
                Type::Named { name, .. } => Some(name.name.as_str()),
                _ => None,
            };
            for item in &cx.spec.protocol.items {
                if let Item::Enum(d) = item {
                    if enum_name.is_some_and(|n| n != d.name.name) {
                        continue;
                    }
                    if let Some(var) = d.variants.iter().find(|x| x.name.name == id.name) {
                        return Ok(var.value);
                    }
                }
            }
            Err(cx.err(id.span, format!("unknown constant `{}`", id.name)))
        }
    }
}

fn lit(v: i128) -> TokenStream {
    let l = Literal::i128_suffixed(v);
    quote!(#l)
}

/// A boolean expression testing `__t` against a pattern.
fn pattern_test(cx: &Cx<'_>, tag_ty: &Type, p: &Pattern) -> Result<TokenStream> {
    Ok(match p {
        Pattern::Value(v) => {
            let v = lit(pat_value(cx, tag_ty, v)?);
            quote!(__t == #v)
        }
        Pattern::Range(a, b) => {
            let (a, b) = (
                lit(pat_value(cx, tag_ty, a)?),
                lit(pat_value(cx, tag_ty, b)?),
            );
            quote!((#a..=#b).contains(&__t))
        }
        Pattern::Wildcard(_) => quote!(true),
    })
}

pub fn gen_union(cx: &Cx<'_>, u: &UnionDef) -> Result<TokenStream> {
    let s = &cx.support;
    let name = names::ident(&u.name.name);
    let name_str = &u.name.name;
    let docs = cx.docs(&u.meta);
    let lt = names::needs_lifetime(cx, name_str);
    let gen_use = if lt { quote!(<'a>) } else { quote!() };
    let Some(tag_param) = u.params.first() else {
        return Err(cx.err(u.name.span, "a union needs its tag as the first parameter"));
    };
    let tag_name = names::ident(&tag_param.name.name);
    let tag_ty = &tag_param.ty;
    let tag_value = {
        let mut sc = Scope::new(false);
        sc.push(Local {
            name: tag_param.name.name.clone(),
            tokens: quote!(#tag_name),
            ty: Some(tag_ty),
            optional: false,
            wire: None,
        });
        expr::compile(
            cx,
            &sc,
            &ferrocom_spec::model::Expr {
                kind: ferrocom_spec::model::ExprKind::Path(vec![tag_param.name.clone()]),
                span: tag_param.name.span,
            },
        )?
        .int()
    };
    let param_decls = names::param_decls(cx, &u.params)?;
    let other_decls = &param_decls[1..];
    let other_names: Vec<syn::Ident> = u.params[1..]
        .iter()
        .map(|p| names::ident(&p.name.name))
        .collect();

    // Scope for payload reads: every parameter, by value.
    let mut scope = Scope::with_params(&u.params, false);
    // A payload argument that fails to convert (a bits parameter built from the tag,
    // say) is reported at the tag's byte.
    scope.arg_at = Some(quote!(__at));
    // For arbitrary: the tag is a candidate value; sizes that depend on it are free.
    let derived_for_arb = vec![tag_param.name.name.clone()];

    let mut variants = Vec::new();
    let mut infos = vec![names::field_info(
        cx,
        name_str,
        &tag_param.name.name,
        &u.meta,
    )];
    let mut read_arms = Vec::new();
    let mut check_arms = Vec::new();
    let mut index_arms = Vec::new();
    let mut tag_arms = Vec::new();
    let mut write_arms = Vec::new();
    let mut len_arms = Vec::new();
    let mut arb_arms = Vec::new();
    for (i, arm) in u.arms.iter().enumerate() {
        let test = pattern_test(cx, tag_ty, &arm.pattern)?;
        index_arms.push(quote!(if #test { return Some(#i); }));
        let info_c = format_ident!("F_ARM{}", i);
        if matches!(arm.body, ArmBody::Reject) {
            infos.push({
            let clause = match &arm.meta.clause {
                Some(c) => quote!(Some(#c)),
                None => quote!(None),
            };
            let protocol = cx.protocol_name();
            let field = &tag_param.name.name;
            let line = arm.meta.span.line;
            quote!(const #info_c: #s::codec::FieldInfo = #s::codec::FieldInfo { protocol: #protocol, item: #name_str, field: #field, clause: #clause, line: #line };)
        });
        }
        let ArmBody::Variant {
            name: vname,
            payload,
            tag,
        } = &arm.body
        else {
            check_arms.push(quote! {
                if #test {
                    return Err(#s::codec::Fail::Invalid(#s::codec::DecodeError::new(&Self::#info_c, at, #s::codec::DecodeErrorKind::Rejected { tag: __t })));
                }
            });
            continue;
        };
        check_arms.push(quote!(if #test { return Ok(()); }));
        let v = names::ident(&vname.name);
        let adocs = cx.docs(&arm.meta);
        // The tag this variant encodes to.
        let tag_expr = match (tag, &arm.pattern) {
            (Some(t), _) => {
                let mut sc = Scope::new(true);
                if let Some(p) = payload {
                    sc.push(Local {
                        name: "self".into(),
                        tokens: quote!(__p),
                        ty: Some(p),
                        optional: false,
                        wire: None,
                    });
                }
                expr::compile(cx, &sc, t)?.int()
            }
            (None, Pattern::Value(pv)) => lit(pat_value(cx, tag_ty, pv)?),
            (None, _) => {
                return Err(cx.err(
                    vname.span,
                    format!(
                        "arm `{}` matches several tags and needs `= <tag expression>`",
                        vname.name
                    ),
                ));
            }
        };
        let tag_info_c = names::info_const(&tag_param.name.name);
        let info = quote!(&Self::#tag_info_c);
        match payload {
            Some(p) => {
                let t = names::rust_ty(cx, p, false)?;
                variants.push(quote!(#adocs #v(#t),));
                let rd = read_ty(cx, &scope, p, &quote!(__r), &info)?;
                read_arms.push(quote!(if #test { return Ok(Self::#v(#rd)); }));
                tag_arms.push(quote!(Self::#v(__p) => (#tag_expr, #i),));
                let wr = write_ty(cx, &scope, p, &quote!(__p), &info)?;
                write_arms.push(quote!(Self::#v(__p) => { #wr }));
                let pv = match p {
                    Type::MqttVarint | Type::Intser => quote!((*__p)),
                    _ => quote!(__p),
                };
                let ln = expr::encoded_len_of(cx, p, &pv)?;
                len_arms.push(quote!(Self::#v(__p) => #ln,));
                // Arbitrary: choose a tag in the pattern, build the payload for it, and
                // keep it only if the payload encodes back to a tag of this arm.
                let candidate = match &arm.pattern {
                    Pattern::Value(pv) => lit(pat_value(cx, tag_ty, pv)?),
                    Pattern::Range(a, b) => {
                        let (a, b) = (
                            lit(pat_value(cx, tag_ty, a)?),
                            lit(pat_value(cx, tag_ty, b)?),
                        );
                        quote!(u.int_in_range(#a..=#b)?)
                    }
                    Pattern::Wildcard(_) => quote!(i128::from(u.arbitrary::<i64>()?)),
                };
                let mut asc = Scope::new(false);
                asc.push(Local {
                    name: tag_param.name.name.clone(),
                    tokens: quote!(__t),
                    ty: None,
                    optional: false,
                    wire: None,
                });
                for p in &u.params[1..] {
                    let n = names::ident(&p.name.name);
                    asc.push(Local {
                        name: p.name.name.clone(),
                        tokens: quote!(#n),
                        ty: Some(&p.ty),
                        optional: false,
                        wire: None,
                    });
                }
                let value = arb_ty(cx, &asc, p, &derived_for_arb)?;
                arb_arms.push(quote!(#i => { let __t: i128 = #candidate; Self::#v(#value) }));
            }
            None => {
                variants.push(quote!(#adocs #v,));
                read_arms.push(quote!(if #test { return Ok(Self::#v); }));
                tag_arms.push(quote!(Self::#v => (#tag_expr, #i),));
                write_arms.push(quote!(Self::#v => {}));
                len_arms.push(quote!(Self::#v => 0,));
                arb_arms.push(quote!(#i => Self::#v,));
            }
        }
    }
    let n_arms = u.arms.len();
    let tag_info = names::info_const(&tag_param.name.name);

    let allow = crate::allow_lints();
    Ok(quote! {
        #docs
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum #name #gen_use {
            #(#variants)*
        }

        #allow
        impl<'a> #name #gen_use {
            #(#infos)*

            /// Index of the first arm whose pattern matches `tag`.
            #[inline]
            pub fn arm_index(tag: i128) -> Option<usize> {
                let __t = tag;
                #(#index_arms)*
                None
            }

            /// Checks that `tag` selects a variant: an error at byte `at` (where the tag
            /// was read) if it selects a `reject` arm or no arm.
            #[inline]
            pub fn check_tag(tag: i128, at: usize) -> ::core::result::Result<(), #s::codec::Fail> {
                let __t = tag;
                #(#check_arms)*
                Err(#s::codec::Fail::Invalid(#s::codec::DecodeError::new(&Self::#tag_info, at, #s::codec::DecodeErrorKind::NoArm { tag: __t })))
            }

            /// Reads the arm selected by the tag, which the enclosing record read at byte
            /// `__at`.
            #[inline]
            pub fn read(__r: &mut #s::codec::Reader<'a>, __at: usize #(, #param_decls)*) -> ::core::result::Result<Self, #s::codec::Fail> {
                let __t: i128 = #tag_value;
                Self::check_tag(__t, __at)?;
                #(#read_arms)*
                Err(#s::codec::Fail::Invalid(#s::codec::DecodeError::new(&Self::#tag_info, __at, #s::codec::DecodeErrorKind::NoArm { tag: __t })))
            }

            /// The tag this value encodes to; an error if that tag would select another arm.
            #[inline]
            pub fn tag(&self) -> ::core::result::Result<i128, #s::codec::EncodeError> {
                let (__t, __arm): (i128, usize) = match self {
                    #(#tag_arms)*
                };
                if Self::arm_index(__t) != Some(__arm) {
                    return Err(#s::codec::EncodeError::new(&Self::#tag_info, #s::codec::EncodeErrorKind::Inconsistent {
                        message: "the tag computed from this variant selects another arm",
                    }));
                }
                Ok(__t)
            }

            /// Writes the payload (the tag is written by the enclosing record).
            #[inline]
            pub fn write<__W: #s::codec::Sink + ?Sized>(&self, __out: &mut __W, __frame: usize, __ck: &mut Option<(usize, usize, #s::codec::ByteOrder)>) -> ::core::result::Result<(), #s::codec::EncodeError> {
                match self {
                    #(#write_arms)*
                }
                Ok(())
            }

            /// The number of bytes the payload takes.
            #[inline]
            pub fn encoded_len(&self) -> usize {
                match self {
                    #(#len_arms)*
                }
            }

            /// Builds an arbitrary variant whose tag selects its own arm.
            #[cfg(feature = "arbitrary")]
            pub fn arbitrary_with(u: &mut #s::__private::arbitrary::Unstructured<'a> #(, #other_decls)*) -> #s::__private::arbitrary::Result<Self> {
                let __v = match u.choose_index(#n_arms)? {
                    #(#arb_arms)*
                    _ => return Err(#s::__private::arbitrary::Error::IncorrectFormat),
                };
                match __v.tag() {
                    Ok(_) => Ok(__v),
                    Err(_) => Err(#s::__private::arbitrary::Error::IncorrectFormat),
                }
            }
        }

        #[cfg(feature = "arbitrary")]
        #allow
        impl<'a> #s::__private::arbitrary::Arbitrary<'a> for #name #gen_use {
            fn arbitrary(u: &mut #s::__private::arbitrary::Unstructured<'a>) -> #s::__private::arbitrary::Result<Self> {
                #(let #other_names = <_ as #s::__private::arbitrary::Arbitrary<'a>>::arbitrary(u)?;)*
                Self::arbitrary_with(u #(, #other_names)*)
            }
        }
    })
}

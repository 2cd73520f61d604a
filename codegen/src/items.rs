//! Open enums, flags and bit-packed items.

use ferrocom_spec::model::{BitType, BitsDef, EnumDef, FlagsDef};
use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::expr::{self, Local, Scope};
use crate::names;
use crate::{Cx, Result};

/// A literal of the given primitive type.
fn typed_lit(v: i128, bits: u8, signed: bool) -> TokenStream {
    let l = match (names::prim(bits, signed).to_string().as_str(), signed) {
        ("u8", _) => Literal::u8_suffixed(v as u8),
        ("u16", _) => Literal::u16_suffixed(v as u16),
        ("u32", _) => Literal::u32_suffixed(v as u32),
        ("i8", _) => Literal::i8_suffixed(v as i8),
        ("i16", _) => Literal::i16_suffixed(v as i16),
        ("i32", _) => Literal::i32_suffixed(v as i32),
        ("i64", _) => Literal::i64_suffixed(v as i64),
        _ => Literal::u64_suffixed(v as u64),
    };
    quote!(#l)
}

/// `arbitrary` expression producing a value of `bits` bits in the given primitive.
pub fn arbitrary_int(bits: u8, signed: bool) -> TokenStream {
    let p = names::prim(bits, signed);
    if bits.is_multiple_of(8) && matches!(bits, 8 | 16 | 32 | 64) {
        quote!(u.arbitrary::<#p>()?)
    } else if signed {
        let min = typed_lit(-(1i128 << (bits - 1)), bits, true);
        let max = typed_lit((1i128 << (bits - 1)) - 1, bits, true);
        quote!(u.int_in_range(#min..=#max)?)
    } else {
        let max = typed_lit((1i128 << bits) - 1, bits, false);
        quote!(u.int_in_range(0..=#max)?)
    }
}

pub fn gen_enum(cx: &Cx<'_>, d: &EnumDef) -> Result<TokenStream> {
    let name = names::ident(&d.name.name);
    let docs = cx.docs(&d.meta);
    let repr = names::int_ty(&d.repr);
    let consts = d.variants.iter().map(|v| {
        let docs = cx.docs(&v.meta);
        let c = names::ident(&v.name.name);
        let val = typed_lit(v.value, d.repr.bits, d.repr.signed);
        quote!(#docs pub const #c: Self = Self(#val);)
    });
    let arms = d.variants.iter().map(|v| {
        let val = typed_lit(v.value, d.repr.bits, d.repr.signed);
        let n = &v.name.name;
        quote!(#val => Some(#n),)
    });
    let name_str = &d.name.name;
    let arb = arbitrary_int(d.repr.bits, d.repr.signed);
    let s = &cx.support;
    let allow = crate::allow_lints();
    Ok(quote! {
        #docs
        ///
        /// An open enum: values without a name are kept and encode unchanged.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct #name(pub #repr);

        impl #name {
            #(#consts)*

            /// The constant's name, or `None` for a value the spec does not name.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    #(#arms)*
                    _ => None,
                }
            }
        }

        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => {
                        f.write_str(#name_str)?;
                        write!(f, "({:#x})", self.0)
                    }
                }
            }
        }

        impl From<#repr> for #name {
            fn from(v: #repr) -> Self { Self(v) }
        }

        impl From<#name> for #repr {
            fn from(v: #name) -> Self { v.0 }
        }

        #[cfg(feature = "arbitrary")]
        #allow
        impl<'a> #s::__private::arbitrary::Arbitrary<'a> for #name {
            fn arbitrary(u: &mut #s::__private::arbitrary::Unstructured<'a>) -> #s::__private::arbitrary::Result<Self> {
                Ok(Self(#arb))
            }
        }
    })
}

pub fn gen_flags(cx: &Cx<'_>, d: &FlagsDef) -> Result<TokenStream> {
    let name = names::ident(&d.name.name);
    let docs = cx.docs(&d.meta);
    let repr = names::int_ty(&d.repr);
    let consts = d.flags.iter().map(|f| {
        let docs = cx.docs(&f.meta);
        let c = names::ident(&f.name.name);
        let val = typed_lit(i128::from(f.mask), d.repr.bits, false);
        quote!(#docs pub const #c: Self = Self(#val);)
    });
    let names_list = d.flags.iter().map(|f| {
        let n = &f.name.name;
        let val = typed_lit(i128::from(f.mask), d.repr.bits, false);
        quote!((#n, #val))
    });
    let name_str = &d.name.name;
    let arb = arbitrary_int(d.repr.bits, false);
    let s = &cx.support;
    let allow = crate::allow_lints();
    Ok(quote! {
        #docs
        ///
        /// A bit set: bits without a name are kept and encode unchanged.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct #name(pub #repr);

        impl #name {
            #(#consts)*
            /// Named masks, in spec order.
            pub const NAMED: &'static [(&'static str, #repr)] = &[#(#names_list),*];

            /// No bits set.
            pub const fn empty() -> Self { Self(0) }
            /// The raw value.
            pub const fn bits(self) -> #repr { self.0 }
            /// Whether every bit of `other` is set.
            pub const fn contains(self, other: Self) -> bool { self.0 & other.0 == other.0 }
            /// Sets or clears the bits of `other`.
            pub fn set(&mut self, other: Self, on: bool) {
                if on { self.0 |= other.0 } else { self.0 &= !other.0 }
            }
            /// `self` with the bits of `other` set or cleared.
            #[must_use]
            pub const fn with(self, other: Self, on: bool) -> Self {
                if on { Self(self.0 | other.0) } else { Self(self.0 & !other.0) }
            }
        }

        impl ::core::ops::BitOr for #name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self { Self(self.0 | rhs.0) }
        }

        impl ::core::ops::BitOrAssign for #name {
            fn bitor_assign(&mut self, rhs: Self) { self.0 |= rhs.0 }
        }

        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(#name_str)?;
                f.write_str("(")?;
                let mut rest = self.0;
                let mut first = true;
                for (n, m) in Self::NAMED {
                    if *m != 0 && self.0 & *m == *m {
                        if !first { f.write_str(" | ")?; }
                        f.write_str(n)?;
                        rest &= !*m;
                        first = false;
                    }
                }
                if rest != 0 || first {
                    if !first { f.write_str(" | ")?; }
                    write!(f, "{:#x}", rest)?;
                }
                f.write_str(")")
            }
        }

        #[cfg(feature = "arbitrary")]
        #allow
        impl<'a> #s::__private::arbitrary::Arbitrary<'a> for #name {
            fn arbitrary(u: &mut #s::__private::arbitrary::Unstructured<'a>) -> #s::__private::arbitrary::Result<Self> {
                Ok(Self(#arb))
            }
        }
    })
}

fn bit_width(cx: &Cx<'_>, ty: &BitType) -> u8 {
    match ty {
        BitType::Bool => 1,
        BitType::Uint(n) => *n,
        BitType::Named(n) => names::repr_of(cx, &n.name).map_or(8, |r| r.bits),
    }
}

pub fn gen_bits(cx: &Cx<'_>, d: &BitsDef) -> Result<TokenStream> {
    let s = &cx.support;
    let name = names::ident(&d.name.name);
    let name_str = &d.name.name;
    let docs = cx.docs(&d.meta);
    let repr = names::int_ty(&d.repr);
    let total = d.repr.bits;

    let mut stored = Vec::new();
    let mut infos = Vec::new();
    let mut decode = Vec::new();
    let mut encode = Vec::new();
    let mut raw = Vec::new();
    let mut arb = Vec::new();
    let mut dscope = Scope::new(false);
    let mut escope = Scope::new(false);
    let mut constraints = Vec::new();
    let mut shift: i32 = i32::from(total);
    for f in &d.fields {
        let w = bit_width(cx, &f.ty);
        shift -= i32::from(w);
        if shift < 0 {
            return Err(cx.err(f.name.span, "bit fields are wider than the representation"));
        }
        let sh = shift as u32;
        let mask: u128 = if w >= 64 {
            u64::MAX as u128
        } else {
            (1u128 << w) - 1
        };
        let mask_lit = Literal::u64_unsuffixed(mask as u64);
        let fname = names::ident(&f.name.name);
        let fstr = &f.name.name;
        let info = names::info_const(&f.name.name);
        infos.push(names::field_info(cx, name_str, fstr, &f.meta));
        let field_raw = match (sh, w >= total) {
            (0, true) => quote!((raw as u64)),
            (0, false) => quote!(((raw as u64) & #mask_lit)),
            (_, _) => quote!((((raw as u64) >> #sh) & #mask_lit)),
        };
        let (fty, from_raw, to_raw) = match &f.ty {
            BitType::Bool => (quote!(bool), quote!(#field_raw != 0), quote!(u64::from(v))),
            BitType::Uint(n) => {
                let p = names::prim(*n, false);
                (quote!(#p), quote!(#field_raw as #p), quote!(v as u64))
            }
            BitType::Named(n) => {
                let t = names::ident(&n.name);
                let rep = names::repr_of(cx, &n.name).ok_or_else(|| {
                    cx.err(n.span, format!("`{}` is not an enum or flags type", n.name))
                })?;
                let p = names::int_ty(&rep);
                (quote!(#t), quote!(#t(#field_raw as #p)), quote!(v.0 as u64))
            }
        };
        if let Some(c) = &f.derive {
            let cv = expr::compile(cx, &Scope::new(false), c)?.int();
            decode.push(quote! {
                {
                    let found = #field_raw as i128;
                    if found != #cv {
                        return Err((&Self::#info, #s::codec::DecodeErrorKind::Constant { expected: #cv, found }));
                    }
                }
            });
            raw.push(quote!(acc |= ((#cv as u64) & #mask_lit) << #sh;));
            encode.push(quote!(acc |= ((#cv as u64) & #mask_lit) << #sh;));
            continue;
        }
        let fdocs = cx.docs(&f.meta);
        stored.push(quote!(#fdocs pub #fname: #fty,));
        decode.push(quote!(let #fname: #fty = #from_raw;));
        raw.push(quote!({ let v = self.#fname; acc |= ((#to_raw) & #mask_lit) << #sh; }));
        encode.push(quote! {
            {
                let v = self.#fname;
                let wide: u64 = #to_raw;
                if wide & !#mask_lit != 0 {
                    return Err(#s::codec::EncodeError::new(&Self::#info, #s::codec::EncodeErrorKind::OutOfRange { value: wide as i128, bits: #w as u32 }));
                }
                acc |= wide << #sh;
            }
        });
        arb.push(match &f.ty {
            BitType::Bool => quote!(let #fname: bool = u.arbitrary()?;),
            BitType::Uint(n) => {
                let p = names::prim(*n, false);
                let directed = match &f.constraint {
                    Some(w) => crate::arb::directed(cx, w, &f.name.name, false)?,
                    None => None,
                };
                let bad = quote!(#s::__private::arbitrary::Error::IncorrectFormat);
                match directed {
                    Some(crate::arb::Directed::Choices(c)) => quote! {
                        let #fname: #p = {
                            let __c: &[i128] = &[#(#c),*];
                            #p::try_from(*u.choose(__c)?).map_err(|_| #bad)?
                        };
                    },
                    Some(crate::arb::Directed::Range(lo, hi)) => {
                        let lo = lo.unwrap_or(quote!(0i128));
                        let hi = hi.unwrap_or(quote!((#mask_lit as i128)));
                        quote! {
                            let #fname: #p = {
                                let (__lo, __hi): (i128, i128) = ((#lo).max(0), (#hi).min(#mask_lit as i128));
                                if __lo > __hi { return Err(#bad); }
                                #p::try_from(u.int_in_range(__lo..=__hi)?).map_err(|_| #bad)?
                            };
                        }
                    }
                    None => quote!(let #fname: #p = u.int_in_range(0..=(#mask_lit as #p))?;),
                }
            }
            BitType::Named(n) => {
                let t = names::ident(&n.name);
                let rep = names::repr_of(cx, &n.name).map(|r| names::int_ty(&r)).unwrap_or(quote!(u8));
                quote!(let #fname: #t = #t(u.int_in_range(0..=(#mask_lit as #rep))?);)
            }
        });
        let as_int = match &f.ty {
            BitType::Named(_) => |v: TokenStream| quote!((#v.0 as i128)),
            _ => |v: TokenStream| quote!(i128::from(#v)),
        };
        dscope.push(Local {
            name: f.name.name.clone(),
            tokens: as_int(quote!(#fname)),
            ty: None,
            optional: false,
            wire: None,
        });
        escope.push(Local {
            name: f.name.name.clone(),
            tokens: as_int(quote!(self.#fname)),
            ty: None,
            optional: false,
            wire: None,
        });
        if let Some(w) = &f.constraint {
            constraints.push((info.clone(), w, f.name.name.clone()));
            let cond = expr::compile(cx, &dscope, w)?.bool();
            let text = names::expr_text(w);
            decode.push(quote! {
                if !#cond {
                    return Err((&Self::#info, #s::codec::DecodeErrorKind::Constraint { condition: #text, value: #field_raw as i128 }));
                }
            });
        }
    }
    // Encode-side constraints see every field.
    for (info, w, fname) in &constraints {
        let cond = expr::compile(cx, &escope, w)?.bool();
        let text = names::expr_text(w);
        let value = escope
            .get(fname)
            .map(|l| l.tokens.clone())
            .unwrap_or(quote!(0i128));
        encode.push(quote! {
            if !#cond {
                return Err(#s::codec::EncodeError::new(&Self::#info, #s::codec::EncodeErrorKind::Constraint { condition: #text, value: #value }));
            }
        });
    }
    if shift != 0 {
        return Err(cx.err(
            d.name.span,
            format!(
                "bit fields of `{}` cover {} of {} bits",
                d.name.name,
                i32::from(total) - shift,
                total
            ),
        ));
    }
    let field_names: Vec<_> = d
        .fields
        .iter()
        .filter(|f| f.derive.is_none())
        .map(|f| names::ident(&f.name.name))
        .collect();
    let allow = crate::allow_lints();
    Ok(quote! {
        #docs
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct #name {
            #(#stored)*
        }

        #allow
        impl #name {
            #(#infos)*

            /// Unpacks a raw value, checking constant fields and constraints.
            #[inline]
            pub fn from_raw(raw: #repr) -> Result<Self, (&'static #s::codec::FieldInfo, #s::codec::DecodeErrorKind)> {
                #(#decode)*
                Ok(Self { #(#field_names),* })
            }

            /// Packs the fields, checking that each fits its width and its constraint.
            #[inline]
            pub fn to_bits(&self) -> Result<#repr, #s::codec::EncodeError> {
                let mut acc: u64 = 0;
                #(#encode)*
                Ok(acc as #repr)
            }

            /// Packs the fields without checks (values are masked to their widths).
            #[inline]
            pub fn to_raw(&self) -> #repr {
                let mut acc: u64 = 0;
                #(#raw)*
                acc as #repr
            }
        }

        #[cfg(feature = "arbitrary")]
        #allow
        impl<'a> #s::__private::arbitrary::Arbitrary<'a> for #name {
            fn arbitrary(u: &mut #s::__private::arbitrary::Unstructured<'a>) -> #s::__private::arbitrary::Result<Self> {
                #(#arb)*
                let v = Self { #(#field_names),* };
                match v.to_bits() {
                    Ok(_) => Ok(v),
                    Err(_) => Err(#s::__private::arbitrary::Error::IncorrectFormat),
                }
            }
        }
    })
}

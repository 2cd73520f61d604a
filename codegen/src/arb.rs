//! Constraint-directed generation for `Arbitrary`: instead of generating a value and
//! rejecting it when its `where` clause fails (hopeless for `level == 4` on a `u8`), the
//! common constraint shapes steer the generator directly:
//!
//! * `f == A || f == B ...` → one of the constants;
//! * `f >= A && f <= B ...` (any of `<`, `<=`, `>`, `>=`, `!=` against constants) → a range;
//! * `count(f) >= A && count(f) <= B` → the number of array elements.
//!
//! Anything else is generated freely and checked by the final encode.

use ferrocom_spec::model::{BinOp, Expr, ExprKind};
use proc_macro2::TokenStream;

use crate::expr::{self, Scope};
use crate::{Cx, Result};

/// How a constraint narrows a field.
pub enum Directed {
    /// Pick one of these values (`i128` tokens).
    Choices(Vec<TokenStream>),
    /// Inclusive bounds (`i128` tokens); `None` means the type's own bound.
    Range(Option<TokenStream>, Option<TokenStream>),
}

fn is_field(e: &Expr, field: &str) -> bool {
    matches!(&e.kind, ExprKind::Path(p) if p.len() == 1 && p[0].name == field)
}

fn is_count_of(e: &Expr, field: &str) -> bool {
    matches!(&e.kind, ExprKind::Call { func, args } if func.name == "count"
        && matches!(args.as_slice(), [a] if is_field(a, field)))
}

/// A constant: a literal or a name that is not a local (an enum constant).
fn constant(cx: &Cx<'_>, e: &Expr) -> Option<TokenStream> {
    match &e.kind {
        ExprKind::Int(_) | ExprKind::Path(_) | ExprKind::Unary(..) => {
            expr::compile(cx, &Scope::new(false), e)
                .ok()
                .map(|v| v.int())
        }
        _ => None,
    }
}

fn or_terms<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::Binary(BinOp::Or, a, b) => {
            or_terms(a, out);
            or_terms(b, out);
        }
        _ => out.push(e),
    }
}

fn and_terms<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::Binary(BinOp::And, a, b) => {
            and_terms(a, out);
            and_terms(b, out);
        }
        _ => out.push(e),
    }
}

/// Narrowing of `field` (or of `count(field)` when `count` is set) by constraint `w`.
pub fn directed(cx: &Cx<'_>, w: &Expr, field: &str, count: bool) -> Result<Option<Directed>> {
    let subject = |e: &Expr| {
        if count {
            is_count_of(e, field)
        } else {
            is_field(e, field)
        }
    };
    let mut ors = Vec::new();
    or_terms(w, &mut ors);
    if ors.len() > 1 || matches!(&w.kind, ExprKind::Binary(BinOp::Eq, ..)) {
        let mut choices = Vec::new();
        for t in ors {
            let ExprKind::Binary(BinOp::Eq, a, b) = &t.kind else {
                return Ok(None);
            };
            let c = if subject(a) {
                constant(cx, b)
            } else if subject(b) {
                constant(cx, a)
            } else {
                None
            };
            match c {
                Some(c) => choices.push(c),
                None => return Ok(None),
            }
        }
        return Ok(Some(Directed::Choices(choices)));
    }
    let mut ands = Vec::new();
    and_terms(w, &mut ands);
    let (mut lo, mut hi) = (None, None);
    for t in ands {
        let ExprKind::Binary(op, a, b) = &t.kind else {
            continue;
        };
        // Normalise to `subject op constant`.
        let (op, c) = if subject(a) {
            (*op, constant(cx, b))
        } else if subject(b) {
            let flipped = match op {
                BinOp::Lt => BinOp::Gt,
                BinOp::Le => BinOp::Ge,
                BinOp::Gt => BinOp::Lt,
                BinOp::Ge => BinOp::Le,
                o => *o,
            };
            (flipped, constant(cx, a))
        } else {
            continue;
        };
        let Some(c) = c else { continue };
        match op {
            BinOp::Le => hi = Some(c),
            BinOp::Lt => hi = Some(quote::quote!((#c - 1))),
            BinOp::Ge => lo = Some(c),
            BinOp::Gt => lo = Some(quote::quote!((#c + 1))),
            _ => {}
        }
    }
    Ok(match (lo, hi) {
        (None, None) => None,
        (lo, hi) => Some(Directed::Range(lo, hi)),
    })
}

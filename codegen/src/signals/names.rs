//! Identifiers for signal-map names in Rust and C, and the checks that keep generated
//! names unique.

use std::collections::HashMap;

use ferrocom_spec::signals::Pos;
use proc_macro2::Span;

use super::{BindingsError, invalid};

/// `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

const RUST_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if",
    "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
    "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield", "try", "gen",
];

/// Keywords that cannot even be raw identifiers.
const RUST_NOT_RAW: &[&str] = &["crate", "self", "super", "Self", "_"];

const C_KEYWORDS: &[&str] = &[
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "_Bool",
    "_Complex",
    "_Imaginary",
    "_Alignas",
    "_Alignof",
    "_Atomic",
    "_Generic",
    "_Noreturn",
    "_Static_assert",
    "_Thread_local",
];

/// A Rust identifier (raw for keywords), or an error at `pos` naming `what`.
pub fn rust_ident(text: &str, what: &str, pos: &Pos) -> Result<syn::Ident, BindingsError> {
    if !is_identifier(text) || RUST_NOT_RAW.contains(&text) {
        return Err(invalid(
            pos,
            format!("{what} `{text}` cannot be a Rust identifier"),
        ));
    }
    Ok(if RUST_KEYWORDS.contains(&text) {
        syn::Ident::new_raw(text, Span::call_site())
    } else {
        syn::Ident::new(text, Span::call_site())
    })
}

/// Checks that `name` can be a C identifier (not a keyword).
pub fn check_c_ident(name: &str, what: &str, pos: &Pos) -> Result<(), BindingsError> {
    if !is_identifier(name) || C_KEYWORDS.contains(&name) {
        return Err(invalid(
            pos,
            format!("{what} `{name}` cannot be a C identifier"),
        ));
    }
    Ok(())
}

/// `conf_exp` → `ConfExp`, `EXP` → `Exp`.
pub fn upper_camel(name: &str) -> String {
    let mut out = String::new();
    for part in name.split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    out
}

/// Generated names of one scope, each with the position and description of what it was
/// generated for, so that a clash names both.
#[derive(Default)]
pub struct Scope {
    taken: HashMap<String, (Pos, String)>,
}

impl Scope {
    /// Reserves a name the generator itself uses.
    pub fn reserve(&mut self, name: &str, what: &str) {
        self.taken
            .insert(name.to_string(), (Pos::default(), what.to_string()));
    }

    /// Claims `name` for `what` (defined at `pos`); an error if it is already taken.
    pub fn claim(
        &mut self,
        name: &str,
        what: String,
        pos: &Pos,
        kind: &str,
    ) -> Result<(), BindingsError> {
        if let Some((first_pos, first)) = self.taken.get(name) {
            let message =
                format!("{what} would generate the {kind} `{name}`, already used by {first}");
            let e = ferrocom_spec::signals::SignalMapError::at(pos, message);
            let e = if first_pos.is_known() {
                e.with_note(first_pos, format!("{first} is defined here"))
            } else {
                e
            };
            return Err(BindingsError::Invalid(e));
        }
        self.taken.insert(name.to_string(), (pos.clone(), what));
        Ok(())
    }
}

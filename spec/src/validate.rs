//! Semantic checks of a parsed spec: names resolve, types fit, arms are reachable,
//! sizes are computable. Every error is collected (validation does not stop at the
//! first) and carries the file, line and column it is about.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::error::{SpecError, SpecErrors};
use crate::model::*;
use crate::parse::int_type_of;

/// Checks a parsed spec. Returns every error found, in source order.
pub fn validate(spec: &Spec) -> Result<(), SpecErrors> {
    let mut v = Validator::new(spec);
    v.run();
    if v.errors.is_empty() {
        Ok(())
    } else {
        let mut errors = v.errors;
        errors.sort_by_key(|e| e.span.offset);
        Err(SpecErrors(errors))
    }
}

// ------------------------------------------------------------------------------------
// Value types of expressions
// ------------------------------------------------------------------------------------

/// What an expression or name evaluates to, as far as validation cares.
#[derive(Debug, Clone, Copy)]
enum VTy<'s> {
    Int,
    Bool,
    Enum(&'s EnumDef),
    Flags(&'s FlagsDef),
    Bits(&'s BitsDef),
    Record(&'s RecordDef),
    /// Not usable as a value: "a byte run", "text", "an array", "a union".
    Other(&'static str),
    /// Unresolved (an error was reported, or the type is unknown).
    Unknown,
}

impl VTy<'_> {
    fn describe(&self) -> String {
        match self {
            VTy::Int => "an integer".to_string(),
            VTy::Bool => "a condition (true/false)".to_string(),
            VTy::Enum(d) => format!("enum `{}`", d.name),
            VTy::Flags(d) => format!("flags `{}`", d.name),
            VTy::Bits(d) => format!("bits `{}`", d.name),
            VTy::Record(d) => format!("record `{}`", d.name),
            VTy::Other(s) => (*s).to_string(),
            VTy::Unknown => "unknown".to_string(),
        }
    }
}

/// What may appear in an expression at a given place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Conditions, sizes, widths, arguments: earlier fields and parameters.
    Plain,
    /// A field's `= expr`: like Plain, plus `len`/`count`/`tag` of later fields.
    Derive,
    /// A field's `where`: the field itself too, and `len`/`count`/`tag` of it and of
    /// earlier fields.
    Where,
    /// A union arm's `= tag`: `self` (the payload), the union's parameters.
    ArmTag,
}

/// A name an expression can refer to.
struct Entry<'s> {
    name: &'s Ident,
    ty: VTy<'s>,
    /// Index of the field; `None` for a parameter.
    field: Option<usize>,
    /// Its declared type (fields and parameters of records/unions).
    decl: Option<&'s Type>,
}

/// Where an expression is.
#[derive(Clone, Copy)]
struct Ctx<'s, 'c> {
    /// "record `X`", "bits `B`", "union `U`".
    owner: &'c str,
    names: &'c [Entry<'s>],
    /// Index of the field the expression belongs to.
    current: Option<usize>,
    mode: Mode,
    /// The arm payload, in an arm's tag expression.
    self_ty: Option<&'s Type>,
    /// The element being checked (field or variant name), for errors about a type
    /// that has no position of its own.
    at: Span,
    /// Inside a separated (text) record.
    separated: bool,
}

impl<'s> Ctx<'s, '_> {
    fn lookup(&self, name: &str) -> Option<&Entry<'s>> {
        self.names.iter().find(|e| e.name.name == name)
    }

    fn visible(&self, e: &Entry<'_>) -> bool {
        match (e.field, self.current) {
            (None, _) | (_, None) => true,
            (Some(j), Some(c)) => j < c || (self.mode == Mode::Where && j == c),
        }
    }

    fn current_name(&self) -> Option<&'s Ident> {
        let c = self.current?;
        self.names
            .iter()
            .find(|e| e.field == Some(c))
            .map(|e| e.name)
    }
}

// ------------------------------------------------------------------------------------
// Validator
// ------------------------------------------------------------------------------------

struct Validator<'s> {
    spec: &'s Spec,
    items: HashMap<&'s str, &'s Item>,
    errors: Vec<SpecError>,
}

const BUILTIN_TYPES: &[&str] = &[
    "uint",
    "mqtt_varint",
    "intser",
    "bytes",
    "str",
    "cstr",
    "bool",
];

impl<'s> Validator<'s> {
    fn new(spec: &'s Spec) -> Self {
        let mut items = HashMap::new();
        for item in &spec.protocol.items {
            items.entry(item.name().name.as_str()).or_insert(item);
        }
        Self {
            spec,
            items,
            errors: Vec::new(),
        }
    }

    fn error(
        &self,
        span: Span,
        message: impl Into<String>,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) -> SpecError {
        SpecError::new(self.spec.file.clone(), span, message, found, expected)
    }

    fn push(&mut self, e: SpecError) {
        self.errors.push(e);
    }

    fn report(
        &mut self,
        span: Span,
        message: impl Into<String>,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) {
        let e = self.error(span, message, found, expected);
        self.push(e);
    }

    fn run(&mut self) {
        let spec = self.spec;
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for item in &spec.protocol.items {
            let name = item.name();
            if BUILTIN_TYPES.contains(&name.name.as_str()) || int_type_of(&name.name).is_some() {
                self.report(
                    name.span,
                    format!("`{name}` is a built-in type and cannot be declared"),
                    format!("`{name}`"),
                    "a name that is not a built-in type (u8, bytes, str, ...)",
                );
            }
            if let Some(first) = seen.get(name.name.as_str()) {
                let e = self
                    .error(
                        name.span,
                        format!("`{name}` is declared twice"),
                        format!("`{name}`"),
                        "a name not used by another item",
                    )
                    .with_note(*first, format!("`{name}` is first declared here"));
                self.push(e);
            } else {
                seen.insert(&name.name, name.span);
            }
        }
        for item in &spec.protocol.items {
            match item {
                Item::Enum(d) => self.enum_def(d),
                Item::Flags(d) => self.flags_def(d),
                Item::Bits(d) => self.bits_def(d),
                Item::Record(d) => self.record_def(d),
                Item::Union(d) => self.union_def(d),
                Item::Extern(d) => self.extern_def(d),
            }
        }
        self.recursion();
        self.checksums_in_regions();
    }

    // --------------------------------------------------------------------------------
    // Names and types
    // --------------------------------------------------------------------------------

    fn item_names(&self, pred: impl Fn(&Item) -> bool) -> Vec<&'s str> {
        self.spec
            .protocol
            .items
            .iter()
            .filter(|i| pred(i))
            .map(|i| i.name().name.as_str())
            .collect()
    }

    fn duplicates<'n>(
        &mut self,
        names: impl IntoIterator<Item = &'n Ident>,
        what: &str,
        owner: &str,
    ) {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for n in names {
            if let Some(first) = seen.get(n.name.as_str()) {
                let e = self
                    .error(
                        n.span,
                        format!("{what} `{n}` is declared twice in {owner}"),
                        format!("`{n}`"),
                        format!("a {what} name not used before in {owner}"),
                    )
                    .with_note(*first, format!("`{n}` is first declared here"));
                self.push(e);
            } else {
                seen.insert(&n.name, n.span);
            }
        }
    }

    /// Value type of a wire/param type.
    fn vty_of_type(&self, ty: &'s Type) -> VTy<'s> {
        match ty {
            Type::Int(_)
            | Type::DynUint { .. }
            | Type::MqttVarint
            | Type::Intser
            | Type::Decimal(_) => VTy::Int,
            Type::Bytes(_) | Type::BytesPrefixed(_) | Type::BytesUntil(_) => {
                VTy::Other("a byte run")
            }
            Type::Str(_) | Type::StrPrefixed { .. } | Type::CStr => VTy::Other("text"),
            Type::Array { .. } => VTy::Other("an array"),
            Type::Within { inner, .. } => self.vty_of_type(inner),
            Type::Named { name, .. } => match self.items.get(name.name.as_str()) {
                Some(Item::Enum(d)) => VTy::Enum(d),
                Some(Item::Flags(d)) => VTy::Flags(d),
                Some(Item::Bits(d)) => VTy::Bits(d),
                Some(Item::Record(d)) => VTy::Record(d),
                Some(Item::Union(_)) => VTy::Other("a union"),
                Some(Item::Extern(_)) | None => VTy::Unknown,
            },
        }
    }

    fn vty_of_bit(&self, ty: &'s BitType) -> VTy<'s> {
        match ty {
            BitType::Bool => VTy::Bool,
            BitType::Uint(_) => VTy::Int,
            BitType::Named(n) => match self.items.get(n.name.as_str()) {
                Some(Item::Enum(d)) => VTy::Enum(d),
                Some(Item::Flags(d)) => VTy::Flags(d),
                _ => VTy::Unknown,
            },
        }
    }

    fn unknown_type(&mut self, name: &Ident, kinds: &str, pred: impl Fn(&Item) -> bool) {
        let candidates = self.item_names(pred);
        let mut message = format!("unknown type `{name}`");
        if let Some(s) = suggest(&name.name, candidates.iter().copied()) {
            message.push_str(&format!("; did you mean `{s}`?"));
        }
        let expected = if candidates.is_empty() {
            kinds.to_string()
        } else {
            format!("{kinds}: {}", list(&candidates))
        };
        self.report(name.span, message, format!("`{name}`"), expected);
    }

    /// Checks a type used as a field, parameter-free payload or array element.
    fn check_type(&mut self, ty: &'s Type, ctx: Ctx<'s, '_>) {
        match ty {
            Type::Int(_)
            | Type::MqttVarint
            | Type::Intser
            | Type::CStr
            | Type::Decimal(_)
            | Type::BytesUntil(_)
            | Type::BytesPrefixed(_)
            | Type::StrPrefixed { .. } => {}
            Type::DynUint { width, .. } => {
                self.check_number(width, ctx, "the width of `uint(..)`");
                if let Some(w) = const_eval(width)
                    && !(1..=8).contains(&w)
                {
                    self.report(
                        width.span,
                        format!("`uint({w})` has an invalid width: integers are 1 to 8 bytes wide"),
                        format!("`{w}`"),
                        "a width from 1 to 8 bytes",
                    );
                }
            }
            Type::Bytes(size) | Type::Str(size) => self.check_size(size, ctx, "a size"),
            Type::Array { elem, count } => {
                self.check_type(elem, ctx);
                // In a separated record each element is a part of its own, so an element
                // may fill it.
                if !ctx.separated && self.consumes_rest(elem, 0) {
                    let span = first_span_of_type(elem).unwrap_or(ctx.at);
                    self.report(
                        span,
                        "an array element cannot extend to the end of the region (`..`)",
                        format!("`{}`", show_type(elem)),
                        "an element type of known size, or `T within n`",
                    );
                }
                self.check_size(count, ctx, "an array length");
            }
            Type::Within { inner, size } => {
                self.check_type(inner, ctx);
                self.check_number(size, ctx, "the size of a `within` region");
            }
            Type::Named { name, args } => self.check_named(name, args, ctx),
        }
    }

    fn check_size(&mut self, size: &'s Size, ctx: Ctx<'s, '_>, what: &str) {
        if let Size::Expr(e) = size {
            self.check_number(e, ctx, what);
        }
    }

    /// An expression that must give a non-negative integer (a size or width).
    fn check_number(&mut self, e: &'s Expr, ctx: Ctx<'s, '_>, what: &str) {
        let ty = self.expr(e, ctx, None);
        if let VTy::Bool = ty {
            self.report(
                e.span,
                format!("{what} must be an integer, but this is a condition"),
                format!("`{}`", show_expr(e)),
                "an integer expression",
            );
        }
        if let Some(v) = const_eval(e)
            && v < 0
        {
            self.report(
                e.span,
                format!("{what} cannot be negative"),
                format!("`{v}`"),
                "a non-negative integer",
            );
        }
    }

    fn check_named(&mut self, name: &'s Ident, args: &'s [Expr], ctx: Ctx<'s, '_>) {
        let Some(item) = self.items.get(name.name.as_str()).copied() else {
            self.unknown_type(name, "a built-in type or a declared type", |i| {
                !matches!(i, Item::Extern(_))
            });
            // Still check the arguments, for unknown names in them.
            for a in args {
                self.expr(a, ctx, None);
            }
            return;
        };
        let (kind, repr, params) = match item {
            Item::Extern(_) => {
                self.report(
                    name.span,
                    format!("`{name}` is an extern transform, not a type; apply it with `transform({name})`"),
                    format!("`{name}`"),
                    "a type",
                );
                return;
            }
            Item::Enum(d) => ("enum", Some(d.repr), None),
            Item::Flags(d) => ("flags", Some(d.repr), None),
            Item::Bits(d) => ("bits", Some(d.repr), None),
            Item::Record(d) => (
                if d.is_frame { "frame" } else { "record" },
                None,
                Some(&d.params),
            ),
            Item::Union(d) => ("union", None, Some(&d.params)),
        };
        if let Some(repr) = repr {
            if let Some(first) = args.first() {
                self.report(
                    first.span,
                    format!("{kind} `{name}` takes no arguments"),
                    format!("{} argument{}", args.len(), plural(args.len())),
                    format!("`{name}` without `(..)`"),
                );
            }
            if !repr.bits.is_multiple_of(8) {
                self.report(
                    name.span,
                    format!(
                        "{kind} `{name}` is {} bits wide (`u{}`), so it can only be used inside `bits`",
                        repr.bits, repr.bits
                    ),
                    format!("`{name}`"),
                    "a whole-byte type",
                );
            }
            return;
        }
        let params = params.map(|p| p.as_slice()).unwrap_or(&[]);
        if args.len() != params.len() {
            let wanted: Vec<String> = params
                .iter()
                .map(|p| format!("{}: {}", p.name, show_type(&p.ty)))
                .collect();
            let expected = if params.is_empty() {
                format!("`{name}` without `(..)`")
            } else {
                format!(
                    "{} argument{} ({})",
                    params.len(),
                    plural(params.len()),
                    wanted.join(", ")
                )
            };
            self.report(
                name.span,
                format!(
                    "{kind} `{name}` takes {} argument{}, but {} {} given",
                    params.len(),
                    plural(params.len()),
                    args.len(),
                    if args.len() == 1 { "is" } else { "are" }
                ),
                format!("{} argument{}", args.len(), plural(args.len())),
                expected,
            );
        }
        for (n, a) in args.iter().enumerate() {
            let param = params.get(n);
            let hint = param.and_then(|p| match self.vty_of_type(&p.ty) {
                VTy::Enum(d) => Some(d),
                _ => None,
            });
            let got = self.expr(a, ctx, hint);
            if let Some(p) = param {
                let want = self.vty_of_type(&p.ty);
                if let Some(problem) = mismatch(want, got) {
                    self.report(
                        a.span,
                        format!(
                            "argument `{}` for parameter `{}` of `{name}` is {}, but the parameter is {problem}",
                            show_expr(a),
                            p.name,
                            got.describe()
                        ),
                        format!("`{}`", show_expr(a)),
                        want.describe(),
                    );
                }
            }
        }
    }

    fn check_params(&mut self, params: &'s [Param], owner: &str) {
        for p in params {
            let ok = match &p.ty {
                Type::Int(_) => true,
                Type::Named { name, args } => match self.items.get(name.name.as_str()) {
                    Some(Item::Enum(_) | Item::Flags(_) | Item::Bits(_)) => {
                        if let Some(a) = args.first() {
                            self.report(
                                a.span,
                                format!("the type of parameter `{}` takes no arguments", p.name),
                                format!("`{}`", show_type(&p.ty)),
                                format!("`{name}`"),
                            );
                        }
                        true
                    }
                    None => {
                        self.unknown_type(
                            name,
                            "an integer type or a declared enum, flags or bits type",
                            |i| matches!(i, Item::Enum(_) | Item::Flags(_) | Item::Bits(_)),
                        );
                        true
                    }
                    _ => false,
                },
                _ => false,
            };
            if !ok {
                self.report(
                    p.name.span,
                    format!(
                        "parameter `{}` of {owner} has type `{}`; parameters must be integers, enums, flags or bits",
                        p.name,
                        show_type(&p.ty)
                    ),
                    format!("`{}`", show_type(&p.ty)),
                    "an integer type or an enum, flags or bits type",
                );
            }
        }
    }

    // --------------------------------------------------------------------------------
    // Expressions
    // --------------------------------------------------------------------------------

    /// Checks an expression and returns its value type. `hint`: the enum a bare
    /// constant is resolved against.
    fn expr(&mut self, e: &'s Expr, ctx: Ctx<'s, '_>, hint: Option<&'s EnumDef>) -> VTy<'s> {
        match &e.kind {
            ExprKind::Int(_) => VTy::Int,
            ExprKind::Bool(_) => VTy::Bool,
            ExprKind::Path(segs) => self.path(e, segs, ctx, hint),
            ExprKind::Call { func, args } => self.call(e, func, args, ctx),
            ExprKind::Unary(UnOp::Not, a) => {
                self.expr(a, ctx, None);
                VTy::Bool
            }
            ExprKind::Unary(UnOp::Neg, a) => {
                self.expr(a, ctx, None);
                VTy::Int
            }
            ExprKind::Binary(op, a, b) => match op {
                BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                    if self.is_bare_constant(a, ctx) && !self.is_bare_constant(b, ctx) {
                        let tb = self.expr(b, ctx, None);
                        self.expr(a, ctx, enum_of(tb));
                    } else {
                        let ta = self.expr(a, ctx, None);
                        self.expr(b, ctx, enum_of(ta));
                    }
                    VTy::Bool
                }
                BinOp::And | BinOp::Or => {
                    self.expr(a, ctx, None);
                    self.expr(b, ctx, None);
                    VTy::Bool
                }
                _ => {
                    self.expr(a, ctx, None);
                    self.expr(b, ctx, None);
                    VTy::Int
                }
            },
            ExprKind::Ternary(c, a, b) => {
                self.expr(c, ctx, None);
                let ta = self.expr(a, ctx, hint);
                let tb = self.expr(b, ctx, hint.or(enum_of(ta)));
                match ta {
                    VTy::Unknown => tb,
                    _ => ta,
                }
            }
        }
    }

    /// A one-word path that is not a field or parameter (so possibly an enum constant).
    fn is_bare_constant(&self, e: &Expr, ctx: Ctx<'s, '_>) -> bool {
        match &e.kind {
            ExprKind::Path(segs) => {
                segs.len() == 1
                    && segs
                        .first()
                        .is_some_and(|s| s.name != "self" && ctx.lookup(&s.name).is_none())
            }
            _ => false,
        }
    }

    fn enum_with_constant(&self, name: &str) -> Option<&'s EnumDef> {
        self.spec.protocol.items.iter().find_map(|i| match i {
            Item::Enum(d) if d.variants.iter().any(|v| v.name.name == name) => Some(d),
            _ => None,
        })
    }

    fn path(
        &mut self,
        e: &'s Expr,
        segs: &'s [Ident],
        ctx: Ctx<'s, '_>,
        hint: Option<&'s EnumDef>,
    ) -> VTy<'s> {
        let Some(first) = segs.first() else {
            return VTy::Unknown;
        };
        let rest = segs.get(1..).unwrap_or(&[]);
        let mut cur = if first.name == "self" {
            match ctx.self_ty {
                Some(t) => self.vty_of_type(t),
                None => {
                    self.report(
                        first.span,
                        "`self` can only be used in a union arm's `= tag` expression",
                        "`self`",
                        format!("a field or parameter of {}", ctx.owner),
                    );
                    return VTy::Unknown;
                }
            }
        } else if let Some(entry) = ctx.lookup(&first.name) {
            if !ctx.visible(entry) {
                self.later_field(first, entry, ctx);
                return VTy::Unknown;
            }
            entry.ty
        } else if rest.is_empty() {
            return self.constant(first, ctx, hint);
        } else {
            self.unknown_name(first, ctx);
            return VTy::Unknown;
        };
        let mut prefix = first.name.clone();
        for (n, seg) in rest.iter().enumerate() {
            cur = match cur {
                VTy::Flags(d) => match d.flags.iter().find(|f| f.name.name == seg.name) {
                    Some(_) => VTy::Bool,
                    None => {
                        self.no_member(
                            seg,
                            &prefix,
                            &format!("flags `{}`", d.name),
                            "flag",
                            d.flags.iter().map(|f| f.name.name.as_str()),
                        );
                        return VTy::Unknown;
                    }
                },
                VTy::Bits(d) => match d.fields.iter().find(|f| f.name.name == seg.name) {
                    Some(f) => self.vty_of_bit(&f.ty),
                    None => {
                        self.no_member(
                            seg,
                            &prefix,
                            &format!("bits `{}`", d.name),
                            "field",
                            d.fields.iter().map(|f| f.name.name.as_str()),
                        );
                        return VTy::Unknown;
                    }
                },
                VTy::Record(d) if n == 0 && first.name == "self" => {
                    if let Some(p) = d.params.iter().find(|p| p.name.name == seg.name) {
                        self.vty_of_type(&p.ty)
                    } else if let Some(f) = d.fields.iter().find(|f| f.name.name == seg.name) {
                        if f.derive.is_some() {
                            let e = self
                                .error(
                                    seg.span,
                                    format!(
                                        "`self.{seg}` is a derived field of `{}`; derived fields are not stored, so they cannot give the tag",
                                        d.name
                                    ),
                                    format!("`{seg}`"),
                                    format!("a stored field or parameter of `{}`", d.name),
                                )
                                .with_note(f.name.span, format!("`{seg}` is derived here"));
                            self.push(e);
                            return VTy::Unknown;
                        }
                        self.vty_of_type(&f.ty)
                    } else {
                        let names = d
                            .params
                            .iter()
                            .map(|p| p.name.name.as_str())
                            .chain(d.fields.iter().map(|f| f.name.name.as_str()));
                        self.no_member(
                            seg,
                            "self",
                            &format!("the payload `{}`", d.name),
                            "field or parameter",
                            names,
                        );
                        return VTy::Unknown;
                    }
                }
                VTy::Unknown => return VTy::Unknown,
                other => {
                    let why = match other {
                        VTy::Record(_) => {
                            " (fields of nested records cannot be used in expressions; pass them as parameters)"
                        }
                        _ => "",
                    };
                    self.report(
                        seg.span,
                        format!("`{prefix}` is {} and has no members{why}", other.describe()),
                        format!("`.{seg}`"),
                        "a member of a flags or bits value",
                    );
                    return VTy::Unknown;
                }
            };
            prefix.push('.');
            prefix.push_str(&seg.name);
        }
        match cur {
            VTy::Other(what) => {
                self.report(
                    e.span,
                    format!(
                        "`{prefix}` is {what}; only integers, enums, flags, bits and their members can be used in expressions"
                    ),
                    format!("`{prefix}`"),
                    "an integer, enum, flags or bits value",
                );
                VTy::Unknown
            }
            VTy::Record(d) => {
                self.report(
                    e.span,
                    format!(
                        "`{prefix}` is record `{}`; only integers, enums, flags, bits and their members can be used in expressions",
                        d.name
                    ),
                    format!("`{prefix}`"),
                    "an integer, enum, flags or bits value",
                );
                VTy::Unknown
            }
            other => other,
        }
    }

    fn no_member<'n>(
        &mut self,
        seg: &Ident,
        prefix: &str,
        what: &str,
        kind: &str,
        names: impl Iterator<Item = &'n str> + Clone,
    ) {
        let all: Vec<&str> = names.clone().collect();
        let mut message = format!("`{prefix}` is {what}, which has no {kind} `{seg}`");
        if let Some(s) = suggest(&seg.name, names) {
            message.push_str(&format!("; did you mean `{s}`?"));
        }
        self.report(
            seg.span,
            message,
            format!("`{seg}`"),
            format!("a {kind} of {what}: {}", list(&all)),
        );
    }

    /// A bare name that is not a field or parameter: an enum constant.
    fn constant(&mut self, name: &Ident, ctx: Ctx<'s, '_>, hint: Option<&'s EnumDef>) -> VTy<'s> {
        if let Some(d) = hint {
            if d.variants.iter().any(|v| v.name.name == name.name) {
                return VTy::Enum(d);
            }
            if self.enum_with_constant(&name.name).is_some() {
                let all: Vec<&str> = d.variants.iter().map(|v| v.name.name.as_str()).collect();
                self.report(
                    name.span,
                    format!("`{name}` is not a constant of enum `{}`", d.name),
                    format!("`{name}`"),
                    format!("a constant of enum `{}`: {}", d.name, list(&all)),
                );
                return VTy::Unknown;
            }
        } else if let Some(d) = self.enum_with_constant(&name.name) {
            return VTy::Enum(d);
        }
        self.unknown_name(name, ctx);
        VTy::Unknown
    }

    fn unknown_name(&mut self, name: &Ident, ctx: Ctx<'s, '_>) {
        let visible: Vec<&str> = ctx
            .names
            .iter()
            .filter(|e| ctx.visible(e))
            .map(|e| e.name.name.as_str())
            .collect();
        let mut message = format!("unknown name `{name}`");
        if let Some(s) = suggest(&name.name, visible.iter().copied()) {
            message.push_str(&format!("; did you mean `{s}`?"));
        }
        let what = match ctx.mode {
            Mode::Where => "a field up to this one",
            _ => "an earlier field",
        };
        let expected = match (ctx.current_name(), visible.is_empty()) {
            (_, true) => "a constant or an enum constant".to_string(),
            (Some(cur), false) => format!(
                "{what} or a parameter of {} (before `{cur}`: {}), or an enum constant",
                ctx.owner,
                list(&visible)
            ),
            (None, false) => format!(
                "a parameter of {} ({}), or an enum constant",
                ctx.owner,
                list(&visible)
            ),
        };
        self.report(name.span, message, format!("`{name}`"), expected);
    }

    fn later_field(&mut self, name: &Ident, entry: &Entry<'s>, ctx: Ctx<'s, '_>) {
        let cur = ctx
            .current_name()
            .map_or_else(String::new, |c| format!(" in field `{c}`"));
        let what = match ctx.mode {
            Mode::Where => "fields up to this one",
            _ => "earlier fields",
        };
        let e = self
            .error(
                name.span,
                format!(
                    "field `{name}` is used{cur} before it is decoded; only {what} and parameters can be used here"
                ),
                format!("`{name}`"),
                format!("an earlier field or a parameter of {}", ctx.owner),
            )
            .with_note(entry.name.span, format!("`{name}` is declared here"));
        self.push(e);
    }

    fn call(
        &mut self,
        e: &'s Expr,
        func: &'s Ident,
        args: &'s [Expr],
        ctx: Ctx<'s, '_>,
    ) -> VTy<'s> {
        let f = func.name.as_str();
        match f {
            "len" | "count" | "tag" => {}
            "more" => {
                self.report(
                    func.span,
                    "`more()` can only be the whole `if` condition of a field of a separated record: `queue: str[..] if more();`",
                    format!("`{}`", show_expr(e)),
                    "`more()` alone as a field's `if` condition",
                );
                return VTy::Bool;
            }
            "crc16_modbus" => {
                self.report(
                    func.span,
                    "`crc16_modbus(frame)` can only be the whole derived value of a 16-bit field: `crc: u16 = crc16_modbus(frame);`",
                    format!("`{}`", show_expr(e)),
                    "`len(f)`, `count(f)`, `tag(f)`, a field, a constant or an operator",
                );
                return VTy::Int;
            }
            _ => {
                let mut message = format!("unknown function `{f}`");
                if let Some(s) = suggest(
                    f,
                    ["len", "count", "tag", "crc16_modbus", "more"].into_iter(),
                ) {
                    message.push_str(&format!("; did you mean `{s}`?"));
                }
                self.report(
                    func.span,
                    message,
                    format!("`{f}(..)`"),
                    "`len(f)`, `count(f)`, `tag(f)`, `crc16_modbus(frame)` or `more()`",
                );
                return VTy::Unknown;
            }
        }
        if ctx.mode == Mode::Plain {
            self.report(
                func.span,
                format!(
                    "`{f}(..)` can only be used in a derived field (`= {f}(x)`), a `where` condition or an arm's `= tag`"
                ),
                format!("`{}`", show_expr(e)),
                "a field, a parameter, a constant or an operator",
            );
            return VTy::Int;
        }
        let single = match args {
            [a] => match &a.kind {
                ExprKind::Path(segs) if segs.len() == 1 => segs.first(),
                _ => None,
            },
            _ => None,
        };
        let Some(target) = single else {
            let at = args.first().map_or(func.span, |a| a.span);
            self.report(
                at,
                format!("`{f}(..)` takes one field name"),
                format!("`{}`", show_expr(e)),
                format!("`{f}(field)`"),
            );
            return VTy::Int;
        };
        // What type does the target have?
        let target_ty: Option<&'s Type> = if ctx.mode == Mode::ArmTag {
            if target.name != "self" {
                self.report(
                    target.span,
                    format!("in an arm's tag expression `{f}(..)` measures the payload: write `{f}(self)`"),
                    format!("`{target}`"),
                    "`self`",
                );
                return VTy::Int;
            }
            match ctx.self_ty {
                Some(t) => Some(t),
                None => return VTy::Int,
            }
        } else {
            let Some(entry) = ctx.lookup(&target.name) else {
                self.unknown_field(target, ctx, f);
                return VTy::Int;
            };
            let Some(idx) = entry.field else {
                self.report(
                    target.span,
                    format!("`{target}` is a parameter; `{f}(..)` needs a field"),
                    format!("`{target}`"),
                    "a field name",
                );
                return VTy::Int;
            };
            let cur = ctx.current.unwrap_or(0);
            let cur_name = ctx
                .current_name()
                .map_or_else(|| "this field".to_string(), |c| format!("`{c}`"));
            if ctx.mode == Mode::Derive && idx <= cur {
                let e = self
                    .error(
                        target.span,
                        format!(
                            "`{f}({target})` must name a field after {cur_name}: a derived value is written before the field it describes"
                        ),
                        format!("`{target}`"),
                        format!("a field declared after {cur_name}"),
                    )
                    .with_note(entry.name.span, format!("`{target}` is declared here"));
                self.push(e);
                return VTy::Int;
            }
            if ctx.mode == Mode::Where && idx > cur {
                self.later_field(target, entry, ctx);
                return VTy::Int;
            }
            entry.decl
        };
        let Some(t) = target_ty else {
            return VTy::Int;
        };
        let inner = unwrap_within(t);
        match f {
            "count" if !matches!(inner, Type::Array { .. }) => {
                self.report(
                    target.span,
                    format!(
                        "`count({target})` needs an array, but `{target}` is `{}`",
                        show_type(t)
                    ),
                    format!("`{target}`"),
                    "an array field (`T[n]`)",
                );
            }
            "tag" => {
                let is_union = matches!(inner, Type::Named { name, .. }
                    if matches!(self.items.get(name.name.as_str()), Some(Item::Union(_))));
                if !is_union {
                    self.report(
                        target.span,
                        format!(
                            "`tag({target})` needs a union field, but `{target}` is `{}`",
                            show_type(t)
                        ),
                        format!("`{target}`"),
                        "a field whose type is a union",
                    );
                }
            }
            _ => {}
        }
        VTy::Int
    }

    fn unknown_field(&mut self, name: &Ident, ctx: Ctx<'s, '_>, f: &str) {
        let fields: Vec<&str> = ctx
            .names
            .iter()
            .filter(|e| e.field.is_some())
            .map(|e| e.name.name.as_str())
            .collect();
        let mut message = format!("unknown field `{name}` in `{f}(..)`");
        if let Some(s) = suggest(&name.name, fields.iter().copied()) {
            message.push_str(&format!("; did you mean `{s}`?"));
        }
        self.report(
            name.span,
            message,
            format!("`{name}`"),
            format!("a field of {}: {}", ctx.owner, list(&fields)),
        );
    }

    // --------------------------------------------------------------------------------
    // Items
    // --------------------------------------------------------------------------------

    fn enum_def(&mut self, d: &'s EnumDef) {
        let owner = format!("enum `{}`", d.name);
        self.duplicates(d.variants.iter().map(|v| &v.name), "variant", &owner);
        let (min, max) = int_range(d.repr);
        let mut values: HashMap<i128, &Ident> = HashMap::new();
        for v in &d.variants {
            if v.value < min || v.value > max {
                self.report(
                    v.name.span,
                    format!(
                        "value {} of `{}` does not fit the representation `{}` of {owner}",
                        v.value,
                        v.name,
                        show_int(d.repr)
                    ),
                    format!("`{} = {}`", v.name, v.value),
                    format!("a value in {min}..={max}"),
                );
            } else if let Some(first) = values.get(&v.value) {
                let e = self
                    .error(
                        v.name.span,
                        format!("`{}` has the value {} of `{first}`", v.name, v.value),
                        format!("`{} = {}`", v.name, v.value),
                        "a value not used by another variant",
                    )
                    .with_note(first.span, format!("`{first}` is declared here"));
                self.push(e);
            } else {
                values.insert(v.value, &v.name);
            }
        }
    }

    fn flags_def(&mut self, d: &'s FlagsDef) {
        let owner = format!("flags `{}`", d.name);
        self.duplicates(d.flags.iter().map(|f| &f.name), "flag", &owner);
        if d.repr.signed {
            self.report(
                d.name.span,
                format!("the representation of {owner} must be unsigned"),
                format!("`{}`", show_int(d.repr)),
                format!("`u{}`", d.repr.bits),
            );
        }
        let max = int_range(IntType {
            signed: false,
            ..d.repr
        })
        .1;
        for (n, f) in d.flags.iter().enumerate() {
            if f.mask == 0 {
                self.report(
                    f.name.span,
                    format!("flag `{}` has an empty mask", f.name),
                    format!("`{} = 0`", f.name),
                    "a mask with at least one bit set",
                );
                continue;
            }
            if i128::from(f.mask) > max {
                self.report(
                    f.name.span,
                    format!(
                        "mask {:#x} of flag `{}` does not fit the representation `{}` of {owner}",
                        f.mask,
                        f.name,
                        show_int(d.repr)
                    ),
                    format!("`{} = {:#x}`", f.name, f.mask),
                    format!("a mask within {max:#x}"),
                );
                continue;
            }
            for g in d.flags.iter().take(n) {
                let common = f.mask & g.mask;
                if common != 0 && g.name.name != f.name.name {
                    let e = self
                        .error(
                            f.name.span,
                            format!(
                                "flags `{}` ({:#x}) and `{}` ({:#x}) overlap in bits {common:#x}",
                                f.name, f.mask, g.name, g.mask
                            ),
                            format!("`{} = {:#x}`", f.name, f.mask),
                            format!("a mask without the bits of `{}`", g.name),
                        )
                        .with_note(g.name.span, format!("`{}` is declared here", g.name));
                    self.push(e);
                    break;
                }
            }
        }
    }

    fn bits_def(&mut self, d: &'s BitsDef) {
        let owner = format!("bits `{}`", d.name);
        self.duplicates(d.fields.iter().map(|f| &f.name), "field", &owner);
        if d.repr.signed || !d.repr.bits.is_multiple_of(8) {
            self.report(
                d.name.span,
                format!("the representation of {owner} must be an unsigned whole-byte integer"),
                format!("`{}`", show_int(d.repr)),
                "u8, u16, u24, ..., u64",
            );
        }
        let mut total: u32 = 0;
        let mut widths: Vec<Option<u8>> = Vec::new();
        for f in &d.fields {
            let width = match &f.ty {
                BitType::Bool => Some(1),
                BitType::Uint(b) => Some(*b),
                BitType::Named(n) => match self.items.get(n.name.as_str()) {
                    Some(Item::Enum(e)) => Some(e.repr.bits),
                    Some(Item::Flags(e)) => Some(e.repr.bits),
                    Some(other) => {
                        self.report(
                            n.span,
                            format!(
                                "bit field `{}` has type `{n}`, which is {}; bit fields are `bool`, `uN`, or an enum or flags type",
                                f.name,
                                item_kind(other)
                            ),
                            format!("`{n}`"),
                            "`bool`, `u1`..`u64`, or an enum or flags type",
                        );
                        None
                    }
                    None => {
                        self.unknown_type(
                            n,
                            "`bool`, `u1`..`u64`, or a declared enum or flags type",
                            |i| matches!(i, Item::Enum(_) | Item::Flags(_)),
                        );
                        None
                    }
                },
            };
            widths.push(width);
            total += u32::from(width.unwrap_or(0));
        }
        if widths.iter().all(Option::is_some) && total != u32::from(d.repr.bits) {
            self.report(
                d.name.span,
                format!(
                    "the fields of {owner} add up to {total} bit{}, but its representation `{}` has {}",
                    plural(usize::try_from(total).unwrap_or(0)),
                    show_int(d.repr),
                    d.repr.bits
                ),
                format!("{total} bits"),
                format!("fields adding up to {} bits", d.repr.bits),
            );
        }
        let entries: Vec<Entry<'s>> = d
            .fields
            .iter()
            .enumerate()
            .map(|(n, f)| Entry {
                name: &f.name,
                ty: self.vty_of_bit(&f.ty),
                field: Some(n),
                decl: None,
            })
            .collect();
        for (n, f) in d.fields.iter().enumerate() {
            let hint = enum_of(self.vty_of_bit(&f.ty));
            if let Some(e) = &f.derive {
                // A constant: no fields in scope.
                let ctx = Ctx {
                    owner: &owner,
                    names: &[],
                    current: Some(n),
                    mode: Mode::Plain,
                    self_ty: None,
                    at: f.name.span,
                    separated: false,
                };
                self.expr(e, ctx, hint);
                let width = widths.get(n).copied().flatten().unwrap_or(64);
                if let Some(v) = const_eval(e) {
                    let max = int_range(IntType {
                        bits: width,
                        signed: false,
                        order: None,
                    })
                    .1;
                    if v < 0 || v > max {
                        self.report(
                            e.span,
                            format!(
                                "value {v} of bit field `{}` does not fit in {width} bit{}",
                                f.name,
                                plural(usize::from(width))
                            ),
                            format!("`{v}`"),
                            format!("a value in 0..={max}"),
                        );
                    }
                }
            }
            if let Some(e) = &f.constraint {
                let ctx = Ctx {
                    owner: &owner,
                    names: &entries,
                    current: Some(n),
                    mode: Mode::Where,
                    self_ty: None,
                    at: f.name.span,
                    separated: false,
                };
                self.expr(e, ctx, hint);
            }
        }
    }

    fn extern_def(&mut self, d: &'s ExternDef) {
        let valid = !d.rust_path.is_empty()
            && d.rust_path
                .strip_prefix("::")
                .unwrap_or(&d.rust_path)
                .split("::")
                .all(is_rust_ident);
        if !valid {
            self.report(
                d.name.span,
                format!(
                    "the implementation of transform `{}` is not a Rust path",
                    d.name
                ),
                format!("\"{}\"", d.rust_path),
                "a Rust type path such as \"my_crate::transforms::ZeroRun\"",
            );
        }
    }

    fn record_def(&mut self, d: &'s RecordDef) {
        let kind = if d.is_frame { "frame" } else { "record" };
        let owner = format!("{kind} `{}`", d.name);
        self.duplicates(
            d.params
                .iter()
                .map(|p| &p.name)
                .chain(d.fields.iter().map(|f| &f.name)),
            "field or parameter",
            &owner,
        );
        self.check_params(&d.params, &owner);
        let mut entries: Vec<Entry<'s>> = d
            .params
            .iter()
            .map(|p| Entry {
                name: &p.name,
                ty: self.vty_of_type(&p.ty),
                field: None,
                decl: Some(&p.ty),
            })
            .collect();
        for (n, f) in d.fields.iter().enumerate() {
            entries.push(Entry {
                name: &f.name,
                ty: self.vty_of_type(&f.ty),
                field: Some(n),
                decl: Some(&f.ty),
            });
        }
        for (n, f) in d.fields.iter().enumerate() {
            self.field(d, n, f, &owner, &entries);
        }
        if let Some(sep) = d.separator {
            self.separated_record(d, sep, &owner);
            return;
        }
        for f in &d.fields {
            if self.carries_parts(&f.ty) {
                self.report(
                    f.name.span,
                    format!(
                        "field `{}` of the binary {owner} holds a separated (text) record, whose parts need a delimited region of their own",
                        f.name
                    ),
                    format!("`{}: {}`", f.name, show_type(&f.ty)),
                    "a byte run (`bytes[n]`), decoded with the text record's `decode_exact`",
                );
            }
        }
        // `..` only at the end.
        let count = d.fields.len();
        for (n, f) in d.fields.iter().enumerate() {
            if n + 1 < count && self.consumes_rest(&f.ty, 0) {
                let mut e = self.error(
                    f.name.span,
                    format!(
                        "field `{}` extends to the end of the region (`..`), but it is not the last field of {owner}",
                        f.name
                    ),
                    format!("`{}: {}`", f.name, show_type(&f.ty)),
                    "`..` only in the last field, or a region `T within n`",
                );
                if let Some(next) = d.fields.get(n + 1) {
                    e = e.with_note(next.name.span, format!("field `{}` follows it", next.name));
                }
                self.push(e);
            }
        }
    }

    /// Rules of separated (text) records: one part per field, except records, unions and
    /// `..` arrays, whose parts continue the sequence.
    fn separated_record(&mut self, d: &'s RecordDef, sep: Separator, owner: &str) {
        if d.is_frame {
            self.report(
                sep.span,
                format!("{owner} cannot be separated: a frame is the unit of a byte stream, and parts need a region that is already delimited"),
                "`separated(..)` on a frame".to_string(),
                "a `record ... separated(..)` carried by a frame's byte run",
            );
        }
        let mut optional_from: Option<&Field> = None;
        let count = d.fields.len();
        for (n, f) in d.fields.iter().enumerate() {
            let more = f.condition.as_ref().is_some_and(is_more_call);
            let spread_array = matches!(
                &f.ty,
                Type::Array {
                    count: Size::Rest,
                    ..
                }
            );
            if let Some(first) = optional_from
                && !more
                && !(spread_array && n + 1 == count)
            {
                self.push(
                    self.error(
                        f.name.span,
                        format!(
                            "field `{}` follows the optional field `{}` (`if more()`), so it must be optional the same way, or be a last `..` array",
                            f.name, first.name
                        ),
                        format!("`{}`", f.name),
                        "`if more()` on every field after the first such field",
                    )
                    .with_note(first.name.span, format!("`{}` is optional here", first.name)),
                );
            }
            if more && optional_from.is_none() {
                optional_from = Some(f);
            }
            if spread_array && n + 1 < count {
                self.report(
                    f.name.span,
                    format!(
                        "the `..` array `{}` takes every remaining part, so it must be the last field of {owner}",
                        f.name
                    ),
                    format!("`{}: {}`", f.name, show_type(&f.ty)),
                    "a `..` array as the last field",
                );
            }
            if let Type::Array { elem, .. } = &f.ty
                && self.is_spread(elem)
            {
                self.report(
                    f.name.span,
                    "array elements of a separated record are single parts, not records or unions",
                    format!("`{}: {}`", f.name, show_type(&f.ty)),
                    "an array of `str[..]`, `bytes[..]`, `decimal(..)` or integers",
                );
            }
            if let Type::Named { name, .. } = &f.ty
                && let Some(Item::Union(u)) = self.items.get(name.name.as_str())
            {
                for a in &u.arms {
                    if let ArmBody::Variant {
                        payload: Some(p), ..
                    } = &a.body
                        && !self.is_separated_record(p)
                    {
                        self.push(
                            self.error(
                                f.name.span,
                                format!(
                                    "field `{}` of {owner} is the union `{}`, whose arms must carry separated records (their parts continue the sequence), but arm `{}` carries `{}`",
                                    f.name,
                                    u.name,
                                    match &a.body {
                                        ArmBody::Variant { name, .. } => name.name.as_str(),
                                        ArmBody::Reject => "reject",
                                    },
                                    show_type(p)
                                ),
                                format!("`{}`", show_type(p)),
                                "a record declared with `separated(..)`",
                            )
                            .with_note(pattern_span(&a.pattern), "the arm"),
                        );
                    }
                }
            }
        }
    }

    /// A type that is, or directly contains, a separated record (through arrays,
    /// `within` or union arms).
    fn carries_parts(&self, ty: &Type) -> bool {
        match ty {
            Type::Array { elem, .. } => self.carries_parts(elem),
            Type::Within { inner, .. } => self.carries_parts(inner),
            Type::Named { name, .. } => match self.items.get(name.name.as_str()) {
                Some(Item::Record(r)) => r.separator.is_some(),
                Some(Item::Union(u)) => u.arms.iter().any(|a| {
                    matches!(&a.body, ArmBody::Variant { payload: Some(p), .. } if self.is_separated_record(p))
                }),
                _ => false,
            },
            _ => false,
        }
    }

    /// A type whose parts continue the enclosing separated record's sequence.
    fn is_spread(&self, ty: &Type) -> bool {
        match ty {
            Type::Named { name, .. } => match self.items.get(name.name.as_str()) {
                Some(Item::Record(r)) => r.separator.is_some(),
                Some(Item::Union(_)) => true,
                _ => false,
            },
            _ => false,
        }
    }

    fn is_separated_record(&self, ty: &Type) -> bool {
        matches!(ty, Type::Named { name, .. }
            if matches!(self.items.get(name.name.as_str()), Some(Item::Record(r)) if r.separator.is_some()))
    }

    fn field(
        &mut self,
        d: &'s RecordDef,
        n: usize,
        f: &'s Field,
        owner: &str,
        entries: &[Entry<'s>],
    ) {
        let ctx = |mode| Ctx {
            owner,
            names: entries,
            current: Some(n),
            mode,
            self_ty: None,
            at: f.name.span,
            separated: d.separator.is_some(),
        };
        self.check_type(&f.ty, ctx(Mode::Plain));
        if let Some(c) = &f.condition {
            if is_more_call(c) {
                if d.separator.is_none() {
                    self.report(
                        c.span,
                        format!(
                            "`more()` (another part follows) only exists in separated records, and {owner} is binary"
                        ),
                        "`more()`".to_string(),
                        "a condition over earlier fields and parameters",
                    );
                }
            } else {
                self.expr(c, ctx(Mode::Plain), None);
            }
        }
        let own = self.vty_of_type(&f.ty);
        if let Some(e) = &f.derive {
            if is_crc_call(e) {
                self.crc_field(d, f, e);
            } else {
                if !matches!(
                    own,
                    VTy::Int | VTy::Enum(_) | VTy::Flags(_) | VTy::Bits(_) | VTy::Unknown
                ) {
                    self.report(
                        f.name.span,
                        format!(
                            "field `{}` is derived (`= ..`), but its type `{}` is not an integer",
                            f.name,
                            show_type(&f.ty)
                        ),
                        format!("`{}: {}`", f.name, show_type(&f.ty)),
                        "an integer, enum, flags or bits type for a derived field",
                    );
                }
                self.expr(e, ctx(Mode::Derive), enum_of(own));
                if let (Some(v), Type::Int(t)) = (const_eval(e), &f.ty) {
                    let (min, max) = int_range(*t);
                    if v < min || v > max {
                        self.report(
                            e.span,
                            format!(
                                "constant {v} of field `{}` does not fit its type `{}`",
                                f.name,
                                show_int(*t)
                            ),
                            format!("`{v}`"),
                            format!("a value in {min}..={max}"),
                        );
                    }
                }
            }
        }
        if let Some(c) = &f.constraint {
            self.expr(c, ctx(Mode::Where), enum_of(own));
        }
        if let Some(t) = &f.transform {
            match self.items.get(t.name.name.as_str()) {
                Some(Item::Extern(x)) if x.kind == ExternKind::Transform => {}
                Some(other) => {
                    self.report(
                        t.name.span,
                        format!(
                            "`{}` is {}, not an extern transform",
                            t.name,
                            item_kind(other)
                        ),
                        format!("`{}`", t.name),
                        "the name of an `extern transform`",
                    );
                }
                None => {
                    let names = self.item_names(|i| matches!(i, Item::Extern(_)));
                    let mut message = format!("unknown transform `{}`", t.name);
                    if let Some(s) = suggest(&t.name.name, names.iter().copied()) {
                        message.push_str(&format!("; did you mean `{s}`?"));
                    }
                    let expected = if names.is_empty() {
                        "the name of an `extern transform` item (none is declared)".to_string()
                    } else {
                        format!("the name of an `extern transform`: {}", list(&names))
                    };
                    self.report(t.name.span, message, format!("`{}`", t.name), expected);
                }
            }
            if let Some(c) = &t.condition {
                self.expr(c, ctx(Mode::Plain), None);
            }
        }
    }

    fn crc_field(&mut self, d: &'s RecordDef, f: &'s Field, e: &'s Expr) {
        if let ExprKind::Call { args, .. } = &e.kind {
            let ok = matches!(args.as_slice(), [a] if matches!(&a.kind, ExprKind::Path(s) if s.len() == 1 && s.first().is_some_and(|x| x.name == "frame")));
            if !ok {
                let at = args.first().map_or(e.span, |a| a.span);
                self.report(
                    at,
                    "the checksum covers the whole frame: write `crc16_modbus(frame)`",
                    format!("`{}`", show_expr(e)),
                    "`frame`",
                );
            }
        }
        let ok = matches!(
            f.ty,
            Type::Int(IntType {
                bits: 16,
                signed: false,
                ..
            })
        );
        if !ok {
            self.report(
                f.name.span,
                format!(
                    "checksum field `{}` of `{}` must be a 16-bit unsigned integer (`u16`)",
                    f.name, d.name
                ),
                format!("`{}: {}`", f.name, show_type(&f.ty)),
                "`u16`, `u16le` or `u16be`",
            );
        }
        if f.condition.is_some() {
            self.report(
                f.name.span,
                format!("checksum field `{}` cannot be optional (`if`)", f.name),
                format!("`{}`", f.name),
                "a checksum field without `if`",
            );
        }
    }

    fn union_def(&mut self, d: &'s UnionDef) {
        let owner = format!("union `{}`", d.name);
        self.duplicates(d.params.iter().map(|p| &p.name), "parameter", &owner);
        self.check_params(&d.params, &owner);
        let variant_names = d.arms.iter().filter_map(|a| match &a.body {
            ArmBody::Variant { name, .. } => Some(name),
            ArmBody::Reject => None,
        });
        self.duplicates(variant_names, "variant", &owner);
        if d.arms.is_empty() {
            self.report(
                d.name.span,
                format!("{owner} has no arms"),
                format!("`{}`", d.name),
                "at least one arm (`pattern => Variant(Type);`)",
            );
        }

        // The tag's type and domain.
        let tag = d.params.first();
        let (tag_enum, domain): (Option<&'s EnumDef>, Option<(i128, i128)>) =
            match tag.map(|p| &p.ty) {
                Some(Type::Int(t)) => (None, Some(int_range(*t))),
                Some(Type::Named { name, .. }) => match self.items.get(name.name.as_str()) {
                    Some(Item::Enum(e)) => (Some(e), Some(int_range(e.repr))),
                    Some(_) => {
                        if let Some(p) = tag {
                            self.report(
                                p.name.span,
                                format!(
                                    "the tag `{}` of {owner} must be an integer or an enum",
                                    p.name
                                ),
                                format!("`{}`", show_type(&p.ty)),
                                "an integer type or an enum",
                            );
                        }
                        (None, None)
                    }
                    None => (None, None),
                },
                _ => (None, None),
            };
        let tag_name = tag.map_or_else(|| "tag".to_string(), |p| p.name.name.clone());
        let tag_ty = tag.map_or_else(String::new, |p| show_type(&p.ty));

        let entries: Vec<Entry<'s>> = d
            .params
            .iter()
            .map(|p| Entry {
                name: &p.name,
                ty: self.vty_of_type(&p.ty),
                field: None,
                decl: Some(&p.ty),
            })
            .collect();

        let mut covered: Vec<(i128, i128, Span)> = Vec::new();
        let mut wildcard: Option<Span> = None;
        for arm in &d.arms {
            let pspan = pattern_span(&arm.pattern);
            // Resolve the pattern to an interval.
            let interval = match &arm.pattern {
                Pattern::Wildcard(_) => None,
                Pattern::Value(v) => self
                    .pat_value(v, tag_enum, domain, &tag_name, &tag_ty)
                    .map(|x| (x, x)),
                Pattern::Range(a, b) => {
                    let lo = self.pat_value(a, tag_enum, domain, &tag_name, &tag_ty);
                    let hi = self.pat_value(b, tag_enum, domain, &tag_name, &tag_ty);
                    match (lo, hi) {
                        (Some(lo), Some(hi)) if lo > hi => {
                            self.report(
                                pspan,
                                format!("the range {lo}..={hi} is empty"),
                                format!("`{lo}..={hi}`"),
                                "a range `low..=high` with low <= high",
                            );
                            None
                        }
                        (Some(lo), Some(hi)) => Some((lo, hi)),
                        _ => None,
                    }
                }
            };
            // Reachability.
            if let Some(w) = wildcard {
                let e = self
                    .error(
                        pspan,
                        format!(
                            "this arm can never match: the `_` arm at line {} matches every tag",
                            w.line
                        ),
                        found_pattern(&arm.pattern),
                        "no arms after `_`",
                    )
                    .with_note(w, "the `_` arm is here");
                self.push(e);
            } else if let Pattern::Wildcard(span) = &arm.pattern {
                if let Some((lo, hi)) = domain
                    && covers(&covered, lo, hi)
                {
                    self.report(
                        pspan,
                        format!(
                            "this `_` arm can never match: the arms above cover every value of `{tag_ty}`"
                        ),
                        "`_`",
                        "no `_` arm",
                    );
                }
                wildcard = Some(*span);
            } else if let Some((lo, hi)) = interval {
                let overlapping: Vec<(i128, i128, Span)> = covered
                    .iter()
                    .copied()
                    .filter(|(a, b, _)| *a <= hi && *b >= lo)
                    .collect();
                if !overlapping.is_empty() && covers(&overlapping, lo, hi) {
                    let what = if lo == hi {
                        format!("value {} is", num(lo))
                    } else {
                        format!("every value of {} is", num_range(lo, hi))
                    };
                    let lines: Vec<String> = overlapping
                        .iter()
                        .map(|(_, _, s)| s.line.to_string())
                        .collect();
                    let by = if lines.len() == 1 {
                        format!("the arm at line {}", lines.join(""))
                    } else {
                        format!("the arms at lines {}", lines.join(", "))
                    };
                    let mut e = self.error(
                        pspan,
                        format!("this arm can never match: {what} already matched by {by}"),
                        found_pattern(&arm.pattern),
                        "a tag value not matched by an earlier arm",
                    );
                    for (_, _, s) in &overlapping {
                        e = e.with_note(*s, "an earlier arm matching it");
                    }
                    self.push(e);
                }
                covered.push((lo, hi, pspan));
            }

            // Body.
            let ArmBody::Variant { name, payload, tag } = &arm.body else {
                continue;
            };
            let single = matches!(arm.pattern, Pattern::Value(_));
            match (single, payload, tag) {
                (true, _, Some(t)) => {
                    self.report(
                        t.span,
                        format!(
                            "arm `{name}` matches a single value, which is written as its tag; remove `= {}`",
                            show_expr(t)
                        ),
                        format!("`= {}`", show_expr(t)),
                        "`;`",
                    );
                }
                (false, None, _) => {
                    self.report(
                        name.span,
                        format!(
                            "variant `{name}` has no payload, so a range or `_` arm cannot know which tag to write when encoding; give each value its own arm, or a payload that stores the tag"
                        ),
                        found_pattern(&arm.pattern),
                        "a single-value pattern for a unit variant",
                    );
                }
                (false, Some(p), None) => {
                    let example = match self.vty_of_type(p) {
                        VTy::Record(r) => r
                            .params
                            .first()
                            .map(|x| format!(", e.g. `= self.{}`", x.name))
                            .unwrap_or_default(),
                        VTy::Other("a byte run" | "text" | "an array") => {
                            ", e.g. `= len(self)`".to_string()
                        }
                        _ => String::new(),
                    };
                    self.report(
                        name.span,
                        format!(
                            "arm `{name}` matches several tags, so it needs `= expr` giving the tag to write from the payload (`self`){example}"
                        ),
                        format!("`{name}(..);`"),
                        format!("`{name}(..) = <tag expression>;`"),
                    );
                }
                _ => {}
            }
            if let Some(p) = payload {
                let ctx = Ctx {
                    owner: &owner,
                    names: &entries,
                    current: None,
                    mode: Mode::Plain,
                    self_ty: None,
                    at: name.span,
                    separated: false,
                };
                self.check_type(p, ctx);
            }
            if let Some(t) = tag
                && !single
            {
                let ctx = Ctx {
                    owner: &owner,
                    names: &entries,
                    current: None,
                    mode: Mode::ArmTag,
                    self_ty: payload.as_ref(),
                    at: name.span,
                    separated: false,
                };
                self.expr(t, ctx, tag_enum);
            }
        }
    }

    /// The integer value of a pattern value; reports values that do not fit the tag.
    fn pat_value(
        &mut self,
        v: &PatValue,
        tag_enum: Option<&'s EnumDef>,
        domain: Option<(i128, i128)>,
        tag_name: &str,
        tag_ty: &str,
    ) -> Option<i128> {
        let (value, span) = match v {
            PatValue::Int(x, span) => (*x, *span),
            PatValue::Const(id) => {
                let Some(e) = tag_enum else {
                    let expected = if tag_ty.is_empty() {
                        "an integer".to_string()
                    } else {
                        format!("an integer (the tag `{tag_name}` is `{tag_ty}`)")
                    };
                    self.report(
                        id.span,
                        format!(
                            "`{id}` is not a value: the tag `{tag_name}` is not an enum, so patterns are integers"
                        ),
                        format!("`{id}`"),
                        expected,
                    );
                    return None;
                };
                match e.variants.iter().find(|x| x.name.name == id.name) {
                    Some(x) => (x.value, id.span),
                    None => {
                        let all: Vec<&str> =
                            e.variants.iter().map(|x| x.name.name.as_str()).collect();
                        let mut message = format!("`{id}` is not a constant of enum `{}`", e.name);
                        if let Some(s) = suggest(&id.name, all.iter().copied()) {
                            message.push_str(&format!("; did you mean `{s}`?"));
                        }
                        self.report(
                            id.span,
                            message,
                            format!("`{id}`"),
                            format!("a constant of enum `{}`: {}", e.name, list(&all)),
                        );
                        return None;
                    }
                }
            }
        };
        if let Some((lo, hi)) = domain
            && (value < lo || value > hi)
        {
            self.report(
                span,
                format!(
                    "tag value {} does not fit the tag `{tag_name}: {tag_ty}`",
                    num(value)
                ),
                format!("`{value}`"),
                format!("a value in {lo}..={hi}"),
            );
            return None;
        }
        Some(value)
    }

    // --------------------------------------------------------------------------------
    // Whole-spec checks
    // --------------------------------------------------------------------------------

    /// Does this type extend to the end of its region (`..`, not inside `within`)?
    fn consumes_rest(&self, ty: &Type, depth: usize) -> bool {
        if depth > 32 {
            return false;
        }
        match ty {
            Type::Bytes(Size::Rest) | Type::Str(Size::Rest) | Type::Decimal(_) => true,
            Type::Array {
                count: Size::Rest, ..
            } => true,
            Type::Named { name, .. } => match self.items.get(name.name.as_str()) {
                // A separated record takes its parts up to the end of its region.
                Some(Item::Record(r)) if r.separator.is_some() => true,
                Some(Item::Record(r)) => r
                    .fields
                    .last()
                    .is_some_and(|f| self.consumes_rest(&f.ty, depth + 1)),
                Some(Item::Union(u)) => u.arms.iter().any(|a| match &a.body {
                    ArmBody::Variant {
                        payload: Some(p), ..
                    } => self.consumes_rest(p, depth + 1),
                    _ => false,
                }),
                _ => false,
            },
            _ => false,
        }
    }

    /// Records and unions that contain themselves without an array in between.
    fn recursion(&mut self) {
        let items = &self.spec.protocol.items;
        let index: HashMap<&str, usize> = items
            .iter()
            .enumerate()
            .map(|(n, i)| (i.name().name.as_str(), n))
            .collect();
        // Direct containment edges: (from item, to item, field/arm label, type name).
        let mut edges: Vec<Vec<(usize, String, &'s Ident)>> = vec![Vec::new(); items.len()];
        for (n, item) in self.spec.protocol.items.iter().enumerate() {
            let mut out = Vec::new();
            match item {
                Item::Record(r) => {
                    for f in &r.fields {
                        for id in direct_refs(&f.ty) {
                            out.push((f.name.name.clone(), id));
                        }
                    }
                }
                Item::Union(u) => {
                    for a in &u.arms {
                        if let ArmBody::Variant {
                            name,
                            payload: Some(p),
                            ..
                        } = &a.body
                        {
                            for id in direct_refs(p) {
                                out.push((name.name.clone(), id));
                            }
                        }
                    }
                }
                _ => {}
            }
            for (label, id) in out {
                if let Some(&to) = index.get(id.name.as_str())
                    && matches!(items.get(to), Some(Item::Record(_) | Item::Union(_)))
                    && let Some(v) = edges.get_mut(n)
                {
                    v.push((to, label, id));
                }
            }
        }
        // For each item, find a cycle back to it through items declared after it (so
        // each cycle is reported once, at its first item).
        let mut reported: HashSet<usize> = HashSet::new();
        for start in 0..items.len() {
            // BFS storing the predecessor edge.
            let mut prev: HashMap<usize, (usize, usize)> = HashMap::new(); // node -> (from, edge idx)
            let mut queue = VecDeque::new();
            queue.push_back(start);
            let mut closing: Option<(usize, usize)> = None;
            while let Some(node) = queue.pop_front() {
                let Some(out) = edges.get(node) else { continue };
                for (k, (to, _, _)) in out.iter().enumerate() {
                    if *to == start {
                        closing = Some((node, k));
                        break;
                    }
                    if *to > start && !prev.contains_key(to) {
                        prev.insert(*to, (node, k));
                        queue.push_back(*to);
                    }
                }
                if closing.is_some() {
                    break;
                }
            }
            let Some((last, k)) = closing else { continue };
            if !reported.insert(start) {
                continue;
            }
            // Rebuild the path start -> ... -> last -> start.
            let mut path: Vec<(usize, usize)> = vec![(last, k)];
            let mut node = last;
            let mut guard = 0;
            while node != start && guard <= items.len() {
                let Some(&(from, e)) = prev.get(&node) else {
                    break;
                };
                path.push((from, e));
                node = from;
                guard += 1;
            }
            path.reverse();
            let mut chain = Vec::new();
            for (from, e) in &path {
                if let (Some(item), Some((_, label, _))) =
                    (items.get(*from), edges.get(*from).and_then(|v| v.get(*e)))
                {
                    chain.push(format!("{}.{label}", item.name()));
                }
            }
            let Some(item) = items.get(start) else {
                continue;
            };
            chain.push(item.name().name.clone());
            let Some((first_from, first_e)) = path.first() else {
                continue;
            };
            let Some((_, label, id)) = edges.get(*first_from).and_then(|v| v.get(*first_e)) else {
                continue;
            };
            let kind = match item {
                Item::Record(r) if r.is_frame => "frame",
                Item::Record(_) => "record",
                _ => "union",
            };
            self.report(
                id.span,
                format!(
                    "{kind} `{}` contains itself ({}) with no array in between, so it would be infinitely large",
                    item.name(),
                    chain.join(" → ")
                ),
                format!("`{label}: {id}`"),
                format!("an array (`{id}[n]`) or a type that does not contain `{}`", item.name()),
            );
        }
    }

    /// `crc16_modbus(frame)` fields must not be inside a `within` region.
    fn checksums_in_regions(&mut self) {
        let items = &self.spec.protocol.items;
        let mut has_crc: HashSet<&str> = items
            .iter()
            .filter_map(|i| match i {
                Item::Record(r)
                    if r.fields
                        .iter()
                        .any(|f| f.derive.as_ref().is_some_and(is_crc_call)) =>
                {
                    Some(r.name.name.as_str())
                }
                _ => None,
            })
            .collect();
        if has_crc.is_empty() {
            return;
        }
        // Propagate: an item containing (anywhere) an item with a checksum has one too.
        loop {
            let mut changed = false;
            for item in items {
                let name = item.name().name.as_str();
                if has_crc.contains(name) {
                    continue;
                }
                let mut refs = Vec::new();
                item_types(item, |t| all_refs(t, &mut refs));
                if refs.iter().any(|id| has_crc.contains(id.name.as_str())) {
                    has_crc.insert(name);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut bad = Vec::new();
        for item in items {
            item_types(item, |t| within_refs(t, false, &mut bad));
        }
        for id in bad {
            if has_crc.contains(id.name.as_str()) {
                self.report(
                    id.span,
                    format!(
                        "`{id}` contains a `crc16_modbus(frame)` checksum, which cannot be inside a `within` region (the checksum covers the whole frame)"
                    ),
                    format!("`{id}`"),
                    "a type without a checksum inside `within`",
                );
            }
        }
    }
}

// ------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------

fn enum_of(t: VTy<'_>) -> Option<&EnumDef> {
    match t {
        VTy::Enum(d) => Some(d),
        _ => None,
    }
}

/// Why a value of type `got` cannot be passed where `want` is expected, if it cannot.
fn mismatch(want: VTy<'_>, got: VTy<'_>) -> Option<String> {
    match (want, got) {
        (_, VTy::Unknown) | (VTy::Unknown, _) => None,
        (VTy::Enum(a), VTy::Enum(b)) if a.name != b.name => Some(want.describe()),
        (VTy::Flags(a), VTy::Flags(b)) if a.name != b.name => Some(want.describe()),
        (VTy::Bits(a), VTy::Bits(b)) if a.name != b.name => Some(want.describe()),
        (VTy::Flags(_) | VTy::Bits(_), VTy::Enum(_) | VTy::Bool) => Some(want.describe()),
        (VTy::Enum(_) | VTy::Flags(_), VTy::Bits(_)) => Some(want.describe()),
        (VTy::Enum(_), VTy::Flags(_)) => Some(want.describe()),
        _ => None,
    }
}

/// `more()`: the whole condition of an optional part.
fn is_more_call(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Call { func, args } if func.name == "more" && args.is_empty())
}

fn is_crc_call(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Call { func, .. } if func.name == "crc16_modbus")
}

fn unwrap_within(t: &Type) -> &Type {
    match t {
        Type::Within { inner, .. } => unwrap_within(inner),
        other => other,
    }
}

/// Named record/union types contained directly (not through an array).
fn direct_refs(t: &Type) -> Vec<&Ident> {
    match t {
        Type::Named { name, .. } => vec![name],
        Type::Within { inner, .. } => direct_refs(inner),
        _ => Vec::new(),
    }
}

/// Every named type mentioned in a type.
fn all_refs<'t>(t: &'t Type, out: &mut Vec<&'t Ident>) {
    match t {
        Type::Named { name, .. } => out.push(name),
        Type::Within { inner, .. } => all_refs(inner, out),
        Type::Array { elem, .. } => all_refs(elem, out),
        _ => {}
    }
}

/// Named types inside a `within` region.
fn within_refs<'t>(t: &'t Type, inside: bool, out: &mut Vec<&'t Ident>) {
    match t {
        Type::Named { name, .. } if inside => out.push(name),
        Type::Within { inner, .. } => within_refs(inner, true, out),
        Type::Array { elem, .. } => within_refs(elem, inside, out),
        _ => {}
    }
}

/// Calls `f` on every field type and arm payload of an item.
fn item_types<'t>(item: &'t Item, mut f: impl FnMut(&'t Type)) {
    match item {
        Item::Record(r) => r.fields.iter().for_each(|x| f(&x.ty)),
        Item::Union(u) => {
            for a in &u.arms {
                if let ArmBody::Variant {
                    payload: Some(p), ..
                } = &a.body
                {
                    f(p);
                }
            }
        }
        _ => {}
    }
}

fn first_span_of_type(t: &Type) -> Option<Span> {
    match t {
        Type::Named { name, .. } => Some(name.span),
        Type::DynUint { span, .. } => Some(*span),
        Type::Array { elem, .. } => first_span_of_type(elem),
        Type::Within { inner, .. } => first_span_of_type(inner),
        Type::Bytes(Size::Expr(e)) | Type::Str(Size::Expr(e)) => Some(e.span),
        _ => None,
    }
}

fn pattern_span(p: &Pattern) -> Span {
    match p {
        Pattern::Wildcard(s) => *s,
        Pattern::Value(v) | Pattern::Range(v, _) => pat_value_span(v),
    }
}

fn pat_value_span(v: &PatValue) -> Span {
    match v {
        PatValue::Int(_, s) => *s,
        PatValue::Const(id) => id.span,
    }
}

/// Do the intervals cover all of `lo..=hi`?
fn covers(intervals: &[(i128, i128, Span)], lo: i128, hi: i128) -> bool {
    let mut v: Vec<(i128, i128)> = intervals
        .iter()
        .map(|(a, b, _)| ((*a).max(lo), (*b).min(hi)))
        .filter(|(a, b)| a <= b)
        .collect();
    v.sort_unstable();
    let mut next = lo;
    for (a, b) in v {
        if a > next {
            return false;
        }
        if b >= next {
            next = b.saturating_add(1);
        }
        if next > hi {
            return true;
        }
    }
    next > hi
}

/// The range of values of an integer type.
fn int_range(t: IntType) -> (i128, i128) {
    let bits = u32::from(t.bits.clamp(1, 64));
    if t.signed {
        let half = 1i128 << (bits - 1);
        (-half, half - 1)
    } else {
        (0, (1i128 << bits) - 1)
    }
}

/// Value of a constant expression, if it is one.
fn const_eval(e: &Expr) -> Option<i128> {
    match &e.kind {
        ExprKind::Int(v) => Some(*v),
        ExprKind::Bool(b) => Some(i128::from(*b)),
        ExprKind::Unary(UnOp::Neg, a) => const_eval(a)?.checked_neg(),
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (const_eval(a)?, const_eval(b)?);
            match op {
                BinOp::Add => a.checked_add(b),
                BinOp::Sub => a.checked_sub(b),
                BinOp::Mul => a.checked_mul(b),
                BinOp::Div => a.checked_div(b),
                BinOp::Rem => a.checked_rem(b),
                BinOp::Shl => u32::try_from(b)
                    .ok()
                    .filter(|s| *s < 127)
                    .and_then(|s| a.checked_shl(s)),
                BinOp::Shr => u32::try_from(b)
                    .ok()
                    .filter(|s| *s < 127)
                    .and_then(|s| a.checked_shr(s)),
                BinOp::BitOr => Some(a | b),
                BinOp::BitAnd => Some(a & b),
                _ => None,
            }
        }
        _ => None,
    }
}

fn is_rust_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn item_kind(item: &Item) -> &'static str {
    match item {
        Item::Enum(_) => "an enum",
        Item::Flags(_) => "a flags type",
        Item::Bits(_) => "a bits type",
        Item::Record(r) if r.is_frame => "a frame",
        Item::Record(_) => "a record",
        Item::Union(_) => "a union",
        Item::Extern(_) => "an extern transform",
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `a`, `b` and `c` as "`a`, `b`, `c`" (at most 12 names).
fn list(names: &[&str]) -> String {
    let mut s: Vec<String> = names.iter().take(12).map(|n| format!("`{n}`")).collect();
    if names.len() > 12 {
        s.push("...".to_string());
    }
    if s.is_empty() {
        "none".to_string()
    } else {
        s.join(", ")
    }
}

/// The closest name within a small edit distance.
fn suggest<'n>(name: &str, candidates: impl Iterator<Item = &'n str>) -> Option<&'n str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .filter(|c| *c != name)
        .map(|c| (edit_distance(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let cur = row.get(j + 1).copied().unwrap_or(0);
            let left = row.get(j).copied().unwrap_or(0);
            let val = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(left)
            };
            if let Some(slot) = row.get_mut(j + 1) {
                *slot = val;
            }
            prev = cur;
        }
    }
    row.last().copied().unwrap_or(0)
}

fn show_int(t: IntType) -> String {
    let mut s = format!("{}{}", if t.signed { 'i' } else { 'u' }, t.bits);
    match t.order {
        Some(ByteOrder::Little) => s.push_str("le"),
        Some(ByteOrder::Big) => s.push_str("be"),
        None => {}
    }
    s
}

fn show_size(s: &Size) -> String {
    match s {
        Size::Rest => "..".to_string(),
        Size::Expr(e) => show_expr(e),
    }
}

/// A type as it would be written.
fn show_type(t: &Type) -> String {
    match t {
        Type::Int(i) => show_int(*i),
        Type::DynUint { width, .. } => format!("uint({})", show_expr(width)),
        Type::MqttVarint => "mqtt_varint".to_string(),
        Type::Intser => "intser".to_string(),
        Type::Bytes(s) => format!("bytes[{}]", show_size(s)),
        Type::BytesPrefixed(p) => format!("bytes({})", show_int(*p)),
        Type::Str(s) => format!("str[{}]", show_size(s)),
        Type::StrPrefixed { prefix, nul } => {
            format!(
                "str({}{})",
                show_int(*prefix),
                if *nul { ", nul" } else { "" }
            )
        }
        Type::CStr => "cstr".to_string(),
        Type::BytesUntil(b) => format!("bytes(until 0x{b:02X})"),
        Type::Decimal(i) => format!("decimal({})", show_int(*i)),
        Type::Named { name, args } if args.is_empty() => name.name.clone(),
        Type::Named { name, args } => {
            let a: Vec<String> = args.iter().map(show_expr).collect();
            format!("{name}({})", a.join(", "))
        }
        Type::Array { elem, count } => format!("{}[{}]", show_type(elem), show_size(count)),
        Type::Within { inner, size } => format!("{} within {}", show_type(inner), show_expr(size)),
    }
}

/// A tag value in decimal, with its hex form when that differs.
fn num(v: i128) -> String {
    if (10..=i128::from(u64::MAX)).contains(&v) {
        format!("{v} ({v:#x})")
    } else {
        v.to_string()
    }
}

/// A range in decimal, with its hex form when that differs.
fn num_range(lo: i128, hi: i128) -> String {
    if (10..=i128::from(u64::MAX)).contains(&hi) && lo >= 0 {
        format!("{lo}..={hi} ({lo:#x}..={hi:#x})")
    } else {
        format!("{lo}..={hi}")
    }
}

/// A pattern as `found` text: decimal in backticks, plus hex for larger values.
fn found_pattern(p: &Pattern) -> String {
    let hex = match p {
        Pattern::Value(PatValue::Int(x, _)) if (10..=i128::from(u64::MAX)).contains(x) => {
            format!(" ({x:#x})")
        }
        Pattern::Range(PatValue::Int(a, _), PatValue::Int(b, _))
            if *a >= 0 && (10..=i128::from(u64::MAX)).contains(b) =>
        {
            format!(" ({a:#x}..={b:#x})")
        }
        _ => String::new(),
    };
    format!("`{}`{hex}", show_pattern(p))
}

fn show_pattern(p: &Pattern) -> String {
    let v = |v: &PatValue| match v {
        PatValue::Int(x, _) => x.to_string(),
        PatValue::Const(id) => id.name.clone(),
    };
    match p {
        Pattern::Wildcard(_) => "_".to_string(),
        Pattern::Value(a) => v(a),
        Pattern::Range(a, b) => format!("{}..={}", v(a), v(b)),
    }
}

fn precedence(op: BinOp) -> u8 {
    match op {
        BinOp::Or => 1,
        BinOp::And => 2,
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 3,
        BinOp::BitOr => 4,
        BinOp::BitAnd => 5,
        BinOp::Shl | BinOp::Shr => 6,
        BinOp::Add | BinOp::Sub => 7,
        BinOp::Mul | BinOp::Div | BinOp::Rem => 8,
    }
}

/// An expression as it would be written (parenthesized only where needed).
fn show_expr(e: &Expr) -> String {
    fn go(e: &Expr, min: u8, out: &mut String) {
        match &e.kind {
            ExprKind::Int(v) => out.push_str(&v.to_string()),
            ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            ExprKind::Path(segs) => {
                let s: Vec<&str> = segs.iter().map(|s| s.name.as_str()).collect();
                out.push_str(&s.join("."));
            }
            ExprKind::Call { func, args } => {
                out.push_str(&func.name);
                out.push('(');
                for (n, a) in args.iter().enumerate() {
                    if n > 0 {
                        out.push_str(", ");
                    }
                    go(a, 0, out);
                }
                out.push(')');
            }
            ExprKind::Unary(op, a) => {
                out.push(match op {
                    UnOp::Not => '!',
                    UnOp::Neg => '-',
                });
                go(a, 9, out);
            }
            ExprKind::Binary(op, a, b) => {
                let p = precedence(*op);
                let paren = p < min;
                if paren {
                    out.push('(');
                }
                go(a, p, out);
                out.push(' ');
                out.push_str(op.symbol());
                out.push(' ');
                go(b, p + 1, out);
                if paren {
                    out.push(')');
                }
            }
            ExprKind::Ternary(c, a, b) => {
                let paren = min > 0;
                if paren {
                    out.push('(');
                }
                go(c, 1, out);
                out.push_str(" ? ");
                go(a, 0, out);
                out.push_str(" : ");
                go(b, 0, out);
                if paren {
                    out.push(')');
                }
            }
        }
    }
    let mut s = String::new();
    go(e, 0, &mut s);
    s
}

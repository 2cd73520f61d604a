//! Every construct of the language parses into the expected model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrocom_spec::model::*;

fn parse(src: &str) -> Spec {
    match ferrocom_spec::parse::parse("t.wire", src) {
        Ok(s) => s,
        Err(e) => panic!("parse failed:\n{e}"),
    }
}

/// Parses and validates.
fn valid(src: &str) -> Spec {
    match ferrocom_spec::parse_str("t.wire", src) {
        Ok(s) => s,
        Err(e) => panic!("spec rejected:\n{e}"),
    }
}

fn item<'a>(spec: &'a Spec, name: &str) -> &'a Item {
    spec.protocol
        .item(name)
        .unwrap_or_else(|| panic!("no item {name}"))
}

fn record<'a>(spec: &'a Spec, name: &str) -> &'a RecordDef {
    match item(spec, name) {
        Item::Record(r) => r,
        other => panic!("{name} is not a record: {other:?}"),
    }
}

fn union<'a>(spec: &'a Spec, name: &str) -> &'a UnionDef {
    match item(spec, name) {
        Item::Union(u) => u,
        other => panic!("{name} is not a union: {other:?}"),
    }
}

fn field<'a>(r: &'a RecordDef, name: &str) -> &'a Field {
    r.fields
        .iter()
        .find(|f| f.name.name == name)
        .unwrap_or_else(|| panic!("no field {name}"))
}

/// An expression as an S-expression, to check the tree shape.
fn sx(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Path(p) => p
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join("."),
        ExprKind::Call { func, args } => {
            let a: Vec<String> = args.iter().map(sx).collect();
            format!("{}({})", func.name, a.join(", "))
        }
        ExprKind::Unary(UnOp::Not, a) => format!("(! {})", sx(a)),
        ExprKind::Unary(UnOp::Neg, a) => format!("(neg {})", sx(a)),
        ExprKind::Binary(op, a, b) => format!("({} {} {})", op.symbol(), sx(a), sx(b)),
        ExprKind::Ternary(c, a, b) => format!("(? {} {} {})", sx(c), sx(a), sx(b)),
    }
}

/// Parses `src` as the `where` expression of a field and returns it as an S-expression.
fn expr(src: &str) -> String {
    let spec = parse(&format!(
        "protocol p {{ record R {{ x: u8 where {src}; }} }}"
    ));
    let f = field(record(&spec, "R"), "x");
    sx(f.constraint.as_ref().unwrap())
}

fn int(bits: u8, signed: bool, order: Option<ByteOrder>) -> Type {
    Type::Int(IntType {
        bits,
        signed,
        order,
    })
}

/// The type of field `x` in `record R { x: <ty>; }` (parse only).
fn ty(src: &str) -> Type {
    let spec = parse(&format!("protocol p {{ record R(n: u8) {{ x: {src}; }} }}"));
    field(record(&spec, "R"), "x").ty.clone()
}

fn readme_block(starts_with: &str) -> String {
    let readme = include_str!("../README.md");
    let mut blocks = readme.split("```text\n").skip(1);
    blocks
        .find_map(|b| {
            let body = b.split("```").next()?;
            body.starts_with(starts_with).then(|| body.to_string())
        })
        .unwrap_or_else(|| panic!("no README block starting with {starts_with:?}"))
}

// ------------------------------------------------------------------------------------

#[test]
fn readme_iocom_example() {
    let spec = valid(&readme_block("/// IOCOM socket framing."));
    let p = &spec.protocol;
    assert_eq!(p.name.name, "iocom");
    assert_eq!(p.byte_order, ByteOrder::Little);
    assert_eq!(p.meta.docs, ["IOCOM socket framing."]);
    let names: Vec<&str> = p.items.iter().map(|i| i.name().name.as_str()).collect();
    assert_eq!(
        names,
        [
            "zero_run",
            "FrameFlags",
            "ExtraFlags",
            "SocketFrame",
            "SocketItem",
            "SocketBody",
            "AckCount"
        ]
    );

    let sf = record(&spec, "SocketFrame");
    assert!(!sf.is_frame);
    assert_eq!(sf.meta.docs, ["A numbered frame on a socket."]);
    assert_eq!(sf.meta.clause.as_deref(), Some("IOCOM-4.1"));
    assert_eq!(sf.params.len(), 1);
    assert_eq!(sf.params[0].name.name, "nr");
    assert_eq!(sf.params[0].ty, int(8, false, None));

    assert_eq!(sx(field(sf, "size").derive.as_ref().unwrap()), "len(data)");
    assert_eq!(
        sx(field(sf, "extra").condition.as_ref().unwrap()),
        "flags.EXTRA"
    );
    match &field(sf, "mblk").ty {
        Type::DynUint { width, .. } => {
            assert_eq!(sx(width), "(? extra.MBLK_4 4 (? flags.MBLK_2 2 1))")
        }
        other => panic!("{other:?}"),
    }
    let data = field(sf, "data");
    match &data.ty {
        Type::Bytes(Size::Expr(e)) => assert_eq!(sx(e), "size"),
        other => panic!("{other:?}"),
    }
    let t = data.transform.as_ref().unwrap();
    assert_eq!(t.name.name, "zero_run");
    assert_eq!(sx(t.condition.as_ref().unwrap()), "flags.COMPRESSED");

    assert!(record(&spec, "SocketItem").is_frame);
    let body = union(&spec, "SocketBody");
    assert_eq!(body.arms.len(), 3);
    assert_eq!(body.arms[1].meta.clause.as_deref(), Some("IOCOM-5-1"));
    match &body.arms[1].body {
        ArmBody::Variant { name, payload, tag } => {
            assert_eq!(name.name, "Numbered");
            assert!(
                matches!(payload, Some(Type::Named { name, args }) if name.name == "SocketFrame" && args.len() == 1)
            );
            assert_eq!(sx(tag.as_ref().unwrap()), "self.nr");
        }
        ArmBody::Reject => panic!("expected a variant"),
    }
    assert_eq!(body.arms[2].body, ArmBody::Reject);
}

#[test]
fn readme_mqtt_example() {
    let spec = valid(&readme_block("protocol mqttish"));
    assert_eq!(spec.protocol.byte_order, ByteOrder::Big);
    let packet = record(&spec, "Packet");
    match &field(packet, "body").ty {
        Type::Within { inner, size } => {
            assert_eq!(sx(size), "remaining");
            assert!(matches!(&**inner, Type::Named { name, .. } if name.name == "PacketBody"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(field(packet, "remaining").ty, Type::MqttVarint);
}

#[test]
fn every_protocol_file_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("protocols");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wire")
            && let Err(e) = ferrocom_spec::parse_file(&path)
        {
            panic!("{e}");
        }
    }
}

#[test]
fn protocol_header_and_default_byte_order() {
    let spec = parse(
        "// comment\n/// Doc one.\n///Doc two.\n//// not a doc\n@clause(\"P-1\")\nprotocol demo { }",
    );
    let p = &spec.protocol;
    assert_eq!(spec.file, "t.wire");
    assert_eq!(p.name.name, "demo");
    assert_eq!(p.byte_order, ByteOrder::Big);
    assert_eq!(p.meta.docs, ["Doc one.", "Doc two."]);
    assert_eq!(p.meta.clause.as_deref(), Some("P-1"));
    // The meta starts at the first doc line; the name has its own span.
    assert_eq!(
        p.meta.span,
        Span {
            line: 2,
            column: 1,
            offset: 11
        }
    );
    assert_eq!((p.name.span.line, p.name.span.column), (6, 10));
    assert!(p.items.is_empty());

    let spec = parse("protocol x { byte_order little; }");
    assert_eq!(spec.protocol.byte_order, ByteOrder::Little);
    // Without docs, the meta span is the name.
    assert_eq!(spec.protocol.meta.span, spec.protocol.name.span);
}

#[test]
fn enums_with_negative_values_docs_and_clauses() {
    let spec = valid(
        "protocol p {
  /// Codes.
  enum Code: i32le {
    /// Dropped.
    @clause(\"X-2\")
    DROPPED = -2,
    KEEP = -0x1,
    BIG = 2_000_000,
    BIN = 0b101,
  }
  enum Kind: u4 { A = 1 }
}",
    );
    let Item::Enum(e) = item(&spec, "Code") else {
        panic!()
    };
    assert_eq!(e.meta.docs, ["Codes."]);
    assert_eq!(
        e.repr,
        IntType {
            bits: 32,
            signed: true,
            order: Some(ByteOrder::Little)
        }
    );
    let values: Vec<(&str, i128)> = e
        .variants
        .iter()
        .map(|v| (v.name.name.as_str(), v.value))
        .collect();
    assert_eq!(
        values,
        [
            ("DROPPED", -2),
            ("KEEP", -1),
            ("BIG", 2_000_000),
            ("BIN", 5)
        ]
    );
    let d = &e.variants[0];
    assert_eq!(d.meta.docs, ["Dropped."]);
    assert_eq!(d.meta.clause.as_deref(), Some("X-2"));
    assert_eq!((d.meta.span.line, d.meta.span.column), (4, 5));
    assert_eq!((d.name.span.line, d.name.span.column), (6, 5));
    // Without docs the meta span is the name.
    assert_eq!(e.variants[1].meta.span, e.variants[1].name.span);
    // Item meta without docs is the item's name.
    let Item::Enum(k) = item(&spec, "Kind") else {
        panic!()
    };
    assert_eq!((k.meta.span.line, k.meta.span.column), (11, 8));
    assert_eq!(k.repr.bits, 4);
}

#[test]
fn flags_and_bits() {
    let spec = valid(
        "protocol p {
  flags F: u16be { A = 0x0001, /// Two bits.
    B = 0x0006 }
  enum K: u3 { X = 1, Y = 5 }
  flags G: u2 { P = 1, Q = 2 }
  bits B: u16 {
    hi: bool;
    kind: K;
    g: G;
    n: u4 = 0b1010;
    rest: u6 where rest < 60 && kind == Y;
  }
}",
    );
    let Item::Flags(f) = item(&spec, "F") else {
        panic!()
    };
    assert_eq!(f.repr.order, Some(ByteOrder::Big));
    let masks: Vec<u64> = f.flags.iter().map(|x| x.mask).collect();
    assert_eq!(masks, [1, 6]);
    assert_eq!(f.flags[1].meta.docs, ["Two bits."]);

    let Item::Bits(b) = item(&spec, "B") else {
        panic!()
    };
    let types: Vec<&BitType> = b.fields.iter().map(|x| &x.ty).collect();
    assert_eq!(types[0], &BitType::Bool);
    assert!(matches!(types[1], BitType::Named(n) if n.name == "K"));
    assert!(matches!(types[2], BitType::Named(n) if n.name == "G"));
    assert_eq!(types[3], &BitType::Uint(4));
    assert_eq!(types[4], &BitType::Uint(6));
    assert_eq!(sx(b.fields[3].derive.as_ref().unwrap()), "10");
    assert_eq!(
        sx(b.fields[4].constraint.as_ref().unwrap()),
        "(&& (< rest 60) (== kind Y))"
    );
}

#[test]
fn records_frames_params_and_field_modifiers() {
    // Parse only: a derived constant on a byte run is a validation error.
    let spec = parse(
        "protocol p {
  extern transform z = \"my::Z\";
  flags F: u8 { C = 1, E = 2 }
  enum K: u8 { A = 1 }
  frame Outer(k: K, f: F) {
    n: u8 = len(data) + 1;
    opt: u16 if f.E;
    /// Transformed.
    data: bytes[n - 1] if k == A = 7 where len(data) < 100 transform(z if f.C);
    plain: u8 transform(z);
  }
}",
    );
    let r = record(&spec, "Outer");
    assert!(r.is_frame);
    let params: Vec<(&str, &Type)> = r
        .params
        .iter()
        .map(|p| (p.name.name.as_str(), &p.ty))
        .collect();
    assert_eq!(params.len(), 2);
    assert!(
        matches!(params[0], ("k", Type::Named { name, args }) if name.name == "K" && args.is_empty())
    );

    assert_eq!(
        sx(field(r, "n").derive.as_ref().unwrap()),
        "(+ len(data) 1)"
    );
    let d = field(r, "data");
    assert_eq!(d.meta.docs, ["Transformed."]);
    assert_eq!(sx(d.condition.as_ref().unwrap()), "(== k A)");
    assert_eq!(sx(d.derive.as_ref().unwrap()), "7");
    assert_eq!(sx(d.constraint.as_ref().unwrap()), "(< len(data) 100)");
    let t = d.transform.as_ref().unwrap();
    assert_eq!(
        (t.name.name.as_str(), t.condition.as_ref().map(sx)),
        ("z", Some("f.C".to_string()))
    );
    let plain = field(r, "plain").transform.as_ref().unwrap();
    assert!(plain.condition.is_none());
    let o = field(r, "opt");
    assert!(o.derive.is_none() && o.constraint.is_none() && o.transform.is_none());
}

#[test]
fn keywords_are_contextual() {
    // Item keywords and function names are fine as field names.
    let spec = valid(
        "protocol p {
  record R {
    flags: u8;
    frame: u8;
    bits: u8;
    record: u8;
    size: u8;
    len: u8;
    within_x: u8;
    data: bytes[size] within len if flags == 1 where frame > 0;
  }
}",
    );
    let r = record(&spec, "R");
    let d = field(r, "data");
    assert!(matches!(&d.ty, Type::Within { size, .. } if sx(size) == "len"));
    assert_eq!(sx(d.condition.as_ref().unwrap()), "(== flags 1)");
    assert_eq!(sx(d.constraint.as_ref().unwrap()), "(> frame 0)");
}

#[test]
fn all_types() {
    let le = Some(ByteOrder::Little);
    let be = Some(ByteOrder::Big);
    assert_eq!(ty("u8"), int(8, false, None));
    assert_eq!(ty("u24"), int(24, false, None));
    assert_eq!(ty("u16le"), int(16, false, le));
    assert_eq!(ty("i64be"), int(64, true, be));
    assert_eq!(ty("i8"), int(8, true, None));
    assert!(
        matches!(ty("uint(n + 1)"), Type::DynUint { width, span } if sx(&width) == "(+ n 1)" && span.column == 35)
    );
    assert_eq!(ty("mqtt_varint"), Type::MqttVarint);
    assert_eq!(ty("intser"), Type::Intser);
    assert_eq!(ty("cstr"), Type::CStr);
    assert!(matches!(ty("bytes[n * 2]"), Type::Bytes(Size::Expr(e)) if sx(&e) == "(* n 2)"));
    assert_eq!(ty("bytes[..]"), Type::Bytes(Size::Rest));
    assert_eq!(
        ty("bytes(u16)"),
        Type::BytesPrefixed(IntType {
            bits: 16,
            signed: false,
            order: None
        })
    );
    assert!(matches!(ty("str[n]"), Type::Str(Size::Expr(_))));
    assert_eq!(ty("str[..]"), Type::Str(Size::Rest));
    assert_eq!(
        ty("str(u8)"),
        Type::StrPrefixed {
            prefix: IntType {
                bits: 8,
                signed: false,
                order: None
            },
            nul: false
        }
    );
    assert_eq!(
        ty("str(u32le, nul)"),
        Type::StrPrefixed {
            prefix: IntType {
                bits: 32,
                signed: false,
                order: le
            },
            nul: true
        }
    );
    assert!(
        matches!(ty("Foo"), Type::Named { name, args } if name.name == "Foo" && args.is_empty())
    );
    assert!(
        matches!(ty("Foo(n, 2 + n)"), Type::Named { args, .. } if args.iter().map(sx).collect::<Vec<_>>() == ["n", "(+ 2 n)"])
    );
    match ty("u16[n][..]") {
        Type::Array {
            elem,
            count: Size::Rest,
        } => match *elem {
            Type::Array {
                elem,
                count: Size::Expr(e),
            } => {
                assert_eq!(*elem, int(16, false, None));
                assert_eq!(sx(&e), "n");
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    match ty("Item[..] within n - 2") {
        Type::Within { inner, size } => {
            assert!(matches!(
                *inner,
                Type::Array {
                    count: Size::Rest,
                    ..
                }
            ));
            assert_eq!(sx(&size), "(- n 2)");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(ty("bytes[2][3]"), Type::Array { elem, .. } if matches!(*elem, Type::Bytes(_)))
    );
}

#[test]
fn union_arms_and_patterns() {
    let spec = valid(
        "protocol p {
  enum K: u8 { CONNECT = 1, PUBLISH = 3 }
  record Raw(t: i16) { data: bytes[..]; }
  union U(t: i16, k: K) {
    -5..=-1 => Negative(Raw(t)) = self.t;
    0x10 => Unit;
    /// Doc of an arm.
    @clause(\"U-1\")
    0x20..=0x2F => reject;
    true => One(u8);
    _ => Other(Raw(t)) = self.t;
  }
  union V(k: K) {
    CONNECT => Connect;
    PUBLISH..=PUBLISH => reject;
    _ => reject;
  }
}",
    );
    let u = union(&spec, "U");
    assert_eq!(u.params.len(), 2);
    let pats: Vec<&Pattern> = u.arms.iter().map(|a| &a.pattern).collect();
    assert!(matches!(
        pats[0],
        Pattern::Range(PatValue::Int(-5, _), PatValue::Int(-1, _))
    ));
    assert!(matches!(pats[1], Pattern::Value(PatValue::Int(16, _))));
    assert!(matches!(
        pats[2],
        Pattern::Range(PatValue::Int(32, _), PatValue::Int(47, _))
    ));
    assert!(matches!(pats[3], Pattern::Value(PatValue::Int(1, _))));
    assert!(matches!(pats[4], Pattern::Wildcard(s) if (s.line, s.column) == (11, 5)));
    assert!(
        matches!(&u.arms[1].body, ArmBody::Variant { name, payload: None, tag: None } if name.name == "Unit")
    );
    let reject = &u.arms[2];
    assert_eq!(reject.body, ArmBody::Reject);
    assert_eq!(reject.meta.docs, ["Doc of an arm."]);
    assert_eq!(reject.meta.clause.as_deref(), Some("U-1"));
    assert_eq!((reject.meta.span.line, reject.meta.span.column), (7, 5));
    // Without docs, an arm's meta starts at its pattern.
    assert_eq!(
        (u.arms[1].meta.span.line, u.arms[1].meta.span.column),
        (6, 5)
    );
    assert!(matches!(
        &u.arms[3].body,
        ArmBody::Variant {
            payload: Some(Type::Int(_)),
            tag: None,
            ..
        }
    ));

    let v = union(&spec, "V");
    assert!(
        matches!(&v.arms[0].pattern, Pattern::Value(PatValue::Const(c)) if c.name == "CONNECT")
    );
    assert!(matches!(
        &v.arms[1].pattern,
        Pattern::Range(PatValue::Const(_), PatValue::Const(_))
    ));
}

#[test]
fn precedence() {
    assert_eq!(
        expr("a || b && c == d | e & f << g + h * -i"),
        "(|| a (&& b (== c (| d (& e (<< f (+ g (* h (neg i)))))))))"
    );
    assert_eq!(
        expr("a * b + c << d & e | f != g && h || i"),
        "(|| (&& (!= (| (& (<< (+ (* a b) c) d) e) f) g) h) i)"
    );
    // Left associativity.
    assert_eq!(expr("a - b - c"), "(- (- a b) c)");
    assert_eq!(expr("a / b % c * d"), "(* (% (/ a b) c) d)");
    assert_eq!(expr("a >> 1 << 2"), "(<< (>> a 1) 2)");
    // Comparison operators of all kinds.
    assert_eq!(
        expr("a <= b || a >= b || a < b || a > b"),
        "(|| (|| (|| (<= a b) (>= a b)) (< a b)) (> a b))"
    );
    // Ternary: lowest, right-associative.
    assert_eq!(expr("a ? b : c ? d : e"), "(? a b (? c d e))");
    assert_eq!(expr("a || b ? c + 1 : d"), "(? (|| a b) (+ c 1) d)");
    // Parentheses and unary operators.
    assert_eq!(expr("(a + b) * c"), "(* (+ a b) c)");
    assert_eq!(expr("!a && !!b"), "(&& (! a) (! (! b)))");
    assert_eq!(expr("-a * -(b - 1)"), "(* (neg a) (neg (- b 1)))");
    assert_eq!(expr("a-1"), "(- a 1)");
    assert_eq!(expr("a - -1"), "(- a (neg 1))");
}

#[test]
fn literals_paths_and_calls() {
    assert_eq!(
        expr("0xFF + 0x_ab_CD + 0b1010_1010 + 1_000"),
        "(+ (+ (+ 255 43981) 170) 1000)"
    );
    assert_eq!(expr("true != false"), "(!= true false)");
    assert_eq!(expr("a.b.c == self.x"), "(== a.b.c self.x)");
    assert_eq!(
        expr("len(x) + count(y) + tag(z)"),
        "(+ (+ len(x) count(y)) tag(z))"
    );
    assert_eq!(expr("f() + g(1, a, (b))"), "(+ f() g(1, a, b))");
    assert_eq!(expr("18446744073709551615"), "18446744073709551615");
}

#[test]
fn spans_count_characters_and_lines() {
    let src = "protocol p {\n  extern transform t = \"é\"; record R { a: u8 where a == 1; }\n}";
    let spec = parse(src);
    let r = record(&spec, "R");
    // `record` follows a multi-byte character on the same line: columns count characters.
    assert_eq!((r.name.span.line, r.name.span.column), (2, 36));
    assert_eq!(r.meta.span, r.name.span);
    let a = &r.fields[0];
    assert_eq!((a.name.span.line, a.name.span.column), (2, 40));
    let c = a.constraint.as_ref().unwrap();
    assert_eq!((c.span.line, c.span.column), (2, 52));
    // Offsets are in bytes (`é` is two).
    assert_eq!(&src[c.span.offset..c.span.offset + 6], "a == 1");
}

#[test]
fn comments_everywhere() {
    let spec = valid(
        "// leading
protocol p { // after brace
  // before item
  record R { // after brace
    a: u8 // inside a field
      where a // inside an expression
        == 1; // after
  } // after item
} // end
// trailing",
    );
    assert_eq!(record(&spec, "R").fields.len(), 1);
}

#[test]
fn doc_comment_variants() {
    let spec = parse(
        "protocol p {
  record R {
    ///   indented text keeps its extra spaces
    ///
    /// trailing spaces are trimmed   
    //// a plain comment
    a: u8;
  }
}",
    );
    let a = &record(&spec, "R").fields[0];
    assert_eq!(
        a.meta.docs,
        [
            "  indented text keeps its extra spaces",
            "",
            "trailing spaces are trimmed"
        ]
    );
    assert_eq!((a.meta.span.line, a.meta.span.column), (3, 5));
}

#[test]
fn string_escapes() {
    let spec =
        parse(r#"protocol p { @clause("A \"quoted\" \\ id") extern transform t = "a::B"; }"#);
    assert_eq!(
        spec.protocol.items[0].meta().clause.as_deref(),
        Some("A \"quoted\" \\ id")
    );
    let Item::Extern(x) = &spec.protocol.items[0] else {
        panic!()
    };
    assert_eq!(x.rust_path, "a::B");
    assert_eq!(x.kind, ExternKind::Transform);
}

#[test]
fn parse_file_reports_io_errors_at_1_1() {
    let err = ferrocom_spec::parse_file(std::path::Path::new("/nonexistent/x.wire")).unwrap_err();
    let e = &err.errors()[0];
    assert_eq!((e.span.line, e.span.column), (1, 1));
    assert!(
        e.message.starts_with("cannot read the spec file"),
        "{}",
        e.message
    );
    assert_eq!(e.file, "/nonexistent/x.wire");
}

// ------------------------------------------------------------------------------------
// Never panic
// ------------------------------------------------------------------------------------

/// Runs `f` on a thread with a small stack, so that deep recursion fails the test.
fn small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn pathological_nesting_is_an_error_not_a_crash() {
    small_stack(|| {
        let deep = 100_000;
        let cases = [
            format!(
                "protocol p {{ record R {{ a: u8 where {}a{}; }} }}",
                "(".repeat(deep),
                ")".repeat(deep)
            ),
            format!(
                "protocol p {{ record R {{ a: u8 where {}a; }} }}",
                "!".repeat(deep)
            ),
            format!(
                "protocol p {{ record R {{ a: u8 where {}a; }} }}",
                "- ".repeat(deep)
            ),
            format!(
                "protocol p {{ record R {{ a: u8 where a{}; }} }}",
                " + a".repeat(deep)
            ),
            format!(
                "protocol p {{ record R {{ a: u8 where {}1; }} }}",
                "a ? 1 : ".repeat(deep)
            ),
            format!(
                "protocol p {{ record R {{ a: u8 where {}a{}; }} }}",
                "f(".repeat(deep),
                ")".repeat(deep)
            ),
            format!(
                "protocol p {{ record R {{ a: u8{}; }} }}",
                "[1]".repeat(deep)
            ),
        ];
        for src in cases {
            let e = ferrocom_spec::parse_str("t.wire", &src).unwrap_err();
            assert!(e.to_string().contains("too"), "{e}");
        }
        // Long but legal expressions parse and validate.
        let long = format!(
            "protocol p {{ record R {{ a: u8 where a{} > 0; }} }}",
            " + a".repeat(200)
        );
        valid(&long);
        // Just under the limits is fine.
        let ok = format!(
            "protocol p {{ record R {{ a: u8 where {}a{} == 1; }} }}",
            "(".repeat(30),
            ")".repeat(30)
        );
        valid(&ok);
    });
}

#[test]
fn truncations_and_corruptions_never_panic() {
    let src = readme_block("/// IOCOM socket framing.") + &readme_block("protocol mqttish");
    // Every prefix.
    for (n, _) in src.char_indices() {
        let _ = ferrocom_spec::parse_str("t.wire", &src[..n]);
    }
    // Deterministic pseudo-random corruption: replace, delete and duplicate bytes.
    let bytes = src.as_bytes();
    let alphabet = b"(){}[];:,.=<>+-*/%&|!?@_\"aZ09 \n/x";
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut v = bytes.to_vec();
        for _ in 0..(next() % 4 + 1) {
            let pos = (next() as usize) % v.len().max(1);
            match next() % 3 {
                0 => v[pos] = alphabet[(next() as usize) % alphabet.len()],
                1 => {
                    v.remove(pos);
                }
                _ => v.insert(pos, alphabet[(next() as usize) % alphabet.len()]),
            }
        }
        let text = String::from_utf8_lossy(&v);
        if let Err(e) = ferrocom_spec::parse_str("t.wire", &text) {
            // Display must work for any error.
            let _ = e.to_string();
        }
    }
}

//! Every validation rule (and the main syntax errors) reports the right position,
//! message, found and expected; representative errors are snapshotted as displayed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrocom_spec::{SpecError, SpecErrors};

/// `protocol p {` + body + `}`; body lines start at line 2.
fn wrap(body: &str) -> String {
    format!("protocol p {{\n{body}\n}}\n")
}

fn errors(body: &str) -> Vec<SpecError> {
    match ferrocom_spec::parse_str("t.wire", &wrap(body)) {
        Ok(_) => panic!("accepted:\n{body}"),
        Err(e) => e.0,
    }
}

/// The only error of a spec.
fn one(body: &str) -> SpecError {
    let mut e = errors(body);
    if e.len() != 1 {
        panic!("expected one error, got:\n{}", SpecErrors(e));
    }
    e.remove(0)
}

/// Asserts position and a message fragment.
#[track_caller]
fn check(e: &SpecError, line: u32, column: u32, message: &str) {
    assert_eq!(
        (e.span.line, e.span.column),
        (line, column),
        "wrong position for:\n{e}"
    );
    assert!(
        e.message.contains(message),
        "message lacks {message:?}:\n{e}"
    );
    assert!(!e.found.is_empty() && !e.expected.is_empty(), "{e}");
    assert_eq!(e.file, "t.wire");
}

/// The displayed error, for snapshots.
fn shown(body: &str) -> String {
    match ferrocom_spec::parse_str("t.wire", &wrap(body)) {
        Ok(_) => panic!("accepted:\n{body}"),
        Err(e) => e.to_string(),
    }
}

fn accepted(body: &str) {
    if let Err(e) = ferrocom_spec::parse_str("t.wire", &wrap(body)) {
        panic!("rejected:\n{e}");
    }
}

// ------------------------------------------------------------------------------------
// Snapshots of the displayed form
// ------------------------------------------------------------------------------------

#[test]
fn snapshot_unknown_type() {
    insta::assert_snapshot!(shown(
        "  flags Flags: u8 { EXTRA = 0x80 }
  record Header {
    flags: Flgs;
  }"
    ));
}

#[test]
fn snapshot_later_field() {
    insta::assert_snapshot!(shown(
        "  record R {
    data: bytes[size];
    size: u16;
  }"
    ));
}

#[test]
fn snapshot_duplicate_field() {
    insta::assert_snapshot!(shown(
        "  record R(id: u8) {
    id: u16;
  }"
    ));
}

#[test]
fn snapshot_overlapping_flags() {
    insta::assert_snapshot!(shown(
        "  flags F: u8 {
    LOW = 0x0F,
    MID = 0x18,
  }"
    ));
}

#[test]
fn snapshot_unreachable_arm() {
    insta::assert_snapshot!(shown(
        "  union U(t: u8) {
    0x10..=0x1F => A(Raw(t)) = self.t;
    0x20..=0x2F => B(Raw(t)) = self.t;
    0x18..=0x27 => C(Raw(t)) = self.t;
    _ => reject;
    0x40 => D;
  }
  record Raw(t: u8) { data: bytes[..]; }"
    ));
}

#[test]
fn snapshot_range_arm_without_tag() {
    insta::assert_snapshot!(shown(
        "  record Publish(header: u8) { topic: str(u16); }
  union Body(header: u8) {
    0x30..=0x3F => Publish(Publish(header));
  }"
    ));
}

#[test]
fn snapshot_enum_constant_of_wrong_enum() {
    insta::assert_snapshot!(shown(
        "  enum Kind: u8 { CONNECT = 1, PUBLISH = 3 }
  enum Code: u8 { ACCEPTED = 0 }
  union Body(kind: Kind) {
    CONNECT => Connect;
    ACCEPTED => Oops;
  }"
    ));
}

#[test]
fn snapshot_bits_width() {
    insta::assert_snapshot!(shown(
        "  bits Header: u8 {
    kind: u4;
    dup: bool;
    qos: u2;
  }"
    ));
}

#[test]
fn snapshot_wrong_arg_count() {
    insta::assert_snapshot!(shown(
        "  record Inner(a: u8, b: u16) { x: u8; }
  record Outer {
    n: u8;
    inner: Inner(n);
  }"
    ));
}

#[test]
fn snapshot_count_of_non_array() {
    insta::assert_snapshot!(shown(
        "  record R {
    n: u8 = count(data);
    data: bytes[n];
  }"
    ));
}

#[test]
fn snapshot_checksum_in_region() {
    insta::assert_snapshot!(shown(
        "  record Sealed { body: u8; crc: u16 = crc16_modbus(frame); }
  frame Outer {
    n: u8;
    sealed: Sealed within n;
  }"
    ));
}

#[test]
fn snapshot_recursion() {
    insta::assert_snapshot!(shown(
        "  record Node {
    value: u8;
    next: Link;
  }
  record Link {
    node: Node if true;
  }"
    ));
}

#[test]
fn snapshot_multiple_errors_in_source_order() {
    insta::assert_snapshot!(shown(
        "  enum E: u8 { A = 300 }
  record R {
    a: bytes[..];
    b: u8 transform(squash);
    c: uint(9);
  }"
    ));
}

#[test]
fn snapshot_syntax_missing_semicolon() {
    insta::assert_snapshot!(shown(
        "  record R {
    size: u16 = len(data)
    data: bytes[size];
  }"
    ));
}

#[test]
fn snapshot_syntax_bad_type() {
    insta::assert_snapshot!(shown(
        "  record R {
    size: ;
  }"
    ));
}

#[test]
fn snapshot_syntax_unclosed() {
    insta::assert_snapshot!(shown(
        "  record R {
    a: u8;
"
    ));
}

// ------------------------------------------------------------------------------------
// Names
// ------------------------------------------------------------------------------------

#[test]
fn duplicate_names() {
    let e = one("  record A {}\n  enum A: u8 { X = 1 }");
    check(&e, 3, 8, "`A` is declared twice");
    assert_eq!((e.notes[0].span.line, e.notes[0].span.column), (2, 10));

    check(
        &one("  record R(a: u8) {\n    a: u8;\n  }"),
        3,
        5,
        "field or parameter `a` is declared twice",
    );
    check(
        &one("  record R {\n    a: u8;\n    a: u8;\n  }"),
        4,
        5,
        "`a` is declared twice",
    );
    check(
        &one("  enum E: u8 { A = 1, B = 2, A = 3 }"),
        2,
        30,
        "variant `A` is declared twice",
    );
    check(
        &one("  flags F: u8 { A = 1, A = 2 }"),
        2,
        24,
        "flag `A` is declared twice",
    );
    check(
        &one("  bits B: u8 { a: u4; a: u4; }"),
        2,
        23,
        "field `a` is declared twice",
    );
    check(
        &one("  union U(t: u8, t: u8) { 1 => A; }"),
        2,
        18,
        "parameter `t` is declared twice",
    );
    check(
        &one("  union U(t: u8) {\n    1 => A;\n    2 => A;\n  }"),
        4,
        10,
        "variant `A` is declared twice",
    );
    check(&one("  record bytes {}"), 2, 10, "built-in type");
    check(&one("  enum u16 : u8 { A = 1 }"), 2, 8, "built-in type");
}

// ------------------------------------------------------------------------------------
// Types and arguments
// ------------------------------------------------------------------------------------

#[test]
fn type_names_and_arguments() {
    let e = one("  record R { a: Nope; }");
    check(&e, 2, 17, "unknown type `Nope`");
    assert_eq!(e.found, "`Nope`");

    check(
        &one("  flags Flags: u8 { A = 1 }\n  record R { a: Flag; }"),
        3,
        17,
        "did you mean `Flags`?",
    );
    check(
        &one("  enum E: u8 { A = 1 }\n  record R { a: E(1); }"),
        3,
        19,
        "enum `E` takes no arguments",
    );
    check(
        &one("  flags F: u8 { A = 1 }\n  record R { a: F(1, 2); }"),
        3,
        19,
        "takes no arguments",
    );
    check(
        &one("  bits B: u8 { x: u8; }\n  record R { a: B(0); }"),
        3,
        19,
        "takes no arguments",
    );
    let e = one("  record Inner(a: u8) {}\n  record R { a: Inner; }");
    check(&e, 3, 17, "takes 1 argument, but 0 are given");
    assert_eq!(e.expected, "1 argument (a: u8)");
    check(
        &one("  union U(t: u8) { 1 => A; }\n  record R { a: U(1, 2); }"),
        3,
        17,
        "takes 1 argument, but 2 are given",
    );
    check(
        &one("  extern transform z = \"a::Z\";\n  record R { a: z; }"),
        3,
        17,
        "is an extern transform, not a type",
    );
    check(
        &one("  enum E: u4 { A = 1 }\n  record R { a: E; }"),
        3,
        17,
        "can only be used inside `bits`",
    );
    // Enum-typed parameter given a value of another enum.
    check(
        &one(
            "  enum E: u8 { A = 1 }\n  enum G: u8 { B = 1 }\n  record Inner(e: E) {}\n  record R { g: G; i: Inner(g); }",
        ),
        5,
        29,
        "the parameter is enum `E`",
    );
    // Enum constant passed to an enum parameter is resolved against that enum.
    accepted("  enum E: u8 { A = 1 }\n  record Inner(e: E) {}\n  record R { i: Inner(A); }");
    check(
        &one(
            "  enum E: u8 { A = 1 }\n  enum G: u8 { B = 1 }\n  record Inner(e: E) {}\n  record R { i: Inner(B); }",
        ),
        5,
        23,
        "`B` is not a constant of enum `E`",
    );
}

#[test]
fn parameter_types() {
    check(
        &one("  record R(x: bytes[2]) {}"),
        2,
        12,
        "parameters must be integers, enums, flags or bits",
    );
    check(
        &one("  record S {}\n  record R(x: S) {}"),
        3,
        12,
        "parameters must be",
    );
    check(
        &one("  union U(t: Nope) { 1 => A; }"),
        2,
        14,
        "unknown type `Nope`",
    );
    check(
        &one("  flags F: u8 { A = 1 }\n  union U(t: F) { 1 => A; }"),
        3,
        11,
        "must be an integer or an enum",
    );
    // Sub-byte integer parameters are fine (they are not on the wire).
    accepted("  record R(x: u4) { a: bytes[x]; }");
}

// ------------------------------------------------------------------------------------
// Expressions: names and scopes
// ------------------------------------------------------------------------------------

#[test]
fn paths_must_resolve_to_earlier_fields_or_params() {
    check(
        &one("  record R {\n    a: u8 if nope;\n  }"),
        3,
        14,
        "unknown name `nope`",
    );
    let e = one("  record R {\n    a: bytes[b];\n    b: u8;\n  }");
    check(
        &e,
        3,
        14,
        "field `b` is used in field `a` before it is decoded",
    );
    assert_eq!((e.notes[0].span.line, e.notes[0].span.column), (4, 5));
    check(
        &one("  record R {\n    a: uint(b);\n    b: u8;\n  }"),
        3,
        13,
        "before it is decoded",
    );
    check(
        &one("  record R {\n    a: bytes[2] within b;\n    b: u8;\n  }"),
        3,
        24,
        "before it is decoded",
    );
    check(
        &one("  record R {\n    a: u8 if a == 1;\n  }"),
        3,
        14,
        "before it is decoded",
    );
    check(
        &one("  record I(n: u8) {}\n  record R {\n    a: I(b);\n    b: u8;\n  }"),
        4,
        10,
        "before it is decoded",
    );
    check(
        &one(
            "  extern transform z = \"a::Z\";\n  record R {\n    a: u8 transform(z if b == 1);\n    b: u8;\n  }",
        ),
        4,
        26,
        "before it is decoded",
    );
    check(
        &one("  record R {\n    a: u8 where b > 1;\n    b: u8;\n  }"),
        3,
        17,
        "only fields up to this one",
    );
    // `where` sees the field itself, params and earlier fields.
    accepted("  record R(p: u8) {\n    a: u8;\n    b: u8 where b > a && b < p;\n  }");
    // Derived fields are readable by later fields.
    accepted("  record R {\n    n: u16 = len(d);\n    d: bytes[n];\n  }");
    // Paths through an optional field are allowed.
    accepted("  flags F: u8 { X = 1 }\n  record R {\n    f: F if false;\n    a: u8 if f.X;\n  }");
    check(
        &one("  record R {\n    a: u8 where self == 1;\n  }"),
        3,
        17,
        "`self` can only be used in a union arm's `= tag`",
    );
}

#[test]
fn member_access() {
    let body = "  flags F: u8 { A = 1, B = 2 }
  bits H: u8 { kind: u4; g: G; x: u2; }
  flags G: u2 { P = 1 }
  record Rec { v: u8; }
  record R {
    f: F;
    h: H;
    n: u8;
    r: Rec;
    a: u8 if f.C;
  }";
    check(
        &one(body),
        11,
        16,
        "`f` is flags `F`, which has no flag `C`",
    );
    check(
        &one(&body.replace("f.C", "h.knd")),
        11,
        16,
        "`h` is bits `H`, which has no field `knd`; did you mean `kind`?",
    );
    check(
        &one(&body.replace("f.C", "n.x")),
        11,
        16,
        "`n` is an integer and has no members",
    );
    check(
        &one(&body.replace("f.C", "r.v")),
        11,
        16,
        "fields of nested records cannot be used",
    );
    check(
        &one(&body.replace("f.C", "r")),
        11,
        14,
        "`r` is record `Rec`",
    );
    check(&one(&body.replace("f.C", "h.g.Q")), 11, 18, "no flag `Q`");
    // A flags-typed bit field's flags are reachable.
    accepted(&body.replace("f.C", "h.g.P && f.A && h.kind == 2"));
}

#[test]
fn non_integer_values_in_expressions() {
    check(
        &one("  record R {\n    d: bytes[2];\n    a: bytes[d];\n  }"),
        4,
        14,
        "`d` is a byte run",
    );
    check(
        &one("  record R {\n    s: cstr;\n    a: u8 if s;\n  }"),
        4,
        14,
        "`s` is text",
    );
    check(
        &one("  record R {\n    s: u8[2];\n    a: uint(s);\n  }"),
        4,
        13,
        "`s` is an array",
    );
    check(
        &one("  record R {\n    f: u8;\n    a: bytes[f == 1];\n  }"),
        4,
        14,
        "a size must be an integer, but this is a condition",
    );
    check(
        &one("  record R {\n    a: bytes[-1];\n  }"),
        3,
        14,
        "cannot be negative",
    );
    check(
        &one("  record R {\n    a: uint(9);\n  }"),
        3,
        13,
        "integers are 1 to 8 bytes wide",
    );
    check(
        &one("  record R {\n    a: uint(0);\n  }"),
        3,
        13,
        "integers are 1 to 8 bytes wide",
    );
}

#[test]
fn enum_constants_in_expressions() {
    let body = "  enum K: u8 { CONNECT = 1 }
  enum C: u8 { ACCEPTED = 0 }
  record R {
    k: K;
    a: u8 if k == ACCEPTED;
  }";
    check(
        &one(body),
        6,
        19,
        "`ACCEPTED` is not a constant of enum `K`",
    );
    accepted(&body.replace("ACCEPTED;", "CONNECT;"));
    // Constant first also works.
    accepted(&body.replace("k == ACCEPTED", "CONNECT != k"));
    check(
        &one(&body.replace("k == ACCEPTED", "NOPE == 1")),
        6,
        14,
        "unknown name `NOPE`",
    );
}

// ------------------------------------------------------------------------------------
// Derived values and functions
// ------------------------------------------------------------------------------------

#[test]
fn derive_functions() {
    let e = one("  record R {\n    d: u8[2];\n    n: u8 = count(d);\n  }");
    check(&e, 4, 19, "`count(d)` must name a field after `n`");
    check(
        &one("  record R {\n    n: u8 = len(n);\n  }"),
        3,
        17,
        "must name a field after `n`",
    );
    check(
        &one("  record R {\n    n: u8 = count(d);\n    d: bytes[n];\n  }"),
        3,
        19,
        "`count(d)` needs an array",
    );
    check(
        &one("  record R {\n    n: u8 = tag(d);\n    d: bytes[n];\n  }"),
        3,
        17,
        "`tag(d)` needs a union field",
    );
    check(
        &one("  record R {\n    n: u8 = len(nope);\n  }"),
        3,
        17,
        "unknown field `nope`",
    );
    check(
        &one("  record R(p: u8) {\n    n: u8 = len(p);\n  }"),
        3,
        17,
        "is a parameter",
    );
    check(
        &one("  record R {\n    n: u8 = len(a.b);\n  }"),
        3,
        17,
        "takes one field name",
    );
    check(
        &one("  record R {\n    n: u8 = size(d);\n    d: bytes[n];\n  }"),
        3,
        13,
        "unknown function `size`",
    );
    check(
        &one("  record R {\n    n: u8;\n    d: bytes[len(n)];\n  }"),
        4,
        14,
        "can only be used in a derived field",
    );
    check(
        &one("  record R {\n    d: bytes[2];\n    n: u8 if len(d) > 1;\n  }"),
        4,
        14,
        "can only be used in a derived field",
    );
    // `where` may measure the field itself.
    accepted(
        "  record R {\n    s: str(u8) where len(s) <= 23;\n    a: u8[2] where count(a) == 2;\n  }",
    );
    check(
        &one("  record R {\n    s: u8 where len(t) < 2;\n    t: bytes[2];\n  }"),
        3,
        21,
        "before it is decoded",
    );
    // Derived values must be integers and constants must fit.
    check(
        &one("  record R {\n    d: bytes[2] = 1;\n  }"),
        3,
        5,
        "is not an integer",
    );
    check(
        &one("  record R {\n    d: u8 = 256;\n  }"),
        3,
        13,
        "does not fit its type `u8`",
    );
    accepted("  record R {\n    d: i8 = -128;\n    e: u16 = 0xFFFF;\n  }");
    // tag() of a union field, also inside `within`.
    accepted(
        "  union U(t: u8) { 1 => A; }\n  frame F {\n    t: u8 = tag(b);\n    n: u8 = len(b);\n    b: U(t) within n;\n  }",
    );
}

#[test]
fn checksums() {
    accepted("  frame F {\n    crc: u16le = crc16_modbus(frame);\n    data: bytes[..];\n  }");
    check(
        &one("  frame F {\n    crc: u32 = crc16_modbus(frame);\n  }"),
        3,
        5,
        "must be a 16-bit unsigned integer",
    );
    check(
        &one("  frame F {\n    crc: u16 = crc16_modbus(frame) + 1;\n  }"),
        3,
        16,
        "can only be the whole derived value",
    );
    check(
        &one("  frame F {\n    a: u8 if crc16_modbus(frame) == 0;\n  }"),
        3,
        14,
        "can only be the whole derived value",
    );
    check(
        &one("  frame F {\n    crc: u16 = crc16_modbus(data);\n    data: u8;\n  }"),
        3,
        29,
        "write `crc16_modbus(frame)`",
    );
    check(
        &one("  frame F {\n    c: u8;\n    crc: u16 if c == 1 = crc16_modbus(frame);\n  }"),
        4,
        5,
        "cannot be optional",
    );
    // Not inside a `within` region, also indirectly.
    let e = one(
        "  record S { crc: u16 = crc16_modbus(frame); }\n  record T { s: S; }\n  frame F {\n    n: u8;\n    t: T[2] within n;\n  }",
    );
    check(&e, 6, 8, "`T` contains a `crc16_modbus(frame)` checksum");
}

// ------------------------------------------------------------------------------------
// Enums, flags, bits
// ------------------------------------------------------------------------------------

#[test]
fn enum_values() {
    check(
        &one("  enum E: u8 { A = 256 }"),
        2,
        16,
        "value 256 of `A` does not fit",
    );
    check(
        &one("  enum E: u8 { A = -1 }"),
        2,
        16,
        "value -1 of `A` does not fit",
    );
    check(
        &one("  enum E: i8 { A = -129 }"),
        2,
        16,
        "does not fit the representation `i8`",
    );
    let e = one("  enum E: u8 { A = 1, B = 1 }");
    check(&e, 2, 23, "`B` has the value 1 of `A`");
    accepted(
        "  enum E: i16be { A = -32768, B = 32767 }\n  enum W: u64 { M = 0xFFFF_FFFF_FFFF_FFFF }",
    );
}

#[test]
fn flag_masks() {
    let e = one("  flags F: u8 { A = 0x03, B = 0x06 }");
    check(
        &e,
        2,
        27,
        "flags `B` (0x6) and `A` (0x3) overlap in bits 0x2",
    );
    assert_eq!((e.notes[0].span.line, e.notes[0].span.column), (2, 17));
    check(
        &one("  flags F: u8 { A = 0x100 }"),
        2,
        17,
        "does not fit the representation `u8`",
    );
    check(&one("  flags F: u8 { A = 0 }"), 2, 17, "empty mask");
    check(&one("  flags F: i8 { A = 1 }"), 2, 9, "must be unsigned");
}

#[test]
fn bits_layout() {
    check(
        &one("  bits B: u8 { a: u4; b: u3; }"),
        2,
        8,
        "add up to 7 bits, but its representation `u8` has 8",
    );
    check(
        &one("  bits B: u8 { a: u4; b: u8; }"),
        2,
        8,
        "add up to 12 bits",
    );
    check(
        &one("  bits B: u12 { a: u12; }"),
        2,
        8,
        "unsigned whole-byte integer",
    );
    check(
        &one("  record S {}\n  bits B: u8 { a: S; b: u8; }"),
        3,
        19,
        "bit fields are `bool`, `uN`, or an enum or flags type",
    );
    check(
        &one("  bits B: u8 { a: Nope; b: u8; }"),
        2,
        19,
        "unknown type `Nope`",
    );
    check(
        &one("  bits B: u8 { a: u4 = 16; b: u4; }"),
        2,
        24,
        "does not fit in 4 bits",
    );
    check(
        &one("  bits B: u8 { a: u4 where b > 1; b: u4; }"),
        2,
        28,
        "before it is decoded",
    );
    check(
        &one("  bits B: u8 { a: u4 = b; b: u4; }"),
        2,
        24,
        "unknown name `b`",
    );
    // Enum/flags fields take their representation's width.
    accepted(
        "  enum K: u4 { A = 1 }\n  flags F: u3 { X = 4 }\n  bits B: u8 { k: K; f: F; b: bool; }",
    );
}

// ------------------------------------------------------------------------------------
// Unions
// ------------------------------------------------------------------------------------

#[test]
fn union_patterns() {
    check(
        &one("  union U(t: u8) { 256 => A; }"),
        2,
        20,
        "tag value 256 (0x100) does not fit the tag `t: u8`",
    );
    check(
        &one("  union U(t: i8) { -129 => A; }"),
        2,
        20,
        "does not fit the tag `t: i8`",
    );
    check(
        &one("  union U(t: u8) { 5..=1 => reject; }"),
        2,
        20,
        "the range 5..=1 is empty",
    );
    check(
        &one("  union U(t: u8) { X => A; }"),
        2,
        20,
        "the tag `t` is not an enum",
    );
    check(
        &one("  enum K: u8 { A = 1 }\n  union U(t: K) { B => X; }"),
        3,
        19,
        "`B` is not a constant of enum `K`",
    );
    accepted("  enum K: u8 { A = 1, B = 2 }\n  union U(t: K) { A => X; B => Y; 7 => Z; }");
}

#[test]
fn unreachable_arms() {
    let e = one("  union U(t: u8) {\n    1 => A;\n    1 => B;\n  }");
    check(&e, 4, 5, "value 1 is already matched by the arm at line 3");
    let e = one(
        "  union U(t: u8) {\n    0..=9 => reject;\n    10..=19 => reject;\n    5..=15 => reject;\n  }",
    );
    check(
        &e,
        5,
        5,
        "every value of 5..=15 (0x5..=0xf) is already matched by the arms at lines 3, 4",
    );
    assert_eq!(e.notes.len(), 2);
    let e = one("  union U(t: u8) {\n    _ => reject;\n    1 => A;\n  }");
    check(&e, 4, 5, "the `_` arm at line 3 matches every tag");
    check(
        &one("  union U(t: u1) {\n    0 => A;\n    1 => B;\n    _ => reject;\n  }"),
        5,
        5,
        "cover every value of `u1`",
    );
    check(
        &one("  union U(t: u8) {\n    true => A;\n    1 => B;\n  }"),
        4,
        5,
        "value 1 is already matched",
    );
    check(
        &one("  enum K: u8 { A = 1 }\n  union U(t: K) {\n    A => X;\n    1 => Y;\n  }"),
        5,
        5,
        "already matched by the arm at line 4",
    );
    // Partial overlap with an earlier arm is fine: arms are tried in order.
    accepted(
        "  union U(t: u8) {\n    0x62 => A;\n    0x60..=0x6F => reject;\n    _ => reject;\n  }",
    );
}

#[test]
fn arm_bodies() {
    check(
        &one("  union U(t: u8) { 0..=9 => A(u8); }"),
        2,
        29,
        "needs `= expr` giving the tag",
    );
    check(
        &one("  union U(t: u8) { _ => A(u8); }"),
        2,
        25,
        "needs `= expr`",
    );
    check(
        &one("  union U(t: u8) { 0..=9 => A; }"),
        2,
        29,
        "variant `A` has no payload",
    );
    check(
        &one("  union U(t: u8) { _ => A; }"),
        2,
        25,
        "variant `A` has no payload",
    );
    check(
        &one("  union U(t: u8) { 1 => A(u8) = 1; }"),
        2,
        33,
        "matches a single value",
    );
    check(&one("  union U(t: u8) {}"), 2, 9, "has no arms");
    // The tag expression resolves against the payload and the union's parameters.
    let payload = "  record P(k: u8) { d: u8; n: u8 = 1; }\n";
    accepted(&format!(
        "{payload}  union U(t: u8) {{ 0..=9 => A(P(t)) = self.k; }}"
    ));
    accepted(&format!(
        "{payload}  union U(t: u8) {{ 0..=9 => A(P(t)) = self.d + t; }}"
    ));
    accepted("  union U(t: u8) { 1..=9 => A(bytes[t]) = len(self); }");
    check(
        &one(&format!(
            "{payload}  union U(t: u8) {{ 0..=9 => A(P(t)) = self.x; }}"
        )),
        3,
        44,
        "has no field or parameter `x`",
    );
    check(
        &one(&format!(
            "{payload}  union U(t: u8) {{ 0..=9 => A(P(t)) = self.n; }}"
        )),
        3,
        44,
        "is a derived field",
    );
    check(
        &one("  union U(t: u8) { 1..=9 => A(bytes[t]) = len(t); }"),
        2,
        47,
        "write `len(self)`",
    );
    check(
        &one("  union U(t: u8) { 1..=9 => A(bytes[x]) = len(self); }"),
        2,
        37,
        "unknown name `x`",
    );
}

// ------------------------------------------------------------------------------------
// Regions, transforms, recursion
// ------------------------------------------------------------------------------------

#[test]
fn rest_sizes() {
    let e = one("  record R {\n    a: bytes[..];\n    b: u8;\n  }");
    check(
        &e,
        3,
        5,
        "field `a` extends to the end of the region (`..`), but it is not the last field",
    );
    assert_eq!(e.notes[0].span.line, 4);
    check(
        &one("  record T { d: str[..]; }\n  record R {\n    t: T;\n    b: u8;\n  }"),
        4,
        5,
        "extends to the end of the region",
    );
    check(
        &one("  record R {\n    a: bytes[..][2];\n  }"),
        3,
        5,
        "an array element cannot extend to the end of the region",
    );
    // Inside a region, `..` can be anywhere; at the end it is fine.
    accepted(
        "  record R {\n    n: u8;\n    a: bytes[..] within n;\n    b: u8;\n    c: u16[..];\n  }",
    );
}

#[test]
fn transforms() {
    check(
        &one("  record R { a: u8 transform(squash); }"),
        2,
        30,
        "unknown transform `squash`",
    );
    check(
        &one("  extern transform zero_run = \"a::Z\";\n  record R { a: u8 transform(zero_rn); }"),
        3,
        30,
        "did you mean `zero_run`?",
    );
    check(
        &one("  enum E: u8 { A = 1 }\n  record R { a: u8 transform(E); }"),
        3,
        30,
        "`E` is an enum, not an extern transform",
    );
    check(
        &one("  extern transform z = \"not a path\";"),
        2,
        20,
        "is not a Rust path",
    );
    accepted("  extern transform z = \"::a::b_c::Z9\";\n  record R { a: bytes[..] transform(z); }");
}

#[test]
fn recursion_without_indirection() {
    let e = one("  record A {\n    b: B;\n  }\n  record B {\n    a: A;\n  }");
    check(&e, 3, 8, "record `A` contains itself (A.b → B.a → A)");
    check(
        &one("  union U(t: u8) { 1 => X(U(t)); }"),
        2,
        27,
        "union `U` contains itself",
    );
    check(
        &one("  record A { a: A within 3; }"),
        2,
        17,
        "record `A` contains itself",
    );
    // Arrays are indirection.
    accepted("  record Node {\n    n: u8;\n    children: Node[n];\n  }");
}

#[test]
fn all_errors_are_collected_in_source_order() {
    let e =
        errors("  record R {\n    a: Nope;\n    b: bytes[zz];\n  }\n  enum E: u8 { A = 1, A = 2 }");
    let positions: Vec<(u32, u32)> = e.iter().map(|e| (e.span.line, e.span.column)).collect();
    assert_eq!(positions, [(3, 8), (4, 14), (6, 23)]);
}

// ------------------------------------------------------------------------------------
// Syntax errors: position, found, expected
// ------------------------------------------------------------------------------------

fn syntax(src: &str) -> SpecError {
    match ferrocom_spec::parse::parse("t.wire", src) {
        Ok(_) => panic!("parsed: {src}"),
        Err(e) => e,
    }
}

#[test]
fn syntax_errors_point_at_the_token() {
    let e = syntax("protocol p {\n  record R {\n    a: u8 b: u8;\n  }\n}");
    check(&e, 3, 11, "expected `;` after field `a`");
    assert_eq!(e.found, "`b`");
    assert!(
        e.expected.starts_with("`;` or a field modifier"),
        "{}",
        e.expected
    );

    let e = syntax("protocol p { record R { a: ; } }");
    check(&e, 1, 28, "field `a` needs a type");
    assert_eq!(e.found, "`;`");
    assert!(
        e.expected.starts_with("a type (u8, u16, ..."),
        "{}",
        e.expected
    );

    let e = syntax("protocol p { record R { a: u8 if ; } }");
    check(&e, 1, 34, "missing the condition of field `a` after `if`");
    let e = syntax("protocol p { record R { a: u8 where a < 1 < 2; } }");
    check(&e, 1, 43, "comparison operators cannot be chained");
    let e = syntax("protocol p { record R { a: u8 where (a; } }");
    check(&e, 1, 39, "missing `)`");
    let e = syntax("protocol p { record R { a: u8 where a > 1 if a; } }");
    check(&e, 1, 43, "`if` is repeated or out of order");
    let e = syntax("protocol p { record R { a: u12; } }");
    check(&e, 1, 28, "`u12` is not a whole number of bytes");
    let e = syntax("protocol p { record R { a: u65; } }");
    check(&e, 1, 28, "integer types are 1 to 64 bits wide");
    let e = syntax("protocol p { record R { a: str(i8); } }");
    check(&e, 1, 32, "a length prefix must be unsigned");
    let e = syntax("protocol p { record R { a: bytes; } }");
    check(&e, 1, 33, "`bytes` needs a size");
    let e = syntax("protocol p { record R { a: bool; } }");
    check(&e, 1, 28, "only allowed inside `bits`");
    let e = syntax("protocol p { record R { if: u8; } }");
    check(&e, 1, 25, "`if` is a keyword");
    let e = syntax("protocol p { record R { a: u8 = 0xZZ; } }");
    check(&e, 1, 33, "invalid hexadecimal digit `z`");
    let e = syntax("protocol p { enum E: u8 { A = 1 B = 2 } }");
    check(&e, 1, 33, "missing `,` between variants of enum `E`");
    let e = syntax("protocol p { flags F: u8 { A = -1 } }");
    check(&e, 1, 32, "a flag mask cannot be negative");
    let e = syntax("protocol p { bits B: u8 { a: i4; } }");
    check(&e, 1, 30, "fields of `bits` are unsigned");
    let e = syntax("protocol p { union U(t: u8) { 1..5 => A; } }");
    check(&e, 1, 32, "ranges in patterns are inclusive");
    let e = syntax("protocol p { union U(t: u8) { 1 => A(u8) 2 => B; } }");
    check(&e, 1, 42, "expected `;` after arm `A`");
    let e = syntax("protocol p { union U { 1 => A; } }");
    check(&e, 1, 22, "needs its tag parameter");
    let e = syntax("protocol p { extern transform z = \"a::b; }");
    check(&e, 1, 35, "unterminated string");
    let e = syntax("protocol p { @clause(\"x\") @clause(\"y\") record R {} }");
    check(&e, 1, 27, "only one `@clause(..)`");
    let e = syntax("protocol p { @clause(\"bad \\q\") record R {} }");
    check(&e, 1, 27, "unknown escape");
    let e = syntax("protocol p { @since(\"1\") record R {} }");
    check(&e, 1, 15, "unknown annotation `@since`");
    let e = syntax("protocol p { record R { /// doc\n } }");
    check(
        &e,
        2,
        2,
        "doc comment or annotation is not followed by a field",
    );
    let e = syntax("protocol p { struct X {} }");
    check(&e, 1, 14, "unknown item kind `struct`");
    let e = syntax("protocol p { record R {} byte_order big; }");
    check(&e, 1, 26, "`byte_order` must come before the first item");
    let e = syntax("protocol p { byte_order big; byte_order little; }");
    check(&e, 1, 30, "`byte_order` is set twice");
    let e = syntax("protocol p { byte_order middle; }");
    check(&e, 1, 25, "unknown byte order");
    let e = syntax("protocol p { } protocol q { }");
    check(&e, 1, 16, "a spec file holds one protocol");
    let e = syntax("protocol p { record R { a: u8; }");
    check(&e, 1, 33, "protocol `p` is not closed");
    assert_eq!(e.found, "end of file");
    let e = syntax("");
    check(&e, 1, 1, "a spec file must start with `protocol NAME {`");
    assert_eq!(e.found, "end of file");
    let e = syntax("protocol p { record R { a: u8 where a == # ; } }");
    check(&e, 1, 42, "missing the right operand of `==`");
    assert_eq!(e.found, "`#`");
}

#[test]
fn display_format() {
    let e = syntax("protocol p {\n\trecord R { a: ; }\n}");
    assert_eq!(
        e.to_string(),
        "t.wire:2:16: error: field `a` needs a type (found `;`, expected a type (u8, u16, ..., i8, ..., uint(..), mqtt_varint, intser, bytes[..], bytes(u16), bytes(until 0x0D), str[..], str(u8), cstr, decimal(i64), or a declared type name))\n  2 | \trecord R { a: ; }\n    | \t              ^"
    );
}

/// The error outputs shown in the README are what the parser really prints.
#[test]
fn readme_error_examples_are_real() {
    let readme = include_str!("../README.md");
    let specs = [
        "protocol demo {\n  flags Flags: u8 { EXTRA = 0x80 }\n  record Header {\n    flags: Flgs;\n    size:  u16 = len(data);\n    data:  bytes[size];\n  }\n}\n",
        "protocol demo {\n  record Header {\n    size: u16 = len(data)\n    data: bytes[size];\n  }\n}\n",
        "protocol demo {\n  union Body(kind: u8) {\n    0x30..=0x3F => Publish(bytes[..]);\n    0x31 => Other;\n  }\n}\n",
    ];
    for src in specs {
        let shown = ferrocom_spec::parse_str("demo.wire", src)
            .unwrap_err()
            .to_string();
        assert!(
            readme.contains(&format!("```text\n{shown}\n```")),
            "README does not show this output:\n{shown}"
        );
    }
}

// ------------------------------------------------------------------------------------
// Separated (text) records
// ------------------------------------------------------------------------------------

#[test]
fn separated_records_are_accepted_with_their_forms() {
    accepted(
        "  record Cmd separated(0x17) { kind: u8 = tag(body); body: Body(kind); }\n\
         \x20 union Body(kind: u8) { 'M' => Msg(Msg); 'R' => Rep(Rep); _ => reject; }\n\
         \x20 record Msg separated(0x17) { id: str[..]; level: decimal(i32); opt: str[..] if more(); more2: bytes[..] if more(); }\n\
         \x20 record Rep separated(0x17) { id: str[..]; params: bytes[..][..]; }\n\
         \x20 frame Line { text: bytes(until 0x0D); }",
    );
}

#[test]
fn more_only_as_the_condition_of_a_separated_part() {
    let e = one("  record R { a: u8; b: u8 if more(); }");
    check(&e, 2, 30, "only exists in separated records");
    let e = one("  record R separated(0x17) { a: u8; b: u8 if more() && a == 1; }");
    check(&e, 2, 46, "whole `if` condition");
}

#[test]
fn a_required_part_cannot_follow_an_optional_one() {
    let e = one("  record R separated(0x17) { a: str[..] if more(); b: str[..]; }");
    check(&e, 2, 52, "must be optional the same way");
    assert_eq!(e.notes.len(), 1, "{e}");
}

#[test]
fn a_rest_array_of_parts_is_last() {
    let e = one("  record R separated(0x17) { a: str[..][..]; b: u8; }");
    check(&e, 2, 30, "must be the last field");
}

#[test]
fn binary_records_cannot_hold_separated_ones() {
    let e = one(
        "  record T separated(0x17) { a: str[..]; }\n  record B { len: u8 = len(t); t: T within len; }",
    );
    check(&e, 3, 32, "holds a separated (text) record");
}

#[test]
fn unions_inside_separated_records_carry_separated_records() {
    let e = one(
        "  record T separated(0x17) { k: u8 = tag(b); b: U(k); }\n  union U(k: u8) { 'A' => A(str[..]); _ => reject; }",
    );
    check(&e, 2, 46, "must carry separated records");
}

#[test]
fn separated_frames_and_bad_separator_bytes() {
    let e = one("  frame F separated(0x17) { a: str[..]; }");
    check(&e, 2, 11, "cannot be separated");
    let e = errors("  record R separated(300) { a: str[..]; }");
    assert!(
        e[0].message.contains("300 is not a byte"),
        "{}",
        SpecErrors(e)
    );
    let e = errors("  frame F { a: bytes(until 256); }");
    assert!(e[0].message.contains("not a byte"), "{}", SpecErrors(e));
}

#[test]
fn char_literals_are_their_codes() {
    let spec = ferrocom_spec::parse_str("t.wire", &wrap("  frame F { k: u8 = 'M'; }")).unwrap();
    let ferrocom_spec::model::Item::Record(r) = &spec.protocol.items[0] else {
        panic!("not a record");
    };
    let d = r.fields[0].derive.as_ref().unwrap();
    assert_eq!(d.kind, ferrocom_spec::model::ExprKind::Int(77));
}

//! The canonical protocol specs in `spec/protocols/*.wire` parse, validate and have the
//! shape the rest of ferrocom relies on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ferrocom_spec::model::{
    ArmBody, ByteOrder, Expr, ExprKind, Item, Meta, PatValue, Pattern, Protocol, RecordDef, Spec,
    Type, UnionDef,
};

fn protocols_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("protocols")
}

fn wire_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(protocols_dir())
        .expect("spec/protocols exists")
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wire"))
        .collect();
    files.sort();
    files
}

/// Parses (and thereby validates) one canonical spec, failing with the spec error's
/// Display text (file:line:column and message).
fn load(name: &str) -> Spec {
    let path = protocols_dir().join(name);
    match ferrocom_spec::parse_file(&path) {
        Ok(spec) => spec,
        Err(e) => panic!("{} does not parse/validate:\n{e}", path.display()),
    }
}

fn record<'a>(p: &'a Protocol, name: &str) -> &'a RecordDef {
    match p.item(name) {
        Some(Item::Record(r)) => r,
        other => panic!("{}: expected record/frame {name}, found {other:?}", p.name),
    }
}

fn union<'a>(p: &'a Protocol, name: &str) -> &'a UnionDef {
    match p.item(name) {
        Some(Item::Union(u)) => u,
        other => panic!("{}: expected union {name}, found {other:?}", p.name),
    }
}

/// Names of the non-reject arms of a union, in order.
fn variants(u: &UnionDef) -> Vec<&str> {
    u.arms
        .iter()
        .filter_map(|a| match &a.body {
            ArmBody::Variant { name, .. } => Some(name.name.as_str()),
            ArmBody::Reject => None,
        })
        .collect()
}

/// Every element of a protocol that carries docs/clause, with a label for messages.
fn all_metas(p: &Protocol) -> Vec<(String, &Meta)> {
    let mut out = vec![(format!("protocol {}", p.name), &p.meta)];
    for item in &p.items {
        let iname = item.name().name.clone();
        out.push((iname.clone(), item.meta()));
        match item {
            Item::Enum(d) => {
                for v in &d.variants {
                    out.push((format!("{iname}::{}", v.name), &v.meta));
                }
            }
            Item::Flags(d) => {
                for f in &d.flags {
                    out.push((format!("{iname}::{}", f.name), &f.meta));
                }
            }
            Item::Bits(d) => {
                for f in &d.fields {
                    out.push((format!("{iname}.{}", f.name), &f.meta));
                }
            }
            Item::Record(d) => {
                for f in &d.fields {
                    out.push((format!("{iname}.{}", f.name), &f.meta));
                }
            }
            Item::Union(d) => {
                for (i, a) in d.arms.iter().enumerate() {
                    out.push((format!("{iname} arm #{i}"), &a.meta));
                }
            }
            Item::Extern(_) => {}
        }
    }
    out
}

fn clauses(p: &Protocol) -> BTreeSet<String> {
    all_metas(p)
        .into_iter()
        .filter_map(|(_, m)| m.clause.clone())
        .collect()
}

#[test]
fn every_canonical_spec_parses_and_validates() {
    let files = wire_files();
    assert!(
        files.len() >= 3,
        "expected at least iocom, switchbox and mqtt311 in {}, found {files:?}",
        protocols_dir().display()
    );
    let mut failures = Vec::new();
    for path in &files {
        if let Err(e) = ferrocom_spec::parse_file(path) {
            failures.push(format!("{}:\n{e}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "spec errors:\n{}",
        failures.join("\n\n")
    );
}

#[test]
fn every_clause_is_stated_in_the_doc_line_above_it() {
    for name in [
        "iocom.wire",
        "switchbox.wire",
        "mqtt311.wire",
        "iotellect.wire",
    ] {
        let spec = load(name);
        let p = &spec.protocol;
        let prefix = match p.name.name.as_str() {
            "iocom" => "IOCOM-",
            "switchbox" => "SWB-",
            "mqtt311" => "MQTT-",
            "iotellect" => "ICP",
            other => panic!("unexpected protocol {other}"),
        };
        for (label, meta) in all_metas(p) {
            let Some(clause) = &meta.clause else { continue };
            assert!(
                clause.starts_with(prefix),
                "{name}: {label}: clause {clause} should start with {prefix}"
            );
            let tag = format!("[{clause}]");
            assert!(
                meta.docs.iter().any(|d| d.starts_with(&tag)),
                "{name}: {label}: clause {clause} has no doc line starting with {tag}: {:?}",
                meta.docs
            );
        }
    }
}

#[test]
fn iocom_structure() {
    let spec = load("iocom.wire");
    let p = &spec.protocol;
    assert_eq!(p.name.name, "iocom");
    assert_eq!(p.byte_order, ByteOrder::Little);

    for frame in [
        "SocketItem",
        "SerialItem",
        "ClientHandshake",
        "TlsMark",
        "CertificateAnswer",
    ] {
        assert!(record(p, frame).is_frame, "{frame} should be a frame");
    }
    for rec in [
        "SocketFrame",
        "SerialFrame",
        "SystemMessage",
        "Authentication",
        "MemoryBlockInfo",
        "RemoveRequest",
    ] {
        assert!(!record(p, rec).is_frame, "{rec} should be a nested record");
    }

    // Numbered frames take the frame number (the lead byte) as a parameter.
    for rec in ["SocketFrame", "SerialFrame"] {
        let r = record(p, rec);
        assert_eq!(r.params.len(), 1, "{rec} params");
        assert_eq!(r.params[0].name.name, "nr");
    }

    // The serial frame carries a CRC-16/MODBUS over the frame, socket frames none.
    let crc_field = |r: &RecordDef| {
        r.fields.iter().find(|f| {
            matches!(&f.derive, Some(Expr { kind: ExprKind::Call { func, .. }, .. }) if func.name == "crc16_modbus")
        }).map(|f| f.name.name.clone())
    };
    assert_eq!(
        crc_field(record(p, "SerialFrame")).as_deref(),
        Some("checksum")
    );
    assert_eq!(crc_field(record(p, "SocketFrame")), None);

    // DATA_SZ: u16 on sockets, u8 on serial.
    let size_bits = |r: &RecordDef| match &r
        .fields
        .iter()
        .find(|f| f.name.name == "size")
        .expect("size field")
        .ty
    {
        Type::Int(t) => t.bits,
        other => panic!("size should be an integer, is {other:?}"),
    };
    assert_eq!(size_bits(record(p, "SocketFrame")), 16);
    assert_eq!(size_bits(record(p, "SerialFrame")), 8);

    // Content goes through the zero-run transform, declared as an extern.
    match p.item("zero_run") {
        Some(Item::Extern(x)) => assert_eq!(x.rust_path, "ferrocom_wire::transforms::ZeroRun"),
        other => panic!("zero_run extern missing: {other:?}"),
    }
    for rec in ["SocketFrame", "SerialFrame"] {
        let data = record(p, rec)
            .fields
            .iter()
            .find(|f| f.name.name == "data")
            .expect("data field");
        assert_eq!(
            data.transform.as_ref().map(|t| t.name.name.as_str()),
            Some("zero_run"),
            "{rec}.data"
        );
    }

    // Lead-byte unions: ACK, numbered frames 0..=200 and a reject arm for the rest.
    let socket = union(p, "SocketBody");
    assert_eq!(variants(socket), ["Ack", "Numbered"]);
    let serial = union(p, "SerialBody");
    assert_eq!(
        variants(serial),
        [
            "Ack",
            "Disconnect",
            "ConfirmReply",
            "Confirm",
            "ConnectReply",
            "Connect",
            "Numbered"
        ]
    );
    for u in [socket, serial] {
        let numbered = u
            .arms
            .iter()
            .find(|a| matches!(&a.body, ArmBody::Variant { name, .. } if name.name == "Numbered"))
            .expect("Numbered arm");
        assert!(
            matches!(
                &numbered.pattern,
                Pattern::Range(PatValue::Int(0, _), PatValue::Int(200, _))
            ),
            "{}: frame numbers must be 0..=200, got {:?}",
            u.name,
            numbered.pattern
        );
        let last = u.arms.last().expect("arms");
        assert!(matches!(last.pattern, Pattern::Wildcard(_)) && last.body == ArmBody::Reject);
        assert!(
            last.meta
                .clause
                .as_deref()
                .is_some_and(|c| c.starts_with("IOCOM-5"))
        );
    }
    // The serial link control characters are unit variants with single-value arms.
    for (byte, name) in [
        (0xF9, "Disconnect"),
        (0xFA, "ConfirmReply"),
        (0xFB, "Confirm"),
        (0xFC, "ConnectReply"),
        (0xFD, "Connect"),
    ] {
        let arm = serial
            .arms
            .iter()
            .find(|a| matches!(&a.body, ArmBody::Variant { name: n, .. } if n.name == name))
            .unwrap_or_else(|| panic!("{name} arm"));
        assert!(
            matches!(arm.pattern, Pattern::Value(PatValue::Int(v, _)) if v == byte),
            "{name}"
        );
        assert!(
            matches!(&arm.body, ArmBody::Variant { payload: None, .. }),
            "{name} is a unit variant"
        );
    }

    // System messages.
    let system = union(p, "SystemBody");
    let v = variants(system);
    for name in ["MemoryBlockInfo", "Authentication", "RemoveRequest"] {
        assert!(v.contains(&name), "SystemBody lacks {name}: {v:?}");
    }
    let auth = record(p, "Authentication");
    let auth_fields: Vec<&str> = auth.fields.iter().map(|f| f.name.name.as_str()).collect();
    assert_eq!(
        auth_fields,
        [
            "flags",
            "user",
            "device_nr",
            "unique_id",
            "network",
            "password"
        ]
    );
    assert!(auth.fields[3].condition.is_some(), "unique id is optional");
    assert!(
        matches!(auth.fields[2].ty, Type::DynUint { .. }),
        "device number is a puint"
    );
    // The string limits of section 19 are decode-time `where` rules.
    for (rec, field) in [
        ("Authentication", "user"),
        ("Authentication", "network"),
        ("Authentication", "password"),
        ("MemoryBlockInfo", "device_name"),
        ("MemoryBlockInfo", "network"),
        ("MemoryBlockInfo", "block_name"),
        ("ClientHandshake", "network"),
    ] {
        let f = record(p, rec)
            .fields
            .iter()
            .find(|f| f.name.name == field)
            .expect("field");
        assert!(
            f.constraint.is_some(),
            "{rec}.{field} should carry its length limit"
        );
    }

    let c = clauses(p);
    for id in [
        "IOCOM-4.1-1",
        "IOCOM-4.2-1",
        "IOCOM-4.2-2",
        "IOCOM-5-1",
        "IOCOM-6.1-1",
        "IOCOM-8.1-3",
        "IOCOM-9.1-1",
        "IOCOM-10.2-1",
        "IOCOM-12-1",
    ] {
        assert!(c.contains(id), "iocom lacks clause {id}; has {c:?}");
    }
}

#[test]
fn switchbox_structure() {
    let spec = load("switchbox.wire");
    let p = &spec.protocol;
    assert_eq!(p.name.name, "switchbox");
    assert_eq!(p.byte_order, ByteOrder::Little);
    assert!(record(p, "Message").is_frame);
    let body = union(p, "MessageBody");
    assert_eq!(
        variants(body),
        ["NewConnection", "ConnectionDropped", "KeepAlive", "Data"]
    );
    for (code, name) in [
        (-1, "NewConnection"),
        (-2, "ConnectionDropped"),
        (-3, "KeepAlive"),
    ] {
        let arm = body
            .arms
            .iter()
            .find(|a| matches!(&a.body, ArmBody::Variant { name: n, .. } if n.name == name))
            .unwrap_or_else(|| panic!("{name} arm"));
        assert!(
            matches!(arm.pattern, Pattern::Value(PatValue::Int(v, _)) if v == code),
            "{name}"
        );
    }
    assert_eq!(body.arms.last().map(|a| &a.body), Some(&ArmBody::Reject));
    let c = clauses(p);
    assert!(c.len() >= 6, "switchbox clauses: {c:?}");
}

#[test]
fn mqtt311_structure() {
    let spec = load("mqtt311.wire");
    let p = &spec.protocol;
    assert_eq!(p.name.name, "mqtt311");
    assert_eq!(p.byte_order, ByteOrder::Big);
    let packet = record(p, "Packet");
    assert!(packet.is_frame);
    assert!(
        matches!(packet.fields[1].ty, Type::MqttVarint),
        "remaining length is an MQTT varint"
    );
    assert!(
        matches!(packet.fields[2].ty, Type::Within { .. }),
        "body is bounded by the remaining length"
    );

    let body = union(p, "PacketBody");
    assert_eq!(
        variants(body),
        [
            "Connect",
            "Connack",
            "Publish",
            "Puback",
            "Pubrec",
            "Pubrel",
            "Pubcomp",
            "Subscribe",
            "Suback",
            "Unsubscribe",
            "Unsuback",
            "Pingreq",
            "Pingresp",
            "Disconnect"
        ],
        "the 14 MQTT 3.1.1 control packets"
    );
    // Every reject arm names the rule it enforces.
    for arm in body.arms.iter().filter(|a| a.body == ArmBody::Reject) {
        assert!(
            arm.meta.clause.is_some(),
            "reject arm {:?} without clause",
            arm.pattern
        );
    }
    // Packets with fixed flags match their exact first byte.
    for (byte, name) in [
        (0x10, "Connect"),
        (0x62, "Pubrel"),
        (0x82, "Subscribe"),
        (0xA2, "Unsubscribe"),
        (0xE0, "Disconnect"),
    ] {
        let arm = body
            .arms
            .iter()
            .find(|a| matches!(&a.body, ArmBody::Variant { name: n, .. } if n.name == name))
            .unwrap_or_else(|| panic!("{name} arm"));
        assert!(
            matches!(arm.pattern, Pattern::Value(PatValue::Int(v, _)) if v == byte),
            "{name}"
        );
    }

    match p.item("PublishHeader") {
        Some(Item::Bits(b)) => {
            let names: Vec<&str> = b.fields.iter().map(|f| f.name.name.as_str()).collect();
            assert_eq!(names, ["kind", "dup", "qos", "retain"]);
        }
        other => panic!("PublishHeader should be bits: {other:?}"),
    }
    let c = clauses(p);
    for id in [
        "MQTT-2.2.2-2",
        "MQTT-3.1.2-3",
        "MQTT-3.3.1-4",
        "MQTT-3-8.3-4",
        "MQTT-2.3.1-1",
        "MQTT-3.6.1-1",
    ] {
        assert!(c.contains(id), "mqtt311 lacks clause {id}; has {c:?}");
    }
}

//! The generated C header compiles with the system C compiler and agrees with the Rust
//! model: a C program built against it prints every block size and every signal's
//! address, type and element count (from the plain defines, and from IOCOM's
//! `iocSignal` structure with its initialisers, built against a stand-in for IOCOM's
//! types), and the test compares that with the layout ferrocom computed.
//!
//! Needs `cc` (or `$CC`). Without one the test is skipped with a message, except when
//! `CI=true`: then it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferrocom_codegen::signals::{BindingsOptions, c_header_for_map};
use ferrocom_spec::signals::{SignalMap, SignalType};
use ferrocom_wire::packed_json::{PackOptions, pack_json_text};

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// A scratch folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("ferrocom-c-header-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The C compiler, or `None` (and a message) if there is none and this is not CI.
fn compiler() -> Option<String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    if Command::new(&cc).arg("--version").output().is_ok() {
        return Some(cc);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("no C compiler (`{cc}`) found; CI must have one for the C header test");
    }
    eprintln!("SKIPPED: no C compiler (`{cc}`) found; install one (e.g. gcc) to run this test");
    None
}

/// Compiles `main.c` in `dir` with strict warnings, runs it, returns its output.
fn compile_and_run(cc: &str, dir: &Path, extra_flags: &[&str]) -> String {
    let exe = dir.join("main");
    let out = Command::new(cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .args(extra_flags)
        .arg("-I")
        .arg(dir)
        .arg(dir.join("main.c"))
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the C program does not compile:\n{}\n--- main.c ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.join("main.c")).unwrap()
    );
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success(), "the C program failed");
    String::from_utf8(run.stdout).unwrap()
}

/// A stand-in for the part of IOCOM's headers the generated header uses (the real
/// `iocom.h` defines `IOCOM_H_`; the struct layouts are those of iocom's
/// `ioc_signal.h` and `ioc_streamer.h`).
const IOCOM_STAND_IN: &str = r#"
#define IOCOM_H_
#include <stddef.h>
typedef char os_char;
typedef unsigned char os_uchar;
typedef short os_short;
typedef unsigned short os_ushort;
typedef int os_int;
typedef unsigned int os_uint;
typedef char os_boolean;
#define OS_NULL ((void*)0)
#define OS_FALSE 0
#define OS_TRUE 1
#define OS_FLASH_MEM const
#define OS_FLASH_MEM_H const
#define OSAL_C_HEADER_BEGINS
#define OSAL_C_HEADER_ENDS
enum { OS_BOOLEAN = 1, OS_CHAR, OS_UCHAR, OS_SHORT, OS_USHORT, OS_INT, OS_UINT, OS_INT64,
       OS_LONG, OS_FLOAT, OS_DOUBLE, OS_DEC01, OS_DEC001, OS_STR };
#define OSAL_TYPEID_MASK 0x1F
#define IOC_PIN_PTR 0x20
#define IOC_PFLAG_IS_PRM 0x40
#define IOC_PFLAG_IS_PERSISTENT 0x80
typedef struct iocHandle { int unused; } iocHandle;
struct iocSignal;
typedef struct iocMblkSignalHdr {
    const os_char *mblk_name; iocHandle *handle; os_int n_signals; os_uint mblk_sz;
    struct iocSignal *first_signal;
} iocMblkSignalHdr;
typedef struct iocDeviceHdr { iocMblkSignalHdr **mblk_hdr; os_short n_mblk_hdrs; } iocDeviceHdr;
typedef struct iocSignal {
    os_int addr; os_int n; os_char flags; iocHandle *handle; const void *ptr;
} iocSignal;
typedef struct iocStreamerSignals {
    const iocSignal *cmd; const iocSignal *select; const iocSignal *buf;
    const iocSignal *head; const iocSignal *tail; const iocSignal *state;
    os_boolean to_device; os_boolean flat_buffer;
} iocStreamerSignals;
"#;

/// Slot size computed in C from the defines (type id and count), for the end addresses.
const C_SLOT: &str = r#"
static long slot(int type, long n) {
    static const int size[] = {0, 0, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 2, 2, 1};
    if (n < 1) n = 1;
    if (type == 1) return n == 1 ? 1 : 1 + (n + 7) / 8;
    return 1 + n * size[type];
}
"#;

/// What the C programs must print, from the Rust model.
fn expected(map: &SignalMap, with_iocom: bool) -> String {
    let mut e = String::new();
    for b in &map.blocks {
        let _ = writeln!(e, "block {} {}", b.name, b.size);
        let mut signals: Vec<_> = b.signals().collect();
        if with_iocom {
            signals.sort_by_key(|s| s.addr);
            let _ = writeln!(e, "count {}", signals.len());
        }
        for s in signals {
            let _ = writeln!(
                e,
                "{} {} {} {} {} {}",
                s.name,
                s.addr,
                s.ty.id(),
                s.array,
                if with_iocom { 0 } else { s.slot_size() },
                s.end()
            );
        }
    }
    e
}

fn upper(device: &str, block: &str, signal: &str) -> String {
    format!("{device}_{block}_{signal}").to_uppercase()
}

/// Program 1: the plain defines, no IOCOM headers.
fn standalone_program(map: &SignalMap, device: &str, header: &str) -> String {
    let mut c =
        format!("#include <stdio.h>\n#include \"{header}\"\n{C_SLOT}\nint main(void)\n{{\n");
    let _ = writeln!(
        c,
        "    if (sizeof(IOBOARD_DEVICE_NAME) != {}) return 1;",
        device.len() + 1
    );
    for b in &map.blocks {
        let blk = format!("{device}_{}", b.name).to_uppercase();
        let _ = writeln!(c, "    printf(\"block {} %d\\n\", {blk}_MBLK_SZ);", b.name);
        for s in b.signals() {
            let sig = upper(device, &b.name, &s.name);
            let _ = writeln!(c, "#ifndef {sig}\n#error {sig} is not defined\n#endif");
            if s.array > 1 {
                let _ = writeln!(c, "    if ({sig}_ARRAY_SZ != {sig}_N) return 2;");
            } else {
                let _ = writeln!(
                    c,
                    "#ifdef {sig}_ARRAY_SZ\n#error scalar with _ARRAY_SZ\n#endif"
                );
            }
            let _ = writeln!(
                c,
                "    printf(\"{} %ld %d %ld %ld %ld\\n\", (long){sig}_ADDR, {sig}_TYPE, (long){sig}_N, slot({sig}_TYPE, {sig}_N), (long){sig}_ADDR + slot({sig}_TYPE, {sig}_N));",
                s.name
            );
        }
    }
    c.push_str("    return 0;\n}\n");
    c
}

/// Program 2: IOCOM's structure, defined by the header's implementation part, walked
/// through `<device>_hdr` as IOCOM walks it, plus checks by name.
fn iocom_program(map: &SignalMap, device: &str, header: &str, implementation: &str) -> String {
    let mut c = String::from("#include <stdio.h>\n#include \"iocom.h\"\n");
    for b in &map.blocks {
        let _ = writeln!(c, "iocHandle ioboard_{};", b.name);
    }
    let _ = writeln!(c, "#define {implementation}\n#include \"{header}\"\n");
    c.push_str("int main(void)\n{\n    int i, j;\n");
    let _ = writeln!(
        c,
        "    for (i = 0; i < {device}_hdr.n_mblk_hdrs; i++) {{\n        const iocMblkSignalHdr *h = {device}_hdr.mblk_hdr[i];\n        printf(\"block %s %u\\ncount %d\\n\", h->mblk_name, h->mblk_sz, h->n_signals);\n        for (j = 0; j < h->n_signals; j++) {{\n            const iocSignal *s = h->first_signal + j;\n            if (s->handle != h->handle) return 3;\n            printf(\"? %d %d %d 0\\n\", s->addr, s->flags & OSAL_TYPEID_MASK, s->n);\n        }}\n    }}"
    );
    // By name: each member has the address and handle of its signal.
    for b in &map.blocks {
        for s in b.signals() {
            let _ = writeln!(
                c,
                "    if ({device}.{blk}.{sig}.addr != {addr} || {device}.{blk}.{sig}.handle != &ioboard_{blk}) return 4;",
                blk = b.name,
                sig = s.name,
                addr = s.addr
            );
        }
    }
    c.push_str("    return 0;\n}\n");
    c
}

/// The names column of the IOCOM walk is `?` (C has no member names at run time); put
/// them back from the model so the comparison shows names.
fn with_names(out: &str, map: &SignalMap) -> String {
    let mut names = map.blocks.iter().flat_map(|b| {
        let mut v: Vec<_> = b.signals().collect();
        v.sort_by_key(|s| s.addr);
        v.into_iter().map(|s| (s.name.clone(), s.end()))
    });
    out.lines()
        .map(|l| match l.strip_prefix("? ") {
            Some(rest) => {
                let (name, end) = names.next().unwrap_or_default();
                format!("{name} {rest} {end}\n")
            }
            None => format!("{l}\n"),
        })
        .collect()
}

fn check_map(name: &str, map: &SignalMap, opts: &BindingsOptions, extra_flags: &[&str]) {
    let Some(cc) = compiler() else {
        return;
    };
    let dir = TempDir::new(name);
    let header = opts.c_header_name.clone();
    let text = c_header_for_map(map, opts).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.0.join(&header), &text).unwrap();
    let device = opts
        .device_name
        .clone()
        .or(map.name.clone())
        .unwrap_or_else(|| "unnameddevice".to_string());

    std::fs::write(
        dir.0.join("main.c"),
        standalone_program(map, &device, &header),
    )
    .unwrap();
    let out = compile_and_run(&cc, &dir.0, extra_flags);
    assert_eq!(out, expected(map, false), "plain defines of {name}");

    let stem = Path::new(&header)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .to_uppercase();
    let implementation = format!("IOC_{stem}_IMPLEMENTATION");
    std::fs::write(dir.0.join("iocom.h"), IOCOM_STAND_IN).unwrap();
    std::fs::write(
        dir.0.join("main.c"),
        iocom_program(map, &device, &header, &implementation),
    )
    .unwrap();
    let out = compile_and_run(&cc, &dir.0, extra_flags);
    assert_eq!(
        with_names(&out, map),
        expected(map, true),
        "IOCOM structure of {name}"
    );
}

#[test]
fn gina_header_compiles_and_agrees_with_the_rust_model() {
    let path = shared().join("vectors/iocom/gina-signal-map.merged.json");
    let (map, _) = SignalMap::from_path(&path).unwrap();
    let info = pack_json_text(&map.to_json_text(false), &PackOptions::info_block()).unwrap();
    let captured =
        std::fs::read(shared().join("vectors/iocom/gina-info-block.packed-json.bin")).unwrap();
    assert_eq!(info, captured);
    let opts = BindingsOptions {
        info: Some(info.clone()),
        c_header_name: "gina_signals.h".to_string(),
        ..Default::default()
    };
    check_map("gina", &map, &opts, &[]);

    // The streamer assembly and the packed info block, from C.
    let Some(cc) = compiler() else {
        return;
    };
    let dir = TempDir::new("gina-extras");
    std::fs::write(
        dir.0.join("gina_signals.h"),
        c_header_for_map(&map, &opts).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.0.join("iocom.h"), IOCOM_STAND_IN).unwrap();
    let mut c = String::from("#include <stdio.h>\n#include \"iocom.h\"\n");
    for b in &map.blocks {
        let _ = writeln!(c, "iocHandle ioboard_{};", b.name);
    }
    c.push_str(
        "#define IOC_GINA_SIGNALS_IMPLEMENTATION\n#include \"gina_signals.h\"\nint main(void)\n{\n    size_t i;\n\
         if (gina.camera.cmd != &gina.dimp.rec_cmd || gina.camera.select != &gina.dimp.rec_select\n\
             || gina.camera.buf != &gina.dexp.rec_buf || gina.camera.head != &gina.dexp.rec_head\n\
             || gina.camera.tail != &gina.dimp.rec_tail || gina.camera.state != &gina.dexp.rec_state\n\
             || gina.camera.to_device || gina.camera.flat_buffer) return 5;\n\
         for (i = 0; i < sizeof(ioapp_signals_config); i++) printf(\"%02x\", (unsigned char)ioapp_signals_config[i]);\n\
         return 0;\n}\n",
    );
    std::fs::write(dir.0.join("main.c"), c).unwrap();
    let out = compile_and_run(&cc, &dir.0, &[]);
    let hex: String = captured.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(out, hex);
}

#[test]
fn fixture_headers_compile_and_agree_with_the_rust_model() {
    let fixtures = shared().join("fixtures/iocom-signal-maps");
    for file in [
        "arduino__signals.json",
        "config__node_conf_wifi.json",
        "gina__200414-signals-with-7-segment.json",
        "config__game_controls.json",
        "claudia__signals.json",
    ] {
        let (map, _) = SignalMap::from_path(&fixtures.join(file)).unwrap();
        check_map(file, &map, &BindingsOptions::default(), &[]);
    }
}

#[test]
fn every_type_parameters_handles_and_a_flat_camera() {
    // Every signal type, arrays of each, a backward `addr`, a block `handle`, parameters
    // (`set_` signals pointing at their `exp` twin) and a flat camera assembly.
    let types: Vec<SignalType> = SignalType::ALL.to_vec();
    let mut signals = String::new();
    for (i, t) in types.iter().enumerate() {
        let _ = write!(
            signals,
            "{{\"name\": \"s_{t}\", \"type\": \"{t}\"}}, {{\"name\": \"a_{t}\", \"type\": \"{t}\", \"array\": {}}},",
            3 + i * 3
        );
    }
    let json = format!(
        r#"{{"name": "typo", "mblk": [
  {{"name": "exp", "flags": "up", "groups": [{{"name": "g", "signals": [{signals}
    {{"name": "volume", "type": "short", "pflag": 196}},
    {{"name": "cam_state", "type": "char", "addr": 2000}}, {{"name": "cam_head", "type": "int"}},
    {{"name": "cam_buf", "type": "uchar", "array": 100}},
    {{"name": "early", "type": "boolean", "addr": 1500}}]}}]}},
  {{"name": "imp", "flags": "down", "handle": "&my_imp_handle", "groups": [{{"name": "g", "signals": [
    {{"name": "set_volume", "type": "short", "pflag": 196}},
    {{"name": "cam_cmd", "type": "char"}}]}}]}}],
  "assembly": [{{"name": "cam", "type": "cam_flat", "exp": "exp.cam_", "imp": "imp.cam_"}}]}}"#
    );
    let (map, warnings) =
        SignalMap::from_json_str("typo.json", &json).unwrap_or_else(|e| panic!("{e}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let header = c_header_for_map(&map, &BindingsOptions::default()).unwrap();
    assert!(header.contains("{0, 1, OS_SHORT|IOC_PFLAG_IS_PRM|IOC_PFLAG_IS_PERSISTENT, &my_imp_handle, &typo.exp.volume}, /* set_volume */"), "{header}");
    assert!(header.contains("/* cam_flat `cam` */\n  {&typo.imp.cam_cmd, OS_NULL, &typo.exp.cam_buf, &typo.exp.cam_head, OS_NULL, &typo.exp.cam_state, OS_FALSE, OS_TRUE}"), "{header}");
    // Compiled: without the handle override (the stand-in defines `ioboard_<block>`).
    // The flags byte of a persistent parameter is above 127 in IOCOM's signed `os_char`
    // field, as in IOCOM's own generated code: hence -Wno-overflow.
    let (map, _) = SignalMap::from_json_str(
        "typo.json",
        &json.replace(", \"handle\": \"&my_imp_handle\"", ""),
    )
    .unwrap();
    let opts = BindingsOptions {
        c_header_name: "typo.h".to_string(),
        ..Default::default()
    };
    check_map("typo", &map, &opts, &["-Wno-overflow"]);
}

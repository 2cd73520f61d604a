//! The C header: IOCOM's names (those of its `signals_to_c.py` for an IO device), with
//! everything the addresses need in the one file.

use std::fmt::Write as _;
use std::path::Path;

use ferrocom_spec::signals::{Assembly, SignalMap};

use super::names::{Scope, check_c_ident};
use super::{BindingsError, BindingsOptions, by_address, device_name, file_label, invalid};

/// Generates a C header for the map, for C firmware built with IOCOM (the names are those
/// IOCOM's `signals_to_c.py` gives) and for C code without IOCOM (plain `#define`s).
///
/// Always usable, without any IOCOM header:
///
/// * `<DEVICE>_<BLOCK>_MBLK_SZ` — block sizes;
/// * `<DEVICE>_<BLOCK>_<SIGNAL>_ARRAY_SZ` — element counts of arrays (n > 1);
/// * `<DEVICE>_<BLOCK>_<SIGNAL>` — defined (empty) for every signal, for `#ifdef`;
/// * `IOBOARD_DEVICE_NAME` — the device name, unless defined already;
/// * ferrocom's additions: `<DEVICE>_<BLOCK>_<SIGNAL>_ADDR` (address of the state
///   byte), `_TYPE` (IOCOM type id, `OS_FLOAT` = 10, ...) and `_N` (element count).
///
/// When IOCOM's `iocom.h` was included first (it defines `IOCOM_H_`):
///
/// * `typedef struct <device>_t { struct { iocMblkSignalHdr hdr; iocSignal <signal>; ... }
///   <block>; ... iocStreamerSignals <assembly>; } <device>_t;` — members in address
///   order, as IOCOM writes them;
/// * `extern OS_FLASH_MEM_H <device>_t <device>;` and
///   `extern OS_FLASH_MEM_H iocDeviceHdr <device>_hdr;` (and `ioapp_signals_config`, the
///   packed `info` block, when [`BindingsOptions::info`] is given);
/// * with `IOC_<STEM>_IMPLEMENTATION` defined before the `#include` (in exactly one `.c`
///   file): their definitions, with the same initialisers IOCOM writes into its
///   separate `.c` file (address, element count, `OS_<TYPE>` and parameter flags, block
///   handle `&ioboard_<block>` or the block's `handle`, parameter pointer).
///
/// Not generated: IO pin pointers (IOCOM's `-p pins.json`) and the controller variants
/// (`-a controller-static`, `-a controller-dynamic`).
pub fn c_header_for_map(map: &SignalMap, opts: &BindingsOptions) -> Result<String, BindingsError> {
    let device = device_name(map, opts);
    check_c_ident(&device, "device name", &map.pos)?;
    let dev = device.to_uppercase();
    let stem = Path::new(&opts.c_header_name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "signals".to_string());
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let guard = format!("IOC_{stem}_INCLUDED");
    let implementation = format!("IOC_{stem}_IMPLEMENTATION");

    // Every #define, checked for clashes.
    let mut defines = Scope::default();
    defines.reserve(&guard, "the include guard");
    defines.reserve(&implementation, "the implementation switch");
    defines.reserve("IOBOARD_DEVICE_NAME", "the device name define");
    let mut members = Scope::default();

    let mut sizes = String::new();
    let mut arrays = String::new();
    let mut markers = String::new();
    let mut details = String::new();
    for block in &map.blocks {
        check_c_ident(&block.name, "memory block name", &block.pos)?;
        members.claim(
            &block.name,
            format!("memory block `{}`", block.name),
            &block.pos,
            "struct member",
        )?;
        let blk = format!("{dev}_{}", block.name.to_uppercase());
        let what = format!("memory block `{}`", block.name);
        let sz = format!("{blk}_MBLK_SZ");
        defines.claim(&sz, what, &block.pos, "define")?;
        let _ = writeln!(sizes, "#define {sz} {}", block.size);

        let mut block_members = Scope::default();
        block_members.reserve("hdr", "the block header member `hdr`");
        for s in by_address(block) {
            check_c_ident(&s.name, "signal name", &s.pos)?;
            let what = format!("signal `{}.{}`", block.name, s.name);
            block_members.claim(&s.name, what.clone(), &s.pos, "struct member")?;
            let sig = format!("{blk}_{}", s.name.to_uppercase());
            defines.claim(&sig, what.clone(), &s.pos, "define")?;
            let _ = writeln!(markers, "#define {sig}");
            if s.array > 1 {
                let name = format!("{sig}_ARRAY_SZ");
                defines.claim(&name, what.clone(), &s.pos, "define")?;
                let _ = writeln!(arrays, "#define {name} {}", s.array);
            }
            for (suffix, value, note) in [
                ("ADDR", s.addr.to_string(), String::new()),
                (
                    "TYPE",
                    s.ty.id().to_string(),
                    format!(" /* OS_{} */", s.ty.name().to_uppercase()),
                ),
                ("N", s.array.to_string(), String::new()),
            ] {
                let name = format!("{sig}_{suffix}");
                defines.claim(&name, what.clone(), &s.pos, "define")?;
                let _ = writeln!(details, "#define {name} {value}{note}");
            }
        }
    }
    for a in &map.assemblies {
        if streamer_kind(a).is_some() {
            check_c_ident(&a.name, "assembly name", &a.pos)?;
            members.claim(
                &a.name,
                format!("assembly `{}`", a.name),
                &a.pos,
                "struct member",
            )?;
        }
    }

    let file = file_label(map, opts);
    let mut h = String::new();
    let _ = writeln!(
        h,
        "/* Generated by ferrocom-codegen from {file}; do not edit.\n   Names and addresses as IOCOM's signals_to_c.py gives them (IO device). */"
    );
    let _ = writeln!(h, "#ifndef {guard}\n#define {guard}\n");
    let _ = write!(h, "/* Memory block sizes in bytes. */\n{sizes}");
    if !arrays.is_empty() {
        let _ = write!(h, "\n/* Element counts of array signals. */\n{arrays}");
    }
    if !markers.is_empty() {
        let _ = write!(
            h,
            "\n/* One define per signal of the map: test with #ifdef whether the map has it. */\n{markers}"
        );
        let _ = write!(
            h,
            "\n/* ferrocom: address of each signal's state byte in its block, IOCOM type id, element\n   count (for str: capacity in bytes). The value follows the state byte, little-endian;\n   boolean arrays are bit-packed. */\n{details}"
        );
    }
    let _ = writeln!(
        h,
        "\n#ifndef IOBOARD_DEVICE_NAME\n#define IOBOARD_DEVICE_NAME \"{device}\"\n#endif"
    );

    if map.blocks.is_empty() {
        let _ = writeln!(
            h,
            "\n/* The map has no memory blocks: no signal structure. */"
        );
    } else {
        iocom_section(&mut h, map, &device, &implementation, opts)?;
    }
    let _ = writeln!(h, "\n#endif /* {guard} */");
    Ok(h)
}

/// `Some(flat)` for assembly types IOCOM generates streamer signals for.
fn streamer_kind(a: &Assembly) -> Option<bool> {
    match a.ty.as_str() {
        "cam_ring" | "lcam_ring" => Some(false),
        "cam_flat" | "lcam_flat" => Some(true),
        _ => None,
    }
}

/// The part that needs IOCOM's types: the signal structure, its declarations and (behind
/// the implementation switch) its definitions.
fn iocom_section(
    h: &mut String,
    map: &SignalMap,
    device: &str,
    implementation: &str,
    opts: &BindingsOptions,
) -> Result<(), BindingsError> {
    let dev = device.to_uppercase();
    let mut typedef = format!("typedef struct {device}_t\n{{");
    // Top-level initialisers: one per block (header, then its signals), one per streamer.
    let mut parts: Vec<String> = Vec::new();
    for block in &map.blocks {
        let signals = by_address(block);
        let _ = write!(typedef, "\n  struct\n  {{\n    iocMblkSignalHdr hdr;\n");
        let handle = block
            .handle
            .clone()
            .unwrap_or_else(|| format!("&ioboard_{}", block.name));
        let first = signals.first().map_or_else(
            || "OS_NULL".to_string(),
            |s| format!("(iocSignal*)&{device}.{}.{}", block.name, s.name),
        );
        // (initialiser, comment) per line.
        let mut lines = vec![(
            format!(
                "{{\"{}\", {handle}, {}, {dev}_{}_MBLK_SZ, {first}}}",
                block.name,
                signals.len(),
                block.name.to_uppercase()
            ),
            String::new(),
        )];
        for s in &signals {
            let _ = writeln!(typedef, "    iocSignal {};", s.name);
            let mut flags = format!("OS_{}", s.ty.name().to_uppercase());
            let mut ptr = "OS_NULL".to_string();
            // Parameters (pflag 64): a `set_X` signal points at `exp.X` and carries the
            // parameter flags; other signals drop the pflag, as IOCOM's generator does.
            if let Some(pflag) = s.pflag.filter(|p| p & 64 != 0)
                && let Some(target) = s.name.strip_prefix("set_")
            {
                if map.signal("exp", target).is_none() {
                    return Err(invalid(
                        &s.pos,
                        format!(
                            "parameter signal `{}` needs a signal `exp.{target}` to point at",
                            s.name
                        ),
                    ));
                }
                flags.push_str("|IOC_PFLAG_IS_PRM");
                if pflag & 128 != 0 {
                    flags.push_str("|IOC_PFLAG_IS_PERSISTENT");
                }
                ptr = format!("&{device}.exp.{target}");
            }
            lines.push((
                format!("{{{}, {}, {flags}, {handle}, {ptr}}}", s.addr, s.array),
                format!(" /* {} */", s.name),
            ));
        }
        let last = lines.len() - 1;
        let body: Vec<String> = lines
            .into_iter()
            .enumerate()
            .map(|(i, (init, comment))| {
                format!("    {init}{}{comment}", if i < last { "," } else { "" })
            })
            .collect();
        parts.push(format!("  {{\n{}\n  }}", body.join("\n")));
        let _ = write!(typedef, "  }}\n  {};\n", block.name);
    }
    for a in &map.assemblies {
        let Some(flat) = streamer_kind(a) else {
            continue;
        };
        let _ = write!(typedef, "\n  iocStreamerSignals {};\n", a.name);
        let part = |key: &str, prefix: &Option<String>, ending: &str| {
            let text = prefix.as_deref().unwrap_or("");
            let Some((block, pre)) = text.split_once('.') else {
                return Err(invalid(
                    &a.pos,
                    format!(
                        "assembly `{}` needs `{key}` as \"<block>.<prefix>\", found `{text}`",
                        a.name
                    ),
                ));
            };
            let name = format!("{pre}{ending}");
            if map.signal(block, &name).is_none() {
                return Err(invalid(
                    &a.pos,
                    format!(
                        "assembly `{}` ({}) needs signal `{block}.{name}`, which the map does not have",
                        a.name, a.ty
                    ),
                ));
            }
            Ok(format!("&{device}.{block}.{name}"))
        };
        let items = if flat {
            [
                part("imp", &a.imp, "cmd")?,
                "OS_NULL".to_string(),
                part("exp", &a.exp, "buf")?,
                part("exp", &a.exp, "head")?,
                "OS_NULL".to_string(),
                part("exp", &a.exp, "state")?,
                "OS_FALSE".to_string(),
                "OS_TRUE".to_string(),
            ]
        } else {
            [
                part("imp", &a.imp, "cmd")?,
                part("imp", &a.imp, "select")?,
                part("exp", &a.exp, "buf")?,
                part("exp", &a.exp, "head")?,
                part("imp", &a.imp, "tail")?,
                part("exp", &a.exp, "state")?,
                "OS_FALSE".to_string(),
                "OS_FALSE".to_string(),
            ]
        };
        parts.push(format!(
            "  /* {} `{}` */\n  {{{}}}",
            a.ty,
            a.name,
            items.join(", ")
        ));
    }
    let init = format!(
        "OS_FLASH_MEM struct {device}_t {device} =\n{{\n{}\n}};\n",
        parts.join(",\n\n")
    );
    let _ = write!(typedef, "}}\n{device}_t;\n");

    let _ = write!(
        h,
        "\n/* With IOCOM (include iocom.h first): the signal structure IOCOM's generator writes. */\n#ifdef IOCOM_H_\nOSAL_C_HEADER_BEGINS\n\n{typedef}\nextern OS_FLASH_MEM_H {device}_t {device};\nextern OS_FLASH_MEM_H iocDeviceHdr {device}_hdr;\n"
    );
    if let Some(info) = &opts.info {
        let _ = writeln!(
            h,
            "extern OS_FLASH_MEM_H os_char ioapp_signals_config[{}];",
            info.len()
        );
    }
    let _ = write!(
        h,
        "\n/* Define {implementation} in exactly one .c file before including this header: it\n   then also defines what IOCOM's generator writes into its separate .c file. */\n#ifdef {implementation}\n{init}"
    );
    let list = map
        .blocks
        .iter()
        .map(|b| format!("&{device}.{}.hdr", b.name))
        .collect::<Vec<_>>()
        .join(",\n  ");
    let _ = write!(
        h,
        "\nstatic OS_FLASH_MEM iocMblkSignalHdr * OS_FLASH_MEM {device}_mblk_list[] =\n{{\n  {list}\n}};\n\nOS_FLASH_MEM iocDeviceHdr {device}_hdr = {{(iocMblkSignalHdr**){device}_mblk_list, sizeof({device}_mblk_list)/sizeof(iocMblkSignalHdr*)}};\n"
    );
    if let Some(info) = &opts.info {
        let _ = write!(
            h,
            "\n/* The packed info block ({} bytes). */\nOS_FLASH_MEM os_char ioapp_signals_config[{}] =\n{{",
            info.len(),
            info.len()
        );
        for (i, chunk) in info.chunks(16).enumerate() {
            // Bytes above 0x7F are cast: `os_char` is signed on most targets.
            let bytes: Vec<String> = chunk
                .iter()
                .map(|&b| {
                    if b < 0x80 {
                        format!("0x{b:02X}")
                    } else {
                        format!("(os_char)0x{b:02X}")
                    }
                })
                .collect();
            let _ = write!(
                h,
                "{}\n  {}",
                if i == 0 { "" } else { "," },
                bytes.join(", ")
            );
        }
        let _ = writeln!(h, "\n}};");
    }
    let _ = write!(
        h,
        "#endif /* {implementation} */\n\nOSAL_C_HEADER_ENDS\n#endif /* IOCOM_H_ */\n"
    );
    Ok(())
}

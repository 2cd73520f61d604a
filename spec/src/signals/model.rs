//! The typed signal-map model, how it is read from JSON values, and how it is written back.

use std::fmt;

use super::json::{JsonKind, JsonMember, JsonNumber, JsonValue, Pos};
use super::{SignalMapError, Warning};

/// A signal's value type (reference §13.1). The discriminant is IOCOM's numeric type id
/// (the low 5 bits of C signal descriptors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum SignalType {
    /// `boolean`: the value is bit 0 of the state byte; arrays are bit-packed.
    Boolean = 1,
    /// `char`: signed 8-bit.
    Char = 2,
    /// `uchar`: unsigned 8-bit.
    Uchar = 3,
    /// `short`: signed 16-bit LE.
    Short = 4,
    /// `ushort`: unsigned 16-bit LE; the type of a block's first signal without `type`.
    Ushort = 5,
    /// `int`: signed 32-bit LE.
    Int = 6,
    /// `uint`: unsigned 32-bit LE.
    Uint = 7,
    /// `int64`: signed 64-bit LE.
    Int64 = 8,
    /// `long`: signed 64-bit LE (32-bit C builds write only the low 4 bytes).
    Long = 9,
    /// `float`: IEEE-754 single LE.
    Float = 10,
    /// `double`: IEEE-754 double LE.
    Double = 11,
    /// `dec01`: 2-byte fixed point (not supported by the C accessors).
    Dec01 = 12,
    /// `dec001`: 2-byte fixed point (not supported by the C accessors).
    Dec001 = 13,
    /// `str`: UTF-8 text; `array` is the capacity in bytes.
    Str = 14,
}

impl SignalType {
    /// Every signal type, in id order.
    pub const ALL: [SignalType; 14] = [
        SignalType::Boolean,
        SignalType::Char,
        SignalType::Uchar,
        SignalType::Short,
        SignalType::Ushort,
        SignalType::Int,
        SignalType::Uint,
        SignalType::Int64,
        SignalType::Long,
        SignalType::Float,
        SignalType::Double,
        SignalType::Dec01,
        SignalType::Dec001,
        SignalType::Str,
    ];

    /// The name used in signal-map JSON (`"ushort"`).
    pub fn name(self) -> &'static str {
        match self {
            SignalType::Boolean => "boolean",
            SignalType::Char => "char",
            SignalType::Uchar => "uchar",
            SignalType::Short => "short",
            SignalType::Ushort => "ushort",
            SignalType::Int => "int",
            SignalType::Uint => "uint",
            SignalType::Int64 => "int64",
            SignalType::Long => "long",
            SignalType::Float => "float",
            SignalType::Double => "double",
            SignalType::Dec01 => "dec01",
            SignalType::Dec001 => "dec001",
            SignalType::Str => "str",
        }
    }

    /// The type named `name` in signal-map JSON (exact, lower case).
    pub fn from_name(name: &str) -> Option<SignalType> {
        SignalType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// IOCOM's numeric type id, 1..=14.
    pub fn id(self) -> u8 {
        self as u8
    }

    /// The type with IOCOM id `id`.
    pub fn from_id(id: u8) -> Option<SignalType> {
        SignalType::ALL.into_iter().find(|t| t.id() == id)
    }

    /// Bytes per element after the state byte: 0 for `boolean` (the value lives in the
    /// state byte; arrays are bit-packed, see [`Signal::slot_size`]), 1 for `str` (per
    /// byte of capacity), else the size of the number.
    pub fn value_size(self) -> usize {
        match self {
            SignalType::Boolean => 0,
            SignalType::Char | SignalType::Uchar | SignalType::Str => 1,
            SignalType::Short | SignalType::Ushort | SignalType::Dec01 | SignalType::Dec001 => 2,
            SignalType::Int | SignalType::Uint | SignalType::Float => 4,
            SignalType::Int64 | SignalType::Long | SignalType::Double => 8,
        }
    }
}

impl fmt::Display for SignalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A signal map: a device's memory blocks and their signals (one `signals.json`, a
/// fragment of one, or a merged map).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SignalMap {
    /// Device name (top-level `name`); fragments have none.
    pub name: Option<String>,
    /// Memory blocks (`mblk`), in document order.
    pub blocks: Vec<Block>,
    /// Assemblies (`assembly`), in document order.
    pub assemblies: Vec<Assembly>,
    /// Top-level keys ferrocom does not know, kept in order (they go into packed JSON).
    pub extra: Vec<(String, JsonValue)>,
    /// Where the top-level object starts.
    pub pos: Pos,
}

/// A memory block (`mblk` element).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    /// Block name, as on the wire (`exp`, `imp`, `conf_exp`, ...).
    pub name: String,
    /// Free text for humans; left out of packed JSON.
    pub title: Option<String>,
    /// Text for UIs: `up`, `down`, `up,conf`, `down,conf`. The real block flags are set
    /// by program code, not by this key.
    pub flags: Option<String>,
    /// Generator only: the C expression of the block handle.
    pub handle: Option<String>,
    /// Groups, in document order. They do not affect addresses.
    pub groups: Vec<Group>,
    /// Block size in bytes, computed by the address assignment: the end of the last
    /// slot, at least 24.
    pub size: usize,
    /// Keys ferrocom does not know, kept in order.
    pub extra: Vec<(String, JsonValue)>,
    /// Where the block's object starts.
    pub pos: Pos,
}

/// A group of signals (it only organises the list).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    /// Group name (a title; may contain spaces).
    pub name: String,
    /// Signals, in document order.
    pub signals: Vec<Signal>,
    /// Keys ferrocom does not know, kept in order.
    pub extra: Vec<(String, JsonValue)>,
    /// Where the group's object starts.
    pub pos: Pos,
}

/// One signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// Signal name.
    pub name: String,
    /// The type: as given, or carried over from the previous signal of the block
    /// (`ushort` for a block's first signal).
    pub ty: SignalType,
    /// True if the map gave `type` for this signal.
    pub type_given: bool,
    /// Element count (for `str`: byte capacity); at least 1.
    pub array: usize,
    /// True if the map gave `array` for this signal.
    pub array_given: bool,
    /// Address of the state byte in the block, computed by the address assignment.
    pub addr: usize,
    /// The `addr` the map gave, if any.
    pub explicit_addr: Option<usize>,
    /// Display hint `min`.
    pub min: Option<JsonNumber>,
    /// Display hint `max`.
    pub max: Option<JsonNumber>,
    /// Display hint `digs` (decimal digits).
    pub digs: Option<u32>,
    /// Display hint `unit`.
    pub unit: Option<String>,
    /// Initial value (`init`, parameter files): any JSON value.
    pub init: Option<JsonValue>,
    /// Parameter marker (`pflag`): 64 volatile, 196 persistent.
    pub pflag: Option<u32>,
    /// Show an array as a table with this many columns (`ncolumns`).
    pub ncolumns: Option<u32>,
    /// Keys ferrocom does not know, kept in order.
    pub extra: Vec<(String, JsonValue)>,
    /// Where the signal's object starts.
    pub pos: Pos,
}

/// An assembly: signals grouped into a higher-level object (camera, game controller).
#[derive(Debug, Clone, PartialEq)]
pub struct Assembly {
    /// Assembly name.
    pub name: String,
    /// Assembly type (`cam_ring`, `cam_flat`, `lcam_ring`, `lcam_flat`, `gamecontrol`,
    /// the old `linecam`, ...).
    pub ty: String,
    /// `"<block>.<prefix>"` of the exported signals, e.g. `"dexp.rec_"`.
    pub exp: Option<String>,
    /// `"<block>.<prefix>"` of the imported signals.
    pub imp: Option<String>,
    /// The older form's list of `{name, signal}` (ignored by the current generator).
    pub params: Option<JsonValue>,
    /// Keys ferrocom does not know, kept in order.
    pub extra: Vec<(String, JsonValue)>,
    /// Where the assembly's object starts.
    pub pos: Pos,
}

impl Signal {
    /// A signal of type `ty` with `array` 1 and nothing else set (address 0 until the
    /// map's addresses are assigned).
    pub fn new(name: impl Into<String>, ty: SignalType) -> Signal {
        Signal {
            name: name.into(),
            ty,
            type_given: true,
            array: 1,
            array_given: false,
            addr: 0,
            explicit_addr: None,
            min: None,
            max: None,
            digs: None,
            unit: None,
            init: None,
            pflag: None,
            ncolumns: None,
            extra: Vec::new(),
            pos: Pos::default(),
        }
    }

    /// Bytes the signal occupies in its block: the state byte plus the value bytes
    /// (reference §13.3): `boolean` 1, a boolean array 1 + ceil(n/8), `str` 1 + n,
    /// other types 1 + n × size. `None` if that overflows `usize`.
    pub fn checked_slot_size(&self) -> Option<usize> {
        let n = self.array.max(1);
        match self.ty {
            SignalType::Boolean if n == 1 => Some(1),
            SignalType::Boolean => n.div_ceil(8).checked_add(1),
            ty => n.checked_mul(ty.value_size())?.checked_add(1),
        }
    }

    /// Bytes the signal occupies in its block; see [`Signal::checked_slot_size`]
    /// (saturates instead of overflowing; maps read by this crate never overflow).
    pub fn slot_size(&self) -> usize {
        self.checked_slot_size().unwrap_or(usize::MAX)
    }

    /// One past the last byte of the signal's slot.
    pub fn end(&self) -> usize {
        self.addr.saturating_add(self.slot_size())
    }
}

impl Block {
    /// All signals of the block, over all groups, in document order.
    pub fn signals(&self) -> impl Iterator<Item = &Signal> {
        self.groups.iter().flat_map(|g| g.signals.iter())
    }

    /// The signal named `name` (the first, if a name repeats across merged groups).
    pub fn signal(&self, name: &str) -> Option<&Signal> {
        self.signals().find(|s| s.name == name)
    }

    /// The words of `flags` (`"up,conf"` → `up`, `conf`).
    pub fn flag_words(&self) -> impl Iterator<Item = &str> {
        self.flags
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|w| !w.is_empty())
    }

    /// True if `flags` says `up` (the device exports the block).
    pub fn is_up(&self) -> bool {
        self.flag_words().any(|w| w == "up")
    }

    /// True if `flags` says `down` (the device imports the block).
    pub fn is_down(&self) -> bool {
        self.flag_words().any(|w| w == "down")
    }

    /// True if `flags` has `conf` (a configuration block).
    pub fn is_conf(&self) -> bool {
        self.flag_words().any(|w| w == "conf")
    }
}

impl SignalMap {
    /// The block named `name`.
    pub fn block(&self, name: &str) -> Option<&Block> {
        self.blocks.iter().find(|b| b.name == name)
    }

    /// The signal `signal` of block `block`.
    pub fn signal(&self, block: &str, signal: &str) -> Option<&Signal> {
        self.block(block)?.signal(signal)
    }
}

// ---------------------------------------------------------------------------------------
// Reading the model from JSON

/// Known keys at each level, in the order [`SignalMap::to_json`] writes them.
pub(crate) const TOP_KEYS: &[&str] = &["name", "mblk", "assembly"];
pub(crate) const BLOCK_KEYS: &[&str] = &["name", "title", "flags", "handle", "groups"];
pub(crate) const GROUP_KEYS: &[&str] = &["name", "signals"];
pub(crate) const SIGNAL_KEYS: &[&str] = &[
    "name", "type", "array", "addr", "min", "max", "digs", "unit", "init", "pflag", "ncolumns",
];
pub(crate) const ASSEMBLY_KEYS: &[&str] = &["name", "type", "exp", "imp", "params"];

/// Collects warnings while the model is read.
pub(crate) struct Ctx {
    pub(crate) warnings: Vec<Warning>,
}

fn type_error(key: &str, expected: &str, v: &JsonValue) -> SignalMapError {
    SignalMapError::at(
        &v.pos,
        format!("`{key}` must be {expected}, found {}", v.describe()),
    )
}

fn want_string(key: &str, v: &JsonValue) -> Result<String, SignalMapError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| type_error(key, "a string", v))
}

fn want_array<'v>(key: &str, v: &'v JsonValue) -> Result<&'v [JsonValue], SignalMapError> {
    v.as_array()
        .ok_or_else(|| type_error(key, "a list (JSON array)", v))
}

fn want_object<'v>(what: &str, v: &'v JsonValue) -> Result<&'v [JsonMember], SignalMapError> {
    v.as_object().ok_or_else(|| {
        SignalMapError::at(
            &v.pos,
            format!("{what} must be an object, found {}", v.describe()),
        )
    })
}

fn want_number(key: &str, v: &JsonValue) -> Result<JsonNumber, SignalMapError> {
    match &v.kind {
        JsonKind::Number(n) => Ok(n.clone()),
        _ => Err(type_error(key, "a number", v)),
    }
}

/// A non-negative integer; `usize` and the caller's range are checked.
fn want_count(key: &str, v: &JsonValue) -> Result<usize, SignalMapError> {
    match &v.kind {
        JsonKind::Number(n) => match n.int {
            Some(i) if i < 0 => Err(SignalMapError::at(
                &v.pos,
                format!("`{key}` must be a non-negative integer, found {i}"),
            )),
            Some(i) => usize::try_from(i)
                .map_err(|_| SignalMapError::at(&v.pos, format!("`{key}` value {i} is too large"))),
            None => Err(type_error(key, "a non-negative integer", v)),
        },
        _ => Err(type_error(key, "a non-negative integer", v)),
    }
}

fn want_u32(key: &str, v: &JsonValue) -> Result<u32, SignalMapError> {
    let n = want_count(key, v)?;
    u32::try_from(n)
        .map_err(|_| SignalMapError::at(&v.pos, format!("`{key}` value {n} is too large")))
}

/// Levenshtein distance, for "did you mean" hints.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub(crate) fn suggestion<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&lower, c), *c))
        .filter(|(d, c)| *d <= 2.min(c.len().saturating_sub(1)).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

impl Ctx {
    fn warn(&mut self, pos: &Pos, message: String) {
        self.warnings.push(Warning::at(pos, message));
    }

    /// An unknown key: kept in `extra`, and a warning.
    fn unknown(
        &mut self,
        m: &JsonMember,
        known: &[&str],
        owner: &str,
        extra: &mut Vec<(String, JsonValue)>,
    ) {
        let hint = suggestion(&m.key, known)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        self.warn(
            &m.key_pos,
            format!(
                "unknown key `{}` in {owner}{hint}; kept as is (carried into packed JSON) but not interpreted",
                m.key
            ),
        );
        extra.push((m.key.clone(), m.value.clone()));
    }

    fn check_name(&mut self, v: &JsonValue, name: &str, what: &str, max_len: usize, digits: bool) {
        let ok_chars = name
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '_' || (digits && c.is_ascii_digit()));
        if name.is_empty() || !ok_chars || name.len() >= max_len {
            let chars = if digits {
                "letters, digits and `_`"
            } else {
                "letters and `_` (no digits: the device number is appended)"
            };
            self.warn(
                &v.pos,
                format!(
                    "{what} name `{name}` is not a valid IOCOM name ({chars}, at most {} characters)",
                    max_len - 1
                ),
            );
        }
    }
}

/// The `name` member of an object, required.
fn required_name(
    members: &[JsonMember],
    obj: &JsonValue,
    what: &str,
) -> Result<(String, JsonValue), SignalMapError> {
    match members.iter().find(|m| m.key == "name") {
        Some(m) => Ok((want_string("name", &m.value)?, m.value.clone())),
        None => Err(SignalMapError::at(
            &obj.pos,
            format!("{what} without `name`"),
        )),
    }
}

impl SignalMap {
    /// Reads a signal map from a parsed JSON value and assigns addresses (see the module
    /// docs). Unknown keys are kept in `extra` fields and reported as warnings; a known
    /// key with a value of the wrong JSON type is an error.
    pub fn from_json_value(value: JsonValue) -> Result<(SignalMap, Vec<Warning>), SignalMapError> {
        let mut ctx = Ctx {
            warnings: Vec::new(),
        };
        let mut map = read_map(&mut ctx, &value)?;
        super::layout::assign_addresses(&mut map)?;
        Ok((map, ctx.warnings))
    }
}

fn read_map(ctx: &mut Ctx, v: &JsonValue) -> Result<SignalMap, SignalMapError> {
    let members = want_object("a signal map", v)?;
    if members.iter().any(|m| m.key == "merge") && !members.iter().any(|m| m.key == "mblk") {
        return Err(SignalMapError::at(
            &v.pos,
            "this is a merge list (`merge`), not a signal map; read it with `MergeList`",
        ));
    }
    let mut map = SignalMap {
        name: None,
        blocks: Vec::new(),
        assemblies: Vec::new(),
        extra: Vec::new(),
        pos: v.pos.clone(),
    };
    for m in members {
        match m.key.as_str() {
            "name" => {
                let name = want_string("name", &m.value)?;
                ctx.check_name(&m.value, &name, "device", 16, false);
                map.name = Some(name);
            }
            "mblk" => {
                for b in want_array("mblk", &m.value)? {
                    let block = read_block(ctx, b)?;
                    if let Some(first) = map.blocks.iter().find(|x| x.name == block.name) {
                        return Err(SignalMapError::at(
                            &block.pos,
                            format!("duplicate memory block `{}`", block.name),
                        )
                        .with_note(&first.pos, "first defined here"));
                    }
                    map.blocks.push(block);
                }
            }
            "assembly" => {
                for a in want_array("assembly", &m.value)? {
                    map.assemblies.push(read_assembly(ctx, a)?);
                }
            }
            _ => ctx.unknown(m, TOP_KEYS, "the signal map", &mut map.extra),
        }
    }
    Ok(map)
}

fn read_block(ctx: &mut Ctx, v: &JsonValue) -> Result<Block, SignalMapError> {
    let members = want_object("a memory block (`mblk` element)", v)?;
    let (name, name_value) = required_name(members, v, "memory block")?;
    ctx.check_name(&name_value, &name, "memory block", 16, true);
    let mut block = Block {
        name,
        title: None,
        flags: None,
        handle: None,
        groups: Vec::new(),
        size: 0,
        extra: Vec::new(),
        pos: v.pos.clone(),
    };
    let owner = format!("memory block `{}`", block.name);
    for m in members {
        match m.key.as_str() {
            "name" => {}
            "title" => block.title = Some(want_string("title", &m.value)?),
            "flags" => {
                let flags = want_string("flags", &m.value)?;
                if !matches!(flags.as_str(), "up" | "down" | "up,conf" | "down,conf") {
                    ctx.warn(
                        &m.value.pos,
                        format!(
                            "unusual `flags` text `{flags}` (IOCOM uses `up`, `down`, `up,conf`, `down,conf`)"
                        ),
                    );
                }
                block.flags = Some(flags);
            }
            "handle" => block.handle = Some(want_string("handle", &m.value)?),
            "groups" => {
                for g in want_array("groups", &m.value)? {
                    block.groups.push(read_group(ctx, g)?);
                }
            }
            _ => ctx.unknown(m, BLOCK_KEYS, &owner, &mut block.extra),
        }
    }
    let mut seen: Vec<&Signal> = Vec::new();
    for s in block.signals() {
        if let Some(first) = seen.iter().find(|x| x.name == s.name) {
            return Err(SignalMapError::at(
                &s.pos,
                format!(
                    "duplicate signal `{}` in memory block `{}`",
                    s.name, block.name
                ),
            )
            .with_note(&first.pos, "first defined here"));
        }
        seen.push(s);
    }
    Ok(block)
}

fn read_group(ctx: &mut Ctx, v: &JsonValue) -> Result<Group, SignalMapError> {
    let members = want_object("a group (`groups` element)", v)?;
    let (name, _) = required_name(members, v, "group")?;
    let mut group = Group {
        name,
        signals: Vec::new(),
        extra: Vec::new(),
        pos: v.pos.clone(),
    };
    let owner = format!("group `{}`", group.name);
    for m in members {
        match m.key.as_str() {
            "name" => {}
            "signals" => {
                for s in want_array("signals", &m.value)? {
                    group.signals.push(read_signal(ctx, s)?);
                }
            }
            _ => ctx.unknown(m, GROUP_KEYS, &owner, &mut group.extra),
        }
    }
    Ok(group)
}

fn read_signal(ctx: &mut Ctx, v: &JsonValue) -> Result<Signal, SignalMapError> {
    let members = want_object("a signal (`signals` element)", v)?;
    let (name, name_value) = required_name(members, v, "signal")?;
    ctx.check_name(&name_value, &name, "signal", 32, true);
    let mut s = Signal::new(name, SignalType::Ushort);
    s.type_given = false;
    s.pos = v.pos.clone();
    let owner = format!("signal `{}`", s.name);
    for m in members {
        let value = &m.value;
        match m.key.as_str() {
            "name" => {}
            "type" => {
                let text = want_string("type", value)?;
                s.ty = parse_type(&text, value)?;
                s.type_given = true;
            }
            "array" => {
                let n = want_count("array", value)?;
                if n == 0 {
                    ctx.warn(&value.pos, "`array` 0 is treated as 1".to_string());
                }
                s.array = n.max(1);
                s.array_given = true;
            }
            "addr" => s.explicit_addr = Some(want_count("addr", value)?),
            "min" => s.min = Some(want_number("min", value)?),
            "max" => s.max = Some(want_number("max", value)?),
            "digs" => s.digs = Some(want_u32("digs", value)?),
            "unit" => s.unit = Some(want_string("unit", value)?),
            "init" => s.init = Some(value.clone()),
            "pflag" => s.pflag = Some(want_u32("pflag", value)?),
            "ncolumns" => {
                let n = want_u32("ncolumns", value)?;
                if n == 0 {
                    return Err(type_error("ncolumns", "a positive integer", value));
                }
                s.ncolumns = Some(n);
            }
            _ => ctx.unknown(m, SIGNAL_KEYS, &owner, &mut s.extra),
        }
    }
    Ok(s)
}

fn parse_type(text: &str, value: &JsonValue) -> Result<SignalType, SignalMapError> {
    if let Some(t) = SignalType::from_name(text) {
        return Ok(t);
    }
    if matches!(text, "object" | "pointer") {
        return Err(SignalMapError::at(
            &value.pos,
            format!("type `{text}` cannot be used for a signal"),
        ));
    }
    let names: Vec<&str> = SignalType::ALL.iter().map(|t| t.name()).collect();
    let hint = suggestion(text, &names)
        .map(|s| format!("did you mean `{s}`? "))
        .unwrap_or_default();
    Err(SignalMapError::at(
        &value.pos,
        format!(
            "unknown signal type `{text}`; {hint}expected one of: {}",
            names.join(", ")
        ),
    ))
}

fn read_assembly(ctx: &mut Ctx, v: &JsonValue) -> Result<Assembly, SignalMapError> {
    let members = want_object("an assembly", v)?;
    let (name, _) = required_name(members, v, "assembly")?;
    let Some(ty) = members.iter().find(|m| m.key == "type") else {
        return Err(SignalMapError::at(
            &v.pos,
            format!("assembly `{name}` without `type`"),
        ));
    };
    let mut a = Assembly {
        ty: want_string("type", &ty.value)?,
        name,
        exp: None,
        imp: None,
        params: None,
        extra: Vec::new(),
        pos: v.pos.clone(),
    };
    let owner = format!("assembly `{}`", a.name);
    for m in members {
        match m.key.as_str() {
            "name" | "type" => {}
            "exp" | "imp" => {
                let text = want_string(&m.key, &m.value)?;
                if !text.contains('.') {
                    ctx.warn(
                        &m.value.pos,
                        format!(
                            "`{}` should be `\"<block>.<prefix>\"`, found `{text}`",
                            m.key
                        ),
                    );
                }
                if m.key == "exp" {
                    a.exp = Some(text);
                } else {
                    a.imp = Some(text);
                }
            }
            "params" => {
                want_array("params", &m.value)?;
                a.params = Some(m.value.clone());
            }
            _ => ctx.unknown(m, ASSEMBLY_KEYS, &owner, &mut a.extra),
        }
    }
    Ok(a)
}

// ---------------------------------------------------------------------------------------
// Writing the model as JSON

fn s(v: &str) -> JsonValue {
    JsonValue::string(v)
}

fn n(v: usize) -> JsonValue {
    JsonValue::int(i64::try_from(v).unwrap_or(i64::MAX))
}

fn num(v: &JsonNumber) -> JsonValue {
    JsonValue::new(JsonKind::Number(v.clone()))
}

fn extras(out: &mut Vec<(String, JsonValue)>, extra: &[(String, JsonValue)]) {
    out.extend(extra.iter().cloned());
}

impl SignalMap {
    /// The map as JSON, with keys in IOCOM's order (`name`, `mblk`, `assembly`; in a
    /// block `name`, `title`, `flags`, `handle`, `groups`; in a signal `name`, `type`,
    /// `array`, `addr`, `min`, `max`, `digs`, `unit`, `init`, `pflag`, `ncolumns`),
    /// unknown keys after the known ones. `type`, `array` and `addr` are written only
    /// where the map gave them, so the layout of the written map is the same. With
    /// `titles` false, `title` keys are left out (what goes into packed JSON).
    pub fn to_json_with(&self, titles: bool) -> JsonValue {
        let mut top = Vec::new();
        if let Some(name) = &self.name {
            top.push(("name".to_string(), s(name)));
        }
        let blocks = self.blocks.iter().map(|b| b.to_json(titles)).collect();
        top.push(("mblk".to_string(), JsonValue::new(JsonKind::Array(blocks))));
        if !self.assemblies.is_empty() {
            let a = self.assemblies.iter().map(Assembly::to_json).collect();
            top.push(("assembly".to_string(), JsonValue::new(JsonKind::Array(a))));
        }
        extras(&mut top, &self.extra);
        JsonValue::object(top)
    }

    /// [`SignalMap::to_json_with`] with titles.
    pub fn to_json(&self) -> JsonValue {
        self.to_json_with(true)
    }

    /// The JSON text of [`SignalMap::to_json_with`], pretty-printed like IOCOM's merged
    /// maps (see [`JsonValue::to_pretty_string`]).
    pub fn to_json_text(&self, titles: bool) -> String {
        self.to_json_with(titles).to_pretty_string()
    }
}

impl Block {
    fn to_json(&self, titles: bool) -> JsonValue {
        let mut m = vec![("name".to_string(), s(&self.name))];
        if let (Some(t), true) = (&self.title, titles) {
            m.push(("title".to_string(), s(t)));
        }
        if let Some(f) = &self.flags {
            m.push(("flags".to_string(), s(f)));
        }
        if let Some(h) = &self.handle {
            m.push(("handle".to_string(), s(h)));
        }
        let groups = self.groups.iter().map(Group::to_json).collect();
        m.push((
            "groups".to_string(),
            JsonValue::new(JsonKind::Array(groups)),
        ));
        extras(&mut m, &self.extra);
        JsonValue::object(m)
    }
}

impl Group {
    fn to_json(&self) -> JsonValue {
        let signals = self.signals.iter().map(Signal::to_json).collect();
        let mut m = vec![
            ("name".to_string(), s(&self.name)),
            (
                "signals".to_string(),
                JsonValue::new(JsonKind::Array(signals)),
            ),
        ];
        extras(&mut m, &self.extra);
        JsonValue::object(m)
    }
}

impl Signal {
    /// The signal as a JSON object (see [`SignalMap::to_json_with`]).
    pub fn to_json(&self) -> JsonValue {
        let mut m = vec![("name".to_string(), s(&self.name))];
        if self.type_given {
            m.push(("type".to_string(), s(self.ty.name())));
        }
        if self.array_given {
            m.push(("array".to_string(), n(self.array)));
        }
        if let Some(a) = self.explicit_addr {
            m.push(("addr".to_string(), n(a)));
        }
        if let Some(v) = &self.min {
            m.push(("min".to_string(), num(v)));
        }
        if let Some(v) = &self.max {
            m.push(("max".to_string(), num(v)));
        }
        if let Some(v) = self.digs {
            m.push(("digs".to_string(), n(v as usize)));
        }
        if let Some(v) = &self.unit {
            m.push(("unit".to_string(), s(v)));
        }
        if let Some(v) = &self.init {
            m.push(("init".to_string(), v.clone()));
        }
        if let Some(v) = self.pflag {
            m.push(("pflag".to_string(), n(v as usize)));
        }
        if let Some(v) = self.ncolumns {
            m.push(("ncolumns".to_string(), n(v as usize)));
        }
        extras(&mut m, &self.extra);
        JsonValue::object(m)
    }
}

impl Assembly {
    fn to_json(&self) -> JsonValue {
        let mut m = vec![
            ("name".to_string(), s(&self.name)),
            ("type".to_string(), s(&self.ty)),
        ];
        if let Some(v) = &self.exp {
            m.push(("exp".to_string(), s(v)));
        }
        if let Some(v) = &self.imp {
            m.push(("imp".to_string(), s(v)));
        }
        if let Some(v) = &self.params {
            m.push(("params".to_string(), v.clone()));
        }
        extras(&mut m, &self.extra);
        JsonValue::object(m)
    }
}

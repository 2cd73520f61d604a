//! Merging signal maps (reference §14.4), exactly as eosal's `merge_json.py` does, and
//! the `merge.json` lists that name the files to merge.
//!
//! Semantics, in the order of the inputs:
//!
//! * objects merge key by key; a new key is appended (unless its value is `null`);
//! * a key that already holds a non-null scalar keeps its **first** value (whatever the
//!   later value is); a key holding `null` takes the later non-null value;
//! * lists merge element by element using each element's `name`: same name → merge
//!   recursively, new name → append in order, element without `name` → dropped with a
//!   warning. A list that is new to the merged result is taken over as it is (its
//!   unnamed elements included), as in `merge_json.py`;
//! * where `merge_json.py` would crash (a list merged with a non-list, an object with a
//!   non-object, a list element that is not an object) ferrocom reports an error at the
//!   later value, with a note at the earlier one.

use std::path::{Path, PathBuf};

use super::json::{JsonKind, JsonMember, JsonValue, Pos};
use super::model::SignalMap;
use super::{SignalMapError, Warning};

/// Merges parsed signal maps in order; returns the merged value (positions of its parts
/// still point into the file each part came from) and the warnings (dropped elements).
pub fn merge_json(
    values: impl IntoIterator<Item = JsonValue>,
) -> Result<(JsonValue, Vec<Warning>), SignalMapError> {
    let mut warnings = Vec::new();
    let mut merged: Option<JsonValue> = None;
    for v in values {
        let JsonKind::Object(members) = v.kind else {
            return Err(SignalMapError::at(
                &v.pos,
                format!(
                    "a signal map to merge must be an object, found {}",
                    v.describe()
                ),
            ));
        };
        match &mut merged {
            None => {
                let mut root = JsonValue {
                    kind: JsonKind::Object(Vec::new()),
                    pos: v.pos.clone(),
                };
                if let JsonKind::Object(into) = &mut root.kind {
                    merge_members(into, members, &mut warnings)?;
                }
                merged = Some(root);
            }
            Some(root) => {
                if let JsonKind::Object(into) = &mut root.kind {
                    merge_members(into, members, &mut warnings)?;
                }
            }
        }
    }
    let root = merged.unwrap_or_else(|| JsonValue::new(JsonKind::Object(Vec::new())));
    Ok((root, warnings))
}

/// Reads and merges signal-map files in order (see [`merge_json`]).
pub fn merge_files(list: &[PathBuf]) -> Result<(JsonValue, Vec<Warning>), SignalMapError> {
    let mut values = Vec::with_capacity(list.len());
    for path in list {
        values.push(read_json(path)?);
    }
    merge_json(values)
}

fn read_json(path: &Path) -> Result<JsonValue, SignalMapError> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SignalMapError::io(&label, &e))?;
    JsonValue::parse(&label, &text)
}

fn kind_name(v: &JsonValue) -> &'static str {
    match v.kind {
        JsonKind::Null => "null",
        JsonKind::Bool(_) => "a boolean",
        JsonKind::Number(_) => "a number",
        JsonKind::String(_) => "a string",
        JsonKind::Array(_) => "a list",
        JsonKind::Object(_) => "an object",
    }
}

fn mismatch(key: &str, earlier: &JsonValue, later: &JsonValue) -> SignalMapError {
    SignalMapError::at(
        &later.pos,
        format!(
            "cannot merge `{key}`: it is {} here but {} in an earlier file",
            kind_name(later),
            kind_name(earlier)
        ),
    )
    .with_note(&earlier.pos, format!("the earlier `{key}`"))
}

fn merge_members(
    into: &mut Vec<JsonMember>,
    new: Vec<JsonMember>,
    warnings: &mut Vec<Warning>,
) -> Result<(), SignalMapError> {
    for m in new {
        let Some(existing) = into.iter_mut().find(|x| x.key == m.key) else {
            if !m.value.is_null() {
                into.push(m);
            }
            continue;
        };
        if existing.value.is_null() {
            if !m.value.is_null() {
                existing.value = m.value;
            }
            continue;
        }
        let earlier_pos = existing.value.pos.clone();
        match (&mut existing.value.kind, m.value.kind) {
            (JsonKind::Array(list), JsonKind::Array(items)) => {
                for item in items {
                    merge_list_item(list, &earlier_pos, item, &m.key, warnings)?;
                }
            }
            (JsonKind::Object(obj), JsonKind::Object(members)) => {
                merge_members(obj, members, warnings)?;
            }
            (JsonKind::Array(_) | JsonKind::Object(_), kind) => {
                let later = JsonValue {
                    kind,
                    pos: m.value.pos,
                };
                return Err(mismatch(&m.key, &existing.value, &later));
            }
            // A non-null scalar keeps its first value.
            _ => {}
        }
    }
    Ok(())
}

fn merge_list_item(
    list: &mut Vec<JsonValue>,
    list_pos: &Pos,
    item: JsonValue,
    key: &str,
    warnings: &mut Vec<Warning>,
) -> Result<(), SignalMapError> {
    if item.as_object().is_none() {
        return Err(SignalMapError::at(
            &item.pos,
            format!(
                "cannot merge `{key}`: list elements are merged by `name`, but this element is {}",
                kind_name(&item)
            ),
        )
        .with_note(list_pos, format!("the earlier `{key}`")));
    }
    let name = match item.get("name") {
        Some(n) if !n.is_null() => n.clone(),
        _ => {
            warnings.push(Warning::at(
                &item.pos,
                format!("element of `{key}` without `name` dropped while merging"),
            ));
            return Ok(());
        }
    };
    for m in list.iter_mut() {
        if m.as_object().is_none() {
            return Err(SignalMapError::at(
                &m.pos,
                format!(
                    "cannot merge `{key}`: list elements are merged by `name`, but this element is {}",
                    kind_name(m)
                ),
            ));
        }
        if m.get("name") == Some(&name) {
            let pos = m.pos.clone();
            if let (JsonKind::Object(into), JsonKind::Object(members)) = (&mut m.kind, item.kind) {
                merge_members(into, members, warnings)?;
            } else {
                return Err(SignalMapError::at(&pos, "internal: merge of non-objects"));
            }
            return Ok(());
        }
    }
    list.push(item);
    Ok(())
}

/// One element of a merge list.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeEntry {
    /// The text as written (`"signals.json"`, `"signals"`).
    pub name: String,
    /// Where it was written.
    pub pos: Pos,
}

impl MergeEntry {
    /// True if this element names an input file (it ends in `.json`).
    pub fn is_input(&self) -> bool {
        self.name.ends_with(".json")
    }
}

/// A `merge.json` file: `{"merge": ["signals.json", "device_conf_signals.json", ...]}`.
///
/// The first element, without its extension, names the merged output; every element
/// ending in `.json` is an input, merged in list order (so `"signals.json"` as the first
/// element is both the name and the first input, while `"signals"` only names).
#[derive(Debug, Clone, PartialEq)]
pub struct MergeList {
    /// Base name of the merged output (first element without extension).
    pub output_name: String,
    /// Every element, in order.
    pub entries: Vec<MergeEntry>,
    /// Where the top-level object starts.
    pub pos: Pos,
}

impl MergeList {
    /// Parses a merge list; unknown top-level keys are warnings.
    pub fn from_json_str(
        label: &str,
        text: &str,
    ) -> Result<(MergeList, Vec<Warning>), SignalMapError> {
        MergeList::from_json_value(JsonValue::parse(label, text)?)
    }

    /// Reads and parses a merge-list file.
    pub fn from_path(path: &Path) -> Result<(MergeList, Vec<Warning>), SignalMapError> {
        MergeList::from_json_value(read_json(path)?)
    }

    /// Reads a merge list from a parsed JSON value.
    pub fn from_json_value(v: JsonValue) -> Result<(MergeList, Vec<Warning>), SignalMapError> {
        let Some(members) = v.as_object() else {
            return Err(SignalMapError::at(
                &v.pos,
                format!("a merge list must be an object, found {}", v.describe()),
            ));
        };
        let mut warnings = Vec::new();
        let mut entries = None;
        for m in members {
            if m.key == "merge" {
                let Some(list) = m.value.as_array() else {
                    return Err(SignalMapError::at(
                        &m.value.pos,
                        format!(
                            "`merge` must be a list of file names, found {}",
                            m.value.describe()
                        ),
                    ));
                };
                let mut names = Vec::new();
                for e in list {
                    let Some(name) = e.as_str() else {
                        return Err(SignalMapError::at(
                            &e.pos,
                            format!(
                                "a merge list element must be a file name (string), found {}",
                                e.describe()
                            ),
                        ));
                    };
                    names.push(MergeEntry {
                        name: name.to_string(),
                        pos: e.pos.clone(),
                    });
                }
                entries = Some((names, m.value.pos.clone()));
            } else {
                warnings.push(Warning::at(
                    &m.key_pos,
                    format!("unknown key `{}` in a merge list; ignored", m.key),
                ));
            }
        }
        let Some((entries, list_pos)) = entries else {
            return Err(SignalMapError::at(
                &v.pos,
                "a merge list needs a `merge` key",
            ));
        };
        let Some(first) = entries.first() else {
            return Err(SignalMapError::at(&list_pos, "the merge list is empty"));
        };
        let output_name = Path::new(&first.name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| first.name.clone());
        Ok((
            MergeList {
                output_name,
                entries,
                pos: v.pos.clone(),
            },
            warnings,
        ))
    }

    /// The elements that name input files, in merge order.
    pub fn inputs(&self) -> impl Iterator<Item = &MergeEntry> {
        self.entries.iter().filter(|e| e.is_input())
    }

    /// Finds every input in the first of `search_dirs` that has it (see
    /// [`search_dirs`]). A missing input is an error at its list element that names the
    /// folders searched.
    pub fn resolve(&self, search_dirs: &[PathBuf]) -> Result<Vec<PathBuf>, SignalMapError> {
        self.inputs()
            .map(|e| {
                search_dirs
                    .iter()
                    .map(|d| d.join(&e.name))
                    .find(|p| p.is_file())
                    .ok_or_else(|| {
                        let dirs: Vec<String> = search_dirs
                            .iter()
                            .map(|d| d.display().to_string())
                            .collect();
                        SignalMapError::at(
                            &e.pos,
                            format!(
                                "`{}` not found in any of the signal folders: {}",
                                e.name,
                                if dirs.is_empty() {
                                    "(none given)".to_string()
                                } else {
                                    dirs.join(", ")
                                }
                            ),
                        )
                    })
            })
            .collect()
    }

    /// Resolves and merges the inputs (see [`merge_files`]).
    pub fn merge(
        &self,
        search_dirs: &[PathBuf],
    ) -> Result<(JsonValue, Vec<Warning>), SignalMapError> {
        merge_files(&self.resolve(search_dirs)?)
    }

    /// Resolves and merges the inputs and reads the result as a signal map with
    /// addresses assigned. Warnings of the merge and of the map are returned together.
    pub fn load(
        &self,
        search_dirs: &[PathBuf],
    ) -> Result<(SignalMap, Vec<Warning>), SignalMapError> {
        let (value, mut warnings) = self.merge(search_dirs)?;
        let (map, more) = SignalMap::from_json_value(value)?;
        warnings.extend(more);
        Ok((map, warnings))
    }
}

/// The folders IOCOM's build searches for merge inputs, in order: the application's
/// signal folder (`config/signals`), then the library's (iocom's `config/signals`) —
/// in both, the hardware-specific subfolder (`carol/`) first — then the application's
/// generated `config/intermediate` folder.
pub fn search_dirs(
    app_signals: &Path,
    library_signals: Option<&Path>,
    hardware: Option<&str>,
    intermediate: Option<&Path>,
) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for base in std::iter::once(app_signals).chain(library_signals) {
        if let Some(hw) = hardware {
            dirs.push(base.join(hw));
        }
        dirs.push(base.to_path_buf());
    }
    dirs.extend(intermediate.map(Path::to_path_buf));
    dirs
}

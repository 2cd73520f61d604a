//! Data tables as the roles send and receive them: the negotiated protocol version
//! decides how nested tables travel (reference §5.5).

use std::vec::Vec;

use ferrocom_wire::datatable::{
    self, DataTable, DecodeOptions, EncodeOptions, TableError, TableFormat,
};

use crate::iotellect::Version;

fn table_version(v: Version) -> datatable::Version {
    match v {
        Version::V2 => datatable::Version::V2,
        Version::V3 => datatable::Version::V3,
        Version::V4 => datatable::Version::V4,
    }
}

/// Encodes `table` for a link of version `v`, with or without its format.
pub(crate) fn encode_table(
    table: &DataTable,
    v: Version,
    with_format: bool,
) -> Result<Vec<u8>, TableError> {
    let mut opts = EncodeOptions::new(table_version(v));
    opts.include_format = with_format;
    table.encode(&opts)
}

/// Decodes a table that came over a link of version `v`; `known` is used when the
/// table was sent without its format.
pub(crate) fn decode_table(
    bytes: &[u8],
    v: Version,
    known: Option<&TableFormat>,
) -> Result<DataTable, TableError> {
    let mut opts = DecodeOptions::new(table_version(v));
    opts.known_format = known;
    DataTable::decode(bytes, &opts)
}

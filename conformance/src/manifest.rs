//! Clause manifests (`conformance/manifest/*.toml`): every clause with its text.

use serde::{Deserialize, Serialize};

const IOCOM: &str = include_str!("../manifest/iocom.toml");
const SWITCHBOX: &str = include_str!("../manifest/switchbox.toml");
const MQTT311: &str = include_str!("../manifest/mqtt311.toml");
const IOTELLECT: &str = include_str!("../manifest/iotellect.toml");

/// One manifest file.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// `IOCOM`, `SWB` or `MQTT`.
    pub protocol: String,
    /// Where the clause texts come from.
    pub reference: String,
    /// The clauses, in manifest order.
    #[serde(rename = "clause")]
    pub clauses: Vec<Clause>,
}

/// One clause.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Clause {
    /// Stable id (`IOCOM-5-3`, `SWB-17-1`, `MQTT-3.1.2-3`).
    pub id: String,
    /// `wire` (the codec enforces it) or `behaviour` (connection behaviour).
    pub kind: String,
    /// The rule, in our own words.
    pub text: String,
}

impl Manifest {
    /// The IOCOM manifest.
    pub fn iocom() -> Manifest {
        parse(IOCOM, "iocom.toml")
    }

    /// The switchbox manifest.
    pub fn switchbox() -> Manifest {
        parse(SWITCHBOX, "switchbox.toml")
    }

    /// The MQTT 3.1.1 manifest.
    pub fn mqtt311() -> Manifest {
        parse(MQTT311, "mqtt311.toml")
    }

    /// The Iotellect manifest.
    pub fn iotellect() -> Manifest {
        parse(IOTELLECT, "iotellect.toml")
    }

    /// All manifests.
    pub fn all() -> Vec<Manifest> {
        vec![
            Self::iocom(),
            Self::switchbox(),
            Self::mqtt311(),
            Self::iotellect(),
        ]
    }

    /// Looks a clause up by id.
    pub fn clause(&self, id: &str) -> Option<&Clause> {
        self.clauses.iter().find(|c| c.id == id)
    }
}

/// Looks a clause up in every manifest.
pub fn find_clause(id: &str) -> Option<Clause> {
    Manifest::all()
        .into_iter()
        .find_map(|m| m.clause(id).cloned())
}

fn parse(text: &str, name: &str) -> Manifest {
    match toml::from_str(text) {
        Ok(m) => m,
        // The manifests are compiled in and checked by the tests; a broken one is a bug.
        Err(e) => panic!("conformance/manifest/{name} does not parse: {e}"),
    }
}

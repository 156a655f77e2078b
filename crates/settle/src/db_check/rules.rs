//! The rules of `settle db check`: each check's stable id, name, description and default level.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Note,
}

impl Level {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
        }
    }
}

/// A check, with its stable id.
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub level: Level,
}

pub const RULES: &[Rule] = &[
    Rule { id: "SETTLE001", name: "MigrationPending", description: "A migration this Settle knows has not been applied.", level: Level::Error },
    Rule {
        id: "SETTLE002",
        name: "MigrationUnknown",
        description: "The database records a migration this Settle does not know.",
        level: Level::Error,
    },
    Rule {
        id: "SETTLE003",
        name: "TableDrift",
        description: "A table the migrations create is missing, or the database has one they do not.",
        level: Level::Error,
    },
    Rule {
        id: "SETTLE004",
        name: "ColumnDrift",
        description: "A column is missing, extra, or differs in type or nullability from what the migrations declare.",
        level: Level::Error,
    },
    Rule {
        id: "SETTLE005",
        name: "IndexDrift",
        description: "An index is missing, extra, or differs in columns or uniqueness from what the migrations declare.",
        level: Level::Error,
    },
    Rule { id: "SETTLE006", name: "TableWithoutPrimaryKey", description: "A table has no primary key.", level: Level::Error },
    Rule {
        id: "SETTLE007",
        name: "QueryWithoutIndex",
        description: "A lookup the store makes has no index with those leading columns.",
        level: Level::Error,
    },
    Rule {
        id: "SETTLE008",
        name: "DuplicateIndex",
        description: "An index has the same leading columns as another and adds nothing.",
        level: Level::Warning,
    },
    Rule {
        id: "SETTLE009",
        name: "UnusedIndex",
        description: "PostgreSQL has never used this index since its statistics were reset.",
        level: Level::Note,
    },
    Rule {
        id: "SETTLE010",
        name: "LongTransaction",
        description: "A session has held a transaction open too long (more than a minute by default).",
        level: Level::Warning,
    },
    Rule {
        id: "SETTLE011",
        name: "SeedNotIdempotent",
        description: "Running the demo seed a second time changed the database.",
        level: Level::Error,
    },
    Rule {
        id: "SETTLE012",
        name: "RepeatedStatement",
        description: "A request ran the same statement many times (an N+1 query pattern).",
        level: Level::Warning,
    },
    Rule {
        id: "SETTLE013",
        name: "WritesOutsideTransaction",
        description: "A request made several writes outside a transaction: a failure between them leaves half a change.",
        level: Level::Error,
    },
    Rule {
        id: "SETTLE014",
        name: "ReferenceUnavailable",
        description: "No reference database could be made (a role that may only read): drift, the seed and the workload were not checked.",
        level: Level::Warning,
    },
];

pub(super) fn rule(id: &str) -> &'static Rule {
    RULES.iter().find(|r| r.id == id).expect("a known rule")
}

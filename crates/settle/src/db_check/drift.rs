//! Drift: the live schema (tables, columns with their types and nullability, primary keys, indexes) against the
//! one this build's migrations make.

use settle_store::schema::Schema;

use super::{
    Level, Report,
    sources::{index_location, table_location},
};

pub(super) fn drift(report: &mut Report, expected: &Schema, live: &Schema) {
    for (name, want) in &expected.tables {
        let Some(got) = live.tables.get(name) else {
            report.push("SETTLE003", format!("table {name} is missing"), table_location(name));
            continue;
        };
        let loc = table_location(name);
        for c in &want.columns {
            match got.columns.iter().find(|g| g.name == c.name) {
                None => report.push("SETTLE004", format!("column {name}.{} is missing", c.name), loc),
                Some(g) if g.data_type != c.data_type => {
                    report.push("SETTLE004", format!("column {name}.{} is {}, the migrations declare {}", c.name, g.data_type, c.data_type), loc)
                }
                Some(g) if g.nullable != c.nullable => report.push(
                    "SETTLE004",
                    format!("column {name}.{} is {}, the migrations declare it {}", c.name, null_word(g.nullable), null_word(c.nullable)),
                    loc,
                ),
                Some(_) => {}
            }
        }
        for g in got.columns.iter().filter(|g| !want.columns.iter().any(|c| c.name == g.name)) {
            report.push("SETTLE004", format!("column {name}.{} is not declared by any migration", g.name), loc);
        }
        if got.primary_key != want.primary_key {
            report.push(
                "SETTLE005",
                format!("the primary key of {name} is ({}), the migrations declare ({})", got.primary_key.join(", "), want.primary_key.join(", ")),
                loc,
            );
        }
        for i in &want.indexes {
            // Located where the index is made, which is often not where its table is.
            let loc = index_location(name, &i.name);
            match got.indexes.iter().find(|g| g.name == i.name) {
                None => report.push("SETTLE005", format!("index {} on {name} ({}) is missing", i.name, i.columns.join(", ")), loc),
                Some(g) if g.columns != i.columns || g.unique != i.unique || g.partial != i.partial => report.push(
                    "SETTLE005",
                    format!(
                        "index {} on {name} is ({}){}, the migrations declare ({}){}",
                        i.name,
                        g.columns.join(", "),
                        uniq(g.unique),
                        i.columns.join(", "),
                        uniq(i.unique)
                    ),
                    loc,
                ),
                Some(_) => {}
            }
        }
        for g in got.indexes.iter().filter(|g| !want.indexes.iter().any(|i| i.name == g.name)) {
            report.push_level(
                "SETTLE005",
                Level::Warning,
                format!("index {} on {name} ({}) is not declared by any migration", g.name, g.columns.join(", ")),
                loc,
            );
        }
    }
    for name in live.tables.keys().filter(|t| !expected.tables.contains_key(*t)) {
        report.push_level(
            "SETTLE003",
            Level::Warning,
            format!("table {name} is not Settle's (no migration creates it)"),
            ("crates/settle-store/src/migration.rs", None),
        );
    }
}

fn null_word(n: bool) -> &'static str {
    if n { "nullable" } else { "NOT NULL" }
}

fn uniq(u: bool) -> &'static str {
    if u { " unique" } else { "" }
}

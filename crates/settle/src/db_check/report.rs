//! What a check found: the findings, the report that holds them with its summary, and the report printed as text
//! or as SARIF 2.1.0.

use serde::Serialize;

use super::rules::{Level, RULES, rule};

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub rule_id: &'static str,
    pub level: Level,
    pub message: String,
    /// The repository file the finding concerns.
    pub file: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// What a check found, with what it looked at.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub backend: String,
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Requests the scripted workload made, and the statements they ran.
    pub requests: usize,
    pub statements: usize,
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
    pub tables: usize,
}

impl Report {
    pub(super) fn push(&mut self, id: &'static str, message: String, (file, line): (&'static str, Option<usize>)) {
        let r = rule(id);
        self.findings.push(Finding { rule_id: r.id, level: r.level, message, file, line });
    }

    pub(super) fn push_level(&mut self, id: &'static str, level: Level, message: String, (file, line): (&'static str, Option<usize>)) {
        self.findings.push(Finding { rule_id: rule(id).id, level, message, file, line });
    }

    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.level == Level::Error).count()
    }
}

/// The report as text: one line per finding, then a summary.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    for f in &r.findings {
        let at = match f.line {
            Some(l) => format!("{}:{l}", f.file),
            None => f.file.to_owned(),
        };
        out.push_str(&format!("{} {} {} ({at})\n", f.level.as_str(), f.rule_id, f.message));
    }
    out.push_str(&format!(
        "{} database, {} tables: {} errors, {} warnings, {} notes\n",
        r.backend, r.summary.tables, r.summary.errors, r.summary.warnings, r.summary.notes
    ));
    out
}

/// The report as SARIF 2.1.0: one run, every rule, each finding a result located in its source file.
pub fn sarif(r: &Report) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = RULES
        .iter()
        .map(|rule| {
            serde_json::json!({
                "id": rule.id,
                "name": rule.name,
                "shortDescription": {"text": rule.description},
                "defaultConfiguration": {"level": rule.level.as_str()},
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = r
        .findings
        .iter()
        .map(|f| {
            let mut location = serde_json::json!({"artifactLocation": {"uri": f.file, "uriBaseId": "SRCROOT"}});
            if let Some(l) = f.line {
                location["region"] = serde_json::json!({"startLine": l});
            }
            serde_json::json!({
                "ruleId": f.rule_id,
                "ruleIndex": RULES.iter().position(|x| x.id == f.rule_id).unwrap_or(0),
                "level": f.level.as_str(),
                "message": {"text": f.message},
                "locations": [{"physicalLocation": location}],
                "properties": {"backend": r.backend},
            })
        })
        .collect();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "settle db check", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "originalUriBaseIds": {"SRCROOT": {"description": {"text": "The root of the Settle repository."}}},
            "results": results,
        }],
    })
}

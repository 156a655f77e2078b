//! How a command answers: its output on stdout, as JSON or as `key: value` text lines, and usage errors (exit 2).

use super::Format;

/// A usage or configuration error: the command exits 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub(super) fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// Writes a command's output to stdout; a reader that went away (`| head`) ends the command quietly.
pub(super) fn say(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Prints `v` as the format asks (`default` when none was given): JSON, or text lines of `key: value`.
pub(super) fn emit(v: &impl serde::Serialize, format: Option<Format>, default: Format) -> anyhow::Result<()> {
    let v = serde_json::to_value(v)?;
    match format.unwrap_or(default) {
        Format::Json => say(&format!("{}\n", serde_json::to_string_pretty(&v)?))?,
        Format::Text => say(&text_lines(&v, ""))?,
        Format::Sarif => return Err(usage("--format sarif is for `settle db check` only")),
    }
    Ok(())
}

/// A JSON value as `path: value` lines (objects flattened with dots, arrays of objects numbered).
pub(super) fn text_lines(v: &serde_json::Value, prefix: &str) -> String {
    use serde_json::Value;
    let key = |k: &str| if prefix.is_empty() { k.to_owned() } else { format!("{prefix}.{k}") };
    match v {
        Value::Object(m) => m.iter().map(|(k, v)| text_lines(v, &key(k))).collect(),
        Value::Array(a) if a.iter().any(|x| x.is_object() || x.is_array()) => {
            a.iter().enumerate().map(|(i, x)| text_lines(x, &key(&i.to_string()))).collect()
        }
        Value::Array(a) => format!("{prefix}: {}\n", a.iter().map(scalar).collect::<Vec<_>>().join(", ")),
        other if prefix.is_empty() => format!("{}\n", scalar(other)),
        other => format!("{prefix}: {}\n", scalar(other)),
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    }
}

//! `settle backup` (and `backup verify`) and `settle restore`, with progress bars on a terminal.

use super::{
    BackupAction, Format,
    output::{emit, usage},
};
use settle_app::backup::Trust;

use crate::{Config, startup};

/// `settle backup --out DIR`, or `settle backup verify DIR`.
pub(super) async fn backup(
    cfg: &Config,
    action: Option<BackupAction>,
    out: Option<std::path::PathBuf>,
    encrypt: bool,
    format: Option<Format>,
) -> anyhow::Result<()> {
    let keys = cfg.app.keyring.as_deref();
    match action {
        Some(BackupAction::Verify { dir, unsigned }) => {
            let v = settle_app::backup::verify(&dir, Trust { keys, unsigned })?;
            let m = v.manifest;
            let rows: u64 = m.tables.iter().map(|t| t.rows).sum();
            let v = serde_json::json!({"ok": true, "authenticated": v.authenticated, "tables": m.tables.len(), "rows": rows, "schemaVersion": m.schema_version, "settleVersion": m.settle_version, "encrypted": m.encryption.is_some(), "sourceBackend": m.source_backend, "createdAt": m.created_at});
            emit(&v, format, Format::Json)
        }
        None => {
            let Some(out) = out else { return Err(usage("settle backup --out DIR [--encrypt] (or settle backup verify DIR)")) };
            if encrypt && keys.is_none() {
                return Err(usage("--encrypt needs SETTLE_MASTER_KEY (`settle keys generate` makes one)"));
            }
            let db = startup::open_database(&existing(cfg)).await?;
            let m = settle_app::backup::backup_with(&db, &out, keys, encrypt, &Bars::new()).await?;
            let rows: u64 = m.tables.iter().map(|t| t.rows).sum();
            let v = serde_json::json!({"dir": out.display().to_string(), "tables": m.tables.len(), "rows": rows, "schemaVersion": m.schema_version, "signed": keys.is_some(), "encrypted": m.encryption.is_some()});
            emit(&v, format, Format::Json)
        }
    }
}

/// The configuration with a SQLite database opened only if it exists: a backup of a mistyped path must not create
/// an empty database there.
fn existing(cfg: &Config) -> Config {
    let mut cfg = cfg.clone();
    let url = &mut cfg.database_url;
    if settle_store::Backend::of_url(url) == Some(settle_store::Backend::Sqlite) && !url.contains(":memory:") && !url.contains("mode=") {
        url.push_str(if url.contains('?') { "&mode=rw" } else { "?mode=rw" });
    }
    cfg
}

/// `settle restore --from DIR`.
pub(super) async fn restore(cfg: &Config, from: std::path::PathBuf, force: bool, unsigned: bool, format: Option<Format>) -> anyhow::Result<()> {
    let db = startup::open_database(cfg).await?;
    let trust = Trust { keys: cfg.app.keyring.as_deref(), unsigned };
    let r = settle_app::backup::restore(&db, &from, force, trust, &Bars::new()).await?;
    emit(&r, format, Format::Json)
}

/// Progress bars on stderr, one per table, when stderr is a terminal; nothing otherwise.
struct Bars(std::sync::Mutex<Option<indicatif::ProgressBar>>, bool);

impl Bars {
    fn new() -> Self {
        Self(std::sync::Mutex::new(None), std::io::IsTerminal::is_terminal(&std::io::stderr()))
    }
}

impl settle_app::backup::Progress for Bars {
    fn table(&self, name: &str, rows: u64) {
        if !self.1 {
            return;
        }
        let bar = indicatif::ProgressBar::new(rows).with_prefix(name.to_owned());
        if let Ok(style) = indicatif::ProgressStyle::with_template("{prefix:>20} [{bar:30}] {pos}/{len}") {
            bar.set_style(style);
        }
        if let Some(old) = self.0.lock().ok().and_then(|mut b| b.replace(bar)) {
            old.finish();
        }
    }
    fn advance(&self, rows: u64) {
        if let Some(b) = self.0.lock().ok().as_ref().and_then(|b| b.as_ref()) {
            b.inc(rows);
        }
    }
    fn finish(&self) {
        if let Some(b) = self.0.lock().ok().and_then(|mut b| b.take()) {
            b.finish();
        }
    }
}

//! Portable backups: `settle backup` writes every table as NDJSON (one file per table, rows in primary-key
//! order, read in one snapshot so the backup is one consistent state) and a `manifest.json` with the format and
//! schema versions, the source backend, and each table's row count and SHA-256; `settle backup verify` checks a
//! backup; `settle restore` verifies it, migrates the target (any backend), refuses a target with data unless
//! forced, and inserts everything in one transaction, so a restore that fails leaves the target as it was.

use std::{
    io::{BufRead, Write},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use settle_store::{Db, StoreError, backup::Table};
use sha2::{Digest, Sha256};

/// The backup format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";
/// Rows read per query, and inserted per statement.
const PAGE: u64 = 1000;
const INSERT_BATCH: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The backup, or the target, is not what it must be.
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { path: path.display().to_string(), source }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format_version: u32,
    /// The last migration of the schema the rows were read from.
    pub schema_version: String,
    /// sqlite, postgres or mysql.
    pub source_backend: String,
    pub created_at: String,
    /// In restore order.
    pub tables: Vec<TableEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableEntry {
    pub name: String,
    pub file: String,
    pub rows: u64,
    /// SHA-256 (hex) of the file.
    pub sha256: String,
}

/// What a long run reports as it goes (the CLI draws progress bars on a terminal).
pub trait Progress: Sync {
    fn table(&self, _name: &str, _rows: u64) {}
    fn advance(&self, _rows: u64) {}
    fn finish(&self) {}
}

/// Reports nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// Writes a backup of `db` into `dir` (created; it must be absent or empty).
pub async fn backup(db: &Db, dir: &Path, progress: &dyn Progress) -> Result<Manifest, BackupError> {
    if dir.exists() && std::fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
        return Err(BackupError::Invalid(format!("{} is not empty; back up into a new directory", dir.display())));
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let pending = settle_store::migration::pending(db).await?;
    if !pending.is_empty() {
        return Err(BackupError::Invalid(format!("the database has pending migrations ({}); run `settle migrate up` first", pending.join(", "))));
    }
    let schema_version = settle_store::migration::head();
    // One snapshot for every table: the backup is one state of the database, whatever writes meanwhile.
    let txn = settle_store::begin_snapshot(db.pool()).await?;
    let mut tables = Vec::new();
    for t in settle_store::backup::tables() {
        let file = format!("{}.ndjson", t.name);
        let path = dir.join(&file);
        progress.table(t.name, t.count(&txn).await?);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io(&path))?);
        let (mut hash, mut rows) = (Sha256::new(), 0u64);
        loop {
            let page = t.read(&txn, rows, PAGE).await?;
            for r in &page {
                let mut line = serde_json::to_vec(r).map_err(|e| BackupError::Invalid(e.to_string()))?;
                line.push(b'\n');
                hash.update(&line);
                out.write_all(&line).map_err(io(&path))?;
            }
            rows += page.len() as u64;
            progress.advance(page.len() as u64);
            if (page.len() as u64) < PAGE {
                break;
            }
        }
        out.into_inner().map_err(|e| BackupError::Io { path: path.display().to_string(), source: e.into_error() })?.sync_all().map_err(io(&path))?;
        tables.push(TableEntry { name: t.name.to_owned(), file, rows, sha256: hex::encode(hash.finalize()) });
    }
    drop(txn);
    progress.finish();
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        schema_version,
        source_backend: backend_name(db).to_owned(),
        created_at: crate::time::rfc3339(settle_store::now_ms()),
        tables,
    };
    // Written last, and whole or not at all: a backup without its manifest is visibly unfinished.
    let tmp = dir.join("manifest.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&manifest).unwrap_or_default()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, dir.join(MANIFEST)).map_err(io(dir))?;
    Ok(manifest)
}

fn backend_name(db: &Db) -> &'static str {
    match db.get_database_backend() {
        settle_store::DbBackend::Postgres => "postgres",
        settle_store::DbBackend::MySql => "mysql",
        _ => "sqlite",
    }
}

/// Checks a backup without restoring it: the manifest's format, every table this build has (and no other),
/// each file's SHA-256 and row count, and that every row is a JSON object of its table's columns.
pub fn verify(dir: &Path) -> Result<Manifest, BackupError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read(&path).map_err(io(&path))?;
    let m: Manifest = serde_json::from_slice(&text).map_err(|e| BackupError::Invalid(format!("{}: not a backup manifest: {e}", path.display())))?;
    if m.format_version != FORMAT_VERSION {
        return Err(BackupError::Invalid(format!("backup format {} is not the format this Settle reads ({FORMAT_VERSION})", m.format_version)));
    }
    let known = settle_store::backup::tables();
    for e in &m.tables {
        if !known.iter().any(|t| t.name == e.name) {
            return Err(BackupError::Invalid(format!("the backup holds table {}, which this Settle does not know", e.name)));
        }
    }
    if m.schema_version == settle_store::migration::head()
        && let Some(t) = known.iter().find(|t| !m.tables.iter().any(|e| e.name == t.name))
    {
        return Err(BackupError::Invalid(format!("the backup lacks table {}", t.name)));
    }
    for e in &m.tables {
        let t = known.iter().find(|t| t.name == e.name).expect("checked above");
        let (sha, rows) = scan(dir, e, t, |_| Ok(()))?;
        if sha != e.sha256 {
            return Err(BackupError::Invalid(format!("{}: its SHA-256 is not the manifest's; the file changed or is damaged", e.file)));
        }
        if rows != e.rows {
            return Err(BackupError::Invalid(format!("{}: {rows} rows, the manifest says {}", e.file, e.rows)));
        }
    }
    Ok(m)
}

/// Reads a table's file line by line, hashing it and checking each row against the table's columns; gives each
/// row to `each`. Returns the file's SHA-256 and its row count.
fn scan(
    dir: &Path,
    e: &TableEntry,
    t: &Table,
    mut each: impl FnMut(Map<String, Json>) -> Result<(), BackupError>,
) -> Result<(String, u64), BackupError> {
    if e.file.contains(['/', '\\']) || e.file.starts_with('.') {
        return Err(BackupError::Invalid(format!("the manifest names a file outside the backup: {}", e.file)));
    }
    let path = dir.join(&e.file);
    let mut r = std::io::BufReader::new(std::fs::File::open(&path).map_err(io(&path))?);
    let (mut hash, mut rows, mut line) = (Sha256::new(), 0u64, Vec::new());
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).map_err(io(&path))? == 0 {
            break;
        }
        hash.update(&line);
        rows += 1;
        let row: Map<String, Json> =
            serde_json::from_slice(&line).map_err(|err| BackupError::Invalid(format!("{} line {rows}: not a JSON object: {err}", e.file)))?;
        if let Some(k) = row.keys().find(|k| !t.has_column(k)) {
            return Err(BackupError::Invalid(format!("{} line {rows}: {} has no column {k}", e.file, t.name)));
        }
        each(row)?;
    }
    Ok((hex::encode(hash.finalize()), rows))
}

/// What a restore did.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Restored {
    pub tables: usize,
    pub rows: u64,
    pub source_backend: String,
    pub schema_version: String,
}

/// Restores the backup in `dir` onto `db` (migrated first); `force` replaces what the target holds.
pub async fn restore(db: &Db, dir: &Path, force: bool, progress: &dyn Progress) -> Result<Restored, BackupError> {
    let m = verify(dir)?;
    let head = settle_store::migration::head();
    if m.schema_version != head {
        return Err(BackupError::Invalid(format!(
            "the backup's schema is {}, this Settle's is {head}: restore it with the Settle that wrote it, then upgrade",
            m.schema_version
        )));
    }
    settle_store::migration::up(db).await?;
    let tables = settle_store::backup::tables();
    if !force {
        for t in &tables {
            if t.count(db).await? > 0 {
                return Err(BackupError::Invalid(format!(
                    "the target database is not empty ({} has rows); restore onto an empty one, or pass --force to replace its data",
                    t.name
                )));
            }
        }
    }
    let txn = settle_store::begin(db).await?;
    if force {
        for t in tables.iter().rev() {
            t.clear(&txn).await?;
        }
    }
    let mut total = 0;
    for e in &m.tables {
        let t = tables.iter().find(|t| t.name == e.name).expect("verified");
        progress.table(t.name, e.rows);
        // Rows are parsed while the file is read and inserted in batches; the batches are collected first
        // because inserting needs an await the line reader cannot hold.
        let mut batches: Vec<Vec<Map<String, Json>>> = vec![Vec::new()];
        scan(dir, e, t, |row| {
            let last = batches.last_mut().expect("one batch");
            last.push(row);
            if last.len() >= INSERT_BATCH {
                batches.push(Vec::new());
            }
            Ok(())
        })?;
        for b in batches {
            t.write(&txn, &b).await.map_err(|err| BackupError::Invalid(format!("{}: {err}", e.file)))?;
            progress.advance(b.len() as u64);
            total += b.len() as u64;
        }
        t.reset_sequence(&txn).await?;
    }
    settle_store::audit::record(
        &txn,
        None,
        "backup.restored",
        &dir.display().to_string(),
        &serde_json::json!({"sourceBackend": m.source_backend, "createdAt": m.created_at, "rows": total, "force": force}),
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    progress.finish();
    Ok(Restored { tables: m.tables.len(), rows: total, source_backend: m.source_backend, schema_version: m.schema_version })
}

/// The path of a table's file in a backup.
pub fn table_file(dir: &Path, table: &str) -> PathBuf {
    dir.join(format!("{table}.ndjson"))
}

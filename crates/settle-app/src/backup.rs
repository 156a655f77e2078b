//! Portable backups: `settle backup` writes every table as NDJSON (one file per table, rows in primary-key
//! order, read in one snapshot so the backup is one consistent state, paged by key) and a `manifest.json` with the
//! format and schema versions, the writer's version, the source backend, and each table's row count and SHA-256;
//! with a master key the manifest is signed (`manifest.sig`, an HMAC under a key derived from it), so whoever edits
//! rows and recomputes the manifest is caught. The directory and files are the owner's alone (0700/0600): they hold
//! merchants' secrets. `settle backup verify` checks a backup exactly as a restore would; `settle restore` verifies
//! it, migrates the target (any backend), refuses a target with data unless forced, and inserts everything in one
//! transaction, streaming each file in batches (memory stays bounded whatever a table's size), so a restore that
//! fails leaves the target as it was. Leases are not restored: their holders are gone.

use std::{
    io::{BufRead, Write},
    path::{Path, PathBuf},
};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use settle_store::{Db, StoreError, backup::Table};
use sha2::{Digest, Sha256};

use crate::crypto::Keyring;

mod sealed;

/// The backup format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";
/// The manifest's signature: `hmac-sha256 <master key id> <hex>` of the manifest file's bytes.
const SIGNATURE: &str = "manifest.sig";
/// What the key that signs manifests is derived for (from each master key).
const SIGNING_PURPOSE: &str = "settle backup manifest v1";
/// What the key that encrypts table files is derived for (from each master key).
const SEALING_PURPOSE: &str = "settle backup files v1";
/// The table whose rows a restore leaves out: a lease names an instance of the database it was taken on.
const NOT_RESTORED: &str = "leases";
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
    /// The version of the Settle that wrote it (absent in backups written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle_version: Option<String>,
    /// The table files are sealed under a key derived from the master key (`settle backup --encrypt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// In restore order.
    pub tables: Vec<TableEntry>,
}

/// How a backup's table files are sealed: AES-256-GCM in chunks (see `sealed`), under the key derived from the
/// master key `key_id`; each file's SHA-256 in the manifest is of its rows as written before sealing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Encryption {
    pub cipher: String,
    pub key_id: String,
    /// This backup's own id, bound into every sealed chunk: a file from another backup under the same key does not
    /// open in this one.
    pub backup_id: String,
}

/// What a sealed table file's chunks are bound to: its backup and its name.
fn sealing_context(e: &Encryption, file: &str) -> String {
    format!("{}/{file}", e.backup_id)
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

/// Writes a backup of `db` into `dir` (created; it must be absent or empty), signed under `keys` when given.
pub async fn backup(db: &Db, dir: &Path, keys: Option<&Keyring>, progress: &dyn Progress) -> Result<Manifest, BackupError> {
    backup_with(db, dir, keys, false, progress).await
}

/// [`backup`], its table files sealed under a key derived from `keys` when `encrypt` (which needs them).
pub async fn backup_with(db: &Db, dir: &Path, keys: Option<&Keyring>, encrypt: bool, progress: &dyn Progress) -> Result<Manifest, BackupError> {
    let sealing = match (encrypt, keys) {
        (false, _) => None,
        (true, Some(k)) => {
            let mut id = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut id);
            let e = Encryption { cipher: "AES-256-GCM".into(), key_id: k.current_id().to_owned(), backup_id: hex::encode(id) };
            Some((k.derive(SEALING_PURPOSE)[0], e))
        }
        (true, None) => return Err(BackupError::Invalid("an encrypted backup needs SETTLE_MASTER_KEY".into())),
    };
    if dir.exists() && std::fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
        return Err(BackupError::Invalid(format!("{} is not empty; back up into a new directory", dir.display())));
    }
    // Read only: a backup runs under a role that may only read, and on a standby.
    let schema = settle_store::migration::compare(db.pool()).await?;
    if !schema.unknown.is_empty() {
        return Err(BackupError::Invalid(format!(
            "the database was migrated by a newer Settle (migrations {} are unknown to this one, {}): back it up with that Settle",
            schema.unknown.join(", "),
            env!("CARGO_PKG_VERSION")
        )));
    }
    if !schema.pending.is_empty() {
        return Err(BackupError::Invalid(format!(
            "the database has pending migrations ({}); run `settle migrate up` first",
            schema.pending.join(", ")
        )));
    }
    private_dir(dir)?;
    let schema_version = settle_store::migration::head();
    // One snapshot for every table: the backup is one state of the database, whatever writes meanwhile.
    let txn = settle_store::begin_snapshot(db.pool()).await?;
    let mut tables = Vec::new();
    for t in settle_store::backup::tables() {
        let file = if sealing.is_some() { format!("{}.ndjson.enc", t.name) } else { format!("{}.ndjson", t.name) };
        let path = dir.join(&file);
        progress.table(t.name, t.count(&txn).await?);
        let plain = std::io::BufWriter::new(private_file(&path)?);
        let mut out = match &sealing {
            Some((k, e)) => Out::Sealed(Box::new(sealed::Seal::new(plain, k, &sealing_context(e, &file)).map_err(io(&path))?)),
            None => Out::Plain(plain),
        };
        let (mut hash, mut rows) = (Sha256::new(), 0u64);
        let mut last: Option<Map<String, Json>> = None;
        loop {
            let page = t.read(&txn, last.as_ref(), PAGE).await?;
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
            last = page.into_iter().next_back();
        }
        out.finish().map_err(io(&path))?.sync_all().map_err(io(&path))?;
        tables.push(TableEntry { name: t.name.to_owned(), file, rows, sha256: hex::encode(hash.finalize()) });
    }
    drop(txn);
    progress.finish();
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        schema_version,
        source_backend: backend_name(db).to_owned(),
        created_at: crate::time::rfc3339(settle_store::now_ms()),
        settle_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        encryption: sealing.map(|(_, e)| e),
        tables,
    };
    let text = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    if let Some(keys) = keys {
        let sig = format!("hmac-sha256 {} {}\n", keys.current_id(), hex::encode(sign(&keys.derive(SIGNING_PURPOSE)[0], &text)));
        write_whole(dir, SIGNATURE, sig.as_bytes())?;
    }
    // Written last, and whole or not at all: a backup without its manifest is visibly unfinished.
    write_whole(dir, MANIFEST, &text)?;
    Ok(manifest)
}

/// A table file being written: as is, or sealed.
enum Out {
    Plain(std::io::BufWriter<std::fs::File>),
    Sealed(Box<sealed::Seal<std::io::BufWriter<std::fs::File>>>),
}

impl Out {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Out::Plain(w) => w.write_all(bytes),
            Out::Sealed(w) => w.write_all(bytes),
        }
    }

    /// Ends the file (a sealed one with its last chunk) and gives it back to be synced.
    fn finish(self) -> std::io::Result<std::fs::File> {
        let w = match self {
            Out::Plain(w) => w,
            Out::Sealed(w) => w.finish()?,
        };
        w.into_inner().map_err(|e| e.into_error())
    }
}

/// Writes `name` in `dir` through a temporary file renamed into place, readable by its owner alone.
fn write_whole(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), BackupError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = private_file(&tmp)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, dir.join(name)).map_err(io(dir))
}

/// Creates `dir` (and any missing parent) for its owner alone, or makes an existing one so: a backup holds
/// merchants' secrets, whatever the umask. An existing directory must be a directory of this user's own, not a
/// link: another user who owns it could replace the files in it after they are written.
fn private_dir(dir: &Path) -> Result<(), BackupError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        if let Ok(m) = std::fs::symlink_metadata(dir) {
            if !m.file_type().is_dir() {
                return Err(BackupError::Invalid(format!("{} is not a directory (a link?); back up into a new directory", dir.display())));
            }
            // The process's own user owns /proc/self.
            if let Ok(me) = std::fs::metadata("/proc/self")
                && m.uid() != me.uid()
            {
                return Err(BackupError::Invalid(format!(
                    "{} belongs to another user (uid {}), who could replace the backup's files; back up into a new directory",
                    dir.display(),
                    m.uid()
                )));
            }
        }
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io(dir))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(io(dir))
}

/// Creates a new file readable and writable by its owner alone (0600 whatever the umask).
fn private_file(path: &Path) -> Result<std::fs::File, BackupError> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        o.mode(0o600);
        let f = o.open(path).map_err(io(path))?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io(path))?;
        Ok(f)
    }
    #[cfg(not(unix))]
    o.open(path).map_err(io(path))
}

fn sign(key: &[u8; 32], bytes: &[u8]) -> Vec<u8> {
    let mut h = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    h.update(bytes);
    h.finalize().into_bytes().to_vec()
}

fn backend_name(db: &Db) -> &'static str {
    match db.get_database_backend() {
        settle_store::DbBackend::Postgres => "postgres",
        settle_store::DbBackend::MySql => "mysql",
        _ => "sqlite",
    }
}

/// How a backup's authenticity is checked: `keys`, the master keys its signature may be under; an unsigned backup
/// is refused while keys are given, unless `unsigned` accepts it (one written without a master key).
#[derive(Clone, Copy, Default)]
pub struct Trust<'a> {
    pub keys: Option<&'a Keyring>,
    pub unsigned: bool,
}

/// What [`verify`] found: the manifest, and whether its signature was checked (false: no keys to check it with,
/// or an unsigned backup accepted as such).
#[derive(Clone, Debug)]
pub struct Verified {
    pub manifest: Manifest,
    pub authenticated: bool,
}

/// Checks a backup exactly as a restore does, without restoring it: the manifest's signature (see [`Trust`]), its
/// format and schema (this build restores backups of its own schema only, and says which Settle can restore
/// another), every table this build has (and no other), each file's SHA-256 and row count, and that every row is a
/// JSON object of its table's columns.
pub fn verify(dir: &Path, trust: Trust<'_>) -> Result<Verified, BackupError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read(&path).map_err(io(&path))?;
    let m: Manifest = serde_json::from_slice(&text).map_err(|e| BackupError::Invalid(format!("{}: not a backup manifest: {e}", path.display())))?;
    // An encrypted backup was written with the master key, so it was signed: one without its signature was changed,
    // whatever --unsigned says (tables of another backup could be mixed in).
    let trust = if m.encryption.is_some() { Trust { unsigned: false, ..trust } } else { trust };
    let authenticated = authenticate(dir, &text, trust)?;
    if m.format_version != FORMAT_VERSION {
        return Err(BackupError::Invalid(format!("backup format {} is not the format this Settle reads ({FORMAT_VERSION})", m.format_version)));
    }
    restorable(&m)?;
    let opening = opening_keys(&m, trust)?;
    let known = settle_store::backup::tables();
    for e in &m.tables {
        if !known.iter().any(|t| t.name == e.name) {
            return Err(BackupError::Invalid(format!("the backup holds table {}, which this Settle does not know", e.name)));
        }
    }
    if let Some(t) = known.iter().find(|t| !m.tables.iter().any(|e| e.name == t.name)) {
        return Err(BackupError::Invalid(format!("the backup lacks table {}", t.name)));
    }
    for e in &m.tables {
        let t = known.iter().find(|t| t.name == e.name).expect("checked above");
        let mut rows = Rows::open(dir, e, t, opening.as_deref().zip(m.encryption.as_ref()))?;
        while rows.next()?.is_some() {}
        rows.finish()?;
    }
    Ok(Verified { manifest: m, authenticated })
}

/// The keys an encrypted backup's files may be sealed under (the manifest's master key's first); None for a backup
/// not encrypted.
fn opening_keys(m: &Manifest, trust: Trust<'_>) -> Result<Option<Vec<[u8; 32]>>, BackupError> {
    let Some(enc) = &m.encryption else { return Ok(None) };
    if !m.tables.is_empty() && enc.backup_id.is_empty() {
        return Err(BackupError::Invalid("the manifest's encryption names no backup id".into()));
    }
    let Some(keys) = trust.keys else {
        return Err(BackupError::Invalid(format!("the backup is encrypted (under master key {}): set SETTLE_MASTER_KEY to read it", enc.key_id)));
    };
    let mut derived = keys.derive_with_ids(SEALING_PURPOSE);
    derived.sort_by_key(|(id, _)| *id != enc.key_id);
    Ok(Some(derived.into_iter().map(|(_, k)| k).collect()))
}

/// Checks `manifest.sig` against the manifest's bytes `text`; true when it was checked and holds.
fn authenticate(dir: &Path, text: &[u8], trust: Trust<'_>) -> Result<bool, BackupError> {
    let path = dir.join(SIGNATURE);
    let sig = match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(&path)(e)),
    };
    let Some(keys) = trust.keys else {
        // A signed backup is not taken on its integrity alone unless asked: its signature is what catches an edit.
        if sig.is_some() && !trust.unsigned {
            return Err(BackupError::Invalid(
                "the backup is signed (manifest.sig) and SETTLE_MASTER_KEY is not set to check it; set it (a key rotated out may \
                 stay listed after the current one), or pass --unsigned to check its integrity only"
                    .into(),
            ));
        }
        return Ok(false);
    };
    let Some(sig) = sig else {
        if trust.unsigned {
            return Ok(false);
        }
        return Err(BackupError::Invalid(
            "the backup is not signed (no manifest.sig), so it cannot be told from one edited after it was written; \
             pass --unsigned to accept it (a backup written without SETTLE_MASTER_KEY)"
                .into(),
        ));
    };
    let tampered = || {
        BackupError::Invalid("manifest.sig does not match the manifest: the backup was changed after it was written (or signed under a master key SETTLE_MASTER_KEY does not hold)".into())
    };
    let mut parts = sig.split_whitespace();
    let (Some("hmac-sha256"), Some(_key_id), Some(mac), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(tampered());
    };
    let mac = hex::decode(mac).map_err(|_| tampered())?;
    // Any master key may have signed it (the current one, or one rotated out but still held).
    let holds = keys.derive(SIGNING_PURPOSE).iter().any(|k| {
        let mut h = <Hmac<Sha256> as Mac>::new_from_slice(k).expect("HMAC takes a key of any length");
        h.update(text);
        h.verify_slice(&mac).is_ok()
    });
    if holds { Ok(true) } else { Err(tampered()) }
}

/// Whether this build restores a backup of `m`'s schema: its own only. Another says which Settle restores it.
fn restorable(m: &Manifest) -> Result<(), BackupError> {
    let head = settle_store::migration::head();
    if m.schema_version == head {
        return Ok(());
    }
    let writer = match &m.settle_version {
        Some(v) => format!("Settle {v}"),
        None => "the Settle that wrote it".to_owned(),
    };
    let this = env!("CARGO_PKG_VERSION");
    Err(BackupError::Invalid(if settle_store::migration::names().contains(&m.schema_version) {
        format!(
            "the backup's schema is {} (older than this Settle's, {head}): restore it with {writer} (schema {}), then upgrade to Settle {this}",
            m.schema_version, m.schema_version
        )
    } else {
        format!(
            "the backup's schema is {}, newer than this Settle's ({this}, schema {head}): restore it with {writer} or a later one whose migrations reach {}",
            m.schema_version, m.schema_version
        )
    }))
}

/// A table's file read row by row: each line hashed and checked against the table's columns; [`Rows::finish`]
/// then checks the file's SHA-256 and row count against the manifest's.
struct Rows<'a> {
    e: &'a TableEntry,
    t: &'a Table,
    path: PathBuf,
    r: Box<dyn BufRead + Send>,
    hash: Sha256,
    rows: u64,
    line: Vec<u8>,
}

impl<'a> Rows<'a> {
    /// Opens a table's file; `sealed`, the keys its file may be sealed under and how (an encrypted backup's).
    fn open(dir: &Path, e: &'a TableEntry, t: &'a Table, sealed: Option<(&[[u8; 32]], &Encryption)>) -> Result<Self, BackupError> {
        if e.file.contains(['/', '\\']) || e.file.starts_with('.') {
            return Err(BackupError::Invalid(format!("the manifest names a file outside the backup: {}", e.file)));
        }
        let path = dir.join(&e.file);
        let file = std::fs::File::open(&path).map_err(io(&path))?;
        let r: Box<dyn BufRead + Send> = match sealed {
            Some((keys, how)) => Box::new(std::io::BufReader::new(
                sealed::Open::new(std::io::BufReader::new(file), keys, &sealing_context(how, &e.file))
                    .map_err(|err| BackupError::Invalid(format!("{}: {err}", e.file)))?,
            )),
            None => Box::new(std::io::BufReader::new(file)),
        };
        Ok(Self { e, t, path, r, hash: Sha256::new(), rows: 0, line: Vec::new() })
    }

    fn next(&mut self) -> Result<Option<Map<String, Json>>, BackupError> {
        self.line.clear();
        let read = self.r.read_until(b'\n', &mut self.line).map_err(|err| match err.kind() {
            std::io::ErrorKind::InvalidData => BackupError::Invalid(format!("{}: {err}", self.e.file)),
            _ => io(&self.path)(err),
        })?;
        if read == 0 {
            return Ok(None);
        }
        self.hash.update(&self.line);
        self.rows += 1;
        let (file, n) = (&self.e.file, self.rows);
        let row: Map<String, Json> =
            serde_json::from_slice(&self.line).map_err(|err| BackupError::Invalid(format!("{file} line {n}: not a JSON object: {err}")))?;
        if let Some(k) = row.keys().find(|k| !self.t.has_column(k)) {
            return Err(BackupError::Invalid(format!("{file} line {n}: {} has no column {k}", self.t.name)));
        }
        Ok(Some(row))
    }

    /// Checks what was read against the manifest (call it once `next` gave None).
    fn finish(self) -> Result<(), BackupError> {
        if hex::encode(self.hash.finalize()) != self.e.sha256 {
            return Err(BackupError::Invalid(format!("{}: its SHA-256 is not the manifest's; the file changed or is damaged", self.e.file)));
        }
        if self.rows != self.e.rows {
            return Err(BackupError::Invalid(format!("{}: {} rows, the manifest says {}", self.e.file, self.rows, self.e.rows)));
        }
        Ok(())
    }
}

/// What a restore did.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Restored {
    /// Whether the backup's signature was checked (see [`Trust`]).
    pub authenticated: bool,
    pub tables: usize,
    pub rows: u64,
    pub source_backend: String,
    pub schema_version: String,
}

/// Restores the backup in `dir` onto `db` (migrated first), checked as [`verify`] checks it; `force` replaces
/// what the target holds. Each file is read again as it is inserted, in batches, and checked against the manifest
/// before the commit (a file changed since the check rolls the restore back).
pub async fn restore(db: &Db, dir: &Path, force: bool, trust: Trust<'_>, progress: &dyn Progress) -> Result<Restored, BackupError> {
    let Verified { manifest: m, authenticated } = verify(dir, trust)?;
    let opening = opening_keys(&m, trust)?;
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
        let restored = t.name != NOT_RESTORED;
        progress.table(t.name, if restored { e.rows } else { 0 });
        let mut rows = Rows::open(dir, e, t, opening.as_deref().zip(m.encryption.as_ref()))?;
        let mut batch = Vec::with_capacity(INSERT_BATCH);
        loop {
            let row = rows.next()?;
            let end = row.is_none();
            if let Some(r) = row
                && restored
            {
                batch.push(r);
            }
            if batch.len() >= INSERT_BATCH || (end && !batch.is_empty()) {
                t.write(&txn, &batch).await.map_err(|err| BackupError::Invalid(format!("{}: {err}", e.file)))?;
                progress.advance(batch.len() as u64);
                total += batch.len() as u64;
                batch.clear();
            }
            if end {
                break;
            }
        }
        rows.finish()?;
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
    Ok(Restored { authenticated, tables: m.tables.len(), rows: total, source_backend: m.source_backend, schema_version: m.schema_version })
}

/// The path of a table's file in a backup.
pub fn table_file(dir: &Path, table: &str) -> PathBuf {
    dir.join(format!("{table}.ndjson"))
}

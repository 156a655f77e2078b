//! The live schema as the database reports it (tables, columns, primary keys, indexes), the sessions that hold
//! transactions open, and index usage: what `settle db check` compares and reports.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::StoreError;

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Schema {
    pub tables: BTreeMap<String, TableInfo>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableInfo {
    pub columns: Vec<ColumnInfo>,
    pub primary_key: Vec<String>,
    pub indexes: Vec<IndexInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ColumnInfo {
    pub name: String,
    /// The type as the backend names it, lower case (`character varying(64)`, `bigint`, `varchar(64)`).
    pub data_type: String,
    pub nullable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IndexInfo {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
    /// It holds only the rows a WHERE clause selects.
    pub partial: bool,
}

/// Runs `sql` with `values` and gives each row's string columns (NULL as "").
async fn rows(conn: &impl ConnectionTrait, sql: &str, values: Vec<sea_orm::Value>, width: usize) -> Result<Vec<Vec<String>>, StoreError> {
    let backend = conn.get_database_backend();
    let out = conn.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    Ok(out
        .iter()
        .map(|r| {
            (0..width)
                .map(|i| {
                    r.try_get_by_index::<Option<String>>(i)
                        .ok()
                        .flatten()
                        .or_else(|| r.try_get_by_index::<Option<i64>>(i).ok().flatten().map(|n| n.to_string()))
                        .or_else(|| r.try_get_by_index::<Option<i32>>(i).ok().flatten().map(|n| n.to_string()))
                        .or_else(|| r.try_get_by_index::<Option<bool>>(i).ok().flatten().map(|b| b.to_string()))
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect())
}

/// The schema of the database (MySQL) or schema (PostgreSQL: `current_schema()`) the connection is in. Settle's
/// migration ledger is left out.
pub async fn read(conn: &impl ConnectionTrait) -> Result<Schema, StoreError> {
    let mut s = Schema::default();
    match conn.get_database_backend() {
        DbBackend::Postgres => {
            let cols = rows(
                conn,
                "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), (NOT a.attnotnull)::text \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum",
                vec![],
                4,
            )
            .await?;
            for r in cols {
                s.tables.entry(r[0].clone()).or_default().columns.push(ColumnInfo {
                    name: r[1].clone(),
                    data_type: r[2].to_lowercase(),
                    nullable: r[3] == "true",
                });
            }
            let idx = rows(
                conn,
                "SELECT t.relname::text, i.relname::text, ix.indisunique::text, ix.indisprimary::text, (ix.indpred IS NOT NULL)::text, \
                   array_to_string(ARRAY(SELECT a.attname::text FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord), ',') \
                 FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema() ORDER BY 1, 2",
                vec![],
                6,
            )
            .await?;
            for r in idx {
                let t = s.tables.entry(r[0].clone()).or_default();
                let columns: Vec<String> = r[5].split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect();
                if r[3] == "true" {
                    t.primary_key = columns;
                } else {
                    t.indexes.push(IndexInfo { name: r[1].clone(), columns, unique: r[2] == "true", partial: r[4] == "true" });
                }
            }
        }
        DbBackend::MySql => {
            let cols = rows(
                conn,
                "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR) \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION",
                vec![],
                4,
            )
            .await?;
            for r in cols {
                s.tables.entry(r[0].clone()).or_default().columns.push(ColumnInfo {
                    name: r[1].clone(),
                    data_type: r[2].to_lowercase(),
                    nullable: r[3] == "YES",
                });
            }
            let idx = rows(
                conn,
                "SELECT CAST(TABLE_NAME AS CHAR), CAST(INDEX_NAME AS CHAR), CAST(NON_UNIQUE AS CHAR), CAST(COLUMN_NAME AS CHAR) \
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
                vec![],
                4,
            )
            .await?;
            for r in idx {
                let t = s.tables.entry(r[0].clone()).or_default();
                if r[1] == "PRIMARY" {
                    t.primary_key.push(r[3].clone());
                } else if let Some(i) = t.indexes.iter_mut().find(|i| i.name == r[1]) {
                    i.columns.push(r[3].clone());
                } else {
                    t.indexes.push(IndexInfo { name: r[1].clone(), columns: vec![r[3].clone()], unique: r[2] == "0", partial: false });
                }
            }
        }
        _ => {
            let tables =
                rows(conn, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name", vec![], 1).await?;
            for t in tables {
                let name = t[0].clone();
                let mut info = TableInfo::default();
                let mut pk: Vec<(i64, String)> = Vec::new();
                for c in rows(conn, "SELECT name, lower(type), \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid", vec![name.clone().into()], 4)
                    .await?
                {
                    let k: i64 = c[3].parse().unwrap_or(0);
                    if k > 0 {
                        pk.push((k, c[0].clone()));
                    }
                    info.columns.push(ColumnInfo { name: c[0].clone(), data_type: c[1].clone(), nullable: c[2] == "0" });
                }
                pk.sort();
                info.primary_key = pk.into_iter().map(|(_, c)| c).collect();
                for i in rows(conn, "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?) ORDER BY name", vec![name.clone().into()], 4)
                    .await?
                {
                    if i[2] == "pk" {
                        continue;
                    }
                    let cols = rows(conn, "SELECT name FROM pragma_index_info(?) ORDER BY seqno", vec![i[0].clone().into()], 1).await?;
                    info.indexes.push(IndexInfo {
                        name: i[0].clone(),
                        columns: cols.into_iter().map(|c| c[0].clone()).collect(),
                        unique: i[1] == "1",
                        partial: i[3] == "1",
                    });
                }
                s.tables.insert(name, info);
            }
        }
    }
    s.tables.remove("seaql_migrations");
    for t in s.tables.values_mut() {
        t.indexes.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(s)
}

/// A session holding a transaction open, or running one statement, longer than the threshold.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LongSession {
    pub id: String,
    /// `idle in transaction`, `active`, ...
    pub state: String,
    pub seconds: i64,
    /// The statement's first 200 characters.
    pub query: String,
}

/// Sessions (other than this one) whose transaction has been open longer than `secs` (PostgreSQL, MySQL; none on
/// SQLite, where every connection is this process's).
pub async fn long_sessions(conn: &impl ConnectionTrait, secs: i64) -> Result<Vec<LongSession>, StoreError> {
    let (sql, width) = match conn.get_database_backend() {
        DbBackend::Postgres => (
            "SELECT pid::text, COALESCE(state, ''), EXTRACT(EPOCH FROM (now() - xact_start))::bigint::text, LEFT(COALESCE(query, ''), 200) \
             FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL \
             AND now() - xact_start > make_interval(secs => $1) ORDER BY xact_start",
            4,
        ),
        DbBackend::MySql => (
            "SELECT CAST(t.trx_mysql_thread_id AS CHAR), CAST(COALESCE(p.COMMAND, '') AS CHAR), CAST(TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) AS CHAR), \
             CAST(LEFT(COALESCE(t.trx_query, ''), 200) AS CHAR) FROM information_schema.INNODB_TRX t \
             LEFT JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
             WHERE t.trx_mysql_thread_id <> CONNECTION_ID() AND TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) > ? ORDER BY t.trx_started",
            4,
        ),
        _ => return Ok(Vec::new()),
    };
    let value: sea_orm::Value = if conn.get_database_backend() == DbBackend::Postgres { (secs as f64).into() } else { secs.into() };
    Ok(rows(conn, sql, vec![value], width)
        .await?
        .into_iter()
        .map(|r| LongSession {
            id: r[0].clone(),
            state: if r[1] == "Sleep" { "idle in transaction".into() } else { r[1].to_lowercase() },
            seconds: r[2].parse().unwrap_or(0),
            query: r[3].clone(),
        })
        .collect())
}

/// PostgreSQL: indexes never scanned since statistics were last reset, with the scans of their table (an index of
/// a table nobody has read says nothing). None elsewhere.
pub async fn unused_indexes(conn: &impl ConnectionTrait) -> Result<Vec<(String, String, i64)>, StoreError> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(Vec::new());
    }
    let r = rows(
        conn,
        "SELECT s.relname::text, s.indexrelname::text, (t.seq_scan + COALESCE(t.idx_scan, 0))::text FROM pg_stat_user_indexes s \
         JOIN pg_stat_user_tables t ON t.relid = s.relid JOIN pg_index i ON i.indexrelid = s.indexrelid \
         WHERE s.schemaname = current_schema() AND s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary ORDER BY 1, 2",
        vec![],
        3,
    )
    .await?;
    Ok(r.into_iter().map(|r| (r[0].clone(), r[1].clone(), r[2].parse().unwrap_or(0))).collect())
}

/// Migration names recorded as applied, in order.
pub async fn applied_migrations(conn: &impl ConnectionTrait) -> Result<Vec<String>, StoreError> {
    Ok(rows(conn, "SELECT version FROM seaql_migrations ORDER BY version", vec![], 1).await?.into_iter().map(|r| r[0].clone()).collect())
}

//! Every table as portable rows, for backups that restore onto any backend: each table's columns with their
//! kinds (from its entity), its rows read in primary-key order as JSON objects, and batches of such rows
//! inserted back. Values keep their exact types (integers as JSON integers, text as strings, booleans as
//! booleans), so a table read from one backend and written to another reads back the same.

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, Iterable, PrimaryKeyToColumn, PrimaryKeyTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Statement, Value,
    sea_query::{ColumnType, Query},
};
use serde_json::{Map, Value as Json};

use crate::{StoreError, entity::*};

/// How a column's values are read and written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    BigInt,
    Int,
    Text,
    Bool,
}

/// Builds the SELECT of a page of rows in primary-key order: up to `limit` after the row given (its key's
/// columns are read), or from the first.
type SelectFn = fn(Option<&Map<String, Json>>, u64, DbBackend) -> Result<Statement, StoreError>;

/// Builds one INSERT of rows (as [`Table::read`] gives them) for a backend.
type InsertFn = fn(&[Map<String, Json>], &[Column], DbBackend) -> Result<Statement, StoreError>;

/// A column: its name, how its values are read and written, and whether it takes NULL.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
    pub nullable: bool,
}

/// One table: its name, its columns (in entity order) and primary key, and how to read and write its rows.
pub struct Table {
    pub name: &'static str,
    pub columns: Vec<Column>,
    /// A single auto-increment `id` key (its sequence is reset after a restore on PostgreSQL).
    pub auto_id: bool,
    select: SelectFn,
    insert: InsertFn,
}

fn kind_of(t: &ColumnType) -> Option<Kind> {
    Some(match t {
        ColumnType::BigInteger | ColumnType::BigUnsigned => Kind::BigInt,
        ColumnType::Integer | ColumnType::SmallInteger | ColumnType::TinyInteger | ColumnType::Unsigned => Kind::Int,
        ColumnType::String(_) | ColumnType::Text | ColumnType::Char(_) | ColumnType::Enum { .. } => Kind::Text,
        ColumnType::Boolean => Kind::Bool,
        _ => return None,
    })
}

fn table<E>() -> Table
where
    E: EntityTrait + Default,
{
    let columns = E::Column::iter()
        .map(|c| {
            let def = c.def();
            let kind = kind_of(def.get_column_type()).unwrap_or_else(|| {
                panic!("column {} of {} has a kind backups do not know", sea_orm::IdenStatic::as_str(&c).to_owned(), E::default().table_name())
            });
            Column { name: sea_orm::IdenStatic::as_str(&c).to_owned(), kind, nullable: def.is_null() }
        })
        .collect();
    let pk: Vec<String> = E::PrimaryKey::iter().map(|k| sea_orm::IdenStatic::as_str(&k.into_column()).to_owned()).collect();
    Table {
        name: E::default().table_name(),
        columns,
        auto_id: pk == ["id"] && <E::PrimaryKey as PrimaryKeyTrait>::auto_increment(),
        // Paged by key (the rows after the last one read), never by OFFSET: a page costs the same at the end of
        // a table of millions as at its start.
        select: |after, limit, backend| {
            let keys: Vec<E::Column> = E::PrimaryKey::iter().map(|k| k.into_column()).collect();
            let mut q = E::find();
            if let Some(last) = after {
                // (k1, k2, ...) > (v1, v2, ...), spelled out: k1 > v1 OR (k1 = v1 AND k2 > v2) OR ...
                let mut after = Condition::any();
                for i in 0..keys.len() {
                    let mut this = Condition::all();
                    for (j, k) in keys[..=i].iter().enumerate() {
                        let name = sea_orm::IdenStatic::as_str(k);
                        let kind = kind_of(k.def().get_column_type()).ok_or_else(|| bad(format!("key {name} has no known kind")))?;
                        let v = to_value(last.get(name).unwrap_or(&Json::Null), kind, false).map_err(|e| bad(format!("key {name}: {e}")))?;
                        this = this.add(if j < i { k.eq(v) } else { k.gt(v) });
                    }
                    after = after.add(this);
                }
                q = q.filter(after);
            }
            for k in keys {
                q = q.order_by_asc(k);
            }
            Ok(q.limit(limit).build(backend))
        },
        insert: |rows, columns, backend| {
            let mut q = Query::insert();
            q.into_table(E::default()).columns(E::Column::iter());
            for r in rows {
                let mut values = Vec::with_capacity(columns.len());
                for c in columns {
                    values.push(
                        to_value(r.get(&c.name).unwrap_or(&Json::Null), c.kind, c.nullable).map_err(|e| bad(format!("column {}: {e}", c.name)))?,
                    );
                }
                q.values(values.into_iter().map(Into::into)).map_err(|e| bad(e.to_string()))?;
            }
            Ok(backend.build(&q))
        },
    }
}

fn bad(msg: String) -> StoreError {
    StoreError::Db(sea_orm::DbErr::Custom(msg))
}

fn to_value(v: &Json, kind: Kind, nullable: bool) -> Result<Value, String> {
    if v.is_null() {
        if !nullable {
            return Err("null in a column that takes none".into());
        }
        return Ok(match kind {
            Kind::BigInt => Value::BigInt(None),
            Kind::Int => Value::Int(None),
            Kind::Text => Value::String(None),
            Kind::Bool => Value::Bool(None),
        });
    }
    match kind {
        Kind::BigInt => v.as_i64().map(Value::from).ok_or_else(|| format!("{v} is not a 64-bit integer")),
        Kind::Int => v.as_i64().and_then(|n| i32::try_from(n).ok()).map(Value::from).ok_or_else(|| format!("{v} is not a 32-bit integer")),
        Kind::Text => v.as_str().map(|s| Value::from(s.to_owned())).ok_or_else(|| format!("{v} is not a string")),
        Kind::Bool => v.as_bool().map(Value::from).ok_or_else(|| format!("{v} is not a boolean")),
    }
}

/// Every table Settle keeps, in the order a restore inserts them (owners before what they own). `cluster_flags` is
/// not data but the running cluster's switches (its rows are made by its migration): a restore leaves them as they are.
pub fn tables() -> Vec<Table> {
    vec![
        table::<merchant::Entity>(),
        table::<api_key::Entity>(),
        table::<payment::Entity>(),
        table::<payment_event::Entity>(),
        table::<payment_metadata::Entity>(),
        table::<refund::Entity>(),
        table::<checkout_session::Entity>(),
        table::<transaction_log::Entity>(),
        table::<gateway_void::Entity>(),
        table::<relayer_nonce::Entity>(),
        table::<relay_request::Entity>(),
        table::<relay_tx::Entity>(),
        table::<chain_cursor::Entity>(),
        table::<chain_block::Entity>(),
        table::<chain_log::Entity>(),
        table::<shop_user::Entity>(),
        table::<item::Entity>(),
        table::<coupon::Entity>(),
        table::<issued_coupon::Entity>(),
        table::<order::Entity>(),
        table::<order_item::Entity>(),
        table::<order_cancellation::Entity>(),
        table::<saga_state::Entity>(),
        table::<saga_step_result::Entity>(),
        table::<notification::Entity>(),
        table::<idempotency_key::Entity>(),
        table::<outbox::Entity>(),
        table::<inbox::Entity>(),
        table::<dead_letter::Entity>(),
        table::<consumer_offset::Entity>(),
        table::<lease::Entity>(),
        table::<webhook_endpoint::Entity>(),
        table::<webhook_delivery::Entity>(),
        table::<webhook_attempt::Entity>(),
        table::<audit_log::Entity>(),
    ]
}

impl Table {
    /// Up to `limit` rows in primary-key order, after the row `after` (as this gives them) or from the first (call
    /// it in one snapshot for a consistent read).
    pub async fn read(
        &self,
        conn: &impl ConnectionTrait,
        after: Option<&Map<String, Json>>,
        limit: u64,
    ) -> Result<Vec<Map<String, Json>>, StoreError> {
        let rows = conn.query_all_raw((self.select)(after, limit, conn.get_database_backend())?).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut m = Map::new();
            for c in &self.columns {
                let name = c.name.as_str();
                let v = match c.kind {
                    Kind::BigInt => r.try_get::<Option<i64>>("", name)?.map(Json::from),
                    Kind::Int => r.try_get::<Option<i32>>("", name)?.map(Json::from),
                    Kind::Text => r.try_get::<Option<String>>("", name)?.map(Json::from),
                    Kind::Bool => r.try_get::<Option<bool>>("", name)?.map(Json::from),
                };
                m.insert(c.name.clone(), v.unwrap_or(Json::Null));
            }
            out.push(m);
        }
        Ok(out)
    }

    /// Inserts rows as [`Self::read`] gives them, in one statement; a value of the wrong kind is an error naming
    /// its column.
    pub async fn write(&self, conn: &impl ConnectionTrait, rows: &[Map<String, Json>]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        for r in rows {
            if let Some(k) = r.keys().find(|k| !self.has_column(k)) {
                return Err(bad(format!("{}: no column {k}", self.name)));
            }
        }
        conn.execute_raw((self.insert)(rows, &self.columns, conn.get_database_backend())?).await?;
        Ok(())
    }

    pub fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c.name == name)
    }

    /// How many rows it holds.
    pub async fn count(&self, conn: &impl ConnectionTrait) -> Result<u64, StoreError> {
        let backend = conn.get_database_backend();
        let q = Query::select().expr(sea_orm::sea_query::Expr::cust("COUNT(*)")).from(sea_orm::sea_query::Alias::new(self.name)).to_owned();
        let row = conn.query_one_raw(backend.build(&q)).await?.ok_or_else(|| bad("COUNT(*) returned no row".into()))?;
        Ok(row.try_get_by_index::<i64>(0)? as u64)
    }

    /// Deletes every row (a forced restore over existing data).
    pub async fn clear(&self, conn: &impl ConnectionTrait) -> Result<(), StoreError> {
        let backend = conn.get_database_backend();
        let q = Query::delete().from_table(sea_orm::sea_query::Alias::new(self.name)).to_owned();
        conn.execute_raw(backend.build(&q)).await?;
        Ok(())
    }

    /// After rows were inserted with their ids: PostgreSQL's sequence moves past the highest (MySQL and SQLite
    /// do so themselves).
    pub async fn reset_sequence(&self, conn: &impl ConnectionTrait) -> Result<(), StoreError> {
        if !self.auto_id || conn.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        // The table name is this module's constant (an entity's), quoted; the value is bound.
        let sql = format!("SELECT setval(pg_get_serial_sequence($1, 'id'), COALESCE((SELECT MAX(id) FROM \"{}\"), 0) + 1, false)", self.name);
        conn.query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [self.name.into()])).await?;
        Ok(())
    }
}

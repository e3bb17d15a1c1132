//! The rows a batch of events changes, held in memory.
//!
//! A projection loads, for the aggregates its batch is about, the rows of each table in one
//! statement; its events change them in plain Rust (no I/O, so the rules read as what they
//! are); and the changed rows go back in a few multi-row statements. Writing each event's
//! change with a statement of its own spent the time on round trips: a rebuild ran at a few
//! thousand events a second (docs/benchmarks.md).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use desist_store::db::{self, Arg, Backend, Column, Row, Tx};

use crate::Generation;

/// Rows written by one statement at most, so that one statement stays a modest size.
const MAX_ROWS: usize = 1_000;

/// Rows written by one statement of column arrays at most: its text does not grow with them,
/// only the arrays do.
const MAX_ARRAY_ROWS: usize = 10_000;

/// A row of a projection table, as the batch holds it.
pub trait TableRow: Row + Clone {
    /// What tells two rows apart (the primary key, or for versioned rows the key without the
    /// feed position).
    type Key: Ord + Clone + Send;
    /// Every column, in the order [`TableRow::values`] gives them.
    const COLUMNS: &'static [&'static str];
    /// The primary key's columns.
    const PRIMARY_KEY: &'static [&'static str];
    /// The column naming the aggregate whose events change the row: rows are loaded by it.
    const OWNER: &'static str;

    fn key(&self) -> Self::Key;
    fn owner(&self) -> &str;
    fn values(&self) -> Vec<Arg>;
}

/// One table's rows for a batch: those loaded for the batch's aggregates and those it adds.
pub struct Rows<R: TableRow> {
    table: &'static str,
    rows: BTreeMap<R::Key, R>,
    changed: BTreeSet<R::Key>,
    /// Which of the rows a batch adds are known not to be in the table yet.
    known: Known<R::Key>,
}

/// What a batch knows of the rows already in a table. A row known to be new is written with a
/// plain INSERT; any other with an upsert, which costs PostgreSQL about twice as much a row
/// (238,074 rows from a SELECT: 1.27 s inserted, 2.47 s upserted).
enum Known<K> {
    /// Nothing: any row may be in the table already.
    Nothing,
    /// Every row of these owners was loaded (as `stored`): a row of one of them that was not
    /// loaded is new.
    Owners {
        owners: BTreeSet<String>,
        stored: BTreeSet<K>,
    },
    /// Each row is one event's, keyed by its feed position: every row is new.
    EveryRowIsNew,
}

impl<R: TableRow> Rows<R> {
    /// No rows yet: for tables a batch only adds to (a row with a key already in the table
    /// replaces it).
    pub fn new(table: &'static str) -> Self {
        Self::with(table, Known::Nothing)
    }

    /// No rows yet, for a table whose rows are each one event's and keyed by its feed
    /// position, so that no row is ever written twice.
    pub fn of_events(table: &'static str) -> Self {
        Self::with(table, Known::EveryRowIsNew)
    }

    fn with(table: &'static str, known: Known<R::Key>) -> Self {
        Self {
            table,
            rows: BTreeMap::new(),
            changed: BTreeSet::new(),
            known,
        }
    }

    /// The rows of `table` owned by any of `owners`. `after` is the same table's rows in the
    /// batch before this one, when that batch may not have committed yet (its rows are
    /// written while this batch is prepared, see `runner`): the rows it holds are the newest,
    /// and the database's are read only for owners it did not load. Rows of owners the batch
    /// before did not touch are the same in the database whether or not it has committed.
    pub async fn load(
        tx: &mut Tx,
        g: Generation,
        table: &'static str,
        owners: &[&str],
        after: Option<&Rows<R>>,
    ) -> Result<Self, sqlx::Error> {
        let unknown = not_loaded(owners, after.and_then(Rows::loaded_owners));
        let mut rows = BTreeMap::new();
        for row in select::<R>(tx, g, table, &unknown).await? {
            rows.insert(row.key(), row);
        }
        for row in carried(after.map(|a| a.rows.values()), owners) {
            rows.insert(row.key(), row.clone());
        }
        let known = Known::Owners {
            owners: owners.iter().map(|o| o.to_string()).collect(),
            stored: rows.keys().cloned().collect(),
        };
        Ok(Self {
            rows,
            ..Self::with(table, known)
        })
    }

    /// The owners whose every row this batch loaded.
    fn loaded_owners(&self) -> Option<&BTreeSet<String>> {
        match &self.known {
            Known::Owners { owners, .. } => Some(owners),
            Known::Nothing | Known::EveryRowIsNew => None,
        }
    }

    pub fn get(&self, key: &R::Key) -> Option<&R> {
        self.rows.get(key)
    }

    /// Changes the row with `key`; like an UPDATE, does nothing when there is none.
    pub fn update(&mut self, key: &R::Key, change: impl FnOnce(&mut R)) {
        if let Some(row) = self.rows.get_mut(key) {
            change(row);
            self.changed.insert(key.clone());
        }
    }

    /// Changes every row that `matches`.
    pub fn update_where(&mut self, matches: impl Fn(&R) -> bool, mut change: impl FnMut(&mut R)) {
        for (key, row) in self.rows.iter_mut().filter(|(_, row)| matches(row)) {
            change(row);
            self.changed.insert(key.clone());
        }
    }

    /// Adds `row`, replacing the row with the same key if there is one.
    pub fn put(&mut self, row: R) {
        let key = row.key();
        self.rows.insert(key.clone(), row);
        self.changed.insert(key);
    }

    pub fn iter(&self) -> impl Iterator<Item = &R> {
        self.rows.values()
    }

    /// The rows of each owner, in key order.
    pub fn by_owner(&self) -> HashMap<&str, Vec<&R>> {
        let mut owned: HashMap<&str, Vec<&R>> = HashMap::new();
        for row in self.rows.values() {
            owned.entry(row.owner()).or_default().push(row);
        }
        owned
    }

    /// Writes every added or changed row back: the new ones inserted, the others upserted.
    pub async fn save(&self, tx: &mut Tx, g: Generation) -> Result<(), sqlx::Error> {
        let (new, others): (Vec<&R>, Vec<&R>) = self
            .changed
            .iter()
            .filter_map(|k| self.rows.get(k))
            .partition(|row| self.is_new(row));
        insert(tx, g, self.table, &new, Conflict::Fail).await?;
        insert(tx, g, self.table, &others, Conflict::Update).await
    }

    fn is_new(&self, row: &R) -> bool {
        match &self.known {
            Known::Nothing => false,
            Known::Owners { owners, stored } => {
                owners.contains(row.owner()) && !stored.contains(&row.key())
            }
            Known::EveryRowIsNew => true,
        }
    }
}

/// Rows that are never changed, only superseded: each change inserts a new version stamped
/// with its feed position (the outcomes projection, whose pinned queries read the versions).
pub struct Versions<R: TableRow> {
    table: &'static str,
    /// The owners whose rows were loaded: `latest` holds each of their rows' latest version.
    owners: BTreeSet<String>,
    latest: BTreeMap<R::Key, R>,
    added: Vec<R>,
}

/// Where a version sits in the feed: `(transaction, global position)`.
pub trait Versioned {
    fn stamp(&self) -> (i64, i64);
    fn restamp(&mut self, stamp: (i64, i64));
}

impl<R: TableRow + Versioned> Versions<R> {
    /// The latest version of each row of `table` owned by any of `owners`; `after` as for
    /// [`Rows::load`].
    pub async fn load(
        tx: &mut Tx,
        g: Generation,
        table: &'static str,
        owners: &[&str],
        after: Option<&Versions<R>>,
    ) -> Result<Self, sqlx::Error> {
        let unknown = not_loaded(owners, after.map(|a| &a.owners));
        let mut latest: BTreeMap<R::Key, R> = BTreeMap::new();
        for row in select::<R>(tx, g, table, &unknown).await? {
            let key = row.key();
            match latest.get(&key) {
                Some(kept) if kept.stamp() >= row.stamp() => {}
                _ => {
                    latest.insert(key, row);
                }
            }
        }
        for row in carried(after.map(|a| a.latest.values()), owners) {
            latest.insert(row.key(), row.clone());
        }
        Ok(Self {
            table,
            owners: owners.iter().map(|o| o.to_string()).collect(),
            latest,
            added: Vec::new(),
        })
    }

    pub fn latest(&self, key: &R::Key) -> Option<&R> {
        self.latest.get(key)
    }

    /// Adds a new version of the row with `key`: its latest, stamped `stamp` and changed by
    /// `change`. Like the statement it replaces, does nothing when there is no row yet.
    pub fn supersede(&mut self, key: &R::Key, stamp: (i64, i64), change: impl FnOnce(&mut R)) {
        if let Some(latest) = self.latest.get(key) {
            let mut next = latest.clone();
            next.restamp(stamp);
            change(&mut next);
            self.push(next);
        }
    }

    /// Adds a new version.
    pub fn push(&mut self, row: R) {
        self.latest.insert(row.key(), row.clone());
        self.added.push(row);
    }

    /// Inserts the versions added since loading.
    pub async fn save(&self, tx: &mut Tx, g: Generation) -> Result<(), sqlx::Error> {
        let rows: Vec<&R> = self.added.iter().collect();
        insert(tx, g, self.table, &rows, Conflict::Fail).await
    }
}

/// How a batch's tables are loaded: in `tx`, from generation `g`, and after the batch before
/// (`after`, its changes when it may still be being written; see [`Rows::load`]).
pub struct Loads<'a, B> {
    pub tx: &'a mut Tx,
    pub g: Generation,
    pub after: Option<&'a B>,
}

impl<B> Loads<'_, B> {
    /// The rows of `table` owned by any of `owners` ([`Rows::load`]); `of` finds the table's
    /// rows in the batch before.
    pub async fn rows<R: TableRow>(
        &mut self,
        table: &'static str,
        owners: &[&str],
        of: fn(&B) -> &Rows<R>,
    ) -> Result<Rows<R>, sqlx::Error> {
        Rows::load(self.tx, self.g, table, owners, self.after.map(of)).await
    }

    /// The latest versions in `table` owned by any of `owners` ([`Versions::load`]).
    pub async fn versions<R: TableRow + Versioned>(
        &mut self,
        table: &'static str,
        owners: &[&str],
        of: fn(&B) -> &Versions<R>,
    ) -> Result<Versions<R>, sqlx::Error> {
        Versions::load(self.tx, self.g, table, owners, self.after.map(of)).await
    }
}

/// The rows the batch before holds (`after`) of any of this batch's `owners`: newer than the
/// database's until that batch commits.
fn carried<'r, R: TableRow + 'r>(
    after: Option<impl Iterator<Item = &'r R>>,
    owners: &[&str],
) -> Vec<&'r R> {
    let Some(after) = after else {
        return Vec::new();
    };
    let owned: HashSet<&str> = owners.iter().copied().collect();
    after.filter(|row| owned.contains(row.owner())).collect()
}

/// Of a batch's `owners`, those whose rows must be read from the database: all but those
/// whose every row the batch before loaded (`loaded`), which it holds.
fn not_loaded<'a>(owners: &[&'a str], loaded: Option<&BTreeSet<String>>) -> Vec<&'a str> {
    owners
        .iter()
        .copied()
        .filter(|owner| !loaded.is_some_and(|l| l.contains(*owner)))
        .collect()
}

async fn select<R: TableRow>(
    tx: &mut Tx,
    g: Generation,
    table: &str,
    owners: &[&str],
) -> Result<Vec<R>, sqlx::Error> {
    if owners.is_empty() {
        return Ok(Vec::new());
    }
    // The owners bound as one list: one prepared statement per table, where an `IN (…)` list
    // of a batch's few hundred owners was parsed and planned again for every batch.
    let sql = format!(
        "SELECT {} FROM {} WHERE {}",
        R::COLUMNS.join(", "),
        g.table(table),
        db::any_of(tx.backend(), R::OWNER, 1)
    );
    db::query_as::<R>(sql)
        .bind(Arg::ids(owners.iter().copied()))
        .fetch_all(&mut *tx)
        .await
}

enum Conflict {
    /// A row with the same primary key is replaced.
    Update,
    /// A row with the same primary key is an error (versions are never replaced).
    Fail,
}

async fn insert<R: TableRow>(
    tx: &mut Tx,
    g: Generation,
    table: &str,
    rows: &[&R],
    conflict: Conflict,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let width = R::COLUMNS.len();
    let on_conflict = match conflict {
        Conflict::Fail => String::new(),
        Conflict::Update => {
            let set: Vec<String> = R::COLUMNS
                .iter()
                .filter(|c| !R::PRIMARY_KEY.contains(c))
                .map(|c| format!("{c} = excluded.{c}"))
                .collect();
            let action = if set.is_empty() {
                "NOTHING".to_string()
            } else {
                format!("UPDATE SET {}", set.join(", "))
            };
            format!(" ON CONFLICT ({}) DO {action}", R::PRIMARY_KEY.join(", "))
        }
    };
    if tx.backend() == Backend::Postgres {
        return insert_columns(tx, g, table, rows, &on_conflict).await;
    }
    let per_statement = (tx.backend().values_per_statement() / width).clamp(1, MAX_ROWS);
    for chunk in rows.chunks(per_statement) {
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}{on_conflict}",
            g.table(table),
            R::COLUMNS.join(", "),
            db::row_placeholders(chunk.len(), width)
        );
        db::query(sql)
            .bind_all(chunk.iter().flat_map(|row| row.values()))
            .one_off()
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// PostgreSQL: the rows as one array per column, spread back into rows by `UNNEST` (see
/// [`Column`]): one prepared statement per table, however many rows a batch changed.
async fn insert_columns<R: TableRow>(
    tx: &mut Tx,
    g: Generation,
    table: &str,
    rows: &[&R],
    on_conflict: &str,
) -> Result<(), sqlx::Error> {
    let width = R::COLUMNS.len();
    for chunk in rows.chunks(MAX_ARRAY_ROWS) {
        let mut values: Vec<Vec<Arg>> = (0..width)
            .map(|_| Vec::with_capacity(chunk.len()))
            .collect();
        for row in chunk {
            for (column, value) in values.iter_mut().zip(row.values()) {
                column.push(value);
            }
        }
        let mut columns = Vec::with_capacity(width);
        for (name, values) in R::COLUMNS.iter().zip(values) {
            let column = Column::of(values).ok_or_else(|| {
                sqlx::Error::Encode(format!("{table}.{name}: values of more than one type").into())
            })?;
            columns.push(column);
        }
        let arrays: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, column)| format!("UNNEST(${}::{})", i + 1, column.array_type()))
            .collect();
        // One `UNNEST` per column in the select list, not one `UNNEST(…, …)` in FROM: a
        // function in FROM is first materialized in a tuplestore, row by row (schedule rows of
        // a national rebuild, 240,474 in 3,000-row statements: 520–540 ms, against 471–475).
        let sql = format!(
            "INSERT INTO {} ({}) SELECT {}{on_conflict}",
            g.table(table),
            R::COLUMNS.join(", "),
            arrays.join(", ")
        );
        db::query(sql)
            .bind_all(columns.into_iter().map(Arg::Column))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The distinct ids of the aggregates of type `aggregate_type` among a batch's events.
pub fn owners<'a>(
    events: &'a [crate::projection::Applied<'a>],
    aggregate_type: &str,
) -> Vec<&'a str> {
    let ids: BTreeSet<&str> = events
        .iter()
        .filter(|e| e.feed.aggregate_type == aggregate_type)
        .map(|e| e.feed.aggregate_id.as_str())
        .collect();
    ids.into_iter().collect()
}

/// The rows of `owner` in rows grouped by [`Rows::by_owner`]; none when it has none.
pub fn owned_by<'m, 'r, R>(grouped: &'m HashMap<&str, Vec<&'r R>>, owner: &str) -> &'m [&'r R] {
    grouped.get(owner).map_or(&[], Vec::as_slice)
}

/// Declares a row type of a projection table: the struct (its fields named as the table's
/// columns, in order), and its [`TableRow`] impl.
#[macro_export]
macro_rules! table_row {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($field:ident : $ty:ty),+ $(,)? }
        key ($($key:ident),+) as $key_ty:ty;
        primary key ($($pk:ident),+);
        owner $owner:ident;
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
        pub struct $name { $(pub $field: $ty),+ }

        impl $crate::rows::TableRow for $name {
            type Key = $key_ty;
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];
            const PRIMARY_KEY: &'static [&'static str] = &[$(stringify!($pk)),+];
            const OWNER: &'static str = stringify!($owner);

            fn key(&self) -> Self::Key {
                ($(self.$key.clone()),+)
            }
            fn owner(&self) -> &str {
                &self.$owner
            }
            fn values(&self) -> Vec<desist_store::db::Arg> {
                vec![$((&self.$field).into()),+]
            }
        }
    };
}

//! The seam between the shared SQL and one database: what differs ([`Dialect`]'s constants), and
//! the sqlx bounds the shared code needs, named once.
//!
//! sqlx states what a database can do as bounds on other types (`String: Encode<'_, DB>`,
//! `&mut DB::Connection: Executor`, `&str: ColumnIndex<DB::Row>`). Rust only carries a trait's
//! supertraits and the bounds on its associated types to the code that uses it, never such
//! `where` clauses, so each sqlx bound is restated here as a trait of the database or of its row
//! ([`Binds`], [`Runs`], [`Column`], [`RowsAffected`]), implemented for every database that has
//! it, and [`Dialect`] requires them all as supertraits: a function generic over `D: Dialect`
//! then binds, runs and decodes without a `where` clause of its own.

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

/// A statement with its arguments, as the shared code builds them.
pub(crate) type Query<'q, D> = sqlx::query::Query<'q, D, <D as Database>::Arguments>;

/// A SQL database the shared implementation runs on, and the ways its SQL differs.
///
/// The statements are written once in the text both databases accept: `$1` placeholders
/// (SQLite reads `$N` as the N-th argument too, so one argument can appear twice), `ON CONFLICT
/// … DO UPDATE` with `excluded`, and `CAST(… AS …)` rather than PostgreSQL's `::`.
pub trait Dialect:
    Database<Row: SqlRow, Arguments: IntoArguments<Self>, QueryResult: RowsAffected>
    + Runs
    + Binds<i64>
    + Binds<Option<i64>>
    + Binds<String>
    + Binds<Option<String>>
    + for<'a> Binds<&'a str>
    + for<'a> Binds<Option<&'a str>>
    + for<'a> Binds<&'a [u8]>
{
    /// How a transaction that writes begins (`None`: the driver's plain `BEGIN`).
    const BEGIN_WRITE: Option<&'static str>;

    /// Whether write transactions run side by side and are kept apart by row locks
    /// (`SELECT … FOR UPDATE`), taken in one global order: authorization code, then grant, then
    /// refresh token. `false` where a write transaction holds the whole database from its
    /// first statement, so that there is nothing to lock row by row.
    const ROW_LOCKS: bool;

    /// What follows each text key of an `ORDER BY`, so that lists come in byte order.
    const BYTE_ORDER: &'static str;

    /// The `LIMIT` argument that means "no limit".
    const NO_LIMIT: Option<i64>;

    /// A statement that takes an exclusive lock named by its one argument (an `i64`) until the
    /// transaction ends, for a check-then-insert that no row lock can guard (the row does not
    /// exist yet). `None` where a write transaction already excludes every other writer.
    const TRANSACTION_LOCK: Option<&'static str>;

    /// How often a transaction is tried in all when the database aborts it with a transient
    /// failure (deadlock, serialization failure); `1` where that cannot happen.
    const MAX_ATTEMPTS: u32;
}

/// The database accepts a `T` as a statement argument.
pub trait Binds<T>: Database {
    /// Binds `value` as the next argument of `query`.
    fn bind_to(query: Query<'_, Self>, value: T) -> Query<'_, Self>;
}

impl<'e, DB: Database, T> Binds<T> for DB
where
    T: Encode<'e, DB> + Type<DB>,
{
    fn bind_to(query: Query<'_, Self>, value: T) -> Query<'_, Self> {
        query.bind(value)
    }
}

/// `.arg(value)`: [`Query::bind`](sqlx::query::Query::bind) where the database is a type
/// parameter, proved by [`Binds`] rather than by a bound at every call.
pub trait Arg: Sized {
    /// The database the statement is for.
    type Db: Database;
    /// Binds `value` as the next argument.
    fn arg<T>(self, value: T) -> Self
    where
        Self::Db: Binds<T>;
}

impl<'q, D: Database> Arg for Query<'q, D> {
    type Db = D;
    fn arg<T>(self, value: T) -> Self
    where
        D: Binds<T>,
    {
        <D as Binds<T>>::bind_to(self, value)
    }
}

/// A connection of the database, and its pool, run statements.
pub trait Runs: Database {
    /// The connection (inside a transaction, usually) as the executor of one statement.
    fn on<'c>(conn: &'c mut Self::Connection) -> impl Executor<'c, Database = Self>;
    /// The pool as the executor of one statement, on whichever connection is free.
    fn on_pool(pool: &Pool<Self>) -> impl Executor<'_, Database = Self>;
}

impl<DB: Database> Runs for DB
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    fn on<'c>(conn: &'c mut DB::Connection) -> impl Executor<'c, Database = DB> {
        conn
    }

    fn on_pool(pool: &Pool<DB>) -> impl Executor<'_, Database = DB> {
        pool
    }
}

/// A row of the database decodes a column, by name, as a `T`.
pub trait Column<T> {
    /// The column `name` as a `T`.
    fn column(&self, name: &str) -> Result<T, sqlx::Error>;
}

impl<R: Row, T> Column<T> for R
where
    T: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    for<'n> &'n str: ColumnIndex<R>,
{
    fn column(&self, name: &str) -> Result<T, sqlx::Error> {
        self.try_get(name)
    }
}

/// A row of a [`Dialect`]: every column type the stored records use (the readers of stored
/// records are in `row.rs`).
pub trait SqlRow:
    Row + Column<i64> + Column<Option<i64>> + Column<String> + Column<Option<String>> + Column<Vec<u8>>
{
}

impl<R> SqlRow for R where
    R: Row
        + Column<i64>
        + Column<Option<i64>>
        + Column<String>
        + Column<Option<String>>
        + Column<Vec<u8>>
{
}

/// How many rows a statement changed (each driver has its own result type).
pub trait RowsAffected {
    /// The number of rows the statement inserted, updated or deleted.
    fn affected(&self) -> u64;
}

/// A store on one SQL database: its pool, and through its type the [`Dialect`] spoken there.
/// Every store trait is implemented once for every `SqlBackend`, in the files beside this one.
pub trait SqlBackend: Send + Sync + 'static {
    /// The database.
    type Db: Dialect;

    /// The connection pool.
    fn pool(&self) -> &Pool<Self::Db>;

    /// The pool as the executor of one statement.
    fn on_pool(&self) -> impl Executor<'_, Database = Self::Db> {
        <Self::Db as Runs>::on_pool(self.pool())
    }

    /// Where the database admits one writer at a time (SQLite), the queue this process's write
    /// transactions wait in before they begin ([`in_tx!`](super::tx::in_tx)): a writer then waits
    /// its turn in order, woken when the one before commits, instead of polling the database's
    /// lock in SQLite's busy handler, which sleeps 1, 2, 5, 10, 20… ms between tries and so made a
    /// queue of 64 rotations wait ~20 ms each (bench/notes.md, issue 19). Other processes on the
    /// same file still meet the busy timeout. `None` where the database locks rows.
    fn write_gate(&self) -> Option<&tokio::sync::Mutex<()>> {
        None
    }
}

/// This process's turn to write on `store`, for a write of one statement outside a transaction:
/// held while it runs, where the database admits one writer ([`SqlBackend::write_gate`]), so
/// that concurrent writes queue behind each other and behind the transactions instead of
/// sleeping in SQLite's busy handler. `None` (nothing to hold) where the database locks rows.
pub(crate) async fn write_turn<S: SqlBackend>(
    store: &S,
) -> Option<tokio::sync::MutexGuard<'_, ()>> {
    match store.write_gate() {
        Some(gate) => Some(gate.lock().await),
        None => None,
    }
}

/// A statement whose text was formatted from literals and a dialect's constants alone (an
/// `ORDER BY` collation, a lock suffix), never from input: safe to run as SQL.
pub(crate) fn formatted<D: Database>(text: String) -> Query<'static, D> {
    sqlx::query(sqlx::AssertSqlSafe(text))
}

/// `$sql`, with ` FOR UPDATE` where the dialect `$d` locks rows ([`Dialect::ROW_LOCKS`]). Both
/// texts are static: the locking reads of redeem, rotate and consent allocate no query string.
macro_rules! for_update {
    ($d:ty, $sql:literal) => {
        if <$d as $crate::store::sql::Dialect>::ROW_LOCKS {
            concat!($sql, " FOR UPDATE")
        } else {
            $sql
        }
    };
}
pub(crate) use for_update;

//! Database connections: SQLite (WAL, busy timeout, full sync) for the embedded setup, PostgreSQL through
//! a pool in production; migrations run at start.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectOptions, ConnectionTrait, Database,
    DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait, ExecResult,
    IntoActiveModel, Iterable, ModelTrait, PrimaryKeyToColumn, QueryFilter, QueryResult,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use crate::Error;
use crate::error::Reason;
use kommune_proto::ProtoEnum;
use sea_orm_migration::MigratorTrait;

/// Connects to `url` (`sqlite://…` or `postgres://…`), creating a SQLite file's directory when needed.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or_default();
        if let Some(dir) = std::path::Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
        }
        options.max_connections(8).map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                // FULL: an acknowledged commit survives a power loss, not only a process crash.
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    } else {
        options.max_connections(16).min_connections(1);
    }
    Database::connect(options).await
}

/// Begins a transaction that may write. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`): a
/// deferred transaction that read first could not write after another connection committed, and would
/// fail instead of waiting its turn. Writers of one SQLite file in this process first take turns in
/// arrival order ([`Txn`]), so they queue instead of polling the lock in SQLite's busy handler, whose
/// growing sleeps left the unluckiest of many concurrent writers waiting seconds.
pub async fn begin(db: &DatabaseConnection) -> Result<Txn, DbErr> {
    let turn = match db.get_database_backend() {
        DbBackend::Sqlite => Some(
            sqlite_writers(db)
                .acquire_owned()
                .await
                .map_err(|err| DbErr::Custom(err.to_string()))?,
        ),
        _ => None,
    };
    let inner = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    Ok(Txn { inner, _turn: turn })
}

/// The turn of writers to one SQLite file: one at a time, first come first served.
fn sqlite_writers(db: &DatabaseConnection) -> Arc<Semaphore> {
    static WRITERS: LazyLock<Mutex<HashMap<PathBuf, Arc<Semaphore>>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let file = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_path_buf();
    WRITERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(file)
        .or_insert_with(|| Arc::new(Semaphore::new(1)))
        .clone()
}

/// A write transaction, holding its writer's turn until it commits or is dropped (rolled back).
pub struct Txn {
    inner: DatabaseTransaction,
    _turn: Option<OwnedSemaphorePermit>,
}

impl Txn {
    /// Commits; the next writer's turn begins.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.inner.commit().await
    }
}

impl std::fmt::Debug for Txn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Txn").finish_non_exhaustive()
    }
}

#[tonic::async_trait]
impl ConnectionTrait for Txn {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        self.inner.execute_raw(statement).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.inner.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.inner.query_one_raw(statement).await
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.inner.query_all_raw(statement).await
    }

    fn support_returning(&self) -> bool {
        self.inner.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.inner.is_mock_connection()
    }
}

/// Key of the advisory lock that serialises migrations of one PostgreSQL database.
const MIGRATION_LOCK: i64 = 0x006b_6f6d_6d75_6e65; // "kommune"

/// Connects to `url` and applies every pending migration of `M`. Replicas starting together on
/// PostgreSQL take turns (an advisory lock held by a transaction), so none sees a half-migrated schema.
pub async fn connect_and_migrate<M: MigratorTrait>(url: &str) -> Result<DatabaseConnection, DbErr> {
    let db = connect(url).await?;
    if db.get_database_backend() == DbBackend::Postgres {
        let lock = db.begin().await?;
        lock.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            .await?;
        M::up(&db, None).await?;
        lock.commit().await?;
    } else {
        M::up(&db, None).await?;
    }
    Ok(db)
}

/// Whether `err` is a unique-constraint violation (a duplicate).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Maps a unique violation to ALREADY_EXISTS on `field`, other errors to INTERNAL.
pub fn unique(err: DbErr, field: &'static str, description: impl FnOnce() -> String) -> Error {
    if is_unique_violation(&err) {
        Error::AlreadyExists {
            field,
            description: description(),
        }
    } else {
        err.into()
    }
}

/// The column [`Versioned::read_at`] compares by default.
const VERSION_COLUMN: &str = "version";

/// A row updated with a compare-and-set on its version: the write succeeds only over the version the
/// change was read at, so a writer slipping in between makes it fail ABORTED instead of being lost.
pub trait Versioned:
    ModelTrait + Clone + IntoActiveModel<<Self::Entity as EntityTrait>::ActiveModel>
{
    /// What it is called in a refusal (`case`, `draft`).
    const NAME: &'static str;

    /// The stored row it must replace: by default its primary key at the `version` before this one
    /// (`changed.version` is the version being written). A row versioned otherwise says so here.
    fn read_at(&self) -> Condition {
        let mut at = Condition::all();
        for key in <Self::Entity as EntityTrait>::PrimaryKey::iter() {
            let column = key.into_column();
            at = at.add(column.eq(self.get(column)));
        }
        let version = <Self::Entity as EntityTrait>::Column::from_str(VERSION_COLUMN)
            .unwrap_or_else(|_| panic!("{} has no `{VERSION_COLUMN}` column", Self::NAME));
        match self.get(version) {
            sea_orm::Value::BigInt(Some(written)) => at.add(version.eq(written - 1)),
            other => panic!("{}.{VERSION_COLUMN} is {other:?}, not a BIGINT", Self::NAME),
        }
    }

    /// The refusal when the change breaks a unique constraint (a name taken); INTERNAL when `None`.
    fn taken(&self) -> Option<Error> {
        None
    }
}

/// Writes `changed` over the row it was read from ([`Versioned::read_at`]); ABORTED when that row has
/// moved on since.
pub async fn update_versioned<M: Versioned>(
    db: &impl ConnectionTrait,
    changed: M,
) -> Result<M, Error>
where
    <M::Entity as EntityTrait>::ActiveModel: Send,
{
    let result = M::Entity::update_many()
        .set(changed.clone().into_active_model().reset_all())
        .filter(changed.read_at())
        .exec(db)
        .await
        .map_err(|err| match changed.taken() {
            Some(taken) if is_unique_violation(&err) => taken,
            _ => err.into(),
        })?;
    if result.rows_affected == 0 {
        return Err(Error::Aborted(
            Reason::StaleVersion,
            format!("the {} was changed concurrently; read it again", M::NAME),
        ));
    }
    Ok(changed)
}

/// A proto enum stored by its name (`CASE_STATE_NEW`): readable in the database, typed in Rust, and
/// converted here, once, for every enum column. A name the contracts no longer know reads as the
/// enum's unspecified value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Named<E>(pub E);

impl<E> std::ops::Deref for Named<E> {
    type Target = E;

    fn deref(&self) -> &E {
        &self.0
    }
}

impl<E: ProtoEnum> From<E> for Named<E> {
    fn from(value: E) -> Self {
        Self(value)
    }
}

impl<E: ProtoEnum> Named<E> {
    /// Its proto name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    fn parse(name: &str) -> Self {
        Self(E::from_name(name).unwrap_or_default())
    }
}

impl<E: ProtoEnum> From<Named<E>> for sea_orm::Value {
    fn from(named: Named<E>) -> Self {
        sea_orm::Value::String(Some(named.0.name().to_owned()))
    }
}

impl<E: ProtoEnum> sea_orm::TryGetable for Named<E> {
    fn try_get_by<I: sea_orm::ColIdx>(
        res: &sea_orm::QueryResult,
        index: I,
    ) -> Result<Self, sea_orm::TryGetError> {
        String::try_get_by(res, index).map(|name| Self::parse(&name))
    }
}

impl<E: ProtoEnum> sea_orm::sea_query::ValueType for Named<E> {
    fn try_from(value: sea_orm::Value) -> Result<Self, sea_orm::sea_query::ValueTypeErr> {
        match value {
            sea_orm::Value::String(Some(name)) => Ok(Self::parse(&name)),
            _ => Err(sea_orm::sea_query::ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "Named".to_owned()
    }

    fn array_type() -> sea_orm::sea_query::ArrayType {
        sea_orm::sea_query::ArrayType::String
    }

    fn column_type() -> sea_orm::ColumnType {
        sea_orm::ColumnType::String(sea_orm::sea_query::StringLen::None)
    }
}

impl<E: ProtoEnum> sea_orm::sea_query::Nullable for Named<E> {
    fn null() -> sea_orm::Value {
        sea_orm::Value::String(None)
    }
}

impl<E: ProtoEnum> serde::Serialize for Named<E> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.name())
    }
}

impl<'de, E: ProtoEnum> serde::Deserialize<'de> for Named<E> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(Self::parse(&name))
    }
}

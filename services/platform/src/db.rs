//! Database connections: SQLite (WAL, busy timeout, full sync) for the embedded setup, PostgreSQL through
//! a pool in production; migrations run at start.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedMutexGuard, oneshot};

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectOptions, ConnectionTrait, Database,
    DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait, ExecResult,
    IntoActiveModel, Iterable, ModelTrait, PrimaryKeyToColumn, QueryFilter, QueryResult,
    QuerySelect, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
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
        // Connections opened for a burst close half a minute after it, and with them their page
        // caches: memory returns instead of staying at the burst's high-water mark.
        .idle_timeout(Duration::from_secs(30))
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

/// Begins a transaction that may write.
///
/// On PostgreSQL it is a transaction of its own from the pool. On SQLite, where one writer at a time
/// holds the file, writers of one file in this process take turns in arrival order (a fair lock, not
/// SQLite's busy handler, whose growing sleeps left the unluckiest of many concurrent writers waiting
/// seconds), and writers that arrive together **commit together**: each runs in a savepoint of one
/// shared transaction (`BEGIN IMMEDIATE`), and the last of the group (no writer waiting, or
/// [`GROUP_LIMIT`] in it) commits it with one sync to disk for all. A writer's failure rolls back its
/// savepoint only. Each [`Txn::commit`] returns once the group's commit is durable (or failed), so
/// nothing is acknowledged before it is on disk.
pub async fn begin(db: &DatabaseConnection) -> Result<Txn, DbErr> {
    if db.get_database_backend() != DbBackend::Sqlite {
        let inner = db.begin().await?;
        return Ok(Txn { inner, turn: None });
    }
    let group = sqlite_group(db);
    let mut turn = Turn::take(group).await;
    if turn.shared.open.is_none() {
        turn.shared.open = Some(
            db.begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?,
        );
    }
    let inner = match &turn.shared.open {
        Some(open) => open.begin().await?,
        None => unreachable!("opened above"),
    };
    Ok(Txn {
        inner,
        turn: Some(turn),
    })
}

/// The most writers one group commit holds, so a steady stream of writers still commits regularly.
pub const GROUP_LIMIT: usize = 64;

/// The writers of one SQLite file in this process.
#[derive(Default)]
struct Group {
    /// The turn to write, with the group's open transaction.
    shared: Arc<tokio::sync::Mutex<Shared>>,
    /// Writers waiting for their turn.
    waiting: AtomicUsize,
}

/// What the writer whose turn it is holds.
#[derive(Default)]
struct Shared {
    /// The group's transaction, open while writers join it.
    open: Option<DatabaseTransaction>,
    /// The writers in it waiting for its commit, each told how it went.
    members: Vec<oneshot::Sender<Result<(), String>>>,
}

/// The group of writers of one SQLite file.
fn sqlite_group(db: &DatabaseConnection) -> Arc<Group> {
    static GROUPS: LazyLock<Mutex<HashMap<PathBuf, Arc<Group>>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let file = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_path_buf();
    GROUPS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(file)
        .or_default()
        .clone()
}

/// A writer's turn in its group. When a turn ends with writers in the group waiting for its commit
/// and none waiting to join, the commit is made (in the background if the turn is simply dropped).
struct Turn {
    group: Arc<Group>,
    shared: OwnedMutexGuard<Shared>,
}

impl Turn {
    /// Waits for the turn, counted as waiting meanwhile.
    async fn take(group: Arc<Group>) -> Self {
        /// Uncounts a writer that gave up waiting, and if the group is left with nobody to commit it,
        /// takes the turn just to do that.
        struct Waiting(Option<Arc<Group>>);
        impl Drop for Waiting {
            fn drop(&mut self) {
                if let Some(group) = self.0.take() {
                    group.waiting.fetch_sub(1, Ordering::SeqCst);
                    if let Ok(shared) = group.shared.clone().try_lock_owned() {
                        drop(Turn { group, shared });
                    }
                }
            }
        }
        group.waiting.fetch_add(1, Ordering::SeqCst);
        let mut waiting = Waiting(Some(group.clone()));
        let shared = group.shared.clone().lock_owned().await;
        waiting.0 = None;
        group.waiting.fetch_sub(1, Ordering::SeqCst);
        Self { group, shared }
    }

    /// Whether the group should commit now rather than wait for more writers.
    fn last_of_group(&self) -> bool {
        self.group.waiting.load(Ordering::SeqCst) == 0 || self.shared.members.len() >= GROUP_LIMIT
    }

    /// Ends this writer's turn, its work in the group (released or rolled back): returns once the
    /// group's commit is durable, committing it itself when it is the last.
    async fn finish(mut self) -> Result<(), DbErr> {
        let (told, outcome) = oneshot::channel();
        self.shared.members.push(told);
        if self.last_of_group() {
            return self.commit_group().await;
        }
        drop(self);
        outcome
            .await
            .map_err(|_| DbErr::Custom("the group commit was abandoned".into()))?
            .map_err(DbErr::Custom)
    }

    /// Commits the group's transaction and tells every member how it went.
    async fn commit_group(&mut self) -> Result<(), DbErr> {
        let members = std::mem::take(&mut self.shared.members);
        let result = match self.shared.open.take() {
            Some(open) => open.commit().await,
            None => Ok(()),
        };
        let told = result.as_ref().map(drop).map_err(ToString::to_string);
        for member in members {
            // A member that gave up waiting is not told.
            let _ = member.send(told.clone());
        }
        result
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if self.shared.members.is_empty() || !self.last_of_group() {
            return;
        }
        // Dropped, not finished (its writer gave up): the commit is made by a turn of its own.
        let group = self.group.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = Turn::take(group).await.commit_group().await {
                    tracing::error!(error = %err, "a group commit failed");
                }
            });
        }
    }
}

/// A write transaction (on SQLite: a writer's part of a group commit). Dropped uncommitted, it rolls
/// back.
pub struct Txn {
    inner: DatabaseTransaction,
    turn: Option<Turn>,
}

impl Txn {
    /// Commits, returning once the commit is durable. On SQLite the next writer's turn begins as soon
    /// as this one's work is released into the group.
    pub async fn commit(self) -> Result<(), DbErr> {
        let Self { inner, turn } = self;
        inner.commit().await?;
        match turn {
            Some(turn) => turn.finish().await,
            None => Ok(()),
        }
    }

    /// Rolls back, returning (on SQLite) once the writers before it in its group are committed, so what
    /// the caller reads next includes them.
    pub async fn rollback(self) -> Result<(), DbErr> {
        let Self { inner, turn } = self;
        inner.rollback().await?;
        match turn {
            Some(turn) => turn.finish().await,
            None => Ok(()),
        }
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

/// A read-only transaction whose reads all see one moment: REPEATABLE READ on PostgreSQL; on SQLite a
/// deferred transaction, whose first read fixes its snapshot (WAL). For a check that reads in several
/// queries while others write, such as verifying an audit chain.
pub async fn read_snapshot(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.begin_with_config(
            Some(sea_orm::IsolationLevel::RepeatableRead),
            Some(sea_orm::AccessMode::ReadOnly),
        )
        .await
    } else {
        db.begin().await
    }
}

/// Serialises, across replicas, the transactions that take the lock named `name` until they end: a
/// transaction-scoped advisory lock on PostgreSQL; SQLite writes one transaction at a time anyway.
pub async fn advisory_lock(txn: &impl ConnectionTrait, name: &str) -> Result<(), DbErr> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        [name.into()],
    ))
    .await?;
    Ok(())
}

/// Erasure of what a person wrote: replaces `text` with `erased` in every row of `E` whose `author`
/// is `author`, answering the distinct `owner` ids of those rows (the cases, orders or templates the
/// words were on), to audit. Empty texts stay empty; rows already erased are not counted again.
pub async fn erase_author<E: EntityTrait>(
    txn: &impl ConnectionTrait,
    columns: &AuthoredText<E>,
    author: &str,
    erased: &str,
) -> Result<Vec<String>, DbErr> {
    let mut owners: Vec<String> = E::find()
        .select_only()
        .column(columns.owner)
        .distinct()
        .filter(columns.author.eq(author))
        .filter(columns.text.ne(erased))
        .filter(columns.text.ne(""))
        .into_tuple()
        .all(txn)
        .await?;
    owners.sort();
    E::update_many()
        .col_expr(columns.text, sea_orm::sea_query::Expr::value(erased))
        .filter(columns.author.eq(author))
        .filter(columns.text.ne(""))
        .exec(txn)
        .await?;
    Ok(owners)
}

/// The columns of a table of text people write: who wrote it, the text, and what it is on.
pub struct AuthoredText<E: EntityTrait> {
    /// What the texts are, as an audit record of their erasure names them (`comments`).
    pub what: &'static str,
    /// The author's subject.
    pub author: E::Column,
    /// The words.
    pub text: E::Column,
    /// The id of what they are on.
    pub owner: E::Column,
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

//! Change requests and the counter their keys are numbered from.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect, Statement};

use kommune_platform::Error;
use kommune_platform::db::Versioned;
use kommune_platform::paging::Page;
use kommune_proto::common::v1::PageResponse;

/// A change request as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_requests")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Published key, unique.
    pub key: String,
    /// Theme.
    pub theme_id: String,
    /// Subtheme.
    pub subtheme_id: Option<String>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Workaround.
    pub workaround: String,
    /// Status code.
    pub status_code: i32,
    /// The asking municipality.
    pub asking_municipality_id: String,
    /// Supporting municipalities as a JSON list.
    pub supporters: String,
    /// Related cases as a JSON list.
    pub related: String,
    /// The support case it came from.
    pub source_case_id: Option<String>,
    /// Its release.
    pub release_id: Option<String>,
    /// Why it was last dropped from a release.
    pub drop_reason: String,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Created.
    pub created_at: DateTimeUtc,
    /// Last changed.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The supporting municipalities.
    pub fn supporters(&self) -> Vec<String> {
        serde_json::from_str(&self.supporters).unwrap_or_default()
    }

    /// The related cases.
    pub fn related(&self) -> Vec<String> {
        serde_json::from_str(&self.related).unwrap_or_default()
    }
}

/// The next number of the key series, kept above every number used (imports bring their own).
pub async fn next_number(txn: &impl ConnectionTrait) -> Result<i64, Error> {
    let backend = txn.get_database_backend();
    txn.execute_raw(Statement::from_string(
        backend,
        "UPDATE key_counter SET last = last + 1 WHERE id = 1",
    ))
    .await?;
    let row = txn
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT last FROM key_counter WHERE id = 1",
        ))
        .await?
        .ok_or_else(|| Error::internal("the key counter is missing"))?;
    Ok(row.try_get::<i64>("", "last")?)
}

/// Raises the counter to at least `number` (an imported key).
pub async fn reserve_number(txn: &impl ConnectionTrait, number: i64) -> Result<(), Error> {
    let backend = txn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "UPDATE key_counter SET last = GREATEST(last, $1) WHERE id = 1"
        }
        _ => "UPDATE key_counter SET last = MAX(last, ?) WHERE id = 1",
    };
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [number.into()],
    ))
    .await?;
    Ok(())
}

/// Inserts a change request; a key in use is ALREADY_EXISTS.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    let key = model.key.clone();
    ActiveModel::from(model).insert(txn).await.map_err(|e| {
        kommune_platform::db::unique(e, "key", || format!("a change request {key} exists"))
    })
}

/// Which of `keys` are held.
pub async fn held_keys(
    db: &impl ConnectionTrait,
    keys: &[String],
) -> Result<std::collections::HashSet<String>, Error> {
    Ok(Entity::find()
        .select_only()
        .column(Column::Key)
        .filter(Column::Key.is_in(keys.iter().map(String::as_str)))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// The change request a support case was converted into.
pub async fn of_case(db: &impl ConnectionTrait, case_id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::SourceCaseId.eq(case_id))
        .one(db)
        .await?)
}

/// Every change request, in key order of creation.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Model>, Error> {
    Ok(Entity::find().order_by_asc(Column::Id).all(db).await?)
}

/// One change request.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// Every change request of a release.
pub async fn of_release(db: &impl ConnectionTrait, release_id: &str) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::ReleaseId.eq(release_id))
        .all(db)
        .await?)
}

/// What a list is limited to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Theme.
    pub theme_id: Option<String>,
    /// Subtheme.
    pub subtheme_id: Option<String>,
    /// Status code.
    pub status_code: Option<i32>,
    /// Asked for or supported by.
    pub municipality_id: Option<String>,
    /// Release.
    pub release_id: Option<String>,
}

/// A page of change requests by key.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: Filter,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .order_by_asc(Column::Key)
        .limit(page.fetch_limit());
    if let Some(theme) = filter.theme_id {
        query = query.filter(Column::ThemeId.eq(theme));
    }
    if let Some(subtheme) = filter.subtheme_id {
        query = query.filter(Column::SubthemeId.eq(subtheme));
    }
    if let Some(code) = filter.status_code {
        query = query.filter(Column::StatusCode.eq(code));
    }
    if let Some(release) = filter.release_id {
        query = query.filter(Column::ReleaseId.eq(release));
    }
    if let Some(m) = filter.municipality_id {
        // Supporters are a JSON list of ids; an id is matched with its quotes, so no id matches a part of another.
        query = query.filter(
            sea_orm::Condition::any()
                .add(Column::AskingMunicipalityId.eq(m.as_str()))
                .add(Column::Supporters.contains(format!("\"{m}\""))),
        );
    }
    if let Some(after) = &page.after {
        query = query.filter(Column::Key.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |c| c.key.clone()))
}

impl Versioned for Model {
    const NAME: &'static str = "change request";
}

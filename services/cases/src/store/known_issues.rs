//! Known issues, and the cases and incidents linked to them.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::{Named, Versioned};
use kommune_platform::paging::Page;
use kommune_proto::cases::v1::KnownIssueStatus;
use kommune_proto::common::v1::PageResponse;

/// A known issue as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "known_issues")]
pub struct Model {
    /// UUID (v7, so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The system.
    pub system_id: String,
    /// Danish title.
    pub title_da: String,
    /// Danish symptom.
    pub symptom_da: String,
    /// Danish workaround.
    pub workaround_da: String,
    /// English title.
    pub title_en: String,
    /// English symptom.
    pub symptom_en: String,
    /// English workaround.
    pub workaround_en: String,
    /// Status (proto name).
    pub status: Named<KnownIssueStatus>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Recorded.
    pub created_at: DateTimeUtc,
    /// Last changed.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Versioned for Model {
    const NAME: &'static str = "known issue";
}

/// Links from known issues to cases and incidents.
pub mod links {
    use sea_orm::entity::prelude::*;

    /// A case or incident linked to a known issue.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "known_issue_links")]
    pub struct Model {
        /// The known issue.
        #[sea_orm(primary_key, auto_increment = false)]
        pub known_issue_id: String,
        /// `case` or `incident`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        /// The case or incident.
        #[sea_orm(primary_key, auto_increment = false)]
        pub target_id: String,
        /// When it was linked.
        pub created_at: DateTimeUtc,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What a link points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linked {
    /// A case.
    Case,
    /// An incident.
    Incident,
}

impl Linked {
    fn name(self) -> &'static str {
        match self {
            Self::Case => "case",
            Self::Incident => "incident",
        }
    }
}

/// How many linked ids a known issue shows (the latest); the count says how many there are.
pub const MAX_LINKS_SHOWN: u64 = 500;

/// Inserts a known issue.
pub async fn insert(db: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(db).await?)
}

/// One known issue.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// What a list is limited to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// One system's.
    pub system_id: Option<String>,
    /// In one status.
    pub status: Option<KnownIssueStatus>,
    /// Only those not fixed.
    pub not_fixed: bool,
}

/// A page of known issues, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: Filter,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .order_by_desc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(system) = filter.system_id {
        query = query.filter(Column::SystemId.eq(system));
    }
    if let Some(status) = filter.status {
        query = query.filter(Column::Status.eq(Named(status)));
    }
    if filter.not_fixed {
        query = query.filter(Column::Status.ne(Named(KnownIssueStatus::Fixed)));
    }
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.lt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |k| k.id.clone()))
}

/// The most known issues of one system a suggestion compares a draft with.
const MAX_COMPARED: u64 = 1_000;

/// A system's known issues not fixed, newest first (at most a thousand): what a draft is compared with.
pub async fn open_of_system(
    db: &impl ConnectionTrait,
    system_id: &str,
) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::SystemId.eq(system_id))
        .filter(Column::Status.ne(Named(KnownIssueStatus::Fixed)))
        .order_by_desc(Column::Id)
        .limit(MAX_COMPARED)
        .all(db)
        .await?)
}

/// Links `target` to a known issue; false when it was linked already.
pub async fn link(
    db: &impl ConnectionTrait,
    known_issue_id: &str,
    kind: Linked,
    target_id: &str,
    at: DateTimeUtc,
) -> Result<bool, Error> {
    let inserted = links::Entity::insert(links::ActiveModel {
        known_issue_id: sea_orm::Set(known_issue_id.to_owned()),
        kind: sea_orm::Set(kind.name().to_owned()),
        target_id: sea_orm::Set(target_id.to_owned()),
        created_at: sea_orm::Set(at),
    })
    .on_conflict(
        OnConflict::columns([
            links::Column::KnownIssueId,
            links::Column::Kind,
            links::Column::TargetId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted > 0)
}

/// The latest linked ids of one kind (at most [`MAX_LINKS_SHOWN`]) and how many there are in all.
pub async fn linked(
    db: &impl ConnectionTrait,
    known_issue_id: &str,
    kind: Linked,
) -> Result<(Vec<String>, u64), Error> {
    let of_kind = links::Entity::find()
        .filter(links::Column::KnownIssueId.eq(known_issue_id))
        .filter(links::Column::Kind.eq(kind.name()));
    let total = of_kind.clone().count(db).await?;
    let ids = of_kind
        .select_only()
        .column(links::Column::TargetId)
        .order_by_desc(links::Column::CreatedAt)
        .order_by_desc(links::Column::TargetId)
        .limit(MAX_LINKS_SHOWN)
        .into_tuple()
        .all(db)
        .await?;
    Ok((ids, total))
}

/// How many cases are linked to each of `ids` (those with none left out), counted in the database.
pub async fn case_counts(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<std::collections::HashMap<String, u64>, Error> {
    let counted: Vec<(String, i64)> = links::Entity::find()
        .select_only()
        .column(links::Column::KnownIssueId)
        .column_as(sea_orm::sea_query::Expr::cust("COUNT(*)"), "count")
        .filter(links::Column::KnownIssueId.is_in(ids.iter().map(String::as_str)))
        .filter(links::Column::Kind.eq(Linked::Case.name()))
        .group_by(links::Column::KnownIssueId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(counted
        .into_iter()
        .map(|(id, count)| (id, count as u64))
        .collect())
}

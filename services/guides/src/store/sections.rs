//! Sections: one row per section and guide version, so earlier versions stay readable and a section's
//! id (`section_id`) runs through the versions that have it.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::paging::Page;
use kommune_proto::common::v1::PageResponse;

/// A section of one guide version as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sections")]
pub struct Model {
    /// The row's UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The section's id across versions.
    pub section_id: String,
    /// The guide.
    pub guide_id: String,
    /// The guide version.
    pub version: i32,
    /// Its place in the version, from 1.
    pub position: i32,
    /// `4.2`.
    pub number: String,
    /// The heading without its number.
    pub heading: String,
    /// The heading path, a JSON list.
    pub heading_path: String,
    /// 1 for a chapter.
    pub level: i32,
    /// Its text.
    pub text: String,
    /// Its anchor.
    pub anchor: String,
    /// Its page; 0 when unknown.
    pub page: i32,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The heading path as a list.
    pub fn heading_path(&self) -> Vec<String> {
        serde_json::from_str(&self.heading_path).unwrap_or_default()
    }

    /// "4.2 Manuel tilknytning".
    pub fn title(&self) -> String {
        format!("{} {}", self.number, self.heading)
    }
}

/// Inserts a version's sections, a batch at a time.
pub async fn insert_all(txn: &impl ConnectionTrait, sections: Vec<Model>) -> Result<(), Error> {
    let mut rows = sections.into_iter().map(ActiveModel::from).peekable();
    while rows.peek().is_some() {
        let batch: Vec<_> = rows.by_ref().take(100).collect();
        Entity::insert_many(batch).exec(txn).await?;
    }
    Ok(())
}

/// Every section of a guide version, in order (a guide has tens or hundreds, never more than the
/// import allows).
pub async fn of_version(
    db: &impl ConnectionTrait,
    guide_id: &str,
    version: i32,
) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::GuideId.eq(guide_id))
        .filter(Column::Version.eq(version))
        .order_by_asc(Column::Position)
        .all(db)
        .await?)
}

/// A page of a guide version's sections, in order.
pub async fn page_of_version(
    db: &impl ConnectionTrait,
    guide_id: &str,
    version: i32,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .filter(Column::GuideId.eq(guide_id))
        .filter(Column::Version.eq(version))
        .order_by_asc(Column::Position)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        let after: i32 = after
            .parse()
            .map_err(|_| Error::invalid("page.page_token", "is not a token from this list"))?;
        query = query.filter(Column::Position.gt(after));
    }
    Ok(page.finish(query.all(db).await?, |s| s.position.to_string()))
}

/// The latest text of each of `section_ids` (the highest version that has it), in no order.
pub async fn latest(
    db: &impl ConnectionTrait,
    section_ids: &[String],
) -> Result<Vec<Model>, Error> {
    if section_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = Entity::find()
        .filter(Column::SectionId.is_in(section_ids.iter().cloned()))
        .order_by_desc(Column::Version)
        .all(db)
        .await?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .into_iter()
        .filter(|row| seen.insert(row.section_id.clone()))
        .collect())
}

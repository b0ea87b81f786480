//! Support cases, and the counter their numbers come from.

use sea_orm::entity::prelude::*;

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, FromQueryResult, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::Named;
use kommune_platform::db::Versioned;
use kommune_platform::paging::Page;
use kommune_proto::cases::v1::{
    CaseKind, CaseState, QuestionSubject, Resolution, Severity, SupportLine,
};
use kommune_proto::common::v1::PageResponse;
use sea_orm::Condition;

use super::queues;

/// A case as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cases")]
pub struct Model {
    /// UUID (v7, so ids sort by filing).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Human-readable number.
    pub number: i64,
    /// The municipality.
    pub municipality_id: String,
    /// The reporter.
    pub reporter_user_id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Kind (proto name).
    pub kind: Named<CaseKind>,
    /// Question subject (proto name).
    pub question_subject: Named<QuestionSubject>,
    /// Severity (proto name).
    pub severity: Named<Severity>,
    /// Affected system.
    pub system_id: String,
    /// Area.
    pub area_id: String,
    /// Guide sections read, as a JSON list.
    pub guide_sections: String,
    /// The sealed personal ID number (see `vault`).
    pub personal_id: Option<String>,
    /// State (proto name).
    pub state: Named<CaseState>,
    /// Team working it.
    pub team_id: Option<String>,
    /// Line working it (proto name).
    pub line: Named<SupportLine>,
    /// Resolution (proto name).
    pub resolution: Named<Resolution>,
    /// Change request covering a by-design resolution.
    pub change_request_id: String,
    /// A change request is asked for.
    pub change_request_wanted: bool,
    /// The case it was merged into.
    pub merged_into: Option<String>,
    /// Flagged for the incident process.
    pub incident_flag: bool,
    /// First response due.
    pub response_due: DateTimeUtc,
    /// First response given.
    pub first_response_at: Option<DateTimeUtc>,
    /// Resolution due (moved by pauses).
    pub resolution_due: DateTimeUtc,
    /// Working seconds spent awaiting the municipality.
    pub paused_seconds: i64,
    /// Awaiting the municipality since.
    pub awaiting_since: Option<DateTimeUtc>,
    /// Resolved at.
    pub resolved_at: Option<DateTimeUtc>,
    /// Related case ids as a JSON list.
    pub related: String,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Filed.
    pub created_at: DateTimeUtc,
    /// Last changed.
    pub updated_at: DateTimeUtc,
    /// The incident it is linked to.
    pub incident_id: Option<String>,
    /// Its symptom as outage detection compares it (`Symptom::to_bytes`), kept from its filing;
    /// `None` for cases filed before symptoms were kept.
    pub symptom: Option<Vec<u8>>,
    /// The member of its team who has it now.
    pub handler_user_id: Option<String>,
    /// For eligibility-change cases, the change asked for as JSON (`domain::eligibility`).
    pub eligibility_request: Option<String>,
    /// When its reporter was invited to rate it (once, at its first resolution).
    pub rating_invited_at: Option<DateTimeUtc>,
    /// The guide sections cited by id, as guides named them at filing: a JSON list.
    pub cited_sections: String,
    /// The guides' suggestion read before filing; empty when none.
    pub suggestion_id: String,
    /// When its personal ID number was erased (it had one; `personal_id` is then empty).
    pub personal_id_erased_at: Option<DateTimeUtc>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The guide sections read.
    pub fn guide_sections(&self) -> Vec<String> {
        serde_json::from_str(&self.guide_sections).unwrap_or_default()
    }

    /// The guide sections cited by id.
    pub fn cited_sections(&self) -> Vec<crate::domain::CitedSection> {
        serde_json::from_str(&self.cited_sections).unwrap_or_default()
    }

    /// The related case ids.
    pub fn related_cases(&self) -> Vec<String> {
        serde_json::from_str(&self.related).unwrap_or_default()
    }

    /// The change to support-eligible users it asks for, if it is an eligibility-change case.
    pub fn eligibility_change(&self) -> Option<crate::domain::eligibility::EligibilityChange> {
        self.eligibility_request
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok())
    }
}

/// The case with this number.
pub async fn by_number(db: &impl ConnectionTrait, number: i64) -> Result<Option<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::Number.eq(number))
        .one(db)
        .await?)
}

/// Inserts a case.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One case.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// A report in a system's detection window: what detection keeps of a case, and no more.
#[derive(Debug, Clone, FromQueryResult)]
pub struct WindowReport {
    /// The case.
    pub id: String,
    /// The reporter.
    pub reporter_user_id: String,
    /// The municipality.
    pub municipality_id: String,
    /// Filed.
    pub created_at: DateTimeUtc,
    /// Its stored symptom, if it has one.
    pub symptom: Option<Vec<u8>>,
}

/// A system's reports numbered after `after` (the ones not seen yet, by the system and number index),
/// or when `None` all those filed since `since` (by the system and filing-time index), in number order,
/// merged duplicates left out: the reports an outage is detected from. Called by a filing holding its
/// number, no report numbered above it is committed yet.
pub async fn window_reports(
    db: &impl ConnectionTrait,
    system_id: &str,
    since: DateTimeUtc,
    after: Option<i64>,
) -> Result<Vec<WindowReport>, Error> {
    let query = Entity::find()
        .select_only()
        .columns([
            Column::Id,
            Column::ReporterUserId,
            Column::MunicipalityId,
            Column::CreatedAt,
            Column::Symptom,
        ])
        .filter(Column::SystemId.eq(system_id))
        .filter(Column::MergedInto.is_null());
    let query = match after {
        Some(after) => query.filter(Column::Number.gt(after)),
        None => query.filter(Column::CreatedAt.gte(since)),
    };
    Ok(query
        .order_by_asc(Column::Number)
        .into_model::<WindowReport>()
        .all(db)
        .await?)
}

/// What a report is linked to now.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Links {
    /// The case.
    pub id: String,
    /// The incident it is linked to.
    pub incident_id: Option<String>,
    /// The case it was merged into as a duplicate.
    pub merged_into: Option<String>,
}

/// The current links of those of `ids` that are linked to an incident or merged (in no particular
/// order): a case of `ids` not among them is linked to nothing. Most reports of a window are not, so
/// most of a flood's reports cost no row.
pub async fn links(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<Links>, Error> {
    let mut links = Vec::new();
    // In chunks, well inside every database's limit of bound parameters.
    for chunk in ids.chunks(1_000) {
        links.extend(
            Entity::find()
                .select_only()
                .columns([Column::Id, Column::IncidentId, Column::MergedInto])
                .filter(Column::Id.is_in(chunk))
                .filter(
                    Condition::any()
                        .add(Column::IncidentId.is_not_null())
                        .add(Column::MergedInto.is_not_null()),
                )
                .into_model::<Links>()
                .all(db)
                .await?,
        );
    }
    Ok(links)
}

/// The title and description of each of `ids`: for the symptoms of cases filed before symptoms were
/// kept.
pub async fn texts(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<HashMap<String, (String, String)>, Error> {
    let mut texts = HashMap::with_capacity(ids.len());
    // In chunks, well inside every database's limit of bound parameters.
    for chunk in ids.chunks(1_000) {
        let rows: Vec<(String, String, String)> = Entity::find()
            .select_only()
            .columns([Column::Id, Column::Title, Column::Description])
            .filter(Column::Id.is_in(chunk))
            .into_tuple()
            .all(db)
            .await?;
        texts.extend(
            rows.into_iter()
                .map(|(id, title, description)| (id, (title, description))),
        );
    }
    Ok(texts)
}

/// The cases linked to an incident, oldest first.
pub async fn of_incident(
    db: &impl ConnectionTrait,
    incident_id: &str,
) -> Result<Vec<Model>, Error> {
    of_incidents(db, &[incident_id.to_owned()]).await
}

/// The cases linked to the incidents, oldest first.
pub async fn of_incidents(
    db: &impl ConnectionTrait,
    incident_ids: &[String],
) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::IncidentId.is_in(incident_ids))
        .order_by_asc(Column::Id)
        .all(db)
        .await?)
}

/// Cases by id, in the order of `ids`, locked until the transaction ends; NOT_FOUND naming `field` for a
/// missing one.
pub async fn find_all(
    db: &impl ConnectionTrait,
    ids: &[String],
    field: &'static str,
) -> Result<Vec<Model>, Error> {
    let found = Entity::find()
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .order_by_asc(Column::Id)
        .lock_exclusive()
        .all(db)
        .await?;
    ids.iter()
        .map(|id| {
            found
                .iter()
                .find(|c| c.id == *id)
                .cloned()
                .ok_or_else(|| Error::not_found_field("case", id, field))
        })
        .collect()
}

/// One case, locked until the transaction ends (PostgreSQL; SQLite writes one at a time anyway).
pub async fn find_for_update(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).lock_exclusive().one(db).await?)
}

/// The cases linked to an incident, locked until the transaction ends, oldest first.
pub async fn of_incident_for_update(
    db: &impl ConnectionTrait,
    incident_id: &str,
) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::IncidentId.eq(incident_id))
        .order_by_asc(Column::Id)
        .lock_exclusive()
        .all(db)
        .await?)
}

/// What a list is limited to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// One municipality's cases.
    pub municipality_id: Option<String>,
    /// Cases in one state.
    pub state: Option<CaseState>,
    /// One team's cases.
    pub team_id: Option<String>,
}

/// A page of cases, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: Filter,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .order_by_desc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(m) = filter.municipality_id {
        query = query.filter(Column::MunicipalityId.eq(m));
    }
    if let Some(state) = filter.state {
        query = query.filter(Column::State.eq(Named(state)));
    }
    if let Some(team) = filter.team_id {
        query = query.filter(Column::TeamId.eq(team));
    }
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.lt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |c| c.id.clone()))
}

impl Versioned for Model {
    const NAME: &'static str = "case";
}

/// Open cases: neither resolved nor closed. The states are written as literals, not bound values,
/// so the partial indexes of open cases serve the query: a planner matches an index's condition only
/// to the same literals.
pub(super) fn open() -> Condition {
    Condition::all().add(Expr::cust(format!(
        "\"cases\".\"state\" NOT IN ('{}', '{}')",
        CaseState::Resolved.as_str_name(),
        CaseState::Closed.as_str_name()
    )))
}

/// Open cases with a target due by `soon` (a first response not yet given, or the resolution while
/// the case does not wait for the municipality), `limit` after the id `after`, by id: what the SLA
/// sweep and the alert list read, from the indexes on the due times.
pub async fn due_by(
    db: &impl ConnectionTrait,
    soon: DateTimeUtc,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    let response_due = Condition::all()
        .add(Column::FirstResponseAt.is_null())
        .add(Column::ResponseDue.lte(soon));
    let resolution_due = Condition::all()
        .add(Column::State.ne(Named(CaseState::AwaitingMunicipality)))
        .add(Column::ResolutionDue.lte(soon));
    let mut query = Entity::find()
        .filter(open().add(Condition::any().add(response_due).add(resolution_due)))
        .order_by_asc(Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(Column::Id.gt(after));
    }
    Ok(query.all(db).await?)
}

/// A page of the open cases filed before `before`, oldest first.
pub async fn open_filed_before(
    db: &impl ConnectionTrait,
    before: DateTimeUtc,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .filter(open())
        .filter(Column::CreatedAt.lt(before))
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |c| c.id.clone()))
}

/// A team's queue: a page of each list.
#[derive(Debug, Clone, Default)]
pub struct Queue {
    /// A page of the open cases of its areas nobody has taken, oldest first.
    pub unassigned: Vec<Model>,
    /// A page of its own open cases, most urgent resolution first.
    pub assigned: Vec<Model>,
    /// How many unassigned cases there are in all.
    pub unassigned_total: u64,
    /// How many assigned cases there are in all.
    pub assigned_total: u64,
    /// The next page of the unassigned cases.
    pub unassigned_next: PageResponse,
    /// The next page of the assigned cases.
    pub assigned_next: PageResponse,
}

/// A team's queue, a page of each list, and how long each list is in all. The unassigned cases are
/// read area by area, each from the index of its open unassigned cases in filing order, and merged,
/// so no query sorts a whole backlog.
pub async fn queue(
    db: &impl ConnectionTrait,
    team_id: &str,
    area_ids: &[String],
    unassigned_page: &Page,
    assigned_page: &Page,
) -> Result<Queue, Error> {
    let untriaged = area_ids
        .iter()
        .map(|area| queues::untriaged_in(area))
        .collect();
    let unassigned = queues::merged_by_id(db, untriaged, unassigned_page).await?;
    let assigned = Entity::find()
        .filter(open())
        .filter(Column::TeamId.eq(team_id));
    let assigned = queues::by_resolution_due(db, assigned, assigned_page, "assigned_page").await?;
    Ok(Queue {
        unassigned: unassigned.cases,
        assigned: assigned.cases,
        unassigned_total: unassigned.total,
        assigned_total: assigned.total,
        unassigned_next: unassigned.next,
        assigned_next: assigned.next,
    })
}

/// How many cases `query` selects, counted straight from its index (a paginator's count wraps the
/// query in a subquery of whole rows, a third slower over a long queue).
pub(super) async fn count(db: &impl ConnectionTrait, query: Select<Entity>) -> Result<u64, Error> {
    let counted: Option<i64> = query
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "count")
        .into_tuple()
        .one(db)
        .await?;
    Ok(counted.unwrap_or_default().max(0) as u64)
}

/// What a backlog is counted by, besides the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogBy {
    /// By municipality.
    pub municipality: bool,
    /// By area.
    pub area: bool,
}

impl From<kommune_proto::cases::v1::BacklogGrouping> for BacklogBy {
    /// By area unless asked otherwise.
    fn from(grouping: kommune_proto::cases::v1::BacklogGrouping) -> Self {
        use kommune_proto::cases::v1::BacklogGrouping;
        Self {
            municipality: matches!(
                grouping,
                BacklogGrouping::Municipality | BacklogGrouping::MunicipalityAndArea
            ),
            area: grouping != BacklogGrouping::Municipality,
        }
    }
}

/// Open cases (filed before `created_before`, when given) counted by state and by municipality and
/// area as `by` says, in the database: (municipality, area, state, count), with an empty municipality
/// or area where not counted by it. Grouped by state first, the order of the state index.
pub async fn backlog(
    db: &impl ConnectionTrait,
    by: BacklogBy,
    created_before: Option<DateTimeUtc>,
) -> Result<Vec<(String, String, Named<CaseState>, i64)>, Error> {
    let mut query = Entity::find().select_only();
    for (counted, column, name) in [
        (by.municipality, Column::MunicipalityId, "municipality_id"),
        (by.area, Column::AreaId, "area_id"),
    ] {
        query = if counted {
            query.column_as(column, name).group_by(column)
        } else {
            query.column_as(Expr::cust("''"), name)
        };
    }
    let mut query = query
        .column(Column::State)
        .column_as(Expr::cust("COUNT(*)"), "count")
        .filter(open())
        .group_by(Column::State);
    if let Some(before) = created_before {
        query = query.filter(Column::CreatedAt.lt(before));
    }
    Ok(query.into_tuple().all(db).await?)
}

/// Cases filed from `from` up to and including `until`, counted by municipality, in the database.
pub async fn filed_per_municipality(
    db: &impl ConnectionTrait,
    from: DateTimeUtc,
    until: DateTimeUtc,
) -> Result<Vec<(String, i64)>, Error> {
    Ok(Entity::find()
        .select_only()
        .column(Column::MunicipalityId)
        .column_as(Expr::cust("COUNT(*)"), "count")
        .filter(Column::CreatedAt.gte(from))
        .filter(Column::CreatedAt.lte(until))
        .group_by(Column::MunicipalityId)
        .into_tuple()
        .all(db)
        .await?)
}

/// Retention: destroys the sealed personal ID numbers of up to `limit` cases resolved before
/// `cutoff`, noting when; how many.
pub async fn purge_personal_ids(
    txn: &impl ConnectionTrait,
    cutoff: DateTimeUtc,
    now: DateTimeUtc,
    limit: u64,
) -> Result<u64, Error> {
    let due = Condition::all()
        .add(Column::PersonalId.is_not_null())
        .add(Column::ResolvedAt.lt(cutoff));
    let ids: Vec<String> = kommune_platform::retention::due_ids::<Entity, _>(
        txn,
        Column::Id,
        Column::ResolvedAt,
        due,
        limit,
    )
    .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let result = Entity::update_many()
        .col_expr(
            Column::PersonalId,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .col_expr(
            Column::PersonalIdErasedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        // A write that read the case before keeps its old version and fails, instead of putting the
        // number back.
        .col_expr(
            Column::Version,
            sea_orm::sea_query::ExprTrait::add(sea_orm::sea_query::Expr::col(Column::Version), 1),
        )
        .filter(Column::Id.is_in(ids))
        .exec(txn)
        .await?;
    Ok(result.rows_affected)
}

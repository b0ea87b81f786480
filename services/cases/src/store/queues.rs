//! What a handler's queue and a team's stand-up read: a page at a time from the partial indexes of
//! open cases, counted and grouped in the database, so the cost follows the page and not the backlog.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{ExprTrait, Func};
use sea_orm::{Condition, ConnectionTrait, QueryOrder, QuerySelect, QueryTrait};

use kommune_platform::Error;
use kommune_platform::paging::Page;
use kommune_proto::cases::v1::CaseState;
use kommune_proto::common::v1::PageResponse;

use super::cases::{Column, Entity, Model, count, open};
use super::sla_notices;

/// A page of a list and how long the list is in all.
#[derive(Debug, Clone, Default)]
pub struct Counted {
    /// The page.
    pub cases: Vec<Model>,
    /// How many there are in all.
    pub total: u64,
    /// The next page.
    pub next: PageResponse,
}

/// Cases awaiting the municipality, written with the literal the index of them is made with.
fn awaiting() -> Condition {
    Condition::all().add(Expr::cust(format!(
        "\"cases\".\"state\" = '{}'",
        CaseState::AwaitingMunicipality.as_str_name()
    )))
}

/// A keyset page token: the sort key's parts, joined by `|`.
fn token(parts: &[&str]) -> String {
    parts.join("|")
}

/// The parts of a token of `n` parts, or INVALID_ARGUMENT naming `field`.
fn token_parts<'a>(token: &'a str, n: usize, field: &str) -> Result<Vec<&'a str>, Error> {
    let parts: Vec<&str> = token.splitn(n, '|').collect();
    if parts.len() == n {
        Ok(parts)
    } else {
        Err(Error::invalid(field, "is not a token from this list"))
    }
}

fn instant(value: &str, field: &str) -> Result<DateTimeUtc, Error> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.to_utc())
        .map_err(|_| Error::invalid(field, "is not a token from this list"))
}

fn instant_key(at: DateTimeUtc) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Rows after `(at, id)` in the order of `column`, then id.
fn after_instant(column: Column, at: DateTimeUtc, id: &str) -> Condition {
    Condition::any()
        .add(column.gt(at))
        .add(Condition::all().add(column.eq(at)).add(Column::Id.gt(id)))
}

/// The untriaged open cases of an area (from the index of them, in filing order).
pub(super) fn untriaged_in(area_id: &str) -> Select<Entity> {
    Entity::find()
        .filter(open())
        .filter(Column::TeamId.is_null())
        .filter(Column::AreaId.eq(area_id))
}

/// A page of the cases `all` selects, most urgent resolution first, and how many it selects; the page
/// named by the request field `field`.
pub(super) async fn by_resolution_due(
    db: &impl ConnectionTrait,
    all: Select<Entity>,
    page: &Page,
    field: &str,
) -> Result<Counted, Error> {
    let total = count(db, all.clone()).await?;
    let mut query = all
        .order_by_asc(Column::ResolutionDue)
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        let field = format!("{field}.page_token");
        let parts = token_parts(after, 2, &field)?;
        let due = instant(parts[0], &field)?;
        query = query.filter(after_instant(Column::ResolutionDue, due, parts[1]));
    }
    let (cases, next) = page.finish(query.all(db).await?, |c| {
        token(&[&instant_key(c.resolution_due), &c.id])
    });
    Ok(Counted { cases, total, next })
}

/// A page of a handler's open cases, most urgent resolution first.
pub async fn of_handler(
    db: &impl ConnectionTrait,
    handler_user_id: &str,
    page: &Page,
) -> Result<Counted, Error> {
    let all = Entity::find()
        .filter(open())
        .filter(Column::HandlerUserId.eq(handler_user_id));
    by_resolution_due(db, all, page, "page").await
}

/// A page of the open cases of a team nobody handles, oldest first: the untriaged ones of its areas
/// (read area by area from the index of untriaged cases) and its own without a handler, merged, so no
/// query sorts a whole backlog.
pub async fn unhandled(
    db: &impl ConnectionTrait,
    team_id: &str,
    area_ids: &[String],
    page: &Page,
) -> Result<Counted, Error> {
    let mut lists: Vec<Select<Entity>> = area_ids.iter().map(|area| untriaged_in(area)).collect();
    lists.push(
        Entity::find()
            .filter(open())
            .filter(Column::TeamId.eq(team_id))
            .filter(Column::HandlerUserId.is_null()),
    );
    merged_by_id(db, lists, page).await
}

/// A page of the union of `lists`, by id, and how many they hold in all; each list is read a page at a
/// time from its own index and the pages merged.
pub async fn merged_by_id(
    db: &impl ConnectionTrait,
    lists: Vec<Select<Entity>>,
    page: &Page,
) -> Result<Counted, Error> {
    let mut rows = Vec::new();
    let mut total = 0;
    for list in lists {
        total += count(db, list.clone()).await?;
        let mut query = list.order_by_asc(Column::Id).limit(page.fetch_limit());
        if let Some(after) = &page.after {
            query = query.filter(Column::Id.gt(after.as_str()));
        }
        rows.extend(query.all(db).await?);
    }
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    let (cases, next) = page.finish(rows, |c| c.id.clone());
    Ok(Counted { cases, total, next })
}

/// A page of a team's handled open cases, by handler, then most urgent resolution first.
pub async fn handled(
    db: &impl ConnectionTrait,
    team_id: &str,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .filter(open())
        .filter(Column::TeamId.eq(team_id))
        .filter(Column::HandlerUserId.is_not_null())
        .order_by_asc(Column::HandlerUserId)
        .order_by_asc(Column::ResolutionDue)
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        let field = "handled_page.page_token";
        let parts = token_parts(after, 3, field)?;
        let due = instant(parts[1], field)?;
        query = query.filter(
            Condition::any()
                .add(Column::HandlerUserId.gt(parts[0]))
                .add(
                    Condition::all()
                        .add(Column::HandlerUserId.eq(parts[0]))
                        .add(after_instant(Column::ResolutionDue, due, parts[2])),
                ),
        );
    }
    Ok(page.finish(query.all(db).await?, |c| {
        token(&[
            c.handler_user_id.as_deref().unwrap_or_default(),
            &instant_key(c.resolution_due),
            &c.id,
        ])
    }))
}

/// A page of a team's cases awaiting the municipality, longest waiting first.
pub async fn awaiting_municipality(
    db: &impl ConnectionTrait,
    team_id: &str,
    page: &Page,
) -> Result<Counted, Error> {
    let all = Entity::find()
        .filter(awaiting())
        .filter(Column::TeamId.eq(team_id));
    let total = count(db, all.clone()).await?;
    let mut query = all
        .order_by_asc(Column::AwaitingSince)
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        let field = "awaiting_page.page_token";
        let parts = token_parts(after, 2, field)?;
        let since = instant(parts[0], field)?;
        query = query.filter(after_instant(Column::AwaitingSince, since, parts[1]));
    }
    let (cases, next) = page.finish(query.all(db).await?, |c| {
        token(&[
            &c.awaiting_since.map(instant_key).unwrap_or_default(),
            &c.id,
        ])
    });
    Ok(Counted { cases, total, next })
}

/// A page of the cases of a team (its own, and the untriaged of its areas) that missed a target since
/// `since`, open or not, by filing: those the SLA sweep announced as breached since then.
pub async fn breached_since(
    db: &impl ConnectionTrait,
    team_id: &str,
    area_ids: &[String],
    since: DateTimeUtc,
    page: &Page,
) -> Result<Counted, Error> {
    let notices = sla_notices::Entity::find()
        .select_only()
        .column(sla_notices::Column::CaseId)
        .filter(sla_notices::Column::Breached.eq(true))
        .filter(sla_notices::Column::CreatedAt.gte(since))
        .into_query();
    // The team's cases, written so that no index of cases serves the condition: the breaches of the
    // period (few) then drive the query through the notices' time index, instead of the planner
    // walking the team's and its areas' open cases (hundreds of thousands) to probe each.
    let unindexed =
        |column: Column| Expr::expr(Func::coalesce([Expr::col((Entity, column)), Expr::val("")]));
    let of_team = Condition::any()
        .add(ExprTrait::eq(unindexed(Column::TeamId), team_id))
        .add(
            Condition::all()
                .add(Column::TeamId.is_null())
                .add(ExprTrait::is_in(
                    unindexed(Column::AreaId),
                    area_ids.iter().map(String::as_str),
                )),
        );
    let all = Entity::find()
        .filter(Column::Id.in_subquery(notices))
        .filter(of_team);
    let total = count(db, all.clone()).await?;
    let mut query = all.order_by_asc(Column::Id).limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.gt(after.as_str()));
    }
    let (cases, next) = page.finish(query.all(db).await?, |c| c.id.clone());
    Ok(Counted { cases, total, next })
}

/// One handler's open cases of a team, counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Load {
    /// The handler.
    pub handler_user_id: String,
    /// Open cases.
    pub open: u64,
    /// Of those, with a missed target at the time asked.
    pub breached: u64,
    /// Of those, awaiting the municipality.
    pub awaiting: u64,
    /// When the oldest was filed.
    pub oldest: Option<DateTimeUtc>,
}

/// The most handlers a stand-up counts (a team is a handful of people).
const MAX_HANDLERS: u64 = 500;

/// Each handler's open cases of a team, counted in the database; missed targets as of `now`.
pub async fn loads(
    db: &impl ConnectionTrait,
    team_id: &str,
    now: DateTimeUtc,
) -> Result<Vec<Load>, Error> {
    let handled = || {
        Entity::find()
            .select_only()
            .column(Column::HandlerUserId)
            .filter(open())
            .filter(Column::TeamId.eq(team_id))
            .filter(Column::HandlerUserId.is_not_null())
            .group_by(Column::HandlerUserId)
            .order_by_asc(Column::HandlerUserId)
            .limit(MAX_HANDLERS)
    };
    let counted: Vec<(String, i64, i64, Option<DateTimeUtc>)> = handled()
        .column_as(Expr::cust("COUNT(*)"), "open")
        .column_as(
            Expr::cust(format!(
                "SUM(CASE WHEN \"cases\".\"state\" = '{}' THEN 1 ELSE 0 END)",
                CaseState::AwaitingMunicipality.as_str_name()
            )),
            "awaiting",
        )
        .column_as(Column::CreatedAt.min(), "oldest")
        .into_tuple()
        .all(db)
        .await?;
    // Missed as the SLA rules have it: a first response not given in time, or the resolution while
    // the clock runs.
    let missed = Condition::any()
        .add(
            Condition::all()
                .add(Column::FirstResponseAt.is_null())
                .add(Column::ResponseDue.lt(now)),
        )
        .add(
            Condition::all()
                .add(Column::State.ne(kommune_platform::db::Named(CaseState::AwaitingMunicipality)))
                .add(Column::ResolutionDue.lt(now)),
        );
    let breached: Vec<(String, i64)> = handled()
        .column_as(Expr::cust("COUNT(*)"), "breached")
        .filter(missed)
        .into_tuple()
        .all(db)
        .await?;
    Ok(counted
        .into_iter()
        .map(|(handler_user_id, open, awaiting, oldest)| Load {
            breached: breached
                .iter()
                .find(|(h, _)| *h == handler_user_id)
                .map_or(0, |(_, n)| *n as u64),
            handler_user_id,
            open: open as u64,
            awaiting: awaiting as u64,
            oldest,
        })
        .collect())
}

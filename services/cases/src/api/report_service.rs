//! `ReportService`: the queue, the stand-up, handlers' queues, SLA alerts, old cases, the backlog and
//! monthly counts.

use kommune_platform::calendar::Month;
use kommune_platform::paging::DEFAULT_PAGE_SIZE;
use kommune_proto::common::v1::{PageRequest, PageResponse};

use super::*;
use crate::registry::{QUEUE_UNPAGED, QueuedPage, StandupPages};

/// The furthest ahead SLA alerts look, in working minutes: about a working year, far past any SLA
/// target (and within the calendar's reach).
const MAX_ALERT_HORIZON_MINUTES: i32 = 100_000;

#[tonic::async_trait]
impl pb::report_service_server::ReportService for CasesApi {
    async fn list_queue(
        &self,
        request: Request<pb::ListQueueRequest>,
    ) -> Result<Response<pb::ListQueueResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let team_id = required_id("team_id", &request.team_id)?;
        let page = |field, page: &Option<PageRequest>| {
            Page::from_field(field, page.as_ref(), QUEUE_UNPAGED)
        };
        let queue = self
            .registry
            .queue(
                &caller,
                &team_id,
                &page("unassigned_page", &request.unassigned_page)?,
                &page("assigned_page", &request.assigned_page)?,
            )
            .await?;
        let map = |rows: Vec<cases::Model>| {
            rows.into_iter()
                .map(|c| self.case(&caller, c))
                .collect::<Result<Vec<_>, Error>>()
        };
        Ok(Response::new(pb::ListQueueResponse {
            unassigned: map(queue.unassigned)?,
            assigned: map(queue.assigned)?,
            unassigned_count: queue.unassigned_total as i64,
            assigned_count: queue.assigned_total as i64,
            unassigned_page: Some(queue.unassigned_next),
            assigned_page: Some(queue.assigned_next),
        }))
    }

    async fn get_backlog(
        &self,
        request: Request<pb::GetBacklogRequest>,
    ) -> Result<Response<pb::GetBacklogResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let mut v = Validator::new();
        let by = cases::BacklogBy::from(
            v.known_enum::<pb::BacklogGrouping>("group_by", request.group_by),
        );
        let created_before = request.created_before.as_ref().and_then(|time| {
            let parsed = kommune_platform::clock::from_timestamp(time);
            if parsed.is_none() {
                v.violation("created_before", "is not a valid time");
            }
            parsed
        });
        v.finish()?;
        let counts = self.registry.backlog(&caller, by, created_before).await?;
        Ok(Response::new(pb::GetBacklogResponse {
            counts: counts
                .into_iter()
                .map(
                    |((municipality_id, area_id, state), count)| pb::BacklogCount {
                        municipality_id,
                        area_id,
                        state,
                        count: count as i64,
                    },
                )
                .collect(),
        }))
    }

    async fn list_old_cases(
        &self,
        request: Request<pb::ListOldCasesRequest>,
    ) -> Result<Response<pb::ListOldCasesResponse>, Status> {
        let caller = caller(&request)?;
        let before = request
            .get_ref()
            .created_before
            .as_ref()
            .and_then(kommune_platform::clock::from_timestamp)
            .ok_or_else(|| Error::invalid("created_before", "is required"))?;
        let page = Page::from_request(request.get_ref().page.as_ref())?;
        let (rows, page) = self.registry.old_cases(&caller, before, &page).await?;
        let cases = rows
            .into_iter()
            .map(|c| self.case(&caller, c))
            .collect::<Result<_, Error>>()?;
        Ok(Response::new(pb::ListOldCasesResponse {
            cases,
            page: Some(page),
        }))
    }

    async fn get_monthly_counts(
        &self,
        request: Request<pb::GetMonthlyCountsRequest>,
    ) -> Result<Response<pb::GetMonthlyCountsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let (first, last) = months(&mut v, &req.first_month, &req.last_month);
        v.finish()?;
        let (Some(first), Some(last)) = (first, last) else {
            return Err(Error::invalid("first_month", "is required").into());
        };
        let counts = self.registry.monthly_counts(&caller, first, last).await?;
        Ok(Response::new(pb::GetMonthlyCountsResponse {
            counts: counts
                .into_iter()
                .map(
                    |((month, municipality_id, area_id), count)| pb::MonthlyCount {
                        month,
                        municipality_id,
                        area_id,
                        count: count as i64,
                    },
                )
                .collect(),
        }))
    }

    async fn list_sla_alerts(
        &self,
        request: Request<pb::ListSlaAlertsRequest>,
    ) -> Result<Response<pb::ListSlaAlertsResponse>, Status> {
        let caller = caller(&request)?;
        let minutes = request.get_ref().due_within_minutes;
        if !(0..=MAX_ALERT_HORIZON_MINUTES).contains(&minutes) {
            return Err(Error::invalid(
                "due_within_minutes",
                format!("must be from 0 to {MAX_ALERT_HORIZON_MINUTES} (about a working year)"),
            )
            .into());
        }
        let page = Page::from_request(request.get_ref().page.as_ref())?;
        let within = chrono::Duration::minutes(i64::from(minutes));
        let (alerts, page) = self.registry.sla_alerts(&caller, within, &page).await?;
        let alerts = alerts
            .into_iter()
            .map(|(case, alert)| {
                Ok(pb::SlaAlert {
                    case: Some(self.case(&caller, case)?),
                    breached: alert.breached,
                    target: alert.target.to_owned(),
                    due_time: Some(to_timestamp(alert.due)),
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Response::new(pb::ListSlaAlertsResponse {
            alerts,
            page: Some(page),
        }))
    }

    async fn list_handler_cases(
        &self,
        request: Request<pb::ListHandlerCasesRequest>,
    ) -> Result<Response<pb::ListHandlerCasesResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let mut v = Validator::new();
        let handler = v.optional_id("handler_user_id", &request.handler_user_id);
        v.finish()?;
        let page = Page::from_request(request.page.as_ref())?;
        let handler = handler.map(|id| id.to_string());
        let queued = self
            .registry
            .handler_cases(&caller, handler.as_deref(), &page)
            .await?;
        let (cases, total_count, page) = self.queued(&caller, queued)?;
        Ok(Response::new(pb::ListHandlerCasesResponse {
            cases,
            total_count,
            page,
        }))
    }

    async fn get_wave_contacts(
        &self,
        request: Request<pb::GetWaveContactsRequest>,
    ) -> Result<Response<pb::GetWaveContactsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let mut v = Validator::new();
        let project = v.id("project_id", &request.project_id);
        if !(1..=MAX_WAVE_MONTHS).contains(&request.months) {
            v.violation("months", format!("must be from 1 to {MAX_WAVE_MONTHS}"));
        }
        v.finish()?;
        let project = project.map(|id| id.to_string()).unwrap_or_default();
        let (waves, from, until) = self
            .registry
            .wave_contacts(&caller, &project, request.months.unsigned_abs())
            .await?;
        Ok(Response::new(pb::GetWaveContactsResponse {
            waves: waves
                .into_iter()
                .map(|w| pb::WaveContacts {
                    wave_id: w.wave.id,
                    name: w.wave.name,
                    go_live: w.wave.go_live,
                    case_count: w.cases as i64,
                    cases_per_municipality: w.per_municipality,
                    municipalities: w
                        .municipalities
                        .into_iter()
                        .map(|(municipality_id, count)| pb::MunicipalityContacts {
                            municipality_id,
                            case_count: count as i64,
                        })
                        .collect(),
                })
                .collect(),
            from_time: Some(to_timestamp(from)),
            until_time: Some(to_timestamp(until)),
        }))
    }

    async fn get_satisfaction(
        &self,
        request: Request<pb::GetSatisfactionRequest>,
    ) -> Result<Response<pb::GetSatisfactionResponse>, Status> {
        use crate::store::ratings::RatedBy;
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let (first, last) = months(&mut v, &req.first_month, &req.last_month);
        let by = RatedBy::of(v.required_enum("group_by", req.group_by));
        v.finish()?;
        let (Some(first), Some(last), Some(by)) = (first, last, by) else {
            return Err(Error::invalid("first_month", "is required").into());
        };
        let counts = self.registry.satisfaction(&caller, by, first, last).await?;
        Ok(Response::new(pb::GetSatisfactionResponse {
            counts: counts
                .into_iter()
                .map(
                    |((month, group_id), (count, total, by_rating))| pb::SatisfactionCount {
                        month,
                        group_id,
                        count: count as i64,
                        average: total as f64 / count.max(1) as f64,
                        by_rating: by_rating.iter().map(|n| *n as i64).collect(),
                    },
                )
                .collect(),
        }))
    }

    async fn get_standup(
        &self,
        request: Request<pb::GetStandupRequest>,
    ) -> Result<Response<pb::GetStandupResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let team_id = required_id("team_id", &request.team_id)?;
        let page = |field, page: &Option<PageRequest>| {
            Page::from_field(field, page.as_ref(), DEFAULT_PAGE_SIZE)
        };
        let pages = StandupPages {
            unhandled: page("unhandled_page", &request.unhandled_page)?,
            handled: page("handled_page", &request.handled_page)?,
            awaiting: page("awaiting_page", &request.awaiting_page)?,
            breached: page("breached_page", &request.breached_page)?,
        };
        let standup = self.registry.standup(&caller, &team_id, &pages).await?;
        let (unhandled, unhandled_count, unhandled_page) =
            self.queued(&caller, standup.unhandled)?;
        let (handled, handled_count, handled_page) = self.queued(&caller, standup.handled)?;
        let (awaiting_municipality, awaiting_count, awaiting_page) =
            self.queued(&caller, standup.awaiting)?;
        let (breached, breached_count, breached_page) = self.queued(&caller, standup.breached)?;
        Ok(Response::new(pb::GetStandupResponse {
            unhandled,
            unhandled_count,
            unhandled_page,
            handlers: standup
                .handlers
                .into_iter()
                .map(|load| pb::HandlerLoad {
                    handler_user_id: load.handler_user_id,
                    open_count: load.open as i64,
                    breached_count: load.breached as i64,
                    awaiting_count: load.awaiting as i64,
                    oldest_create_time: load.oldest.map(to_timestamp),
                })
                .collect(),
            handled,
            handled_page,
            awaiting_municipality,
            awaiting_count,
            awaiting_page,
            breached,
            breached_page,
            since_time: Some(to_timestamp(standup.since)),
            handled_count,
            breached_count,
        }))
    }
}

/// A report's first and last month (`YYYY-MM`), at most 36 months apart.
fn months(
    v: &mut Validator,
    first_month: &str,
    last_month: &str,
) -> (Option<Month>, Option<Month>) {
    v.month_range(first_month, last_month, 36)
}

/// How far back contacts per wave may look, in months.
const MAX_WAVE_MONTHS: i32 = 36;

impl CasesApi {
    /// A page of queued cases as the API shows them: the cases, how many in all, the next page.
    fn queued(
        &self,
        caller: &Caller,
        page: QueuedPage,
    ) -> Result<(Vec<pb::QueuedCase>, i64, Option<PageResponse>), Error> {
        let cases = page
            .cases
            .into_iter()
            .map(|queued| {
                Ok(pb::QueuedCase {
                    case: Some(self.case(caller, queued.case)?),
                    age_days: i32::try_from(queued.age_days).unwrap_or(i32::MAX),
                    sla_state: queued.sla as i32,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok((cases, page.total as i64, Some(page.next)))
    }
}

//! `ReportService`: where the guides fail.

use super::*;
use crate::registry::Months;

/// How many months a report may span.
const MONTHS_MAX: i32 = 36;

/// A report's months, validated and written as they are stored (`YYYY-MM`, compared as text).
fn months(v: &mut Validator, first: &str, last: &str) -> Months {
    let (first, last) = v.month_range(first, last, MONTHS_MAX);
    let written = |month: Option<(i32, u32)>| {
        month.map_or_else(String::new, |(year, month)| format!("{year:04}-{month:02}"))
    };
    Months {
        first: written(first),
        last: written(last),
    }
}

fn counts(c: crate::registry::DeflectionCounts) -> pb::DeflectionCounts {
    pb::DeflectionCounts {
        deflection_rate: crate::domain::deflection_rate(c.suggestions, c.answered),
        suggestions: c.suggestions,
        answered: c.answered,
        filed_anyway: c.filed_anyway,
    }
}

#[tonic::async_trait]
impl pb::report_service_server::ReportService for GuidesApi {
    async fn get_deflection_summary(
        &self,
        request: Request<pb::GetDeflectionSummaryRequest>,
    ) -> Result<Response<pb::GetDeflectionSummaryResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let months = months(&mut v, &req.first_month, &req.last_month);
        let system_id = system_filter(&mut v, &req.system_id);
        v.finish()?;
        let summary = self
            .registry
            .deflection_summary(&caller, &months, system_id.as_deref())
            .await?;
        Ok(Response::new(pb::GetDeflectionSummaryResponse {
            total: Some(counts(summary.total)),
            by_system_and_month: summary
                .by_system_and_month
                .into_iter()
                .map(|(system_id, month, c)| pb::SystemMonthDeflection {
                    system_id,
                    month,
                    counts: Some(counts(c)),
                })
                .collect(),
        }))
    }

    async fn list_section_statistics(
        &self,
        request: Request<pb::ListSectionStatisticsRequest>,
    ) -> Result<Response<pb::ListSectionStatisticsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let months = months(&mut v, &req.first_month, &req.last_month);
        let system_id = system_filter(&mut v, &req.system_id);
        let guide_id = if req.guide_id.is_empty() {
            None
        } else {
            v.id("guide_id", &req.guide_id).map(|id| id.to_string())
        };
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let (stats, page) = self
            .registry
            .section_statistics(
                &caller,
                &months,
                system_id.as_deref(),
                guide_id.as_deref(),
                &page,
            )
            .await?;
        Ok(Response::new(pb::ListSectionStatisticsResponse {
            sections: stats
                .into_iter()
                .map(|s| pb::SectionStatistics {
                    section_id: s.sums.section_id,
                    guide_id: s.sums.guide_id,
                    guide_title: s.guide_title,
                    title: s.title,
                    suggested: s.sums.suggested,
                    answered: s.sums.answered,
                    read_and_filed: s.sums.read_and_filed,
                })
                .collect(),
            page: Some(page),
        }))
    }

    async fn list_unanswered_searches(
        &self,
        request: Request<pb::ListUnansweredSearchesRequest>,
    ) -> Result<Response<pb::ListUnansweredSearchesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let months = months(&mut v, &req.first_month, &req.last_month);
        let system_id = system_filter(&mut v, &req.system_id);
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self
            .registry
            .unanswered_searches(&caller, &months, system_id.as_deref(), &page)
            .await?;
        Ok(Response::new(pb::ListUnansweredSearchesResponse {
            searches: rows
                .into_iter()
                .map(|(query, system_id, month, count)| pb::UnansweredSearch {
                    query,
                    system_id,
                    month,
                    count,
                })
                .collect(),
            page: Some(page),
        }))
    }
}

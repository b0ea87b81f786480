//! Where the guides fail, computed in the database: deflections by system and month, each section's
//! counts, and the searches that found nothing.

use std::collections::HashMap;

use kommune_platform::Error;
use kommune_platform::auth::Caller;
use kommune_platform::paging::Page;
use kommune_proto::common::v1::PageResponse;

use super::{KEEPERS, Registry};
use crate::store::section_months::{self, Sums};
use crate::store::{self, guides, sections, suggestions, unanswered_searches};

/// Deflections of one system in one month (or of all, for the total).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeflectionCounts {
    /// Suggestions that found sections.
    pub suggestions: i64,
    /// Of those, answered by a section.
    pub answered: i64,
    /// Cases filed citing one.
    pub filed_anyway: i64,
}

/// The deflection summary.
#[derive(Debug, Clone, Default)]
pub struct DeflectionSummary {
    /// The whole period.
    pub total: DeflectionCounts,
    /// (system, month, counts), by month then system.
    pub by_system_and_month: Vec<(String, String, DeflectionCounts)>,
}

/// A section's counts with its titles.
#[derive(Debug, Clone)]
pub struct SectionStatistics {
    /// The counts.
    pub sums: Sums,
    /// The guide's title.
    pub guide_title: String,
    /// "4.2 Manuel tilknytning".
    pub title: String,
}

/// A report's months, `YYYY-MM`, inclusive.
#[derive(Debug, Clone)]
pub struct Months {
    /// The first.
    pub first: String,
    /// The last.
    pub last: String,
}

impl Registry {
    /// Deflections overall and by system and month.
    pub async fn deflection_summary(
        &self,
        caller: &Caller,
        months: &Months,
        system_id: Option<&str>,
    ) -> Result<DeflectionSummary, Error> {
        caller.require_any_role(&KEEPERS, "reading the guides' report")?;
        let rows = suggestions::counts(&self.db, &months.first, &months.last, system_id).await?;
        let mut summary = DeflectionSummary::default();
        for (system, month, suggestions, answered, filed_anyway) in rows {
            summary.total.suggestions += suggestions;
            summary.total.answered += answered;
            summary.total.filed_anyway += filed_anyway;
            summary.by_system_and_month.push((
                system,
                month,
                DeflectionCounts {
                    suggestions,
                    answered,
                    filed_anyway,
                },
            ));
        }
        Ok(summary)
    }

    /// A page of sections with any count in the period, the most read-and-filed first.
    pub async fn section_statistics(
        &self,
        caller: &Caller,
        months: &Months,
        system_id: Option<&str>,
        guide_id: Option<&str>,
        page: &Page,
    ) -> Result<(Vec<SectionStatistics>, PageResponse), Error> {
        caller.require_any_role(&KEEPERS, "reading the guides' report")?;
        let offset = store::offset(page)?;
        let rows = section_months::sums(
            &self.db,
            &months.first,
            &months.last,
            system_id,
            guide_id,
            offset,
            page.fetch_limit(),
        )
        .await?;
        let ids: Vec<String> = rows.iter().map(|r| r.section_id.clone()).collect();
        let titles: HashMap<String, String> = sections::latest(&self.db, &ids)
            .await?
            .into_iter()
            .map(|s| (s.section_id.clone(), s.title()))
            .collect();
        let mut guide_ids: Vec<String> = rows.iter().map(|r| r.guide_id.clone()).collect();
        guide_ids.sort_unstable();
        guide_ids.dedup();
        let guide_titles = guides::titles(&self.db, guide_ids).await?;
        let stats: Vec<SectionStatistics> = rows
            .into_iter()
            .map(|sums| SectionStatistics {
                guide_title: guide_titles
                    .get(&sums.guide_id)
                    .cloned()
                    .unwrap_or_default(),
                title: titles.get(&sums.section_id).cloned().unwrap_or_default(),
                sums,
            })
            .collect();
        Ok(by_offset(page, offset, stats))
    }

    /// A page of searches that found nothing, the most frequent first.
    pub async fn unanswered_searches(
        &self,
        caller: &Caller,
        months: &Months,
        system_id: Option<&str>,
        page: &Page,
    ) -> Result<(Vec<(String, String, String, i64)>, PageResponse), Error> {
        caller.require_any_role(&KEEPERS, "reading the guides' report")?;
        let offset = store::offset(page)?;
        let rows = unanswered_searches::counts(
            &self.db,
            &months.first,
            &months.last,
            system_id,
            offset,
            page.fetch_limit(),
        )
        .await?;
        Ok(by_offset(page, offset, rows))
    }
}

/// A page of a report read from `offset`: the next page's token carries the offset after it.
fn by_offset<T>(page: &Page, offset: u64, rows: Vec<T>) -> (Vec<T>, PageResponse) {
    let numbered = rows.into_iter().zip(offset + 1..).collect();
    let (numbered, next) = page.finish(numbered, |(_, n): &(T, u64)| n.to_string());
    (numbered.into_iter().map(|(row, _)| row).collect(), next)
}

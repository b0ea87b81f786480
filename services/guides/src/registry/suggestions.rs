//! Search, suggestions while a case is written, and what came of them: a section that answered the
//! question, or a case filed anyway citing what was read (told by cases' feed).

use std::collections::HashMap;

use serde_json::json;
use uuid::Uuid;

use kommune_platform::auth::Caller;
use kommune_platform::calendar::month_of;
use kommune_platform::records::AuditTrail as _;
use kommune_platform::{Error, Reason};
use kommune_proto::cases::v1::CaseFiled;
use kommune_proto::guides::v1::Audience;

use super::{Registry, SectionView};
use crate::domain;
use crate::index::Hit;
use crate::store::section_months::{self, Count};
use crate::store::{
    citations, guides, sections, suggested_sections, suggestions, unanswered_searches,
};

/// A suggestion made.
#[derive(Debug, Clone)]
pub struct Suggestion {
    /// Its id.
    pub id: String,
    /// The sections suggested, best first.
    pub hits: Vec<Hit>,
}

impl Registry {
    /// The sections that best match `query`; a search that finds nothing is kept with its words.
    pub async fn search(
        &self,
        caller: &Caller,
        query: &str,
        system_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Hit>, Error> {
        let (hits, matched) = self
            .find(caller, query.to_owned(), system_id, limit)
            .await?;
        if !matched {
            let now = self.clock.now();
            let txn = kommune_platform::db::begin(&self.db).await?;
            unanswered_searches::insert(
                &txn,
                unanswered_searches::Model {
                    id: Uuid::now_v7().to_string(),
                    query: domain::normalise(query),
                    system_id: system_id.unwrap_or_default().to_owned(),
                    month: month_of(now),
                    at: now,
                },
            )
            .await?;
            txn.commit().await?;
        }
        Ok(hits)
    }

    /// The best hits for `query` that `caller` may read (the supplier's own guides only for the
    /// suite-wide roles), at most `limit`; and whether anything matched at all, whoever asked.
    async fn find(
        &self,
        caller: &Caller,
        query: String,
        system_id: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Hit>, bool), Error> {
        let reads_all = domain::may_read(caller, Audience::Supplier);
        // Hits the caller may not read are dropped after the search: ask for more to fill the page.
        let asked = if reads_all {
            limit
        } else {
            limit.saturating_mul(4)
        };
        let index = self.index.clone();
        let system_id = system_id.map(str::to_owned);
        let mut hits =
            tokio::task::spawn_blocking(move || index.search(&query, system_id.as_deref(), asked))
                .await
                .map_err(Error::internal)??;
        let matched = !hits.is_empty();
        if !reads_all && matched {
            let guides = hits.iter().map(|h| h.section.guide_id.clone()).collect();
            let hidden = guides::supplier_only(&self.db, guides).await?;
            hits.retain(|h| !hidden.contains(&h.section.guide_id));
        }
        hits.truncate(limit);
        Ok((hits, matched))
    }

    /// Suggests sections for a case being written about `system_id`, and records the suggestion.
    pub async fn suggest(
        &self,
        caller: &Caller,
        title: &str,
        description: &str,
        system_id: &str,
        limit: usize,
    ) -> Result<Suggestion, Error> {
        let query = domain::suggestion_query(title, description);
        let hits = if query.is_empty() {
            Vec::new()
        } else {
            self.find(caller, query, Some(system_id), limit).await?.0
        };
        let now = self.clock.now();
        let month = month_of(now);
        let id = Uuid::now_v7().to_string();
        let txn = kommune_platform::db::begin(&self.db).await?;
        suggestions::insert(
            &txn,
            suggestions::Model {
                id: id.clone(),
                subject: caller.subject.clone(),
                system_id: system_id.to_owned(),
                month: month.clone(),
                created_at: now,
                hit_count: i32::try_from(hits.len()).unwrap_or(i32::MAX),
                answered_section_id: String::new(),
                filed_case_id: String::new(),
            },
        )
        .await?;
        let ids: Vec<String> = hits.iter().map(|h| h.section.section_id.clone()).collect();
        suggested_sections::insert_all(&txn, &id, &ids).await?;
        for hit in &hits {
            let s = &hit.section;
            section_months::add(
                &txn,
                &s.section_id,
                &month,
                &s.guide_id,
                &s.system_id,
                Count::Suggested,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(Suggestion { id, hits })
    }

    /// Records that a suggested section answered the caller's question.
    pub async fn mark_answered(
        &self,
        caller: &Caller,
        suggestion_id: &str,
        section_id: &str,
    ) -> Result<SectionView, Error> {
        let suggestion = self
            .own_suggestion(caller, suggestion_id, "suggestion_id")
            .await?;
        if !suggestion.filed_case_id.is_empty() {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                "a case was filed citing this suggestion: it did not answer the question".into(),
            ));
        }
        if !suggested_sections::named(&self.db, suggestion_id, section_id).await? {
            return Err(Error::invalid(
                "section_id",
                "was not among the suggestion's sections",
            ));
        }
        let view = self.get_section(caller, section_id).await?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        if !suggestions::answer(&txn, suggestion_id, section_id).await? {
            txn.rollback().await?;
            let answered = suggestions::find(&self.db, suggestion_id)
                .await?
                .map(|s| s.answered_section_id)
                .unwrap_or_default();
            return if answered == section_id {
                Ok(view)
            } else {
                Err(Error::FailedPrecondition(
                    Reason::WrongState,
                    format!("the suggestion was already answered by section {answered}"),
                ))
            };
        }
        section_months::add(
            &txn,
            section_id,
            &suggestion.month,
            &view.guide.id,
            &view.guide.system_id,
            Count::Answered,
        )
        .await?;
        let payload = json!({"section_id": section_id});
        self.audit(
            &txn,
            caller,
            "suggestion",
            suggestion_id,
            "answered",
            payload,
        )
        .await?;
        txn.commit().await?;
        Ok(view)
    }

    /// The caller's suggestion `id`; NOT_FOUND on `field` for anyone else's.
    async fn own_suggestion(
        &self,
        caller: &Caller,
        id: &str,
        field: &'static str,
    ) -> Result<suggestions::Model, Error> {
        suggestions::find(&self.db, id)
            .await?
            .filter(|s| s.subject == caller.subject)
            .ok_or_else(|| Error::not_found_field("suggestion", id, field))
    }

    /// The sections a case about `system_id` cites, checked: each exists and belongs to a guide to that
    /// system; the suggestion named is the caller's and about that system.
    pub async fn resolve_citations(
        &self,
        caller: &Caller,
        system_id: &str,
        section_ids: &[String],
        suggestion_id: Option<&str>,
    ) -> Result<Vec<SectionView>, Error> {
        if let Some(id) = suggestion_id {
            let suggestion = self.own_suggestion(caller, id, "suggestion_id").await?;
            if suggestion.system_id != system_id {
                return Err(Error::invalid(
                    "suggestion_id",
                    "was made for another system than the case's",
                ));
            }
        }
        let mut found: HashMap<String, sections::Model> = sections::latest(&self.db, section_ids)
            .await?
            .into_iter()
            .map(|s| (s.section_id.clone(), s))
            .collect();
        let mut guides_by_id: HashMap<String, guides::Model> = HashMap::new();
        let mut views = Vec::new();
        for (i, id) in section_ids.iter().enumerate() {
            let field = || format!("section_ids[{i}]");
            let names_none = || Error::invalid(field(), format!("names no section ({id})"));
            let section = found.remove(id).ok_or_else(names_none)?;
            if !guides_by_id.contains_key(&section.guide_id) {
                let guide =
                    super::existing_guide(&self.db, &section.guide_id, "section_ids").await?;
                guides_by_id.insert(guide.id.clone(), guide);
            }
            let guide = guides_by_id[&section.guide_id].clone();
            // A section of a guide the caller may not read is no section to them.
            if !domain::may_read(caller, *guide.audience) {
                return Err(names_none());
            }
            if guide.system_id != system_id {
                return Err(Error::invalid(
                    field(),
                    format!(
                        "belongs to the guide \"{}\", a guide to another system than the case's",
                        guide.title
                    ),
                ));
            }
            // A withdrawn guide's sections may still be cited: they were read.
            views.push(SectionView { section, guide });
        }
        Ok(views)
    }

    /// Counts a filed case's citations, once per case and section however often the feed tells it,
    /// in the month the case was filed (`at`; now when the event does not say).
    pub async fn case_filed(
        &self,
        filed: CaseFiled,
        at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(), Error> {
        let at = at.unwrap_or_else(|| self.clock.now());
        if filed.cited_section_ids.is_empty() && filed.suggestion_id.is_empty() {
            return Ok(());
        }
        let month = month_of(at);
        let cited = sections::latest(&self.db, &filed.cited_section_ids).await?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        for section in cited {
            let Some(guide) = guides::find(&txn, &section.guide_id).await? else {
                continue;
            };
            let first_time = citations::insert_once(
                &txn,
                citations::Model {
                    case_id: filed.case_id.clone(),
                    section_id: section.section_id.clone(),
                    suggestion_id: filed.suggestion_id.clone(),
                    system_id: filed.system_id.clone(),
                    month: month.clone(),
                    cited_at: at,
                },
            )
            .await?;
            if first_time {
                section_months::add(
                    &txn,
                    &section.section_id,
                    &month,
                    &guide.id,
                    &guide.system_id,
                    Count::ReadAndFiled,
                )
                .await?;
            }
        }
        if !filed.suggestion_id.is_empty() {
            suggestions::filed(&txn, &filed.suggestion_id, &filed.case_id).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

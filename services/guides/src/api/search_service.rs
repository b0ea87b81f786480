//! `SearchService`: search, suggestions while a case is written, answers and citations.

use super::*;

/// The longest search.
const QUERY_MAX: usize = 500;
/// The longest draft title and description a suggestion reads.
const DRAFT_TITLE_MAX: usize = 300;
const DRAFT_DESCRIPTION_MAX: usize = 10_000;
/// The most sections a case may cite.
const CITATIONS_MAX: usize = 20;

/// A hit count asked for: `default` for 0, at most `max`.
fn limit(v: &mut Validator, value: i32, default: usize, max: usize) -> usize {
    match usize::try_from(value) {
        Ok(0) => default,
        Ok(n) if n <= max => n,
        _ => {
            v.violation("limit", format!("must be 0 to {max}"));
            default
        }
    }
}

#[tonic::async_trait]
impl pb::search_service_server::SearchService for GuidesApi {
    async fn search_sections(
        &self,
        request: Request<pb::SearchSectionsRequest>,
    ) -> Result<Response<pb::SearchSectionsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let query = v.text("query", req.query.trim(), QUERY_MAX);
        let system_id = system_filter(&mut v, &req.system_id);
        let limit = limit(&mut v, req.limit, 10, 50);
        v.finish()?;
        let hits = self
            .registry
            .search(&caller, &query, system_id.as_deref(), limit)
            .await?;
        Ok(Response::new(pb::SearchSectionsResponse {
            hits: hits.into_iter().map(hit).collect(),
        }))
    }

    async fn suggest_sections(
        &self,
        request: Request<pb::SuggestSectionsRequest>,
    ) -> Result<Response<pb::SuggestSectionsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let title = v.optional_text("title", &req.title, DRAFT_TITLE_MAX);
        let description = v.optional_text("description", &req.description, DRAFT_DESCRIPTION_MAX);
        if req.title.trim().is_empty() && req.description.trim().is_empty() {
            v.violation(
                "title",
                "or description is required: the case being written",
            );
        }
        let system_id = v.id("system_id", &req.system_id).map(|id| id.to_string());
        let limit = limit(&mut v, req.limit, 5, 10);
        v.finish()?;
        let system_id = system_id.unwrap_or_default();
        let suggestion = self
            .registry
            .suggest(&caller, &title, &description, &system_id, limit)
            .await?;
        Ok(Response::new(pb::SuggestSectionsResponse {
            suggestion_id: suggestion.id,
            hits: suggestion.hits.into_iter().map(hit).collect(),
        }))
    }

    async fn mark_answered(
        &self,
        request: Request<pb::MarkAnsweredRequest>,
    ) -> Result<Response<pb::MarkAnsweredResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let suggestion_id = v.id("suggestion_id", &req.suggestion_id);
        let section_id = v.id("section_id", &req.section_id);
        v.finish()?;
        let (suggestion_id, section_id) = (
            suggestion_id.map(|i| i.to_string()).unwrap_or_default(),
            section_id.map(|i| i.to_string()).unwrap_or_default(),
        );
        let answered = self
            .registry
            .mark_answered(&caller, &suggestion_id, &section_id)
            .await?;
        Ok(Response::new(pb::MarkAnsweredResponse {
            section: Some(section(answered, true)),
        }))
    }

    async fn resolve_citations(
        &self,
        request: Request<pb::ResolveCitationsRequest>,
    ) -> Result<Response<pb::ResolveCitationsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let system_id = v.id("system_id", &req.system_id).map(|id| id.to_string());
        if req.section_ids.len() > CITATIONS_MAX {
            v.violation(
                "section_ids",
                format!("must name at most {CITATIONS_MAX} sections"),
            );
        }
        let mut section_ids = Vec::new();
        for (i, id) in req.section_ids.iter().enumerate() {
            let field = format!("section_ids[{i}]");
            if let Some(id) = v.id(&field, id).map(|id| id.to_string()) {
                if section_ids.contains(&id) {
                    v.violation(field, "names a section already named");
                } else {
                    section_ids.push(id);
                }
            }
        }
        let suggestion_id = if req.suggestion_id.is_empty() {
            None
        } else {
            v.id("suggestion_id", &req.suggestion_id)
                .map(|id| id.to_string())
        };
        v.finish()?;
        let resolved = self
            .registry
            .resolve_citations(
                &caller,
                &system_id.unwrap_or_default(),
                &section_ids,
                suggestion_id.as_deref(),
            )
            .await?;
        Ok(Response::new(pb::ResolveCitationsResponse {
            sections: resolved.into_iter().map(|s| section(s, false)).collect(),
        }))
    }
}

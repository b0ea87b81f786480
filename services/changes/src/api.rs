//! The gRPC API of changes: maps requests to validated domain inputs, calls the [`Registry`], and maps
//! the results back. Field names in errors are the proto's.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use tonic::{Request, Response, Status};

use kommune_platform::Error;
use kommune_platform::auth::caller;
use kommune_platform::clock::to_timestamp;
use kommune_platform::idempotency::IdempotencyKey;
use kommune_platform::paging::Page;
use kommune_platform::pii::ERASURE_REASON_MAX;
use kommune_platform::validate::{Validator, format_date, required_id};
use kommune_proto::changes::v1 as pb;

use crate::domain::{self, CASE_REFERENCE_MAX, NAME_MAX, TEXT_MAX, TITLE_MAX, timeline};
use crate::registry::{ErasedFields, NewChangeRequest, Registry};
use crate::store::change_requests::{self, Filter};
use crate::store::reference::{statuses, subthemes, themes};
use crate::store::releases;

mod imports;
mod publications;

/// Implements every changes service over the registry.
#[derive(Clone)]
pub struct ChangesApi {
    registry: Arc<Registry>,
}

impl ChangesApi {
    /// The API over `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }

    async fn change_request(&self, cr: change_requests::Model) -> Result<pb::ChangeRequest, Error> {
        let labels = self.registry.status_labels().await?;
        Ok(change_request(cr, &labels))
    }
}

/// A change request with its status as published (`10 - New`), from the labels of every status.
fn change_request(cr: change_requests::Model, labels: &HashMap<i32, String>) -> pb::ChangeRequest {
    let status = labels
        .get(&cr.status_code)
        .cloned()
        .unwrap_or_else(|| cr.status_code.to_string());
    pb::ChangeRequest {
        supporting_municipality_ids: cr.supporters(),
        related_cases: cr.related(),
        change_request_id: cr.id,
        key: cr.key,
        theme_id: cr.theme_id,
        subtheme_id: cr.subtheme_id.unwrap_or_default(),
        title: cr.title,
        description: cr.description,
        workaround: cr.workaround,
        status_code: cr.status_code,
        status,
        asking_municipality_id: cr.asking_municipality_id,
        source_case_id: cr.source_case_id.unwrap_or_default(),
        release_id: cr.release_id.unwrap_or_default(),
        drop_reason: cr.drop_reason,
        version: cr.version,
        create_time: Some(to_timestamp(cr.created_at)),
    }
}

// Proto -> domain.

fn optional(value: Option<uuid::Uuid>) -> Option<String> {
    value.map(|id| id.to_string())
}

// Domain -> proto.

fn week(week: chrono::IsoWeek) -> String {
    format!("{}-W{:02}", week.year(), week.week())
}

fn phase(phase: timeline::Phase) -> pb::ReleasePhase {
    use timeline::Phase as P;
    match phase {
        P::Selection => pb::ReleasePhase::Selection,
        P::NeedsAnalysis => pb::ReleasePhase::NeedsAnalysis,
        P::NeedsReview => pb::ReleasePhase::NeedsReview,
        P::RequirementsSpecification => pb::ReleasePhase::RequirementsSpecification,
        P::SolutionDescription => pb::ReleasePhase::SolutionDescription,
        P::SupplierAnalysis => pb::ReleasePhase::SupplierAnalysis,
        P::Design => pb::ReleasePhase::Design,
        P::Build => pb::ReleasePhase::Build,
        P::TestExecution => pb::ReleasePhase::TestExecution,
        P::AcceptanceTest => pb::ReleasePhase::AcceptanceTest,
        P::Release => pb::ReleasePhase::Release,
    }
}

fn release(r: releases::Model, t: &timeline::Timeline, today: NaiveDate) -> pb::Release {
    pb::Release {
        release_id: r.id,
        name: r.name,
        release_date: format_date(r.release_date),
        timeline: t
            .spans()
            .iter()
            .map(|s| pb::PhaseSpan {
                phase: phase(s.phase) as i32,
                first_day: format_date(s.first_day),
                last_day: format_date(s.last_day),
                first_week: week(s.first_week),
                last_week: week(s.last_week),
            })
            .collect(),
        current_phase: t
            .phase_on(today)
            .map_or(pb::ReleasePhase::Unspecified, phase) as i32,
    }
}

fn theme(t: themes::Model) -> pb::Theme {
    pb::Theme {
        theme_id: t.id,
        name: t.name,
    }
}

fn subtheme(s: subthemes::Model) -> pb::Subtheme {
    pb::Subtheme {
        subtheme_id: s.id,
        theme_id: s.theme_id,
        name: s.name,
    }
}

fn status(s: statuses::Model) -> pb::Status {
    pb::Status {
        next_codes: s.next(),
        code: s.code,
        name: s.name,
    }
}

#[tonic::async_trait]
impl pb::change_request_service_server::ChangeRequestService for ChangesApi {
    async fn create_change_request(
        &self,
        request: Request<pb::CreateChangeRequestRequest>,
    ) -> Result<Response<pb::CreateChangeRequestResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let key = if req.key.trim().is_empty() {
            None
        } else {
            domain::parse_key(&req.key)
                .map_err(|e| v.violation("key", e))
                .ok()
        };
        let theme_id = v.id("theme_id", &req.theme_id);
        let subtheme_id = v.optional_id("subtheme_id", &req.subtheme_id);
        let asking = v.id("asking_municipality_id", &req.asking_municipality_id);
        let source_case_id = v.optional_id("source_case_id", &req.source_case_id);
        let new = NewChangeRequest {
            key,
            theme_id: optional(theme_id).unwrap_or_default(),
            subtheme_id: optional(subtheme_id),
            title: v.text("title", &req.title, TITLE_MAX),
            description: v.text("description", &req.description, TEXT_MAX),
            workaround: v.optional_text("workaround", &req.workaround, TEXT_MAX),
            asking_municipality_id: asking.unwrap_or_default(),
            related: req
                .related_cases
                .iter()
                .enumerate()
                .map(|(i, r)| v.text(&format!("related_cases[{i}]"), r, CASE_REFERENCE_MAX))
                .collect(),
            source_case_id: optional(source_case_id),
        };
        v.finish()?;
        let idempotency_key = std::mem::take(&mut req.idempotency_key);
        let idempotency_key =
            IdempotencyKey::of(&caller, "CreateChangeRequest", &idempotency_key, &req)?;
        let created = self.registry.create(&caller, new, idempotency_key).await?;
        Ok(Response::new(pb::CreateChangeRequestResponse {
            change_request: Some(self.change_request(created).await?),
        }))
    }

    async fn get_change_request(
        &self,
        request: Request<pb::GetChangeRequestRequest>,
    ) -> Result<Response<pb::GetChangeRequestResponse>, Status> {
        caller(&request)?;
        let id = required_id("change_request_id", &request.get_ref().change_request_id)?;
        let cr = self.registry.get(&id).await?;
        Ok(Response::new(pb::GetChangeRequestResponse {
            change_request: Some(self.change_request(cr).await?),
        }))
    }

    async fn list_change_requests(
        &self,
        request: Request<pb::ListChangeRequestsRequest>,
    ) -> Result<Response<pb::ListChangeRequestsResponse>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let filter = Filter {
            theme_id: optional(v.optional_id("theme_id", &req.theme_id)),
            subtheme_id: optional(v.optional_id("subtheme_id", &req.subtheme_id)),
            status_code: (req.status_code != 0).then_some(req.status_code),
            municipality_id: optional(v.optional_id("municipality_id", &req.municipality_id)),
            release_id: optional(v.optional_id("release_id", &req.release_id)),
        };
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self.registry.list(filter, &page).await?;
        let labels = self.registry.status_labels().await?;
        Ok(Response::new(pb::ListChangeRequestsResponse {
            change_requests: rows
                .into_iter()
                .map(|cr| change_request(cr, &labels))
                .collect(),
            page: Some(page),
        }))
    }

    async fn change_status(
        &self,
        request: Request<pb::ChangeStatusRequest>,
    ) -> Result<Response<pb::ChangeStatusResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let id = required_id("change_request_id", &req.change_request_id)?;
        let changed = self
            .registry
            .change_status(&caller, &id, req.expected_version, req.status_code)
            .await?;
        Ok(Response::new(pb::ChangeStatusResponse {
            change_request: Some(self.change_request(changed).await?),
        }))
    }

    async fn erase_change_request_text(
        &self,
        request: Request<pb::EraseChangeRequestTextRequest>,
    ) -> Result<Response<pb::EraseChangeRequestTextResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("change_request_id", &req.change_request_id);
        let reason = v.text("reason", &req.reason, ERASURE_REASON_MAX);
        if !(req.title || req.description || req.workaround) {
            v.violation(
                "title",
                "name the title, the description, the workaround or more",
            );
        }
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let fields = ErasedFields {
            title: req.title,
            description: req.description,
            workaround: req.workaround,
        };
        let erased = self
            .registry
            .erase_text(&caller, &id, req.expected_version, fields, &reason)
            .await?;
        Ok(Response::new(pb::EraseChangeRequestTextResponse {
            change_request: Some(self.change_request(erased).await?),
        }))
    }

    async fn support_change_request(
        &self,
        request: Request<pb::SupportChangeRequestRequest>,
    ) -> Result<Response<pb::SupportChangeRequestResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("change_request_id", &req.change_request_id);
        let municipality = v.id("municipality_id", &req.municipality_id);
        v.finish()?;
        let supported = self
            .registry
            .support(
                &caller,
                &optional(id).unwrap_or_default(),
                municipality.unwrap_or_default(),
            )
            .await?;
        Ok(Response::new(pb::SupportChangeRequestResponse {
            change_request: Some(self.change_request(supported).await?),
        }))
    }
}

#[tonic::async_trait]
impl pb::release_service_server::ReleaseService for ChangesApi {
    async fn create_release(
        &self,
        request: Request<pb::CreateReleaseRequest>,
    ) -> Result<Response<pb::CreateReleaseResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let name = v.text("name", &req.name, NAME_MAX);
        let release_date = v.date("release_date", &req.release_date);
        v.finish()?;
        let created = self
            .registry
            .create_release(&caller, name, release_date.unwrap_or_default())
            .await?;
        let (created, timeline) = self.registry.release(&created.id).await?;
        Ok(Response::new(pb::CreateReleaseResponse {
            release: Some(release(created, &timeline, self.registry.today())),
        }))
    }

    async fn get_release(
        &self,
        request: Request<pb::GetReleaseRequest>,
    ) -> Result<Response<pb::GetReleaseResponse>, Status> {
        let id = required_id("release_id", &request.get_ref().release_id)?;
        let (found, timeline) = self.registry.release(&id).await?;
        Ok(Response::new(pb::GetReleaseResponse {
            release: Some(release(found, &timeline, self.registry.today())),
        }))
    }

    async fn list_releases(
        &self,
        _request: Request<pb::ListReleasesRequest>,
    ) -> Result<Response<pb::ListReleasesResponse>, Status> {
        let today = self.registry.today();
        let releases = self
            .registry
            .releases()
            .await?
            .into_iter()
            .map(|(r, t)| release(r, &t, today))
            .collect();
        Ok(Response::new(pb::ListReleasesResponse { releases }))
    }

    async fn get_release_phase(
        &self,
        request: Request<pb::GetReleasePhaseRequest>,
    ) -> Result<Response<pb::GetReleasePhaseResponse>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("release_id", &req.release_id);
        let on = if req.date.trim().is_empty() {
            Some(self.registry.today())
        } else {
            v.date("date", &req.date)
        };
        v.finish()?;
        let (_, timeline) = self
            .registry
            .release(&optional(id).unwrap_or_default())
            .await?;
        let phase = timeline
            .phase_on(on.unwrap_or_default())
            .map_or(pb::ReleasePhase::Unspecified, phase);
        Ok(Response::new(pb::GetReleasePhaseResponse {
            phase: phase as i32,
        }))
    }

    async fn add_to_release(
        &self,
        request: Request<pb::AddToReleaseRequest>,
    ) -> Result<Response<pb::AddToReleaseResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("change_request_id", &req.change_request_id);
        let release_id = v.id("release_id", &req.release_id);
        v.finish()?;
        let added = self
            .registry
            .add_to_release(
                &caller,
                &optional(id).unwrap_or_default(),
                req.expected_version,
                &optional(release_id).unwrap_or_default(),
            )
            .await?;
        Ok(Response::new(pb::AddToReleaseResponse {
            change_request: Some(self.change_request(added).await?),
        }))
    }

    async fn drop_from_release(
        &self,
        request: Request<pb::DropFromReleaseRequest>,
    ) -> Result<Response<pb::DropFromReleaseResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("change_request_id", &req.change_request_id);
        let reason = v.text("reason", &req.reason, TEXT_MAX);
        v.finish()?;
        let dropped = self
            .registry
            .drop_from_release(
                &caller,
                &optional(id).unwrap_or_default(),
                req.expected_version,
                reason,
            )
            .await?;
        Ok(Response::new(pb::DropFromReleaseResponse {
            change_request: Some(self.change_request(dropped).await?),
        }))
    }

    async fn advance_release(
        &self,
        request: Request<pb::AdvanceReleaseRequest>,
    ) -> Result<Response<pb::AdvanceReleaseResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("release_id", &request.get_ref().release_id)?;
        let moved = self.registry.advance_release(&caller, &id).await?;
        Ok(Response::new(pb::AdvanceReleaseResponse {
            moved: moved as i64,
        }))
    }
}

#[tonic::async_trait]
impl pb::reference_service_server::ReferenceService for ChangesApi {
    async fn create_theme(
        &self,
        request: Request<pb::CreateThemeRequest>,
    ) -> Result<Response<pb::CreateThemeResponse>, Status> {
        let caller = caller(&request)?;
        let mut v = Validator::new();
        let name = v.text("name", &request.get_ref().name, NAME_MAX);
        v.finish()?;
        let created = self.registry.create_theme(&caller, name).await?;
        Ok(Response::new(pb::CreateThemeResponse {
            theme: Some(theme(created)),
        }))
    }

    async fn list_themes(
        &self,
        request: Request<pb::ListThemesRequest>,
    ) -> Result<Response<pb::ListThemesResponse>, Status> {
        caller(&request)?;
        let themes = self.registry.themes().await?;
        Ok(Response::new(pb::ListThemesResponse {
            themes: themes.into_iter().map(theme).collect(),
        }))
    }

    async fn rename_theme(
        &self,
        request: Request<pb::RenameThemeRequest>,
    ) -> Result<Response<pb::RenameThemeResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("theme_id", &req.theme_id);
        let name = v.text("name", &req.name, NAME_MAX);
        v.finish()?;
        let renamed = self
            .registry
            .rename_theme(&caller, &optional(id).unwrap_or_default(), name)
            .await?;
        Ok(Response::new(pb::RenameThemeResponse {
            theme: Some(theme(renamed)),
        }))
    }

    async fn rename_subtheme(
        &self,
        request: Request<pb::RenameSubthemeRequest>,
    ) -> Result<Response<pb::RenameSubthemeResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("subtheme_id", &req.subtheme_id);
        let name = v.text("name", &req.name, NAME_MAX);
        v.finish()?;
        let renamed = self
            .registry
            .rename_subtheme(&caller, &optional(id).unwrap_or_default(), name)
            .await?;
        Ok(Response::new(pb::RenameSubthemeResponse {
            subtheme: Some(subtheme(renamed)),
        }))
    }

    async fn create_subtheme(
        &self,
        request: Request<pb::CreateSubthemeRequest>,
    ) -> Result<Response<pb::CreateSubthemeResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let theme_id = v.id("theme_id", &req.theme_id);
        let name = v.text("name", &req.name, NAME_MAX);
        v.finish()?;
        let created = self
            .registry
            .create_subtheme(&caller, optional(theme_id).unwrap_or_default(), name)
            .await?;
        Ok(Response::new(pb::CreateSubthemeResponse {
            subtheme: Some(subtheme(created)),
        }))
    }

    async fn list_subthemes(
        &self,
        request: Request<pb::ListSubthemesRequest>,
    ) -> Result<Response<pb::ListSubthemesResponse>, Status> {
        caller(&request)?;
        let subthemes = self.registry.subthemes().await?;
        Ok(Response::new(pb::ListSubthemesResponse {
            subthemes: subthemes.into_iter().map(subtheme).collect(),
        }))
    }

    async fn list_statuses(
        &self,
        request: Request<pb::ListStatusesRequest>,
    ) -> Result<Response<pb::ListStatusesResponse>, Status> {
        caller(&request)?;
        let statuses = self.registry.statuses().await?;
        Ok(Response::new(pb::ListStatusesResponse {
            statuses: statuses.into_iter().map(status).collect(),
        }))
    }

    async fn put_status(
        &self,
        request: Request<pb::PutStatusRequest>,
    ) -> Result<Response<pb::PutStatusResponse>, Status> {
        let caller = caller(&request)?;
        let given = request.into_inner().status.unwrap_or_default();
        let mut v = Validator::new();
        if given.code <= 0 {
            v.violation("status.code", "must be a positive number");
        }
        let name = v.text("status.name", &given.name, NAME_MAX);
        v.finish()?;
        let put = self
            .registry
            .put_status(&caller, given.code, name, given.next_codes)
            .await?;
        Ok(Response::new(pb::PutStatusResponse {
            status: Some(status(put)),
        }))
    }
}

kommune_platform::audit_service!(ChangesApi, pb, registry);
kommune_platform::privacy_service!(ChangesApi, pb, registry);
kommune_platform::event_service!(ChangesApi, pb, registry);

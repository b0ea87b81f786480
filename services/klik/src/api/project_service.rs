//! `ProjectService`: projects, waves and enrolments.

use super::*;

/// The debtor systems a municipality may run.
const DEBTOR_SYSTEMS: [&str; 4] = ["KMD_OPUS", "PRISME_2015", "PRISME_2009", "EG_OS_INDSIGT"];

#[tonic::async_trait]
impl pb::project_service_server::ProjectService for KlikApi {
    async fn create_project(
        &self,
        request: Request<pb::CreateProjectRequest>,
    ) -> Result<Response<pb::CreateProjectResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let new = NewProject {
            name: v.text("name", &req.name, SHORT_MAX),
            description: v.optional_text("description", &req.description, TEXT_MAX),
            frozen_zone_days: non_negative(&mut v, "frozen_zone_days", Some(req.frozen_zone_days))
                .unwrap_or_default(),
        };
        v.finish()?;
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateProject", &key, &req)?;
        let created = self.registry.create_project(&caller, new, key).await?;
        Ok(Response::new(pb::CreateProjectResponse {
            project: Some(project(created)),
        }))
    }

    async fn get_project(
        &self,
        request: Request<pb::GetProjectRequest>,
    ) -> Result<Response<pb::GetProjectResponse>, Status> {
        caller(&request)?;
        let id = required_id("project_id", &request.get_ref().project_id)?;
        Ok(Response::new(pb::GetProjectResponse {
            project: Some(project(self.registry.get_project(&id).await?)),
        }))
    }

    async fn list_projects(
        &self,
        request: Request<pb::ListProjectsRequest>,
    ) -> Result<Response<pb::ListProjectsResponse>, Status> {
        caller(&request)?;
        let page = Page::from_request(request.get_ref().page.as_ref())?;
        let (rows, page) = self.registry.list_projects(&page).await?;
        Ok(Response::new(pb::ListProjectsResponse {
            projects: rows.into_iter().map(project).collect(),
            page: Some(page),
        }))
    }

    async fn add_wave(
        &self,
        request: Request<pb::AddWaveRequest>,
    ) -> Result<Response<pb::AddWaveResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let project_id = v.id("project_id", &req.project_id);
        let name = v.text("name", &req.name, SHORT_MAX);
        let go_live = v.date("go_live", &req.go_live);
        v.finish()?;
        let (Some(project_id), Some(go_live)) = (project_id, go_live) else {
            return Err(Error::invalid("go_live", "is required").into());
        };
        let added = self
            .registry
            .add_wave(&caller, &project_id.to_string(), name, go_live)
            .await?;
        Ok(Response::new(pb::AddWaveResponse {
            wave: Some(wave(added)),
        }))
    }

    async fn list_waves(
        &self,
        request: Request<pb::ListWavesRequest>,
    ) -> Result<Response<pb::ListWavesResponse>, Status> {
        caller(&request)?;
        let id = required_id("project_id", &request.get_ref().project_id)?;
        let rows = self.registry.list_waves(&id).await?;
        Ok(Response::new(pb::ListWavesResponse {
            waves: rows.into_iter().map(wave).collect(),
        }))
    }

    async fn move_wave(
        &self,
        request: Request<pb::MoveWaveRequest>,
    ) -> Result<Response<pb::MoveWaveResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("wave_id", &req.wave_id);
        let go_live = v.date("go_live", &req.go_live);
        v.finish()?;
        let (Some(id), Some(go_live)) = (id, go_live) else {
            return Err(Error::invalid("go_live", "is required").into());
        };
        let (moved, rescheduled) = self
            .registry
            .move_wave(&caller, &id.to_string(), req.expected_version, go_live)
            .await?;
        Ok(Response::new(pb::MoveWaveResponse {
            wave: Some(wave(moved)),
            tasks_rescheduled: rescheduled as i64,
        }))
    }

    async fn publish_wave(
        &self,
        request: Request<pb::PublishWaveRequest>,
    ) -> Result<Response<pb::PublishWaveResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("wave_id", &request.get_ref().wave_id)?;
        let (published, created) = self.registry.publish_wave(&caller, &id).await?;
        Ok(Response::new(pb::PublishWaveResponse {
            wave: Some(wave(published)),
            tasks_created: created as i64,
        }))
    }

    async fn enrol(
        &self,
        request: Request<pb::EnrolRequest>,
    ) -> Result<Response<pb::EnrolResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let project_id = v.id("project_id", &req.project_id);
        let municipality_id = v.id("municipality_id", &req.municipality_id);
        let wave_id = v.id("wave_id", &req.wave_id);
        let leader = v.id("project_leader_user_id", &req.project_leader_user_id);
        let debtor_system = req.debtor_system.trim().to_owned();
        if !DEBTOR_SYSTEMS.contains(&debtor_system.as_str()) {
            v.violation(
                "debtor_system",
                format!("must be one of {}", DEBTOR_SYSTEMS.join(", ")),
            );
        }
        v.finish()?;
        let (Some(project_id), Some(municipality_id), Some(wave_id), Some(project_leader_user_id)) =
            (project_id, municipality_id, wave_id, leader)
        else {
            return Err(Error::invalid("project_id", "is required").into());
        };
        let new = NewEnrolment {
            project_id: project_id.to_string(),
            municipality_id,
            wave_id: wave_id.to_string(),
            project_leader_user_id,
            debtor_system,
        };
        let (enrolled, scheduled) = self.registry.enrol(&caller, new).await?;
        Ok(Response::new(pb::EnrolResponse {
            enrolment: Some(enrolment(enrolled)),
            tasks_scheduled: scheduled as i64,
        }))
    }

    async fn change_enrolment_wave(
        &self,
        request: Request<pb::ChangeEnrolmentWaveRequest>,
    ) -> Result<Response<pb::ChangeEnrolmentWaveResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("enrolment_id", &req.enrolment_id);
        let wave_id = v.id("wave_id", &req.wave_id);
        v.finish()?;
        let (Some(id), Some(wave_id)) = (id, wave_id) else {
            return Err(Error::invalid("wave_id", "is required").into());
        };
        let (changed, scheduled) = self
            .registry
            .change_enrolment_wave(
                &caller,
                &id.to_string(),
                req.expected_version,
                &wave_id.to_string(),
            )
            .await?;
        Ok(Response::new(pb::ChangeEnrolmentWaveResponse {
            enrolment: Some(enrolment(changed)),
            tasks_scheduled: scheduled as i64,
        }))
    }

    async fn list_enrolments(
        &self,
        request: Request<pb::ListEnrolmentsRequest>,
    ) -> Result<Response<pb::ListEnrolmentsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let id = required_id("project_id", &req.project_id)?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self.registry.list_enrolments(&caller, &id, &page).await?;
        Ok(Response::new(pb::ListEnrolmentsResponse {
            enrolments: rows.into_iter().map(enrolment).collect(),
            page: Some(page),
        }))
    }
}

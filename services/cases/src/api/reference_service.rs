//! `ReferenceService`: systems, teams and areas.

use super::*;

#[tonic::async_trait]
impl pb::reference_service_server::ReferenceService for CasesApi {
    async fn create_system(
        &self,
        request: Request<pb::CreateSystemRequest>,
    ) -> Result<Response<pb::CreateSystemResponse>, Status> {
        let caller = caller(&request)?;
        let mut v = Validator::new();
        let model = system_settings(&mut v, &request.into_inner().system.unwrap_or_default());
        v.finish()?;
        let created = self.registry.create_system(&caller, model).await?;
        Ok(Response::new(pb::CreateSystemResponse {
            system: Some(system(created)),
        }))
    }

    async fn update_system(
        &self,
        request: Request<pb::UpdateSystemRequest>,
    ) -> Result<Response<pb::UpdateSystemResponse>, Status> {
        let caller = caller(&request)?;
        let given = request.into_inner().system.unwrap_or_default();
        let mut v = Validator::new();
        let id = v.id("system.system_id", &given.system_id);
        let mut model = system_settings(&mut v, &given);
        v.finish()?;
        model.id = id.map(|i| i.to_string()).unwrap_or_default();
        model.version = given.version;
        let updated = self.registry.update_system(&caller, model).await?;
        Ok(Response::new(pb::UpdateSystemResponse {
            system: Some(system(updated)),
        }))
    }

    async fn update_team(
        &self,
        request: Request<pb::UpdateTeamRequest>,
    ) -> Result<Response<pb::UpdateTeamResponse>, Status> {
        let caller = caller(&request)?;
        let t = request.into_inner().team.unwrap_or_default();
        let mut v = Validator::new();
        let id = v.id("team.team_id", &t.team_id);
        let name = v.text("team.name", &t.name, SHORT_MAX);
        let members = ids(&mut v, "team.member_user_ids", &t.member_user_ids);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let updated = self
            .registry
            .update_team(&caller, &id, t.version, name, members)
            .await?;
        Ok(Response::new(pb::UpdateTeamResponse {
            team: Some(team(updated)),
        }))
    }

    async fn update_area(
        &self,
        request: Request<pb::UpdateAreaRequest>,
    ) -> Result<Response<pb::UpdateAreaResponse>, Status> {
        let caller = caller(&request)?;
        let a = request.into_inner().area.unwrap_or_default();
        let mut v = Validator::new();
        let id = v.id("area.area_id", &a.area_id);
        let name = v.text("area.name", &a.name, SHORT_MAX);
        let team_id = v
            .id("area.team_id", &a.team_id)
            .map(|t| t.to_string())
            .unwrap_or_default();
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let updated = self
            .registry
            .update_area(&caller, &id, a.version, name, team_id)
            .await?;
        Ok(Response::new(pb::UpdateAreaResponse {
            area: Some(area(updated)),
        }))
    }

    async fn list_systems(
        &self,
        request: Request<pb::ListSystemsRequest>,
    ) -> Result<Response<pb::ListSystemsResponse>, Status> {
        let caller = caller(&request)?;
        let sees_contacts = domain::sees_supplier_contacts(&caller);
        Ok(Response::new(pb::ListSystemsResponse {
            systems: self
                .registry
                .list_systems()
                .await?
                .into_iter()
                .map(system)
                .map(|mut system| {
                    if !sees_contacts {
                        system.supplier_contacts.clear();
                    }
                    system
                })
                .collect(),
        }))
    }

    async fn create_team(
        &self,
        request: Request<pb::CreateTeamRequest>,
    ) -> Result<Response<pb::CreateTeamResponse>, Status> {
        let caller = caller(&request)?;
        let t = request.into_inner().team.unwrap_or_default();
        let mut v = Validator::new();
        let name = v.text("team.name", &t.name, SHORT_MAX);
        let line = v.required_enum("team.line", t.line);
        let members = ids(&mut v, "team.member_user_ids", &t.member_user_ids);
        v.finish()?;
        let created = self
            .registry
            .create_team(&caller, name, line, members)
            .await?;
        Ok(Response::new(pb::CreateTeamResponse {
            team: Some(team(created)),
        }))
    }

    async fn list_teams(
        &self,
        request: Request<pb::ListTeamsRequest>,
    ) -> Result<Response<pb::ListTeamsResponse>, Status> {
        caller(&request)?;
        Ok(Response::new(pb::ListTeamsResponse {
            teams: self
                .registry
                .list_teams()
                .await?
                .into_iter()
                .map(team)
                .collect(),
        }))
    }

    async fn create_area(
        &self,
        request: Request<pb::CreateAreaRequest>,
    ) -> Result<Response<pb::CreateAreaResponse>, Status> {
        let caller = caller(&request)?;
        let a = request.into_inner().area.unwrap_or_default();
        let mut v = Validator::new();
        let name = v.text("area.name", &a.name, SHORT_MAX);
        let team_id = v
            .id("area.team_id", &a.team_id)
            .map(|t| t.to_string())
            .unwrap_or_default();
        v.finish()?;
        let created = self.registry.create_area(&caller, name, team_id).await?;
        Ok(Response::new(pb::CreateAreaResponse {
            area: Some(area(created)),
        }))
    }

    async fn list_areas(
        &self,
        request: Request<pb::ListAreasRequest>,
    ) -> Result<Response<pb::ListAreasResponse>, Status> {
        caller(&request)?;
        Ok(Response::new(pb::ListAreasResponse {
            areas: self
                .registry
                .list_areas()
                .await?
                .into_iter()
                .map(area)
                .collect(),
        }))
    }
}

//! `TaskService`: each municipality's tasks, task packages and progress.

use super::*;

#[tonic::async_trait]
impl pb::task_service_server::TaskService for KlikApi {
    async fn list_tasks(
        &self,
        request: Request<pb::ListTasksRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let project_id = v.id("project_id", &req.project_id);
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        v.finish()?;
        let project_id = project_id.map(|p| p.to_string()).unwrap_or_default();
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self
            .registry
            .list_tasks(
                &caller,
                &project_id,
                municipality_id,
                req.overdue_only,
                &page,
            )
            .await?;
        Ok(Response::new(pb::ListTasksResponse {
            tasks: rows.into_iter().map(|t| self.task(t, None)).collect(),
            page: Some(page),
        }))
    }

    async fn get_task(
        &self,
        request: Request<pb::GetTaskRequest>,
    ) -> Result<Response<pb::GetTaskResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("task_id", &request.get_ref().task_id)?;
        let (task, package) = self.registry.get_task(&caller, &id).await?;
        Ok(Response::new(pb::GetTaskResponse {
            task: Some(self.task(task, package)),
        }))
    }

    async fn set_task_status(
        &self,
        request: Request<pb::SetTaskStatusRequest>,
    ) -> Result<Response<pb::SetTaskStatusResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("task_id", &req.task_id);
        let status = match pb::TaskStatus::try_from(req.status) {
            Ok(status) if status != pb::TaskStatus::Unspecified => Some(status),
            _ => {
                v.violation("status", "is required");
                None
            }
        };
        v.finish()?;
        let (Some(id), Some(status)) = (id, status) else {
            return Err(Error::invalid("status", "is required").into());
        };
        let id = id.to_string();
        let task = self
            .registry
            .set_task_status(&caller, &id, req.expected_version, status)
            .await?;
        Ok(Response::new(pb::SetTaskStatusResponse {
            task: Some(self.task(task, None)),
        }))
    }

    async fn create_package(
        &self,
        request: Request<pb::CreatePackageRequest>,
    ) -> Result<Response<pb::CreatePackageResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let task_id = v.id("task_id", &req.task_id);
        let description = v.text("description", &req.description, TEXT_MAX);
        v.finish()?;
        let task_id = task_id.map(|t| t.to_string()).unwrap_or_default();
        let created = self
            .registry
            .create_package(&caller, &task_id, description)
            .await?;
        Ok(Response::new(pb::CreatePackageResponse {
            package: Some(package(created, 0, 0)),
        }))
    }

    async fn add_package_items(
        &self,
        request: Request<pb::AddPackageItemsRequest>,
    ) -> Result<Response<pb::AddPackageItemsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("package_id", &req.package_id);
        if req.items.is_empty() || req.items.len() > domain::MAX_ITEMS_PER_LOAD {
            v.violation(
                "items",
                format!("must hold 1 to {} items", domain::MAX_ITEMS_PER_LOAD),
            );
        }
        let mut seen = std::collections::HashSet::new();
        let mut items = Vec::with_capacity(req.items.len());
        for (i, item) in req.items.iter().enumerate() {
            let reference = v.text(&format!("items[{i}].reference"), &item.reference, SHORT_MAX);
            if !seen.insert(reference.clone()) {
                v.violation(format!("items[{i}].reference"), "appears twice in the load");
            }
            let attributes: BTreeMap<String, String> = item
                .attributes
                .iter()
                .map(|(key, value)| {
                    let key = v.text(&format!("items[{i}].attributes"), key, SHORT_MAX);
                    let value =
                        v.optional_text(&format!("items[{i}].attributes[{key}]"), value, TEXT_MAX);
                    (key, value)
                })
                .collect();
            items.push(LoadItem {
                reference,
                attributes,
            });
        }
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let (loaded, count, open) = self.registry.add_package_items(&caller, &id, items).await?;
        Ok(Response::new(pb::AddPackageItemsResponse {
            package: Some(package(loaded, count, open)),
        }))
    }

    async fn list_package_items(
        &self,
        request: Request<pb::ListPackageItemsRequest>,
    ) -> Result<Response<pb::ListPackageItemsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let id = required_id("package_id", &req.package_id)?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self
            .registry
            .list_package_items(&caller, &id, req.open_only, &page)
            .await?;
        Ok(Response::new(pb::ListPackageItemsResponse {
            items: rows.into_iter().map(item).collect(),
            page: Some(page),
        }))
    }

    async fn resolve_package_item(
        &self,
        request: Request<pb::ResolvePackageItemRequest>,
    ) -> Result<Response<pb::ResolvePackageItemResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("item_id", &req.item_id);
        let resolution = match pb::ItemState::try_from(req.state) {
            Ok(pb::ItemState::CaseCreated) => Some(Resolution::CaseCreated(v.text(
                "case_reference",
                &req.case_reference,
                SHORT_MAX,
            ))),
            Ok(pb::ItemState::CaseAttached) => Some(Resolution::CaseAttached(v.text(
                "case_reference",
                &req.case_reference,
                SHORT_MAX,
            ))),
            Ok(pb::ItemState::NotApplicable) => Some(Resolution::NotApplicable(v.text(
                "reason",
                &req.reason,
                TEXT_MAX,
            ))),
            _ => {
                v.violation(
                    "state",
                    "must be CASE_CREATED, CASE_ATTACHED or NOT_APPLICABLE",
                );
                None
            }
        };
        v.finish()?;
        let (Some(id), Some(resolution)) = (id, resolution) else {
            return Err(Error::invalid("state", "is required").into());
        };
        let resolved = self
            .registry
            .resolve_package_item(&caller, &id.to_string(), resolution)
            .await?;
        Ok(Response::new(pb::ResolvePackageItemResponse {
            item: Some(item(resolved)),
        }))
    }

    async fn get_progress(
        &self,
        request: Request<pb::GetProgressRequest>,
    ) -> Result<Response<pb::GetProgressResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let project_id = v.id("project_id", &req.project_id);
        let wave_id = v.optional_id("wave_id", &req.wave_id);
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        v.finish()?;
        let project_id = project_id.map(|p| p.to_string()).unwrap_or_default();
        let counts = self
            .registry
            .progress(
                &caller,
                &project_id,
                wave_id.map(|w| w.to_string()),
                municipality_id,
            )
            .await?;
        Ok(Response::new(pb::GetProgressResponse {
            progress: Some(progress(counts)),
        }))
    }

    async fn list_stuck_municipalities(
        &self,
        request: Request<pb::ListStuckMunicipalitiesRequest>,
    ) -> Result<Response<pb::ListStuckMunicipalitiesResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("project_id", &request.get_ref().project_id)?;
        let stuck = self.registry.stuck_municipalities(&caller, &id).await?;
        Ok(Response::new(pb::ListStuckMunicipalitiesResponse {
            municipalities: stuck
                .into_iter()
                .map(|(municipality_id, p)| pb::StuckMunicipality {
                    municipality_id,
                    progress: Some(progress(p)),
                })
                .collect(),
        }))
    }
}

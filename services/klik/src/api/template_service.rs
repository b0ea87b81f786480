//! `TemplateService`: task templates, drafts, review and publication.

use super::*;

#[tonic::async_trait]
impl pb::template_service_server::TemplateService for KlikApi {
    async fn create_template(
        &self,
        request: Request<pb::CreateTemplateRequest>,
    ) -> Result<Response<pb::CreateTemplateResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let project_id = v.id("project_id", &req.project_id);
        let content = content(&mut v, req.content.as_ref());
        v.finish()?;
        let project_id = project_id.map(|p| p.to_string()).unwrap_or_default();
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateTemplate", &key, &req)?;
        let created = self
            .registry
            .create_template(&caller, &project_id, content, key)
            .await?;
        Ok(Response::new(pb::CreateTemplateResponse {
            template: Some(template(created)?),
        }))
    }

    async fn get_template(
        &self,
        request: Request<pb::GetTemplateRequest>,
    ) -> Result<Response<pb::GetTemplateResponse>, Status> {
        caller(&request)?;
        let id = required_id("template_id", &request.get_ref().template_id)?;
        Ok(Response::new(pb::GetTemplateResponse {
            template: Some(template(self.registry.get_template(&id).await?)?),
        }))
    }

    async fn list_templates(
        &self,
        request: Request<pb::ListTemplatesRequest>,
    ) -> Result<Response<pb::ListTemplatesResponse>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        let project_id = required_id("project_id", &req.project_id)?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self.registry.list_templates(&project_id, &page).await?;
        let templates = rows
            .into_iter()
            .map(template)
            .collect::<Result<_, Error>>()?;
        Ok(Response::new(pb::ListTemplatesResponse {
            templates,
            page: Some(page),
        }))
    }

    async fn update_draft(
        &self,
        request: Request<pb::UpdateDraftRequest>,
    ) -> Result<Response<pb::UpdateDraftResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("template_id", &req.template_id);
        let content = content(&mut v, req.content.as_ref());
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let updated = self
            .registry
            .update_draft(&caller, &id, req.expected_revision, content)
            .await?;
        Ok(Response::new(pb::UpdateDraftResponse {
            template: Some(template(updated)?),
        }))
    }

    async fn add_review_comment(
        &self,
        request: Request<pb::AddReviewCommentRequest>,
    ) -> Result<Response<pb::AddReviewCommentResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("template_id", &req.template_id);
        let text = v.text("text", &req.text, TEXT_MAX);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let added = self.registry.add_review_comment(&caller, &id, text).await?;
        Ok(Response::new(pb::AddReviewCommentResponse {
            comment: Some(comment(added)),
        }))
    }

    async fn list_review_comments(
        &self,
        request: Request<pb::ListReviewCommentsRequest>,
    ) -> Result<Response<pb::ListReviewCommentsResponse>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        let id = required_id("template_id", &req.template_id)?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self.registry.list_review_comments(&id, &page).await?;
        Ok(Response::new(pb::ListReviewCommentsResponse {
            comments: rows.into_iter().map(comment).collect(),
            page: Some(page),
        }))
    }

    async fn publish_template(
        &self,
        request: Request<pb::PublishTemplateRequest>,
    ) -> Result<Response<pb::PublishTemplateResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("template_id", &req.template_id);
        let note = v.text("note", &req.note, TEXT_MAX);
        let initials = v.text("initials", &req.initials, 10);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let (published, created) = self
            .registry
            .publish_template(&caller, &id, req.expected_revision, note, initials)
            .await?;
        Ok(Response::new(pb::PublishTemplateResponse {
            template: Some(template(published)?),
            tasks_created: created as i64,
        }))
    }
}

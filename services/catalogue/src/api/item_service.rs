//! `ItemService`: the catalogue's items, read by anyone and kept by the consortium and the supplier.

use super::*;

#[tonic::async_trait]
impl pb::item_service_server::ItemService for CatalogueApi {
    async fn create_item(
        &self,
        request: Request<pb::CreateItemRequest>,
    ) -> Result<Response<pb::CreateItemResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let content = content(&mut v, req.content.as_ref());
        v.finish()?;
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateItem", &key, &req)?;
        let created = self.registry.create_item(&caller, content, key).await?;
        Ok(Response::new(pb::CreateItemResponse {
            item: Some(item(created)?),
        }))
    }

    async fn get_item(
        &self,
        request: Request<pb::GetItemRequest>,
    ) -> Result<Response<pb::GetItemResponse>, Status> {
        let req = request.into_inner();
        let id = required_id("item_id", &req.item_id)?;
        let version = match req.version {
            0 => None,
            n if n < 0 => return Err(Error::invalid("version", "must not be negative").into()),
            n => Some(n),
        };
        let found = self.registry.get_item(&id, version).await?;
        Ok(Response::new(pb::GetItemResponse {
            item: Some(item(found)?),
        }))
    }

    async fn list_items(
        &self,
        request: Request<pb::ListItemsRequest>,
    ) -> Result<Response<pb::ListItemsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Validator::new();
        let state = v
            .enum_filter("state", req.state)
            .unwrap_or(pb::ItemState::Published);
        let category = v.optional_text("category", &req.category, SHORT_MAX);
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let category = Some(category.as_str()).filter(|c| !c.is_empty());
        let (found, page) = self.registry.list_items(state, category, &page).await?;
        Ok(Response::new(pb::ListItemsResponse {
            items: found.into_iter().map(item).collect::<Result<_, Error>>()?,
            page: Some(page),
        }))
    }

    async fn revise_item(
        &self,
        request: Request<pb::ReviseItemRequest>,
    ) -> Result<Response<pb::ReviseItemResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("item_id", &req.item_id);
        let content = content(&mut v, req.content.as_ref());
        if req.expected_revision <= 0 {
            v.violation(
                "expected_revision",
                "is required: the revision of the item read",
            );
        }
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let revised = self
            .registry
            .revise_item(&caller, &id, req.expected_revision, content)
            .await?;
        Ok(Response::new(pb::ReviseItemResponse {
            item: Some(item(revised)?),
        }))
    }

    async fn withdraw_item(
        &self,
        request: Request<pb::WithdrawItemRequest>,
    ) -> Result<Response<pb::WithdrawItemResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("item_id", &req.item_id);
        let reason = v.text("reason", &req.reason, REASON_MAX);
        if req.expected_revision <= 0 {
            v.violation(
                "expected_revision",
                "is required: the revision of the item read",
            );
        }
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let withdrawn = self
            .registry
            .withdraw_item(&caller, &id, req.expected_revision, reason)
            .await?;
        Ok(Response::new(pb::WithdrawItemResponse {
            item: Some(item(withdrawn)?),
        }))
    }
}

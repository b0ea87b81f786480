//! `OrderService`: placing orders and every step after.

use super::*;
use crate::registry::{NewAttachment, NewOrder, StepRequest};
use crate::store::order_attachments;
use crate::store::orders::Filter;

impl CatalogueApi {
    /// Validates the order id and version a step names, then takes the step.
    async fn step(
        &self,
        caller: &kommune_platform::auth::Caller,
        order_id: &str,
        version: i64,
        v: Validator,
        request: StepRequest,
    ) -> Result<pb::Order, Status> {
        let mut v = v;
        let id = v.id("order_id", order_id);
        let version = expected_version(&mut v, version);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let taken = self
            .registry
            .take_step(caller, &id, version, request)
            .await?;
        Ok(order(taken)?)
    }
}

#[tonic::async_trait]
impl pb::order_service_server::OrderService for CatalogueApi {
    async fn place_order(
        &self,
        request: Request<pb::PlaceOrderRequest>,
    ) -> Result<Response<pb::PlaceOrderResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let item_id = v.id("item_id", &req.item_id);
        if req.quantity < 0 {
            v.violation("quantity", "must not be negative");
        }
        let answers = answers(&mut v, &req.answers);
        v.finish()?;
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "PlaceOrder", &key, &req)?;
        let new = NewOrder {
            item_id: item_id.map(|i| i.to_string()).unwrap_or_default(),
            quantity: req.quantity,
            answers,
        };
        let placed = self.registry.place_order(&caller, new, key).await?;
        Ok(Response::new(pb::PlaceOrderResponse {
            order: Some(order(placed)?),
        }))
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("order_id", &request.get_ref().order_id)?;
        let found = self.registry.get_order(&caller, &id).await?;
        Ok(Response::new(pb::GetOrderResponse {
            order: Some(order(found)?),
        }))
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        let item_id = v.optional_id("item_id", &req.item_id);
        let states = req
            .states
            .iter()
            .enumerate()
            .map(|(i, s)| v.required_enum(&format!("states[{i}]"), *s))
            .collect();
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let filter = Filter {
            municipality_id: municipality_id.map(|m| m.to_string()),
            states,
            item_id: item_id.map(|i| i.to_string()),
        };
        let (found, page) = self.registry.list_orders(&caller, filter, &page).await?;
        Ok(Response::new(pb::ListOrdersResponse {
            orders: found.into_iter().map(order).collect::<Result<_, Error>>()?,
            page: Some(page),
        }))
    }

    async fn quote_order(
        &self,
        request: Request<pb::QuoteOrderRequest>,
    ) -> Result<Response<pb::QuoteOrderResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        if !(req.hours > 0.0 && req.hours <= crate::domain::HOURS_MAX) {
            v.violation("hours", "must be more than 0 and at most 10,000");
        }
        let text = v.optional_text("text", &req.text, TEXT_MAX);
        let request = StepRequest::Quote {
            hours: req.hours,
            text,
        };
        let order = self
            .step(&caller, &req.order_id, req.expected_version, v, request)
            .await?;
        Ok(Response::new(pb::QuoteOrderResponse { order: Some(order) }))
    }

    async fn accept_quote(
        &self,
        request: Request<pb::AcceptQuoteRequest>,
    ) -> Result<Response<pb::AcceptQuoteResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let order = self
            .step(
                &caller,
                &req.order_id,
                req.expected_version,
                Validator::new(),
                StepRequest::AcceptQuote,
            )
            .await?;
        Ok(Response::new(pb::AcceptQuoteResponse {
            order: Some(order),
        }))
    }

    async fn decline_quote(
        &self,
        request: Request<pb::DeclineQuoteRequest>,
    ) -> Result<Response<pb::DeclineQuoteResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let reason = v.text("reason", &req.reason, REASON_MAX);
        let order = self
            .step(
                &caller,
                &req.order_id,
                req.expected_version,
                v,
                StepRequest::DeclineQuote { reason },
            )
            .await?;
        Ok(Response::new(pb::DeclineQuoteResponse {
            order: Some(order),
        }))
    }

    async fn approve_order(
        &self,
        request: Request<pb::ApproveOrderRequest>,
    ) -> Result<Response<pb::ApproveOrderResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let order = self
            .step(
                &caller,
                &req.order_id,
                req.expected_version,
                Validator::new(),
                StepRequest::Approve,
            )
            .await?;
        Ok(Response::new(pb::ApproveOrderResponse {
            order: Some(order),
        }))
    }

    async fn reject_order(
        &self,
        request: Request<pb::RejectOrderRequest>,
    ) -> Result<Response<pb::RejectOrderResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let reason = v.text("reason", &req.reason, REASON_MAX);
        let order = self
            .step(
                &caller,
                &req.order_id,
                req.expected_version,
                v,
                StepRequest::Reject { reason },
            )
            .await?;
        Ok(Response::new(pb::RejectOrderResponse {
            order: Some(order),
        }))
    }

    async fn start_delivery(
        &self,
        request: Request<pb::StartDeliveryRequest>,
    ) -> Result<Response<pb::StartDeliveryResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let order = self
            .step(
                &caller,
                &req.order_id,
                req.expected_version,
                Validator::new(),
                StepRequest::StartDelivery,
            )
            .await?;
        Ok(Response::new(pb::StartDeliveryResponse {
            order: Some(order),
        }))
    }

    async fn mark_delivered(
        &self,
        request: Request<pb::MarkDeliveredRequest>,
    ) -> Result<Response<pb::MarkDeliveredResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let order = self
            .step(
                &caller,
                &req.order_id,
                req.expected_version,
                Validator::new(),
                StepRequest::Deliver,
            )
            .await?;
        Ok(Response::new(pb::MarkDeliveredResponse {
            order: Some(order),
        }))
    }

    async fn cancel_order(
        &self,
        request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::CancelOrderResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let reason = v.text("reason", &req.reason, REASON_MAX);
        let order = self
            .step(
                &caller,
                &req.order_id,
                req.expected_version,
                v,
                StepRequest::Cancel { reason },
            )
            .await?;
        Ok(Response::new(pb::CancelOrderResponse {
            order: Some(order),
        }))
    }

    async fn add_order_comment(
        &self,
        request: Request<pb::AddOrderCommentRequest>,
    ) -> Result<Response<pb::AddOrderCommentResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("order_id", &req.order_id);
        let text = v.text("text", &req.text, TEXT_MAX);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let added = self.registry.add_order_comment(&caller, &id, text).await?;
        Ok(Response::new(pb::AddOrderCommentResponse {
            comment: Some(comment(added)),
        }))
    }

    async fn list_order_comments(
        &self,
        request: Request<pb::ListOrderCommentsRequest>,
    ) -> Result<Response<pb::ListOrderCommentsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let id = required_id("order_id", &req.order_id)?;
        let page = Page::from_request(req.page.as_ref())?;
        let (found, page) = self
            .registry
            .list_order_comments(&caller, &id, &page)
            .await?;
        Ok(Response::new(pb::ListOrderCommentsResponse {
            comments: found.into_iter().map(comment).collect(),
            page: Some(page),
        }))
    }

    async fn add_order_attachment(
        &self,
        request: Request<pb::AddOrderAttachmentRequest>,
    ) -> Result<Response<pb::AddOrderAttachmentResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("order_id", &req.order_id);
        let file_name = v.text("file_name", &req.file_name, NAME_MAX);
        let content_type = req.content_type.trim().to_lowercase();
        v.attachment(&content_type, &req.content);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let file = NewAttachment {
            file_name,
            content_type,
            content: req.content,
        };
        let added = self
            .registry
            .add_order_attachment(&caller, &id, file)
            .await?;
        Ok(Response::new(pb::AddOrderAttachmentResponse {
            attachment: Some(attachment(added)),
        }))
    }

    async fn list_order_attachments(
        &self,
        request: Request<pb::ListOrderAttachmentsRequest>,
    ) -> Result<Response<pb::ListOrderAttachmentsResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("order_id", &request.get_ref().order_id)?;
        let found = self.registry.list_order_attachments(&caller, &id).await?;
        Ok(Response::new(pb::ListOrderAttachmentsResponse {
            attachments: found.into_iter().map(attachment).collect(),
        }))
    }

    async fn get_order_attachment(
        &self,
        request: Request<pb::GetOrderAttachmentRequest>,
    ) -> Result<Response<pb::GetOrderAttachmentResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("attachment_id", &request.get_ref().attachment_id)?;
        let found = self.registry.get_order_attachment(&caller, &id).await?;
        let listed = order_attachments::Listed::from(&found);
        Ok(Response::new(pb::GetOrderAttachmentResponse {
            attachment: Some(attachment(listed)),
            content: found.content,
        }))
    }
}

fn attachment(a: order_attachments::Listed) -> pb::OrderAttachment {
    pb::OrderAttachment {
        attachment_id: a.id,
        order_id: a.order_id,
        file_name: a.file_name,
        content_type: a.content_type,
        size_bytes: a.size_bytes,
        uploaded_by: a.uploaded_by,
        create_time: Some(to_timestamp(a.created_at)),
    }
}

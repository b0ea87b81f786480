//! The publication API: maps requests to validated inputs and publications back to the proto.

use tonic::{Request, Response, Status};

use kommune_platform::auth::caller;
use kommune_platform::clock::to_timestamp;
use kommune_platform::idempotency::IdempotencyKey;
use kommune_platform::paging::Page;
use kommune_platform::validate::Validator;
use kommune_proto::changes::v1 as pb;

use super::{ChangesApi, TEXT_MAX, optional};
use crate::domain::publication;
use crate::store::publications::{Filter, Which, facets, header, items};

/// The publication a request names: by id, by number, or the latest when neither is given.
fn which(v: &mut Validator, id: &str, number: i64) -> Which {
    let id = optional(v.optional_id("publication_id", id));
    match (id, number) {
        (Some(_), 1..) => {
            v.violation(
                "publication_number",
                "name the publication by id or by number, not both",
            );
            Which::Latest
        }
        (Some(id), _) => Which::Id(id),
        (None, 1..) => Which::Number(number),
        (None, 0) => Which::Latest,
        (None, _) => {
            v.violation("publication_number", "must be 1 or more (0 for the latest)");
            Which::Latest
        }
    }
}

fn facet(f: facets::Model) -> pb::Facet {
    pb::Facet {
        value: f.value,
        name: f.name,
        item_count: f.item_count,
    }
}

fn publication(p: header::Model) -> pb::Publication {
    pb::Publication {
        publication_id: p.id,
        number: p.number,
        publish_time: Some(to_timestamp(p.published_at)),
        item_count: p.item_count,
        note: p.note,
    }
}

fn row(r: items::Model) -> pb::PublishedChangeRequest {
    pb::PublishedChangeRequest {
        change_theme: r.change_theme,
        subtheme: r.subtheme,
        case_id: r.key,
        title: r.title,
        description: r.description,
        workaround: r.workaround,
        status: r.status,
        municipality_name: r.municipality_name,
        created: r.created,
        related_cases: r.related_cases,
        theme_id: r.theme_id,
        subtheme_id: r.subtheme_id,
        status_code: r.status_code,
        municipality_id: r.municipality_id,
    }
}

#[tonic::async_trait]
impl pb::publication_service_server::PublicationService for ChangesApi {
    type ExportPublicationStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<pb::ExportPublicationResponse, Status>> + Send>,
    >;

    async fn export_publication(
        &self,
        request: Request<pb::ExportPublicationRequest>,
    ) -> Result<Response<Self::ExportPublicationStream>, Status> {
        let req = request.into_inner();
        let mut v = Validator::new();
        let which = which(&mut v, &req.publication_id, req.publication_number);
        let format = req.format();
        if format == pb::ExportFormat::Unspecified {
            v.violation(
                "format",
                "is required: EXPORT_FORMAT_CSV or EXPORT_FORMAT_XLSX",
            );
        }
        v.finish()?;
        let chunks = self.registry.export(&which, format).await?;
        use tokio_stream::StreamExt;
        Ok(Response::new(Box::pin(chunks.map(|chunk| {
            chunk.map(|chunk| pb::ExportPublicationResponse { chunk })
        }))))
    }

    async fn publish_change_requests(
        &self,
        request: Request<pb::PublishChangeRequestsRequest>,
    ) -> Result<Response<pb::PublishChangeRequestsResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let note = v.optional_text("note", &req.note, TEXT_MAX);
        v.finish()?;
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "PublishChangeRequests", &key, &req)?;
        let published = self.registry.publish(&caller, note, key).await?;
        Ok(Response::new(pb::PublishChangeRequestsResponse {
            publication: Some(publication(published)),
        }))
    }

    async fn list_publications(
        &self,
        request: Request<pb::ListPublicationsRequest>,
    ) -> Result<Response<pb::ListPublicationsResponse>, Status> {
        let page = Page::from_request(request.get_ref().page.as_ref())?;
        let (found, page) = self.registry.publications(&page).await?;
        Ok(Response::new(pb::ListPublicationsResponse {
            publications: found.into_iter().map(publication).collect(),
            page: Some(page),
        }))
    }

    async fn list_published_change_requests(
        &self,
        request: Request<pb::ListPublishedChangeRequestsRequest>,
    ) -> Result<Response<pb::ListPublishedChangeRequestsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Validator::new();
        let which = which(&mut v, &req.publication_id, req.publication_number);
        let filter = Filter {
            theme_id: optional(v.optional_id("theme_id", &req.theme_id)),
            subtheme_id: optional(v.optional_id("subtheme_id", &req.subtheme_id)),
            status_code: (req.status_code != 0).then_some(req.status_code),
            municipality_id: optional(v.optional_id("municipality_id", &req.municipality_id)),
            terms: publication::search_terms(&v.optional_text("query", &req.query, TEXT_MAX)),
        };
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let (found, rows, page) = self.registry.published(&which, filter, &page).await?;
        Ok(Response::new(pb::ListPublishedChangeRequestsResponse {
            publication: Some(publication(found)),
            change_requests: rows.into_iter().map(row).collect(),
            page: Some(page),
        }))
    }

    async fn get_published_change_request(
        &self,
        request: Request<pb::GetPublishedChangeRequestRequest>,
    ) -> Result<Response<pb::GetPublishedChangeRequestResponse>, Status> {
        let req = request.into_inner();
        let mut v = Validator::new();
        let which = which(&mut v, &req.publication_id, req.publication_number);
        let key = v.text("case_id", &req.case_id, 64);
        v.finish()?;
        let (found, one) = self.registry.published_one(&which, &key).await?;
        Ok(Response::new(pb::GetPublishedChangeRequestResponse {
            publication: Some(publication(found)),
            change_request: Some(row(one)),
        }))
    }

    async fn list_publication_facets(
        &self,
        request: Request<pb::ListPublicationFacetsRequest>,
    ) -> Result<Response<pb::ListPublicationFacetsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Validator::new();
        let which = which(&mut v, &req.publication_id, req.publication_number);
        v.finish()?;
        let (found, all) = self.registry.facets(&which).await?;
        let mut answer = pb::ListPublicationFacetsResponse {
            publication: Some(publication(found)),
            ..Default::default()
        };
        for f in all {
            let list = match f.kind.as_str() {
                "theme" => &mut answer.themes,
                "subtheme" => &mut answer.subthemes,
                "status" => &mut answer.statuses,
                _ => &mut answer.municipalities,
            };
            list.push(facet(f));
        }
        Ok(Response::new(answer))
    }
}

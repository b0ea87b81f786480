//! `GuideService`: importing guides from their files, reading them, withdrawing them.

use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use super::*;
use crate::registry::ImportRequest;
use pb::download_guide_file_response::Part as DownloadPart;
use pb::import_guide_request::Part;

/// The largest file an import takes.
const FILE_MAX: usize = 50 * 1024 * 1024;

/// An upload that broke off: a message over the size limit is the client's to fix.
fn upload_failed(status: Status) -> Error {
    let reason = match status.code() {
        tonic::Code::OutOfRange | tonic::Code::ResourceExhausted => {
            "has a message larger than the limit; send chunks of at most 1 MiB".to_owned()
        }
        _ => format!("was not received whole: {}", status.message()),
    };
    Error::invalid("file", reason)
}

/// Receives an upload: the options first, then the file's chunks.
async fn receive(
    mut upload: Streaming<pb::ImportGuideRequest>,
) -> Result<(pb::ImportGuideOptions, Vec<u8>), Error> {
    let options = match upload.message().await.map_err(upload_failed)? {
        Some(pb::ImportGuideRequest {
            part: Some(Part::Options(options)),
        }) => options,
        _ => return Err(Error::invalid("options", "must be the first message")),
    };
    let mut file = Vec::new();
    while let Some(message) = upload.next().await {
        match message.map_err(upload_failed)?.part {
            Some(Part::Chunk(chunk)) if file.len() + chunk.len() <= FILE_MAX => {
                file.extend_from_slice(&chunk)
            }
            Some(Part::Chunk(_)) => {
                return Err(Error::invalid(
                    "file",
                    format!("is larger than {} MiB", FILE_MAX / 1024 / 1024),
                ));
            }
            Some(Part::Options(_)) => {
                return Err(Error::invalid("options", "must be sent once, first"));
            }
            None => return Err(Error::invalid("part", "is required: options or a chunk")),
        }
    }
    if file.is_empty() {
        return Err(Error::invalid("file", "is empty"));
    }
    Ok((options, file))
}

/// The import's options, validated.
fn import_request(o: &pb::ImportGuideOptions, file: Vec<u8>) -> Result<ImportRequest, Error> {
    let mut v = Validator::new();
    let guide_id = if o.guide_id.is_empty() {
        None
    } else {
        v.id("options.guide_id", &o.guide_id)
            .map(|id| id.to_string())
    };
    let new = o.guide_id.is_empty();
    let title = if new {
        v.text("options.title", &o.title, TITLE_MAX)
    } else {
        v.optional_text("options.title", &o.title, TITLE_MAX)
    };
    let system_id = if new {
        v.id("options.system_id", &o.system_id)
            .map(|id| id.to_string())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let audience = if new {
        Some(v.required_enum::<pb::Audience>("options.audience", o.audience))
    } else {
        v.enum_filter("options.audience", o.audience)
    };
    let language = v.enum_filter::<pb::Language>("options.language", o.language);
    if !new && o.expected_revision <= 0 {
        v.violation(
            "options.expected_revision",
            "is required for a new version: the revision of the guide read",
        );
    }
    let file_name = v.text("options.file_name", &o.file_name, NAME_MAX);
    v.finish()?;
    Ok(ImportRequest {
        guide_id,
        expected_revision: o.expected_revision,
        title,
        system_id,
        audience,
        language,
        file_name,
        file,
    })
}

#[tonic::async_trait]
impl pb::guide_service_server::GuideService for GuidesApi {
    async fn import_guide(
        &self,
        request: Request<Streaming<pb::ImportGuideRequest>>,
    ) -> Result<Response<pb::ImportGuideResponse>, Status> {
        let caller = caller(&request)?;
        self.registry.may_import(&caller)?;
        let (options, file) = receive(request.into_inner()).await?;
        let key =
            crate::registry::import_key(&caller, &options.idempotency_key, options.clone(), &file)?;
        let request = import_request(&options, file)?;
        let outcome = self.registry.import(&caller, request, key).await?;
        let report = pb::ImportReport {
            section_count: outcome.guide.version.section_count,
            kept_count: i32::try_from(outcome.kept).unwrap_or(i32::MAX),
            removed_count: i32::try_from(outcome.removed).unwrap_or(i32::MAX),
            unplaced: outcome
                .unplaced
                .into_iter()
                .map(|u| pb::UnplacedText {
                    page: u.page.map_or(0, |p| i32::try_from(p).unwrap_or(0)),
                    excerpt: u.excerpt,
                    reason: u.reason,
                })
                .collect(),
            page_count: i32::try_from(outcome.pages).unwrap_or(i32::MAX),
        };
        Ok(Response::new(pb::ImportGuideResponse {
            guide: Some(guide(outcome.guide)),
            report: Some(report),
        }))
    }

    async fn get_guide(
        &self,
        request: Request<pb::GetGuideRequest>,
    ) -> Result<Response<pb::GetGuideResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("guide_id", &request.get_ref().guide_id)?;
        let found = self.registry.get_guide(&caller, &id).await?;
        Ok(Response::new(pb::GetGuideResponse {
            guide: Some(guide(found)),
        }))
    }

    async fn list_guides(
        &self,
        request: Request<pb::ListGuidesRequest>,
    ) -> Result<Response<pb::ListGuidesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let system_id = system_filter(&mut v, &req.system_id);
        let state = v
            .enum_filter("state", req.state)
            .unwrap_or(pb::GuideState::Published);
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let (found, page) = self
            .registry
            .list_guides(&caller, state, system_id.as_deref(), &page)
            .await?;
        Ok(Response::new(pb::ListGuidesResponse {
            guides: found.into_iter().map(guide).collect(),
            page: Some(page),
        }))
    }

    async fn list_sections(
        &self,
        request: Request<pb::ListSectionsRequest>,
    ) -> Result<Response<pb::ListSectionsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let id = required_id("guide_id", &req.guide_id)?;
        let version = version(req.version)?;
        let page = Page::from_request(req.page.as_ref())?;
        let (found, page) = self
            .registry
            .list_sections(&caller, &id, version, &page)
            .await?;
        Ok(Response::new(pb::ListSectionsResponse {
            sections: found.into_iter().map(|s| section(s, true)).collect(),
            page: Some(page),
        }))
    }

    async fn get_section(
        &self,
        request: Request<pb::GetSectionRequest>,
    ) -> Result<Response<pb::GetSectionResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("section_id", &request.get_ref().section_id)?;
        let found = self.registry.get_section(&caller, &id).await?;
        Ok(Response::new(pb::GetSectionResponse {
            section: Some(section(found, true)),
        }))
    }

    type DownloadGuideFileStream = ReceiverStream<Result<pb::DownloadGuideFileResponse, Status>>;

    async fn download_guide_file(
        &self,
        request: Request<pb::DownloadGuideFileRequest>,
    ) -> Result<Response<Self::DownloadGuideFileStream>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let id = required_id("guide_id", &req.guide_id)?;
        let file = self
            .registry
            .guide_file(&caller, &id, version(req.version)?)
            .await?;
        let format = file_format(&file.file_format);
        let first = pb::DownloadGuideFileResponse {
            part: Some(DownloadPart::File(pb::GuideFile {
                file_name: file.file_name.clone(),
                format: format as i32,
                content_type: content_type(format).to_owned(),
                size: file.file_size,
                version: file.version,
            })),
        };
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let registry = self.registry.clone();
        // One chunk (at most `files::CHUNK_SIZE`) read at a time, as the client takes them: memory
        // stays at a chunk or two.
        tokio::spawn(async move {
            if tx.send(Ok(first)).await.is_err() {
                return;
            }
            let mut after = None;
            loop {
                let next = registry
                    .file_chunk(&file.guide_id, file.version, after)
                    .await;
                let message = match next {
                    Ok(Some(chunk)) => {
                        after = Some(chunk.chunk);
                        Ok(pb::DownloadGuideFileResponse {
                            part: Some(DownloadPart::Chunk(chunk.bytes)),
                        })
                    }
                    Ok(None) => return,
                    Err(err) => Err(Status::from(err)),
                };
                let failed = message.is_err();
                if tx.send(message).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn withdraw_guide(
        &self,
        request: Request<pb::WithdrawGuideRequest>,
    ) -> Result<Response<pb::WithdrawGuideResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("guide_id", &req.guide_id);
        let reason = v.text("reason", &req.reason, REASON_MAX);
        expected_revision(&mut v, req.expected_revision);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let withdrawn = self
            .registry
            .withdraw(&caller, &id, req.expected_revision, reason)
            .await?;
        Ok(Response::new(pb::WithdrawGuideResponse {
            guide: Some(guide(withdrawn)),
        }))
    }

    async fn republish_guide(
        &self,
        request: Request<pb::RepublishGuideRequest>,
    ) -> Result<Response<pb::RepublishGuideResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("guide_id", &req.guide_id);
        expected_revision(&mut v, req.expected_revision);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let republished = self
            .registry
            .republish(&caller, &id, req.expected_revision)
            .await?;
        Ok(Response::new(pb::RepublishGuideResponse {
            guide: Some(guide(republished)),
        }))
    }
}

/// The media type of a file of `format`.
fn content_type(format: pb::FileFormat) -> &'static str {
    match format {
        pb::FileFormat::Docx => crate::documents::Format::Docx.content_type(),
        pb::FileFormat::Pdf => crate::documents::Format::Pdf.content_type(),
        pb::FileFormat::Unspecified => "application/octet-stream",
    }
}

fn expected_revision(v: &mut Validator, revision: i64) {
    if revision <= 0 {
        v.violation(
            "expected_revision",
            "is required: the revision of the guide read",
        );
    }
}

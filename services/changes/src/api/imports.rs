//! The import API: receives the options and the file, then streams the registry's progress and report.

use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use kommune_platform::Error;
use kommune_platform::auth::caller;
use kommune_platform::validate::Validator;
use kommune_proto::changes::v1 as pb;
use pb::import_change_requests_request::Part;
use pb::import_change_requests_response::Result as Answer;

use super::{ChangesApi, NAME_MAX};
use crate::registry::{ImportOptions, ImportReport};

/// The largest file an import takes.
const FILE_MAX: usize = 64 * 1024 * 1024;

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
    mut upload: Streaming<pb::ImportChangeRequestsRequest>,
) -> Result<(ImportOptions, Vec<u8>), Error> {
    let options = match upload.message().await.map_err(upload_failed)? {
        Some(pb::ImportChangeRequestsRequest {
            part: Some(Part::Options(options)),
        }) => options,
        _ => return Err(Error::invalid("options", "must be the first message")),
    };
    let mut v = Validator::new();
    let options = ImportOptions {
        file_name: v.optional_text("options.file_name", &options.file_name, NAME_MAX),
        create_missing_themes: options.create_missing_themes,
    };
    v.finish()?;
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
    Ok((options, file))
}

fn report(r: ImportReport) -> pb::ImportReport {
    pb::ImportReport {
        import_id: r.import_id,
        rows_read: r.rows_read as i64,
        imported_count: r.imported as i64,
        already_present_count: r.already_present as i64,
        rejected_rows: r
            .rejected
            .into_iter()
            .map(|row| pb::RejectedRow {
                row_number: row.row_number as i64,
                case_id: row.case_id,
                reason: row.reason,
            })
            .collect(),
        created_themes: r
            .created_themes
            .into_iter()
            .map(|t| pb::CreatedTheme {
                theme: t.theme,
                subtheme: t.subtheme.unwrap_or_default(),
                id: t.id,
            })
            .collect(),
    }
}

fn answer(result: Answer) -> Result<pb::ImportChangeRequestsResponse, Status> {
    Ok(pb::ImportChangeRequestsResponse {
        result: Some(result),
    })
}

#[tonic::async_trait]
impl pb::import_service_server::ImportService for ChangesApi {
    type ImportChangeRequestsStream =
        ReceiverStream<Result<pb::ImportChangeRequestsResponse, Status>>;

    async fn import_change_requests(
        &self,
        request: Request<Streaming<pb::ImportChangeRequestsRequest>>,
    ) -> Result<Response<Self::ImportChangeRequestsStream>, Status> {
        let caller = caller(&request)?;
        let slot = self.registry.start_import(&caller)?;
        let upload = request.into_inner();
        let registry = self.registry.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        // The answer stream opens at once, so a long upload is not cut by the request timeout; the
        // import then runs to its end even if the client goes (its outcome is in the audit trail).
        tokio::spawn(async move {
            // Progress is a hint: a note a slow client has no room for is skipped, never waited on.
            let progress = |rows_done: u64, rows_total: u64| {
                let progress = pb::ImportProgress {
                    rows_done: rows_done as i64,
                    rows_total: rows_total as i64,
                };
                let _ = tx.try_send(answer(Answer::Progress(progress)));
            };
            let outcome = match receive(upload).await {
                Ok((options, file)) => {
                    registry
                        .import(slot, &caller, file, options, progress)
                        .await
                }
                Err(err) => Err(err),
            };
            let last = match outcome {
                Ok(done) => answer(Answer::Report(report(done))),
                Err(err) => Err(err.into()),
            };
            let _ = tx.send(last).await;
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

//! The consortium's command-line tool for the change-request list: import a CSV or XLSX file, publish
//! the list, export a publication. It calls the gateway (or the changes service) like any client.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Endpoint};

use kommune_platform::BoxError;
use kommune_proto::changes::v1 as pb;
use kommune_proto::identity::v1 as identity;
use pb::import_change_requests_request::Part;
use pb::import_change_requests_response::Result as Answer;

/// kommune changes admin: import, publish and export the change-request list.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// The gateway's address (or the changes service's, with --token).
    #[arg(
        long,
        env = "KOMMUNE_ENDPOINT",
        default_value = "http://127.0.0.1:50051"
    )]
    endpoint: String,
    /// A consortium admin's API key, exchanged for a token at the endpoint.
    #[arg(long, env = "KOMMUNE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// A file holding the API key, e.g. `data/admin-key` of the standalone suite.
    #[arg(long, conflicts_with = "api_key")]
    api_key_file: Option<PathBuf>,
    /// An access token to use as it is, instead of an API key.
    #[arg(long, env = "KOMMUNE_TOKEN", hide_env_values = true, conflicts_with_all = ["api_key", "api_key_file"])]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Imports change requests from a CSV or XLSX file in the published columns; rows already held
    /// (by case id) are left as they are, rejected rows are listed with their row numbers.
    Import {
        /// The file.
        file: PathBuf,
        /// Create the themes and subthemes the file names that do not exist yet.
        #[arg(long)]
        create_missing_themes: bool,
    },
    /// Publishes the change-request list as it stands now.
    Publish {
        /// A note, e.g. "November 2026".
        #[arg(long, default_value = "")]
        note: String,
        /// A key making a retry safe: the same key publishes once.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Exports a publication (the latest by default) to a file.
    Export {
        /// Where to write the file.
        #[arg(long, short)]
        output: PathBuf,
        /// The file format; by default the output's extension decides.
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// The publication's id; the latest when left out.
        #[arg(long, default_value = "")]
        publication: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Csv,
    Xlsx,
}

/// The largest import report the tool reads.
const REPORT_MAX: usize = 256 * 1024 * 1024;
/// How much of a file one upload message carries.
const UPLOAD_CHUNK: usize = 256 * 1024;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), BoxError> {
    // No per-call deadline: an import or export of a long list may take minutes.
    let channel = Endpoint::from_shared(cli.endpoint.clone())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("cannot reach {}: {e}", cli.endpoint))?;
    let token = match (cli.token, cli.api_key, cli.api_key_file) {
        (Some(token), _, _) => token,
        (None, Some(key), _) => exchange(&channel, key).await?,
        (None, None, Some(file)) => {
            let key = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            exchange(&channel, key.trim().to_owned()).await?
        }
        (None, None, None) => {
            return Err("give --api-key, --api-key-file or --token (or KOMMUNE_API_KEY)".into());
        }
    };
    match cli.command {
        Command::Import {
            file,
            create_missing_themes,
        } => import(channel, &token, &file, create_missing_themes).await,
        Command::Publish {
            note,
            idempotency_key,
        } => publish(channel, &token, note, idempotency_key).await,
        Command::Export {
            output,
            format,
            publication,
        } => export(channel, &token, &output, format, publication).await,
    }
}

/// A refused call as the tool reports it: the status code and the service's words.
fn failed(status: tonic::Status) -> BoxError {
    format!("{:?}: {}", status.code(), status.message()).into()
}

fn authorized<T>(message: T, token: &str) -> Result<tonic::Request<T>, BoxError> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(request)
}

async fn exchange(channel: &Channel, api_key: String) -> Result<String, BoxError> {
    let response = identity::token_service_client::TokenServiceClient::new(channel.clone())
        .exchange_api_key(identity::ExchangeApiKeyRequest { api_key })
        .await
        .map_err(|s| format!("the API key was not accepted: {}", s.message()))?;
    Ok(response.into_inner().access_token)
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    ProgressBar::new(len).with_style(style)
}

async fn import(
    channel: Channel,
    token: &str,
    path: &Path,
    create_missing_themes: bool,
) -> Result<(), BoxError> {
    let file = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let options = pb::ImportChangeRequestsRequest {
        part: Some(Part::Options(pb::ImportOptions {
            file_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            create_missing_themes,
        })),
    };
    let upload_bar = bar(
        file.len() as u64,
        "uploading {bar:40} {bytes}/{total_bytes} {elapsed}",
    );
    let uploading = upload_bar.clone();
    let chunks: Vec<Vec<u8>> = file.chunks(UPLOAD_CHUNK).map(<[u8]>::to_vec).collect();
    let messages = tokio_stream::iter(chunks).map(move |chunk| {
        uploading.inc(chunk.len() as u64);
        pb::ImportChangeRequestsRequest {
            part: Some(Part::Chunk(chunk)),
        }
    });
    let messages = tokio_stream::iter([options]).chain(messages);
    // A report listing many rejected rows may be long.
    let mut answers = pb::import_service_client::ImportServiceClient::new(channel)
        .max_decoding_message_size(REPORT_MAX)
        .import_change_requests(authorized(messages, token)?)
        .await
        .map_err(failed)?
        .into_inner();
    let rows_bar = bar(0, "importing {bar:40} {pos}/{len} rows {elapsed}");
    let mut report = None;
    while let Some(answer) = answers.message().await.map_err(failed)? {
        match answer.result {
            Some(Answer::Progress(p)) => {
                upload_bar.finish_and_clear();
                rows_bar.set_length(p.rows_total as u64);
                rows_bar.set_position(p.rows_done as u64);
            }
            Some(Answer::Report(r)) => report = Some(r),
            None => {}
        }
    }
    upload_bar.finish_and_clear();
    rows_bar.finish_and_clear();
    let report = report.ok_or("the import ended without a report")?;
    println!(
        "{} rows read: {} imported, {} already present, {} rejected (import {})",
        report.rows_read,
        report.imported_count,
        report.already_present_count,
        report.rejected_rows.len(),
        report.import_id
    );
    for created in &report.created_themes {
        match created.subtheme.as_str() {
            "" => println!("created theme {}", created.theme),
            subtheme => println!("created subtheme {} of {}", subtheme, created.theme),
        }
    }
    for row in &report.rejected_rows {
        println!("row {} {}: {}", row.row_number, row.case_id, row.reason);
    }
    Ok(())
}

async fn publish(
    channel: Channel,
    token: &str,
    note: String,
    idempotency_key: Option<String>,
) -> Result<(), BoxError> {
    let spinner = ProgressBar::new_spinner().with_message("publishing");
    spinner.enable_steady_tick(Duration::from_millis(100));
    let request = pb::PublishChangeRequestsRequest {
        idempotency_key: idempotency_key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        note,
    };
    let published = pb::publication_service_client::PublicationServiceClient::new(channel)
        .publish_change_requests(authorized(request, token)?)
        .await
        .map_err(failed)?
        .into_inner()
        .publication
        .ok_or("no publication in the answer")?;
    spinner.finish_and_clear();
    println!(
        "publication {} with {} change requests ({})",
        published.number, published.item_count, published.publication_id
    );
    Ok(())
}

async fn export(
    channel: Channel,
    token: &str,
    output: &Path,
    format: Option<Format>,
    publication_id: String,
) -> Result<(), BoxError> {
    let extension = output
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase());
    let format = match (format, extension.as_deref()) {
        (Some(Format::Csv), _) | (None, Some("csv")) => pb::ExportFormat::Csv,
        (Some(Format::Xlsx), _) | (None, Some("xlsx")) => pb::ExportFormat::Xlsx,
        _ => return Err("give --format, or an output file ending .csv or .xlsx".into()),
    };
    let request = pb::ExportPublicationRequest {
        publication_id,
        format: format as i32,
        ..Default::default()
    };
    let mut chunks = pb::publication_service_client::PublicationServiceClient::new(channel)
        .export_publication(authorized(request, token)?)
        .await
        .map_err(failed)?
        .into_inner();
    // Written beside the output and renamed at the end, so a failed export leaves no half file.
    let mut partial = output.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let mut file = std::fs::File::create(&partial)
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    let spinner = bar(0, "exporting {spinner} {bytes} {elapsed}");
    spinner.enable_steady_tick(Duration::from_millis(100));
    let written = async {
        let mut bytes = 0;
        while let Some(chunk) = chunks.message().await.map_err(failed)? {
            std::io::Write::write_all(&mut file, &chunk.chunk)?;
            bytes += chunk.chunk.len() as u64;
            spinner.set_position(bytes);
        }
        file.sync_all()?;
        Ok::<_, BoxError>(bytes)
    }
    .await;
    spinner.finish_and_clear();
    let bytes = match written {
        Ok(bytes) => bytes,
        Err(err) => {
            let _ = std::fs::remove_file(&partial);
            return Err(err);
        }
    };
    if let Err(err) = std::fs::rename(&partial, output) {
        let _ = std::fs::remove_file(&partial);
        return Err(err.into());
    }
    println!("wrote {} ({bytes} bytes)", output.display());
    Ok(())
}

//! kommune-audit: an auditor's check of a service's audit log from outside, through the gateway (or
//! the service) like any client. It keeps the last checkpoint it verified in a state file, and on the
//! next run proves the service's log an extension of it (docs/operations.md).
//!
//! Exit status: 0 when everything holds, 1 when something does not (each problem printed), 2 when
//! the check could not be made.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use kommune_platform::BoxError;
use kommune_platform::audit::auditor::{self, Kept};
use kommune_proto::identity::v1 as identity;

/// Checks a kommune service's signed audit log against the checkpoint kept from the last run.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// The gateway's (or the service's) address.
    #[arg(
        long,
        env = "KOMMUNE_ENDPOINT",
        default_value = "http://127.0.0.1:50051"
    )]
    endpoint: String,
    /// The service whose log to check: identity, cases, changes, klik, catalogue, guides or notify.
    #[arg(long)]
    service: String,
    /// Where the checkpoint and key kept between runs are stored (JSON); keep it outside the
    /// deployment.
    #[arg(long)]
    state: PathBuf,
    /// The hex Ed25519 public key the service signs with; by default the one in the state file, or
    /// on a first run the one the service presents.
    #[arg(long)]
    public_key: Option<String>,
    /// Also read every log entry and rebuild the signed root (needs a consortium admin).
    #[arg(long)]
    full: bool,
    /// A consortium admin's access token, for --full.
    #[arg(long, env = "KOMMUNE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A file holding a consortium admin's API key (e.g. `data/admin-key`), exchanged for a token.
    #[arg(long, conflicts_with = "token")]
    api_key_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("kommune-audit: {err}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<bool, BoxError> {
    let channel = kommune_platform::client::channel(&cli.endpoint)?;
    let kept: Option<Kept> = match std::fs::read_to_string(&cli.state) {
        Ok(text) => Some(serde_json::from_str(&text)?),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err.into()),
    };
    if let Some(kept) = &kept
        && kept.service != cli.service
    {
        return Err(format!(
            "{} holds a checkpoint of {}",
            cli.state.display(),
            kept.service
        )
        .into());
    }
    let token = match (&cli.token, &cli.api_key_file) {
        _ if !cli.full => None,
        (Some(token), _) => Some(token.clone()),
        (None, Some(file)) => {
            let api_key = std::fs::read_to_string(file)?.trim().to_owned();
            let answer = identity::token_service_client::TokenServiceClient::new(channel.clone())
                .exchange_api_key(identity::ExchangeApiKeyRequest { api_key })
                .await?;
            Some(answer.into_inner().access_token)
        }
        (None, None) => return Err("--full needs --token or --api-key-file".into()),
    };
    let audit = auditor::audit(
        channel,
        &cli.service,
        cli.public_key.as_deref(),
        kept.as_ref(),
        token,
    )
    .await?;
    let checkpoint = &audit.checkpoint;
    println!(
        "{}: checkpoint of {} records, root {}, signed by key {}",
        cli.service, checkpoint.tree_size, checkpoint.root_hash, checkpoint.key_id
    );
    if let Some(kept) = &kept {
        println!(
            "kept from the last run: {} records, root {}",
            kept.tree_size, kept.root_hash
        );
    }
    if cli.full {
        println!("log entries read: {}", audit.entries_checked);
    }
    if !audit.problems.is_empty() {
        for problem in &audit.problems {
            println!("PROBLEM: {problem}");
        }
        return Ok(false);
    }
    let public_key = cli
        .public_key
        .or(kept.map(|k| k.public_key))
        .unwrap_or_else(|| hex::encode(&checkpoint.public_key));
    std::fs::write(
        &cli.state,
        serde_json::to_string_pretty(&audit.kept(&public_key))?,
    )?;
    println!(
        "everything holds; the checkpoint is kept in {}",
        cli.state.display()
    );
    Ok(true)
}

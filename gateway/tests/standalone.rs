//! The `kommune` binary started as a newcomer would, followed by the first call from README.md.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use kommune_platform::testing::{channel_to, with_bearer};
use kommune_proto::identity::v1 as pb;

const README_ADDR: &str = "127.0.0.1:50051";

/// The shell block of the document `doc` (`README.md`, `docs/api.md`) after the marker `<!-- {marker}:`.
fn doc_block(doc: &str, marker: &str) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(doc))
        .unwrap();
    let after_marker = text
        .split(&format!("<!-- {marker}:"))
        .nth(1)
        .unwrap_or_else(|| panic!("{doc} has a {marker} block"));
    let block = after_marker.split("```sh\n").nth(1).unwrap();
    block.split("```").next().unwrap().to_owned()
}

/// Runs the `marker` block of `doc` in `dir`, exactly as written but for the address, with `tools`
/// first on the PATH; its standard output.
fn run_doc_block(doc: &str, marker: &str, addr: &str, dir: &Path, tools: Option<&Path>) -> String {
    let script = doc_block(doc, marker).replace(README_ADDR, addr);
    let mut command = std::process::Command::new("sh");
    command.args(["-ec", &script]).current_dir(dir);
    if let Some(tools) = tools {
        let path = std::env::var("PATH").unwrap_or_default();
        command.env("PATH", format!("{}:{path}", tools.display()));
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{doc}'s {marker} block failed: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn scratch_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir =
        std::env::temp_dir().join(format!("kommune-standalone-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `kommune` in `dir` and returns it with the gateway address and the banner it printed.
async fn start(dir: &Path) -> (Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kommune"))
        .args(["--listen-addr", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("KOMMUNE_DATA_DIR")
        .env_remove("KOMMUNE_LISTEN_ADDR")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("kommune exited before listening");
            banner.push_str(&line);
            banner.push('\n');
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        }
    })
    .await
    .expect("kommune did not start listening");
    // The rest of the banner follows at once.
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_millis(300), lines.next_line()).await
    {
        banner.push_str(&line);
        banner.push('\n');
    }
    (child, addr, banner)
}

async fn stop(mut child: Child) {
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("no graceful shutdown")
        .unwrap();
    assert!(status.success(), "kommune exited with {status}");
}

async fn exchange(addr: &str, key: &str) -> String {
    let channel = channel_to(addr);
    pb::token_service_client::TokenServiceClient::new(channel)
        .exchange_api_key(pb::ExchangeApiKeyRequest {
            api_key: key.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token
}

/// What the conventions blocks of docs/api.md must show of the municipality `name`: the create and its
/// replay answering one municipality, the read, the update, the stale update and the bad field.
fn assert_conventions_shown(stdout: &str, name: &str) {
    let ids: Vec<&str> = stdout
        .split("municipalityId\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').nth(1))
        .collect();
    assert!(ids.len() >= 3, "{stdout}");
    assert!(
        stdout.matches(ids[0]).count() >= 3,
        "the replay, the read and the update answer the created municipality: {stdout}"
    );
    assert!(stdout.contains(&format!("{name} Kommune")), "{stdout}");
    assert!(stdout.contains("STALE_VERSION"), "{stdout}");
    assert!(stdout.contains("cvr_number"), "{stdout}");
    assert!(!stdout.to_lowercase().contains("already"), "{stdout}");
}

#[tokio::test]
async fn a_newcomer_starts_the_suite_and_makes_the_first_call() {
    let dir = scratch_dir();
    let (child, addr, banner) = start(&dir).await;
    let key = std::fs::read_to_string(dir.join("data/admin-key"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(key.starts_with("kmn_"));
    assert!(
        banner.contains(&key),
        "the banner shows the admin key once:\n{banner}"
    );
    assert!(dir.join("data/identity.db").exists());

    match std::env::var("KOMMUNE_GRPCURL") {
        Ok(grpcurl) if !grpcurl.is_empty() => {
            let bin_dir = Path::new(&grpcurl).parent().unwrap();
            let stdout = run_doc_block("README.md", "first-call", &addr, &dir, Some(bin_dir));
            assert!(stdout.contains("ROLE_CONSORTIUM_ADMIN"), "{stdout}");
            assert!(stdout.contains("Københavns Kommune"), "{stdout}");
        }
        _ => {
            // Without grpcurl, the same calls through a generated client.
            let token = exchange(&addr, &key).await;
            let channel = channel_to(&addr);
            let request = with_bearer(pb::GetCallerRequest {}, &token);
            let caller = pb::token_service_client::TokenServiceClient::new(channel)
                .get_caller(request)
                .await
                .unwrap();
            assert_eq!(
                caller.into_inner().roles,
                vec![pb::Role::ConsortiumAdmin as i32]
            );
        }
    }
    // Its twin in JSON with curl.
    let stdout = run_doc_block("README.md", "first-call-curl", &addr, &dir, None);
    assert!(stdout.contains("ROLE_CONSORTIUM_ADMIN"), "{stdout}");
    assert!(stdout.contains("Aarhus Kommune"), "{stdout}");
    // The API guide's conventions, in curl and in grpcurl.
    let stdout = run_doc_block("docs/api.md", "conventions-curl", &addr, &dir, None);
    assert_conventions_shown(&stdout, "Odense");
    if let Ok(grpcurl) = std::env::var("KOMMUNE_GRPCURL")
        && !grpcurl.is_empty()
    {
        let tools = Path::new(&grpcurl).parent();
        let stdout = run_doc_block("docs/api.md", "conventions-grpcurl", &addr, &dir, tools);
        assert_conventions_shown(&stdout, "Vejle");
    }
    stop(child).await;

    // A second start keeps the data and the key; nothing is bootstrapped twice.
    let (child, addr, _) = start(&dir).await;
    assert_eq!(
        std::fs::read_to_string(dir.join("data/admin-key"))
            .unwrap()
            .trim(),
        key
    );
    assert!(!exchange(&addr, &key).await.is_empty());
    stop(child).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn acknowledged_writes_survive_a_crash() {
    let dir = scratch_dir();
    let (mut child, addr, _) = start(&dir).await;
    let key = std::fs::read_to_string(dir.join("data/admin-key"))
        .unwrap()
        .trim()
        .to_owned();
    let token = exchange(&addr, &key).await;
    let channel = channel_to(&addr);
    let request = with_bearer(
        pb::CreateMunicipalityRequest {
            code: "101".into(),
            name: "Københavns Kommune".into(),
            cvr_number: "64942212".into(),
            ..Default::default()
        },
        &token,
    );
    let created = pb::municipality_service_client::MunicipalityServiceClient::new(channel)
        .create_municipality(request)
        .await
        .unwrap()
        .into_inner()
        .municipality
        .unwrap();

    // No graceful shutdown: the process dies the moment after it acknowledged the write.
    child.kill().await.unwrap();

    let (child, addr, _) = start(&dir).await;
    let token = exchange(&addr, &key).await;
    let channel = channel_to(&addr);
    let request = with_bearer(
        pb::GetMunicipalityRequest {
            municipality_id: created.municipality_id.clone(),
        },
        &token,
    );
    let read = pb::municipality_service_client::MunicipalityServiceClient::new(channel)
        .get_municipality(request)
        .await
        .unwrap()
        .into_inner()
        .municipality
        .unwrap();
    assert_eq!(read, created);
    stop(child).await;
    let _ = std::fs::remove_dir_all(&dir);
}

//! The guides through their real gRPC API, in-process beside a real identity, on fresh databases
//! (SQLite, or PostgreSQL when `KOMMUNE_TEST_POSTGRES_URL` is set). Citations by filed cases come from
//! cases' feed and are tested through the suite (`tests/guides.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod imports;
mod search;
mod suggestions;

use std::sync::Arc;

use chrono::DateTime;
use tonic::Status;
use tonic::transport::Channel;

use kommune_guides::testing::{SectionSpec, docx, sample_sections};
use kommune_guides::{Guides, Options};
use kommune_identity::testing::{municipality, user};
use kommune_platform::clock::ManualClock;
use kommune_platform::config::ServerConfig;
use kommune_platform::service::Service as _;
use kommune_platform::testing::{
    Running, channel_to, exchange, fresh_database_url, loopback_listener, spawn,
    with_bearer as bearer,
};
use kommune_proto::guides::v1 as pb;
use kommune_proto::identity::v1 as id;

const ADMIN_KEY: &str = "guides-test-admin-key-0123456789";
/// The system most guides here are to (guides take a system id as given without cases).
const SYSTEM: &str = "0192f1a4-0000-7000-8000-000000000001";
/// Another system.
const OTHER_SYSTEM: &str = "0192f1a4-0000-7000-8000-000000000002";

/// identity and the guides side by side, their clock at 10:00 UTC on Monday 3 March 2025, with the
/// consortium admin, the supplier's second line and a caseworker of each of two municipalities.
struct TestGuides {
    guides: Channel,
    database_url: String,
    identity_addr: String,
    clock: ManualClock,
    admin: String,
    supplier: String,
    caseworkers: [String; 2],
    _running: Vec<Running>,
}

impl TestGuides {
    async fn start() -> Self {
        let clock = ManualClock::new(
            DateTime::parse_from_rfc3339("2025-03-03T10:00:00Z")
                .unwrap()
                .to_utc(),
        );
        let (identity_addr, identity_running) =
            kommune_identity::testing::start(Arc::new(clock.clone()), ADMIN_KEY).await;
        let identity = channel_to(identity_addr);
        let admin = exchange(&identity, ADMIN_KEY).await;
        let database_url = fresh_database_url("guides").await;
        let identity_addr = format!("http://{identity_addr}");
        let (addr, running) = serve(&database_url, &identity_addr, &clock).await;
        let first = municipality(&identity, &admin, "101", "64942212").await;
        let second = municipality(&identity, &admin, "751", "55133018").await;
        let worker = id::Role::MunicipalCaseworker;
        let caseworkers = [
            user(&identity, &admin, &first, "sagsbehandler@kk.dk", worker)
                .await
                .1,
            user(
                &identity,
                &admin,
                &second,
                "sagsbehandler@aarhus.dk",
                worker,
            )
            .await
            .1,
        ];
        let supplier = user(
            &identity,
            &admin,
            "",
            "support@leverandoer.dk",
            id::Role::SupplierSecondLine,
        )
        .await
        .1;
        Self {
            guides: channel_to(addr),
            database_url,
            identity_addr,
            clock,
            admin,
            supplier,
            caseworkers,
            _running: vec![identity_running, running],
        }
    }

    /// Another replica over the same database.
    async fn replica(&self) -> (Channel, Running) {
        let (addr, running) = serve(&self.database_url, &self.identity_addr, &self.clock).await;
        (channel_to(addr), running)
    }

    fn guide_service(&self) -> pb::guide_service_client::GuideServiceClient<Channel> {
        pb::guide_service_client::GuideServiceClient::new(self.guides.clone())
    }

    fn search_service(&self) -> pb::search_service_client::SearchServiceClient<Channel> {
        pb::search_service_client::SearchServiceClient::new(self.guides.clone())
    }

    fn reports(&self) -> pb::report_service_client::ReportServiceClient<Channel> {
        pb::report_service_client::ReportServiceClient::new(self.guides.clone())
    }

    /// Imports `file` as `token` with `options` (chunks of 256 KiB).
    async fn import_as(
        &self,
        token: &str,
        options: pb::ImportGuideOptions,
        file: &[u8],
    ) -> Result<pb::ImportGuideResponse, Status> {
        let mut messages = vec![pb::ImportGuideRequest {
            part: Some(pb::import_guide_request::Part::Options(options)),
        }];
        messages.extend(file.chunks(256 * 1024).map(|chunk| pb::ImportGuideRequest {
            part: Some(pb::import_guide_request::Part::Chunk(chunk.to_vec())),
        }));
        let request = bearer(tokio_stream::iter(messages), token);
        Ok(self
            .guide_service()
            .import_guide(request)
            .await?
            .into_inner())
    }

    /// Imports a new guide to `system` as the consortium admin.
    async fn import(
        &self,
        title: &str,
        system: &str,
        file_name: &str,
        file: &[u8],
    ) -> Result<pb::ImportGuideResponse, Status> {
        self.import_as(&self.admin, new_guide(title, system, file_name), file)
            .await
    }

    /// A guide of `sections` in DOCX, imported.
    async fn imported(&self, title: &str, system: &str, sections: &[SectionSpec]) -> pb::Guide {
        self.import(title, system, "vejledning.docx", &docx(sections))
            .await
            .unwrap()
            .guide
            .unwrap()
    }

    /// Every section of a guide's current version.
    async fn sections(&self, guide_id: &str) -> Vec<pb::Section> {
        let request = pb::ListSectionsRequest {
            guide_id: guide_id.into(),
            version: 0,
            page: Some(kommune_proto::common::v1::PageRequest {
                page_size: 500,
                page_token: String::new(),
            }),
        };
        self.guide_service()
            .list_sections(bearer(request, &self.caseworkers[0]))
            .await
            .unwrap()
            .into_inner()
            .sections
    }

    /// Searches as the first caseworker.
    async fn search(&self, query: &str, system: &str) -> Result<Vec<pb::SectionHit>, Status> {
        let request = pb::SearchSectionsRequest {
            query: query.into(),
            system_id: system.into(),
            limit: 0,
        };
        Ok(self
            .search_service()
            .search_sections(bearer(request, &self.caseworkers[0]))
            .await?
            .into_inner()
            .hits)
    }
}

/// Builds and serves a guides replica.
async fn serve(
    database_url: &str,
    identity_addr: &str,
    clock: &ManualClock,
) -> (std::net::SocketAddr, Running) {
    let options = Options::new(
        database_url.to_owned(),
        identity_addr.to_owned(),
        Arc::new(clock.clone()),
    );
    let guides = Guides::build(options).await.unwrap();
    let (listener, addr) = loopback_listener().await;
    let running = spawn(|stop| async move {
        guides
            .serve(listener, &ServerConfig::default(), stop)
            .await
            .unwrap();
    });
    (addr, running)
}

/// The options of a new guide for caseworkers.
fn new_guide(title: &str, system: &str, file_name: &str) -> pb::ImportGuideOptions {
    pb::ImportGuideOptions {
        title: title.into(),
        system_id: system.into(),
        audience: pb::Audience::Caseworkers as i32,
        file_name: file_name.into(),
        ..Default::default()
    }
}

/// A guide of 8 chapters of 5 sections with 6 paragraphs each: about thirty pages.
fn long_guide() -> Vec<SectionSpec> {
    sample_sections(8, 5, 6)
}

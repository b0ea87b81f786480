//! The catalogue through its real gRPC API, in-process beside a real identity, on fresh databases
//! (SQLite, or PostgreSQL when `KOMMUNE_TEST_POSTGRES_URL` is set).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod extra_users;
mod invoicing;
mod items;
mod orders;

use std::sync::Arc;

use chrono::DateTime;
use tonic::Status;
use tonic::transport::Channel;

use kommune_catalogue::{Catalogue, Options};
use kommune_identity::testing::{municipality, user};
use kommune_platform::clock::ManualClock;
use kommune_platform::config::ServerConfig;
use kommune_platform::service::Service as _;
use kommune_platform::testing::{
    Running, channel_to, exchange, fresh_database_url, loopback_listener, service_account_key,
    spawn, with_bearer as bearer,
};
use kommune_proto::catalogue::v1 as pb;
use kommune_proto::identity::v1 as id;

const ADMIN_KEY: &str = "catalogue-test-admin-key-0123456789";

/// identity and the catalogue side by side, their clock at 10:00 UTC on Monday 3 March 2025, with
/// two municipalities, a project leader and a caseworker in each, and the supplier's second line.
struct TestCatalogue {
    catalogue: Channel,
    identity: Channel,
    clock: ManualClock,
    admin: String,
    supplier: String,
    municipalities: [String; 2],
    /// The project leaders' user ids and tokens, by municipality.
    leaders: [(String, String); 2],
    /// A caseworker of the first municipality.
    caseworker: (String, String),
    _running: Vec<Running>,
}

impl TestCatalogue {
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
        let mut options = Options::new(
            fresh_database_url("catalogue").await,
            format!("http://{identity_addr}"),
            Arc::new(clock.clone()),
        );
        options.service_api_key = Some(service_account_key(&identity, &admin, "catalogue").await);
        options.settle_interval = std::time::Duration::from_millis(100);
        let catalogue = Catalogue::build(options).await.unwrap();
        let (listener, addr) = loopback_listener().await;
        let running = spawn(|stop| async move {
            catalogue
                .serve(listener, &ServerConfig::default(), stop)
                .await
                .unwrap();
        });
        let first = municipality(&identity, &admin, "101", "64942212").await;
        let second = municipality(&identity, &admin, "751", "55133018").await;
        let leader = id::Role::MunicipalProjectLeader;
        let leaders = [
            user(&identity, &admin, &first, "leader@kk.dk", leader).await,
            user(&identity, &admin, &second, "leader@aarhus.dk", leader).await,
        ];
        let caseworker = user(
            &identity,
            &admin,
            &first,
            "sagsbehandler@kk.dk",
            id::Role::MunicipalCaseworker,
        )
        .await;
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
            catalogue: channel_to(addr),
            identity,
            clock,
            admin,
            supplier,
            municipalities: [first, second],
            leaders,
            caseworker,
            _running: vec![identity_running, running],
        }
    }

    fn items(&self) -> pb::item_service_client::ItemServiceClient<Channel> {
        pb::item_service_client::ItemServiceClient::new(self.catalogue.clone())
    }

    fn orders(&self) -> pb::order_service_client::OrderServiceClient<Channel> {
        pb::order_service_client::OrderServiceClient::new(self.catalogue.clone())
    }

    /// Creates an item as the consortium admin.
    async fn create(&self, content: pb::ItemContent) -> Result<pb::Item, Status> {
        let request = pb::CreateItemRequest {
            idempotency_key: String::new(),
            content: Some(content),
        };
        Ok(self
            .items()
            .create_item(bearer(request, &self.admin))
            .await?
            .into_inner()
            .item
            .unwrap())
    }

    /// Places an order of `item` as `token`.
    async fn place(
        &self,
        token: &str,
        item: &pb::Item,
        quantity: i64,
        answers: Vec<pb::Answer>,
    ) -> Result<pb::Order, Status> {
        let request = pb::PlaceOrderRequest {
            idempotency_key: String::new(),
            item_id: item.item_id.clone(),
            quantity,
            answers,
        };
        Ok(self
            .orders()
            .place_order(bearer(request, token))
            .await?
            .into_inner()
            .order
            .unwrap())
    }

    /// Every event of the catalogue's feed so far of one type, decoded.
    async fn events<M: prost::Message + Default>(&self, type_name: &str) -> Vec<M> {
        use tokio_stream::StreamExt as _;
        let request = pb::WatchEventsRequest {
            after_cursor: String::new(),
            follow: false,
        };
        let mut stream = pb::event_service_client::EventServiceClient::new(self.catalogue.clone())
            .watch_events(bearer(request, &self.admin))
            .await
            .unwrap()
            .into_inner();
        let mut found = Vec::new();
        while let Some(message) = stream.next().await {
            let event = message.unwrap().event.unwrap();
            if event.event_type == format!("kommune.catalogue.v1.{type_name}") {
                found.push(M::decode(event.payload.unwrap().value.as_slice()).unwrap());
            }
        }
        found
    }
}

/// An extract priced by the hour, which the consortium approves: every step an order can take.
fn extract() -> pb::ItemContent {
    pb::ItemContent {
        name_da: "Dataudtræk".into(),
        name_en: "Data extract".into(),
        description_da: "Et udtræk af kommunens sager til statistik.".into(),
        description_en: "An extract of the municipality's cases for statistics.".into(),
        category: "Udtræk".into(),
        price: Some(pb::Price {
            model: pb::PriceModel::HourlyEstimate as i32,
            amount_ore: 95_000,
            ..Default::default()
        }),
        questions: vec![
            question("purpose", pb::QuestionKind::Text, true, &[]),
            question("format", pb::QuestionKind::Choice, true, &["CSV", "XLSX"]),
            question("needed_by", pb::QuestionKind::Date, false, &[]),
            question("contact", pb::QuestionKind::User, true, &[]),
        ],
        delivery_working_days: 5,
        requires_approval: true,
        ..Default::default()
    }
}

/// Extra support-eligible users, priced per user, delivered without quote or approval.
fn seats() -> pb::ItemContent {
    pb::ItemContent {
        name_da: "Ekstra supportberettigede brugere".into(),
        description_da: "Flere supportberettigede brugere end kommunens basis.".into(),
        category: "Adgang".into(),
        price: Some(pb::Price {
            model: pb::PriceModel::PerUnit as i32,
            amount_ore: 250_000,
            unit_da: "bruger".into(),
            unit_en: "user".into(),
        }),
        delivery_working_days: 2,
        orderable_by: vec![
            id::Role::MunicipalProjectLeader as i32,
            id::Role::MunicipalCaseworker as i32,
        ],
        ..Default::default()
    }
}

fn question(key: &str, kind: pb::QuestionKind, required: bool, choices: &[&str]) -> pb::Question {
    pb::Question {
        key: key.into(),
        label_da: format!("Spørgsmål {key}"),
        label_en: String::new(),
        kind: kind as i32,
        required,
        choices: choices.iter().map(|c| c.to_string()).collect(),
    }
}

fn answer(key: &str, value: pb::answer::Value) -> pb::Answer {
    pb::Answer {
        key: key.into(),
        value: Some(value),
    }
}

/// Answers that fit [`extract`], naming `contact` as the contact.
fn extract_answers(contact: &str) -> Vec<pb::Answer> {
    use pb::answer::Value;
    vec![
        answer(
            "purpose",
            Value::Text("Statistik over sagsbehandlingstider".into()),
        ),
        answer("format", Value::Choice("XLSX".into())),
        answer("needed_by", Value::Date("2025-04-01".into())),
        answer("contact", Value::UserId(contact.into())),
    ]
}

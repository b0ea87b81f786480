//! Identity through its real gRPC API, in-process, on a fresh database (SQLite, or PostgreSQL when
//! `KOMMUNE_TEST_POSTGRES_URL` is set).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod audit_log;
mod eligibility;
mod principals;
mod rights;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use futures::StreamExt;
use sea_orm::ConnectionTrait;
use tonic::transport::Channel;
use tonic::{Code, Status};

use kommune_identity::domain::BootstrapServiceKeys;
use kommune_identity::{Identity, Options};
use kommune_platform::auth::TrustedIssuer;
use kommune_platform::auth::{AUDIENCE, Claims, ISSUER};
use kommune_platform::clock::{Clock, ManualClock, SystemClock};
use kommune_platform::config::ServerConfig;
use kommune_platform::service::Service as _;
use kommune_platform::testing::{
    Running, channel_to, fresh_database_url, loopback_listener, spawn, violated_fields,
    with_bearer as bearer,
};
use kommune_proto::identity::v1 as pb;
use pb::Role;
use pb::audit_service_client::AuditServiceClient;
use pb::eligibility_service_client::EligibilityServiceClient;
use pb::event_service_client::EventServiceClient;
use pb::municipality_service_client::MunicipalityServiceClient;
use pb::service_account_service_client::ServiceAccountServiceClient;
use pb::token_service_client::TokenServiceClient;
use pb::user_service_client::UserServiceClient;

const ADMIN_KEY: &str = "test-bootstrap-admin-key-0123456789";

pub struct TestIdentity {
    channel: Channel,
    clock: ManualClock,
    database_url: String,
    admin_token: String,
    /// The keys it seals and signs its audit with (an insider's, for tampering tests).
    audit_keys: kommune_platform::audit::AuditKeys,
    _running: Running,
}

impl TestIdentity {
    /// Identity on a fresh database, its clock at 10:00 UTC on 15 June 2024.
    pub async fn start() -> Self {
        Self::start_with(Vec::new()).await
    }

    /// Identity trusting `trusted_issuers` besides itself.
    pub async fn start_with(trusted_issuers: Vec<TrustedIssuer>) -> Self {
        let database_url = fresh_database_url("identity").await;
        let clock = ManualClock::new(
            DateTime::parse_from_rfc3339("2024-06-15T10:00:00Z")
                .unwrap()
                .to_utc(),
        );
        let mut options = Options::new(database_url.clone(), Arc::new(clock.clone()));
        options.bootstrap_admin_key = Some(ADMIN_KEY.into());
        options.trusted_issuers = trusted_issuers;
        let audit_keys = options.audit_keys.clone();
        let identity = Identity::build(options).await.unwrap();
        assert_eq!(
            identity.generated_admin_key(),
            None,
            "a configured key is never echoed"
        );
        let (listener, addr) = loopback_listener().await;
        let running = spawn(|stop| async move {
            identity
                .serve(listener, &ServerConfig::default(), stop)
                .await
                .unwrap();
        });
        let channel = channel_to(addr);
        let mut this = Self {
            channel,
            clock,
            database_url,
            admin_token: String::new(),
            audit_keys,
            _running: running,
        };
        this.admin_token = this.exchange(ADMIN_KEY).await.unwrap();
        this
    }

    async fn exchange(&self, api_key: &str) -> Result<String, Status> {
        let response = TokenServiceClient::new(self.channel.clone())
            .exchange_api_key(pb::ExchangeApiKeyRequest {
                api_key: api_key.into(),
            })
            .await?;
        Ok(response.into_inner().access_token)
    }

    fn tokens(&self) -> TokenServiceClient<Channel> {
        TokenServiceClient::new(self.channel.clone())
    }
    fn municipalities(&self) -> MunicipalityServiceClient<Channel> {
        MunicipalityServiceClient::new(self.channel.clone())
    }
    fn users(&self) -> UserServiceClient<Channel> {
        UserServiceClient::new(self.channel.clone())
    }
    fn accounts(&self) -> ServiceAccountServiceClient<Channel> {
        ServiceAccountServiceClient::new(self.channel.clone())
    }
    fn eligibility(&self) -> EligibilityServiceClient<Channel> {
        EligibilityServiceClient::new(self.channel.clone())
    }
    fn audit(&self) -> AuditServiceClient<Channel> {
        AuditServiceClient::new(self.channel.clone())
    }
    fn events(&self) -> EventServiceClient<Channel> {
        EventServiceClient::new(self.channel.clone())
    }

    async fn create_municipality(&self, code: &str, cvr: &str) -> pb::Municipality {
        self.municipalities()
            .create_municipality(bearer(
                pb::CreateMunicipalityRequest {
                    code: code.into(),
                    name: format!("Kommune {code}"),
                    cvr_number: cvr.into(),
                    debtor_system: pb::DebtorSystem::KmdOpus as i32,
                    ..Default::default()
                },
                &self.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .municipality
            .unwrap()
    }

    async fn create_user(
        &self,
        token: &str,
        municipality_id: &str,
        email: &str,
        roles: &[Role],
    ) -> Result<pb::User, Status> {
        let request = pb::CreateUserRequest {
            municipality_id: municipality_id.into(),
            name: "Anne Hansen".into(),
            email: email.into(),
            roles: roles.iter().map(|r| *r as i32).collect(),
            ..Default::default()
        };
        Ok(self
            .users()
            .create_user(bearer(request, token))
            .await?
            .into_inner()
            .user
            .unwrap())
    }

    /// A token for `user`, through an API key an admin created for them.
    async fn token_for(&self, user: &pb::User) -> String {
        let key = self
            .accounts()
            .create_api_key(bearer(
                pb::CreateApiKeyRequest {
                    subject: format!("user:{}", user.user_id),
                    ..Default::default()
                },
                &self.admin_token,
            ))
            .await
            .unwrap()
            .into_inner();
        self.exchange(&key.secret).await.unwrap()
    }
}

// Municipality CVR numbers with valid check digits.
const CVR_A: &str = "64942212";
const CVR_B: &str = "55133018";

//! Importing a guide, or a new version of one, from its DOCX or PDF file: read and split off the async
//! threads, refused whole when it cannot be split or holds a personal ID number, then written with its
//! sections, file, audit record and event in one transaction.

use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use kommune_platform::auth::Caller;
use kommune_platform::client::on_behalf_of;
use kommune_platform::db::{Named, Txn, update_versioned};
use kommune_platform::idempotency::{self, IdempotencyKey};
use kommune_platform::outbox;
use kommune_platform::records::AuditTrail as _;
use kommune_platform::{Error, Reason};
use kommune_proto::cases::v1 as cases;
use kommune_proto::guides::v1 as pb;
use pb::{Audience, GuideState, Language};

use super::{KEEPERS, Registry, existing_guide};
use crate::documents::{self, Document};
use crate::domain::{self, Earlier, Split, Unplaced};
use crate::store::{files, guide_versions, guides, sections};

use super::reads::GuideView;

/// How long reading a file may take.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// What an import is asked to make of a file (validated).
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The guide to give a new version; `None` for a new guide.
    pub guide_id: Option<String>,
    /// For a new version: the revision read.
    pub expected_revision: i64,
    /// The title; empty keeps it (new versions).
    pub title: String,
    /// The system (new guides).
    pub system_id: String,
    /// Who it is for; `None` keeps it.
    pub audience: Option<Audience>,
    /// Its language; `None` keeps it (Danish for a new guide).
    pub language: Option<Language>,
    /// The file's name.
    pub file_name: String,
    /// The file.
    pub file: Vec<u8>,
}

/// What an import made.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    /// The guide at its new version.
    pub guide: GuideView,
    /// Sections that kept their id.
    pub kept: usize,
    /// Sections of the version before not found again.
    pub removed: usize,
    /// Text not placed in a section.
    pub unplaced: Vec<Unplaced>,
    /// The PDF's pages.
    pub pages: u32,
}

/// What a retry of an import must repeat: the options and the file.
#[derive(Clone, PartialEq, prost::Message)]
struct KeyedImport {
    #[prost(message, optional, tag = "1")]
    options: Option<pb::ImportGuideOptions>,
    #[prost(bytes = "vec", tag = "2")]
    file_sha256: Vec<u8>,
}

/// The idempotency key of an import: its options (key cleared) and its file's hash.
pub fn import_key(
    caller: &Caller,
    key: &str,
    mut options: pb::ImportGuideOptions,
    file: &[u8],
) -> Result<Option<IdempotencyKey>, Error> {
    options.idempotency_key.clear();
    let keyed = KeyedImport {
        options: Some(options),
        file_sha256: Sha256::digest(file).to_vec(),
    };
    IdempotencyKey::of(caller, "ImportGuide", key, &keyed)
}

/// A file refused as a whole.
fn refused(why: impl std::fmt::Display) -> Error {
    Error::invalid("file", why.to_string())
}

/// Reads and splits a file off the async threads (the reader itself turns a library's panic on a
/// hostile file into a refusal).
async fn read_and_split(file: Vec<u8>) -> Result<(Vec<u8>, Document, Split), Error> {
    let reading = tokio::task::spawn_blocking(move || {
        let document = documents::read(&file).map_err(refused)?;
        domain::no_personal_ids(&document).map_err(refused)?;
        let split = domain::split(&document.blocks).map_err(refused)?;
        Ok((file, document, split))
    });
    // A crafted file may take the reader long; the caller is answered, the thread finishes alone.
    match tokio::time::timeout(READ_TIMEOUT, reading).await {
        Ok(read) => read.map_err(Error::internal)?,
        Err(_) => Err(refused(
            "takes too long to read: save it again from Word or as PDF/A and upload that",
        )),
    }
}

impl Registry {
    /// Whether the caller may import guides: asked before a file is received, so nobody else can make
    /// a replica hold an upload.
    pub fn may_import(&self, caller: &Caller) -> Result<(), Error> {
        caller.require_any_role(&KEEPERS, "importing guides")
    }

    /// Imports a guide or a new version of one (consortium admins and the supplier's second line).
    pub async fn import(
        &self,
        caller: &Caller,
        mut request: ImportRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<ImportOutcome, Error> {
        self.may_import(caller)?;
        if let Some(id) = idempotency::earlier(&self.db, key.as_ref()).await? {
            return self.replayed_import(caller, &id).await;
        }
        let system_name = match &request.guide_id {
            None => self.system_name(caller, &request.system_id).await?,
            Some(_) => String::new(),
        };
        let (file, document, split) = read_and_split(std::mem::take(&mut request.file)).await?;
        let sha256 = hex::encode(Sha256::digest(&file));
        let now = self.clock.now();
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |outcome: &ImportOutcome| outcome.guide.guide.id.clone(),
            async |txn: &Txn| {
                let (guide, earlier) = match &request.guide_id {
                    None => (
                        new_guide(txn, &request, system_name.clone(), now).await?,
                        Vec::new(),
                    ),
                    Some(id) => self.next_version(txn, id, &request, now).await?,
                };
                let kept_ids = domain::carry_identities(&earlier, &split.sections);
                let kept = kept_ids.iter().flatten().count();
                let rows = split
                    .sections
                    .iter()
                    .zip(kept_ids)
                    .enumerate()
                    .map(|(i, (s, kept))| sections::Model {
                        id: Uuid::now_v7().to_string(),
                        section_id: kept.unwrap_or_else(|| Uuid::now_v7().to_string()),
                        guide_id: guide.id.clone(),
                        version: guide.version,
                        position: i32::try_from(i + 1).unwrap_or(i32::MAX),
                        number: s.number.clone(),
                        heading: s.heading.clone(),
                        heading_path: serde_json::to_string(&s.heading_path)
                            .unwrap_or_else(|_| "[]".into()),
                        level: i32::from(s.level),
                        text: s.text.clone(),
                        anchor: s.anchor.clone(),
                        page: s.page.map_or(0, |p| i32::try_from(p).unwrap_or(0)),
                    })
                    .collect();
                sections::insert_all(txn, rows).await?;
                let version = guide_versions::insert(
                    txn,
                    guide_versions::Model {
                        guide_id: guide.id.clone(),
                        version: guide.version,
                        file_name: request.file_name.clone(),
                        file_format: document.format.as_str().to_owned(),
                        file_size: i64::try_from(file.len()).unwrap_or(i64::MAX),
                        file_sha256: sha256.clone(),
                        section_count: i32::try_from(split.sections.len()).unwrap_or(i32::MAX),
                        page_count: i32::try_from(document.pages).unwrap_or(0),
                        imported_by: caller.subject.clone(),
                        imported_at: now,
                    },
                )
                .await?;
                files::insert(txn, &guide.id, guide.version, &file).await?;
                let removed = earlier.len() - kept;
                let payload = json!({
                    "version": guide.version,
                    "file_name": request.file_name,
                    "file_sha256": sha256,
                    "section_count": split.sections.len(),
                    "kept": kept,
                    "removed": removed,
                });
                self.audit(txn, caller, "guide", &guide.id, "import", payload)
                    .await?;
                announce(txn, &guide, &version, now).await?;
                Ok(ImportOutcome {
                    guide: GuideView { guide, version },
                    kept,
                    removed,
                    unplaced: split.unplaced.clone(),
                    pages: document.pages,
                })
            },
        )
        .await?;
        self.outbox.notify_committed();
        let outcome = match created {
            idempotency::Created::New(outcome) => outcome,
            idempotency::Created::Replayed(id) => return self.replayed_import(caller, &id).await,
        };
        self.refresh_index().await;
        Ok(outcome)
    }

    /// What a repeated import answers: the guide as it is now.
    async fn replayed_import(&self, caller: &Caller, id: &str) -> Result<ImportOutcome, Error> {
        let guide = self.get_guide(caller, id).await?;
        Ok(ImportOutcome {
            pages: u32::try_from(guide.version.page_count).unwrap_or(0),
            guide,
            kept: 0,
            removed: 0,
            unplaced: Vec::new(),
        })
    }

    /// The guide `id` moved to its next version, with the sections of the version before.
    async fn next_version(
        &self,
        txn: &Txn,
        id: &str,
        request: &ImportRequest,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(guides::Model, Vec<Earlier>), Error> {
        guides::find_for_update(txn, id).await?;
        let mut guide = existing_guide(txn, id, "options.guide_id").await?;
        Error::require_revision("guide", guide.revision, request.expected_revision)?;
        let earlier = sections::of_version(txn, &guide.id, guide.version)
            .await?
            .into_iter()
            .map(|s| Earlier {
                section_id: s.section_id,
                number: s.number,
                heading: s.heading,
            })
            .collect();
        guide.version += 1;
        guide.revision += 1;
        guide.updated_at = now;
        if !request.title.is_empty() {
            guide.title = request.title.clone();
        }
        if let Some(audience) = request.audience {
            guide.audience = Named(audience);
        }
        if let Some(language) = request.language {
            guide.language = Named(language);
        }
        Ok((update_versioned(txn, guide).await?, earlier))
    }

    /// The name of the system `id` as cases knows it; NOT_FOUND when cases knows no such system.
    async fn system_name(&self, caller: &Caller, id: &str) -> Result<String, Error> {
        let Some(cases) = &self.cases else {
            return Ok(String::new());
        };
        let mut client =
            cases::operational_message_service_client::OperationalMessageServiceClient::new(
                cases.clone(),
            );
        let systems = client
            .list_public_systems(on_behalf_of(caller, cases::ListPublicSystemsRequest {}))
            .await
            .map_err(Error::from)?
            .into_inner()
            .systems;
        systems
            .into_iter()
            .find(|s| s.system_id == id)
            .map(|s| s.name)
            .ok_or_else(|| Error::not_found_field("system", id, "options.system_id"))
    }

    /// Takes a guide out of search and suggestions.
    pub async fn withdraw(
        &self,
        caller: &Caller,
        id: &str,
        expected_revision: i64,
        reason: String,
    ) -> Result<GuideView, Error> {
        self.change_state(caller, id, expected_revision, GuideState::Withdrawn, reason)
            .await
    }

    /// Publishes a withdrawn guide again.
    pub async fn republish(
        &self,
        caller: &Caller,
        id: &str,
        expected_revision: i64,
    ) -> Result<GuideView, Error> {
        self.change_state(
            caller,
            id,
            expected_revision,
            GuideState::Published,
            String::new(),
        )
        .await
    }

    async fn change_state(
        &self,
        caller: &Caller,
        id: &str,
        expected_revision: i64,
        state: GuideState,
        reason: String,
    ) -> Result<GuideView, Error> {
        caller.require_any_role(&KEEPERS, "withdrawing and republishing guides")?;
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        guides::find_for_update(&txn, id).await?;
        let mut guide = existing_guide(&txn, id, "guide_id").await?;
        Error::require_revision("guide", guide.revision, expected_revision)?;
        if *guide.state == state {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                format!("the guide is already {}", state_word(state)),
            ));
        }
        guide.state = Named(state);
        guide.withdrawn_reason = reason;
        guide.revision += 1;
        guide.updated_at = now;
        let guide = update_versioned(&txn, guide).await?;
        let version = guide_versions::find(&txn, &guide.id, guide.version)
            .await?
            .ok_or_else(|| Error::internal("a guide without its current version"))?;
        let action = match state {
            GuideState::Withdrawn => "withdraw",
            _ => "republish",
        };
        let payload = json!({"reason": guide.withdrawn_reason});
        self.audit(&txn, caller, "guide", &guide.id, action, payload)
            .await?;
        announce(&txn, &guide, &version, now).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        self.refresh_index().await;
        Ok(GuideView { guide, version })
    }
}

fn state_word(state: GuideState) -> &'static str {
    match state {
        GuideState::Withdrawn => "withdrawn",
        _ => "published",
    }
}

/// A new guide at version 1, published.
async fn new_guide(
    txn: &Txn,
    request: &ImportRequest,
    system_name: String,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<guides::Model, Error> {
    guides::insert(
        txn,
        guides::Model {
            id: Uuid::now_v7().to_string(),
            system_id: request.system_id.clone(),
            system_name,
            title: request.title.clone(),
            audience: Named(request.audience.unwrap_or(Audience::Everyone)),
            language: Named(request.language.unwrap_or(Language::Danish)),
            version: 1,
            state: Named(GuideState::Published),
            withdrawn_reason: String::new(),
            revision: 1,
            created_at: now,
            updated_at: now,
        },
    )
    .await
}

/// Announces a guide's new version or state.
async fn announce(
    txn: &Txn,
    guide: &guides::Model,
    version: &guide_versions::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Error> {
    let event = pb::GuideChanged {
        guide_id: guide.id.clone(),
        title: guide.title.clone(),
        system_id: guide.system_id.clone(),
        version: guide.version,
        state: *guide.state as i32,
        section_count: version.section_count,
    };
    outbox::publish(txn, now, &guide.id, &event).await
}

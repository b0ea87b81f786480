//! The guides' operations: each checks who may do it, then writes the change, its audit record and
//! its events in one transaction. Inputs arrive validated (see `api`); rules come from `domain`.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tonic::transport::Channel;

use kommune_platform::Error;
use kommune_platform::audit::AuditKeys;
use kommune_platform::auth::Caller;
use kommune_platform::clock::SharedClock;
use kommune_platform::outbox::Outbox;
use kommune_platform::records::{AuditTrail, EventFeed};
use kommune_platform::service::ServiceRole;
use kommune_proto::guides::v1::GuideState;
use kommune_proto::identity::v1::Role;

use crate::index::{IndexedSection, SearchIndex};
use crate::store::{guides, sections};

mod imports;
mod personal_data;
mod reads;
mod reports;
mod suggestions;

pub use imports::{ImportOutcome, ImportRequest, import_key};
pub use reads::{GuideView, SectionView};
pub use reports::Months;
pub use reports::{DeflectionCounts, DeflectionSummary, SectionStatistics};
pub use suggestions::Suggestion;

/// Who keeps the guides and reads where they fail.
const KEEPERS: [Role; 2] = [Role::ConsortiumAdmin, Role::SupplierSecondLine];

/// The guides' state and operations.
pub struct Registry {
    db: DatabaseConnection,
    clock: SharedClock,
    audit_keys: AuditKeys,
    outbox: Outbox,
    index: Arc<SearchIndex>,
    /// One index sync at a time.
    syncing: tokio::sync::Mutex<()>,
    /// cases, whose systems guides are written to; without it a system id is taken as given.
    cases: Option<Channel>,
}

impl Registry {
    /// The guides over their database and clock, checking systems with cases at `cases`.
    pub fn new(
        db: DatabaseConnection,
        clock: SharedClock,
        audit_keys: AuditKeys,
        cases: Option<Channel>,
    ) -> Result<Self, Error> {
        Ok(Self {
            db,
            clock,
            audit_keys,
            outbox: Outbox::new(),
            index: Arc::new(SearchIndex::new()?),
            syncing: tokio::sync::Mutex::new(()),
            cases,
        })
    }

    /// The outbox, whose feeds the server closes on shutdown.
    pub fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }

    /// Brings this replica's search index up to the database: every guide whose revision changed
    /// since it was indexed is indexed again (a withdrawn one is taken out). Cheap when nothing changed:
    /// one read of ids and revisions. A guide that cannot be indexed now is left for the next round
    /// and does not hold up the others.
    pub async fn sync_index(&self) -> Result<(), Error> {
        let _one_at_a_time = self.syncing.lock().await;
        let revisions = guides::revisions(&self.db).await?;
        let mut failed = None;
        for (id, _) in self.index.stale(&revisions) {
            if let Err(err) = self.index_guide(&id).await {
                tracing::warn!(guide_id = %id, error = %err, "cannot index the guide now");
                failed = Some(err);
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Indexes one guide as the database holds it now.
    async fn index_guide(&self, id: &str) -> Result<(), Error> {
        let Some(guide) = guides::find(&self.db, id).await? else {
            return Ok(());
        };
        let indexed = if *guide.state == GuideState::Published {
            sections::of_version(&self.db, &guide.id, guide.version)
                .await?
                .into_iter()
                .map(|s| indexed(&guide, s))
                .collect()
        } else {
            Vec::new()
        };
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.replace(&guide.id, guide.revision, &indexed))
            .await
            .map_err(Error::internal)?
    }

    /// After a committed write: this replica's index brought up to it, or, failing that, left to the
    /// next round (the write stands; answering with an error would invite a duplicate retry).
    async fn refresh_index(&self) {
        if let Err(err) = self.sync_index().await {
            tracing::warn!(error = %err, "the search index lags the database until the next round");
        }
    }
}

/// A stored section as the index holds it.
fn indexed(guide: &guides::Model, s: sections::Model) -> IndexedSection {
    IndexedSection {
        heading_path: s.heading_path(),
        section_id: s.section_id,
        guide_id: guide.id.clone(),
        guide_title: guide.title.clone(),
        system_id: guide.system_id.clone(),
        language: *guide.language,
        version: s.version,
        number: s.number,
        heading: s.heading,
        level: s.level,
        anchor: s.anchor,
        page: s.page,
        position: s.position,
        text: s.text,
    }
}

/// The guide `id`, NOT_FOUND on `field` when there is none.
async fn existing_guide(
    db: &impl sea_orm::ConnectionTrait,
    id: &str,
    field: &'static str,
) -> Result<guides::Model, Error> {
    guides::find(db, id)
        .await?
        .ok_or_else(|| Error::not_found_field("guide", id, field))
}

/// The guide `id` if `caller` may read it; NOT_FOUND on `field` when there is none or it is not for
/// the caller (the supplier's own guides).
async fn readable_guide(
    db: &impl sea_orm::ConnectionTrait,
    caller: &Caller,
    id: &str,
    field: &'static str,
) -> Result<guides::Model, Error> {
    let guide = existing_guide(db, id, field).await?;
    if crate::domain::may_read(caller, *guide.audience) {
        Ok(guide)
    } else {
        Err(Error::not_found_field("guide", id, field))
    }
}

#[tonic::async_trait]
impl AuditTrail for Registry {
    const ROLE: kommune_platform::service::ServiceRole =
        kommune_platform::service::ServiceRole::Guides;
    const ENTITIES: &'static [&'static str] = &["guide", "suggestion"];

    fn audit_db(&self) -> &DatabaseConnection {
        &self.db
    }

    fn audit_keys(&self) -> &kommune_platform::audit::AuditKeys {
        &self.audit_keys
    }

    fn audit_clock(&self) -> &SharedClock {
        &self.clock
    }

    async fn may_read_trail(
        &self,
        caller: &Caller,
        entity_type: &str,
        id: &str,
    ) -> Result<(), Error> {
        match entity_type {
            // How a guide changed is for everyone who may read it.
            "guide" => readable_guide(&self.db, caller, id, "entity_id")
                .await
                .map(|_| ()),
            _ => caller.require_any_role(&KEEPERS, "reading what came of suggestions"),
        }
    }
}

impl EventFeed for Registry {
    const ROLE: ServiceRole = ServiceRole::Guides;

    fn feed(&self) -> (&DatabaseConnection, &Outbox) {
        (&self.db, &self.outbox)
    }
}

//! Keeping the catalogue: items created at version 1, revised into new versions (orders keep the
//! version they were placed against), withdrawn; read by anyone.

use serde_json::json;
use uuid::Uuid;

use kommune_platform::auth::Caller;
use kommune_platform::db::{Named, Txn, update_versioned};
use kommune_platform::idempotency::{self, IdempotencyKey};
use kommune_platform::outbox;
use kommune_platform::paging::Page;
use kommune_platform::records::AuditTrail as _;
use kommune_platform::{Error, Reason};
use kommune_proto::catalogue::v1 as pb;
use kommune_proto::common::v1::PageResponse;
use pb::ItemState;

use super::{KEEPERS, Registry};
use crate::domain::ItemContent;
use crate::store::{item_versions, items};

/// An item with one of its versions.
#[derive(Debug, Clone)]
pub struct ItemView {
    /// The item.
    pub item: items::Model,
    /// The version shown.
    pub version: item_versions::Model,
}

impl Registry {
    /// Creates an item, published at version 1 (consortium admins and the supplier).
    pub async fn create_item(
        &self,
        caller: &Caller,
        content: ItemContent,
        key: Option<IdempotencyKey>,
    ) -> Result<ItemView, Error> {
        caller.require_any_role(&KEEPERS, "keeping the catalogue")?;
        let now = self.clock.now();
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |view: &ItemView| view.item.id.clone(),
            async |txn: &Txn| {
                only_extra_users_item(txn, None, &content).await?;
                let item = items::insert(
                    txn,
                    items::Model {
                        id: Uuid::now_v7().to_string(),
                        latest_version: 1,
                        state: Named(ItemState::Published),
                        withdrawal_reason: String::new(),
                        category: content.category.clone(),
                        name_da: content.name_da.clone(),
                        revision: 1,
                        created_at: now,
                        extra_eligible_users: content.extra_eligible_users,
                    },
                )
                .await?;
                let version = item_versions::insert(txn, &item.id, 1, &content, now).await?;
                self.audit_created(txn, caller, "item", &item.id, "create", json!(content))
                    .await?;
                announce(txn, &item, &content, now).await?;
                Ok(ItemView { item, version })
            },
        )
        .await?;
        self.outbox.notify_committed();
        created
            .or_current(async |id| self.get_item(&id, None).await)
            .await
    }

    /// An item at `version`, or its latest.
    pub async fn get_item(&self, id: &str, version: Option<i32>) -> Result<ItemView, Error> {
        let item = items::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found_field("item", id, "item_id"))?;
        let number = version.unwrap_or(item.latest_version);
        let version = item_versions::find(&self.db, id, number)
            .await?
            .ok_or_else(|| {
                Error::not_found_field("item version", format!("{id} v{number}"), "version")
            })?;
        Ok(ItemView { item, version })
    }

    /// A page of the items in `state` (of one category when named), at their latest versions.
    pub async fn list_items(
        &self,
        state: ItemState,
        category: Option<&str>,
        page: &Page,
    ) -> Result<(Vec<ItemView>, PageResponse), Error> {
        let (found, next) = items::list(&self.db, state, category, page).await?;
        let mut versions = item_versions::find_many(
            &self.db,
            found.iter().map(|i| (i.id.clone(), i.latest_version)),
        )
        .await?;
        let views = found
            .into_iter()
            .map(|item| {
                let at = versions
                    .iter()
                    .position(|v| v.item_id == item.id)
                    .ok_or_else(|| {
                        Error::internal(format!("item {} has no latest version", item.id))
                    })?;
                Ok(ItemView {
                    version: versions.swap_remove(at),
                    item,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok((views, next))
    }

    /// Publishes a new version of an item that is not withdrawn.
    pub async fn revise_item(
        &self,
        caller: &Caller,
        id: &str,
        expected_revision: i64,
        content: ItemContent,
    ) -> Result<ItemView, Error> {
        caller.require_any_role(&KEEPERS, "keeping the catalogue")?;
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut item = self.item_at(&txn, id, expected_revision).await?;
        if *item.state == ItemState::Withdrawn {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                "the item is withdrawn; create a new item instead".into(),
            ));
        }
        only_extra_users_item(&txn, Some(&item.id), &content).await?;
        item.latest_version += 1;
        item.revision += 1;
        item.category = content.category.clone();
        item.name_da = content.name_da.clone();
        item.extra_eligible_users = content.extra_eligible_users;
        let item = update_versioned(&txn, item).await?;
        let version =
            item_versions::insert(&txn, &item.id, item.latest_version, &content, now).await?;
        let payload = json!({"version": item.latest_version, "content": content});
        self.audit(&txn, caller, "item", &item.id, "revise", payload)
            .await?;
        announce(&txn, &item, &content, now).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(ItemView { item, version })
    }

    /// Takes an item out of the catalogue; orders placed stay as they are.
    pub async fn withdraw_item(
        &self,
        caller: &Caller,
        id: &str,
        expected_revision: i64,
        reason: String,
    ) -> Result<ItemView, Error> {
        caller.require_any_role(&KEEPERS, "keeping the catalogue")?;
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut item = self.item_at(&txn, id, expected_revision).await?;
        if *item.state == ItemState::Withdrawn {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                "the item is already withdrawn".into(),
            ));
        }
        item.state = Named(ItemState::Withdrawn);
        item.withdrawal_reason = reason;
        item.revision += 1;
        let item = update_versioned(&txn, item).await?;
        let version = item_versions::find(&txn, &item.id, item.latest_version)
            .await?
            .ok_or_else(|| Error::internal("an item without its latest version"))?;
        let payload = json!({"reason": item.withdrawal_reason});
        self.audit(&txn, caller, "item", &item.id, "withdraw", payload)
            .await?;
        announce(&txn, &item, &version.content()?, now).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(ItemView { item, version })
    }

    /// The item `id` at the revision `expected` the caller read; ABORTED when it moved on.
    async fn item_at(&self, txn: &Txn, id: &str, expected: i64) -> Result<items::Model, Error> {
        let item = items::find(txn, id)
            .await?
            .ok_or_else(|| Error::not_found_field("item", id, "item_id"))?;
        Error::require_revision("item", item.revision, expected)?;
        Ok(item)
    }
}

/// ALREADY_EXISTS when `content` bills extra users and another published item (than `id`) does.
async fn only_extra_users_item(
    txn: &Txn,
    id: Option<&str>,
    content: &ItemContent,
) -> Result<(), Error> {
    if !content.extra_eligible_users {
        return Ok(());
    }
    match items::extra_users_item(txn).await? {
        Some(other) if Some(other.id.as_str()) != id => Err(Error::AlreadyExists {
            field: "content.extra_eligible_users",
            description: format!(
                "the item {} already bills extra support-eligible users; withdraw it first",
                other.id
            ),
        }),
        _ => Ok(()),
    }
}

/// Announces the item's latest state.
async fn announce(
    txn: &Txn,
    item: &items::Model,
    content: &ItemContent,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Error> {
    let event = pb::ItemChanged {
        item_id: item.id.clone(),
        version: item.latest_version,
        name_da: content.name_da.clone(),
        state: *item.state as i32,
    };
    outbox::publish(txn, now, &item.id, &event).await
}

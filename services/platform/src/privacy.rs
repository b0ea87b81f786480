//! A data subject's export, served once for every service: a service says which kinds of personal
//! records it keeps and reads a page of each ([`PersonalData`]); [`export`] pages across them and adds
//! the person's actions from the service's audit trail, and [`privacy_service!`](crate::privacy_service)
//! implements its package's `PrivacyService`.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use kommune_proto::common::v1::{PageRequest, PageResponse, PersonalRecord};
use kommune_proto::identity::v1::Role;

use crate::audit::entity as audit_records;
use crate::auth::{Caller, USER_SUBJECT_PREFIX};
use crate::clock::to_timestamp;
use crate::error::{Error, Reason};
use crate::paging::Page;
use crate::records::AuditTrail;
use crate::validate::required_id;

/// The kind every service exports last: what the person did, from its audit trail.
pub const AUDIT_ACTION: &str = "audit_action";

/// The personal records a service keeps, as its `PrivacyService` exports them.
#[tonic::async_trait]
pub trait PersonalData: AuditTrail {
    /// The kinds of records about or by a person, in the order an export lists them (the audit
    /// actions follow).
    const KINDS: &'static [&'static str];

    /// Up to `limit` records of `kind` (one of [`Self::KINDS`]) about or by the user `user_id`, in
    /// order of their ids, after the id `after` ("" for the first).
    async fn personal_records(
        &self,
        kind: &str,
        user_id: &str,
        after: &str,
        limit: u64,
    ) -> Result<Vec<PersonalRecord>, Error>;
}

/// A record of `kind` with its id, time and content.
pub fn record(
    kind: &str,
    id: impl Into<String>,
    created_at: DateTime<Utc>,
    content: serde_json::Value,
) -> PersonalRecord {
    PersonalRecord {
        kind: kind.to_owned(),
        id: id.into(),
        create_time: Some(to_timestamp(created_at)),
        content_json: content.to_string(),
    }
}

/// Where one kind of personal record is kept: the rows of `E` whose `owner` column names the person,
/// paged by the `id` column.
pub struct Owned<E: EntityTrait> {
    /// The column naming the person (their user id or subject).
    pub owner: E::Column,
    /// The rows' id column.
    pub id: E::Column,
}

impl<E: EntityTrait> Owned<E> {
    /// Up to `limit` records of `kind` after the id `after`, of the rows whose owner is `person`, each
    /// described by `describe` as its id, when it was made and its content.
    pub async fn records(
        self,
        db: &DatabaseConnection,
        kind: &str,
        person: &str,
        (after, limit): (&str, u64),
        describe: impl Fn(E::Model) -> (String, DateTime<Utc>, serde_json::Value),
    ) -> Result<Vec<PersonalRecord>, Error> {
        Ok(rows_of::<E>(db, self.owner, person, self.id, after, limit)
            .await?
            .into_iter()
            .map(|row| {
                let (id, made, content) = describe(row);
                record(kind, id, made, content)
            })
            .collect())
    }
}

/// Up to `limit` rows of the entity `E` whose `owner` column holds `value`, in order of the `id`
/// column, after `after`: one page of one kind of personal record.
pub async fn rows_of<E: EntityTrait>(
    db: &DatabaseConnection,
    owner: E::Column,
    value: &str,
    id: E::Column,
    after: &str,
    limit: u64,
) -> Result<Vec<E::Model>, Error> {
    Ok(E::find()
        .filter(owner.eq(value))
        .filter(id.gt(after))
        .order_by_asc(id)
        .limit(limit)
        .all(db)
        .await?)
}

/// A page of the personal records `data` keeps about the user `user_id`, for `caller`: the person
/// themselves or a consortium admin. The page token names the kind and the last record's id.
pub async fn export<T: PersonalData>(
    data: &T,
    caller: &Caller,
    user_id: &str,
    page: Option<&PageRequest>,
) -> Result<(Vec<PersonalRecord>, PageResponse), Error> {
    let user_id = required_id("user_id", user_id)?;
    let page = Page::from_request(page)?;
    let subject = format!("{USER_SUBJECT_PREFIX}{user_id}");
    if caller.subject != subject && !caller.has_role(Role::ConsortiumAdmin) {
        return Err(Error::PermissionDenied(
            Reason::NotOwner,
            "a person exports their own data; consortium admins anyone's".into(),
        ));
    }
    let kinds: Vec<&str> = T::KINDS.iter().copied().chain([AUDIT_ACTION]).collect();
    let (mut kind, mut after) = match page.after.as_deref() {
        None => (0, String::new()),
        Some(token) => token
            .split_once('/')
            .and_then(|(kind, after)| Some((kind.parse::<usize>().ok()?, after.to_owned())))
            .filter(|(kind, _)| *kind < kinds.len())
            .ok_or_else(|| Error::invalid("page.page_token", "is not a token from this list"))?,
    };
    let mut found: Vec<(usize, PersonalRecord)> = Vec::new();
    while kind < kinds.len() && (found.len() as u64) < page.fetch_limit() {
        let wanted = page.fetch_limit() - found.len() as u64;
        let records = if kinds[kind] == AUDIT_ACTION {
            audit_actions(data.audit_db(), &subject, &after, wanted).await?
        } else {
            data.personal_records(kinds[kind], &user_id, &after, wanted)
                .await?
        };
        let exhausted = (records.len() as u64) < wanted;
        found.extend(records.into_iter().map(|r| (kind, r)));
        if exhausted {
            kind += 1;
            after.clear();
        }
    }
    let (found, next) = page.finish(found, |(kind, record)| format!("{kind}/{}", record.id));
    Ok((found.into_iter().map(|(_, record)| record).collect(), next))
}

/// The person's actions in the service's audit trail (what, on which entity, when; not the payload,
/// which may be about others).
async fn audit_actions(
    db: &DatabaseConnection,
    subject: &str,
    after: &str,
    limit: u64,
) -> Result<Vec<PersonalRecord>, Error> {
    // Audit ids are numbers: the records carry them zero-padded, so a page token's id reads back.
    let after: i64 = if after.is_empty() {
        0
    } else {
        after
            .parse()
            .map_err(|_| Error::invalid("page.page_token", "is not a token from this list"))?
    };
    let rows = audit_records::Entity::find()
        .filter(audit_records::Column::Actor.eq(subject))
        .filter(audit_records::Column::Id.gt(after))
        .order_by_asc(audit_records::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            record(
                AUDIT_ACTION,
                format!("{:020}", row.id),
                row.occurred_at,
                serde_json::json!({
                    "entity_type": row.entity_type,
                    "entity_id": row.entity_id,
                    "action": row.action,
                }),
            )
        })
        .collect())
}

/// Implements the package `$pb`'s `PrivacyService` for `$api` with [`export`], reading the records
/// from its field `$data` (a [`PersonalData`] behind a smart pointer or not).
#[macro_export]
macro_rules! privacy_service {
    ($api:ty, $pb:ident, $data:ident) => {
        #[tonic::async_trait]
        impl $pb::privacy_service_server::PrivacyService for $api {
            async fn export_personal_data(
                &self,
                request: tonic::Request<$pb::ExportPersonalDataRequest>,
            ) -> Result<tonic::Response<$pb::ExportPersonalDataResponse>, tonic::Status> {
                let caller = $crate::auth::caller(&request)?;
                let req = request.into_inner();
                let (records, page) =
                    $crate::privacy::export(&*self.$data, &caller, &req.user_id, req.page.as_ref())
                        .await?;
                Ok(tonic::Response::new($pb::ExportPersonalDataResponse {
                    records,
                    page: Some(page),
                }))
            }
        }
    };
}

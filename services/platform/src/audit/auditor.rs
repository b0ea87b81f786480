//! The outside auditor: holds a service to the checkpoints it signed, through the public audit RPCs
//! only (the `kommune-audit` tool runs it). It checks the latest checkpoint's signature against a
//! pinned public key, proves the log consistent with the checkpoint it kept from its last run (so a
//! rewritten, reordered or truncated history shows even when every hash was recomputed and the log
//! re-signed), and, with `--full`, rebuilds the signed root from every log entry.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tonic::transport::Channel;

use kommune_proto::common::v1::{AuditCheckpoint, AuditLogEntry, PageRequest, PageResponse};

use super::key::signature_holds;
use super::log::{leaf_of, note};
use super::merkle::{self, Frontier, Hash};
use crate::BoxError;

/// What an auditor keeps between runs: the key it trusts and the last checkpoint it verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    /// The service, e.g. `cases`.
    pub service: String,
    /// Hex Ed25519 public key the service signs with.
    pub public_key: String,
    /// The log size of the checkpoint kept.
    pub tree_size: u64,
    /// Its hex root.
    pub root_hash: String,
}

/// The outcome of one audit.
#[derive(Debug, Clone)]
pub struct Audit {
    /// The checkpoint the service gave.
    pub checkpoint: AuditCheckpoint,
    /// What does not hold; empty when everything does.
    pub problems: Vec<String>,
    /// How many log entries were read (with `full`).
    pub entries_checked: u64,
}

impl Audit {
    /// What to keep for the next run: the new checkpoint, with the key it was checked against.
    pub fn kept(&self, public_key: &str) -> Kept {
        Kept {
            service: self.checkpoint.service.clone(),
            public_key: public_key.to_owned(),
            tree_size: self.checkpoint.tree_size,
            root_hash: self.checkpoint.root_hash.clone(),
        }
    }
}

/// The request of `GetAuditCheckpoint` (every package declares its own, all with this shape).
#[derive(Clone, PartialEq, prost::Message)]
struct CheckpointRequest {
    #[prost(uint64, tag = "1")]
    tree_size: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct CheckpointResponse {
    #[prost(message, optional, tag = "1")]
    checkpoint: Option<AuditCheckpoint>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ConsistencyRequest {
    #[prost(uint64, tag = "1")]
    first_tree_size: u64,
    #[prost(uint64, tag = "2")]
    second_tree_size: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ConsistencyResponse {
    #[prost(bytes = "vec", repeated, tag = "1")]
    hashes: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct EntriesRequest {
    #[prost(uint64, tag = "1")]
    first_index: u64,
    #[prost(message, optional, tag = "2")]
    page: Option<PageRequest>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct EntriesResponse {
    #[prost(message, repeated, tag = "1")]
    entries: Vec<AuditLogEntry>,
    #[prost(message, optional, tag = "2")]
    page: Option<PageResponse>,
}

/// One service's `AuditService`, called by path.
struct Client {
    channel: Channel,
    service: String,
    token: Option<String>,
}

impl Client {
    async fn call<Q, R>(&self, rpc: &str, message: Q) -> Result<R, tonic::Status>
    where
        Q: prost::Message + Send + Sync + 'static,
        R: prost::Message + Default + Send + Sync + 'static,
    {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let path = format!("/kommune.{}.v1.AuditService/{rpc}", self.service);
        let path = http::uri::PathAndQuery::try_from(path)
            .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        let mut request = tonic::Request::new(message);
        if let Some(token) = &self.token {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| tonic::Status::invalid_argument("the token is not a header value"))?;
            request.metadata_mut().insert("authorization", value);
        }
        let codec = tonic_prost::ProstCodec::<Q, R>::default();
        Ok(grpc.unary(request, path, codec).await?.into_inner())
    }
}

fn hash_of(hex_hash: &str) -> Option<Hash> {
    <Hash>::try_from(hex::decode(hex_hash).ok()?).ok()
}

/// Audits `service`'s log at `channel`: the latest checkpoint signed by `public_key` (hex; `None`
/// trusts the key it presents, as on a first run), consistent with `kept` when given, and with a
/// consortium admin's `full_token` every entry read and the root rebuilt.
pub async fn audit(
    channel: Channel,
    service: &str,
    public_key: Option<&str>,
    kept: Option<&Kept>,
    full_token: Option<String>,
) -> Result<Audit, BoxError> {
    let client = Client {
        channel,
        service: service.to_owned(),
        token: full_token.clone(),
    };
    let checkpoint = client
        .call::<_, CheckpointResponse>("GetAuditCheckpoint", CheckpointRequest { tree_size: 0 })
        .await?
        .checkpoint
        .ok_or("the service answered no checkpoint")?;
    let mut problems = Vec::new();
    let presented = hex::encode(&checkpoint.public_key);
    let trusted = public_key
        .map(str::to_owned)
        .or_else(|| kept.map(|k| k.public_key.clone()))
        .unwrap_or_else(|| presented.clone());
    let signed_at = checkpoint
        .signed_at
        .as_ref()
        .and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .ok_or("the checkpoint has no signing time")?;
    let expected_note = note(
        service,
        checkpoint.tree_size,
        &checkpoint.root_hash,
        signed_at,
    );
    if checkpoint.service != service || checkpoint.note != expected_note {
        problems.push("the checkpoint's note does not match its fields".to_owned());
    }
    if trusted != presented {
        problems.push(format!(
            "checkpoint {} is signed with an unknown key {} (trusted: {})",
            checkpoint.tree_size, checkpoint.key_id, trusted
        ));
    } else if !signature_holds(
        &checkpoint.public_key,
        &expected_note,
        &checkpoint.signature,
    ) {
        problems.push(format!(
            "checkpoint {} has no valid signature",
            checkpoint.tree_size
        ));
    }
    let root = hash_of(&checkpoint.root_hash).ok_or("the checkpoint's root is not a hash")?;
    if let Some(kept) = kept {
        let kept_root = hash_of(&kept.root_hash).ok_or("the kept root is not a hash")?;
        if checkpoint.tree_size < kept.tree_size {
            problems.push(format!(
                "the log shrank from {} records (kept) to {}: records were removed",
                kept.tree_size, checkpoint.tree_size
            ));
        } else if kept.tree_size > 0 {
            let proof = client
                .call::<_, ConsistencyResponse>(
                    "GetAuditConsistencyProof",
                    ConsistencyRequest {
                        first_tree_size: kept.tree_size,
                        second_tree_size: checkpoint.tree_size,
                    },
                )
                .await?
                .hashes
                .iter()
                .map(|h| <Hash>::try_from(h.as_slice()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| "the consistency proof holds something that is not a hash")?;
            if !merkle::verify_consistency(
                kept.tree_size,
                checkpoint.tree_size,
                &kept_root,
                &root,
                &proof,
            ) {
                problems.push(format!(
                    "the log of {} records is not an extension of the one kept ({} records): history was rewritten",
                    checkpoint.tree_size, kept.tree_size
                ));
            }
        }
    }
    let mut entries_checked = 0;
    if full_token.is_some() {
        let mut frontier = Frontier::default();
        let mut page_token = String::new();
        loop {
            let page = client
                .call::<_, EntriesResponse>(
                    "ListAuditLogEntries",
                    EntriesRequest {
                        first_index: 0,
                        page: Some(PageRequest {
                            page_size: 500,
                            page_token: page_token.clone(),
                        }),
                    },
                )
                .await?;
            let before = frontier.size();
            for entry in page.entries {
                if entry.log_index >= checkpoint.tree_size {
                    break;
                }
                if entry.log_index != frontier.size() {
                    break;
                }
                frontier.push(leaf_of(&entry.record_hash));
            }
            page_token = page.page.map(|p| p.next_page_token).unwrap_or_default();
            // A page that does not carry the log on (a gap, or a service repeating itself) ends
            // the reading: what is missing is said below.
            let stalled = frontier.size() == before;
            if page_token.is_empty() || stalled || frontier.size() >= checkpoint.tree_size {
                break;
            }
        }
        entries_checked = frontier.size();
        if entries_checked < checkpoint.tree_size {
            problems.push(format!(
                "the log entry at position {entries_checked} is missing: the log holds {entries_checked} of the {} entries its checkpoint covers",
                checkpoint.tree_size
            ));
        } else if frontier.root() != root {
            problems.push("the log's entries do not rebuild the checkpoint's root".to_owned());
        }
    }
    Ok(Audit {
        checkpoint,
        problems,
        entries_checked,
    })
}

//! Cases tied to other work: related cases, duplicates merged, and cases converted into change requests.

use super::*;

impl Registry {
    /// Relates two cases both ways (supporters); relating them again changes nothing.
    pub async fn relate(
        &self,
        caller: &Caller,
        id: &str,
        other: &str,
    ) -> Result<cases::Model, Error> {
        if !domain::is_supporter(caller) {
            return Err(Error::PermissionDenied(
                Reason::RoleRequired,
                "cases are related by the supplier's support".into(),
            ));
        }
        if id == other {
            return Err(Error::invalid(
                "related_case_id",
                "a case cannot be related to itself",
            ));
        }
        let txn = kommune_platform::db::begin(&self.db).await?;
        let first = self.case(&txn, caller, id, None).await?;
        let second = cases::find(&txn, other)
            .await?
            .ok_or_else(|| Error::not_found_field("case", other, "related_case_id"))?;
        let mut related = Vec::with_capacity(2);
        for (mut case, partner) in [(first, other.to_owned()), (second, id.to_owned())] {
            let mut list = case.related_cases();
            if !list.contains(&partner) {
                list.push(partner.clone());
                case.related = json_list(&list)?;
                case = self
                    .changed(
                        &txn,
                        caller,
                        case,
                        "relate",
                        json!({"related_case_id": partner}),
                    )
                    .await?;
            }
            related.push(case);
        }
        txn.commit().await?;
        self.outbox.notify_committed();
        related
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("no case"))
    }

    /// Merges a duplicate into another case of the same municipality (supporters).
    pub async fn merge(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        into: &str,
    ) -> Result<cases::Model, Error> {
        if !domain::is_supporter(caller) {
            return Err(Error::PermissionDenied(
                Reason::RoleRequired,
                "duplicates are merged by the supplier's support".into(),
            ));
        }
        if id == into {
            return Err(Error::invalid(
                "into_case_id",
                "a case cannot be merged into itself",
            ));
        }
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut duplicate = self.case(&txn, caller, id, Some(expected_version)).await?;
        let mut target = cases::find(&txn, into)
            .await?
            .ok_or_else(|| Error::not_found_field("case", into, "into_case_id"))?;
        if target.municipality_id != duplicate.municipality_id {
            return Err(Error::invalid(
                "into_case_id",
                "must be a case of the same municipality",
            ));
        }
        if duplicate.merged_into.is_some() || target.merged_into.is_some() {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                "a merged case cannot take part in another merge".into(),
            ));
        }
        let mut related = target.related_cases();
        related.push(duplicate.id.clone());
        target.related = json_list(&related)?;
        let target = self
            .changed(
                &txn,
                caller,
                target,
                "merge in",
                json!({"duplicate": duplicate.id}),
            )
            .await?;
        duplicate.state = CaseState::Resolved.into();
        duplicate.resolution = Resolution::Duplicate.into();
        duplicate.resolved_at = Some(now);
        duplicate.merged_into = Some(target.id.clone());
        let duplicate = self
            .changed(&txn, caller, duplicate, "merge", json!({"into": target.id}))
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(duplicate)
    }

    /// Converts a case into a change request (the supplier's and the consortium's step): the changes
    /// service creates it on the caller's behalf, keyed by the case, and the case stores its id. A
    /// case that already names a change request is returned as it is.
    pub async fn convert_to_change_request(
        &self,
        caller: &Caller,
        id: &str,
        theme_id: String,
    ) -> Result<cases::Model, Error> {
        caller.require_any_role(
            &[
                Role::SupplierSecondLine,
                Role::ThirdLineSpecialist,
                Role::ConsortiumAdmin,
            ],
            "converting a case into a change request",
        )?;
        let case = self.get_case(caller, id).await?;
        if !case.change_request_id.is_empty() {
            return Ok(case);
        }
        let request = kommune_proto::changes::v1::CreateChangeRequestRequest {
            idempotency_key: format!("case:{}", case.id),
            theme_id,
            title: case.title.clone(),
            description: case.description.clone(),
            asking_municipality_id: case.municipality_id.clone(),
            source_case_id: case.id.clone(),
            ..Default::default()
        };
        let created = self.peers.create_change_request(caller, request).await?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut case = self.case(&txn, caller, id, None).await?;
        if !case.change_request_id.is_empty() {
            return Ok(case);
        }
        case.change_request_id = created.change_request_id.clone();
        let payload = json!({"change_request_id": created.change_request_id, "key": created.key});
        let case = self.changed(&txn, caller, case, "convert", payload).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(case)
    }
}

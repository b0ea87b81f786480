//! `EligibilityService`: who may open support cases, the quota and the billing report.

use super::*;

// Eligibility.

const NOTE_MAX: usize = 2000;

fn date(v: &mut Validator, field: &str, value: &str) -> Option<NaiveDate> {
    if value.trim().is_empty() {
        v.violation(field, "is required");
        return None;
    }
    optional_date(v, field, value)
}

fn optional_date(v: &mut Validator, field: &str, value: &str) -> Option<NaiveDate> {
    if value.trim().is_empty() {
        return None;
    }
    eligibility::parse_date(value)
        .map_err(|description| v.violation(field, description))
        .ok()
}

fn registration(r: eligibility_registrations::Model) -> pb::EligibilityRegistration {
    pb::EligibilityRegistration {
        registration_id: r.id,
        user_id: r.user_id,
        municipality_id: r.municipality_id,
        valid_from: format_date(r.valid_from),
        valid_to: r.valid_to.map(format_date).unwrap_or_default(),
        version: r.version,
        create_time: Some(to_timestamp(r.created_at)),
    }
}

fn change(c: eligibility_changes::Model) -> pb::EligibilityChange {
    pb::EligibilityChange {
        change_id: c.id,
        kind: *c.kind as i32,
        municipality_id: c.municipality_id,
        requested_by: c.requested_by,
        request_time: Some(to_timestamp(c.requested_at)),
        registration_id: c.registration_id,
        replaced_registration_id: c.replaced_registration_id.unwrap_or_default(),
        effective_date: format_date(c.effective_date),
        note: c.note,
    }
}

fn quota(
    municipality_id: Uuid,
    date: NaiveDate,
    baseline_date: NaiveDate,
    q: eligibility::Quota,
) -> pb::Quota {
    pb::Quota {
        municipality_id: municipality_id.to_string(),
        date: format_date(date),
        eligible_count: q.eligible as i64,
        baseline_date: format_date(baseline_date),
        baseline: q.baseline as i64,
        billable_extra: q.billable_extra as i64,
    }
}

#[tonic::async_trait]
impl pb::eligibility_service_server::EligibilityService for IdentityApi {
    async fn register_eligible_user(
        &self,
        request: Request<pb::RegisterEligibleUserRequest>,
    ) -> Result<Response<pb::RegisterEligibleUserResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let user_id = v.id("user_id", &req.user_id);
        let municipality_id = v.id("municipality_id", &req.municipality_id);
        let first = date(&mut v, "valid_from", &req.valid_from);
        let last = optional_date(&mut v, "valid_to", &req.valid_to);
        let note = v.optional_text("note", &req.note, NOTE_MAX);
        let period = first.and_then(|first| {
            eligibility::Period::new(first, last)
                .map_err(|e| v.violation("valid_to", e.to_string()))
                .ok()
        });
        v.finish()?;
        let (Some(user_id), Some(municipality_id), Some(period)) =
            (user_id, municipality_id, period)
        else {
            return Err(Error::invalid("valid_from", "is required").into());
        };
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "RegisterEligibleUser", &key, &req)?;
        let new = NewEligibility {
            user_id,
            municipality_id,
            period,
            note,
        };
        let applied = self
            .registry
            .register_eligible_user(&caller, new, key)
            .await?;
        Ok(Response::new(pb::RegisterEligibleUserResponse {
            registration: Some(registration(applied.registration)),
            change: Some(change(applied.change)),
        }))
    }

    async fn replace_eligible_user(
        &self,
        request: Request<pb::ReplaceEligibleUserRequest>,
    ) -> Result<Response<pb::ReplaceEligibleUserResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let replaced = v.id("replaced_registration_id", &req.replaced_registration_id);
        let new_user = v.id("new_user_id", &req.new_user_id);
        let effective = date(&mut v, "effective_date", &req.effective_date);
        let last = optional_date(&mut v, "valid_to", &req.valid_to);
        let note = v.optional_text("note", &req.note, NOTE_MAX);
        v.finish()?;
        let (Some(replaced_registration_id), Some(new_user_id), Some(effective)) =
            (replaced, new_user, effective)
        else {
            return Err(Error::invalid("effective_date", "is required").into());
        };
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "ReplaceEligibleUser", &key, &req)?;
        let replacement = Replacement {
            replaced_registration_id,
            new_user_id,
            effective,
            last,
            note,
        };
        let applied = self
            .registry
            .replace_eligible_user(&caller, replacement, key)
            .await?;
        Ok(Response::new(pb::ReplaceEligibleUserResponse {
            registration: Some(registration(applied.registration)),
            replaced_registration: applied.replaced.map(registration),
            change: Some(change(applied.change)),
        }))
    }

    async fn stop_eligibility(
        &self,
        request: Request<pb::StopEligibilityRequest>,
    ) -> Result<Response<pb::StopEligibilityResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let registration_id = v.id("registration_id", &req.registration_id);
        let last = date(&mut v, "valid_to", &req.valid_to);
        let note = v.optional_text("note", &req.note, NOTE_MAX);
        v.finish()?;
        let (Some(registration_id), Some(last)) = (registration_id, last) else {
            return Err(Error::invalid("valid_to", "is required").into());
        };
        let applied = self
            .registry
            .stop_eligibility(
                &caller,
                Stop {
                    registration_id,
                    last,
                    note,
                },
            )
            .await?;
        Ok(Response::new(pb::StopEligibilityResponse {
            registration: Some(registration(applied.registration)),
            change: Some(change(applied.change)),
        }))
    }

    async fn check_eligibility(
        &self,
        request: Request<pb::CheckEligibilityRequest>,
    ) -> Result<Response<pb::CheckEligibilityResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let user_id = v.id("user_id", &req.user_id);
        let municipality_id = v.id("municipality_id", &req.municipality_id);
        let at = req.time.as_ref().and_then(|t| {
            let time = from_timestamp(t);
            if time.is_none() {
                v.violation("time", "is not a valid time");
            }
            time
        });
        v.finish()?;
        let (Some(user_id), Some(municipality_id)) = (user_id, municipality_id) else {
            return Err(Error::invalid("user_id", "is required").into());
        };
        let answer = self
            .registry
            .check_eligibility(&caller, user_id, municipality_id, at)
            .await?;
        Ok(Response::new(pb::CheckEligibilityResponse {
            eligible: answer.registration.is_some(),
            registration: answer.registration.map(registration),
            date: format_date(answer.date),
        }))
    }

    async fn list_eligibility_registrations(
        &self,
        request: Request<pb::ListEligibilityRegistrationsRequest>,
    ) -> Result<Response<pb::ListEligibilityRegistrationsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let municipality_id = v.id("municipality_id", &req.municipality_id);
        let user_id = v.optional_id("user_id", &req.user_id);
        v.finish()?;
        let municipality_id =
            municipality_id.ok_or_else(|| Error::invalid("municipality_id", "is required"))?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self
            .registry
            .list_eligibility_registrations(&caller, municipality_id, user_id, &page)
            .await?;
        Ok(Response::new(pb::ListEligibilityRegistrationsResponse {
            registrations: rows.into_iter().map(registration).collect(),
            page: Some(page),
        }))
    }

    async fn list_eligibility_changes(
        &self,
        request: Request<pb::ListEligibilityChangesRequest>,
    ) -> Result<Response<pb::ListEligibilityChangesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let municipality_id = required_id("municipality_id", &req.municipality_id)?;
        let municipality_id = Uuid::parse_str(&municipality_id).map_err(Error::internal)?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self
            .registry
            .list_eligibility_changes(&caller, municipality_id, &page)
            .await?;
        Ok(Response::new(pb::ListEligibilityChangesResponse {
            changes: rows.into_iter().map(change).collect(),
            page: Some(page),
        }))
    }

    async fn get_quota(
        &self,
        request: Request<pb::GetQuotaRequest>,
    ) -> Result<Response<pb::GetQuotaResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let municipality_id = v.id("municipality_id", &req.municipality_id);
        let date = optional_date(&mut v, "date", &req.date);
        v.finish()?;
        let municipality_id =
            municipality_id.ok_or_else(|| Error::invalid("municipality_id", "is required"))?;
        let (date, q) = self.registry.quota(&caller, municipality_id, date).await?;
        Ok(Response::new(pb::GetQuotaResponse {
            quota: Some(quota(
                municipality_id,
                date,
                self.registry.baseline_date(),
                q,
            )),
        }))
    }

    async fn get_billing_report(
        &self,
        request: Request<pb::GetBillingReportRequest>,
    ) -> Result<Response<pb::GetBillingReportResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let first = date(&mut v, "first_day", &req.first_day);
        let last = date(&mut v, "last_day", &req.last_day);
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        if let (Some(first), Some(last)) = (first, last) {
            v.check("last_day", eligibility::check_billing_period(first, last));
        }
        v.finish()?;
        let (Some(first), Some(last)) = (first, last) else {
            return Err(Error::invalid("first_day", "is required").into());
        };
        let lines = self
            .registry
            .billing_report(&caller, first, last, municipality_id)
            .await?;
        Ok(Response::new(pb::GetBillingReportResponse {
            first_day: format_date(first),
            last_day: format_date(last),
            baseline_date: format_date(self.registry.baseline_date()),
            lines: lines
                .into_iter()
                .map(|line| pb::BillingLine {
                    municipality_id: line.municipality_id,
                    baseline: line.billing.baseline as i64,
                    extra_user_days: line.billing.extra_user_days as i64,
                    peak_eligible: line.billing.peak_eligible as i64,
                    peak_billable_extra: line.billing.peak_billable_extra as i64,
                })
                .collect(),
        }))
    }
}

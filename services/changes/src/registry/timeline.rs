//! Releases on the 42-week timeline and the change requests they carry.

use super::*;

impl Registry {
    /// Creates a release (consortium admins).
    pub async fn create_release(
        &self,
        caller: &Caller,
        name: String,
        release_date: NaiveDate,
    ) -> Result<releases::Model, Error> {
        caller.require_any_role(&ADMINS, "creating a release")?;
        Timeline::new(release_date)
            .ok_or_else(|| Error::invalid("release_date", "is too far from today"))?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let release = releases::insert(
            &txn,
            releases::Model {
                id: Uuid::now_v7().to_string(),
                name,
                release_date,
                created_at: self.clock.now(),
            },
        )
        .await?;
        self.audit(
            &txn,
            caller,
            "release",
            &release.id,
            "create",
            json!({"name": release.name, "release_date": release.release_date}),
        )
        .await?;
        txn.commit().await?;
        Ok(release)
    }

    /// One release with its timeline.
    pub async fn release(&self, id: &str) -> Result<(releases::Model, Timeline), Error> {
        let release = releases::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("release", id))?;
        let timeline = Timeline::new(release.release_date)
            .ok_or_else(|| Error::internal("a stored release has no timeline"))?;
        Ok((release, timeline))
    }

    /// Every release with its timeline.
    pub async fn releases(&self) -> Result<Vec<(releases::Model, Timeline)>, Error> {
        releases::all(&self.db)
            .await?
            .into_iter()
            .map(|r| {
                Timeline::new(r.release_date)
                    .map(|t| (r, t))
                    .ok_or_else(|| Error::internal("a stored release has no timeline"))
            })
            .collect()
    }

    /// Plans a change request under assessment for a release, inside its selection window (consortium admins).
    pub async fn add_to_release(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        release_id: &str,
    ) -> Result<change_requests::Model, Error> {
        caller.require_any_role(&ADMINS, "planning a release")?;
        let (release, timeline) = self
            .release(release_id)
            .await
            .map_err(|_| Error::not_found_field("release", release_id, "release_id"))?;
        let today = self.today();
        if !timeline.selection_open_on(today) {
            let window = timeline.span(Phase::Selection);
            return Err(Error::FailedPrecondition(
                Reason::OutsideWindow,
                format!(
                    "release {} selects change requests from {} to {}, not on {today}",
                    release.name, window.first_day, window.last_day
                ),
            ));
        }
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut cr = self.for_update(&txn, id, expected_version).await?;
        if cr.release_id.is_some() {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                "the change request is already planned for a release; drop it first".into(),
            ));
        }
        self.require_move(&txn, cr.status_code, codes::SELECTED)
            .await?;
        cr.status_code = codes::SELECTED;
        cr.release_id = Some(release.id.clone());
        let cr = self
            .changed(
                &txn,
                caller,
                cr,
                "release",
                json!({"release_id": release.id}),
            )
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(cr)
    }

    /// Drops a change request from its release with a reason; it goes back to assessment (consortium admins).
    pub async fn drop_from_release(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        reason: String,
    ) -> Result<change_requests::Model, Error> {
        caller.require_any_role(&ADMINS, "planning a release")?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut cr = self.for_update(&txn, id, expected_version).await?;
        let Some(release) = cr.release_id.take() else {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                "the change request is in no release".into(),
            ));
        };
        self.require_move(&txn, cr.status_code, codes::UNDER_ASSESSMENT)
            .await?;
        cr.status_code = codes::UNDER_ASSESSMENT;
        cr.drop_reason = reason;
        let payload = json!({"release_id": release, "reason": cr.drop_reason});
        let cr = self.changed(&txn, caller, cr, "drop", payload).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(cr)
    }

    /// Moves a release's change requests on to the status of the phase it is in today (consortium
    /// admins); a change request only ever moves forward. Returns how many moved.
    pub async fn advance_release(&self, caller: &Caller, id: &str) -> Result<u64, Error> {
        caller.require_any_role(&ADMINS, "advancing a release")?;
        let (release, timeline) = self.release(id).await?;
        self.advance(caller, &release, &timeline).await
    }

    /// Moves every release's change requests on to the status of today's phase, in the name of the
    /// timeline itself: run periodically, so statuses follow the timeline without anyone asking.
    /// Returns how many moved.
    pub async fn advance_releases(&self) -> Result<u64, Error> {
        let timeline = Caller::system("release timeline");
        let mut moved = 0;
        for (release, release_timeline) in self.releases().await? {
            moved += self.advance(&timeline, &release, &release_timeline).await?;
        }
        Ok(moved)
    }

    async fn advance(
        &self,
        caller: &Caller,
        release: &releases::Model,
        timeline: &Timeline,
    ) -> Result<u64, Error> {
        let Some(phase) = timeline.phase_on(self.today()) else {
            return Ok(0);
        };
        let target = domain::status_for_phase(phase);
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut moved = 0;
        for mut cr in change_requests::of_release(&txn, &release.id).await? {
            if cr.status_code >= target {
                continue;
            }
            let from = std::mem::replace(&mut cr.status_code, target);
            self.changed(
                &txn,
                caller,
                cr,
                "phase",
                json!({"from": from, "to": target, "phase": phase.name()}),
            )
            .await?;
            moved += 1;
        }
        txn.commit().await?;
        if moved > 0 {
            self.outbox.notify_committed();
        }
        Ok(moved)
    }
}

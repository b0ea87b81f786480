//! Reference data owned by the cases service: systems, teams and areas (consortium admins edit them).

use serde_json::json;
use uuid::Uuid;

use kommune_platform::Error;
use kommune_platform::auth::Caller;
use kommune_platform::db::update_versioned;
use kommune_platform::records::AuditTrail as _;
use kommune_proto::cases::v1::SupportLine;
use kommune_proto::identity::v1::Role;

use super::Registry;
use crate::store::{areas, systems, teams};

impl Registry {
    /// Registers a system.
    pub async fn create_system(
        &self,
        caller: &Caller,
        mut system: systems::Model,
    ) -> Result<systems::Model, Error> {
        caller.require_any_role(&[Role::ConsortiumAdmin], "registering a system")?;
        system.id = Uuid::now_v7().to_string();
        system.version = 1;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let system = systems::insert(&txn, system).await?;
        let payload = json!({
            "name": system.name,
            "chain_responsibility": system.chain_responsibility,
            "where_to_turn": system.where_to_turn,
        });
        self.audit_created(&txn, caller, "system", &system.id, "create", payload)
            .await?;
        txn.commit().await?;
        Ok(system)
    }

    /// Every system.
    pub async fn list_systems(&self) -> Result<Vec<systems::Model>, Error> {
        systems::all(&self.db).await
    }

    /// Registers a team.
    pub async fn create_team(
        &self,
        caller: &Caller,
        name: String,
        line: SupportLine,
        members: Vec<String>,
    ) -> Result<teams::Model, Error> {
        caller.require_any_role(&[Role::ConsortiumAdmin], "registering a team")?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let team = teams::insert(
            &txn,
            teams::Model {
                id: Uuid::now_v7().to_string(),
                name,
                line: line.into(),
                members: serde_json::to_string(&members).map_err(Error::internal)?,
                version: 1,
            },
        )
        .await?;
        self.audit(
            &txn,
            caller,
            "team",
            &team.id,
            "create",
            json!({"name": team.name, "line": team.line, "members": members}),
        )
        .await?;
        txn.commit().await?;
        Ok(team)
    }

    /// Every team.
    pub async fn list_teams(&self) -> Result<Vec<teams::Model>, Error> {
        teams::all(&self.db).await
    }

    /// Registers an area with its 2nd-line team.
    pub async fn create_area(
        &self,
        caller: &Caller,
        name: String,
        team_id: String,
    ) -> Result<areas::Model, Error> {
        caller.require_any_role(&[Role::ConsortiumAdmin], "registering an area")?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let team = teams::find(&txn, &team_id)
            .await?
            .ok_or_else(|| Error::not_found_field("team", &team_id, "area.team_id"))?;
        if team.line != SupportLine::Second.into() {
            return Err(Error::invalid("area.team_id", "must be a 2nd-line team"));
        }
        let area = areas::insert(
            &txn,
            areas::Model {
                id: Uuid::now_v7().to_string(),
                name,
                team_id,
                version: 1,
            },
        )
        .await?;
        self.audit(
            &txn,
            caller,
            "area",
            &area.id,
            "create",
            json!({"name": area.name, "team_id": area.team_id}),
        )
        .await?;
        txn.commit().await?;
        Ok(area)
    }

    /// Every area.
    pub async fn list_areas(&self) -> Result<Vec<areas::Model>, Error> {
        areas::all(&self.db).await
    }
}

impl Registry {
    /// Replaces a system's settings (consortium admins); `changed.version` is the version read.
    pub async fn update_system(
        &self,
        caller: &Caller,
        mut changed: systems::Model,
    ) -> Result<systems::Model, Error> {
        caller.require_any_role(&[Role::ConsortiumAdmin], "changing a system")?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        systems::find(&txn, &changed.id)
            .await?
            .ok_or_else(|| Error::not_found_field("system", &changed.id, "system.system_id"))?;
        changed.version += 1;
        let system = update_versioned(&txn, changed).await?;
        let payload = json!({
            "name": system.name,
            "chain_responsibility": system.chain_responsibility,
            "where_to_turn": system.where_to_turn,
            "outage_report_threshold": system.outage_report_threshold,
            "outage_window_minutes": system.outage_window_minutes,
            "outage_distinct_reporters": system.outage_distinct_reporters,
        });
        self.audit(&txn, caller, "system", &system.id, "update", payload)
            .await?;
        txn.commit().await?;
        Ok(system)
    }

    /// Replaces a team's name and members (consortium admins); its line stays.
    pub async fn update_team(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        name: String,
        members: Vec<String>,
    ) -> Result<teams::Model, Error> {
        caller.require_any_role(&[Role::ConsortiumAdmin], "changing a team")?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let team = teams::find(&txn, id)
            .await?
            .ok_or_else(|| Error::not_found_field("team", id, "team.team_id"))?;
        let changed = teams::Model {
            name,
            members: serde_json::to_string(&members).map_err(Error::internal)?,
            version: expected_version + 1,
            ..team
        };
        let team = update_versioned(&txn, changed).await?;
        self.audit(
            &txn,
            caller,
            "team",
            &team.id,
            "update",
            json!({"name": team.name, "members": members}),
        )
        .await?;
        txn.commit().await?;
        Ok(team)
    }

    /// Replaces an area's name and 2nd-line team (consortium admins).
    pub async fn update_area(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        name: String,
        team_id: String,
    ) -> Result<areas::Model, Error> {
        caller.require_any_role(&[Role::ConsortiumAdmin], "changing an area")?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        areas::find(&txn, id)
            .await?
            .ok_or_else(|| Error::not_found_field("area", id, "area.area_id"))?;
        let team = teams::find(&txn, &team_id)
            .await?
            .ok_or_else(|| Error::not_found_field("team", &team_id, "area.team_id"))?;
        if team.line != SupportLine::Second.into() {
            return Err(Error::invalid("area.team_id", "must be a 2nd-line team"));
        }
        let area = update_versioned(
            &txn,
            areas::Model {
                id: id.to_owned(),
                name,
                team_id,
                version: expected_version + 1,
            },
        )
        .await?;
        self.audit(
            &txn,
            caller,
            "area",
            &area.id,
            "update",
            json!({"name": area.name, "team_id": area.team_id}),
        )
        .await?;
        txn.commit().await?;
        Ok(area)
    }
}

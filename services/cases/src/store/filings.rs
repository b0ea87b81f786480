//! Filings counted per hour, place and system as they happen (in the filing's transaction), so the
//! monthly counts sum a few rows per place and hour instead of counting every case of a month. A case's
//! municipality, area and system never change after filing, so the counts stay exact. The system is in
//! the key so that a count row is only ever updated under its system's turn for filing (which the
//! filing holds already): filings of different systems never wait for each other's counts.

use sea_orm::ConnectionTrait;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{QuerySelect, Set};

use kommune_platform::Error;

/// One place's filings of one system in one hour.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "filings_by_hour")]
pub struct Model {
    /// Hours since the Unix epoch (UTC).
    #[sea_orm(primary_key, auto_increment = false)]
    pub hour: i64,
    /// The filing municipality.
    #[sea_orm(primary_key, auto_increment = false)]
    pub municipality_id: String,
    /// The area filed in.
    #[sea_orm(primary_key, auto_increment = false)]
    pub area_id: String,
    /// The system filed about (empty in the counts made before systems were counted apart).
    #[sea_orm(primary_key, auto_increment = false)]
    pub system_id: String,
    /// Cases filed.
    pub filed: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

const SECONDS_PER_HOUR: i64 = 3600;

/// The hour `at` falls in, in hours since the Unix epoch.
fn hour_of(at: DateTimeUtc) -> i64 {
    at.timestamp().div_euclid(SECONDS_PER_HOUR)
}

/// The first whole hour at or after `at`.
fn hour_from(at: DateTimeUtc) -> i64 {
    (at.timestamp() + SECONDS_PER_HOUR - 1).div_euclid(SECONDS_PER_HOUR)
}

/// Counts the filing of `case`, in its transaction `txn` (which holds the system's turn for filing).
pub async fn count(txn: &impl ConnectionTrait, case: &super::cases::Model) -> Result<(), Error> {
    let filing = ActiveModel {
        hour: Set(hour_of(case.created_at)),
        municipality_id: Set(case.municipality_id.clone()),
        area_id: Set(case.area_id.clone()),
        system_id: Set(case.system_id.clone()),
        filed: Set(1),
    };
    Entity::insert(filing)
        .on_conflict(
            OnConflict::columns([
                Column::Hour,
                Column::MunicipalityId,
                Column::AreaId,
                Column::SystemId,
            ])
            .value(Column::Filed, Expr::col((Entity, Column::Filed)).add(1))
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Cases filed in `from..until`, counted by municipality and area. The bounds are whole hours (a
/// Copenhagen month begins on one), or are taken to the next whole hour.
pub async fn per_place(
    db: &impl ConnectionTrait,
    from: DateTimeUtc,
    until: DateTimeUtc,
) -> Result<Vec<(String, String, i64)>, Error> {
    Ok(Entity::find()
        .select_only()
        .column(Column::MunicipalityId)
        .column(Column::AreaId)
        .column_as(Expr::cust("CAST(SUM(\"filed\") AS BIGINT)"), "filed")
        .filter(Column::Hour.gte(hour_from(from)))
        .filter(Column::Hour.lt(hour_from(until)))
        .group_by(Column::MunicipalityId)
        .group_by(Column::AreaId)
        .into_tuple()
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn hours_count_from_the_epoch_and_bounds_round_up() {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 11, 30, 23, 0, 0)
            .unwrap();
        assert_eq!(hour_of(at), at.timestamp() / 3600);
        assert_eq!(hour_from(at), hour_of(at));
        let later = at + chrono::Duration::seconds(1);
        assert_eq!(hour_of(later), hour_of(at));
        assert_eq!(hour_from(later), hour_of(at) + 1);
    }
}

//! The numbers people read (`SAG-000123`, `DRIFT-000012`), from the platform's number series.

use sea_orm::ConnectionTrait;

use kommune_platform::Error;

/// What is numbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbered {
    /// Cases.
    Case,
    /// Incidents.
    Incident,
}

/// The next number of `what`.
pub async fn next(txn: &impl ConnectionTrait, what: Numbered) -> Result<i64, Error> {
    let series = match what {
        Numbered::Case => "case",
        Numbered::Incident => "incident",
    };
    kommune_platform::numbers::next(txn, series).await
}

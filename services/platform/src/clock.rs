//! The one source of time. Services read the clock they were built with, so tests control time.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, SubsecRound, Utc};

/// A source of the current time (UTC).
pub trait Clock: Send + Sync + 'static {
    /// The current instant, truncated to microseconds so it round-trips through every database.
    fn now(&self) -> DateTime<Utc>;
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// A clock that stands still until moved; for tests.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start.trunc_subsecs(6))))
    }

    /// Sets the time.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.lock() = now.trunc_subsecs(6);
    }

    /// Moves the time forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        *now += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // A poisoned lock only means another test thread panicked; the time itself is still valid.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

/// The calendar day an instant falls on in Copenhagen, where every kommune date (eligibility periods,
/// deadlines, releases) is counted.
pub fn copenhagen_date(instant: DateTime<Utc>) -> chrono::NaiveDate {
    copenhagen_wall_clock(instant).date()
}

/// The Copenhagen wall-clock time of an instant.
pub fn copenhagen_wall_clock(instant: DateTime<Utc>) -> chrono::NaiveDateTime {
    use chrono::{Offset, TimeZone};
    // Not `DateTime::naive_local`, which panics when the local time is past the end of chrono's
    // range; there the UTC time is the nearest that exists.
    let utc = instant.naive_utc();
    let offset = chrono_tz::Europe::Copenhagen
        .offset_from_utc_datetime(&utc)
        .fix();
    utc.checked_add_offset(offset).unwrap_or(utc)
}

/// Converts a time to its protobuf form.
pub fn to_timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    }
}

/// Converts a protobuf time, if it is a valid instant.
pub fn from_timestamp(timestamp: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(timestamp.nanos).ok()?;
    DateTime::from_timestamp(timestamp.seconds, nanos).map(|t| t.trunc_subsecs(6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::minutes(5));
        assert_eq!(clock.now(), start + Duration::minutes(5));
    }

    #[test]
    fn timestamps_round_trip_and_reject_invalid_nanos() {
        let time = DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap_or_default();
        assert_eq!(from_timestamp(&to_timestamp(time)), Some(time));
        let bad = prost_types::Timestamp {
            seconds: 0,
            nanos: -1,
        };
        assert_eq!(from_timestamp(&bad), None);
    }
}

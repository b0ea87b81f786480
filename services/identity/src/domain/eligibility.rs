//! Support eligibility as plain rules: periods of calendar days, the three changes, and the quota.
//!
//! Days are calendar days in Europe/Copenhagen; a period holds every day from its first to its last,
//! both inclusive, or with no last day until further notice.

use chrono::{Days, NaiveDate};

/// The day each municipality's baseline is counted on, unless configured otherwise.
pub const DEFAULT_BASELINE_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2023, 1, 1) {
    Some(date) => date,
    None => panic!("2023-01-01 is a date"),
};

/// The longest billing period, in days.
pub const MAX_BILLING_DAYS: u64 = 366;

pub use kommune_platform::clock::copenhagen_date;

/// Parses `YYYY-MM-DD`.
pub fn parse_date(value: &str) -> Result<NaiveDate, BadDate> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| BadDate)
}

/// A date not written `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a date written YYYY-MM-DD")]
pub struct BadDate;

/// A billing period that cannot be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BillingPeriodError {
    /// It ends before it starts.
    #[error("must not come before first_day")]
    EndsBeforeStart,
    /// It is longer than a report covers.
    #[error("must be at most {MAX_BILLING_DAYS} days after first_day")]
    TooLong,
}

/// Why an eligibility change cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EligibilityError {
    /// The last day comes before the first.
    #[error("the last valid day comes before the first")]
    EndsBeforeStart,
    /// The registration ended before today.
    #[error("the registration ended on {0}")]
    AlreadyEnded(NaiveDate),
    /// A stop may shorten a registration, never lengthen it.
    #[error("a stop cannot move the last valid day later than {0}")]
    WouldExtend(NaiveDate),
    /// A replacement must take effect after the replaced registration starts and while it is valid.
    #[error("the replaced registration is not valid on {0}, the day before the replacement")]
    NotValidBeforeReplacement(NaiveDate),
}

/// The days a registration is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First valid day.
    pub first: NaiveDate,
    /// Last valid day; `None` until further notice.
    pub last: Option<NaiveDate>,
}

impl Period {
    /// A period, if its last day does not come before its first.
    pub fn new(first: NaiveDate, last: Option<NaiveDate>) -> Result<Self, EligibilityError> {
        match last {
            Some(last) if last < first => Err(EligibilityError::EndsBeforeStart),
            _ => Ok(Self { first, last }),
        }
    }

    /// Whether `day` is in the period.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.first <= day && self.last.is_none_or(|last| day <= last)
    }

    /// Whether the two periods share a day.
    pub fn overlaps(&self, other: &Period) -> bool {
        self.last.is_none_or(|last| other.first <= last)
            && other.last.is_none_or(|last| self.first <= last)
    }

    fn require_not_ended(&self, today: NaiveDate) -> Result<(), EligibilityError> {
        match self.last {
            Some(last) if last < today => Err(EligibilityError::AlreadyEnded(last)),
            _ => Ok(()),
        }
    }

    /// A stop: the period ending on `last_day`. The registration must not have ended before `today`,
    /// and a stop only shortens.
    pub fn stopped(
        &self,
        last_day: NaiveDate,
        today: NaiveDate,
    ) -> Result<Period, EligibilityError> {
        self.require_not_ended(today)?;
        if let Some(last) = self.last
            && last_day > last
        {
            return Err(EligibilityError::WouldExtend(last));
        }
        Period::new(self.first, Some(last_day))
    }

    /// A replacement from `effective`: this period ends the day before. It must not have ended before
    /// `today` and must be valid on that day before.
    pub fn replaced_from(
        &self,
        effective: NaiveDate,
        today: NaiveDate,
    ) -> Result<Period, EligibilityError> {
        self.require_not_ended(today)?;
        let day_before = effective
            .pred_opt()
            .ok_or(EligibilityError::EndsBeforeStart)?;
        if !self.contains(day_before) {
            return Err(EligibilityError::NotValidBeforeReplacement(day_before));
        }
        Period::new(self.first, Some(day_before))
    }
}

/// How many periods hold `day`.
pub fn count_on(periods: &[Period], day: NaiveDate) -> u64 {
    periods.iter().filter(|p| p.contains(day)).count() as u64
}

/// A municipality's eligible users on one day, against its baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Registrations valid that day.
    pub eligible: u64,
    /// Registrations valid on the baseline date.
    pub baseline: u64,
    /// Eligible users beyond the baseline: billable.
    pub billable_extra: u64,
}

/// The quota of a municipality with `periods` on `day`.
pub fn quota(periods: &[Period], day: NaiveDate, baseline_date: NaiveDate) -> Quota {
    let eligible = count_on(periods, day);
    let baseline = count_on(periods, baseline_date);
    Quota {
        eligible,
        baseline,
        billable_extra: eligible.saturating_sub(baseline),
    }
}

/// A municipality's bill for a period. The unit is the extra user-day: each day, every eligible user
/// beyond the baseline counts one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Billing {
    /// Registrations valid on the baseline date.
    pub baseline: u64,
    /// The sum over the days of that day's billable extras.
    pub extra_user_days: u64,
    /// The most eligible users on any day.
    pub peak_eligible: u64,
    /// The most billable extras on any day.
    pub peak_billable_extra: u64,
}

/// The bill of a municipality with `periods` for the days `first..=last`.
pub fn billing(
    periods: &[Period],
    first: NaiveDate,
    last: NaiveDate,
    baseline_date: NaiveDate,
) -> Billing {
    let baseline = count_on(periods, baseline_date);
    let mut bill = Billing {
        baseline,
        ..Billing::default()
    };
    let mut day = first;
    while day <= last {
        let eligible = count_on(periods, day);
        let extra = eligible.saturating_sub(baseline);
        bill.extra_user_days += extra;
        bill.peak_eligible = bill.peak_eligible.max(eligible);
        bill.peak_billable_extra = bill.peak_billable_extra.max(extra);
        match day.checked_add_days(Days::new(1)) {
            Some(next) => day = next,
            None => break,
        }
    }
    bill
}

/// Checks a billing period: in order and at most [`MAX_BILLING_DAYS`] long.
pub fn check_billing_period(first: NaiveDate, last: NaiveDate) -> Result<(), BillingPeriodError> {
    if last < first {
        return Err(BillingPeriodError::EndsBeforeStart);
    }
    if (last - first).num_days() as u64 >= MAX_BILLING_DAYS {
        return Err(BillingPeriodError::TooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn day(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    fn period(first: &str, last: Option<&str>) -> Period {
        Period::new(day(first), last.map(day)).unwrap()
    }

    #[test]
    fn both_ends_of_a_period_are_valid_days() {
        let p = period("2024-03-01", Some("2024-03-31"));
        assert!(!p.contains(day("2024-02-29")));
        assert!(p.contains(day("2024-03-01")));
        assert!(p.contains(day("2024-03-31")));
        assert!(!p.contains(day("2024-04-01")));
        assert!(period("2024-03-01", None).contains(day("2099-12-31")));
        assert_eq!(
            Period::new(day("2024-03-02"), Some(day("2024-03-01"))),
            Err(EligibilityError::EndsBeforeStart)
        );
        assert!(Period::new(day("2024-03-01"), Some(day("2024-03-01"))).is_ok());
    }

    #[test]
    fn the_calendar_day_is_copenhagens() {
        // 23:30 UTC on 31 December is already New Year's Day in Copenhagen (UTC+1).
        let late = DateTime::parse_from_rfc3339("2023-12-31T23:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(copenhagen_date(late), day("2024-01-01"));
        // 22:30 UTC in summer is 00:30 the next day (UTC+2).
        let summer = DateTime::parse_from_rfc3339("2024-06-30T22:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(copenhagen_date(summer), day("2024-07-01"));
        assert!(parse_date("2024-13-01").is_err());
        assert!(parse_date("01-06-2024").is_err());
    }

    #[test]
    fn overlaps_share_at_least_one_day() {
        let march = period("2024-03-01", Some("2024-03-31"));
        assert!(march.overlaps(&period("2024-03-31", None)));
        assert!(!march.overlaps(&period("2024-04-01", None)));
        assert!(period("2024-01-01", None).overlaps(&period("2030-01-01", None)));
        assert!(!period("2024-04-01", None).overlaps(&march));
    }

    #[test]
    fn a_stop_shortens_an_open_registration_but_not_an_ended_one() {
        let today = day("2024-06-15");
        let open = period("2024-01-01", None);
        assert_eq!(
            open.stopped(day("2024-06-30"), today),
            Ok(period("2024-01-01", Some("2024-06-30")))
        );
        assert_eq!(
            open.stopped(day("2023-12-31"), today),
            Err(EligibilityError::EndsBeforeStart)
        );
        let ended = period("2024-01-01", Some("2024-06-14"));
        assert_eq!(
            ended.stopped(day("2024-06-10"), today),
            Err(EligibilityError::AlreadyEnded(day("2024-06-14")))
        );
        let ending = period("2024-01-01", Some("2024-06-20"));
        assert_eq!(
            ending.stopped(day("2024-07-01"), today),
            Err(EligibilityError::WouldExtend(day("2024-06-20")))
        );
    }

    #[test]
    fn a_replacement_ends_the_replaced_the_day_before() {
        let today = day("2024-06-15");
        let replaced = period("2024-01-01", None);
        assert_eq!(
            replaced.replaced_from(day("2024-07-01"), today),
            Ok(period("2024-01-01", Some("2024-06-30")))
        );
        // The first day itself cannot be replaced from: the replaced would end before it began.
        assert!(replaced.replaced_from(day("2024-01-01"), today).is_err());
        let ended = period("2023-01-01", Some("2024-05-31"));
        assert_eq!(
            ended.replaced_from(day("2024-07-01"), today),
            Err(EligibilityError::AlreadyEnded(day("2024-05-31")))
        );
    }

    #[test]
    fn billable_extras_are_counted_against_the_baseline_day() {
        let baseline_date = DEFAULT_BASELINE_DATE;
        let periods = [
            period("2022-01-01", None),               // counted in the baseline
            period("2022-06-01", Some("2022-12-31")), // ended the day before the baseline
            period("2023-01-01", Some("2023-01-31")), // starts on the baseline day: counted
            period("2023-01-02", None),               // the day after: an extra
            period("2023-02-01", Some("2023-02-10")), // an extra for ten days
        ];
        let q = |d: &str| quota(&periods, day(d), baseline_date);
        assert_eq!(
            q("2022-12-31"),
            Quota {
                eligible: 2,
                baseline: 2,
                billable_extra: 0
            }
        );
        assert_eq!(
            q("2023-01-01"),
            Quota {
                eligible: 2,
                baseline: 2,
                billable_extra: 0
            }
        );
        assert_eq!(
            q("2023-01-02"),
            Quota {
                eligible: 3,
                baseline: 2,
                billable_extra: 1
            }
        );
        assert_eq!(
            q("2023-02-05"),
            Quota {
                eligible: 3,
                baseline: 2,
                billable_extra: 1
            }
        );

        // February 2023: 28 days with two eligible users, plus ten days with three.
        let bill = billing(
            &periods,
            day("2023-02-01"),
            day("2023-02-28"),
            baseline_date,
        );
        assert_eq!(
            bill,
            Billing {
                baseline: 2,
                extra_user_days: 10,
                peak_eligible: 3,
                peak_billable_extra: 1
            }
        );
        // January 2023: the 1st has two eligible (no extra), the 2nd–31st three.
        let bill = billing(
            &periods,
            day("2023-01-01"),
            day("2023-01-31"),
            baseline_date,
        );
        assert_eq!(bill.extra_user_days, 30);
    }

    #[test]
    fn billing_periods_are_bounded() {
        assert!(check_billing_period(day("2024-01-01"), day("2024-12-31")).is_ok()); // 366 days
        assert!(check_billing_period(day("2023-01-01"), day("2024-01-01")).is_ok()); // 366 days
        assert!(check_billing_period(day("2024-01-01"), day("2025-01-01")).is_err()); // 367 days
        assert!(check_billing_period(day("2024-02-01"), day("2024-01-31")).is_err());
    }
}

//! The business calendar behind the SLA clocks of support cases.
//!
//! Working time is the time inside the opening hours (by default Monday–Friday 08:00–16:00) on
//! Danish working days, with opening hours read as wall-clock time in Europe/Copenhagen. A day's
//! opening interval is worked out in local time and only then converted to UTC, so 08:00 stays
//! 08:00 across daylight-saving changes.
//!
//! Public holidays follow Danish law, year by year: Store Bededag is a holiday up to and including
//! 2023 and an ordinary working day from 2024, when it was abolished. Christmas Eve (24 December) and
//! New Year's Eve (31 December) are not public holidays by law, but Danish service desks close on
//! them, so they count as closed days here.

use chrono::{
    DateTime, Datelike, Duration, MappedLocalTime, Months, NaiveDate, NaiveDateTime, NaiveTime,
    Offset, TimeZone, Utc, Weekday,
};
use chrono_tz::Europe::Copenhagen;

/// The last year with Store Bededag as a public holiday (abolished by law from 2024).
const LAST_STORE_BEDEDAG_YEAR: i32 = 2023;

/// How far ahead `add_working_time` looks for working time before giving up, in months
/// (20 years), so that a calendar with (almost) no working time cannot loop for ever.
const SEARCH_HORIZON_MONTHS: u32 = 20 * 12;

/// Days fixed by date: New Year's Day, Constitution Day, Christmas Eve, Christmas Day, Boxing Day
/// and New Year's Eve.
const FIXED_HOLIDAYS: [(u32, u32); 6] = [(1, 1), (6, 5), (12, 24), (12, 25), (12, 26), (12, 31)];

/// Holidays that move with Easter, in days from Easter Sunday: Maundy Thursday, Good Friday, Easter
/// Sunday, Easter Monday, Ascension Day, Whit Sunday and Whit Monday.
const EASTER_HOLIDAYS: [i64; 7] = [-3, -2, 0, 1, 39, 49, 50];

/// Store Bededag, the fourth Friday after Easter, in days from Easter Sunday.
const STORE_BEDEDAG: i64 = 26;

// Checked at compile time, so the standard hours cannot fail at run time.
const STANDARD_OPENS: NaiveTime = match NaiveTime::from_hms_opt(8, 0, 0) {
    Some(time) => time,
    None => panic!("08:00 is a time"),
};
const STANDARD_CLOSES: NaiveTime = match NaiveTime::from_hms_opt(16, 0, 0) {
    Some(time) => time,
    None => panic!("16:00 is a time"),
};

/// The Danish public holidays of `year` (dates on which support is closed), sorted.
///
/// New Year's Day, Maundy Thursday, Good Friday, Easter Sunday, Easter Monday, Store Bededag (only up
/// to and including 2023), Ascension Day, Whit Sunday, Whit Monday, Constitution Day (5 June),
/// Christmas Eve, Christmas Day, Boxing Day and New Year's Eve. A date that is two holidays at once
/// (Whit Sunday on 5 June, as in 2022) appears once. Dates outside chrono's range are left out.
pub fn danish_holidays(year: i32) -> Vec<NaiveDate> {
    let mut dates: Vec<NaiveDate> = FIXED_HOLIDAYS
        .iter()
        .filter_map(|&(month, day)| NaiveDate::from_ymd_opt(year, month, day))
        .collect();
    if let Some(easter) = easter_sunday(year) {
        let store_bededag = (year <= LAST_STORE_BEDEDAG_YEAR).then_some(STORE_BEDEDAG);
        dates.extend(
            EASTER_HOLIDAYS
                .iter()
                .copied()
                .chain(store_bededag)
                .filter_map(|offset| {
                    Duration::try_days(offset).and_then(|days| easter.checked_add_signed(days))
                }),
        );
    }
    dates.sort_unstable();
    dates.dedup();
    dates
}

/// Easter Sunday of `year` in the Gregorian calendar, by the anonymous algorithm
/// (Meeus/Jones/Butcher); `None` if the date is outside chrono's range.
fn easter_sunday(year: i32) -> Option<NaiveDate> {
    // i64 and Euclidean division keep every year in range and never overflow.
    let y = i64::from(year);
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let n = h + l - 7 * m + 114;
    let month = u32::try_from(n.div_euclid(31)).ok()?;
    let day = u32::try_from(n.rem_euclid(31) + 1).ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// Opening hours: which weekdays and the daily open and close times (local, Europe/Copenhagen).
///
/// The interval is half-open: support is open from `opens` up to, not including, `closes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpeningHours {
    /// The weekdays support is open (public holidays are closed regardless).
    pub days: Vec<Weekday>,
    /// Local time of opening.
    pub opens: NaiveTime,
    /// Local time of closing, after `opens` on the same day.
    pub closes: NaiveTime,
}

impl OpeningHours {
    /// Monday–Friday 08:00–16:00.
    pub fn standard() -> Self {
        Self {
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            opens: STANDARD_OPENS,
            closes: STANDARD_CLOSES,
        }
    }

    /// Validated constructor: closes after opens, at least one day. Err(String) says what is wrong.
    ///
    /// The days are stored Monday first and without repeats, so equal hours compare equal.
    ///
    /// # Errors
    ///
    /// If `days` is empty or `closes` is not after `opens`.
    pub fn new(days: Vec<Weekday>, opens: NaiveTime, closes: NaiveTime) -> Result<Self, String> {
        if days.is_empty() {
            return Err("opening hours need at least one weekday".to_owned());
        }
        if closes <= opens {
            return Err(format!(
                "closing time {closes} must be after opening time {opens}"
            ));
        }
        let mut days = days;
        days.sort_unstable_by_key(Weekday::num_days_from_monday);
        days.dedup();
        Ok(Self {
            days,
            opens,
            closes,
        })
    }
}

/// The business calendar: opening hours on Danish working days.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    hours: OpeningHours,
}

impl BusinessCalendar {
    /// A calendar with the given opening hours on Danish working days.
    pub fn new(hours: OpeningHours) -> Self {
        Self { hours }
    }

    /// Whether `date` is a working day (an opening weekday and not a Danish public holiday).
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.is_working_day_cached(date, &mut HolidayCache::default())
    }

    /// Working time between two instants (zero if `to <= from`): the overlap of [from, to) with opening
    /// hours on working days, in Copenhagen local time (mind DST changes: a day's opening interval is
    /// computed in local time and converted to UTC).
    ///
    /// The cost grows with the number of days between `from` and `to` (a century takes milliseconds).
    pub fn working_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let mut holidays = HolidayCache::default();
        let mut total = Duration::zero();
        // One day of margin before, in case an interval is pushed across midnight by an offset
        // change; clipping to [from, to) discards anything outside.
        let first = copenhagen_date(from);
        let mut date = first.pred_opt().unwrap_or(first);
        let last = copenhagen_date(to);
        loop {
            if let Some((open, close)) = self.opening_interval(date, &mut holidays) {
                let start = open.max(from);
                let end = close.min(to);
                if end > start {
                    // Cannot overflow within chrono's date range; saturate rather than panic.
                    total = total.checked_add(&(end - start)).unwrap_or(Duration::MAX);
                }
            }
            match date.succ_opt() {
                Some(next) if date < last => date = next,
                _ => break,
            }
        }
        total
    }

    /// The instant when `amount` of working time has elapsed after `from` (if `from` is outside opening
    /// hours, counting starts at the next opening). `amount` zero returns `from` moved to the next opening
    /// if outside hours, else `from`. When the amount runs out exactly at closing time, the answer is
    /// the closing time, not the next opening.
    ///
    /// The search is bounded, so it ends for any input: `None` if the working time is not reached
    /// within 20 years after `from` (on Copenhagen calendar days), if `amount` is negative, or if the
    /// answer would lie outside chrono's range.
    pub fn add_working_time(&self, from: DateTime<Utc>, amount: Duration) -> Option<DateTime<Utc>> {
        if amount < Duration::zero() {
            return None;
        }
        let mut holidays = HolidayCache::default();
        let mut remaining = amount;
        let first = copenhagen_date(from);
        let horizon = first
            .checked_add_months(Months::new(SEARCH_HORIZON_MONTHS))
            .unwrap_or(NaiveDate::MAX);
        // Same margin as in `working_time_between`, so the two always agree.
        let mut date = first.pred_opt().unwrap_or(first);
        while date <= horizon {
            if let Some((open, close)) = self.opening_interval(date, &mut holidays) {
                let start = open.max(from);
                if start < close {
                    let available = close - start;
                    if remaining <= available {
                        return start.checked_add_signed(remaining);
                    }
                    remaining = remaining.checked_sub(&available)?;
                }
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// Whether `date` is a working day, reusing the holidays of its year across calls.
    fn is_working_day_cached(&self, date: NaiveDate, holidays: &mut HolidayCache) -> bool {
        // The weekday check is cheap and settles most closed days before holidays are computed.
        self.hours.days.contains(&date.weekday()) && !holidays.contains(date)
    }

    /// The opening interval of `date` as UTC instants [open, close), or `None` on a closed day (or one
    /// whose interval is empty or outside chrono's range).
    fn opening_interval(
        &self,
        date: NaiveDate,
        holidays: &mut HolidayCache,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_working_day_cached(date, holidays) {
            return None;
        }
        let open = local_to_utc(date.and_time(self.hours.opens), Edge::Open)?;
        let close = local_to_utc(date.and_time(self.hours.closes), Edge::Close)?;
        // Hours built without `OpeningHours::new` may have closes <= opens: treat as closed.
        (open < close).then_some((open, close))
    }
}

/// The holidays of one year at a time, so walking day by day computes each year's holidays once.
#[derive(Default)]
struct HolidayCache {
    year: Option<i32>,
    dates: Vec<NaiveDate>,
}

impl HolidayCache {
    /// Whether `date` is a Danish public holiday.
    fn contains(&mut self, date: NaiveDate) -> bool {
        let year = date.year();
        if self.year != Some(year) {
            self.dates = danish_holidays(year);
            self.year = Some(year);
        }
        self.dates.binary_search(&date).is_ok()
    }
}

/// Which end of an opening interval a local time is, which decides how an ambiguous local time
/// (the repeated hour in autumn) is read: the interval takes the widest reading.
#[derive(Clone, Copy)]
enum Edge {
    Open,
    Close,
}

/// The Copenhagen calendar day an instant falls on.
fn copenhagen_date(instant: DateTime<Utc>) -> NaiveDate {
    copenhagen_wall_clock(instant).date()
}

/// The Copenhagen wall-clock time of an instant.
fn copenhagen_wall_clock(instant: DateTime<Utc>) -> NaiveDateTime {
    // Not `DateTime::naive_local`, which panics when the local time is past the end of chrono's
    // range; there the UTC time is the nearest that exists.
    let utc = instant.naive_utc();
    let offset = Copenhagen.offset_from_utc_datetime(&utc).fix();
    utc.checked_add_offset(offset).unwrap_or(utc)
}

/// The UTC instant of a Copenhagen wall-clock time. An ambiguous time opens at its earlier and closes
/// at its later reading; a time skipped by the spring change maps to the end of the gap, the first
/// instant whose wall-clock time is not before it.
fn local_to_utc(local: NaiveDateTime, edge: Edge) -> Option<DateTime<Utc>> {
    match Copenhagen.from_local_datetime(&local) {
        MappedLocalTime::Single(instant) => Some(instant.with_timezone(&Utc)),
        MappedLocalTime::Ambiguous(earlier, later) => Some(
            match edge {
                Edge::Open => earlier.min(later),
                Edge::Close => earlier.max(later),
            }
            .with_timezone(&Utc),
        ),
        MappedLocalTime::None => gap_end(local),
    }
}

/// The first instant whose Copenhagen wall-clock time is at or after `local`, for a `local` inside a
/// DST gap. chrono-tz does not expose transitions, so this bisects for the jump.
fn gap_end(local: NaiveDateTime) -> Option<DateTime<Utc>> {
    // Copenhagen's UTC offset is far below a day, so low is before and high after the gap.
    let day = Duration::try_days(1)?;
    let mut low = local.checked_sub_signed(day)?.and_utc();
    let mut high = local.checked_add_signed(day)?.and_utc();
    while high - low > Duration::nanoseconds(1) {
        let middle = low.checked_add_signed((high - low) / 2)?;
        if copenhagen_wall_clock(middle) < local {
            low = middle;
        } else {
            high = middle;
        }
    }
    Some(high)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn time(hour: u32, minute: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(hour, minute, 0).unwrap()
    }

    /// An unambiguous Copenhagen wall-clock time as a UTC instant.
    fn cph(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Copenhagen
            .with_ymd_and_hms(year, month, day, hour, minute, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn utc(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(year, month, day, hour, minute, 0)
            .single()
            .unwrap()
    }

    fn standard() -> BusinessCalendar {
        BusinessCalendar::new(OpeningHours::standard())
    }

    /// Opening hours on every day of the week, for tests of the night hours around DST changes.
    fn every_day(opens: NaiveTime, closes: NaiveTime) -> BusinessCalendar {
        let days = vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ];
        BusinessCalendar::new(OpeningHours::new(days, opens, closes).unwrap())
    }

    #[test]
    fn easter_sunday_of_known_years() {
        let known = [
            (2000, 4, 23),
            (2008, 3, 23),
            (2011, 4, 24),
            (2019, 4, 21),
            (2020, 4, 12),
            (2021, 4, 4),
            (2022, 4, 17),
            (2023, 4, 9),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2030, 4, 21),
            (2038, 4, 25),
            // Years where the algorithm's late-date correction applies, and the extremes.
            (1818, 3, 22),
            (1943, 4, 25),
            (1954, 4, 18),
            (1981, 4, 19),
            (2049, 4, 18),
            (2076, 4, 19),
            (2285, 3, 22),
        ];
        for (year, month, day) in known {
            assert_eq!(easter_sunday(year), Some(date(year, month, day)), "{year}");
        }
    }

    #[test]
    fn easter_sunday_is_a_sunday_between_22_march_and_25_april() {
        for year in 1583..=4099 {
            let easter = easter_sunday(year).unwrap();
            assert_eq!(easter.weekday(), Weekday::Sun, "{year}");
            assert!(
                easter >= date(year, 3, 22) && easter <= date(year, 4, 25),
                "{year}"
            );
        }
    }

    #[test]
    fn holidays_2023_include_store_bededag() {
        let expected = vec![
            date(2023, 1, 1),
            date(2023, 4, 6),
            date(2023, 4, 7),
            date(2023, 4, 9),
            date(2023, 4, 10),
            date(2023, 5, 5),
            date(2023, 5, 18),
            date(2023, 5, 28),
            date(2023, 5, 29),
            date(2023, 6, 5),
            date(2023, 12, 24),
            date(2023, 12, 25),
            date(2023, 12, 26),
            date(2023, 12, 31),
        ];
        assert_eq!(danish_holidays(2023), expected);
    }

    #[test]
    fn holidays_2024_without_store_bededag() {
        let expected = vec![
            date(2024, 1, 1),
            date(2024, 3, 28),
            date(2024, 3, 29),
            date(2024, 3, 31),
            date(2024, 4, 1),
            date(2024, 5, 9),
            date(2024, 5, 19),
            date(2024, 5, 20),
            date(2024, 6, 5),
            date(2024, 12, 24),
            date(2024, 12, 25),
            date(2024, 12, 26),
            date(2024, 12, 31),
        ];
        assert_eq!(danish_holidays(2024), expected);
    }

    #[test]
    fn store_bededag_is_abolished_from_2024() {
        let calendar = standard();
        assert!(danish_holidays(2023).contains(&date(2023, 5, 5)));
        assert!(!calendar.is_working_day(date(2023, 5, 5)));
        // Easter 2024 + 26 and Easter 2025 + 26: ordinary Fridays now.
        assert!(!danish_holidays(2024).contains(&date(2024, 4, 26)));
        assert!(calendar.is_working_day(date(2024, 4, 26)));
        assert!(!danish_holidays(2025).contains(&date(2025, 5, 16)));
        assert!(calendar.is_working_day(date(2025, 5, 16)));
        assert_eq!(danish_holidays(2025).len(), 13);
    }

    #[test]
    fn whit_sunday_on_constitution_day_is_listed_once() {
        // Easter 2022 is 17 April, so Whit Sunday is 5 June.
        let holidays = danish_holidays(2022);
        assert_eq!(
            holidays.iter().filter(|&&d| d == date(2022, 6, 5)).count(),
            1
        );
        assert_eq!(holidays.len(), 13);
    }

    #[test]
    fn holidays_at_the_edges_of_chrono_do_not_panic() {
        assert!(danish_holidays(i32::MAX).is_empty());
        assert!(danish_holidays(i32::MIN).is_empty());
        assert_eq!(danish_holidays(NaiveDate::MAX.year()).len(), 13);
        assert!(danish_holidays(NaiveDate::MAX.year() + 1).is_empty());
        assert!(danish_holidays(NaiveDate::MIN.year() - 1).is_empty());
    }

    #[test]
    fn working_days() {
        let calendar = standard();
        assert!(calendar.is_working_day(date(2024, 12, 23)));
        assert!(!calendar.is_working_day(date(2024, 12, 24)));
        assert!(!calendar.is_working_day(date(2024, 12, 31)));
        assert!(!calendar.is_working_day(date(2024, 12, 28))); // Saturday
        assert!(!calendar.is_working_day(date(2024, 12, 29))); // Sunday
        assert!(calendar.is_working_day(date(2025, 1, 2)));
    }

    #[test]
    fn opening_hours_are_validated() {
        let weekdays = OpeningHours::standard().days;
        assert!(OpeningHours::new(vec![], time(8, 0), time(16, 0)).is_err());
        assert!(OpeningHours::new(weekdays.clone(), time(16, 0), time(8, 0)).is_err());
        assert!(OpeningHours::new(weekdays.clone(), time(8, 0), time(8, 0)).is_err());
        assert_eq!(
            OpeningHours::new(weekdays, time(8, 0), time(16, 0)),
            Ok(OpeningHours::standard())
        );
        let shuffled = vec![Weekday::Fri, Weekday::Mon, Weekday::Fri];
        assert_eq!(
            OpeningHours::new(shuffled, time(8, 0), time(16, 0))
                .unwrap()
                .days,
            vec![Weekday::Mon, Weekday::Fri]
        );
    }

    #[test]
    fn working_time_across_a_weekend() {
        // Friday 15:00 to Monday 09:00.
        let worked =
            standard().working_time_between(cph(2024, 6, 14, 15, 0), cph(2024, 6, 17, 9, 0));
        assert_eq!(worked, Duration::hours(2));
    }

    #[test]
    fn working_time_within_one_day_and_whole_weeks() {
        let calendar = standard();
        assert_eq!(
            calendar.working_time_between(cph(2024, 6, 12, 9, 15), cph(2024, 6, 12, 11, 45)),
            Duration::minutes(150)
        );
        // Monday 2024-06-10 00:00 to Monday 2024-06-17 00:00: five full days.
        assert_eq!(
            calendar.working_time_between(cph(2024, 6, 10, 0, 0), cph(2024, 6, 17, 0, 0)),
            Duration::hours(40)
        );
    }

    #[test]
    fn working_time_across_christmas() {
        // 24, 25 and 26 December are closed.
        let worked =
            standard().working_time_between(cph(2024, 12, 23, 15, 0), cph(2024, 12, 27, 9, 0));
        assert_eq!(worked, Duration::hours(2));
        // 31 December and 1 January are closed; 28–29 December is a weekend.
        let worked =
            standard().working_time_between(cph(2024, 12, 27, 15, 0), cph(2025, 1, 2, 9, 0));
        assert_eq!(worked, Duration::hours(1 + 8 + 1));
    }

    #[test]
    fn working_time_across_easter_2024() {
        // Wednesday 27 March 15:00 to Tuesday 2 April 09:00: Maundy Thursday to Easter Monday
        // are closed. Also crosses the DST change on 31 March.
        let worked =
            standard().working_time_between(cph(2024, 3, 27, 15, 0), cph(2024, 4, 2, 9, 0));
        assert_eq!(worked, Duration::hours(2));
    }

    #[test]
    fn working_time_across_dst_changes() {
        let calendar = standard();
        // Spring: Friday 28 March 2025 15:00 CET (14:00 UTC) to Monday 31 March 09:00 CEST (07:00
        // UTC); the clock moved on Sunday 30 March.
        assert_eq!(cph(2025, 3, 28, 15, 0), utc(2025, 3, 28, 14, 0));
        assert_eq!(cph(2025, 3, 31, 9, 0), utc(2025, 3, 31, 7, 0));
        assert_eq!(
            calendar.working_time_between(utc(2025, 3, 28, 14, 0), utc(2025, 3, 31, 7, 0)),
            Duration::hours(2)
        );
        // Opening on Monday is 08:00 local = 06:00 UTC, so 06:00–07:00 UTC is a full hour.
        assert_eq!(
            calendar.working_time_between(utc(2025, 3, 31, 5, 0), utc(2025, 3, 31, 7, 0)),
            Duration::hours(1)
        );
        // Autumn: Friday 24 October 2025 15:00 CEST (13:00 UTC) to Monday 27 October 09:00 CET
        // (08:00 UTC); the clock moved back on Sunday 26 October.
        assert_eq!(
            calendar.working_time_between(utc(2025, 10, 24, 13, 0), utc(2025, 10, 27, 8, 0)),
            Duration::hours(2)
        );
        // Opening on Monday is 08:00 local = 07:00 UTC.
        assert_eq!(
            calendar.working_time_between(utc(2025, 10, 27, 6, 0), utc(2025, 10, 27, 8, 0)),
            Duration::hours(1)
        );
        // A whole week around each change still holds 40 hours.
        assert_eq!(
            calendar.working_time_between(cph(2025, 3, 24, 0, 0), cph(2025, 3, 31, 0, 0)),
            Duration::hours(40)
        );
        assert_eq!(
            calendar.working_time_between(cph(2025, 10, 27, 0, 0), cph(2025, 11, 3, 0, 0)),
            Duration::hours(40)
        );
    }

    #[test]
    fn night_hours_on_dst_days_follow_the_wall_clock() {
        // 00:00–04:00 local on the spring day is 3 hours long, on the autumn day 5 hours.
        let calendar = every_day(time(0, 0), time(4, 0));
        assert_eq!(
            calendar.working_time_between(utc(2025, 3, 29, 12, 0), utc(2025, 3, 30, 12, 0)),
            Duration::hours(3)
        );
        assert_eq!(
            calendar.working_time_between(utc(2025, 10, 25, 12, 0), utc(2025, 10, 26, 12, 0)),
            Duration::hours(5)
        );
        // Opening at 02:30, skipped in spring: opens when the gap ends, 03:00 CEST = 01:00 UTC.
        let calendar = every_day(time(2, 30), time(5, 0));
        assert_eq!(
            calendar.add_working_time(utc(2025, 3, 29, 12, 0), Duration::zero()),
            Some(utc(2025, 3, 30, 1, 0))
        );
        assert_eq!(
            calendar.working_time_between(utc(2025, 3, 29, 12, 0), utc(2025, 3, 30, 12, 0)),
            Duration::hours(2)
        );
        // Closing at 02:30, skipped in spring: closes when the gap begins, 01:00 UTC.
        let calendar = every_day(time(1, 0), time(2, 30));
        assert_eq!(
            calendar.working_time_between(utc(2025, 3, 29, 12, 0), utc(2025, 3, 30, 12, 0)),
            Duration::hours(1)
        );
        // 02:00–02:30 in autumn, when 02:00–03:00 happens twice: from the first 02:00 (00:00 UTC)
        // to the second 02:30 (01:30 UTC).
        let calendar = every_day(time(2, 0), time(2, 30));
        assert_eq!(
            calendar.working_time_between(utc(2025, 10, 25, 12, 0), utc(2025, 10, 26, 12, 0)),
            Duration::minutes(90)
        );
        assert_eq!(
            calendar.add_working_time(utc(2025, 10, 25, 12, 0), Duration::minutes(90)),
            Some(utc(2025, 10, 26, 1, 30))
        );
    }

    #[test]
    fn working_time_from_and_to_outside_hours() {
        let calendar = standard();
        // Tuesday 06:00 to Tuesday 20:00: the whole day.
        assert_eq!(
            calendar.working_time_between(cph(2024, 6, 11, 6, 0), cph(2024, 6, 11, 20, 0)),
            Duration::hours(8)
        );
        // Tuesday 18:00 to Wednesday 07:00: none.
        assert_eq!(
            calendar.working_time_between(cph(2024, 6, 11, 18, 0), cph(2024, 6, 12, 7, 0)),
            Duration::zero()
        );
        // Saturday to Sunday: none.
        assert_eq!(
            calendar.working_time_between(cph(2024, 6, 15, 10, 0), cph(2024, 6, 16, 10, 0)),
            Duration::zero()
        );
        // Tuesday 18:00 to Wednesday 10:30.
        assert_eq!(
            calendar.working_time_between(cph(2024, 6, 11, 18, 0), cph(2024, 6, 12, 10, 30)),
            Duration::minutes(150)
        );
    }

    #[test]
    fn working_time_is_zero_when_to_is_not_after_from() {
        let calendar = standard();
        let from = cph(2024, 6, 12, 10, 0);
        assert_eq!(
            calendar.working_time_between(from, cph(2024, 6, 11, 10, 0)),
            Duration::zero()
        );
        assert_eq!(calendar.working_time_between(from, from), Duration::zero());
    }

    #[test]
    fn add_over_a_weekend() {
        // Friday 14:00 + 4h: 2h on Friday, 2h on Monday from 08:00.
        assert_eq!(
            standard().add_working_time(cph(2024, 6, 14, 14, 0), Duration::hours(4)),
            Some(cph(2024, 6, 17, 10, 0))
        );
    }

    #[test]
    fn add_over_easter_2025() {
        // Wednesday 16 April 15:00 + 8h: 1h on Wednesday; 17, 18, 20 and 21 April are holidays and
        // the 19th is a Saturday; 7h on Tuesday 22 April from 08:00.
        assert_eq!(
            standard().add_working_time(cph(2025, 4, 16, 15, 0), Duration::hours(8)),
            Some(cph(2025, 4, 22, 15, 0))
        );
    }

    #[test]
    fn add_ending_exactly_at_closing_time() {
        assert_eq!(
            standard().add_working_time(cph(2024, 6, 12, 15, 0), Duration::hours(1)),
            Some(cph(2024, 6, 12, 16, 0))
        );
    }

    #[test]
    fn add_zero() {
        let calendar = standard();
        // Inside hours: unchanged.
        let inside = cph(2024, 6, 12, 10, 17);
        assert_eq!(
            calendar.add_working_time(inside, Duration::zero()),
            Some(inside)
        );
        // Before opening: that day's opening.
        assert_eq!(
            calendar.add_working_time(cph(2024, 6, 12, 6, 0), Duration::zero()),
            Some(cph(2024, 6, 12, 8, 0))
        );
        // At closing time (the interval is half-open) on a Friday: Monday's opening.
        assert_eq!(
            calendar.add_working_time(cph(2024, 6, 14, 16, 0), Duration::zero()),
            Some(cph(2024, 6, 17, 8, 0))
        );
        // On Christmas Eve 2024: Friday 27 December.
        assert_eq!(
            calendar.add_working_time(cph(2024, 12, 24, 11, 0), Duration::zero()),
            Some(cph(2024, 12, 27, 8, 0))
        );
    }

    #[test]
    fn add_rejects_negative_amounts() {
        assert_eq!(
            standard().add_working_time(cph(2024, 6, 12, 10, 0), Duration::minutes(-1)),
            None
        );
    }

    #[test]
    fn add_gives_up_beyond_twenty_years() {
        let calendar = standard();
        let from = cph(2024, 6, 12, 10, 0);
        // Some 20 years of standard hours are about 40,000 hours; 50,000 is out of reach.
        assert_eq!(
            calendar.add_working_time(from, Duration::hours(50_000)),
            None
        );
        assert_eq!(calendar.add_working_time(from, Duration::MAX), None);
        let reachable = calendar.add_working_time(from, Duration::hours(30_000));
        assert!(reachable.is_some());
        // Hours set by hand with nothing open never yield an instant, and still terminate.
        let never = BusinessCalendar::new(OpeningHours {
            days: vec![],
            opens: time(8, 0),
            closes: time(16, 0),
        });
        assert_eq!(never.add_working_time(from, Duration::zero()), None);
        let inverted = BusinessCalendar::new(OpeningHours {
            days: OpeningHours::standard().days,
            opens: time(16, 0),
            closes: time(8, 0),
        });
        assert_eq!(inverted.add_working_time(from, Duration::hours(1)), None);
        assert_eq!(
            inverted.working_time_between(from, cph(2024, 7, 12, 10, 0)),
            Duration::zero()
        );
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        let calendar = standard();
        let max = DateTime::<Utc>::MAX_UTC;
        let min = DateTime::<Utc>::MIN_UTC;
        assert_eq!(calendar.add_working_time(max, Duration::hours(1)), None);
        assert!(calendar.add_working_time(min, Duration::hours(1)).is_some());
        let near_max = max - Duration::days(3);
        assert!(calendar.working_time_between(near_max, max) <= Duration::hours(24));
        let near_min = min + Duration::days(3);
        assert!(calendar.working_time_between(min, near_min) <= Duration::hours(24));
    }

    #[test]
    fn round_trip_between_add_and_between() {
        let calendars = [
            standard(),
            BusinessCalendar::new(
                OpeningHours::new(
                    vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu],
                    time(9, 0),
                    time(15, 0),
                )
                .unwrap(),
            ),
            every_day(time(0, 0), time(4, 0)),
            every_day(time(2, 30), time(5, 0)),
        ];
        let starts = [
            cph(2025, 4, 16, 15, 0),
            cph(2025, 3, 28, 15, 30),
            cph(2025, 10, 24, 7, 0),
            cph(2024, 12, 23, 12, 45),
            cph(2023, 5, 4, 16, 0),
            cph(2024, 6, 15, 11, 0),
            utc(2025, 3, 30, 0, 59),
            utc(2025, 10, 26, 0, 30),
        ];
        let amounts = [
            Duration::zero(),
            Duration::seconds(1),
            Duration::minutes(45),
            Duration::hours(4),
            Duration::hours(8),
            Duration::hours(13) + Duration::minutes(7),
            Duration::hours(100),
            Duration::hours(2_000),
        ];
        for calendar in &calendars {
            for &from in &starts {
                for &amount in &amounts {
                    let until = calendar.add_working_time(from, amount).unwrap();
                    assert!(until >= from);
                    assert_eq!(
                        calendar.working_time_between(from, until),
                        amount,
                        "{from} + {amount} = {until} with {:?}",
                        calendar.hours
                    );
                    // Nothing earlier would do: the result is the first such instant.
                    if amount > Duration::zero() {
                        let earlier = until - Duration::seconds(1);
                        assert!(calendar.working_time_between(from, earlier) < amount);
                    }
                }
            }
        }
    }

    #[test]
    fn custom_opening_hours_are_respected() {
        let hours = OpeningHours::new(
            vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu],
            time(9, 0),
            time(15, 0),
        )
        .unwrap();
        let calendar = BusinessCalendar::new(hours);
        // Friday is closed.
        assert!(!calendar.is_working_day(date(2024, 6, 14)));
        assert!(calendar.is_working_day(date(2024, 6, 13)));
        // Thursday 14:00 to Monday 10:00: 1h + 1h.
        assert_eq!(
            calendar.working_time_between(cph(2024, 6, 13, 14, 0), cph(2024, 6, 17, 10, 0)),
            Duration::hours(2)
        );
        // Before 09:00 and after 15:00 do not count.
        assert_eq!(
            calendar.working_time_between(cph(2024, 6, 11, 8, 0), cph(2024, 6, 11, 16, 0)),
            Duration::hours(6)
        );
        // Thursday 14:00 + 3h: 1h Thursday, 2h Monday from 09:00.
        assert_eq!(
            calendar.add_working_time(cph(2024, 6, 13, 14, 0), Duration::hours(3)),
            Some(cph(2024, 6, 17, 11, 0))
        );
        // Holidays still apply: Ascension Day 2024 is Thursday 9 May.
        assert!(!calendar.is_working_day(date(2024, 5, 9)));
        assert_eq!(
            calendar.add_working_time(cph(2024, 5, 8, 14, 0), Duration::hours(2)),
            Some(cph(2024, 5, 13, 10, 0))
        );
    }
}

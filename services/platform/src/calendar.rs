//! The Danish business calendar: the SLA clocks of support cases, the delivery times of catalogue
//! orders.
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

use crate::clock::{copenhagen_date, copenhagen_wall_clock};
use chrono::{
    DateTime, Datelike, Duration, MappedLocalTime, Months, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Europe::Copenhagen;

/// The Copenhagen calendar month of an instant, `YYYY-MM` (how reports group by month).
pub fn month_of(instant: DateTime<Utc>) -> String {
    instant
        .with_timezone(&Copenhagen)
        .format("%Y-%m")
        .to_string()
}

/// A calendar month: (year, month 1–12).
pub type Month = (i32, u32);

/// A month not written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a month written YYYY-MM")]
pub struct BadMonth;

/// Parses `YYYY-MM` into (year, month).
pub fn parse_month(value: &str) -> Result<Month, BadMonth> {
    let (year, month) = value.trim().split_once('-').ok_or(BadMonth)?;
    let year: i32 = year.parse().map_err(|_| BadMonth)?;
    let month: u32 = month.parse().map_err(|_| BadMonth)?;
    if year.to_string().len() != 4 || !(1..=12).contains(&month) {
        return Err(BadMonth);
    }
    Ok((year, month))
}

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

/// Opening hours that cannot be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpeningHoursError {
    /// Not a day open.
    #[error("opening hours need at least one weekday")]
    NoWeekday,
    /// The desk would close before it opens.
    #[error("closing time {closes} must be after opening time {opens}")]
    ClosesBeforeOpening {
        /// When it opens.
        opens: NaiveTime,
        /// When it closes.
        closes: NaiveTime,
    },
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
    pub fn new(
        days: Vec<Weekday>,
        opens: NaiveTime,
        closes: NaiveTime,
    ) -> Result<Self, OpeningHoursError> {
        if days.is_empty() {
            return Err(OpeningHoursError::NoWeekday);
        }
        if closes <= opens {
            return Err(OpeningHoursError::ClosesBeforeOpening { opens, closes });
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

    /// The `days`-th working day after `from` (`from` itself when `days` is 0): the last day of a
    /// delivery promised in working days. `None` past chrono's range or when no working day falls
    /// within a year of the previous one.
    pub fn add_working_days(&self, from: NaiveDate, days: u32) -> Option<NaiveDate> {
        let mut holidays = HolidayCache::default();
        let mut date = from;
        for _ in 0..days {
            let mut searched = 0;
            loop {
                date = date.succ_opt()?;
                if self.is_working_day_cached(date, &mut holidays) {
                    break;
                }
                searched += 1;
                if searched > 366 {
                    return None;
                }
            }
        }
        Some(date)
    }

    /// Copenhagen midnight at the start of the last working day before the day of `instant`: what
    /// "since yesterday" means at a stand-up (on a Monday, since Friday). `None` when no working day
    /// falls within a year before.
    pub fn previous_working_day_start(&self, instant: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut holidays = HolidayCache::default();
        let mut date = copenhagen_date(instant);
        for _ in 0..366 {
            date = date.pred_opt()?;
            if self.is_working_day_cached(date, &mut holidays) {
                return local_to_utc(date.and_time(NaiveTime::MIN), Edge::Open);
            }
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
mod tests;

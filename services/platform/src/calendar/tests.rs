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
    let worked = standard().working_time_between(cph(2024, 6, 14, 15, 0), cph(2024, 6, 17, 9, 0));
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
    let worked = standard().working_time_between(cph(2024, 12, 23, 15, 0), cph(2024, 12, 27, 9, 0));
    assert_eq!(worked, Duration::hours(2));
    // 31 December and 1 January are closed; 28–29 December is a weekend.
    let worked = standard().working_time_between(cph(2024, 12, 27, 15, 0), cph(2025, 1, 2, 9, 0));
    assert_eq!(worked, Duration::hours(1 + 8 + 1));
}

#[test]
fn working_time_across_easter_2024() {
    // Wednesday 27 March 15:00 to Tuesday 2 April 09:00: Maundy Thursday to Easter Monday
    // are closed. Also crosses the DST change on 31 March.
    let worked = standard().working_time_between(cph(2024, 3, 27, 15, 0), cph(2024, 4, 2, 9, 0));
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

#[test]
fn since_yesterday_is_the_start_of_the_previous_working_day() {
    let calendar = BusinessCalendar::new(OpeningHours::standard());
    // Wednesday 2 April 2025, 09:15: since Tuesday 00:00 Copenhagen.
    assert_eq!(
        calendar.previous_working_day_start(cph(2025, 4, 2, 9, 15)),
        Some(cph(2025, 4, 1, 0, 0))
    );
    // Monday: since Friday.
    assert_eq!(
        calendar.previous_working_day_start(cph(2025, 4, 7, 9, 0)),
        Some(cph(2025, 4, 4, 0, 0))
    );
    // Tuesday after Easter 2025 (Easter Monday 21 April, Good Friday 18 April): since Thursday 17 April
    // is Maundy Thursday, a holiday too, so since Wednesday 16 April.
    assert_eq!(
        calendar.previous_working_day_start(cph(2025, 4, 22, 8, 0)),
        Some(cph(2025, 4, 16, 0, 0))
    );
    // Just after midnight in summer time: the day before in Copenhagen, not in UTC.
    assert_eq!(
        calendar.previous_working_day_start(cph(2025, 6, 4, 0, 30)),
        Some(cph(2025, 6, 3, 0, 0))
    );
}

#[test]
fn working_days_skip_weekends_and_holidays() {
    let calendar = BusinessCalendar::new(OpeningHours::standard());
    // Friday 2025-04-11 + 3 working days: Monday 14, Tuesday 15, Wednesday 16 (Easter starts Thursday).
    assert_eq!(
        calendar.add_working_days(date(2025, 4, 11), 3),
        Some(date(2025, 4, 16))
    );
    // Wednesday 2025-04-16 + 1: Maundy Thursday, Good Friday, the weekend and Easter Monday are closed.
    assert_eq!(
        calendar.add_working_days(date(2025, 4, 16), 1),
        Some(date(2025, 4, 22))
    );
    // Zero days is the day itself, working day or not.
    assert_eq!(
        calendar.add_working_days(date(2025, 4, 19), 0),
        Some(date(2025, 4, 19))
    );
    // Over Christmas and New Year: 2025-12-23 (Tuesday) + 2 → 2025-12-29, 2025-12-30.
    assert_eq!(
        calendar.add_working_days(date(2025, 12, 23), 2),
        Some(date(2025, 12, 30))
    );
}

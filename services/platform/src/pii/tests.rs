use super::*;
use std::collections::HashSet;

const DK: PersonalIdKind = PersonalIdKind::DanishCpr;
const SE: PersonalIdKind = PersonalIdKind::SwedishPersonnummer;

/// Matches as (kind, matched slice), for readable exact comparisons.
fn ids(text: &str) -> Vec<(PersonalIdKind, &str)> {
    find_personal_ids(text)
        .into_iter()
        .map(|m| {
            (
                m.kind,
                text.get(m.range)
                    .unwrap_or("<range not on a char boundary>"),
            )
        })
        .collect()
}

/// Asserts the exact matches, ranges included: each expected slice must be found at
/// its first occurrence after the previous match.
fn assert_ids(text: &str, expected: &[(PersonalIdKind, &str)]) {
    let found = find_personal_ids(text);
    let mut want = Vec::new();
    let mut from = 0;
    for &(kind, slice) in expected {
        let Some(pos) = text.get(from..).and_then(|rest| rest.find(slice)) else {
            panic!("bad test row: {slice:?} not in {text:?} after byte {from}");
        };
        let start = from + pos;
        want.push(PersonalIdMatch {
            kind,
            range: start..start + slice.len(),
        });
        from = start + slice.len();
    }
    assert_eq!(found, want, "text: {text:?} found: {:?}", ids(text));
    assert_eq!(
        contains_personal_id(text),
        !expected.is_empty(),
        "text: {text:?}"
    );
}

/// Realistic support-case text: (text, exact expected matches).
const TABLE: &[(&str, &[(PersonalIdKind, &str)])] = &[
    // Danish CPR numbers that must fire.
    (
        "Borgerens cpr er 010190-1234, se vedhæftet skærmbillede.",
        &[(DK, "010190-1234")],
    ),
    ("cpr 311299-9999", &[(DK, "311299-9999")]),
    ("Vedr. borger (010190-1234)", &[(DK, "010190-1234")]),
    ("cpr:0101901234.", &[(DK, "0101901234")]),
    (
        "CPR-nr. 010190 1234 står i fritekstfeltet",
        &[(DK, "010190 1234")],
    ),
    (
        "Udbetalingen til 0101901234 er ikke modtaget i e-Boks",
        &[(DK, "0101901234")],
    ),
    (
        "Borger 311299-9999 har fået forkert beløb udbetalt",
        &[(DK, "311299-9999")],
    ),
    (
        "Børn: 010190-1234 og 020290-4321.",
        &[(DK, "010190-1234"), (DK, "020290-4321")],
    ),
    ("Sag\t0101901234\n", &[(DK, "0101901234")]),
    ("Æøå 010190-1234 æøå", &[(DK, "010190-1234")]),
    ("🙂010190-1234🙂", &[(DK, "010190-1234")]),
    ("Hej!\n010190-1234\nMvh Jens", &[(DK, "010190-1234")]),
    ("cpr=0101901234;", &[(DK, "0101901234")]),
    ("\"0101901234\"", &[(DK, "0101901234")]),
    ("[0101901234]", &[(DK, "0101901234")]),
    ("cpr: 010190-1234!", &[(DK, "010190-1234")]),
    ("Skudår: 290200-1234", &[(DK, "290200-1234")]),
    ("Født 29. februar: 290296-1234", &[(DK, "290296-1234")]),
    (
        "cpr 010190–1234 (tankestreg fra Word)",
        &[(DK, "010190–1234")],
    ),
    (
        "KOMBITKY-55200 vedr. borger 010190-1234",
        &[(DK, "010190-1234")],
    ),
    (
        "Se sag KOMBITKY-72149, borger 311299-9999.",
        &[(DK, "311299-9999")],
    ),
    (
        "Oprettet 04-06-2021 11:07 for 0101901234",
        &[(DK, "0101901234")],
    ),
    ("Kl. 11:07 0101901234 ringede igen", &[(DK, "0101901234")]),
    ("Beløb 1.234 kr til 010190-1234", &[(DK, "010190-1234")]),
    (
        "Ring +45 12 34 56 78 eller skriv cpr 0101901234",
        &[(DK, "0101901234")],
    ),
    (
        "0101901234 0202901234",
        &[(DK, "0101901234"), (DK, "0202901234")],
    ),
    (
        "010190 1234 020290 1234",
        &[(DK, "010190 1234"), (DK, "020290 1234")],
    ),
    (
        "tlf. 0101901234 (skrevet uden landekode)",
        &[(DK, "0101901234")],
    ),
    ("0101901234", &[(DK, "0101901234")]),
    ("Bilag 3 0101901234", &[(DK, "0101901234")]),
    ("Skema B12 0101901234 udfyldt", &[(DK, "0101901234")]),
    ("Borger 0101901234 12:00 ringede", &[(DK, "0101901234")]),
    ("cpr 010190 1234 12A", &[(DK, "010190 1234")]),
    (
        "121212-1212 er gyldig i begge lande",
        &[(DK, "121212-1212")],
    ),
    ("cpr 180101-9876", &[(DK, "180101-9876")]),
    // Swedish personnummer / samordningsnummer that must fire.
    (
        "Personnummer 811218-9876 saknas i Mina sidor",
        &[(SE, "811218-9876")],
    ),
    (
        "Personnumret 19811218-9876 ger fel vid inloggning med BankID",
        &[(SE, "19811218-9876")],
    ),
    ("pnr 198112189876 kan inte hämtas", &[(SE, "198112189876")]),
    (
        "Sökande 8112189876 har inte fått beslut",
        &[(SE, "8112189876")],
    ),
    (
        "Född 1918, personnummer 181218+1236.",
        &[(SE, "181218+1236")],
    ),
    ("Hon är över hundra, 180101+9876", &[(SE, "180101+9876")]),
    (
        "Samordningsnummer 701063-2391 är registrerat",
        &[(SE, "701063-2391")],
    ),
    (
        "Studenten 640823-3234 ser inte sina resultat",
        &[(SE, "640823-3234")],
    ),
    (
        "Ärende om 850101-1236: ingen utbetalning",
        &[(SE, "850101-1236")],
    ),
    ("850101+1236", &[(SE, "850101+1236")]),
    ("Pers.nr 20230615-0240 i ärendet", &[(SE, "20230615-0240")]),
    ("19121212-1212", &[(SE, "19121212-1212")]),
    (
        "DK 010190-1234 / SE 811218-9876",
        &[(DK, "010190-1234"), (SE, "811218-9876")],
    ),
    (
        "Liste:\n- 010190-1234\n- 020290-4321\n- 19811218-9876",
        &[
            (DK, "010190-1234"),
            (DK, "020290-4321"),
            (SE, "19811218-9876"),
        ],
    ),
    // Case ids and references.
    ("KOMBITKY-55200", &[]),
    ("KOMBITKY-72149", &[]),
    ("72149:#KOMBITKY-72149", &[]),
    (
        "Related cases: 72149:#KOMBITKY-72149, 55200:#KOMBITKY-55200",
        &[],
    ),
    ("Status 10 - New, oprettet 04-06-2021 11:07", &[]),
    ("KOMBITKY-0101901234", &[]),
    // Phone numbers.
    ("Ring +45 0101901234", &[]),
    ("+450101901234", &[]),
    ("+4601019012 34", &[]),
    ("0045 0101901234", &[]),
    ("0046 0101901234", &[]),
    ("(+45) 0101901234", &[]),
    ("Ring på +46 811218-9876", &[]),
    ("+45 010190 1234", &[]),
    ("Tlf. 12 34 56 78", &[]),
    ("20 30 40 50", &[]),
    ("Mobil 070-123 45 67", &[]),
    ("Växel 08-123 456 78", &[]),
    ("0101 90 12 34", &[]),
    ("010190 1234 56", &[]),
    ("12 0101901234", &[]),
    // Amounts.
    ("1.234.567.890 kr", &[]),
    ("1234567890 kr", &[]),
    ("DKK 0101901234", &[]),
    ("kr. 0101901234", &[]),
    ("kr.0101901234", &[]),
    ("0101901234 kr", &[]),
    ("Beløb: 0101901234 DKK", &[]),
    ("1 234 567,00", &[]),
    ("0101901234,50", &[]),
    ("0101901234,- i alt", &[]),
    ("8112189876:-", &[]),
    ("Summa 0101901234 SEK", &[]),
    ("Totalt 0101901234 kronor", &[]),
    // Dates and times.
    ("04-06-2021 11:07", &[]),
    ("2021-06-04 11:07", &[]),
    ("04.06.2021", &[]),
    ("Tidsstempel 20210604110700", &[]),
    // Numbers that cannot be an ID, or are glued to something.
    ("3213901234", &[]),
    ("0000000000", &[]),
    ("9999999999", &[]),
    ("ABC1234567890", &[]),
    ("12345678901234", &[]),
    ("ABC0101901234", &[]),
    ("0101901234ABC", &[]),
    ("Æ0101901234", &[]),
    ("bilag_0101901234", &[]),
    ("0101901234-A", &[]),
    ("Fakturanr. 0101901234-01", &[]),
    ("Version 1.0101901234", &[]),
    ("010190-12345", &[]),
    ("01019-01234", &[]),
    ("010190/1234", &[]),
    ("010190-1234-5678", &[]),
    ("12-010190-1234", &[]),
    ("010190+1234", &[]),
    // Swedish numbers with a failed Luhn check or an impossible date.
    ("19811218-9875", &[]),
    ("198112189875", &[]),
    ("811218+9875", &[]),
    ("19000229-1235", &[]),
    ("", &[]),
];

#[test]
fn table_of_support_case_texts() {
    assert!(TABLE.len() >= 60, "table has {} rows", TABLE.len());
    for (text, expected) in TABLE {
        assert_ids(text, expected);
    }
}

// ---- Independent oracles for the generated corpus ----

/// Every real calendar date of 1800..=2099 as (year, month, day), built from a day
/// count (Hinnant's civil-from-days), not from a month-length table.
fn calendar() -> HashSet<(u32, u32, u32)> {
    let mut dates = HashSet::new();
    for z in -62_500_i64..47_600 {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        if (1800..=2099).contains(&year) {
            let as_u32 = |v: i64| u32::try_from(v).unwrap_or(0);
            dates.insert((as_u32(year), as_u32(month), as_u32(day)));
        }
    }
    dates
}

/// Classic right-to-left Luhn over a digit string.
fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let v = u32::from(b - b'0');
            if i % 2 == 1 {
                if v * 2 > 9 { v * 2 - 9 } else { v * 2 }
            } else {
                v
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The check digit that makes `nine` + digit Luhn-valid.
fn check_digit(nine: &str) -> u32 {
    (0..10)
        .find(|c| luhn_valid(&format!("{nine}{c}")))
        .unwrap_or(99)
}

fn two(v: u32) -> String {
    format!("{v:02}")
}

struct Oracle {
    dates: HashSet<(u32, u32, u32)>,
}

impl Oracle {
    fn new() -> Self {
        Oracle { dates: calendar() }
    }
    /// Two-digit years: 29 Feb is fine when the year 20YY has it (YY % 4 == 0).
    fn short_date(&self, yy: u32, mm: u32, dd: u32) -> bool {
        self.dates.contains(&(2000 + yy, mm, dd))
    }
    fn danish(&self, ten: &str) -> bool {
        let n = |i: usize| {
            ten.get(i..i + 2)
                .and_then(|s| s.parse::<u32>().ok())
                .unwrap_or(99)
        };
        self.short_date(n(4), n(2), n(0))
    }
    fn swedish_ten(&self, ten: &str) -> bool {
        let n = |i: usize| {
            ten.get(i..i + 2)
                .and_then(|s| s.parse::<u32>().ok())
                .unwrap_or(99)
        };
        let (yy, mm, dd) = (n(0), n(2), n(4));
        let date = self.short_date(yy, mm, dd) || (dd > 60 && self.short_date(yy, mm, dd - 60));
        date && luhn_valid(ten)
    }
    /// Expected kind for a ten-digit shape (bare, hyphen or space).
    fn ten(&self, ten: &str) -> Option<PersonalIdKind> {
        if self.danish(ten) {
            Some(DK)
        } else if self.swedish_ten(ten) {
            Some(SE)
        } else {
            None
        }
    }
}

/// The three Danish ways of writing the same ten digits.
fn ten_forms(six: &str, four: &str) -> [String; 3] {
    [
        format!("{six}-{four}"),
        format!("{six}{four}"),
        format!("{six} {four}"),
    ]
}

#[test]
fn every_danish_date_fires_in_all_three_forms() {
    let oracle = Oracle::new();
    let mut checked = 0;
    for yy in [0, 1, 4, 23, 85, 96, 99] {
        for mm in 1..=12 {
            for dd in 1..=31 {
                if !oracle.short_date(yy, mm, dd) {
                    continue;
                }
                let six = format!("{}{}{}", two(dd), two(mm), two(yy));
                for serial in ["0000", "1234", "9999", &format!("{:04}", dd * 311 + mm * 7)] {
                    for id in ten_forms(&six, serial) {
                        let text = format!("Borger cpr {id}, se sag.");
                        assert_eq!(ids(&text), vec![(DK, id.as_str())], "text: {text:?}");
                        checked += 1;
                    }
                }
            }
        }
    }
    // 7 years (00, 04 and 96 are leap years) of dates x 4 serials x 3 forms.
    assert_eq!(checked, (4 * 365 + 3 * 366) * 4 * 3);
}

#[test]
fn impossible_danish_dates_do_not_fire() {
    let oracle = Oracle::new();
    let mut checked = 0;
    for yy in [0, 1, 4, 23, 85, 99] {
        for mm in 0..=13 {
            for dd in 0..=39 {
                if oracle.short_date(yy, mm, dd) {
                    continue;
                }
                let six = format!("{}{}{}", two(dd), two(mm), two(yy));
                // Pick a last digit that fails Luhn so the Swedish rule cannot fire either.
                let nine = format!("{six}123");
                let last = (check_digit(&nine) + 1) % 10;
                for id in ten_forms(&six, &format!("123{last}")) {
                    assert_eq!(ids(&format!("cpr {id}")), vec![], "id {id:?}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 6 * 3 * 150, "only {checked} checked");
    // The two leap-year edge cases of the two-digit rule, spelled out.
    assert_eq!(ids("290201-1235"), vec![]);
    // Not a Danish date, but 1 Feb (20)29 with a valid Luhn digit: Swedish.
    assert_eq!(ids("290201-1234"), vec![(SE, "290201-1234")]);
    assert_eq!(ids("290204-1234"), vec![(DK, "290204-1234")]);
    assert_eq!(ids("300200-1234"), vec![]);
}

/// Every six-digit prefix, against the independent oracles.
#[test]
fn every_ten_digit_prefix_matches_the_oracle() {
    let oracle = Oracle::new();
    let (mut danish, mut swedish) = (0, 0);
    for p in 0..1_000_000_u32 {
        let six = format!("{p:06}");
        let four = format!("{:04}", (u64::from(p) * 7919) % 10_000);
        let want = oracle.ten(&format!("{six}{four}"));
        let forms = ten_forms(&six, &four);
        // All ten-digit forms for a share of them, the bare form for the rest.
        let form = forms.get((p % 3) as usize).map_or("", String::as_str);
        let got: Vec<_> = find_personal_ids(form)
            .into_iter()
            .map(|m| (m.kind, m.range))
            .collect();
        let expected: Vec<_> = want.into_iter().map(|k| (k, 0..form.len())).collect();
        assert_eq!(got, expected, "form {form:?}");
        match want {
            Some(PersonalIdKind::DanishCpr) => danish += 1,
            Some(PersonalIdKind::SwedishPersonnummer) => swedish += 1,
            None => {}
        }
    }
    // 100 two-digit years x 366 (or 365) dates.
    assert_eq!(danish, 25 * 366 + 75 * 365);
    assert!(swedish > 1000, "only {swedish} Swedish-only numbers");
}

/// Every date of a few years (and its samordningsnummer) in every Swedish form.
#[test]
fn swedish_numbers_fire_in_every_form_and_fail_without_luhn() {
    let oracle = Oracle::new();
    let mut checked = 0;
    for year in [1900, 1918, 1985, 2000, 2004, 2023] {
        for (y, mm, dd) in oracle.dates.iter().copied().filter(|d| d.0 == year) {
            let yy = y % 100;
            for day in [dd, dd + 60] {
                for serial in [
                    "000",
                    "123",
                    "987",
                    &format!("{:03}", (mm * 37 + day * 11) % 1000),
                ] {
                    let six = format!("{}{}{}", two(yy), two(mm), two(day));
                    let check = check_digit(&format!("{six}{serial}"));
                    let bad = (check + 1) % 10;
                    let four = format!("{serial}{check}");
                    let bad_four = format!("{serial}{bad}");
                    let cc = y / 100;
                    let ten = format!("{six}{four}");
                    // Ten-digit shapes: Danish when the digits read as DDMMYY.
                    let ten_kind = if oracle.danish(&ten) { DK } else { SE };
                    for id in [format!("{six}-{four}"), ten.clone()] {
                        assert_eq!(ids(&format!("pnr {id}.")), vec![(ten_kind, id.as_str())]);
                    }
                    // Swedish-only shapes: `+` (aged 100 or more) and twelve digits.
                    for id in [
                        format!("{six}+{four}"),
                        format!("{cc}{six}-{four}"),
                        format!("{cc}{six}{four}"),
                    ] {
                        assert_eq!(
                            ids(&format!("Personnummer: {id}\n")),
                            vec![(SE, id.as_str())]
                        );
                    }
                    // Luhn failures: no Swedish match; ten-digit shapes may still be CPR.
                    let bad_ten = format!("{six}{bad_four}");
                    let bad_kind: Vec<_> =
                        oracle.danish(&bad_ten).then_some(DK).into_iter().collect();
                    for id in [format!("{six}-{bad_four}"), bad_ten.clone()] {
                        let got: Vec<_> = ids(&id).into_iter().map(|(k, _)| k).collect();
                        assert_eq!(got, bad_kind, "id {id:?}");
                    }
                    for id in [
                        format!("{six}+{bad_four}"),
                        format!("{cc}{six}-{bad_four}"),
                        format!("{cc}{six}{bad_four}"),
                    ] {
                        assert_eq!(ids(&id), vec![], "id {id:?}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, (4 * 365 + 2 * 366) * 2 * 4);
}

#[test]
fn twelve_digits_use_the_full_gregorian_calendar() {
    for (date, fires) in [
        ("19000229", false),
        ("20000229", true),
        ("18000229", false),
        ("20040229", true),
        ("19990229", false),
        ("17991231", false), // century 17 is out of range
        ("21000101", false), // so is 21
        ("18000101", true),
        ("20991231", true),
        ("19000289", false), // samordningsnummer of 29 Feb 1900
        ("20000289", true),
    ] {
        let nine = format!("{}123", date.get(2..).unwrap_or(""));
        let id = format!("{date}-123{}", check_digit(&nine));
        let want = if fires {
            vec![(SE, id.as_str())]
        } else {
            vec![]
        };
        assert_eq!(ids(&id), want, "id {id:?}");
    }
}

const SAMPLE_IDS: &[(PersonalIdKind, &str)] = &[
    (DK, "010190-1234"),
    (DK, "0101901234"),
    (DK, "010190 1234"),
    (DK, "311299–9999"),
    (SE, "811218-9876"),
    (SE, "8112189876"),
    (SE, "181218+1236"),
    (SE, "19811218-9876"),
    (SE, "198112189876"),
    (SE, "701063-2391"),
];

#[test]
fn ids_fire_in_neutral_surroundings() {
    let around = [
        ("", ""),
        (" ", " "),
        ("\n", "\n"),
        ("\t", "\t"),
        ("(", ")"),
        ("[", "]"),
        ("\"", "\""),
        ("'", "'"),
        ("cpr:", "."),
        ("cpr: ", ", "),
        ("pnr ", "!"),
        ("æøå ", " ÆØÅ"),
        ("åäö ", " ÅÄÖ"),
        ("🙂", "🙂"),
        ("👩‍👩‍👧 ", " 👍🏽"),
        ("Hej,\r\n", "\r\nMvh"),
        ("nr.", ";"),
        ("#", "?"),
        ("<b>", "</b>"),
        ("«", "»"),
        ("— ", " —"),
        ("\u{a0}", "\u{a0}"),
        ("Kl. 11:07 ", " 12:00"),
        ("den 04-06-2021 ", " og 2021-06-05"),
    ];
    for &(kind, id) in SAMPLE_IDS {
        for (pre, post) in around {
            let text = format!("{pre}{id}{post}");
            let start = pre.len();
            let want = vec![PersonalIdMatch {
                kind,
                range: start..start + id.len(),
            }];
            assert_eq!(find_personal_ids(&text), want, "text: {text:?}");
        }
    }
}

#[test]
fn ids_glued_to_words_numbers_phones_or_amounts_do_not_fire() {
    let around = [
        ("A", ""),
        ("", "a"),
        ("ø", ""),
        ("", "é"),
        ("_", ""),
        ("", "_"),
        ("KOMBITKY-", ""),
        ("", "-A"),
        ("1.", ""),
        ("", ".5"),
        ("", ",50"),
        ("", ",-"),
        ("", ":-"),
        ("7-", ""),
        ("", "-7"),
        ("12/", ""),
        ("", "/12"),
        ("3:", ""),
        ("", ":3"),
        ("+", ""),
        ("+45 ", ""),
        ("+46 ", ""),
        ("+45", ""),
        ("0045 ", ""),
        ("0046 ", ""),
        ("(+46) ", ""),
        ("12 ", ""),
        ("", " 12"),
        ("", " 56 78"),
        ("kr ", ""),
        ("kr. ", ""),
        ("Kr.", ""),
        ("DKK ", ""),
        ("SEK ", ""),
        ("EUR ", ""),
        ("", " kr"),
        ("", " kr."),
        ("", "kr"),
        ("", " DKK"),
        ("", " kroner"),
        ("", " kronor"),
        ("", " SEK"),
    ];
    for &(_, id) in SAMPLE_IDS {
        for (pre, post) in around {
            let text = format!("{pre}{id}{post}");
            assert_eq!(ids(&text), vec![], "text: {text:?}");
            assert!(!contains_personal_id(&text), "text: {text:?}");
        }
    }
}

#[test]
fn many_ids_in_one_text_are_all_found_in_order() {
    let seps = [
        " ", "\n", ", ", "; ", " og ", " och ", "\t", " 🙂 ", " / ", " æ ",
    ];
    let mut text = String::from("Sagen omfatter: ");
    let mut want = Vec::new();
    for (i, sep) in seps.iter().cycle().take(200).enumerate() {
        let Some(&(kind, id)) = SAMPLE_IDS.get(i % SAMPLE_IDS.len()) else {
            continue;
        };
        let start = text.len();
        text.push_str(id);
        want.push(PersonalIdMatch {
            kind,
            range: start..start + id.len(),
        });
        text.push_str(sep);
    }
    assert_eq!(find_personal_ids(&text), want);
}

/// A tiny deterministic PRNG (xorshift64*), so the random corpus is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        usize::try_from(self.next() % n).unwrap_or(0)
    }
}

/// The invariants the fuzz target checks, on one text.
fn check_invariants(text: &str) {
    let found = find_personal_ids(text);
    assert_eq!(
        contains_personal_id(text),
        !found.is_empty(),
        "text: {text:?}"
    );
    let mut last_end = 0;
    for m in &found {
        assert!(
            m.range.start >= last_end && m.range.start < m.range.end,
            "order: {text:?}"
        );
        last_end = m.range.end;
        let Some(slice) = text.get(m.range.clone()) else {
            panic!("range {:?} not on char boundaries in {text:?}", m.range);
        };
        let shown: Vec<char> = slice.chars().filter_map(shows_as).collect();
        let digits = shown.iter().filter(|c| c.is_ascii_digit()).count();
        assert!(digits == 10 || digits == 12, "slice {slice:?}");
        assert!(shown.len() <= 13, "slice {slice:?}"); // 12 digits and a separator
        // With its context removed, the slice alone is still the same ID.
        let alone = find_personal_ids(slice);
        assert_eq!(
            alone,
            vec![PersonalIdMatch {
                kind: m.kind,
                range: 0..slice.len()
            }],
            "slice {slice:?}"
        );
    }
}

#[test]
fn random_texts_keep_the_invariants() {
    let pieces = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "010190", "1234", "811218", "9876", "19",
        "20", "-", "–", "+", " ", ".", ",", ":", "/", "\n", "a", "K", "kr", "DKK", "æ", "ø", "🙂",
        "\u{301}", "(", ")", "_", "+45 ", "00", "\u{a0}", "\u{200b}", "０", "１", "\u{ad}",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut total_matches = 0;
    for _ in 0..20_000 {
        let mut text = String::new();
        for _ in 0..rng.below(40) {
            text.push_str(pieces.get(rng.below(pieces.len())).copied().unwrap_or(""));
        }
        check_invariants(&text);
        total_matches += find_personal_ids(&text).len();
    }
    // The corpus must actually exercise matches, not only rejections.
    assert!(total_matches > 100, "only {total_matches} matches");
}

#[test]
fn odd_input_never_panics() {
    let long_word = "a".repeat(10_000) + " 0101901234";
    let long_digits = "1".repeat(10_000);
    let many = "0101901234 ".repeat(1000);
    for text in [
        "",
        " ",
        "-",
        "+",
        "🙂",
        "\u{0}0101901234\u{0}",
        "١٢٣٤٥٦٧٨٩٠",
        "０１０１９０１２３４",
        "0101901234\u{301}",
        "\u{301}0101901234",
        long_word.as_str(),
        long_digits.as_str(),
        many.as_str(),
    ] {
        check_invariants(text);
    }
    assert_eq!(ids(&long_word), vec![(DK, "0101901234")]);
    assert_eq!(ids(&long_digits), vec![]);
    assert_eq!(find_personal_ids(&many).len(), 1000);
    // Full-width digits are read as digits (they are pasted from East Asian input); Arabic-Indic ones
    // are not.
    assert_eq!(
        ids("０１０１９０１２３４"),
        vec![(DK, "０１０１９０１２３４")]
    );
    assert_eq!(ids("٠١٠١٩٠١٢٣٤"), vec![]);
}

#[test]
fn ids_pasted_from_word_and_outlook_are_found_where_they_were_written() {
    let written = [
        "010190\u{a0}1234",
        "010190\u{202f}1234",
        "010190\u{2009}1234",
        "010190.1234",
        "０１０１９０-１２３４",
        "０１０１９０１２３４",
        "010190\u{200b}-1234",
        "0101\u{200b}901234",
        "010190\u{200c}1234",
        "010190\u{200d}\u{2060}1234",
        "010190-\u{ad}1234",
        "\u{feff}0101901234",
    ];
    for id in written {
        for (pre, post) in [
            ("", ""),
            ("cpr: ", "."),
            ("Hej\u{a0}", "\u{a0}mvh"),
            ("«", "»"),
        ] {
            let text = format!("{pre}{id}{post}");
            let found = find_personal_ids(&text);
            assert_eq!(found.len(), 1, "text: {text:?}");
            assert_eq!(found[0].kind, DK, "text: {text:?}");
            let id_at = &text[found[0].range.clone()];
            assert!(
                id.ends_with(id_at) && id_at.starts_with(['0', '０']),
                "text: {text:?}, found {id_at:?}"
            );
        }
    }
    // Swedish numbers too, and written the same way they still only fire on their own.
    assert_eq!(
        ids("８１１２１８-９８７６"),
        vec![(SE, "８１１２１８-９８７６")]
    );
    for text in [
        "12\u{a0}0101901234",
        "kr.\u{a0}0101901234",
        "A\u{200b}0101901234",
        "0101901234\u{a0}kr",
        "1.010190.1234",
        "０１０１９０１２３４５",
    ] {
        assert_eq!(ids(text), vec![], "text: {text:?}");
    }
}

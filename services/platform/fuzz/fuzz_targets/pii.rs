//! Fuzzes the PII guard on arbitrary text: it must never panic, and its answers must
//! be consistent. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run pii` in `services/platform/fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/pii.rs"]
mod pii;

fuzz_target!(|data: &[u8]| {
    // Lossy decoding turns every input into some UTF-8 text, so no input is wasted.
    let text = String::from_utf8_lossy(data);
    check(&text);
});

fn check(text: &str) {
    let found = pii::find_personal_ids(text);
    assert_eq!(pii::contains_personal_id(text), !found.is_empty());

    let mut last_end = 0;
    for m in &found {
        // In order and non-overlapping.
        assert!(last_end <= m.range.start, "overlap or disorder: {found:?}");
        assert!(m.range.start < m.range.end, "empty range: {m:?}");
        last_end = m.range.end;

        // On char boundaries (get returns None otherwise).
        let Some(slice) = text.get(m.range.clone()) else {
            panic!("range {:?} not on char boundaries", m.range);
        };
        let digits = slice.bytes().filter(u8::is_ascii_digit).count();
        assert!(digits == 10 || digits == 12, "{digits} digits in {slice:?}");
        let starts_and_ends_with_digit = slice.as_bytes().first().is_some_and(u8::is_ascii_digit)
            && slice.as_bytes().last().is_some_and(u8::is_ascii_digit);
        assert!(starts_and_ends_with_digit, "slice {slice:?}");

        // Context only ever removes matches: the slice on its own is the same ID.
        let alone = pii::find_personal_ids(slice);
        assert_eq!(
            alone,
            vec![pii::PersonalIdMatch {
                kind: m.kind,
                range: 0..slice.len()
            }],
            "slice {slice:?}"
        );
    }
}

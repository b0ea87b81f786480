//! The rules of change requests as plain types and functions: published keys, the status lifecycle and
//! how a release's phases move its change requests, and the release timeline. No I/O here.

pub mod import;
pub mod publication;
pub mod timeline;

use timeline::Phase;

/// The prefix of published keys unless configured otherwise (`KOMBITKY-55200`).
pub const DEFAULT_KEY_PREFIX: &str = "KOMBITKY";

/// The longest title, in characters.
pub const TITLE_MAX: usize = 300;
/// The longest description, workaround or note, in characters.
pub const TEXT_MAX: usize = 10_000;
/// The longest name of a theme, subtheme, status or release, in characters.
pub const NAME_MAX: usize = 200;
/// The longest reference to a related case, in characters.
pub const CASE_REFERENCE_MAX: usize = 100;

/// Status codes the rules refer to.
pub mod codes {
    /// 10 - New.
    pub const NEW: i32 = 10;
    /// 20 - Under assessment.
    pub const UNDER_ASSESSMENT: i32 = 20;
    /// 30 - Selected for a release.
    pub const SELECTED: i32 = 30;
}

/// A status of the default set: (code, name, allowed next codes).
pub type StatusDefinition = (i32, &'static str, &'static [i32]);

/// The default statuses, seeded by the first migration and documented in the proto.
pub const DEFAULT_STATUSES: [StatusDefinition; 10] = [
    (10, "New", &[20, 90]),
    (20, "Under assessment", &[30, 90]),
    (30, "Selected for a release", &[40, 20]),
    (40, "In analysis", &[50, 20]),
    (50, "In design", &[60, 20]),
    (60, "In build", &[70, 20]),
    (70, "In test", &[80, 20]),
    (80, "Delivered", &[]),
    (90, "Rejected", &[]),
    (95, "Withdrawn", &[]),
];

/// The published key of a number: `PREFIX-NUMBER`.
pub fn format_key(prefix: &str, number: i64) -> String {
    format!("{prefix}-{number}")
}

/// The highest number a key may have: far above any real list, far below where counting overflows.
pub const KEY_NUMBER_MAX: i64 = 999_999_999;

/// A change-request key not written as the published ones are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be a prefix of capital letters, a dash and a number up to {KEY_NUMBER_MAX}, e.g. KOMBITKY-55200"
)]
pub struct BadKey;

/// Parses a published key into its prefix and number.
pub fn parse_key(key: &str) -> Result<(String, i64), BadKey> {
    let invalid = || BadKey;
    let (prefix, number) = key.trim().split_once('-').ok_or_else(invalid)?;
    let prefix_ok =
        (2..=20).contains(&prefix.len()) && prefix.chars().all(|c| c.is_ascii_uppercase());
    let number: i64 = number.parse().map_err(|_| invalid())?;
    if !prefix_ok || !(1..=KEY_NUMBER_MAX).contains(&number) {
        return Err(invalid());
    }
    Ok((prefix.to_owned(), number))
}

/// The status a release's phase moves its change requests to.
pub fn status_for_phase(phase: Phase) -> i32 {
    match phase {
        Phase::Selection => 30,
        Phase::NeedsAnalysis
        | Phase::NeedsReview
        | Phase::RequirementsSpecification
        | Phase::SolutionDescription
        | Phase::SupplierAnalysis => 40,
        Phase::Design => 50,
        Phase::Build => 60,
        Phase::TestExecution | Phase::AcceptanceTest => 70,
        Phase::Release => 80,
    }
}

/// A status move the lifecycle does not allow; it names both and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("status {from} cannot move to {to}; allowed: {next:?}")]
pub struct MoveRefused {
    /// The status the change request is at.
    pub from: i32,
    /// The status asked for.
    pub to: i32,
    /// The statuses it may move to.
    pub next: Vec<i32>,
}

/// Whether a status may move to `to`, given its allowed next codes.
pub fn may_move(from: i32, next: &[i32], to: i32) -> Result<(), MoveRefused> {
    if next.contains(&to) {
        Ok(())
    } else {
        Err(MoveRefused {
            from,
            to,
            next: next.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefix_and_number() {
        assert_eq!(
            parse_key("KOMBITKY-55200"),
            Ok(("KOMBITKY".to_owned(), 55200))
        );
        assert_eq!(format_key("KOMBITKY", 72149), "KOMBITKY-72149");
        for bad in [
            "kombitky-1",
            "KOMBITKY55200",
            "KOMBITKY-",
            "K-1",
            "KOMBITKY-0",
            "KOMBITKY-1x",
            "KOMBITKY-9223372036854775807",
        ] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phases_move_change_requests_forward_only_along_the_lifecycle() {
        let next = |code: i32| {
            DEFAULT_STATUSES
                .iter()
                .find(|s| s.0 == code)
                .map(|s| s.2)
                .unwrap_or_default()
        };
        assert!(may_move(10, next(10), 20).is_ok());
        assert!(may_move(10, next(10), 30).is_err());
        assert!(may_move(80, next(80), 20).is_err());
        // Each phase's status is reachable from the one before it.
        let mut previous = codes::SELECTED;
        for phase in Phase::ALL {
            let status = status_for_phase(phase);
            if status != previous {
                assert!(
                    may_move(previous, next(previous), status).is_ok(),
                    "{previous} -> {status}"
                );
                previous = status;
            }
        }
        assert_eq!(previous, 80);
    }
}

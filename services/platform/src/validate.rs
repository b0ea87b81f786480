//! Request validation that collects every violation before answering, so a caller fixes all fields at once.

use chrono::NaiveDate;
use uuid::Uuid;

use crate::error::{Error, FieldViolation, Reason};
use crate::pii;

/// Collects the field violations of one request.
#[derive(Debug, Default)]
pub struct Validator {
    violations: Vec<FieldViolation>,
}

impl Validator {
    /// An empty validator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a violation.
    pub fn violation(&mut self, field: impl Into<String>, description: impl std::fmt::Display) {
        self.violations
            .push(FieldViolation::new(field, description.to_string()));
    }

    /// A required free-text field: non-blank, at most `max_chars`, and free of personal ID numbers.
    /// Returns the trimmed text.
    pub fn text(&mut self, field: &str, value: &str, max_chars: usize) -> String {
        let value = value.trim();
        if value.is_empty() {
            self.violation(field, "is required");
        } else {
            self.optional_text(field, value, max_chars);
        }
        value.to_owned()
    }

    /// An optional free-text field: at most `max_chars` and free of personal ID numbers.
    pub fn optional_text(&mut self, field: &str, value: &str, max_chars: usize) -> String {
        let value = value.trim();
        if value.chars().count() > max_chars {
            self.violation(field, format!("must be at most {max_chars} characters"));
        }
        if pii::contains_personal_id(value) {
            self.violations.push(FieldViolation::because(
                Reason::PersonalIdInText,
                field,
                "must not contain a personal ID number (CPR or personnummer); use the dedicated field",
            ));
        }
        value.to_owned()
    }

    /// An attached file, in the request fields `content_type` and `content`: a type and size
    /// [`crate::attachments::check_attachment`] accepts, and no personal ID number in plain text.
    pub fn attachment(&mut self, content_type: &str, content: &[u8]) {
        if let Err((field, description)) =
            crate::attachments::check_attachment(content_type, content.len())
        {
            self.violation(field, description);
        } else if crate::attachments::text_holds_personal_id(content_type, content) {
            self.violations.push(FieldViolation::because(
                Reason::PersonalIdInText,
                "content",
                "must not contain a personal ID number (CPR or personnummer)",
            ));
        }
    }

    /// A required id field holding a UUID.
    pub fn id(&mut self, field: &str, value: &str) -> Option<Uuid> {
        if value.is_empty() {
            self.violation(field, "is required");
            return None;
        }
        self.optional_id(field, value)
    }

    /// An optional id field: a UUID when set.
    pub fn optional_id(&mut self, field: &str, value: &str) -> Option<Uuid> {
        if value.is_empty() {
            return None;
        }
        match Uuid::parse_str(value) {
            Ok(id) => Some(id),
            Err(_) => {
                self.violation(field, "must be a UUID");
                None
            }
        }
    }

    /// An e-mail address: one `@` with text either side and a dot in the domain. Returns it lowercased.
    pub fn email(&mut self, field: &str, value: &str) -> String {
        let value = value.trim().to_lowercase();
        let valid = match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !value.chars().any(char::is_whitespace)
                    && value.len() <= 254
            }
            None => false,
        };
        if !valid {
            self.violation(field, "must be an e-mail address");
        }
        value
    }

    /// Digits only, of exactly `len` digits.
    pub fn digits(&mut self, field: &str, value: &str, len: usize) -> String {
        let value = value.trim();
        if value.len() != len || !value.bytes().all(|b| b.is_ascii_digit()) {
            self.violation(field, format!("must be {len} digits"));
        }
        value.to_owned()
    }

    /// A required calendar day written `YYYY-MM-DD`.
    pub fn date(&mut self, field: &str, value: &str) -> Option<NaiveDate> {
        let date = parse_date(value);
        if date.is_none() {
            self.violation(field, "must be a date written YYYY-MM-DD");
        }
        date
    }

    /// A report's first and last month (`YYYY-MM`, fields `first_month` and `last_month`), at most
    /// `max_span` months apart; `None` for a month that is not one (the violation recorded).
    pub fn month_range(
        &mut self,
        first_month: &str,
        last_month: &str,
        max_span: i32,
    ) -> (
        Option<crate::calendar::Month>,
        Option<crate::calendar::Month>,
    ) {
        let first = crate::calendar::parse_month(first_month)
            .map_err(|d| self.violation("first_month", d))
            .ok();
        let last = crate::calendar::parse_month(last_month)
            .map_err(|d| self.violation("last_month", d))
            .ok();
        if let (Some((fy, fm)), Some((ly, lm))) = (first, last) {
            let span = (ly * 12 + lm as i32) - (fy * 12 + fm as i32);
            if !(0..=max_span).contains(&span) {
                self.violation(
                    "last_month",
                    format!("must be 0 to {max_span} months after first_month"),
                );
            }
        }
        (first, last)
    }

    /// Runs `check` and records its error, if any, against `field`.
    pub fn check<E: std::fmt::Display>(&mut self, field: &str, check: Result<(), E>) {
        if let Err(why) = check {
            self.violation(field, why);
        }
    }

    /// An enum field that may be left unspecified (its default); a violation when the number is unknown.
    pub fn known_enum<E: TryFrom<i32> + Default>(&mut self, field: &str, value: i32) -> E {
        E::try_from(value).unwrap_or_else(|_| {
            self.violation(field, "is not a known value");
            E::default()
        })
    }

    /// An enum field that must be set to a known value.
    pub fn required_enum<E: TryFrom<i32> + PartialEq + Default>(
        &mut self,
        field: &str,
        value: i32,
    ) -> E {
        match E::try_from(value) {
            Ok(known) if known != E::default() => known,
            _ => {
                self.violation(field, "is required");
                E::default()
            }
        }
    }

    /// An enum a list may be filtered by: `None` when unspecified (no filter); a violation when the
    /// number is unknown.
    pub fn enum_filter<E: TryFrom<i32> + PartialEq + Default>(
        &mut self,
        field: &str,
        value: i32,
    ) -> Option<E> {
        Some(self.known_enum(field, value)).filter(|known| *known != E::default())
    }

    /// Ok when nothing was violated, otherwise `INVALID_ARGUMENT` naming every field.
    pub fn finish(self) -> Result<(), Error> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(self.violations))
        }
    }
}

/// How requests and responses write calendar days.
const DATE_FORMAT: &str = "%Y-%m-%d";

/// A calendar day written `YYYY-MM-DD` (as requests and other services write it), if it is one.
pub fn parse_date(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value.trim(), DATE_FORMAT).ok()
}

/// A calendar day as requests write it (`YYYY-MM-DD`).
pub fn format_date(date: NaiveDate) -> String {
    date.format(DATE_FORMAT).to_string()
}

/// A required UUID id field on its own, as the string the stores use.
pub fn required_id(field: &str, value: &str) -> Result<String, Error> {
    let mut v = Validator::new();
    let id = v.id(field, value);
    v.finish()?;
    Ok(id.map(|id| id.to_string()).unwrap_or_default())
}

/// An audited entity named by a request (`entity_type`, `entity_id`), the type one of `kinds`.
pub fn entity_ref(
    entity_type: &str,
    entity_id: &str,
    kinds: &[&str],
) -> Result<(String, String), Error> {
    let mut v = Validator::new();
    if !kinds.contains(&entity_type) {
        v.violation(
            "entity_type",
            format!("must be one of {}", kinds.join(", ")),
        );
    }
    let id = v.id("entity_id", entity_id);
    v.finish()?;
    Ok((
        entity_type.to_owned(),
        id.map(|id| id.to_string()).unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: Validator) -> Vec<String> {
        match v.finish() {
            Err(Error::InvalidArgument(vs)) => vs.into_iter().map(|v| v.field).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn collects_every_violation() {
        let mut v = Validator::new();
        v.text("name", "Anne 010190-1234", 100);
        v.email("email", "not-an-address");
        v.id("municipality_id", "42");
        v.digits("cvr_number", "1234", 8);
        assert_eq!(
            fields(v),
            ["name", "email", "municipality_id", "cvr_number"]
        );
    }

    #[test]
    fn accepts_good_input() {
        let mut v = Validator::new();
        assert_eq!(v.text("name", "  Anne Hansen ", 100), "Anne Hansen");
        assert_eq!(v.email("email", "Anne@Aarhus.DK"), "anne@aarhus.dk");
        v.digits("cvr_number", "29189919", 8);
        assert!(v.finish().is_ok());
    }

    #[test]
    fn entity_references_name_their_field() {
        assert!(entity_ref("case", "01a2067f-0000-7000-8000-000000000001", &["case"]).is_ok());
        let err = entity_ref("ticket", "x", &["case"]);
        assert!(matches!(err, Err(Error::InvalidArgument(vs)) if vs.len() == 2));
        assert!(required_id("case_id", "").is_err());
    }

    #[test]
    fn blank_and_long_text_are_rejected() {
        let mut v = Validator::new();
        v.text("title", "   ", 10);
        v.text("description", "a much longer text", 10);
        assert_eq!(fields(v), ["title", "description"]);
    }
}

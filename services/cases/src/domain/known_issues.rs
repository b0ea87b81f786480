//! Known issues: which of a system's known issues a draft case may be about. The draft and each issue
//! are compared as outage detection compares reports ([`Symptom`]): alike enough to share a cause, then
//! ranked by how alike.

use super::outage::Symptom;

/// How many known issues a draft is shown.
pub const MAX_SUGGESTIONS: usize = 5;

/// The issues among `issues` (each with its symptom) that `draft` may be about, most alike first (the
/// earlier given first among equals), at most [`MAX_SUGGESTIONS`], each with how alike it is.
pub fn suggest<'a, T>(draft: &Symptom, issues: &'a [(T, Symptom)]) -> Vec<(&'a T, f64)> {
    let mut alike: Vec<(&T, f64)> = issues
        .iter()
        .filter(|(_, symptom)| draft.same_cause(symptom))
        .map(|(issue, symptom)| (issue, draft.similarity(symptom)))
        .collect();
    alike.sort_by(|a, b| b.1.total_cmp(&a.1));
    alike.truncate(MAX_SUGGESTIONS);
    alike
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symptom(title: &str, text: &str) -> Symptom {
        Symptom::of("KY", title, text)
    }

    #[test]
    fn a_draft_is_shown_the_issues_it_may_be_about_most_alike_first() {
        let issues = vec![
            (
                "login",
                symptom(
                    "Kan ikke logge ind",
                    "Login via MitID fejler med en blank side",
                ),
            ),
            (
                "print",
                symptom(
                    "Udskrivning af afgørelser",
                    "Udskriften mangler sidetal og logo",
                ),
            ),
            (
                "login-slow",
                symptom(
                    "Langsomt login",
                    "MitID login tager over et minut og fejler",
                ),
            ),
        ];
        let draft = symptom(
            "Login fejler",
            "Når jeg logger ind med MitID får jeg en blank side",
        );
        let found: Vec<&str> = suggest(&draft, &issues)
            .into_iter()
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(found.first(), Some(&"login"), "{found:?}");
        assert!(!found.contains(&"print"), "{found:?}");
        let scores: Vec<f64> = suggest(&draft, &issues)
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        assert!(scores.iter().all(|s| (0.5..=1.0).contains(s)), "{scores:?}");

        let unrelated = symptom("Forkert beløb", "Refusionen beregnes forkert for marts");
        assert!(suggest(&unrelated, &issues).is_empty());
        let many: Vec<(usize, Symptom)> = (0..8)
            .map(|i| (i, symptom("Kan ikke logge ind", "Login via MitID fejler")))
            .collect();
        assert_eq!(suggest(&draft, &many).len(), MAX_SUGGESTIONS);
    }
}

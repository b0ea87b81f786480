//! Surveys: what an answer must look like, and when a group's results may be shown. Answers are
//! anonymous; a group of fewer than five respondents could be recognised, so its results are withheld.

use kommune_proto::cases::v1::{FocusAreaStatus, SurveyQuestionKind};

/// The status a focus area is in when `asked` is given (unspecified: a new one is planned, an existing
/// one keeps `current`).
pub fn focus_area_status(
    asked: FocusAreaStatus,
    current: Option<FocusAreaStatus>,
) -> FocusAreaStatus {
    match asked {
        FocusAreaStatus::Unspecified => current.unwrap_or(FocusAreaStatus::Planned),
        status => status,
    }
}

/// The fewest respondents whose results are shown.
pub const MIN_RESPONDENTS_SHOWN: u64 = 5;

/// The most questions a survey has.
pub const MAX_QUESTIONS: usize = 30;

/// The scores a score question takes.
pub const SCORES: std::ops::RangeInclusive<i32> = 1..=5;

/// Whether a group of `respondents` may be shown.
pub fn shown(respondents: u64) -> bool {
    respondents >= MIN_RESPONDENTS_SHOWN
}

/// Why an answer does not fit its question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// A score question without a score from 1 to 5.
    #[error("must be a score from 1 to 5")]
    Score,
    /// A text question with a score.
    #[error("is a text question: no score")]
    NotAScore,
}

/// Whether `score` (0 for none) answers a question of `kind`.
pub fn check_answer(kind: SurveyQuestionKind, score: i32) -> Result<(), AnswerError> {
    match kind {
        SurveyQuestionKind::Score if !SCORES.contains(&score) => Err(AnswerError::Score),
        SurveyQuestionKind::Text if score != 0 => Err(AnswerError::NotAScore),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_of_fewer_than_five_are_withheld_and_answers_fit_their_questions() {
        assert!(!shown(0));
        assert!(!shown(4));
        assert!(shown(5));
        assert_eq!(check_answer(SurveyQuestionKind::Score, 3), Ok(()));
        assert_eq!(
            check_answer(SurveyQuestionKind::Score, 0),
            Err(AnswerError::Score)
        );
        assert_eq!(
            check_answer(SurveyQuestionKind::Score, 6),
            Err(AnswerError::Score)
        );
        assert_eq!(check_answer(SurveyQuestionKind::Text, 0), Ok(()));
        assert_eq!(
            check_answer(SurveyQuestionKind::Text, 2),
            Err(AnswerError::NotAScore)
        );
    }
}

//! The periodic survey: written by the desk, answered once and anonymously by support-eligible users
//! while open, its results shown only for groups of at least five, and the focus areas chosen from it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use kommune_platform::auth::{Caller, USER_SUBJECT_PREFIX};
use kommune_platform::db::{Txn, update_versioned};
use kommune_platform::idempotency::{self, IdempotencyKey};
use kommune_platform::paging::Page;
use kommune_platform::records::AuditTrail;
use kommune_platform::{Error, Reason};
use kommune_proto::cases::v1::{FocusAreaStatus, SurveyQuestionKind};
use kommune_proto::common::v1::PageResponse;

use super::{Registry, require_supporter};
use crate::domain::surveys::{self, check_answer, focus_area_status};
use crate::store::surveys::{self as store, Question, answers, focus_areas};

/// A survey to write (validated).
#[derive(Debug, Clone)]
pub struct NewSurvey {
    /// Title.
    pub title: String,
    /// Questions.
    pub questions: Vec<Question>,
    /// Opens.
    pub open_at: DateTime<Utc>,
    /// Closes.
    pub close_at: DateTime<Utc>,
}

/// An answer to one question: its score (0 for none) and text.
pub type Answer = (i32, String);

/// The results of a group: respondents, and unless withheld per question the count of each score
/// (ones first) and the texts.
#[derive(Debug, Clone, Default)]
pub struct GroupResult {
    /// How many answered.
    pub respondents: u64,
    /// Fewer than five answered: nothing more.
    pub withheld: bool,
    /// Per question: the score counts and the texts.
    pub questions: Vec<([u64; 5], Vec<String>)>,
}

/// A focus area's content (validated).
#[derive(Debug, Clone)]
pub struct FocusAreaContent {
    /// What to improve.
    pub title: String,
    /// Its owner.
    pub owner_user_id: String,
    /// What is done.
    pub actions: String,
    /// Status; unspecified keeps it (a new one is planned).
    pub status: FocusAreaStatus,
}

impl Registry {
    /// Writes a survey (the supplier's support and the consortium).
    pub async fn create_survey(
        &self,
        caller: &Caller,
        new: NewSurvey,
        key: Option<IdempotencyKey>,
    ) -> Result<store::Model, Error> {
        require_supporter(caller, "surveys")?;
        let now = self.clock.now();
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |s: &store::Model| s.id.clone(),
            async |txn: &Txn| {
                let survey = store::insert(
                    txn,
                    store::Model {
                        id: Uuid::now_v7().to_string(),
                        title: new.title,
                        questions: serde_json::to_string(&new.questions)
                            .map_err(Error::internal)?,
                        open_at: new.open_at,
                        close_at: new.close_at,
                        created_at: now,
                    },
                )
                .await?;
                let payload = json!({"title": survey.title, "questions": new.questions.len()});
                self.audit_created(txn, caller, "survey", &survey.id, "create", payload)
                    .await?;
                Ok(survey)
            },
        )
        .await?;
        created
            .or_current(async |id| self.survey(&id, "survey_id").await)
            .await
    }

    /// One survey; NOT_FOUND naming `field`.
    pub async fn survey(&self, id: &str, field: &'static str) -> Result<store::Model, Error> {
        store::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found_field("survey", id, field))
    }

    /// How many answered a survey.
    pub async fn respondents(&self, id: &str) -> Result<u64, Error> {
        store::respondent_count(&self.db, id).await
    }

    /// A page of surveys, newest first, each with how many answered it (counted for the page at once).
    pub async fn list_surveys(
        &self,
        page: &Page,
    ) -> Result<(Vec<(store::Model, u64)>, PageResponse), Error> {
        let (surveys, next) = store::list(&self.db, page).await?;
        let ids: Vec<String> = surveys.iter().map(|s| s.id.clone()).collect();
        let counts: HashMap<String, i64> = store::respondent_counts(&self.db, &ids)
            .await?
            .into_iter()
            .collect();
        let counted = surveys
            .into_iter()
            .map(|s| {
                let n = counts.get(&s.id).copied().unwrap_or_default().max(0) as u64;
                (s, n)
            })
            .collect();
        Ok((counted, next))
    }

    /// A support-eligible user answers an open survey once; the answers keep their municipality, never
    /// who gave them. How many have answered since.
    pub async fn answer_survey(
        &self,
        caller: &Caller,
        id: &str,
        given: Vec<Answer>,
    ) -> Result<u64, Error> {
        let (Some(municipality), Some(user)) = (
            caller.municipality_id,
            caller.subject.strip_prefix(USER_SUBJECT_PREFIX),
        ) else {
            return Err(Error::PermissionDenied(
                Reason::RoleRequired,
                "surveys are answered by support-eligible users of a municipality".into(),
            ));
        };
        let survey = self.survey(id, "survey_id").await?;
        let now = self.clock.now();
        if now < survey.open_at || now >= survey.close_at {
            return Err(Error::FailedPrecondition(
                Reason::OutsideWindow,
                "the survey is not open for answers now".into(),
            ));
        }
        let questions = survey.questions();
        if given.len() != questions.len() {
            return Err(Error::invalid(
                "answers",
                format!(
                    "must hold one answer for each of the {} questions",
                    questions.len()
                ),
            ));
        }
        let mut violations = kommune_platform::validate::Validator::new();
        for (index, (question, (score, _))) in questions.iter().zip(&given).enumerate() {
            violations.check(
                &format!("answers[{index}].score"),
                check_answer(*question.kind, *score),
            );
        }
        violations.finish()?;
        self.require_eligible(caller, user, municipality).await?;
        let response_id = Uuid::new_v4().to_string();
        let rows = given
            .into_iter()
            .enumerate()
            .map(|(index, (score, text))| answers::Model {
                response_id: response_id.clone(),
                question_index: index as i32,
                survey_id: survey.id.clone(),
                municipality_id: municipality.to_string(),
                score,
                text,
            })
            .collect();
        let txn = kommune_platform::db::begin(&self.db).await?;
        store::record_respondent(&txn, &survey.id, user).await?;
        store::insert_answers(&txn, rows).await?;
        // Who answered is audited, as the respondents are kept; never what.
        self.audit(&txn, caller, "survey", &survey.id, "answer", json!({}))
            .await?;
        txn.commit().await?;
        store::respondent_count(&self.db, &survey.id).await
    }

    /// A survey's results overall and per municipality that answered (by id), groups of fewer than
    /// five withheld; counted in the database.
    pub async fn survey_results(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<(GroupResult, BTreeMap<String, GroupResult>), Error> {
        require_supporter(caller, "survey results")?;
        let survey = self.survey(id, "survey_id").await?;
        let questions = survey.questions();
        let per_municipality = store::respondents_per_municipality(&self.db, id).await?;
        let counts = store::score_counts(&self.db, id).await?;
        let empty = |respondents: u64| GroupResult {
            respondents,
            withheld: !surveys::shown(respondents),
            questions: Vec::new(),
        };
        let mut overall = empty(per_municipality.iter().map(|(_, n)| *n as u64).sum());
        let mut groups: BTreeMap<String, GroupResult> = per_municipality
            .into_iter()
            .map(|(municipality, n)| (municipality, empty(n as u64)))
            .collect();
        for (municipality, group) in std::iter::once((None, &mut overall))
            .chain(groups.iter_mut().map(|(m, g)| (Some(m.as_str()), g)))
        {
            if group.withheld {
                continue;
            }
            for (index, question) in questions.iter().enumerate() {
                let mut by_score = [0u64; 5];
                for (of, at, score, n) in &counts {
                    if *at == index as i32
                        && municipality.is_none_or(|m| m == of)
                        && let Some(slot) = usize::try_from(*score - 1)
                            .ok()
                            .and_then(|i| by_score.get_mut(i))
                    {
                        *slot += *n as u64;
                    }
                }
                let texts = if *question.kind == SurveyQuestionKind::Text {
                    store::texts(&self.db, id, index as i32, municipality).await?
                } else {
                    Vec::new()
                };
                group.questions.push((by_score, texts));
            }
        }
        Ok((overall, groups))
    }

    /// Records a focus area chosen from a survey.
    pub async fn create_focus_area(
        &self,
        caller: &Caller,
        survey_id: &str,
        content: FocusAreaContent,
    ) -> Result<focus_areas::Model, Error> {
        require_supporter(caller, "focus areas")?;
        self.survey(survey_id, "focus_area.survey_id").await?;
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let area = store::insert_focus_area(
            &txn,
            focus_areas::Model {
                id: Uuid::now_v7().to_string(),
                survey_id: survey_id.to_owned(),
                title: content.title,
                owner_user_id: content.owner_user_id,
                actions: content.actions,
                status: focus_area_status(content.status, None).into(),
                version: 1,
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
        let payload = json!({"title": area.title, "owner_user_id": area.owner_user_id, "status": area.status});
        self.audit_created(&txn, caller, "focus_area", &area.id, "create", payload)
            .await?;
        txn.commit().await?;
        Ok(area)
    }

    /// Replaces a focus area's title, owner, actions and status, with the version read.
    pub async fn update_focus_area(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        content: FocusAreaContent,
    ) -> Result<focus_areas::Model, Error> {
        require_supporter(caller, "focus areas")?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut area = store::find_focus_area(&txn, id)
            .await?
            .ok_or_else(|| Error::not_found("focus area", id))?;
        Error::require_version("focus area", area.version, expected_version)?;
        area.status = focus_area_status(content.status, Some(*area.status)).into();
        area.title = content.title;
        area.owner_user_id = content.owner_user_id;
        area.actions = content.actions;
        area.version += 1;
        area.updated_at = self.clock.now();
        let area = update_versioned(&txn, area).await?;
        let payload = json!({"title": area.title, "owner_user_id": area.owner_user_id, "status": area.status});
        self.audit(&txn, caller, "focus_area", &area.id, "update", payload)
            .await?;
        txn.commit().await?;
        Ok(area)
    }

    /// A page of a survey's focus areas, oldest first.
    pub async fn focus_areas(
        &self,
        survey_id: &str,
        page: &Page,
    ) -> Result<(Vec<focus_areas::Model>, PageResponse), Error> {
        self.survey(survey_id, "survey_id").await?;
        store::focus_areas_of(&self.db, survey_id, page).await
    }
}

//! The survey API: maps requests to validated surveys, answers and focus areas, and back.

use tonic::{Request, Response, Status};

use kommune_platform::Error;
use kommune_platform::auth::caller;
use kommune_platform::clock::{from_timestamp, to_timestamp};
use kommune_platform::idempotency::IdempotencyKey;
use kommune_platform::paging::Page;
use kommune_platform::validate::{Validator, required_id};
use kommune_proto::cases::v1 as pb;

use super::{CasesApi, SHORT_MAX, TEXT_MAX, TITLE_MAX};
use crate::domain::surveys::MAX_QUESTIONS;
use crate::registry::{FocusAreaContent, GroupResult, NewSurvey};
use crate::store::surveys::{self as store, Question, focus_areas};

fn survey(s: store::Model, respondents: u64) -> pb::Survey {
    pb::Survey {
        questions: s
            .questions()
            .into_iter()
            .map(|q| pb::SurveyQuestion {
                text_da: q.text_da,
                text_en: q.text_en,
                kind: *q.kind as i32,
            })
            .collect(),
        survey_id: s.id,
        title: s.title,
        open_time: Some(to_timestamp(s.open_at)),
        close_time: Some(to_timestamp(s.close_at)),
        respondent_count: respondents as i64,
        create_time: Some(to_timestamp(s.created_at)),
    }
}

fn focus_area(f: focus_areas::Model) -> pb::FocusArea {
    pb::FocusArea {
        focus_area_id: f.id,
        survey_id: f.survey_id,
        title: f.title,
        owner_user_id: f.owner_user_id,
        actions: f.actions,
        status: *f.status as i32,
        version: f.version,
        create_time: Some(to_timestamp(f.created_at)),
        update_time: Some(to_timestamp(f.updated_at)),
    }
}

fn group(municipality_id: String, g: GroupResult) -> pb::SurveyGroupResult {
    pb::SurveyGroupResult {
        municipality_id,
        respondent_count: g.respondents as i64,
        withheld: g.withheld,
        questions: g
            .questions
            .into_iter()
            .enumerate()
            .map(|(index, (by_score, texts))| {
                let scored: u64 = by_score.iter().sum();
                let total: u64 = by_score
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (i as u64 + 1) * n)
                    .sum();
                pb::QuestionResult {
                    question_index: index as i32,
                    average: if scored == 0 {
                        0.0
                    } else {
                        total as f64 / scored as f64
                    },
                    by_score: by_score.iter().map(|n| *n as i64).collect(),
                    texts,
                }
            })
            .collect(),
    }
}

fn focus_content(v: &mut Validator, f: &pb::FocusArea) -> FocusAreaContent {
    FocusAreaContent {
        title: v.text("focus_area.title", &f.title, TITLE_MAX),
        owner_user_id: v
            .id("focus_area.owner_user_id", &f.owner_user_id)
            .map(|id| id.to_string())
            .unwrap_or_default(),
        actions: v.optional_text("focus_area.actions", &f.actions, super::TEXT_MAX),
        status: v.known_enum("focus_area.status", f.status),
    }
}

#[tonic::async_trait]
impl pb::survey_service_server::SurveyService for CasesApi {
    async fn create_survey(
        &self,
        request: Request<pb::CreateSurveyRequest>,
    ) -> Result<Response<pb::CreateSurveyResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let given = req.survey.clone().unwrap_or_default();
        let mut v = Validator::new();
        let title = v.text("survey.title", &given.title, TITLE_MAX);
        if given.questions.is_empty() || given.questions.len() > MAX_QUESTIONS {
            v.violation(
                "survey.questions",
                format!("must hold 1 to {MAX_QUESTIONS} questions"),
            );
        }
        let questions: Vec<Question> = given
            .questions
            .iter()
            .enumerate()
            .map(|(i, q)| Question {
                text_da: v.text(
                    &format!("survey.questions[{i}].text_da"),
                    &q.text_da,
                    SHORT_MAX,
                ),
                text_en: v.optional_text(
                    &format!("survey.questions[{i}].text_en"),
                    &q.text_en,
                    SHORT_MAX,
                ),
                kind: v
                    .required_enum::<pb::SurveyQuestionKind>(
                        &format!("survey.questions[{i}].kind"),
                        q.kind,
                    )
                    .into(),
            })
            .collect();
        let open_at = given.open_time.as_ref().and_then(from_timestamp);
        let close_at = given.close_time.as_ref().and_then(from_timestamp);
        match (open_at, close_at) {
            (Some(open), Some(close)) if close <= open => {
                v.violation("survey.close_time", "must be after open_time");
            }
            (None, _) => v.violation("survey.open_time", "is required"),
            (_, None) => v.violation("survey.close_time", "is required"),
            _ => {}
        }
        v.finish()?;
        let (Some(open_at), Some(close_at)) = (open_at, close_at) else {
            return Err(Error::invalid("survey.open_time", "is required").into());
        };
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateSurvey", &key, &req)?;
        let new = NewSurvey {
            title,
            questions,
            open_at,
            close_at,
        };
        let created = self.registry.create_survey(&caller, new, key).await?;
        let respondents = self.registry.respondents(&created.id).await?;
        Ok(Response::new(pb::CreateSurveyResponse {
            survey: Some(survey(created, respondents)),
        }))
    }

    async fn get_survey(
        &self,
        request: Request<pb::GetSurveyRequest>,
    ) -> Result<Response<pb::GetSurveyResponse>, Status> {
        caller(&request)?;
        let id = required_id("survey_id", &request.get_ref().survey_id)?;
        let found = self.registry.survey(&id, "survey_id").await?;
        let respondents = self.registry.respondents(&id).await?;
        Ok(Response::new(pb::GetSurveyResponse {
            survey: Some(survey(found, respondents)),
        }))
    }

    async fn list_surveys(
        &self,
        request: Request<pb::ListSurveysRequest>,
    ) -> Result<Response<pb::ListSurveysResponse>, Status> {
        caller(&request)?;
        let page = Page::from_request(request.get_ref().page.as_ref())?;
        let (found, page) = self.registry.list_surveys(&page).await?;
        Ok(Response::new(pb::ListSurveysResponse {
            surveys: found.into_iter().map(|(s, n)| survey(s, n)).collect(),
            page: Some(page),
        }))
    }

    async fn answer_survey(
        &self,
        request: Request<pb::AnswerSurveyRequest>,
    ) -> Result<Response<pb::AnswerSurveyResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("survey_id", &req.survey_id);
        let answers = req
            .answers
            .iter()
            .enumerate()
            .map(|(i, a)| {
                (
                    a.score,
                    v.optional_text(&format!("answers[{i}].text"), &a.text, TEXT_MAX),
                )
            })
            .collect();
        v.finish()?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let respondent_count = self.registry.answer_survey(&caller, &id, answers).await?;
        Ok(Response::new(pb::AnswerSurveyResponse {
            respondent_count: respondent_count as i64,
        }))
    }

    async fn get_survey_results(
        &self,
        request: Request<pb::GetSurveyResultsRequest>,
    ) -> Result<Response<pb::GetSurveyResultsResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("survey_id", &request.get_ref().survey_id)?;
        let (overall, municipalities) = self.registry.survey_results(&caller, &id).await?;
        Ok(Response::new(pb::GetSurveyResultsResponse {
            overall: Some(group(String::new(), overall)),
            municipalities: municipalities
                .into_iter()
                .map(|(municipality, g)| group(municipality, g))
                .collect(),
        }))
    }

    async fn create_focus_area(
        &self,
        request: Request<pb::CreateFocusAreaRequest>,
    ) -> Result<Response<pb::CreateFocusAreaResponse>, Status> {
        let caller = caller(&request)?;
        let given = request.into_inner().focus_area.unwrap_or_default();
        let mut v = Validator::new();
        let survey_id = v.id("focus_area.survey_id", &given.survey_id);
        let content = focus_content(&mut v, &given);
        v.finish()?;
        let survey_id = survey_id.map(|id| id.to_string()).unwrap_or_default();
        let area = self
            .registry
            .create_focus_area(&caller, &survey_id, content)
            .await?;
        Ok(Response::new(pb::CreateFocusAreaResponse {
            focus_area: Some(focus_area(area)),
        }))
    }

    async fn update_focus_area(
        &self,
        request: Request<pb::UpdateFocusAreaRequest>,
    ) -> Result<Response<pb::UpdateFocusAreaResponse>, Status> {
        let caller = caller(&request)?;
        let given = request.into_inner().focus_area.unwrap_or_default();
        let mut v = Validator::new();
        let id = v.id("focus_area.focus_area_id", &given.focus_area_id);
        let content = focus_content(&mut v, &given);
        v.finish()?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let area = self
            .registry
            .update_focus_area(&caller, &id, given.version, content)
            .await?;
        Ok(Response::new(pb::UpdateFocusAreaResponse {
            focus_area: Some(focus_area(area)),
        }))
    }

    async fn list_focus_areas(
        &self,
        request: Request<pb::ListFocusAreasRequest>,
    ) -> Result<Response<pb::ListFocusAreasResponse>, Status> {
        caller(&request)?;
        let req = request.get_ref();
        let id = required_id("survey_id", &req.survey_id)?;
        let page = Page::from_request(req.page.as_ref())?;
        let (areas, page) = self.registry.focus_areas(&id, &page).await?;
        Ok(Response::new(pb::ListFocusAreasResponse {
            focus_areas: areas.into_iter().map(focus_area).collect(),
            page: Some(page),
        }))
    }
}

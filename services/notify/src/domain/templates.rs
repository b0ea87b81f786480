//! The texts of notifications: one template per event kind, in Danish and English, as a subject, plain
//! text and HTML. Values are escaped in HTML; nothing here reads personal ID numbers (the delivery guard
//! checks the rendered text anyway).

use kommune_proto::notify::v1::Language;

/// What a notification tells, with the values its template needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A resolved case's reporter is invited to rate how it was handled.
    RatingInvitation {
        /// `SAG-000123`.
        number: String,
        /// Its title.
        title: String,
    },
    /// A case was filed.
    CaseFiled {
        /// `SAG-000123`.
        number: String,
        /// Its title.
        title: String,
    },
    /// A case changed (state, team, title, a public comment…).
    CaseChanged {
        /// `SAG-000123`.
        number: String,
        /// Its title.
        title: String,
        /// What happened, e.g. `comment`.
        change: String,
        /// Its state after, e.g. `CASE_STATE_RESOLVED`.
        state: String,
    },
    /// An incident a case is linked to has news (an update, a reply to every case).
    IncidentUpdate {
        /// The incident's title.
        title: String,
        /// The news.
        text: String,
    },
    /// An incident is over.
    IncidentResolved {
        /// The incident's title.
        title: String,
        /// The resolution.
        text: String,
    },
    /// The follow-up with the supplier on an incident is overdue.
    FollowUpOverdue {
        /// The incident's title.
        title: String,
        /// When it was due (local time, written out).
        due: String,
    },
    /// A case's SLA target is due soon or missed.
    SlaAlert {
        /// `SAG-000123`.
        number: String,
        /// Its title.
        title: String,
        /// `response` or `resolution`.
        target: String,
        /// Missed (else due soon).
        breached: bool,
        /// When it is due (local time, written out).
        due: String,
    },
    /// An operational message was published, updated or resolved.
    OperationalMessage {
        /// `publish`, `update` or `resolve`.
        change: String,
        /// Headline and text in Danish and, when given, English.
        texts: MessageTexts,
        /// The affected systems' names.
        systems: Vec<String>,
    },
    /// The change-request list was published.
    ChangeRequestListPublished {
        /// The publication's number.
        number: i64,
        /// The publisher's note, e.g. "November 2026".
        note: String,
        /// How many change requests it holds.
        count: i64,
    },
    /// A klik task is due soon.
    TaskDeadline {
        /// The project's name.
        project: String,
        /// The task's title.
        title: String,
        /// Its deadline, `YYYY-MM-DD`.
        due: String,
    },
    /// A klik wave's go-live moved, and its municipalities' task deadlines with it.
    WaveMoved {
        /// The project's name.
        project: String,
        /// The wave's name.
        wave: String,
        /// The go-live before, `YYYY-MM-DD`.
        from: String,
        /// The go-live now, `YYYY-MM-DD`.
        to: String,
        /// How many tasks got new dates.
        rescheduled: i64,
    },
    /// A catalogue order was placed or took a step.
    OrderStep {
        /// `BEST-000123`.
        number: String,
        /// The item's Danish name.
        item_da: String,
        /// The item's English name.
        item_en: String,
        /// The state entered, e.g. `ORDER_STATE_QUOTED`.
        state: String,
        /// The reason given for a rejection, cancellation or declined quote.
        reason: String,
        /// The price in øre.
        amount_ore: i64,
        /// The promised delivery date, `YYYY-MM-DD`, once delivery started.
        promised: String,
    },
    /// Someone commented on a catalogue order.
    OrderCommented {
        /// `BEST-000123`.
        number: String,
        /// The comment.
        text: String,
    },
    /// Tasks of a klik project were published to a municipality.
    TasksPublished {
        /// The project's name.
        project: String,
        /// The municipality's name.
        municipality: String,
        /// How many tasks.
        count: i64,
    },
}

/// An operational message's texts.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct MessageTexts {
    /// Danish headline.
    pub title_da: String,
    /// Danish text.
    pub text_da: String,
    /// Danish workaround.
    pub workaround_da: String,
    /// Danish closing words.
    pub resolution_da: String,
    /// English headline.
    pub title_en: String,
    /// English text.
    pub text_en: String,
    /// English workaround.
    pub workaround_en: String,
    /// English closing words.
    pub resolution_en: String,
}

impl MessageTexts {
    /// Headline, text, workaround and closing words in `language`, falling back to Danish.
    pub fn in_language(&self, language: Language) -> (&str, &str, &str, &str) {
        if language == Language::English && !self.title_en.is_empty() {
            (
                &self.title_en,
                &self.text_en,
                &self.workaround_en,
                &self.resolution_en,
            )
        } else {
            (
                &self.title_da,
                &self.text_da,
                &self.workaround_da,
                &self.resolution_da,
            )
        }
    }
}

/// A rendered notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// HTML.
    pub html: String,
}

impl Rendered {
    /// Every text of it, for the personal-ID guard.
    pub fn all_text(&self) -> String {
        format!("{}\n{}\n{}", self.subject, self.text, self.html)
    }
}

impl Content {
    /// The event kind, e.g. `case_changed`.
    pub fn kind(&self) -> &'static str {
        match self {
            Content::CaseFiled { .. } => "case_filed",
            Content::RatingInvitation { .. } => "rating_invitation",
            Content::CaseChanged { .. } => "case_changed",
            Content::IncidentUpdate { .. } => "incident_update",
            Content::IncidentResolved { .. } => "incident_resolved",
            Content::FollowUpOverdue { .. } => "follow_up_overdue",
            Content::SlaAlert { .. } => "sla_alert",
            Content::OperationalMessage { .. } => "operational_message",
            Content::ChangeRequestListPublished { .. } => "change_request_list_published",
            Content::TaskDeadline { .. } => "task_deadline",
            Content::TasksPublished { .. } => "tasks_published",
            Content::WaveMoved { .. } => "wave_moved",
            Content::OrderStep { .. } => "order_step",
            Content::OrderCommented { .. } => "order_commented",
        }
    }

    /// Renders it in `language`.
    pub fn render(&self, language: Language) -> Rendered {
        let words = Words {
            english: language == Language::English,
        };
        let pick = |da: &str, en: &str| words.pick(da, en);
        let (subject, paragraphs): (String, Vec<String>) = match self {
            Content::CaseFiled { number, title } => (
                pick(
                    &format!("Sag {number} er oprettet: {title}"),
                    &format!("Case {number} was filed: {title}"),
                ),
                vec![pick(
                    "Sagen er modtaget og bliver behandlet af support.",
                    "The case was received and will be handled by support.",
                )],
            ),
            Content::CaseChanged {
                number,
                title,
                change,
                state,
            } => case_changed(words, number, title, change, state),
            Content::RatingInvitation { number, title } => (
                pick(
                    &format!("Hvordan gik det med sag {number}? {title}"),
                    &format!("How did case {number} go? {title}"),
                ),
                vec![
                    pick(
                        "Sagen er løst. Giv gerne supporten en karakter fra 1 (dårlig) til 5 (rigtig god), og skriv, hvad der gik godt eller skidt. Det tager et minut og hjælper os med at blive bedre.",
                        "The case is resolved. Please rate the support from 1 (poor) to 5 (excellent), and say what went well or not. It takes a minute and helps us improve.",
                    ),
                    pick(
                        "Du bliver kun spurgt én gang om denne sag.",
                        "You are asked only once about this case.",
                    ),
                ],
            ),
            Content::IncidentUpdate { title, text } => (
                pick(
                    &format!("Nyt om driftsforstyrrelsen: {title}"),
                    &format!("News about the disruption: {title}"),
                ),
                vec![text.clone()],
            ),
            Content::IncidentResolved { title, text } => (
                pick(
                    &format!("Driftsforstyrrelsen er løst: {title}"),
                    &format!("The disruption is resolved: {title}"),
                ),
                vec![
                    text.clone(),
                    // Read by the reporters and by the other support-eligible users of the linked
                    // cases' municipalities alike.
                    pick(
                        "Sagerne om fejlen er opdateret.",
                        "The cases about the fault were updated.",
                    ),
                ],
            ),
            Content::FollowUpOverdue { title, due } => (
                pick(
                    &format!("Opfølgning hos leverandøren er overskredet: {title}"),
                    &format!("Follow-up with the supplier is overdue: {title}"),
                ),
                vec![pick(
                    &format!("Opfølgningen skulle være sket {due}."),
                    &format!("The follow-up was due {due}."),
                )],
            ),
            Content::SlaAlert {
                number,
                title,
                target,
                breached,
                due,
            } => sla_alert(words, number, title, target, *breached, due),
            Content::OperationalMessage {
                change,
                texts,
                systems,
            } => operational_message(words, language, change, texts, systems),
            Content::ChangeRequestListPublished {
                number,
                note,
                count,
            } => (
                pick(
                    &format!("Ændringsønskelisten er publiceret: {note}"),
                    &format!("The change-request list is published: {note}"),
                ),
                vec![pick(
                    &format!("Publikation nr. {number} rummer {count} ændringsønsker."),
                    &format!("Publication no. {number} holds {count} change requests."),
                )],
            ),
            Content::TaskDeadline {
                project,
                title,
                due,
            } => (
                pick(
                    &format!("Frist {due}: {title} ({project})"),
                    &format!("Due {due}: {title} ({project})"),
                ),
                vec![pick(
                    &format!(
                        "Opgaven »{title}« i projektet {project} skal være løst senest {due}."
                    ),
                    &format!("The task \"{title}\" in the project {project} is due on {due}."),
                )],
            ),
            Content::TasksPublished {
                project,
                municipality,
                count,
            } => tasks_published(words, project, municipality, *count),
            Content::WaveMoved {
                project,
                wave,
                from,
                to,
                rescheduled,
            } => wave_moved(words, project, wave, from, to, *rescheduled),
            Content::OrderStep {
                number,
                item_da,
                item_en,
                state,
                reason,
                amount_ore,
                promised,
            } => {
                let item = pick(item_da, item_en);
                order_step(words, number, &item, state, reason, *amount_ore, promised)
            }
            Content::OrderCommented { number, text } => (
                pick(
                    &format!("Ny kommentar til bestilling {number}"),
                    &format!("New comment on order {number}"),
                ),
                vec![text.clone()],
            ),
        };
        assemble(words, subject, &paragraphs)
    }
}

/// What an order's step means to the orderer and the supplier.
fn order_step(
    words: Words,
    number: &str,
    item: &str,
    state: &str,
    reason: &str,
    amount_ore: i64,
    promised: &str,
) -> (String, Vec<String>) {
    let pick = |da: &str, en: &str| words.pick(da, en);
    let price = kommune_platform::money::kroner(amount_ore, words.english);
    let (subject_da, subject_en, text) = match state {
        "ORDER_STATE_SUBMITTED" => (
            "er modtaget",
            "was received",
            pick(
                "Leverandøren behandler bestillingen og vender tilbage.",
                "The supplier handles the order and will come back to you.",
            ),
        ),
        "ORDER_STATE_QUOTED" => (
            "har fået et tilbud",
            "has a quote",
            pick(
                &format!(
                    "Tilbuddet lyder på {price} ekskl. moms. Accepter eller afvis det ved bestillingen."
                ),
                &format!(
                    "The quote is {price} excluding VAT. Accept or decline it with the order."
                ),
            ),
        ),
        "ORDER_STATE_ACCEPTED" => (
            "tilbuddet er accepteret",
            "the quote was accepted",
            pick(
                &format!("Kommunen har accepteret tilbuddet på {price}."),
                &format!("The municipality accepted the quote of {price}."),
            ),
        ),
        "ORDER_STATE_APPROVED" => (
            "er godkendt",
            "was approved",
            pick(
                "Konsortiet har godkendt bestillingen; leverancen kan begynde.",
                "The consortium approved the order; delivery can start.",
            ),
        ),
        "ORDER_STATE_IN_DELIVERY" => (
            "er under levering",
            "is being delivered",
            pick(
                &format!("Leverancen er begyndt og lovet senest {promised}."),
                &format!("Delivery has started and is promised by {promised}."),
            ),
        ),
        "ORDER_STATE_DELIVERED" => (
            "er leveret",
            "was delivered",
            pick(
                &format!(
                    "Bestillingen er leveret og kommer med på næste fakturagrundlag ({price})."
                ),
                &format!("The order was delivered and goes on the next invoicing basis ({price})."),
            ),
        ),
        "ORDER_STATE_INVOICED" => (
            "er faktureret",
            "was invoiced",
            pick(
                &format!("Bestillingen er medtaget i en fakturering på {price}."),
                &format!("The order was included in an invoicing of {price}."),
            ),
        ),
        "ORDER_STATE_REJECTED" => (
            "er afvist",
            "was rejected",
            pick(
                &format!("Begrundelse: {reason}"),
                &format!("Reason: {reason}"),
            ),
        ),
        "ORDER_STATE_CANCELLED" => (
            "er annulleret",
            "was cancelled",
            pick(
                &format!("Begrundelse: {reason}"),
                &format!("Reason: {reason}"),
            ),
        ),
        _ => (
            "er ændret",
            "changed",
            pick(
                "Se bestillingen i servicekataloget.",
                "See the order in the service catalogue.",
            ),
        ),
    };
    (
        pick(
            &format!("Bestilling {number} {subject_da}: {item}"),
            &format!("Order {number} {subject_en}: {item}"),
        ),
        vec![text],
    )
}

/// Chooses the Danish or the English wording.
#[derive(Debug, Clone, Copy)]
struct Words {
    english: bool,
}

impl Words {
    fn pick(self, da: &str, en: &str) -> String {
        if self.english { en } else { da }.to_owned()
    }
}

/// A notification's subject and paragraphs.
type Wording = (String, Vec<String>);

fn case_changed(words: Words, number: &str, title: &str, change: &str, state: &str) -> Wording {
    (
        words.pick(
            &format!("Sag {number} er opdateret: {title}"),
            &format!("Case {number} was updated: {title}"),
        ),
        vec![words.pick(
            &format!(
                "Ændring: {}. Sagen står nu som {}.",
                change_da(change),
                state_da(state)
            ),
            &format!(
                "Change: {}. The case is now {}.",
                change_en(change),
                state_en(state)
            ),
        )],
    )
}

fn sla_alert(
    words: Words,
    number: &str,
    title: &str,
    target: &str,
    breached: bool,
    due: &str,
) -> Wording {
    let target_da = if target == "response" {
        "første svar"
    } else {
        "løsning"
    };
    let subject = match breached {
        true => words.pick(
            &format!("SLA overskredet ({target_da}) på sag {number}: {title}"),
            &format!("SLA missed ({target}) on case {number}: {title}"),
        ),
        false => words.pick(
            &format!("SLA udløber snart ({target_da}) på sag {number}: {title}"),
            &format!("SLA due soon ({target}) on case {number}: {title}"),
        ),
    };
    (
        subject,
        vec![words.pick(&format!("Frist: {due}."), &format!("Due: {due}."))],
    )
}

fn operational_message(
    words: Words,
    language: Language,
    change: &str,
    texts: &MessageTexts,
    systems: &[String],
) -> Wording {
    let (title, text, workaround, resolution) = texts.in_language(language);
    let prefix = match (change, words.english) {
        ("resolve", false) => "Løst: ",
        ("resolve", true) => "Resolved: ",
        ("update", false) => "Opdateret: ",
        ("update", true) => "Updated: ",
        _ => "",
    };
    let mut paragraphs = vec![text.to_owned()];
    if !workaround.is_empty() {
        paragraphs.push(words.pick(
            &format!("Midlertidig løsning: {workaround}"),
            &format!("Workaround: {workaround}"),
        ));
    }
    if !resolution.is_empty() {
        paragraphs.push(resolution.to_owned());
    }
    paragraphs.push(words.pick(
        &format!("Berørte systemer: {}", systems.join(", ")),
        &format!("Affected systems: {}", systems.join(", ")),
    ));
    (format!("{prefix}{title}"), paragraphs)
}

fn tasks_published(words: Words, project: &str, municipality: &str, count: i64) -> Wording {
    (
        words.pick(
            &format!("{count} nye opgaver i {project}"),
            &format!("{count} new tasks in {project}"),
        ),
        vec![words.pick(
            &format!("Der er udgivet {count} opgaver i projektet {project} til {municipality}."),
            &format!("{count} tasks were published in the project {project} to {municipality}."),
        )],
    )
}

fn wave_moved(
    words: Words,
    project: &str,
    wave: &str,
    from: &str,
    to: &str,
    rescheduled: i64,
) -> Wording {
    (
        words.pick(
            &format!("Go-live flyttet til {to}: {wave} ({project})"),
            &format!("Go-live moved to {to}: {wave} ({project})"),
        ),
        vec![words.pick(
            &format!(
                "Go-live for {wave} i projektet {project} er flyttet fra {from} til {to}. \
                 {rescheduled} opgaver har fået nye frister; løste opgaver og opgaver i den \
                 frosne periode beholder deres."
            ),
            &format!(
                "Go-live of {wave} in the project {project} moved from {from} to {to}. \
                 {rescheduled} tasks got new deadlines; done tasks and tasks in the frozen \
                 zone keep theirs."
            ),
        )],
    )
}

/// The subject and paragraphs as plain text and HTML, with the footer.
fn assemble(words: Words, subject: String, paragraphs: &[String]) -> Rendered {
    let footer = words.pick(
        "Du får denne besked fra kommune. Du kan ændre eller framelde dine abonnementer.",
        "You receive this from kommune. You can change or opt out of your subscriptions.",
    );
    assemble_with(words, subject, paragraphs, footer)
}

/// A mail the desk wrote to a system's supplier: its subject and text as written, and how to answer,
/// in Danish and English (an outside recipient's language is not known).
pub fn supplier_mail(subject: &str, text: &str) -> Rendered {
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let footer = "Svar på denne mail, så kommer svaret med på sagen. \
                  / Reply to this mail and the answer joins the case."
        .to_owned();
    assemble_with(
        Words { english: false },
        subject.to_owned(),
        &paragraphs,
        footer,
    )
}

/// The answer to a mail the desk's mailbox refused, for holding a personal ID number or, when
/// `too_large`, for its size: why, and how to write again, in Danish and English (nothing of the mail
/// is repeated).
pub fn mail_refused(too_large: bool) -> Rendered {
    let paragraphs = if too_large {
        [
            "Din mail til supporten var for stor og er derfor afvist. Intet af den er gemt.",
            "Skriv igen med færre eller mindre vedhæftede filer (skærmbilleder, PDF eller tekst på \
             højst 3 MB hver), eller opret sagen i kommune og vedhæft filerne dér.",
            "Your mail to the support desk was too large and was refused. Nothing of it was kept.",
            "Please write again with fewer or smaller attachments (screenshots, PDF or text of at most \
             3 MB each), or file the case in kommune and attach the files there.",
        ]
    } else {
        [
            "Din mail til supporten indeholdt et CPR-nummer og er derfor afvist. Intet af den er gemt.",
            "Skriv igen uden CPR-nummeret. Skal supporten kende en borgers CPR-nummer, så opret sagen \
             i kommune og angiv det i feltet til CPR-nummer, hvor det opbevares sikkert.",
            "Your mail to the support desk held a personal ID number (CPR) and was refused. Nothing of \
             it was kept.",
            "Please write again without it. If support needs a citizen's personal ID number, file the \
             case in kommune and give it in the field for it, where it is kept safe.",
        ]
    }
    .map(str::to_owned);
    assemble_with(
        Words { english: false },
        "Din mail er afvist / Your mail was refused".to_owned(),
        &paragraphs,
        "Denne besked er sendt automatisk / This message was sent automatically.".to_owned(),
    )
}

fn assemble_with(words: Words, subject: String, paragraphs: &[String], footer: String) -> Rendered {
    let text = format!("{}\n\n-- \n{footer}\n", paragraphs.join("\n\n"));
    let lang = if words.english { "en" } else { "da" };
    let title = escape(&subject);
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>", escape(p)))
        .collect();
    let footer_html = escape(&footer);
    let html = format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         </head><body>{body}<hr><p><small>{footer_html}</small></p></body></html>"
    );
    Rendered {
        subject,
        text,
        html,
    }
}

fn change_da(change: &str) -> &str {
    match change {
        "triage" => "sagen er visiteret",
        "start" => "arbejdet er begyndt",
        "await_municipality" => "support venter på svar fra kommunen",
        "resume" => "kommunen har svaret",
        "resolve" => "sagen er løst",
        "close" => "sagen er lukket",
        "reopen" => "sagen er genåbnet",
        "escalate" => "sagen er sendt videre til 3. linje",
        "return_to_second_line" => "sagen er tilbage hos 2. linje",
        "comment" => "ny kommentar",
        "title" => "ny titel",
        "attachment" => "ny vedhæftet fil",
        "merge" => "sagen er lagt sammen med en anden",
        "convert" => "sagen er blevet til et ændringsønske",
        other => other,
    }
}

fn change_en(change: &str) -> &str {
    match change {
        "triage" => "the case was triaged",
        "start" => "work has started",
        "await_municipality" => "support awaits an answer from the municipality",
        "resume" => "the municipality has answered",
        "resolve" => "the case is resolved",
        "close" => "the case is closed",
        "reopen" => "the case was reopened",
        "escalate" => "the case was passed on to the 3rd line",
        "return_to_second_line" => "the case is back with the 2nd line",
        "comment" => "a new comment",
        "title" => "a new title",
        "attachment" => "a new attachment",
        "merge" => "the case was merged with another",
        "convert" => "the case became a change request",
        other => other,
    }
}

fn state_da(state: &str) -> &'static str {
    match state {
        "CASE_STATE_NEW" => "ny",
        "CASE_STATE_TRIAGED" => "visiteret",
        "CASE_STATE_IN_PROGRESS" => "under behandling",
        "CASE_STATE_AWAITING_MUNICIPALITY" => "afventer kommunen",
        "CASE_STATE_RESOLVED" => "løst",
        "CASE_STATE_CLOSED" => "lukket",
        _ => "ukendt",
    }
}

fn state_en(state: &str) -> &'static str {
    match state {
        "CASE_STATE_NEW" => "new",
        "CASE_STATE_TRIAGED" => "triaged",
        "CASE_STATE_IN_PROGRESS" => "in progress",
        "CASE_STATE_AWAITING_MUNICIPALITY" => "awaiting the municipality",
        "CASE_STATE_RESOLVED" => "resolved",
        "CASE_STATE_CLOSED" => "closed",
        _ => "unknown",
    }
}

/// Escapes text for HTML and XML.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A text that is harmless only when escaped.
    const HOSTILE: &str = "Beløb <forkert> & \"mere\"";

    /// One sample of every kind, each carrying [`HOSTILE`] in a text it shows.
    fn samples() -> Vec<Content> {
        let text = || HOSTILE.to_owned();
        vec![
            Content::CaseFiled {
                number: "SAG-000042".into(),
                title: text(),
            },
            Content::CaseChanged {
                number: "SAG-000042".into(),
                title: text(),
                change: "await_municipality".into(),
                state: "CASE_STATE_AWAITING_MUNICIPALITY".into(),
            },
            Content::IncidentUpdate {
                title: "Login fejler".into(),
                text: text(),
            },
            Content::IncidentResolved {
                title: text(),
                text: "Rettet".into(),
            },
            Content::FollowUpOverdue {
                title: text(),
                due: "2025-04-02 10:00".into(),
            },
            Content::SlaAlert {
                number: "SAG-000042".into(),
                title: text(),
                target: "response".into(),
                breached: true,
                due: "2025-04-02 10:00".into(),
            },
            Content::OperationalMessage {
                change: "publish".into(),
                texts: MessageTexts {
                    title_da: text(),
                    text_da: "Login fejler.".into(),
                    title_en: text(),
                    text_en: "Login fails.".into(),
                    ..Default::default()
                },
                systems: vec!["KY".into()],
            },
            Content::ChangeRequestListPublished {
                number: 7,
                note: text(),
                count: 12,
            },
            Content::TaskDeadline {
                project: "FBS".into(),
                title: text(),
                due: "2025-04-02".into(),
            },
            Content::RatingInvitation {
                number: "SAG-000042".into(),
                title: text(),
            },
            Content::TasksPublished {
                project: text(),
                municipality: "Aarhus Kommune".into(),
                count: 3,
            },
            Content::WaveMoved {
                project: "FBS".into(),
                wave: text(),
                from: "2025-09-01".into(),
                to: "2025-10-01".into(),
                rescheduled: 12,
            },
            Content::OrderStep {
                number: "BEST-000012".into(),
                item_da: text(),
                item_en: text(),
                state: "ORDER_STATE_QUOTED".into(),
                reason: String::new(),
                amount_ore: 712_500,
                promised: String::new(),
            },
            Content::OrderCommented {
                number: "BEST-000012".into(),
                text: text(),
            },
        ]
    }

    #[test]
    fn every_kind_renders_in_danish_and_english_with_escaped_html() {
        let samples = samples();
        let mut kinds: Vec<&str> = samples.iter().map(Content::kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), 14, "one sample of each kind");
        for content in &samples {
            let kind = content.kind();
            let da = content.render(Language::Danish);
            let en = content.render(Language::English);
            for (rendered, lang) in [(&da, "da"), (&en, "en")] {
                assert!(!rendered.subject.is_empty(), "{kind} {lang}: a subject");
                assert!(!rendered.text.trim().is_empty(), "{kind} {lang}: a text");
                assert!(
                    rendered.html.contains(&format!("<html lang=\"{lang}\">")),
                    "{kind} {lang}: {}",
                    rendered.html
                );
                assert!(
                    rendered.all_text().contains(HOSTILE),
                    "{kind} {lang}: the sample's text is shown"
                );
                assert!(
                    rendered.html.contains(&escape(HOSTILE))
                        && !rendered.html.contains("<forkert>"),
                    "{kind} {lang}: escaped: {}",
                    rendered.html
                );
            }
            assert_ne!(da.text, en.text, "{kind}: English differs from Danish");
        }
    }

    #[test]
    fn a_supplier_mail_keeps_the_desk_s_words_and_says_how_to_answer() {
        let text = format!("Udbetalinger fejler.\n\n{HOSTILE}\n\nSiden / Since: 2026-12-07 09:00");
        let mail = supplier_mail("[SAG-000123] Udbetalinger fejler", &text);
        assert_eq!(mail.subject, "[SAG-000123] Udbetalinger fejler");
        assert!(
            mail.text.starts_with("Udbetalinger fejler.\n\n"),
            "{}",
            mail.text
        );
        assert!(
            mail.text.contains("Svar på denne mail") && mail.text.contains("Reply to this mail")
        );
        assert!(mail.html.contains(&escape(HOSTILE)) && !mail.html.contains("<forkert>"));
        assert_eq!(
            mail.html.matches("<p>").count(),
            4,
            "three paragraphs and the footer"
        );
    }

    #[test]
    fn a_refused_mail_is_answered_in_both_languages_without_its_contents() {
        let too_large = mail_refused(true);
        assert!(too_large.text.contains("for stor") && too_large.text.contains("too large"));
        let refusal = mail_refused(false);
        assert!(refusal.subject.contains("afvist") && refusal.subject.contains("refused"));
        assert!(refusal.text.contains("CPR-nummer") && refusal.text.contains("personal ID number"));
        assert!(!kommune_platform::pii::contains_personal_id(
            &refusal.all_text()
        ));
    }

    #[test]
    fn case_changes_name_the_change_in_words_in_both_languages() {
        let content = Content::CaseChanged {
            number: "SAG-000042".into(),
            title: "Forkert beløb".into(),
            change: "await_municipality".into(),
            state: "CASE_STATE_AWAITING_MUNICIPALITY".into(),
        };
        let da = content.render(Language::Danish);
        let en = content.render(Language::English);
        assert_eq!(da.subject, "Sag SAG-000042 er opdateret: Forkert beløb");
        assert!(da.text.starts_with(
            "Ændring: support venter på svar fra kommunen. Sagen står nu som afventer kommunen."
        ));
        assert!(en.text.starts_with(
            "Change: support awaits an answer from the municipality. The case is now awaiting the municipality."
        ));
        assert!(!en.text.contains("await_municipality"), "{}", en.text);
    }

    #[test]
    fn operational_messages_fall_back_to_danish_and_carry_the_workaround() {
        let content = Content::OperationalMessage {
            change: "publish".into(),
            texts: MessageTexts {
                title_da: "Driftsforstyrrelse i KY".into(),
                text_da: "Login fejler.".into(),
                workaround_da: "Brug den direkte adresse.".into(),
                ..Default::default()
            },
            systems: vec!["KY".into()],
        };
        let en = content.render(Language::English);
        assert_eq!(en.subject, "Driftsforstyrrelse i KY");
        assert!(en.text.contains("Workaround: Brug den direkte adresse."));
        assert!(en.text.contains("Affected systems: KY"));
        assert_eq!(content.kind(), "operational_message");
    }

    #[test]
    fn order_steps_say_what_happened_with_prices_in_kroner() {
        let quoted = Content::OrderStep {
            number: "BEST-000012".into(),
            item_da: "Dataudtræk".into(),
            item_en: "Data extract".into(),
            state: "ORDER_STATE_QUOTED".into(),
            reason: String::new(),
            amount_ore: 123_456_789,
            promised: String::new(),
        };
        let da = quoted.render(Language::Danish);
        let en = quoted.render(Language::English);
        assert_eq!(
            da.subject,
            "Bestilling BEST-000012 har fået et tilbud: Dataudtræk"
        );
        assert!(
            da.text.contains("1.234.567,89 kr. ekskl. moms"),
            "{}",
            da.text
        );
        assert_eq!(en.subject, "Order BEST-000012 has a quote: Data extract");
        let rejected = Content::OrderStep {
            number: "BEST-000012".into(),
            item_da: "Dataudtræk".into(),
            item_en: "Data extract".into(),
            state: "ORDER_STATE_REJECTED".into(),
            reason: "For dyrt".into(),
            amount_ore: 0,
            promised: String::new(),
        };
        assert!(
            rejected
                .render(Language::Danish)
                .text
                .contains("Begrundelse: For dyrt")
        );
        assert!(
            en.text.contains("DKK 1,234,567.89 excluding VAT"),
            "{}",
            en.text
        );
    }
}

//! The search index: every published guide's current sections in a tantivy index held in memory,
//! analysed in each guide's language (Danish, Swedish or English stemming and stop words), so
//! "udbetalinger" finds "udbetaling" and the most relevant section comes first. Each replica builds
//! its own from the database and keeps it current (see `Registry::sync_index`); the database stays the
//! one truth. Calls block: run them off the async threads.

use std::collections::HashMap;
use std::sync::Mutex;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    Language as Stemming, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter,
    TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use kommune_platform::Error;
use kommune_proto::guides::v1::Language;

/// The languages guides are written in, with their analysers.
const LANGUAGES: [(Language, Stemming, &str); 3] = [
    (Language::Danish, Stemming::Danish, "guides_da"),
    (Language::Swedish, Stemming::Swedish, "guides_sv"),
    (Language::English, Stemming::English, "guides_en"),
];

/// A heading weighs this much more than the text below it.
const HEADING_BOOST: f32 = 2.0;
/// The longest snippet, in characters.
const SNIPPET_CHARS: usize = 200;
/// The index writer's memory (tantivy's least).
const WRITER_MEMORY: usize = 15_000_000;

/// A section as the index holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedSection {
    /// The section's id.
    pub section_id: String,
    /// Its guide.
    pub guide_id: String,
    /// The guide's title.
    pub guide_title: String,
    /// The guide's system.
    pub system_id: String,
    /// The guide's language.
    pub language: Language,
    /// The guide version.
    pub version: i32,
    /// `4.2`.
    pub number: String,
    /// Its heading.
    pub heading: String,
    /// Its heading path.
    pub heading_path: Vec<String>,
    /// 1 for a chapter.
    pub level: i32,
    /// Its anchor.
    pub anchor: String,
    /// Its page; 0 when unknown.
    pub page: i32,
    /// Its place in the guide.
    pub position: i32,
    /// Its text (searched; empty in hits).
    pub text: String,
}

/// A section found.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The section, without its text.
    pub section: IndexedSection,
    /// Its relevance.
    pub score: f32,
    /// Where the words were found, as HTML with `<b>` marks.
    pub snippet_html: String,
}

#[derive(Clone, Copy)]
struct Fields {
    section_id: Field,
    guide_id: Field,
    guide_title: Field,
    system_id: Field,
    language: Field,
    version: Field,
    number: Field,
    heading: Field,
    heading_path: Field,
    level: Field,
    anchor: Field,
    page: Field,
    position: Field,
    /// (heading, body) searched per language, in the order of [`LANGUAGES`].
    searched: [(Field, Field); 3],
}

/// The in-memory index of one replica.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    /// The revision of each guide as indexed.
    held: Mutex<HashMap<String, i64>>,
}

fn failed(err: impl std::fmt::Display) -> Error {
    Error::internal(format!("search index: {err}"))
}

impl SearchIndex {
    /// An empty index.
    pub fn new() -> Result<Self, Error> {
        let mut schema = Schema::builder();
        let stored_text = STRING | STORED;
        let searched = LANGUAGES.map(|(_, _, analyser)| {
            let indexing = TextFieldIndexing::default()
                .set_tokenizer(analyser)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions);
            let options = TextOptions::default().set_indexing_options(indexing);
            (
                schema.add_text_field(&format!("heading_{analyser}"), options.clone()),
                schema.add_text_field(&format!("body_{analyser}"), options.set_stored()),
            )
        });
        let fields = Fields {
            section_id: schema.add_text_field("section_id", stored_text.clone()),
            guide_id: schema.add_text_field("guide_id", stored_text.clone()),
            guide_title: schema.add_text_field("guide_title", STORED),
            system_id: schema.add_text_field("system_id", stored_text),
            language: schema.add_u64_field("language", STORED),
            version: schema.add_u64_field("version", STORED),
            number: schema.add_text_field("number", STORED),
            heading: schema.add_text_field("heading", STORED),
            heading_path: schema.add_text_field("heading_path", STORED),
            level: schema.add_u64_field("level", STORED),
            anchor: schema.add_text_field("anchor", STORED),
            page: schema.add_u64_field("page", STORED),
            position: schema.add_u64_field("position", STORED),
            searched,
        };
        let index = Index::create_in_ram(schema.build());
        for (_, stemming, name) in LANGUAGES {
            let stop_words = StopWordFilter::new(stemming)
                .ok_or_else(|| failed(format!("no stop words for {name}")))?;
            let analyser = TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(RemoveLongFilter::limit(40))
                .filter(LowerCaser)
                .filter(stop_words)
                .filter(Stemmer::new(stemming))
                .build();
            index.tokenizers().register(name, analyser);
        }
        let writer = index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(failed)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(failed)?;
        Ok(Self {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            held: Mutex::new(HashMap::new()),
        })
    }

    /// The guides whose revision differs from the one indexed.
    pub fn stale(&self, revisions: &[(String, i64)]) -> Vec<(String, i64)> {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        revisions
            .iter()
            .filter(|(id, revision)| held.get(id) != Some(revision))
            .cloned()
            .collect()
    }

    /// Makes the index hold `sections` for the guide at `revision` (none: a withdrawn guide).
    pub fn replace(
        &self,
        guide_id: &str,
        revision: i64,
        sections: &[IndexedSection],
    ) -> Result<(), Error> {
        let f = self.fields;
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        writer.delete_term(Term::from_field_text(f.guide_id, guide_id));
        for s in sections {
            let mut doc = TantivyDocument::new();
            doc.add_text(f.section_id, &s.section_id);
            doc.add_text(f.guide_id, &s.guide_id);
            doc.add_text(f.guide_title, &s.guide_title);
            doc.add_text(f.system_id, &s.system_id);
            doc.add_u64(f.language, s.language as u64);
            doc.add_u64(f.version, s.version as u64);
            doc.add_text(f.number, &s.number);
            doc.add_text(f.heading, &s.heading);
            doc.add_text(f.heading_path, s.heading_path.join("\u{1f}"));
            doc.add_u64(f.level, s.level as u64);
            doc.add_text(f.anchor, &s.anchor);
            doc.add_u64(f.page, s.page as u64);
            doc.add_u64(f.position, s.position as u64);
            let (heading, body) = f.searched[language_slot(s.language)];
            doc.add_text(heading, format!("{} {}", s.number, s.heading));
            doc.add_text(body, &s.text);
            writer.add_document(doc).map_err(failed)?;
        }
        writer.commit().map_err(failed)?;
        self.reader.reload().map_err(failed)?;
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(guide_id.to_owned(), revision);
        Ok(())
    }

    /// The `limit` sections that best match `query` (query syntax allowed, errors forgiven), of one
    /// system's guides when named.
    pub fn search(
        &self,
        query: &str,
        system_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Hit>, Error> {
        let f = self.fields;
        let all: Vec<Field> = f.searched.iter().flat_map(|(h, b)| [*h, *b]).collect();
        let mut parser = QueryParser::for_index(&self.index, all);
        for (heading, _) in f.searched {
            parser.set_field_boost(heading, HEADING_BOOST);
        }
        let (parsed, _forgiven) = parser.parse_query_lenient(query);
        let query: Box<dyn Query> = match system_id {
            Some(system_id) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, parsed),
                (
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(f.system_id, system_id),
                        IndexRecordOption::Basic,
                    )),
                ),
            ])),
            None => parsed,
        };
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(limit.max(1)).order_by_score())
            .map_err(failed)?;
        let mut snippets = Vec::new();
        for (_, body) in f.searched {
            let mut generator =
                SnippetGenerator::create(&searcher, &*query, body).map_err(failed)?;
            generator.set_max_num_chars(SNIPPET_CHARS);
            snippets.push(generator);
        }
        top.into_iter()
            .map(|(score, address)| {
                let doc: TantivyDocument = searcher.doc(address).map_err(failed)?;
                let text = |field| {
                    doc.get_first(field)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_owned()
                };
                let number = |field| {
                    doc.get_first(field)
                        .and_then(|v| v.as_u64())
                        .and_then(|n| i32::try_from(n).ok())
                        .unwrap_or_default()
                };
                let language = Language::try_from(number(f.language)).unwrap_or(Language::Danish);
                let snippet = snippets[language_slot(language)].snippet_from_doc(&doc);
                Ok(Hit {
                    section: IndexedSection {
                        section_id: text(f.section_id),
                        guide_id: text(f.guide_id),
                        guide_title: text(f.guide_title),
                        system_id: text(f.system_id),
                        language,
                        version: number(f.version),
                        number: text(f.number),
                        heading: text(f.heading),
                        heading_path: text(f.heading_path)
                            .split('\u{1f}')
                            .map(str::to_owned)
                            .collect(),
                        level: number(f.level),
                        anchor: text(f.anchor),
                        page: number(f.page),
                        position: number(f.position),
                        text: String::new(),
                    },
                    score,
                    snippet_html: snippet.to_html(),
                })
            })
            .collect()
    }
}

/// Where a language's fields are in [`LANGUAGES`]; Danish for any other.
fn language_slot(language: Language) -> usize {
    LANGUAGES
        .iter()
        .position(|(l, _, _)| *l == language)
        .unwrap_or(0)
}

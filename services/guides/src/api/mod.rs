//! The gRPC API of the guides: maps requests to validated inputs, calls the [`Registry`], and maps the
//! results back. Field names in errors are the proto's.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use kommune_platform::Error;
use kommune_platform::auth::caller;
use kommune_platform::clock::to_timestamp;
use kommune_platform::paging::Page;
use kommune_platform::validate::{Validator, required_id};
use kommune_proto::guides::v1 as pb;

use crate::index::Hit;
use crate::registry::{GuideView, Registry, SectionView};

mod guide_service;
mod report_service;
mod search_service;

const TITLE_MAX: usize = 300;
const NAME_MAX: usize = 255;
const REASON_MAX: usize = 2_000;

/// Implements every guides service over the registry.
#[derive(Clone)]
pub struct GuidesApi {
    registry: Arc<Registry>,
}

impl GuidesApi {
    /// The API over `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }
}

/// A version number of a request: 0 for the current one.
fn version(value: i32) -> Result<Option<i32>, Error> {
    match value {
        0 => Ok(None),
        n if n < 0 => Err(Error::invalid("version", "must not be negative")),
        n => Ok(Some(n)),
    }
}

/// An optional system filter.
fn system_filter(v: &mut Validator, value: &str) -> Option<String> {
    if value.is_empty() {
        None
    } else {
        v.id("system_id", value).map(|id| id.to_string())
    }
}

fn file_format(format: &str) -> pb::FileFormat {
    match format {
        "docx" => pb::FileFormat::Docx,
        "pdf" => pb::FileFormat::Pdf,
        _ => pb::FileFormat::Unspecified,
    }
}

fn guide(view: GuideView) -> pb::Guide {
    let GuideView { guide: g, version } = view;
    pb::Guide {
        guide_id: g.id,
        title: g.title,
        system_id: g.system_id,
        system_name: g.system_name,
        audience: *g.audience as i32,
        language: *g.language as i32,
        version: g.version,
        state: *g.state as i32,
        withdrawn_reason: g.withdrawn_reason,
        section_count: version.section_count,
        file_name: version.file_name,
        file_format: file_format(&version.file_format) as i32,
        file_size: version.file_size,
        created_at: Some(to_timestamp(g.created_at)),
        updated_at: Some(to_timestamp(g.updated_at)),
        revision: g.revision,
    }
}

fn section(view: SectionView, with_text: bool) -> pb::Section {
    let current = view.current();
    let SectionView {
        section: s,
        guide: g,
    } = view;
    pb::Section {
        heading_path: s.heading_path(),
        section_id: s.section_id,
        guide_id: g.id,
        guide_title: g.title,
        system_id: g.system_id,
        version: s.version,
        number: s.number,
        heading: s.heading,
        level: s.level,
        text: if with_text { s.text } else { String::new() },
        anchor: s.anchor,
        page: s.page,
        position: s.position,
        current,
    }
}

fn hit(hit: Hit) -> pb::SectionHit {
    let s = hit.section;
    pb::SectionHit {
        section: Some(pb::Section {
            section_id: s.section_id,
            guide_id: s.guide_id,
            guide_title: s.guide_title,
            system_id: s.system_id,
            version: s.version,
            number: s.number,
            heading: s.heading,
            heading_path: s.heading_path,
            level: s.level,
            text: String::new(),
            anchor: s.anchor,
            page: s.page,
            position: s.position,
            current: true,
        }),
        score: hit.score,
        snippet_html: hit.snippet_html,
    }
}

kommune_platform::audit_service!(GuidesApi, pb, registry);
kommune_platform::privacy_service!(GuidesApi, pb, registry);
kommune_platform::event_service!(GuidesApi, pb, registry);

//! Reading guides, their sections and their files: for every signed-in user, the supplier's own
//! guides for the suite-wide roles only.

use kommune_platform::Error;
use kommune_platform::paging::Page;
use kommune_proto::common::v1::PageResponse;
use kommune_proto::guides::v1::{Audience, GuideState};

use kommune_platform::auth::Caller;

use super::{Registry, readable_guide};
use crate::store::{files, guide_versions, guides, sections};

/// A guide with its current version.
#[derive(Debug, Clone)]
pub struct GuideView {
    /// The guide.
    pub guide: guides::Model,
    /// Its current version.
    pub version: guide_versions::Model,
}

/// A section with its guide.
#[derive(Debug, Clone)]
pub struct SectionView {
    /// The section's text in some version.
    pub section: sections::Model,
    /// Its guide as it is now.
    pub guide: guides::Model,
}

impl SectionView {
    /// Whether the guide's current version has this text.
    pub fn current(&self) -> bool {
        self.section.version == self.guide.version
    }
}

impl Registry {
    /// A guide.
    pub async fn get_guide(&self, caller: &Caller, id: &str) -> Result<GuideView, Error> {
        let guide = readable_guide(&self.db, caller, id, "guide_id").await?;
        let version = self
            .version_of(&guide.id, guide.version, "guide_id")
            .await?;
        Ok(GuideView { guide, version })
    }

    async fn version_of(
        &self,
        guide_id: &str,
        version: i32,
        field: &'static str,
    ) -> Result<guide_versions::Model, Error> {
        guide_versions::find(&self.db, guide_id, version)
            .await?
            .ok_or_else(|| {
                Error::not_found_field("guide version", format!("{guide_id} v{version}"), field)
            })
    }

    /// A page of guides in `state` (to one system when named), by title.
    pub async fn list_guides(
        &self,
        caller: &Caller,
        state: GuideState,
        system_id: Option<&str>,
        page: &Page,
    ) -> Result<(Vec<GuideView>, PageResponse), Error> {
        let with_supplier_guides = crate::domain::may_read(caller, Audience::Supplier);
        let (found, next) =
            guides::list(&self.db, state, system_id, with_supplier_guides, page).await?;
        let mut versions =
            guide_versions::find_many(&self.db, found.iter().map(|g| (g.id.clone(), g.version)))
                .await?;
        let views = found
            .into_iter()
            .map(|guide| {
                let at = versions
                    .iter()
                    .position(|v| v.guide_id == guide.id)
                    .ok_or_else(|| {
                        Error::internal(format!("guide {} lacks its version", guide.id))
                    })?;
                Ok(GuideView {
                    version: versions.swap_remove(at),
                    guide,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok((views, next))
    }

    /// A page of a guide version's sections (the current version when `None`), in order.
    pub async fn list_sections(
        &self,
        caller: &Caller,
        guide_id: &str,
        version: Option<i32>,
        page: &Page,
    ) -> Result<(Vec<SectionView>, PageResponse), Error> {
        let guide = readable_guide(&self.db, caller, guide_id, "guide_id").await?;
        let version = version.unwrap_or(guide.version);
        if !(1..=guide.version).contains(&version) {
            return Err(Error::not_found_field(
                "guide version",
                format!("{guide_id} v{version}"),
                "version",
            ));
        }
        let (found, next) = sections::page_of_version(&self.db, guide_id, version, page).await?;
        let views = found
            .into_iter()
            .map(|section| SectionView {
                section,
                guide: guide.clone(),
            })
            .collect();
        Ok((views, next))
    }

    /// A section at the latest version that has it.
    pub async fn get_section(&self, caller: &Caller, id: &str) -> Result<SectionView, Error> {
        let section = sections::latest(&self.db, &[id.to_owned()])
            .await?
            .pop()
            .ok_or_else(|| Error::not_found_field("section", id, "section_id"))?;
        let guide = readable_guide(&self.db, caller, &section.guide_id, "section_id")
            .await
            .map_err(|_| Error::not_found_field("section", id, "section_id"))?;
        Ok(SectionView { section, guide })
    }

    /// A guide version's file: its description, and its chunks read one at a time by
    /// [`Registry::file_chunk`].
    pub async fn guide_file(
        &self,
        caller: &Caller,
        guide_id: &str,
        version: Option<i32>,
    ) -> Result<guide_versions::Model, Error> {
        let guide = readable_guide(&self.db, caller, guide_id, "guide_id").await?;
        self.version_of(&guide.id, version.unwrap_or(guide.version), "version")
            .await
    }

    /// The chunk of a file after `after` (the first when `None`); `None` at the end.
    pub async fn file_chunk(
        &self,
        guide_id: &str,
        version: i32,
        after: Option<i32>,
    ) -> Result<Option<files::Model>, Error> {
        files::next(&self.db, guide_id, version, after).await
    }
}

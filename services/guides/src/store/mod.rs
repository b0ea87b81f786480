//! The guides' storage: sea-orm entities and plain async queries, run inside the caller's transaction.

pub mod citations;
pub mod files;
pub mod guide_versions;
pub mod guides;
pub mod section_months;
pub mod sections;
pub mod suggested_sections;
pub mod suggestions;
pub mod unanswered_searches;

/// An offset carried in a page token: for reports ordered by counts, where there is no key to resume
/// after (a report is read as a whole, so rows moving between pages matter little).
pub fn offset(page: &kommune_platform::paging::Page) -> Result<u64, kommune_platform::Error> {
    match &page.after {
        None => Ok(0),
        Some(after) => after.parse().map_err(|_| {
            kommune_platform::Error::invalid("page.page_token", "is not a token from this list")
        }),
    }
}

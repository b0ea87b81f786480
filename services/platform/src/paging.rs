//! Cursor paging shared by every list RPC: keyset pages over a unique sort key, with opaque tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kommune_proto::common::v1::{PageRequest, PageResponse};

use crate::error::Error;

/// Page size when the caller names none.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// The largest page served.
pub const MAX_PAGE_SIZE: u64 = 500;

/// A validated page request: fetch up to `size` items whose sort key comes after `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// How many items to return.
    pub size: u64,
    /// The sort key of the last item of the previous page.
    pub after: Option<String>,
}

impl Page {
    /// Reads the request's paging (absent means the first page of the default size).
    pub fn from_request(request: Option<&PageRequest>) -> Result<Self, Error> {
        Self::from_field("page", request, DEFAULT_PAGE_SIZE)
    }

    /// Reads the paging in the request field `field`, for a request that pages more than one list;
    /// absent means the first page of `absent_size`.
    pub fn from_field(
        field: &str,
        request: Option<&PageRequest>,
        absent_size: u64,
    ) -> Result<Self, Error> {
        let Some(request) = request else {
            return Ok(Self {
                size: absent_size.min(MAX_PAGE_SIZE),
                after: None,
            });
        };
        let size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => {
                return Err(Error::invalid(
                    format!("{field}.page_size"),
                    "must not be negative",
                ));
            }
            n => (n as u64).min(MAX_PAGE_SIZE),
        };
        let not_a_token = || {
            Error::invalid(
                format!("{field}.page_token"),
                "is not a token from this list",
            )
        };
        let after = if request.page_token.is_empty() {
            None
        } else {
            let bytes = URL_SAFE_NO_PAD
                .decode(&request.page_token)
                .map_err(|_| not_a_token())?;
            Some(String::from_utf8(bytes).map_err(|_| not_a_token())?)
        };
        Ok(Self { size, after })
    }

    /// How many rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch_limit(&self) -> u64 {
        self.size + 1
    }

    /// Trims the fetched rows to the page and builds the response paging from the last row's sort key.
    pub fn finish<T>(
        &self,
        mut rows: Vec<T>,
        sort_key: impl Fn(&T) -> String,
    ) -> (Vec<T>, PageResponse) {
        let more = rows.len() as u64 > self.size;
        rows.truncate(self.size as usize);
        let next_page_token = match rows.last() {
            Some(last) if more => URL_SAFE_NO_PAD.encode(sort_key(last)),
            _ => String::new(),
        };
        (rows, PageResponse { next_page_token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_each_other() {
        let first = Page::from_request(Some(&PageRequest {
            page_size: 2,
            page_token: String::new(),
        }))
        .unwrap_or_else(|_| unreachable!());
        let (rows, page) = first.finish(vec!["a", "b", "c"], |s| s.to_string());
        assert_eq!(rows, ["a", "b"]);
        let next = Page::from_request(Some(&PageRequest {
            page_size: 2,
            page_token: page.next_page_token,
        }))
        .unwrap_or_else(|_| unreachable!());
        assert_eq!(next.after.as_deref(), Some("b"));
        let (rows, page) = next.finish(vec!["c"], |s| s.to_string());
        assert_eq!(rows, ["c"]);
        assert!(page.next_page_token.is_empty());
    }

    #[test]
    fn bad_paging_is_rejected_and_sizes_are_clamped() {
        assert!(
            Page::from_request(Some(&PageRequest {
                page_size: -1,
                page_token: String::new()
            }))
            .is_err()
        );
        assert!(
            Page::from_request(Some(&PageRequest {
                page_size: 1,
                page_token: "***".into()
            }))
            .is_err()
        );
        let page = Page::from_request(Some(&PageRequest {
            page_size: 10_000,
            page_token: String::new(),
        }));
        assert_eq!(page.map(|p| p.size).ok(), Some(MAX_PAGE_SIZE));
    }
}

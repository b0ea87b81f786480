//! What a file attached to a case or an order may be: its type and size, and no personal ID number in
//! a plain-text file.

/// The largest attachment accepted (under gRPC's default 4 MiB message limit with room to spare).
pub const MAX_ATTACHMENT_BYTES: usize = 3 * 1024 * 1024;

/// The content types an attachment may have: screenshots, documents and plain text.
pub const ATTACHMENT_TYPES: [&str; 5] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "application/pdf",
    "text/plain",
];

/// Checks an attachment's type and size: the request field at fault and why.
pub fn check_attachment(content_type: &str, size: usize) -> Result<(), (&'static str, String)> {
    if !ATTACHMENT_TYPES.contains(&content_type) {
        return Err((
            "content_type",
            format!("must be one of {}", ATTACHMENT_TYPES.join(", ")),
        ));
    }
    if size == 0 || size > MAX_ATTACHMENT_BYTES {
        return Err((
            "content",
            format!("must hold 1 byte to {MAX_ATTACHMENT_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Whether a plain-text attachment holds a personal ID number (other types are not read).
pub fn text_holds_personal_id(content_type: &str, content: &[u8]) -> bool {
    content_type == "text/plain"
        && crate::pii::contains_personal_id(&String::from_utf8_lossy(content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_sizes_and_text_are_checked() {
        assert!(check_attachment("image/png", 10).is_ok());
        assert_eq!(
            check_attachment("application/zip", 10).unwrap_err().0,
            "content_type"
        );
        assert_eq!(check_attachment("text/plain", 0).unwrap_err().0, "content");
        assert_eq!(
            check_attachment("text/plain", MAX_ATTACHMENT_BYTES + 1)
                .unwrap_err()
                .0,
            "content"
        );
        assert!(text_holds_personal_id("text/plain", b"CPR 010203-1234"));
        assert!(!text_holds_personal_id("image/png", b"CPR 010203-1234"));
        assert!(!text_holds_personal_id(
            "text/plain",
            b"Ingen personnumre her"
        ));
    }
}

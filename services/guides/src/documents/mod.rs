//! Reading an uploaded guide (DOCX or PDF) into an ordered list of blocks.
//!
//! This is the pure first step of taking in a guide: bytes in, headings and
//! paragraphs out, with the page each stands on when the format knows it.
//! Splitting into sections, numbering and personal-ID checks happen elsewhere,
//! from these blocks. Nothing here does I/O or waits, and nothing panics on a
//! hostile file: every way a file can be wrong ends in a [`DocumentError`].

mod docx;
mod pdf;

use std::panic::{AssertUnwindSafe, catch_unwind};

/// How many bytes a guide may unpack to (the XML parts of a DOCX, one PDF
/// stream), so that a small crafted file cannot take the server's memory.
const MAX_UNPACKED: u64 = 64 * 1024 * 1024;

/// The file formats a guide can be uploaded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Office Open XML word processing document (Word 2007 and later).
    Docx,
    /// Portable Document Format with a text layer.
    Pdf,
}

impl Format {
    /// The short name, also the usual file extension.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Docx => "docx",
            Self::Pdf => "pdf",
        }
    }

    /// The MIME type, for storing and serving the original file.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Self::Pdf => "application/pdf",
        }
    }
}

/// A guide as read: its blocks in reading order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// What the file was, told by its content rather than its name.
    pub format: Format,
    /// The PDF's page count; 0 for a DOCX, whose pages only exist once laid out.
    pub pages: u32,
    /// Headings and paragraphs in reading order.
    pub blocks: Vec<Block>,
    /// Every other text the file holds and a download would give away, for the personal-ID check:
    /// in a DOCX every XML part's text (headers, footers, notes, comments, tracked deletions, field
    /// codes, properties); in a PDF its document information and annotations.
    pub other_text: String,
}

impl Document {
    /// The blocks that are headings, in order.
    pub fn headings(&self) -> impl Iterator<Item = &Block> {
        self.blocks.iter().filter(|block| block.is_heading())
    }
}

/// One heading or paragraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The text with runs of whitespace made one space, trimmed; never empty.
    pub text: String,
    /// `Some(1)` for a top heading, `Some(2)` below it and so on; `None` for a paragraph.
    pub heading_level: Option<u8>,
    /// The 1-based page the block starts on; PDF only.
    pub page: Option<u32>,
}

impl Block {
    /// Whether the block is a heading of any level.
    pub fn is_heading(&self) -> bool {
        self.heading_level.is_some()
    }
}

/// Why a file could not be read as a guide.
///
/// The messages are worded to follow the file's name, as in
/// `format!("{name} {error}")`, and tell the uploader what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Neither a DOCX nor a PDF by its content.
    #[error("is neither a Word document (DOCX) nor a PDF")]
    UnknownFormat,
    /// An old binary Word file, which is not read: it is easily saved anew.
    #[error("is a Word 97–2003 .doc file: save it as DOCX or PDF")]
    LegacyDoc,
    /// A PDF that needs a password to open.
    #[error("is an encrypted PDF: save it without a password")]
    Encrypted,
    /// A damaged file, or one beyond the reader's limits; the text says which format and why.
    #[error("{0}")]
    Unreadable(String),
    /// The file reads but has no text, such as a scanned PDF.
    #[error("holds no text (a scanned PDF needs text recognition first)")]
    NoText,
}

impl DocumentError {
    fn unreadable(format: Format, reason: impl std::fmt::Display) -> Self {
        let name = match format {
            Format::Docx => "DOCX",
            Format::Pdf => "PDF",
        };
        Self::Unreadable(format!("cannot be read as {name}: {reason}"))
    }
}

/// Reads a DOCX or PDF guide, telling the two apart by content, not by name.
///
/// A DOCX without headings is no error: its blocks are all paragraphs and the
/// caller decides what that means.
pub fn read(bytes: &[u8]) -> Result<Document, DocumentError> {
    let format = sniff(bytes)?;
    // The libraries underneath are not proven panic-free on crafted input.
    catch_unwind(AssertUnwindSafe(|| match format {
        Format::Docx => docx::read(bytes, MAX_UNPACKED),
        Format::Pdf => pdf::read(bytes, MAX_UNPACKED),
    }))
    .unwrap_or_else(|_| Err(DocumentError::unreadable(format, "the file is damaged")))
}

/// Tells the format from the first bytes.
fn sniff(bytes: &[u8]) -> Result<Format, DocumentError> {
    const ZIP: &[u8] = b"PK\x03\x04";
    const OLE: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
    const PDF: &[u8] = b"%PDF-";
    // PDF readers accept the header anywhere in the first kilobyte.
    let head = &bytes[..bytes.len().min(1024)];
    if bytes.starts_with(ZIP) {
        Ok(Format::Docx)
    } else if bytes.starts_with(OLE) {
        Err(DocumentError::LegacyDoc)
    } else if head.windows(PDF.len()).any(|window| window == PDF) {
        Ok(Format::Pdf)
    } else {
        Err(DocumentError::UnknownFormat)
    }
}

/// Makes every run of whitespace one space and trims the ends.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_name_themselves() {
        assert_eq!(Format::Docx.as_str(), "docx");
        assert_eq!(Format::Pdf.as_str(), "pdf");
        assert_eq!(Format::Pdf.content_type(), "application/pdf");
        assert!(
            Format::Docx
                .content_type()
                .ends_with("wordprocessingml.document")
        );
    }

    #[test]
    fn whitespace_is_normalised() {
        assert_eq!(normalise("  a \t b\u{a0}\n c  "), "a b c");
        assert_eq!(normalise(" \n "), "");
    }

    #[test]
    fn garbage_is_unknown() {
        assert_eq!(read(b""), Err(DocumentError::UnknownFormat));
        assert_eq!(read(b"hello, world"), Err(DocumentError::UnknownFormat));
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(read(&noise), Err(DocumentError::UnknownFormat));
    }

    #[test]
    fn old_word_files_are_named() {
        let mut doc = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
        doc.resize(2048, 0);
        let err = read(&doc).unwrap_err();
        assert_eq!(err, DocumentError::LegacyDoc);
        assert!(err.to_string().contains(".doc"));
    }

    #[test]
    fn messages_follow_a_file_name() {
        assert_eq!(
            format!("guide.pdf {}", DocumentError::Encrypted),
            "guide.pdf is an encrypted PDF: save it without a password"
        );
        assert_eq!(
            DocumentError::unreadable(Format::Docx, "bad").to_string(),
            "cannot be read as DOCX: bad"
        );
    }
}

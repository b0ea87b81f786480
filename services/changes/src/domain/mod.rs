//! The rules of change requests as plain types and functions. No I/O here.

pub mod timeline;

//! Suite-level tests live in `tests/`.

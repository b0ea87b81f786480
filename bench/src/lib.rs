//! Benchmarks only: see `benches/` and `docs/benchmarks.md`. Run with `cargo bench -p kommune-bench`.

//! The derive's error messages, as a user sees them (`tests/ui/*.stderr`).
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p piazza-derive --test ui`
//! and review the diff: every message must say what is wrong and point at the right tokens.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}

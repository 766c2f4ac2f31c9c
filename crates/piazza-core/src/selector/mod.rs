//! Label and field selectors, parsed once from a request and matched against objects.
//! Parsing is bounded: selectors longer than [`MAX_SELECTOR_LEN`] or with more than
//! [`MAX_REQUIREMENTS`] requirements are rejected.

pub mod field;
pub mod label;

pub use field::FieldSelector;
pub use label::LabelSelector;

/// The longest selector string accepted.
pub const MAX_SELECTOR_LEN: usize = 16 * 1024;
/// The most requirements in one selector.
pub const MAX_REQUIREMENTS: usize = 256;

/// Why a selector could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorError(pub String);

impl std::fmt::Display for SelectorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SelectorError {}

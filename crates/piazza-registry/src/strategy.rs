//! Per-kind rules on the hub type: validation and the preparation of writes.
//! Every method has a default, so `()` is a valid strategy.

use piazza_core::FieldErrors;

/// Validation and write preparation for the hub type `H`.
pub trait Strategy<H>: Send + Sync + 'static {
    /// Validates an object on create and update. Empty means valid.
    fn validate(&self, _object: &H) -> FieldErrors {
        FieldErrors::new()
    }

    /// Validates an update; by default the same as [`Strategy::validate`] of the new object.
    fn validate_update(&self, new: &H, _old: &H) -> FieldErrors {
        self.validate(new)
    }

    /// Adjusts an object before it is created (e.g. reset status).
    fn prepare_for_create(&self, _object: &mut H) {}

    /// Adjusts an object before it replaces `old` (e.g. keep old status).
    fn prepare_for_update(&self, _new: &mut H, _old: &H) {}
}

impl<H> Strategy<H> for () {}

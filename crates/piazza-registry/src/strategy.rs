//! Per-kind rules on the hub type: validation, the preparation of writes, and how the
//! kind is deleted. Every method has a default, so `()` is a valid strategy.

use piazza_core::FieldErrors;

/// What the registry does with the garbage collector's deletion finalizers (`orphan` and
/// `foregroundDeletion`) when a DELETE names a propagation policy. The counterpart of
/// upstream's `rest.GarbageCollectionPolicy`.
///
/// Piazza has no garbage collector of its own. Behind kube-aggregator the cluster's garbage
/// collector (in kube-controller-manager) discovers aggregated resources like any other,
/// watches them, and removes these finalizers once it has orphaned or deleted the
/// dependents. A standalone server has no such controller, so an object that received one
/// of these finalizers stays (with its `deletionTimestamp` set) until a client removes the
/// finalizer by hand; a kind that never has dependents can opt out with
/// [`GarbageCollectionPolicy::Unsupported`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum GarbageCollectionPolicy {
    /// As kube-apiserver with its garbage collector enabled: `propagationPolicy=Orphan` (or
    /// `orphanDependents=true`) adds `orphan`, `Foreground` adds `foregroundDeletion`, and
    /// `Background` (or nothing) adds neither. The default.
    #[default]
    DeleteDependents,
    /// Like [`DeleteDependents`](Self::DeleteDependents), but a DELETE that names no policy
    /// orphans the dependents (adds `orphan`), as upstream's older workload kinds do.
    OrphanDependents,
    /// The kind cannot have dependents: the policy is validated and then ignored, and the
    /// deletion finalizers are never added.
    Unsupported,
}

/// Validation, write preparation and deletion rules for the hub type `H`.
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

    /// Opts the kind in to graceful deletion, with this default grace period in seconds
    /// (upstream's `RESTGracefulDeleteStrategy`).
    ///
    /// - `None` (the default): not graceful. A DELETE removes the object at once (or, when
    ///   it has finalizers, marks it deleting with a grace period of 0), and
    ///   `gracePeriodSeconds` is accepted and ignored, as upstream does for kinds without
    ///   a graceful strategy.
    /// - `Some(default)`: a DELETE whose effective grace period (`gracePeriodSeconds`, else
    ///   `default`; negative values count as 1, as upstream) is above 0 sets
    ///   `metadata.deletionTimestamp` to now plus the grace period and
    ///   `metadata.deletionGracePeriodSeconds`, keeps the object, and the store removes it
    ///   when the grace period ends. A grace period of 0 deletes at once. `Some(0)` thus
    ///   keeps plain deletes immediate and lets clients ask for a grace period.
    fn default_grace_period_seconds(&self) -> Option<i64> {
        None
    }

    /// What a DELETE's `propagationPolicy` / `orphanDependents` does to the object's
    /// finalizers. See [`GarbageCollectionPolicy`].
    fn garbage_collection_policy(&self) -> GarbageCollectionPolicy {
        GarbageCollectionPolicy::default()
    }
}

impl<H> Strategy<H> for () {}

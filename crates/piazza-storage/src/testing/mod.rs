//! The backend conformance suite (feature `testing`).
//!
//! The cases are ported from k8s.io/apiserver's `pkg/storage/testing` (`store_tests.go` and
//! `watcher_tests.go`), restated for the [`Storage`] trait. Every backend runs all of them,
//! through [`storage_conformance_tests!`](crate::storage_conformance_tests) (see its example).
//!
//! The macro expands to a module `storage_conformance` with one `#[test]` per case, so a failure
//! names its case. Each case gets a fresh store from the factory expression, runs on a
//! multi-threaded tokio runtime, and fails if it takes longer than [`CASE_TIMEOUT`].
//! [`run_conformance`] runs every case in turn instead, from inside an async test.
//!
//! Cases assume the store starts empty, and never rely on absolute revision numbers. The
//! slow-watcher cases write [`SLOW_WATCHER_WRITES`] events; a backend should configure any
//! in-memory watch buffer smaller than that so the suite exercises falling behind.
//!
//! Watch streams may carry progress markers anywhere ([`Storage::watch`] allows it). The
//! progress cases check them (monotonic, never ahead of the events or of the store, safe to
//! resume from), leaving the store quiet for [`PROGRESS_PAUSE`] at a time so a timer-driven
//! backend gets to report; they pass vacuously for a backend that never reports progress. Every
//! other case skips markers.

mod list_cases;
mod progress_cases;
mod store_cases;
mod support;
mod watch_cases;

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::Storage;

pub use self::progress_cases::PROGRESS_PAUSE;
pub use self::watch_cases::SLOW_WATCHER_WRITES;

/// How long one case may run.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// A store under test, with whatever must live as long as it (a temporary directory, a server).
pub struct TestStore {
    store: Arc<dyn Storage>,
    // Dropped after `store` (fields drop in declaration order).
    _guard: Option<Box<dyn Any + Send>>,
}

impl TestStore {
    /// A store that needs nothing else kept alive.
    pub fn new(store: Arc<dyn Storage>) -> Self {
        TestStore { store, _guard: None }
    }

    /// A store that must not outlive `guard` (for example its `tempfile::TempDir`).
    pub fn with_guard(store: Arc<dyn Storage>, guard: impl Any + Send) -> Self {
        TestStore { store, _guard: Some(Box::new(guard)) }
    }

    /// The store.
    pub fn store(&self) -> Arc<dyn Storage> {
        Arc::clone(&self.store)
    }
}

impl<S: Storage> From<Arc<S>> for TestStore {
    fn from(store: Arc<S>) -> Self {
        TestStore::new(store)
    }
}

/// A conformance case: takes a fresh, empty store and panics on failure.
pub type Case = fn(Arc<dyn Storage>) -> BoxFuture<'static, ()>;

macro_rules! case_table {
    ($($module:ident :: $name:ident),* $(,)?) => {
        /// Every case, by name: the list [`storage_conformance_tests!`](crate::storage_conformance_tests)
        /// generates tests from.
        pub const ALL: &[(&str, Case)] = &[
            $((stringify!($name), |s| Box::pin($module::$name(s)))),*
        ];

        /// The cases as functions the macro can name one by one.
        #[doc(hidden)]
        pub mod cases {
            $(pub use super::$module::$name;)*
        }
    };
}

case_table! {
    store_cases::create_then_get,
    store_cases::create_existing_key_fails,
    store_cases::get_missing_key_is_not_found,
    store_cases::get_at_each_read_revision,
    store_cases::get_exact_sees_deleted_key,
    store_cases::get_compacted_revision_fails,
    store_cases::compact_keeps_latest_live_versions,
    store_cases::compact_bounds,
    store_cases::update_is_compare_and_swap,
    store_cases::update_missing_key_is_not_found,
    store_cases::identical_update_writes_nothing,
    store_cases::delete_returns_deletion_revision,
    store_cases::delete_with_precondition,
    store_cases::recreate_after_delete,
    store_cases::revisions_strictly_increase,
    store_cases::check_health_is_ok,
    list_cases::list_prefix_boundaries,
    list_cases::list_at_each_read_revision,
    list_cases::list_exact_historical_snapshot,
    list_cases::list_compacted_revision_fails,
    list_cases::list_limit_and_remaining,
    list_cases::list_pages_share_one_snapshot,
    list_cases::list_filtered_rare_object_single_page,
    list_cases::list_filtered_pages_are_never_empty,
    list_cases::list_start_after_bounds,
    watch_cases::watch_from_zero_sees_only_new_events,
    watch_cases::watch_from_revision_replays_history_then_live,
    watch_cases::watch_event_shapes,
    watch_cases::watch_scope_boundaries,
    watch_cases::watch_from_compacted_revision_fails,
    watch_cases::watch_at_compacted_revision_succeeds,
    watch_cases::watch_from_future_revision,
    watch_cases::watchers_see_identical_sequences,
    watch_cases::list_then_watch_misses_nothing,
    watch_cases::concurrent_writers_are_seen_in_order,
    watch_cases::slow_watcher_does_not_block_writers,
    watch_cases::non_reading_watchers_do_not_stall_others,
    watch_cases::slow_watcher_with_compacted_gap_errors,
    progress_cases::progress_is_monotonic_and_never_ahead,
    progress_cases::progress_under_concurrent_writes_is_never_ahead,
}

/// Runs one case against a fresh store from `factory` on a new multi-threaded runtime.
///
/// Panics if the case fails or takes longer than [`CASE_TIMEOUT`].
pub fn run_case<F, Fut, T, C, CFut>(factory: F, case: C)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = T>,
    T: Into<TestStore>,
    C: FnOnce(Arc<dyn Storage>) -> CFut,
    CFut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building a tokio runtime");
    runtime.block_on(async {
        let store: TestStore = factory().await.into();
        let run = case(store.store());
        if tokio::time::timeout(CASE_TIMEOUT, run).await.is_err() {
            panic!("conformance case timed out after {CASE_TIMEOUT:?}");
        }
        drop(store);
    });
}

/// Runs every case in turn, each against a fresh store from `factory`.
///
/// For use inside an async test; prefer [`storage_conformance_tests!`](crate::storage_conformance_tests),
/// which names each case as its own test.
pub async fn run_conformance<F, Fut, T>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = T>,
    T: Into<TestStore>,
{
    for (name, case) in ALL {
        let store: TestStore = factory().await.into();
        if tokio::time::timeout(CASE_TIMEOUT, case(store.store())).await.is_err() {
            panic!("conformance case {name} timed out after {CASE_TIMEOUT:?}");
        }
    }
}

/// Generates the conformance suite for a backend: a module `storage_conformance` with one
/// `#[test]` per case.
///
/// The argument is a future expression (typically an `async` block), evaluated once per case,
/// that yields a fresh, empty store as anything `Into<`[`TestStore`]`>`: an `Arc<S>` of a
/// [`Storage`], or a [`TestStore`] that also keeps a temporary directory alive. Items of the
/// calling module are in scope.
///
/// ```
/// use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};
/// use piazza_storage::testing::TestStore;
///
/// async fn fresh_store() -> TestStore {
///     let dir = tempfile::tempdir().unwrap();
///     let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
///     TestStore::with_guard(store, dir)
/// }
///
/// piazza_storage::storage_conformance_tests!(async { fresh_store().await });
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! storage_conformance_tests {
    ($factory:expr) => {
        $crate::__storage_conformance_module! { $factory;
            create_then_get,
            create_existing_key_fails,
            get_missing_key_is_not_found,
            get_at_each_read_revision,
            get_exact_sees_deleted_key,
            get_compacted_revision_fails,
            compact_keeps_latest_live_versions,
            compact_bounds,
            update_is_compare_and_swap,
            update_missing_key_is_not_found,
            identical_update_writes_nothing,
            delete_returns_deletion_revision,
            delete_with_precondition,
            recreate_after_delete,
            revisions_strictly_increase,
            check_health_is_ok,
            list_prefix_boundaries,
            list_at_each_read_revision,
            list_exact_historical_snapshot,
            list_compacted_revision_fails,
            list_limit_and_remaining,
            list_pages_share_one_snapshot,
            list_filtered_rare_object_single_page,
            list_filtered_pages_are_never_empty,
            list_start_after_bounds,
            watch_from_zero_sees_only_new_events,
            watch_from_revision_replays_history_then_live,
            watch_event_shapes,
            watch_scope_boundaries,
            watch_from_compacted_revision_fails,
            watch_at_compacted_revision_succeeds,
            watch_from_future_revision,
            watchers_see_identical_sequences,
            list_then_watch_misses_nothing,
            concurrent_writers_are_seen_in_order,
            slow_watcher_does_not_block_writers,
            non_reading_watchers_do_not_stall_others,
            slow_watcher_with_compacted_gap_errors,
            progress_is_monotonic_and_never_ahead,
            progress_under_concurrent_writes_is_never_ahead,
        }
    };
}

/// Implementation detail of [`storage_conformance_tests!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __storage_conformance_module {
    ($factory:expr; $($case:ident),* $(,)?) => {
        mod storage_conformance {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[test]
                fn $case() {
                    $crate::testing::run_case(|| $factory, $crate::testing::cases::$case);
                }
            )*

            /// The macro's list and the suite's list must not drift apart.
            #[test]
            fn every_case_is_generated() {
                let generated: &[&str] = &[$(stringify!($case)),*];
                let all: Vec<&str> = $crate::testing::ALL.iter().map(|(name, _)| *name).collect();
                assert_eq!(generated, all.as_slice());
            }
        }
    };
}

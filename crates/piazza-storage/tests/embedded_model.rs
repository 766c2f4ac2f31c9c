//! Model-based test: random operation sequences against the embedded store and against a
//! `BTreeMap` model that keeps a full snapshot per revision. Every result, error kind, list page
//! and, at the end, the watch history must agree.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::StreamExt;
use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use piazza_storage::{
    Event, EventType, KeyValue, ListOptions, ListResult, ReadRevision, Revision, Storage, StorageError,
};
use proptest::prelude::*;

/// Keys chosen so prefixes overlap as strings but not as paths (`a/1` vs `a/10`, `a/` vs `ab/`).
const KEYS: &[&str] = &["/m/a/1", "/m/a/10", "/m/a/2", "/m/ab/1", "/m/b/1"];
const PREFIXES: &[&str] = &["/m/", "/m/a/", "/m/ab/", "/m/b/", "/m/c/"];

#[derive(Clone, Copy, Debug)]
enum At {
    Latest,
    /// `back` revisions before the current one.
    Exact(u64),
    NotOlderThan(u64),
    /// Past the current revision.
    Future,
}

#[derive(Clone, Debug)]
enum Op {
    Create { key: usize, value: u8 },
    Update { key: usize, value: u8, stale: bool },
    Delete { key: usize, precondition: Option<bool> },
    Get { key: usize, at: At },
    List { prefix: usize, at: At, limit: Option<usize>, start_after: Option<usize> },
    Compact { back: u64 },
}

fn at() -> impl Strategy<Value = At> {
    prop_oneof![
        3 => Just(At::Latest),
        3 => (0u64..12).prop_map(At::Exact),
        2 => (0u64..12).prop_map(At::NotOlderThan),
        1 => Just(At::Future),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    prop_oneof![
        4 => (key.clone(), 0u8..3).prop_map(|(key, value)| Op::Create { key, value }),
        4 => (key.clone(), 0u8..3, proptest::bool::weighted(0.2))
            .prop_map(|(key, value, stale)| Op::Update { key, value, stale }),
        2 => (key.clone(), proptest::option::of(proptest::bool::weighted(0.7)))
            .prop_map(|(key, precondition)| Op::Delete { key, precondition }),
        3 => (key.clone(), at()).prop_map(|(key, at)| Op::Get { key, at }),
        3 => (0..PREFIXES.len(), at(), proptest::option::of(0usize..4), proptest::option::of(key))
            .prop_map(|(prefix, at, limit, start_after)| Op::List { prefix, at, limit, start_after }),
        1 => (0u64..10).prop_map(|back| Op::Compact { back }),
    ]
}

/// The model: the whole state at every revision.
struct Model {
    snapshots: BTreeMap<Revision, BTreeMap<String, KeyValue>>,
    compacted: Revision,
}

impl Model {
    fn new() -> Self {
        Model { snapshots: BTreeMap::from([(1, BTreeMap::new())]), compacted: 0 }
    }

    fn current(&self) -> Revision {
        *self.snapshots.keys().next_back().unwrap()
    }

    fn state_at(&self, rev: Revision) -> BTreeMap<String, KeyValue> {
        self.snapshots.range(..=rev).next_back().map(|(_, s)| s.clone()).unwrap_or_default()
    }

    fn latest(&self) -> BTreeMap<String, KeyValue> {
        self.state_at(self.current())
    }

    fn commit(&mut self, state: BTreeMap<String, KeyValue>) -> Revision {
        let rev = self.current() + 1;
        self.snapshots.insert(rev, state);
        rev
    }

    fn read_revision(&self, at: At) -> ReadRevision {
        let current = self.current();
        match at {
            At::Latest => ReadRevision::Latest,
            At::Exact(back) => ReadRevision::Exact(current.saturating_sub(back)),
            At::NotOlderThan(back) => ReadRevision::NotOlderThan(current.saturating_sub(back)),
            At::Future => ReadRevision::Exact(current + 1),
        }
    }

    fn resolve(&self, at: ReadRevision) -> Result<Revision, StorageError> {
        let current = self.current();
        match at {
            ReadRevision::Latest => Ok(current),
            ReadRevision::NotOlderThan(r) | ReadRevision::Exact(r) if r > current => {
                Err(StorageError::TooLargeResourceVersion { requested: r, current })
            }
            ReadRevision::NotOlderThan(_) => Ok(current),
            ReadRevision::Exact(r) if r < self.compacted => {
                Err(StorageError::Compacted { requested: r, compacted: self.compacted })
            }
            ReadRevision::Exact(r) => Ok(r),
        }
    }

    fn list(&self, prefix: &str, options: &ListOptions) -> Result<ListResult, StorageError> {
        let rev = self.resolve(options.revision)?;
        let live: Vec<KeyValue> = self
            .state_at(rev)
            .into_values()
            .filter(|kv| kv.key.starts_with(prefix))
            .filter(|kv| options.start_after.as_ref().is_none_or(|s| kv.key > *s))
            .collect();
        let limit = options.limit.filter(|&l| l > 0).unwrap_or(usize::MAX);
        let items: Vec<KeyValue> = live.iter().take(limit).cloned().collect();
        let rest = (live.len() - items.len()) as u64;
        Ok(ListResult { items, revision: rev, more: rest > 0, remaining: (rest > 0).then_some(rest) })
    }

    /// The event each revision after `after` produced.
    fn events_after(&self, after: Revision) -> Vec<Event> {
        let mut events = Vec::new();
        for (&rev, state) in self.snapshots.range(after + 1..) {
            let before = self.state_at(rev - 1);
            let key = KEYS.iter().find(|k| before.get(**k) != state.get(**k)).expect("one key changes");
            let (prev, now) = (before.get(*key).cloned(), state.get(*key).cloned());
            events.push(match (prev, now) {
                (None, Some(kv)) => Event { event_type: EventType::Added, kv, prev: None },
                (Some(p), Some(kv)) => Event { event_type: EventType::Modified, kv, prev: Some(p) },
                (Some(p), None) => Event {
                    event_type: EventType::Deleted,
                    kv: KeyValue { mod_revision: rev, ..p.clone() },
                    prev: Some(p),
                },
                (None, None) => unreachable!(),
            });
        }
        events
    }
}

/// Errors compared by kind and fields.
fn same<T: PartialEq + std::fmt::Debug>(
    got: &Result<T, StorageError>,
    want: &Result<T, StorageError>,
) -> bool {
    match (got, want) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => format!("{a}") == format!("{b}"),
        _ => false,
    }
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let mut model = Model::new();
    let value = |v: u8| Bytes::from(vec![b'v', v]);

    for (step, op) in ops.into_iter().enumerate() {
        let ctx = format!("step {step}: {op:?}");
        match op {
            Op::Create { key, value: v } => {
                let key = KEYS[key];
                let mut state = model.latest();
                let want = if state.contains_key(key) {
                    Err(StorageError::AlreadyExists { key: key.to_owned() })
                } else {
                    let rev = model.current() + 1;
                    let kv = KeyValue {
                        key: key.into(),
                        value: value(v),
                        create_revision: rev,
                        mod_revision: rev,
                    };
                    state.insert(key.to_owned(), kv.clone());
                    model.commit(state);
                    Ok(kv)
                };
                let got = store.create(key, value(v)).await;
                prop_assert!(same(&got, &want), "{ctx}: got {got:?}, want {want:?}");
            }
            Op::Update { key, value: v, stale } => {
                let key = KEYS[key];
                let mut state = model.latest();
                let (expected, want) = match state.get(key).cloned() {
                    None => (7, Err(StorageError::NotFound { key: key.to_owned() })),
                    Some(cur) if stale => (
                        cur.mod_revision - 1,
                        Err(StorageError::Conflict {
                            key: key.to_owned(),
                            current_revision: cur.mod_revision,
                        }),
                    ),
                    Some(cur) if cur.value == value(v) => (cur.mod_revision, Ok(cur)),
                    Some(cur) => {
                        let kv =
                            KeyValue { value: value(v), mod_revision: model.current() + 1, ..cur.clone() };
                        state.insert(key.to_owned(), kv.clone());
                        model.commit(state);
                        (cur.mod_revision, Ok(kv))
                    }
                };
                let got = store.update(key, expected, value(v)).await;
                prop_assert!(same(&got, &want), "{ctx}: got {got:?}, want {want:?}");
            }
            Op::Delete { key, precondition } => {
                let key = KEYS[key];
                let mut state = model.latest();
                let (expected, want) = match state.get(key).cloned() {
                    None => (None, Err(StorageError::NotFound { key: key.to_owned() })),
                    Some(cur) if precondition == Some(false) => (
                        Some(cur.mod_revision + 1),
                        Err(StorageError::Conflict {
                            key: key.to_owned(),
                            current_revision: cur.mod_revision,
                        }),
                    ),
                    Some(cur) => {
                        state.remove(key);
                        let rev = model.commit(state);
                        (precondition.map(|_| cur.mod_revision), Ok(KeyValue { mod_revision: rev, ..cur }))
                    }
                };
                let got = store.delete(key, expected).await;
                prop_assert!(same(&got, &want), "{ctx}: got {got:?}, want {want:?}");
            }
            Op::Get { key, at } => {
                let key = KEYS[key];
                let revision = model.read_revision(at);
                let want = model.resolve(revision).and_then(|rev| {
                    model.state_at(rev).remove(key).ok_or(StorageError::NotFound { key: key.to_owned() })
                });
                let got = store.get(key, revision).await;
                prop_assert!(same(&got, &want), "{ctx} at {revision:?}: got {got:?}, want {want:?}");
            }
            Op::List { prefix, at, limit, start_after } => {
                let prefix = PREFIXES[prefix];
                let options = ListOptions {
                    revision: model.read_revision(at),
                    limit,
                    start_after: start_after.map(|k| KEYS[k].to_owned()),
                    predicate: None,
                };
                let want = model.list(prefix, &options);
                let got = store.list(prefix, options.clone()).await;
                prop_assert!(same(&got, &want), "{ctx} {options:?}: got {got:?}, want {want:?}");
            }
            Op::Compact { back } => {
                let target = model.current().saturating_sub(back);
                model.compacted = model.compacted.max(target);
                store.compact(target).await.map_err(|e| TestCaseError::fail(format!("{ctx}: {e}")))?;
            }
        }
        prop_assert_eq!(store.current_revision().await.unwrap(), model.current(), "{}", ctx);
    }

    // The whole retained history, as a watch replays it.
    let from = model.compacted.max(1);
    let want = model.events_after(from);
    let mut w = store.watch("/m/", from).await.unwrap();
    for (i, want) in want.iter().enumerate() {
        let got = w.next().await.unwrap().unwrap();
        prop_assert_eq!(got.event_type, want.event_type, "event {} of {:?}", i, want);
        prop_assert_eq!(&got.kv, &want.kv, "event {}", i);
        prop_assert_eq!(&got.prev, &want.prev, "event {}", i);
    }
    if model.compacted > 1 {
        let mut w = store.watch("/m/", model.compacted - 1).await.unwrap();
        let first = w.next().await;
        prop_assert!(matches!(first, Some(Err(StorageError::Compacted { .. }))), "{:?}", first);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn embedded_store_matches_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops))?;
    }
}

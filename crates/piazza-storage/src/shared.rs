//! List pages whose items are shared with the store's cache instead of copied, each with
//! slots for values derived from that exact version of the item (a server keeps the
//! item's encodings there). See [`Storage::list_shared`](crate::Storage::list_shared).

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::types::{KeyValue, ListResult, Revision};

/// A value derived from one version of one item, and a tag saying what it is (which
/// encoding of it, for example). The tags are the caller's to assign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Memo {
    /// What `bytes` is.
    pub tag: u64,
    /// The derived value.
    pub bytes: Bytes,
}

/// How many memos, with different tags, one item can carry: enough for an object's JSON
/// and protobuf encodings of one version side by side.
pub const MEMO_SLOTS: usize = 2;

/// One version of one key as a list hands it out: shared, never copied, and carrying up to
/// [`MEMO_SLOTS`] [`Memo`]s with different tags. A new version of the key is a new item with
/// empty slots, so a memo can never outlive the version it was derived from.
#[derive(Debug)]
pub struct SharedItem {
    /// The key-value.
    pub kv: KeyValue,
    memos: [OnceLock<Memo>; MEMO_SLOTS],
}

impl SharedItem {
    /// An item with empty memo slots.
    pub fn new(kv: KeyValue) -> SharedItem {
        SharedItem { kv, memos: Default::default() }
    }

    /// The bytes of the memo kept with this item under `tag`, if any.
    pub fn memo(&self, tag: u64) -> Option<&Bytes> {
        self.memos.iter().map_while(OnceLock::get).find(|m| m.tag == tag).map(|m| &m.bytes)
    }

    /// Keeps `memo` with this item in the first free slot, unless one with its tag is already
    /// kept (the first stays) or every slot is taken. Returns whether it was kept.
    pub fn keep(&self, memo: Memo) -> bool {
        let tag = memo.tag;
        let mut offered = Some(memo);
        for slot in &self.memos {
            // Fills an empty slot with ours (racing callers wait for the one that fills it).
            let kept = slot.get_or_init(|| offered.take().expect("offered until kept"));
            if offered.is_none() {
                return true;
            }
            if kept.tag == tag {
                return false;
            }
        }
        false
    }
}

/// One page of a list with shared items: the same page [`Storage::list`](crate::Storage::list)
/// returns, without copying the items.
#[derive(Debug)]
pub struct SharedList {
    /// The items, in key order.
    pub items: Vec<Arc<SharedItem>>,
    /// As [`ListResult::revision`].
    pub revision: Revision,
    /// As [`ListResult::more`].
    pub more: bool,
    /// As [`ListResult::remaining`].
    pub remaining: Option<u64>,
}

impl From<ListResult> for SharedList {
    /// A page of fresh items (empty memo slots) holding `list`'s key-values.
    fn from(list: ListResult) -> SharedList {
        SharedList {
            items: list.items.into_iter().map(|kv| Arc::new(SharedItem::new(kv))).collect(),
            revision: list.revision,
            more: list.more,
            remaining: list.remaining,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str) -> KeyValue {
        KeyValue { key: key.to_owned(), value: "v".into(), create_revision: 2, mod_revision: 3 }
    }

    fn memo(tag: u64, bytes: &'static str) -> Memo {
        Memo { tag, bytes: Bytes::from_static(bytes.as_bytes()) }
    }

    #[test]
    fn memos_are_found_by_tag_and_the_first_of_a_tag_stays() {
        let item = SharedItem::new(kv("/p/a"));
        assert_eq!(item.memo(1), None);
        assert!(item.keep(memo(1, "json")));
        assert!(!item.keep(memo(1, "other json")), "a tag is kept once");
        assert!(item.keep(memo(2, "protobuf")));
        assert!(!item.keep(memo(3, "yet another")), "every slot is taken");
        assert_eq!(
            (item.memo(1), item.memo(2), item.memo(3)),
            (Some(&"json".into()), Some(&"protobuf".into()), None)
        );
    }

    #[test]
    fn concurrent_keepers_of_one_tag_keep_it_once() {
        let item = Arc::new(SharedItem::new(kv("/p/a")));
        let kept: usize = std::thread::scope(|s| {
            let keepers: Vec<_> = (0..8)
                .map(|i| {
                    let item = Arc::clone(&item);
                    s.spawn(move || usize::from(item.keep(memo(1 + i % 2, "x"))))
                })
                .collect();
            keepers.into_iter().map(|k| k.join().unwrap()).sum()
        });
        assert_eq!(kept, 2, "one keeper per tag wins");
        assert!(item.memo(1).is_some() && item.memo(2).is_some());
    }

    #[test]
    fn a_list_result_becomes_fresh_shared_items() {
        let list =
            ListResult { items: vec![kv("/p/a"), kv("/p/b")], revision: 9, more: true, remaining: Some(4) };
        let shared = SharedList::from(list);
        let keys: Vec<&str> = shared.items.iter().map(|i| i.kv.key.as_str()).collect();
        assert_eq!(
            (keys, shared.revision, shared.more, shared.remaining),
            (vec!["/p/a", "/p/b"], 9, true, Some(4))
        );
        assert!(shared.items.iter().all(|i| i.memo(1).is_none()));
    }
}

//! List pages whose items are shared with the store's cache instead of copied, each with a
//! slot for one value derived from that exact version of the item (a server keeps the
//! item's encoding there). See [`Storage::list_shared`](crate::Storage::list_shared).

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

/// One version of one key as a list hands it out: shared, never copied, and carrying at
/// most one [`Memo`]. A new version of the key is a new item with an empty slot, so a memo
/// can never outlive the version it was derived from.
#[derive(Debug)]
pub struct SharedItem {
    /// The key-value.
    pub kv: KeyValue,
    memo: OnceLock<Memo>,
}

impl SharedItem {
    /// An item with an empty memo slot.
    pub fn new(kv: KeyValue) -> SharedItem {
        SharedItem { kv, memo: OnceLock::new() }
    }

    /// The memo kept with this item, if any.
    pub fn memo(&self) -> Option<&Memo> {
        self.memo.get()
    }

    /// Keeps `memo` with this item unless the slot is already taken (the first memo stays).
    /// Returns whether it was kept.
    pub fn keep(&self, memo: Memo) -> bool {
        self.memo.set(memo).is_ok()
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

    #[test]
    fn the_first_memo_stays() {
        let item = SharedItem::new(kv("/p/a"));
        assert_eq!(item.memo(), None);
        assert!(item.keep(Memo { tag: 1, bytes: "one".into() }));
        assert!(!item.keep(Memo { tag: 2, bytes: "two".into() }));
        assert_eq!(item.memo(), Some(&Memo { tag: 1, bytes: "one".into() }));
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
        assert!(shared.items.iter().all(|i| i.memo().is_none()));
    }
}

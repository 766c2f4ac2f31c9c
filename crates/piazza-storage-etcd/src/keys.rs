//! Key ranges and key-value conversion between the trait's string keys and etcd's byte keys.

use bytes::Bytes;
use piazza_storage::{KeyValue, Revision};

use crate::error::unexpected;

/// The end (exclusive) of the range of every key that starts with `prefix`, as etcd's
/// `clientv3.GetPrefixRangeEnd` computes it. `"\0"` (every key from the start on) when no such
/// end exists (an empty prefix, or one of only `0xff` bytes).
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// The smallest key greater than `key`.
pub(crate) fn key_after(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0);
    next
}

/// etcd's name for "the very first key": a range from an empty key is refused.
pub(crate) fn range_start(key: Vec<u8>) -> Vec<u8> {
    if key.is_empty() { vec![0] } else { key }
}

/// The etcd key range `[start, end)` a watch of `scope` (see [`piazza_storage::in_watch_scope`])
/// needs. A collection prefix (ending in `/`, or empty) is its prefix range. An exact key `k`
/// covers `k` and `k/...`, so the range is `[k, k + "0")` (`'0'` follows `'/'`); it also holds
/// keys such as `k-x` and `k.x`, which the watcher drops with `in_watch_scope`.
pub(crate) fn watch_range(scope: &str) -> (Vec<u8>, Vec<u8>) {
    if scope.is_empty() || scope.ends_with('/') {
        (range_start(scope.as_bytes().to_vec()), prefix_end(scope.as_bytes()))
    } else {
        let mut end = scope.as_bytes().to_vec();
        end.push(b'/' + 1);
        (scope.as_bytes().to_vec(), end)
    }
}

/// A revision as etcd's signed one. Revisions beyond `i64::MAX` cannot exist, so they become
/// `i64::MAX`, which etcd answers as a future revision.
pub(crate) fn to_etcd(revision: Revision) -> i64 {
    i64::try_from(revision).unwrap_or(i64::MAX)
}

/// An etcd revision as the trait's. etcd never hands out negative ones.
pub(crate) fn from_etcd(revision: i64) -> Revision {
    Revision::try_from(revision).unwrap_or(0)
}

/// Converts an etcd key-value, refusing keys that are not UTF-8 (no Piazza writer makes one).
pub(crate) fn convert(kv: etcd_client::KeyValue) -> Result<KeyValue, piazza_storage::StorageError> {
    let (create_revision, mod_revision) = (from_etcd(kv.create_revision()), from_etcd(kv.mod_revision()));
    let (key, value) = kv.into_key_value();
    let key = String::from_utf8(key)
        .map_err(|e| unexpected("reading a key from etcd", format!("key {:?} is not UTF-8", e.as_bytes())))?;
    Ok(KeyValue { key, value: Bytes::from(value), create_revision, mod_revision })
}

#[cfg(test)]
mod tests {
    use super::*;
    use piazza_storage::in_watch_scope;

    #[test]
    fn prefix_end_increments_the_last_byte() {
        assert_eq!(prefix_end(b"/pods/"), b"/pods0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), b"\0");
        assert_eq!(prefix_end(b""), b"\0");
    }

    #[test]
    fn key_after_is_the_next_key() {
        assert_eq!(key_after(b"/pods/a"), b"/pods/a\0");
        assert!(key_after(b"a").as_slice() < b"a/".as_slice());
    }

    #[test]
    fn watch_ranges_cover_their_scope() {
        let keys =
            ["/pods/ns/foo", "/pods/ns/foo/status", "/pods/ns/foobar", "/pods/ns/foo-x", "/pods/ns/fo"];
        for scope in ["/pods/ns/foo", "/pods/ns/", "/pods/", ""] {
            let (start, end) = watch_range(scope);
            for key in keys {
                let in_range =
                    key.as_bytes() >= start.as_slice() && (end == b"\0" || key.as_bytes() < &end[..]);
                if in_watch_scope(scope, key) {
                    assert!(in_range, "{key} is in scope of {scope:?} but outside [{start:?}, {end:?})");
                }
            }
        }
        assert_eq!(watch_range(""), (vec![0], vec![0]));
        assert_eq!(watch_range("/a/b"), (b"/a/b".to_vec(), b"/a/b0".to_vec()));
    }

    #[test]
    fn revisions_convert_both_ways() {
        assert_eq!(to_etcd(7), 7);
        assert_eq!(to_etcd(u64::MAX), i64::MAX);
        assert_eq!(from_etcd(7), 7);
        assert_eq!(from_etcd(-1), 0);
    }
}

//! The tags of the encodings a store keeps with the storage cache's items (see
//! [`piazza_storage::Memo`]): one per served version and wire, unique in the process, so
//! two stores sharing one storage never take each other's bytes for their own.

use std::sync::atomic::{AtomicU64, Ordering};

use super::encoded_cache::Wire;

/// The next tag no store has taken.
static NEXT_TAG: AtomicU64 = AtomicU64::new(1);

/// How many wires an encoding can be in.
const WIRES: u64 = 2;

/// The memo tags of one store.
#[derive(Debug)]
pub(crate) struct MemoTags {
    base: u64,
    versions: Vec<&'static str>,
}

impl MemoTags {
    /// Takes fresh tags for every wire of `versions`.
    pub(crate) fn new(versions: Vec<&'static str>) -> MemoTags {
        let base = NEXT_TAG.fetch_add(WIRES * versions.len() as u64, Ordering::Relaxed);
        MemoTags { base, versions }
    }

    /// The tag of `version`'s encoding in `wire`; `None` for a version this store does not
    /// serve.
    pub(crate) fn tag(&self, version: &str, wire: Wire) -> Option<u64> {
        let index = self.versions.iter().position(|v| *v == version)? as u64;
        let wire = match wire {
            Wire::Json => 0,
            Wire::ProtobufMessage => 1,
        };
        Some(self.base + WIRES * index + wire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_wire_and_store_has_its_own_tag() {
        let one = MemoTags::new(vec!["v1", "v2"]);
        let other = MemoTags::new(vec!["v1"]);
        let mut tags: Vec<u64> = [(&one, "v1"), (&one, "v2"), (&other, "v1")]
            .iter()
            .flat_map(|(t, v)| [t.tag(v, Wire::Json), t.tag(v, Wire::ProtobufMessage)])
            .map(Option::unwrap)
            .collect();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), 6);
        assert_eq!(one.tag("v3", Wire::Json), None);
    }
}

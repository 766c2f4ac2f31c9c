//! Watch event framing. JSON watch streams are newline-delimited `WatchEvent` objects:
//! `{"type":"ADDED","object":{…}}\n`.

/// The type of a watch event, as it appears on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchEventType {
    /// An object was created (or entered the watched set).
    Added,
    /// An object changed.
    Modified,
    /// An object was deleted (or left the watched set).
    Deleted,
    /// A progress marker carrying only a resourceVersion.
    Bookmark,
    /// A terminal error carrying a `metav1.Status`.
    Error,
}

impl WatchEventType {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
            Self::Bookmark => "BOOKMARK",
            Self::Error => "ERROR",
        }
    }
}

/// Frames one JSON watch event around an already-encoded JSON object.
pub fn json_event_frame(event_type: WatchEventType, object_json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(object_json.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(event_type.as_str().as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object_json);
    out.extend_from_slice(b"}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_valid_json_lines() {
        let frame = json_event_frame(WatchEventType::Added, br#"{"kind":"Pizza"}"#);
        assert_eq!(frame.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&frame).unwrap();
        assert_eq!(v["type"], "ADDED");
        assert_eq!(v["object"]["kind"], "Pizza");
    }
}

//! Protobuf watch framing (`application/vnd.kubernetes.protobuf;stream=watch`): each event
//! is a 4-byte big-endian length, then a `metav1.WatchEvent` message (no magic) whose
//! `object.raw` is the object's full protobuf body (magic + `Unknown`).

use piazza_core::ApiError;

use super::message::{Bytes, Protobuf};
use super::meta::{RawExtension, WatchEvent};
use super::wire::{put_bytes, put_nested};
use crate::watch::WatchEventType;

/// The largest frame a [`FrameDecoder`] accepts by default: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

/// Frames one event around an object's already-encoded protobuf body.
pub fn event_frame(event_type: WatchEventType, object_body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(object_body.len() + 24);
    frame.extend_from_slice(&[0; 4]);
    put_bytes(&mut frame, 1, event_type.as_str().as_bytes());
    put_nested(&mut frame, 2, |b| put_bytes(b, 1, object_body));
    let len = u32::try_from(frame.len() - 4).expect("a watch event under 4 GiB");
    frame[..4].copy_from_slice(&len.to_be_bytes());
    frame
}

/// Splits a byte stream into watch events, however the bytes arrive.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    max_frame: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl FrameDecoder {
    /// A decoder refusing frames longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        Self { buf: Vec::new(), max_frame }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, `None` until one has fully arrived. A frame longer than the
    /// limit or a malformed event is a 400; the stream cannot be resumed after an error.
    pub fn next_event(&mut self) -> Result<Option<WatchEvent>, ApiError> {
        let Some(head) = self.buf.first_chunk::<4>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*head) as usize;
        if len > self.max_frame {
            return Err(ApiError::bad_request(format!(
                "watch frame of {len} bytes exceeds the limit of {} bytes",
                self.max_frame
            )));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let event = WatchEvent::decode(&self.buf[4..4 + len])
            .map_err(|e| ApiError::bad_request(format!("error decoding watch event: {e}")))?;
        self.buf.drain(..4 + len);
        Ok(Some(event))
    }

    /// Bytes received that do not yet form a whole frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// The event a frame carries, for callers that hold the parts.
pub fn event(event_type: WatchEventType, object_body: &[u8]) -> WatchEvent {
    WatchEvent {
        type_: event_type.as_str().to_owned(),
        object: RawExtension { raw: Bytes(object_body.to_vec()) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::TypeMeta;
    use crate::protobuf::envelope::{decode_object, encode_object};
    use piazza_core::meta::ObjectMeta;

    fn object() -> Vec<u8> {
        let meta = ObjectMeta { name: Some("a".repeat(200)), ..Default::default() };
        encode_object(&meta, &TypeMeta { api_version: "v1".into(), kind: "ObjectMeta".into() })
    }

    #[test]
    fn frame_is_a_length_and_a_watch_event() {
        let body = object();
        let frame = event_frame(WatchEventType::Added, &body);
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        assert_eq!(&frame[4..], event(WatchEventType::Added, &body).encode_to_vec());
        // type = 1 "ADDED", then object = 2.
        assert_eq!(&frame[4..12], b"\x0a\x05ADDED\x12");
    }

    #[test]
    fn events_survive_any_split() {
        let mut stream = event_frame(WatchEventType::Added, &object());
        stream.extend(event_frame(WatchEventType::Deleted, &object()));
        for chunk in [1, 2, 3, 5, 64, 255, stream.len()] {
            let mut decoder = FrameDecoder::default();
            let mut events = Vec::new();
            for piece in stream.chunks(chunk) {
                decoder.push(piece);
                while let Some(event) = decoder.next_event().unwrap() {
                    events.push(event);
                }
            }
            assert_eq!(events.len(), 2, "chunk {chunk}");
            assert_eq!(events[1].type_, "DELETED");
            let (meta, _) = decode_object::<ObjectMeta>(&events[0].object.raw.0).unwrap();
            assert_eq!(meta.name.as_deref(), Some("a".repeat(200).as_str()));
            assert_eq!(decoder.pending(), 0);
        }
    }

    #[test]
    fn huge_and_malformed_frames_are_400() {
        let mut decoder = FrameDecoder::new(1024);
        decoder.push(&[0xff, 0xff, 0xff, 0xff]);
        let err = decoder.next_event().unwrap_err();
        assert_eq!(err.code, 400);
        assert!(err.message.contains("exceeds the limit of 1024 bytes"), "{}", err.message);

        let mut decoder = FrameDecoder::default();
        decoder.push(&[0, 0, 0, 2, 0x0a, 0x05]);
        let err = decoder.next_event().unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (400, "error decoding watch event: unexpected EOF"));
    }
}

//! The protobuf wire format's primitives: varints, keys, length-delimited fields, and a
//! [`Reader`] that checks every length against the bytes that remain.
//!
//! Errors carry the messages of upstream's gogo-generated unmarshalers
//! (`unexpected EOF`, `proto: integer overflow`, …) so that clients see the same text.

use std::fmt;

/// How a field's value is laid out on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireType {
    /// 0: a varint (integers, bools).
    Varint,
    /// 1: eight little-endian bytes (`double`, `fixed64`).
    Fixed64,
    /// 2: a varint length, then that many bytes (strings, bytes, messages, packed).
    Len,
    /// 5: four little-endian bytes (`float`, `fixed32`).
    Fixed32,
}

impl WireType {
    /// The three low bits of a key.
    pub fn bits(self) -> u64 {
        match self {
            Self::Varint => 0,
            Self::Fixed64 => 1,
            Self::Len => 2,
            Self::Fixed32 => 5,
        }
    }
}

/// A body that is not valid protobuf for the expected message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(String);

impl DecodeError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// The input ended inside a value.
    pub fn eof() -> Self {
        Self::new("unexpected EOF")
    }

    /// A field came with a wire type its declaration does not allow.
    pub fn wrong_wire_type(wire: u64, field: &str) -> Self {
        Self::new(format!("proto: wrong wireType = {wire} for field {field}"))
    }

    /// The message text.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Appends `value` as a base-128 varint.
pub fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push((value as u8) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

/// How many bytes `value` takes as a varint.
pub fn varint_len(value: u64) -> usize {
    // One byte per started group of 7 significant bits; 0 still takes one byte.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends a field key.
pub fn put_key(buf: &mut Vec<u8>, tag: u32, wire: WireType) {
    put_varint(buf, (u64::from(tag) << 3) | wire.bits());
}

/// Appends a length-delimited field holding `bytes`.
pub fn put_bytes(buf: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    put_key(buf, tag, WireType::Len);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// Appends a length-delimited field whose body `body` writes into the buffer, then prefixes
/// it with its length. One byte is reserved for the length; a body of 128 bytes or more
/// moves right by the few extra bytes its length needs, so nothing is encoded twice.
pub fn put_nested(buf: &mut Vec<u8>, tag: u32, body: impl FnOnce(&mut Vec<u8>)) {
    put_key(buf, tag, WireType::Len);
    let start = buf.len();
    buf.push(0);
    body(buf);
    let len = buf.len() - start - 1;
    if len < 0x80 {
        buf[start] = len as u8;
        return;
    }
    let mut prefix = Vec::with_capacity(10);
    put_varint(&mut prefix, len as u64);
    buf.splice(start..=start, prefix);
}

/// Reads protobuf values from a byte slice, never past its end.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Reads a varint of at most 10 bytes.
    #[inline]
    pub fn varint(&mut self) -> Result<u64, DecodeError> {
        // Most keys and lengths fit in one byte.
        if let Some((&byte, rest)) = self.bytes.split_first()
            && byte < 0x80
        {
            self.bytes = rest;
            return Ok(u64::from(byte));
        }
        self.varint_slow()
    }

    fn varint_slow(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for (i, &byte) in self.bytes.iter().enumerate() {
            if i == 10 || (i == 9 && byte > 1) {
                return Err(DecodeError::new("proto: integer overflow"));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.bytes = &self.bytes[i + 1..];
                return Ok(value);
            }
        }
        Err(DecodeError::eof())
    }

    /// Reads a field key: the field number and the wire type. Field number 0, numbers above
    /// 2^29 - 1 and the group wire types (3, 4) are errors; `message` names the message.
    pub fn key(&mut self, message: &str) -> Result<(u32, WireType), DecodeError> {
        self.key_in(|| message.to_owned())
    }

    /// [`Reader::key`], naming the message only when there is an error to report (decoding
    /// stays free of allocations for names).
    pub fn key_in(&mut self, message: impl FnOnce() -> String) -> Result<(u32, WireType), DecodeError> {
        let key = self.varint()?;
        let (tag, wire) = (key >> 3, key & 7);
        if tag == 0 || tag > (1 << 29) - 1 {
            return Err(DecodeError::new(format!(
                "proto: {}: illegal tag {tag} (wire type {wire})",
                message()
            )));
        }
        let wire = match wire {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            5 => WireType::Fixed32,
            other => {
                return Err(DecodeError::new(format!(
                    "proto: {}: wiretype end group for non-group (wire type {other})",
                    message()
                )));
            }
        };
        Ok((tag as u32, wire))
    }

    /// Reads a length-delimited value; a length past the end of the input is an error, with
    /// upstream's messages.
    #[inline]
    pub fn len_delimited(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.varint()?;
        if len > i64::MAX as u64 {
            return Err(DecodeError::new("proto: negative length found during unmarshaling"));
        }
        if len > self.bytes.len() as u64 {
            return Err(DecodeError::eof());
        }
        let (value, rest) = self.bytes.split_at(len as usize);
        self.bytes = rest;
        Ok(value)
    }

    /// Reads `N` raw bytes.
    pub fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let Some((value, rest)) = self.bytes.split_first_chunk::<N>() else {
            return Err(DecodeError::eof());
        };
        self.bytes = rest;
        Ok(*value)
    }

    /// Skips the value of an unknown field.
    pub fn skip(&mut self, wire: WireType) -> Result<(), DecodeError> {
        match wire {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.fixed::<8>().map(drop),
            WireType::Len => self.len_delimited().map(drop),
            WireType::Fixed32 => self.fixed::<4>().map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varints_match_the_protobuf_examples() {
        let mut buf = Vec::new();
        put_varint(&mut buf, 150);
        assert_eq!(buf, [0x96, 0x01]);
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
        assert_eq!(varint_len(u64::MAX), 10);
    }

    #[test]
    fn truncated_and_overlong_varints_are_errors() {
        assert_eq!(Reader::new(&[0x96]).varint(), Err(DecodeError::eof()));
        assert_eq!(Reader::new(&[]).varint(), Err(DecodeError::eof()));
        let overlong = [0xff; 11];
        assert_eq!(Reader::new(&overlong).varint().unwrap_err().message(), "proto: integer overflow");
        // Ten bytes whose last carries more than the 64th bit.
        let mut too_big = vec![0xff; 9];
        too_big.push(0x02);
        assert_eq!(Reader::new(&too_big).varint().unwrap_err().message(), "proto: integer overflow");
    }

    #[test]
    fn lengths_past_the_end_are_errors() {
        let mut buf = Vec::new();
        put_varint(&mut buf, u64::MAX);
        assert_eq!(
            Reader::new(&buf).len_delimited().unwrap_err().message(),
            "proto: negative length found during unmarshaling"
        );
        let mut buf = Vec::new();
        put_varint(&mut buf, 1 << 40);
        assert_eq!(Reader::new(&buf).len_delimited(), Err(DecodeError::eof()));
        assert_eq!(Reader::new(&[3, b'a', b'b']).len_delimited(), Err(DecodeError::eof()));
    }

    #[test]
    fn illegal_keys_are_errors() {
        assert_eq!(
            Reader::new(&[0x00]).key("Unknown").unwrap_err().message(),
            "proto: Unknown: illegal tag 0 (wire type 0)"
        );
        assert!(Reader::new(&[0x0b]).key("Unknown").unwrap_err().message().contains("end group"));
        assert_eq!(Reader::new(&[0x0a]).key("Unknown"), Ok((1, WireType::Len)));
    }

    #[test]
    fn skipping_unknown_fields_checks_bounds() {
        assert_eq!(Reader::new(&[1, 2, 3]).skip(WireType::Fixed64), Err(DecodeError::eof()));
        let mut r = Reader::new(&[1, 2, 3, 4, 9]);
        r.skip(WireType::Fixed32).unwrap();
        assert_eq!(r.varint(), Ok(9));
    }

    #[test]
    fn nested_bodies_get_their_length_prefix() {
        for len in [0usize, 1, 127, 128, 300, 20_000] {
            let mut buf = vec![0xaa];
            put_nested(&mut buf, 2, |b| b.extend(std::iter::repeat_n(7u8, len)));
            let mut r = Reader::new(&buf[1..]);
            assert_eq!(r.key("T").unwrap(), (2, WireType::Len));
            assert_eq!(r.len_delimited().unwrap().len(), len);
            assert!(r.is_empty());
        }
    }

    proptest! {
        #[test]
        fn varints_round_trip(v in any::<u64>()) {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            prop_assert_eq!(buf.len(), varint_len(v));
            let mut r = Reader::new(&buf);
            prop_assert_eq!(r.varint().unwrap(), v);
            prop_assert!(r.is_empty());
        }
    }
}

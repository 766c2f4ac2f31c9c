//! [`hooks`]: the [`ProtobufHooks`] of a type that implements [`Protobuf`], which
//! `#[resource(..., protobuf)]` returns from `Resource::protobuf()`.

use piazza_core::ProtobufHooks;

use super::message::Protobuf;

/// The protobuf hooks of `T`: its message encoder, decoder and empty value.
pub fn hooks<T: Protobuf>() -> ProtobufHooks<T> {
    ProtobufHooks {
        encode: |value, buf| value.encode_fields(buf),
        decode: |bytes| T::decode(bytes).map_err(|e| e.to_string()),
        empty: T::default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use piazza_core::meta::Preconditions;

    #[test]
    fn hooks_round_trip() {
        let hooks = hooks::<Preconditions>();
        let value = Preconditions { uid: Some("u".into()), resource_version: Some("7".into()) };
        let mut buf = Vec::new();
        (hooks.encode)(&value, &mut buf);
        assert_eq!((hooks.decode)(&buf).unwrap(), value);
        assert_eq!((hooks.empty)(), Preconditions::default());
        assert!(!(hooks.decode)(&[0xff]).unwrap_err().is_empty());
    }
}

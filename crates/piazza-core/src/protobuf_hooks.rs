//! [`ProtobufHooks`]: how a served version reads and writes its protobuf message, as plain
//! function pointers, so that the registry can serve protobuf for the versions that declare
//! it (`#[resource(..., protobuf)]`) and JSON/YAML only for the others, without a bound on
//! every [`Resource`](crate::Resource).

/// The protobuf message of a type `T`, without the `k8s\0` envelope.
pub struct ProtobufHooks<T> {
    /// Appends the fields of `T`'s message to the buffer.
    pub encode: fn(&T, &mut Vec<u8>),
    /// Decodes `T`'s message; the error is the decoder's message.
    pub decode: fn(&[u8]) -> Result<T, String>,
    /// An empty `T` (for watch bookmarks, which carry only metadata).
    pub empty: fn() -> T,
}

impl<T> Clone for ProtobufHooks<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ProtobufHooks<T> {}

impl<T> std::fmt::Debug for ProtobufHooks<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProtobufHooks")
    }
}

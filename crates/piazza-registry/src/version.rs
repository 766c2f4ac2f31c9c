//! Served versions, erased over the hub type: decode a body in version `V` into the hub,
//! and encode the hub as version `V`. Conversion is `TryFrom` both ways.

use std::fmt::Display;
use std::marker::PhantomData;
use std::sync::OnceLock;

use piazza_codec::protobuf::{decode_envelope, encode_raw};
use piazza_codec::{FieldValidation, Format, JSON, TypeMeta, YAML, decode_validated, encode_object};
use piazza_core::{ApiError, Object, Resource};

/// A served version of the hub type `H`, with its type parameter erased.
pub trait VersionCodec<H>: Send + Sync + 'static {
    /// The version name.
    fn version(&self) -> &'static str;
    /// The `apiVersion` and `kind` of this version.
    fn type_meta(&self) -> TypeMeta;
    /// Whether `api_version` (`group/version`, or `version` for the core group) names this
    /// version, without building its `apiVersion` string (stored objects are matched per read).
    fn is_api_version(&self, api_version: &str) -> bool {
        self.type_meta().api_version == api_version
    }
    /// Decodes a body in this version, checks its apiVersion/kind, applies this
    /// version's defaults, and converts to the hub. Unknown fields are treated as
    /// `validation` says; the warnings to send are returned with the object.
    fn decode(
        &self,
        body: &[u8],
        format: Format,
        validation: FieldValidation,
    ) -> Result<(H, Vec<String>), ApiError>;
    /// Converts the hub to this version and encodes it.
    fn encode(&self, object: &H, format: Format) -> Result<Vec<u8>, ApiError>;
    /// Converts an owned hub object to this version and encodes it, without the clone
    /// [`encode`](Self::encode) needs.
    fn encode_owned(&self, object: H, format: Format) -> Result<Vec<u8>, ApiError> {
        self.encode(&object, format)
    }
    /// The bytes every JSON encoding of this version starts with,
    /// `{"apiVersion":"<group/version>","kind":"<Kind>"` (empty if unknown): a stored object
    /// starting with them followed by `,` or `}` was written in this version.
    fn json_prefix(&self) -> &[u8] {
        &[]
    }
    /// Decodes an object as this server stored it: JSON in this version whose
    /// `apiVersion` the caller has already matched. Unknown fields are dropped silently,
    /// this version's defaults apply, and the result is converted to the hub.
    fn decode_stored(&self, body: &[u8]) -> Result<H, ApiError> {
        self.decode(body, Format::Json, FieldValidation::Ignore).map(|(object, _)| object)
    }
    /// Whether this version has a protobuf message (`#[resource(..., protobuf)]`).
    fn protobuf(&self) -> bool {
        false
    }
    /// Converts the hub to this version and encodes its protobuf message, without the
    /// envelope (list items, cached encodings).
    fn encode_message(&self, object: H) -> Result<Vec<u8>, ApiError> {
        let _ = object;
        Err(no_protobuf(self.type_meta()))
    }
    /// Decodes this version's protobuf message as this server stored it (the `raw` of the
    /// envelope), applies this version's defaults, and converts to the hub.
    fn decode_stored_message(&self, raw: &[u8]) -> Result<H, ApiError> {
        let _ = raw;
        Err(no_protobuf(self.type_meta()))
    }
    /// A complete protobuf body of an empty object of this version carrying only `metadata`
    /// (watch bookmarks).
    fn encode_metadata_only(&self, metadata: piazza_core::meta::ObjectMeta) -> Result<Vec<u8>, ApiError> {
        let _ = metadata;
        Err(no_protobuf(self.type_meta()))
    }
    /// Converts the hub to this version as a JSON value (for comparisons).
    fn to_json_value(&self, object: &H) -> Result<serde_json::Value, ApiError>;
    /// This version's JSON schema.
    fn schema(&self, generator: &mut schemars::SchemaGenerator) -> schemars::Schema;
}

/// The [`VersionCodec`] of a concrete [`Resource`] type `V` convertible to and from `H`.
pub struct TypedVersion<V> {
    /// `{"apiVersion":"…","kind":"…"`, the start of every object this codec encodes as
    /// JSON; made on first use.
    stored_prefix: OnceLock<Vec<u8>>,
    /// `V`'s apiVersion and kind; made on first use (encoding and decoding check or write
    /// them on every request, so they are not formatted each time).
    type_meta: OnceLock<TypeMeta>,
    _version: PhantomData<fn() -> V>,
}

impl<V> TypedVersion<V> {
    /// The codec for `V`.
    pub fn new() -> Self {
        Self { stored_prefix: OnceLock::new(), type_meta: OnceLock::new(), _version: PhantomData }
    }
}

impl<V> Default for TypedVersion<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Resource> TypedVersion<V> {
    /// `V`'s apiVersion and kind, borrowed.
    fn meta(&self) -> &TypeMeta {
        self.type_meta.get_or_init(|| TypeMeta {
            api_version: V::group_version().api_version(),
            kind: V::KIND.to_owned(),
        })
    }
}

fn no_protobuf(type_meta: TypeMeta) -> ApiError {
    ApiError::internal(format!("{} {} has no protobuf message", type_meta.api_version, type_meta.kind))
}

fn protobuf_decode_error(err: String) -> ApiError {
    ApiError::bad_request(format!("error decoding request body: {err}"))
}

fn conversion_error(err: impl Display) -> ApiError {
    ApiError::internal(format!("conversion failed: {err}"))
}

impl<H, V> VersionCodec<H> for TypedVersion<V>
where
    H: Object,
    V: Resource + TryFrom<H>,
    H: TryFrom<V>,
    <V as TryFrom<H>>::Error: Display,
    <H as TryFrom<V>>::Error: Display,
{
    fn version(&self) -> &'static str {
        V::VERSION
    }

    fn type_meta(&self) -> TypeMeta {
        self.meta().clone()
    }

    fn is_api_version(&self, api_version: &str) -> bool {
        match api_version.rsplit_once('/') {
            Some((group, version)) => group == V::GROUP && version == V::VERSION,
            None => V::GROUP.is_empty() && api_version == V::VERSION,
        }
    }

    fn decode(
        &self,
        body: &[u8],
        format: Format,
        validation: FieldValidation,
    ) -> Result<(H, Vec<String>), ApiError> {
        let (mut value, type_meta, warnings): (V, TypeMeta, _) = match (format, V::protobuf()) {
            // Protobuf has no unknown-field warnings: unknown tags are skipped, as upstream.
            (Format::Protobuf, Some(hooks)) => {
                let unknown = decode_envelope(body)?;
                let value = (hooks.decode)(&unknown.raw.0).map_err(protobuf_decode_error)?;
                let type_meta =
                    TypeMeta { api_version: unknown.type_meta.api_version, kind: unknown.type_meta.kind };
                (value, type_meta, Vec::new())
            }
            (Format::Protobuf, None) => return Err(ApiError::unsupported_media_type(&[JSON, YAML])),
            _ => decode_validated(body, format, validation)?,
        };
        let expected = self.meta();
        if !type_meta.api_version.is_empty() && type_meta.api_version != expected.api_version {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({})",
                type_meta.api_version, expected.api_version
            )));
        }
        if !type_meta.kind.is_empty() && type_meta.kind != expected.kind {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({}) does not match the expected kind ({})",
                type_meta.kind, expected.kind
            )));
        }
        value.apply_defaults();
        let hub = H::try_from(value).map_err(|e| ApiError::bad_request(format!("conversion failed: {e}")))?;
        Ok((hub, warnings))
    }

    fn encode(&self, object: &H, format: Format) -> Result<Vec<u8>, ApiError> {
        self.encode_owned(object.clone(), format)
    }

    fn encode_owned(&self, object: H, format: Format) -> Result<Vec<u8>, ApiError> {
        if format == Format::Protobuf {
            return Ok(encode_raw(&self.encode_message(object)?, self.meta()));
        }
        let value = V::try_from(object).map_err(conversion_error)?;
        encode_object(&value, self.meta(), format)
    }

    fn protobuf(&self) -> bool {
        V::protobuf().is_some()
    }

    fn encode_message(&self, object: H) -> Result<Vec<u8>, ApiError> {
        let hooks = V::protobuf().ok_or_else(|| no_protobuf(self.type_meta()))?;
        let value = V::try_from(object).map_err(conversion_error)?;
        let mut buf = Vec::with_capacity(256);
        (hooks.encode)(&value, &mut buf);
        Ok(buf)
    }

    fn decode_stored_message(&self, raw: &[u8]) -> Result<H, ApiError> {
        let hooks = V::protobuf().ok_or_else(|| no_protobuf(self.type_meta()))?;
        let mut value = (hooks.decode)(raw).map_err(protobuf_decode_error)?;
        value.apply_defaults();
        H::try_from(value).map_err(|e| ApiError::bad_request(format!("conversion failed: {e}")))
    }

    fn encode_metadata_only(&self, metadata: piazza_core::meta::ObjectMeta) -> Result<Vec<u8>, ApiError> {
        let hooks = V::protobuf().ok_or_else(|| no_protobuf(self.type_meta()))?;
        let mut value = (hooks.empty)();
        *value.metadata_mut() = metadata;
        let mut buf = Vec::with_capacity(64);
        (hooks.encode)(&value, &mut buf);
        Ok(encode_raw(&buf, self.meta()))
    }

    fn json_prefix(&self) -> &[u8] {
        self.stored_prefix.get_or_init(|| {
            let json = serde_json::to_vec(self.meta()).unwrap_or_default();
            // `{…}` without its closing brace
            json.split_last().map(|(_, head)| head.to_vec()).unwrap_or_default()
        })
    }

    fn decode_stored(&self, body: &[u8]) -> Result<H, ApiError> {
        // One parse: unknown keys (`apiVersion`, `kind`, fields of newer schemas) are
        // skipped by serde; there is no one to warn.
        let mut value: V = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))?;
        value.apply_defaults();
        H::try_from(value).map_err(|e| ApiError::bad_request(format!("conversion failed: {e}")))
    }

    fn to_json_value(&self, object: &H) -> Result<serde_json::Value, ApiError> {
        let value = V::try_from(object.clone()).map_err(conversion_error)?;
        serde_json::to_value(&value).map_err(ApiError::internal)
    }

    fn schema(&self, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<V>()
    }
}

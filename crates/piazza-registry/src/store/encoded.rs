//! Reads answered from encoded bytes: GET of one object and the items of a LIST, through
//! the store's [`EncodedCache`](super::encoded_cache::EncodedCache), so that an unchanged
//! object revision is decoded, converted and encoded once per served version and wire
//! (JSON, or a protobuf message), not once per request. YAML is made from the JSON.

use std::sync::Arc;

use bytes::Bytes;
use piazza_codec::object::json_to_yaml;
use piazza_codec::protobuf::wire::{put_bytes, put_nested};
use piazza_codec::protobuf::{Protobuf, encode_raw};
use piazza_codec::{Format, Target, TypeMeta};
use piazza_core::meta::ListMeta;
use piazza_core::{ApiError, Object};
use piazza_storage::{KeyValue, Memo, ReadRevision, SharedItem};

use super::encoded_cache::{Lookup, Wire};
use super::{ListPage, Store};
use crate::params::ListParams;
use crate::rest::{Encoded, RestContext};
use crate::version::VersionCodec;

impl<H: Object> Store<H> {
    /// One object as JSON (or its protobuf message) in `codec`'s version, its
    /// resourceVersion set.
    pub(crate) async fn get_wire(
        &self,
        codec: &Arc<dyn VersionCodec<H>>,
        wire: Wire,
        namespace: Option<&str>,
        name: &str,
        revision: ReadRevision,
    ) -> Result<Bytes, ApiError> {
        let kv = self.get_stored(namespace, name, revision).await?;
        let lookup = lookup(&kv, codec.version(), wire);
        if let Some(body) = self.encoded.get(lookup) {
            return Ok(body);
        }
        let body = self.encode_stored(codec, wire, &kv)?;
        self.encoded.insert(lookup, body.clone());
        Ok(body)
    }

    /// One object as JSON in `codec`'s version.
    #[cfg(test)]
    pub(crate) async fn get_json(
        &self,
        codec: &Arc<dyn VersionCodec<H>>,
        namespace: Option<&str>,
        name: &str,
        revision: ReadRevision,
    ) -> Result<Bytes, ApiError> {
        self.get_wire(codec, Wire::Json, namespace, name, revision).await
    }

    /// One page of a collection with each item as JSON in `codec`'s version.
    #[cfg(test)]
    pub(crate) async fn list_json(
        &self,
        codec: &Arc<dyn VersionCodec<H>>,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> Result<ListPage<Bytes>, ApiError> {
        let page = self.list_stored(namespace, params).await?;
        let fresh = self.encode_missing(codec, Wire::Json, &page.items)?;
        let tag = self.memo_tags.tag(codec.version(), Wire::Json);
        let view = self.encoded.view();
        let items = page
            .items
            .iter()
            .zip(fresh)
            .map(|(item, fresh)| {
                fresh
                    .or_else(|| memo_bytes(item, tag).cloned())
                    .or_else(|| view.get(lookup(&item.kv, codec.version(), Wire::Json)).cloned())
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ApiError::internal("an encoding left the cache"))?;
        drop(view);
        Ok(ListPage {
            items,
            resource_version: page.resource_version,
            continue_token: page.continue_token,
            remaining_item_count: page.remaining_item_count,
        })
    }

    /// Encodes (and caches) the stored objects whose encoding in `codec`'s version is
    /// neither kept with the item nor cached: one entry per object, `Some` for those
    /// encoded now.
    fn encode_missing(
        &self,
        codec: &Arc<dyn VersionCodec<H>>,
        wire: Wire,
        items: &[Arc<SharedItem>],
    ) -> Result<Vec<Option<Bytes>>, ApiError> {
        let version = codec.version();
        let tag = self.memo_tags.tag(version, wire);
        let missing: Vec<usize> = {
            let view = self.encoded.view();
            let known = |item: &SharedItem| {
                memo_bytes(item, tag).is_some() || view.get(lookup(&item.kv, version, wire)).is_some()
            };
            (0..items.len()).filter(|&i| !known(&items[i])).collect()
        };
        let mut fresh = vec![None; items.len()];
        if missing.is_empty() {
            return Ok(fresh);
        }
        for &i in &missing {
            fresh[i] = Some(self.encode_stored(codec, wire, &items[i].kv)?);
        }
        let inserts =
            missing.iter().filter_map(|&i| Some((lookup(&items[i].kv, version, wire), fresh[i].clone()?)));
        self.encoded.insert_many(inserts);
        Ok(fresh)
    }

    /// Writes the stored objects in `codec`'s version into `body`, each through
    /// `write_item` (JSON separated by commas, or protobuf list items).
    ///
    /// The steady state touches nothing but the items: each carries its encoding as a
    /// [`Memo`] (tagged with this store's version and wire) kept there by an earlier list.
    /// An item has room for two such memos: the JSON and protobuf of one version, say.
    /// An item without one takes it from the [`EncodedCache`](super::encoded_cache) and keeps
    /// it; if some are in neither, those are encoded and cached first, and the items written
    /// again.
    fn write_items(
        &self,
        codec: &Arc<dyn VersionCodec<H>>,
        wire: Wire,
        items: &[Arc<SharedItem>],
        body: &mut Vec<u8>,
        write_item: fn(&mut Vec<u8>, usize, &[u8]),
    ) -> Result<(), ApiError> {
        let version = codec.version();
        let tag = self.memo_tags.tag(version, wire);
        let keep = |item: &SharedItem, bytes: &Bytes| {
            if let Some(tag) = tag {
                item.keep(Memo { tag, bytes: bytes.clone() });
            }
        };
        let start = body.len();
        let mut view = None;
        let mut written = 0;
        for item in items {
            let bytes = match memo_bytes(item, tag) {
                Some(bytes) => bytes,
                None => {
                    let view = view.get_or_insert_with(|| self.encoded.view());
                    let Some(bytes) = view.get(lookup(&item.kv, version, wire)) else { break };
                    keep(item, bytes);
                    bytes
                }
            };
            write_item(body, written, bytes);
            written += 1;
        }
        drop(view);
        if written == items.len() {
            return Ok(());
        }
        body.truncate(start);
        let fresh = self.encode_missing(codec, wire, items)?;
        let view = self.encoded.view();
        for (i, (item, fresh)) in items.iter().zip(&fresh).enumerate() {
            match fresh
                .as_ref()
                .or_else(|| memo_bytes(item, tag))
                .or_else(|| view.get(lookup(&item.kv, version, wire)))
            {
                Some(bytes) => {
                    keep(item, bytes);
                    write_item(body, i, bytes);
                }
                // evicted since it was looked up: encode it again (rare)
                None => write_item(body, i, &self.encode_stored(codec, wire, &item.kv)?),
            }
        }
        Ok(())
    }

    /// Decodes a stored object, converts it to `codec`'s version and encodes it as JSON or
    /// as its protobuf message.
    fn encode_stored(
        &self,
        codec: &Arc<dyn VersionCodec<H>>,
        wire: Wire,
        kv: &KeyValue,
    ) -> Result<Bytes, ApiError> {
        let object = self.decode_stored(kv)?;
        match wire {
            Wire::Json => codec.encode_owned(object, Format::Json),
            Wire::ProtobufMessage => codec.encode_message(object),
        }
        .map(Bytes::from)
    }
}

/// The encoding kept with `item` under `tag`, if any.
fn memo_bytes(item: &SharedItem, tag: Option<u64>) -> Option<&Bytes> {
    item.memo(tag?)
}

/// Appends one JSON list item, after a comma unless it is the first.
fn json_item(body: &mut Vec<u8>, index: usize, item: &[u8]) {
    if index > 0 {
        body.push(b',');
    }
    body.extend_from_slice(item);
}

/// Appends one protobuf list item: `items = 2`, length-delimited.
fn protobuf_item(body: &mut Vec<u8>, _index: usize, item: &[u8]) {
    put_bytes(body, 2, item);
}

/// The cache key of a stored object's encoding in `version`.
fn lookup<'a>(kv: &'a KeyValue, version: &'static str, wire: Wire) -> Lookup<'a> {
    Lookup { key: &kv.key, mod_revision: kv.mod_revision, version, wire }
}

/// The `ListMeta` of a list response for `page`, as in [`list_metadata`].
pub(crate) fn list_meta<T>(page: &ListPage<T>) -> ListMeta {
    ListMeta {
        resource_version: Some(page.resource_version.to_string()),
        continue_: page.continue_token.clone(),
        remaining_item_count: page.remaining_item_count.and_then(|n| i64::try_from(n).ok()),
        ..ListMeta::default()
    }
}

/// A complete protobuf `<Kind>List` body: the envelope around `{metadata = 1, items = 2}`,
/// with `write_items` appending the items.
pub(crate) fn protobuf_list(
    api_version: &str,
    kind: &str,
    metadata: &ListMeta,
    write_items: impl FnOnce(&mut Vec<u8>) -> Result<(), ApiError>,
) -> Result<Vec<u8>, ApiError> {
    let mut raw = Vec::with_capacity(256);
    put_nested(&mut raw, 1, |b| metadata.encode_fields(b));
    write_items(&mut raw)?;
    let type_meta = TypeMeta { api_version: api_version.to_owned(), kind: format!("{kind}List") };
    Ok(encode_raw(&raw, &type_meta))
}

/// The `metadata` of a list response for `page`: its resourceVersion, continue token and
/// remaining item count.
pub(crate) fn list_metadata<T>(page: &ListPage<T>) -> serde_json::Value {
    let mut metadata = serde_json::json!({ "resourceVersion": page.resource_version.to_string() });
    if let Some(token) = &page.continue_token {
        metadata["continue"] = token.clone().into();
    }
    if let Some(remaining) = page.remaining_item_count {
        metadata["remainingItemCount"] = remaining.into();
    }
    metadata
}

impl<H: Object> Store<H> {
    /// A GET answered with the object itself, in the JSON or YAML `ctx.format`.
    pub(crate) async fn get_encoded(
        &self,
        codec: &Arc<dyn VersionCodec<H>>,
        ctx: &RestContext,
        name: &str,
        revision: ReadRevision,
    ) -> Result<Encoded, ApiError> {
        let wire = if ctx.format == Format::Protobuf { Wire::ProtobufMessage } else { Wire::Json };
        let encoded = self.get_wire(codec, wire, ctx.namespace.as_deref(), name, revision).await?;
        let body = match ctx.format {
            Format::Json => encoded,
            Format::Yaml => json_to_yaml(&encoded)?.into(),
            Format::Protobuf => encode_raw(&encoded, &codec.type_meta()).into(),
        };
        Ok(object_response(body, ctx.format))
    }

    /// A LIST answered with the objects themselves (a `<Kind>List`), in the JSON or YAML
    /// `ctx.format`.
    pub(crate) async fn list_encoded(
        &self,
        codec: &Arc<dyn VersionCodec<H>>,
        ctx: &RestContext,
        params: &ListParams,
    ) -> Result<Encoded, ApiError> {
        let page = self.list_stored(ctx.namespace.as_deref(), params).await?;
        let type_meta = codec.type_meta();
        if ctx.format == Format::Protobuf {
            let body = protobuf_list(&type_meta.api_version, &type_meta.kind, &list_meta(&page), |raw| {
                self.write_items(codec, Wire::ProtobufMessage, &page.items, raw, protobuf_item)
            })?;
            return Ok(object_response(body, ctx.format));
        }
        let metadata = serde_json::to_vec(&list_metadata(&page)).map_err(ApiError::internal)?;
        let list_kind = format!("{}List", type_meta.kind);
        let mut json = list_head(&type_meta.api_version, &list_kind, &metadata, page.items.len());
        self.write_items(codec, Wire::Json, &page.items, &mut json, json_item)?;
        json.extend_from_slice(b"]}");
        let body = if ctx.format == Format::Yaml { json_to_yaml(&json)? } else { json };
        Ok(object_response(body, ctx.format))
    }
}

fn object_response(body: impl Into<Bytes>, format: Format) -> Encoded {
    Encoded { status: 200, body: body.into(), format, target: Target::Object, warnings: Vec::new() }
}

/// The start of a `<Kind>List` body, up to the opening bracket of its items: type metadata
/// and the list `metadata` (already JSON), in a buffer sized for `items` more objects of a
/// typical size.
pub(crate) fn list_head(api_version: &str, list_kind: &str, metadata: &[u8], items: usize) -> Vec<u8> {
    const TYPICAL_ITEM: usize = 512;
    let mut body = Vec::with_capacity(128 + metadata.len() + items.saturating_mul(TYPICAL_ITEM));
    body.extend_from_slice(b"{\"apiVersion\":");
    body.extend_from_slice(&json_string(api_version));
    body.extend_from_slice(b",\"kind\":");
    body.extend_from_slice(&json_string(list_kind));
    body.extend_from_slice(b",\"metadata\":");
    body.extend_from_slice(metadata);
    body.extend_from_slice(b",\"items\":[");
    body
}

fn json_string(text: &str) -> Vec<u8> {
    serde_json::to_vec(text).unwrap_or_else(|_| b"\"\"".to_vec())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod body_tests {
    use super::*;

    #[test]
    fn list_head_starts_the_list_json() {
        let mut body = list_head("g.io/v1", "ThingList", br#"{"resourceVersion":"7"}"#, 2);
        body.extend_from_slice(br#"{"a":1},{"b":"x\"y"}]}"#);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "apiVersion": "g.io/v1",
                "kind": "ThingList",
                "metadata": {"resourceVersion": "7"},
                "items": [{"a": 1}, {"b": "x\"y"}],
            })
        );
    }

    #[test]
    fn empty_list_body() {
        let mut body = list_head("g.io/v1", "ThingList", b"{}", 0);
        body.extend_from_slice(b"]}");
        assert_eq!(body, br#"{"apiVersion":"g.io/v1","kind":"ThingList","metadata":{},"items":[]}"#);
    }
}

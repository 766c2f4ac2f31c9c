//! Reads: get one object, list a collection (with pagination).

use std::sync::Arc;

use piazza_core::{ApiError, Object};
use piazza_storage::{
    KeyValue, ListOptions, ReadRevision, SharedItem, StorageError, decode_continue, encode_continue,
    encode_continue_at_latest,
};

use super::Store;
use crate::params::ListParams;
use crate::selection::Selection;

/// The message of a 410 for a compacted continue token, as upstream's.
pub const INCONSISTENT_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// One page of a list: of objects in the hub type, or of stored key-values.
#[derive(Debug)]
pub struct ListPage<H> {
    /// The objects.
    pub items: Vec<H>,
    /// The revision the page was read at.
    pub resource_version: u64,
    /// The token for the next page, if any.
    pub continue_token: Option<String>,
    /// How many objects follow this page, when known.
    pub remaining_item_count: Option<u64>,
}

impl<H: Object> Store<H> {
    /// Gets one object.
    pub async fn get(
        &self,
        namespace: Option<&str>,
        name: &str,
        revision: ReadRevision,
    ) -> Result<H, ApiError> {
        let kv = self.get_stored(namespace, name, revision).await?;
        self.decode_stored(&kv)
    }

    /// Whether the object exists, without decoding it (an admission plugin checking a
    /// reference needs no more). Errors other than NotFound are returned.
    pub async fn exists(
        &self,
        namespace: Option<&str>,
        name: &str,
        revision: ReadRevision,
    ) -> Result<bool, ApiError> {
        match self.get_stored(namespace, name, revision).await {
            Ok(_) => Ok(true),
            Err(e) if e.code == 404 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gets one object as stored, not decoded.
    pub(crate) async fn get_stored(
        &self,
        namespace: Option<&str>,
        name: &str,
        revision: ReadRevision,
    ) -> Result<KeyValue, ApiError> {
        let key = self.keys.object(self.scoped(namespace), name);
        self.storage.get(&key, revision).await.map_err(|e| self.storage_error(e, name))
    }

    /// Lists a collection (one namespace, or all when `namespace` is `None`).
    pub async fn list(&self, namespace: Option<&str>, params: &ListParams) -> Result<ListPage<H>, ApiError> {
        let page = self.list_stored(namespace, params).await?;
        let items =
            page.items.iter().map(|item| self.decode_stored(&item.kv)).collect::<Result<Vec<_>, _>>()?;
        Ok(ListPage {
            items,
            resource_version: page.resource_version,
            continue_token: page.continue_token,
            remaining_item_count: page.remaining_item_count,
        })
    }

    /// Lists a collection as stored, not decoded, with the items shared with the storage's
    /// cache (see [`piazza_storage::Storage::list_shared`]).
    pub(crate) async fn list_stored(
        &self,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> Result<ListPage<Arc<SharedItem>>, ApiError> {
        let prefix = self.keys.collection(self.scoped(namespace));
        let selection = self.selection(params)?;
        let mut options = ListOptions {
            limit: params.limit,
            predicate: selection.map(|s| self.selection_predicate(s)),
            ..ListOptions::default()
        };
        let mut continuing_after = None;
        match params.continue_token.as_deref() {
            Some(token) => {
                if params.resource_version.as_deref().is_some_and(|rv| rv != "0") {
                    return Err(ApiError::bad_request(
                        "specifying resource version is not allowed when using continue",
                    ));
                }
                let (start_after, rv) =
                    decode_continue(token, &prefix).map_err(|e| self.storage_error(e, ""))?;
                continuing_after = Some(start_after.clone());
                options.start_after = Some(start_after);
                options.revision = rv.map_or(ReadRevision::Latest, ReadRevision::Exact);
            }
            None => options.revision = params.read_revision()?,
        }
        let result = match self.storage.list_shared(&prefix, options).await {
            Ok(result) => result,
            // The token's revision was compacted: a 410 whose Status carries a token that
            // continues at the latest revision (an inconsistent list), as upstream.
            Err(StorageError::Compacted { .. }) if continuing_after.is_some() => {
                let last_key = continuing_after.unwrap_or_default();
                let mut err = ApiError::expired(INCONSISTENT_CONTINUE);
                err.continue_token = Some(encode_continue_at_latest(&prefix, &last_key));
                return Err(err);
            }
            Err(e) => return Err(self.storage_error(e, "")),
        };
        let continue_token = match (result.more, result.items.last()) {
            (true, Some(last)) => Some(encode_continue(&prefix, &last.kv.key, result.revision)),
            _ => None,
        };
        Ok(ListPage {
            items: result.items,
            resource_version: result.revision,
            continue_token,
            remaining_item_count: result.remaining,
        })
    }

    /// Parses a request's selectors against this kind's selectable fields.
    pub(super) fn selection(&self, params: &ListParams) -> Result<Option<Selection>, ApiError> {
        Selection::from_params_with(params, &self.selectable.paths())
    }

    /// The storage predicate of a selection: decodes stored objects only when the selector
    /// names a declared field.
    pub(super) fn selection_predicate(&self, selection: Selection) -> piazza_storage::Predicate {
        let codecs = self.codecs.clone();
        selection.predicate_decoding(
            move |kv| super::decode_stored(&codecs, kv),
            std::sync::Arc::clone(&self.selectable),
        )
    }
}

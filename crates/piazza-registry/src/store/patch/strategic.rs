//! Strategic merge patch (`application/strategic-merge-patch+json`), applied server side
//! over `serde_json::Value` with the semantics of upstream's `strategicpatch.StrategicMergeMapPatch`:
//!
//! - maps merge key by key; `null` deletes a key; `$patch: replace` replaces the map,
//!   `$patch: delete` empties it; `$retainKeys` clears the keys it does not list;
//! - lists replace, unless the field's patch strategy is `merge`: lists of maps then merge
//!   element by element on the field's merge key (`{"name": .., "$patch": "delete"}` removes
//!   an element, `{"$patch": "replace"}` replaces the list), lists of scalars take the union,
//!   and `$deleteFromPrimitiveList/<field>` removes scalars;
//! - `$setElementOrder/<field>` orders the merged list; elements only the server has keep
//!   their place relative to the live list.
//!
//! Where a field's patch strategy and merge key come from is the [`PatchMeta`] lookup, so the
//! algorithm is free of HTTP and of any one way of declaring types.

use serde_json::{Map, Value};

use super::strategic_error::{SmpError, go_v};

const DIRECTIVE: &str = "$patch";
const DELETE: &str = "delete";
const REPLACE: &str = "replace";
const MERGE: &str = "merge";
const RETAIN_KEYS_STRATEGY: &str = "retainKeys";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const LIST_TYPE: &str = "[]interface {}";
const MAP_TYPE: &str = "map[string]interface {}";

/// The patch metadata of one field, as declared on its type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPatch {
    /// `x-kubernetes-patch-strategy`: comma-separated, e.g. `merge`, `retainKeys`, `merge,retainKeys`.
    pub strategy: String,
    /// `x-kubernetes-patch-merge-key`: the key that identifies the elements of a merged list of maps.
    pub merge_key: String,
}

/// Looks up patch metadata field by field, starting at the kind's top-level object.
pub trait PatchMeta {
    /// The metadata of field `key` of the object this describes, and the metadata of that
    /// field's value (for a list: of its elements).
    fn field(&self, key: &str) -> (FieldPatch, Box<dyn PatchMeta + '_>);
}

/// Patch metadata that declares nothing: every list replaces, every map merges.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPatchMeta;

impl PatchMeta for NoPatchMeta {
    fn field(&self, _key: &str) -> (FieldPatch, Box<dyn PatchMeta + '_>) {
        (FieldPatch::default(), Box::new(NoPatchMeta))
    }
}

/// Applies `patch` to `original`. Both must be JSON objects (`null` patches nothing).
pub fn apply(original: Value, patch: Value, meta: &dyn PatchMeta) -> Result<Value, SmpError> {
    let Value::Object(original) = original else { return Err(SmpError::bad_json_doc()) };
    let patch = match patch {
        Value::Object(p) => p,
        Value::Null => Map::new(),
        _ => return Err(SmpError::bad_json_doc()),
    };
    merge_map(original, patch, meta).map(Value::Object)
}

/// Splits `x-kubernetes-patch-strategy` into (retainKeys?, the list/map strategy).
fn split_strategy(strategy: &str) -> Result<(bool, &str), SmpError> {
    let parts: Vec<&str> = strategy.split(',').collect();
    match parts.as_slice() {
        [one] if *one == RETAIN_KEYS_STRATEGY => Ok((true, "")),
        [one] => Ok((false, one)),
        [a, b] if *a == RETAIN_KEYS_STRATEGY => Ok((true, b)),
        [a, b] if *b == RETAIN_KEYS_STRATEGY => Ok((true, a)),
        _ => Err(SmpError::other(format!("unexpected patch strategy: [{}]", parts.join(" ")))),
    }
}

/// The field a directive key (`$prefix/field`) applies to.
fn directive_field<'k>(key: &'k str, prefix: &str) -> Result<&'k str, SmpError> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST => Err(SmpError::bad_primitive_list_format()),
        _ => Err(SmpError::bad_set_element_order_format()),
    }
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    meta: &dyn PatchMeta,
) -> Result<Map<String, Value>, SmpError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some(REPLACE) => {
                patch.remove(DIRECTIVE);
                Ok(patch)
            }
            Some(DELETE) => Ok(Map::new()),
            _ => Err(SmpError::bad_patch_type(directive, &patch)),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    apply_set_element_order(&mut original, &mut patch, meta)?;
    for (key, patch_value) in patch {
        let (is_delete_list, key) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            (true, directive_field(&key, DELETE_FROM_PRIMITIVE_LIST)?.to_owned())
        } else {
            (false, key)
        };
        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }
        let Some(original_value) = original.remove(&key) else {
            original.insert(key, patch_value);
            continue;
        };
        if go_type(&original_value) != go_type(&patch_value) {
            original.insert(key, patch_value);
            continue;
        }
        let (field, child) = meta.field(&key);
        let (_, strategy) = split_strategy(&field.strategy)?;
        let merged = match (original_value, patch_value) {
            (Value::Object(o), Value::Object(p)) if strategy != REPLACE => {
                Value::Object(merge_map(o, p, child.as_ref())?)
            }
            (Value::Array(o), Value::Array(p)) if strategy == MERGE => {
                Value::Array(merge_list(o, p, &field.merge_key, child.as_ref(), is_delete_list)?)
            }
            (_, p) => p,
        };
        original.insert(key, merged);
    }
    Ok(original)
}

/// The Go type a decoded value has (ints and floats differ, as upstream decodes them).
fn go_type(value: &Value) -> &'static str {
    super::strategic_error::go_type(value)
}

/// `$retainKeys`: keys of `original` not listed are cleared; every key the patch sets must be listed.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), SmpError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else { return Ok(()) };
    let Value::Array(retain) = retain else { return Err(SmpError::bad_retain_keys_format()) };
    let listed = |k: &str| retain.iter().any(|v| v.as_str() == Some(k));
    for (k, v) in patch.iter() {
        let directive = k.starts_with(DELETE_FROM_PRIMITIVE_LIST) || k.starts_with(SET_ELEMENT_ORDER);
        if !v.is_null() && !directive && !listed(k) {
            return Err(SmpError::bad_retain_keys_format());
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

fn as_list(value: Option<Value>) -> Result<Option<Vec<Value>>, SmpError> {
    match value {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(SmpError::bad_arg_type(LIST_TYPE, &other)),
    }
}

/// `$setElementOrder/<field>`: merges the field's patch list (if any) and orders the result.
fn apply_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    meta: &dyn PatchMeta,
) -> Result<(), SmpError> {
    let keys: Vec<String> = patch.keys().filter(|k| k.starts_with(SET_ELEMENT_ORDER)).cloned().collect();
    for key in keys {
        let order = patch.remove(&key).unwrap_or(Value::Null);
        let Value::Array(order) = order else { return Err(SmpError::bad_arg_type(LIST_TYPE, &order)) };
        let field_name = directive_field(&key, SET_ELEMENT_ORDER)?.to_owned();
        let original_list = as_list(original.get(&field_name).cloned())?;
        let patch_list = as_list(patch.get(&field_name).cloned())?;
        let (field, child) = meta.field(&field_name);
        let (_, strategy) = split_strategy(&field.strategy)?;
        let merge_key = field.merge_key.as_str();
        validate_against_order(patch_list.as_deref().unwrap_or_default(), &order, merge_key)?;
        let server = original_list.clone().unwrap_or_default();
        let merged = match (original_list, patch_list.clone()) {
            (Some(o), None) => o,
            (None, Some(p)) => p,
            (Some(o), Some(p)) if strategy == MERGE => merge_list(o, p, merge_key, child.as_ref(), false)?,
            (Some(_), Some(p)) => p,
            (None, None) => continue,
        };
        let patch_list = patch_list.unwrap_or_default();
        if server.is_empty() && patch_list.is_empty() {
            // Nothing to order. (Upstream fails here with "no elements in any of the given
            // slices"; an empty list in the right order is the only sensible answer.)
            original.insert(field_name.clone(), Value::Array(merged));
            patch.remove(&field_name);
            continue;
        }
        let (in_order, server_only) = partition(merged, &order, merge_key)?;
        let elements = element_kind(&[&server, &patch_list])?;
        let ordered = normalize_order(in_order, server_only, &order, &server, merge_key, elements)?;
        original.insert(field_name.clone(), Value::Array(ordered));
        patch.remove(&field_name);
    }
    Ok(())
}

/// Checks that the patch list's elements appear in `$setElementOrder` and in the same order.
fn validate_against_order(patch_list: &[Value], order: &[Value], merge_key: &str) -> Result<(), SmpError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let kept: Vec<&Value> = if merge_key.is_empty() {
        patch_list.iter().collect()
    } else {
        let (kept, _) = split_deletions(patch_list)?;
        kept
    };
    let (mut p, mut o) = (0, 0);
    while p < kept.len() && o < order.len() {
        if kept[p].as_object().is_some_and(|m| m.contains_key(DIRECTIVE)) {
            p += 1;
            continue;
        }
        if merge_key_equal(kept[p], &order[o], merge_key)? {
            p += 1;
        }
        o += 1;
    }
    if p < kept.len() {
        return Err(SmpError::other(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            go_v(&Value::Array(patch_list.to_vec())),
            go_v(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

fn merge_key_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool, SmpError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let l = left.as_object().ok_or_else(|| SmpError::bad_arg_type(MAP_TYPE, left))?;
    let r = right.as_object().ok_or_else(|| SmpError::bad_arg_type(MAP_TYPE, right))?;
    let lv = l.get(merge_key).ok_or_else(|| SmpError::no_merge_key(l, merge_key))?;
    let rv = r.get(merge_key).ok_or_else(|| SmpError::no_merge_key(r, merge_key))?;
    Ok(lv == rv)
}

/// Splits list-of-map elements into (kept, `$patch: delete` ones).
fn split_deletions(list: &[Value]) -> Result<(Vec<&Value>, Vec<&Value>), SmpError> {
    let mut kept = Vec::new();
    let mut deleted = Vec::new();
    for v in list {
        let m = v.as_object().ok_or_else(|| SmpError::bad_arg_type(MAP_TYPE, v))?;
        if m.get(DIRECTIVE).and_then(Value::as_str) == Some(DELETE) {
            deleted.push(v);
        } else {
            kept.push(v);
        }
    }
    Ok((kept, deleted))
}

/// Whether the elements of lists are maps; errors on lists of lists and mixed types.
fn element_kind(lists: &[&[Value]]) -> Result<bool, SmpError> {
    let mut first: Option<&'static str> = None;
    for v in lists.iter().flat_map(|l| l.iter()) {
        let t = go_type(v);
        match first {
            None if v.is_array() => return Err(SmpError::no_list_of_lists()),
            None => first = Some(t),
            Some(f) if f != t => {
                let all: Vec<Value> = lists.iter().map(|l| Value::Array(l.to_vec())).collect();
                return Err(SmpError::other(format!(
                    "list element types are not identical: {}",
                    go_v(&Value::Array(all))
                )));
            }
            Some(_) => {}
        }
    }
    match first {
        Some(t) => Ok(t == MAP_TYPE),
        None => Err(SmpError::other("no elements in any of the given slices")),
    }
}

/// Merges two lists of a field with the `merge` strategy.
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    child: &dyn PatchMeta,
    is_delete_list: bool,
) -> Result<Vec<Value>, SmpError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let maps = element_kind(&[&original, &patch])?;
    let (server, patch, merged) = if !maps {
        if is_delete_list {
            return Ok(original.into_iter().filter(|v| !patch.contains(v)).collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(patch.iter()) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        (original, patch, merged)
    } else {
        if merge_key.is_empty() {
            return Err(SmpError::other("cannot merge lists without merge key for type struct"));
        }
        let (server, patch) = apply_list_directives(original, patch, merge_key)?;
        let merged = merge_by_key(server.clone(), &patch, merge_key, child)?;
        (server, patch, merged)
    };
    let (from_patch, server_only) = partition(merged, &patch, merge_key)?;
    normalize_order(from_patch, server_only, &patch, &server, merge_key, maps)
}

/// Applies `$patch` elements of a list of maps: returns (the server list, the plain patch elements).
fn apply_list_directives(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), SmpError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for v in patch {
        let Some(m) = v.as_object() else { return Err(SmpError::bad_arg_type(MAP_TYPE, &v)) };
        match m.get(DIRECTIVE) {
            None => plain.push(v),
            Some(d) if d.as_str() == Some(DELETE) => {
                let Some(key_value) = m.get(merge_key) else {
                    return Err(SmpError::no_merge_key(m, merge_key));
                };
                original.retain(|o| o.get(merge_key) != Some(key_value));
            }
            Some(d) if d.as_str() == Some(REPLACE) => replace = true,
            Some(d) if d.as_str() == Some(MERGE) => {
                return Err(SmpError::other("merging lists cannot yet be specified in the patch"));
            }
            Some(d) => return Err(SmpError::bad_patch_type(d, m)),
        }
    }
    Ok(if replace { (plain, Vec::new()) } else { (original, plain) })
}

/// Merges each patch element into the server element with the same merge key, or appends it.
fn merge_by_key(
    mut merged: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    child: &dyn PatchMeta,
) -> Result<Vec<Value>, SmpError> {
    for v in patch {
        let Some(m) = v.as_object() else { return Err(SmpError::bad_arg_type(MAP_TYPE, v)) };
        let Some(key_value) = m.get(merge_key) else { return Err(SmpError::no_merge_key(m, merge_key)) };
        match merged.iter().position(|o| o.get(merge_key) == Some(key_value)) {
            Some(i) => {
                let server = std::mem::take(&mut merged[i]);
                let Value::Object(server) = server else {
                    return Err(SmpError::bad_arg_type(MAP_TYPE, &server));
                };
                merged[i] = Value::Object(merge_map(server, m.clone(), child)?);
            }
            None => merged.push(v.clone()),
        }
    }
    Ok(merged)
}

/// Splits `list` into (elements present in `by`, the others), by merge key or by value.
fn partition(list: Vec<Value>, by: &[Value], merge_key: &str) -> Result<(Vec<Value>, Vec<Value>), SmpError> {
    let mut present = Vec::with_capacity(list.len());
    let mut absent = Vec::new();
    for v in list {
        let found = if merge_key.is_empty() {
            by.contains(&v)
        } else {
            let m = v.as_object().ok_or_else(|| SmpError::bad_arg_type(MAP_TYPE, &v))?;
            let key_value = m.get(merge_key).ok_or_else(|| SmpError::no_merge_key(m, merge_key))?;
            let mut found = false;
            for (i, b) in by.iter().enumerate() {
                let bm = b
                    .as_object()
                    .ok_or_else(|| SmpError::other(format!("value for key {i} is not a map.")))?;
                found |= bm.get(merge_key) == Some(key_value);
            }
            found
        };
        if found { present.push(v) } else { absent.push(v) }
    }
    Ok((present, absent))
}

/// The position of `v` in `list`, by merge key for maps and by value otherwise.
fn position(list: &[Value], v: &Value, merge_key: &str, maps: bool) -> Option<usize> {
    let id =
        |x: &'_ Value| -> Option<Value> { if maps { x.get(merge_key).cloned() } else { Some(x.clone()) } };
    let target = id(v);
    list.iter().position(|x| id(x) == target)
}

/// Sorts `list` by the positions of its elements in `order` (elements not in `order` last),
/// moving `$patch: delete` elements of lists of maps to the end.
fn sort_by_order(
    list: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    maps: bool,
) -> Result<Vec<Value>, SmpError> {
    let (mut list, deleted) = if maps {
        for v in list.iter().chain(order.iter()) {
            let m = v.as_object().ok_or_else(|| SmpError::bad_arg_type(MAP_TYPE, v))?;
            if !m.contains_key(merge_key) {
                return Err(SmpError::no_merge_key(m, merge_key));
            }
        }
        let (kept, deleted) = split_deletions(&list)?;
        let kept: Vec<Value> = kept.into_iter().cloned().collect();
        let deleted: Vec<Value> = deleted.into_iter().cloned().collect();
        (kept, deleted)
    } else {
        (list, Vec::new())
    };
    list.sort_by_key(|v| position(order, v, merge_key, maps).unwrap_or(usize::MAX));
    list.extend(deleted);
    Ok(list)
}

/// Orders patch elements by `patch_order` and server-only elements by `server_order`, then
/// interleaves them: a server-only element goes before a patch element that comes after it
/// on the server.
fn normalize_order(
    from_patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    maps: bool,
) -> Result<Vec<Value>, SmpError> {
    let right = sort_by_order(from_patch, patch_order, merge_key, maps)?;
    let left = sort_by_order(server_only, server_order, merge_key, maps)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                match (position(server_order, l, merge_key, maps), position(server_order, r, merge_key, maps))
                {
                    (Some(li), Some(ri)) => li < ri,
                    _ => false,
                }
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "strategic_tests.rs"]
mod tests;

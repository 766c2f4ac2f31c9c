//! Server-side printing: `Table` (`as=Table;g=meta.k8s.io;v=v1`) and the
//! `PartialObjectMetadata[List]` views. A kind declares extra columns with
//! [`TableColumns`]; every table starts with `Name` and ends with `Age`.

use piazza_core::Object;
use piazza_core::meta::ObjectMeta;
use serde::Serialize;
use serde_json::{Value, json};

/// One column of a table (`metav1.TableColumnDefinition`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnDefinition {
    /// The header.
    pub name: String,
    /// The OpenAPI type: `string`, `integer`, `number`, `boolean` or `date`.
    #[serde(rename = "type")]
    pub type_: String,
    /// An OpenAPI format hint, e.g. `name`.
    pub format: String,
    /// What the column shows.
    pub description: String,
    /// 0 for default output, higher for `-o wide`.
    pub priority: i32,
}

impl ColumnDefinition {
    /// A column shown by default.
    pub fn new(name: &str, type_: &str, description: &str) -> Self {
        Self {
            name: name.to_owned(),
            type_: type_.to_owned(),
            format: String::new(),
            description: description.to_owned(),
            priority: 0,
        }
    }

    /// The same column, shown only with `-o wide`.
    pub fn wide(mut self) -> Self {
        self.priority = 1;
        self
    }
}

/// The printable columns of a kind, between `Name` and `Age`. The default has none.
pub trait TableColumns<H>: Send + Sync + 'static {
    /// The extra columns.
    fn columns(&self) -> Vec<ColumnDefinition> {
        Vec::new()
    }
    /// The cells of the extra columns for one object, in column order.
    fn cells(&self, _object: &H) -> Vec<Value> {
        Vec::new()
    }
}

impl<H> TableColumns<H> for () {}

/// How much of each object a table row carries (`includeObject`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// Its metadata as `PartialObjectMetadata` (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the query parameter; unknown values are a 400.
    pub fn parse(value: Option<&str>) -> Result<Self, piazza_core::ApiError> {
        match value {
            None | Some("") | Some("Metadata") => Ok(Self::Metadata),
            Some("None") => Ok(Self::None),
            Some("Object") => Ok(Self::Object),
            Some(other) => Err(piazza_core::ApiError::bad_request(format!(
                "includeObject: Unsupported value: {other:?}: supported values: \"None\", \"Metadata\", \"Object\""
            ))),
        }
    }
}

/// `PartialObjectMetadata` for one object.
pub fn partial_object_metadata(meta: &ObjectMeta) -> Value {
    json!({ "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta })
}

/// Sets the `apiVersion` of a view built in `meta.k8s.io/v1` (a Table, PartialObjectMetadata
/// or a list of them, and the metadata of its items or rows) to the version `target` asks for.
pub fn set_meta_version(view: &mut Value, target: piazza_codec::Target) {
    let Some(version) = target.meta_version() else { return };
    let api_version = Value::from(version.api_version());
    let stamp = |v: &mut Value| {
        if v.get("apiVersion").and_then(Value::as_str).is_some_and(|a| a.starts_with("meta.k8s.io/")) {
            v["apiVersion"] = api_version.clone();
        }
    };
    stamp(view);
    for item in view.get_mut("items").and_then(Value::as_array_mut).into_iter().flatten() {
        stamp(item);
    }
    for row in view.get_mut("rows").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(object) = row.get_mut("object") {
            stamp(object);
        }
    }
}

/// `PartialObjectMetadataList`.
pub fn partial_object_metadata_list(items: &[&ObjectMeta], list_meta: Value) -> Value {
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "items": items.iter().map(|m| partial_object_metadata(m)).collect::<Vec<_>>(),
    })
}

fn all_columns<H: 'static>(columns: &dyn TableColumns<H>) -> Vec<ColumnDefinition> {
    let mut name =
        ColumnDefinition::new("Name", "string", "Name must be unique within a namespace. Cannot be updated.");
    name.format = "name".to_owned();
    let mut out = vec![name];
    out.extend(columns.columns());
    out.push(ColumnDefinition::new(
        "Age",
        "date",
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    ));
    out
}

/// How long ago `created` was, the way kubectl prints ages (`45s`, `5m3s`, `3h`, `2d4h`, `1y`).
pub fn age(created: &jiff::Timestamp, now: &jiff::Timestamp) -> String {
    let seconds = now.as_second() - created.as_second();
    human_duration(seconds)
}

/// Formats a number of seconds with the precision kubectl uses for ages.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    let seconds = seconds.max(0);
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        };
    }
    if days < 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if days < 365 * 8 {
        return match days % 365 {
            0 => format!("{years}y"),
            d => format!("{years}y{d}d"),
        };
    }
    format!("{years}y")
}

/// Builds a `Table`. `object_json` renders a row's object when `include` is `Object`.
/// `with_headers` is false for all but the first table of a watch, as upstream.
pub fn build_table<H: Object>(
    columns: &dyn TableColumns<H>,
    objects: &[&H],
    list_meta: Value,
    include: IncludeObject,
    with_headers: bool,
    object_json: &dyn Fn(&H) -> Result<Value, piazza_core::ApiError>,
) -> Result<Value, piazza_core::ApiError> {
    let now = jiff::Timestamp::now();
    let mut rows = Vec::with_capacity(objects.len());
    for object in objects {
        let meta = object.metadata();
        let mut cells = vec![json!(meta.name.clone().unwrap_or_default())];
        cells.extend(columns.cells(object));
        cells.push(meta.creation_timestamp.as_ref().map_or(json!("<unknown>"), |t| json!(age(&t.0, &now))));
        let mut row = json!({ "cells": cells });
        match include {
            IncludeObject::None => {}
            IncludeObject::Metadata => row["object"] = partial_object_metadata(meta),
            IncludeObject::Object => row["object"] = object_json(object)?,
        }
        rows.push(row);
    }
    let mut table = json!({ "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta });
    if with_headers {
        table["columnDefinitions"] =
            serde_json::to_value(all_columns(columns)).map_err(piazza_core::ApiError::internal)?;
    }
    table["rows"] = Value::Array(rows);
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug)]
    struct Thing {
        metadata: ObjectMeta,
        size: i64,
    }
    piazza_core::impl_object!(Thing);

    struct Sized;
    impl TableColumns<Thing> for Sized {
        fn columns(&self) -> Vec<ColumnDefinition> {
            vec![ColumnDefinition::new("Size", "integer", "How big.")]
        }
        fn cells(&self, t: &Thing) -> Vec<Value> {
            vec![json!(t.size)]
        }
    }

    #[test]
    fn name_custom_columns_then_age() {
        let t = Thing { metadata: ObjectMeta { name: Some("a".into()), ..Default::default() }, size: 3 };
        let table = build_table(
            &Sized,
            &[&t],
            json!({"resourceVersion": "7"}),
            IncludeObject::Metadata,
            true,
            &|_| Ok(Value::Null),
        )
        .unwrap();
        assert_eq!(table["kind"], "Table");
        let names: Vec<&str> = table["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Name", "Size", "Age"]);
        assert_eq!(table["columnDefinitions"][0]["format"], "name");
        assert_eq!(table["rows"][0]["cells"], json!(["a", 3, "<unknown>"]));
        assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(table["metadata"]["resourceVersion"], "7");
        let headless =
            build_table(&Sized, &[&t], json!({}), IncludeObject::None, false, &|_| Ok(Value::Null)).unwrap();
        assert!(headless.get("columnDefinitions").is_none());
        assert!(headless["rows"][0].get("object").is_none());
    }

    #[test]
    fn ages_like_kubectl() {
        for (seconds, text) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (45, "45s"),
            (119, "119s"),
            (303, "5m3s"),
            (360, "6m"),
            (900, "15m"),
            (3 * 3600 + 120, "3h2m"),
            (10 * 3600, "10h"),
            (2 * 86400 + 4 * 3600, "2d4h"),
            (30 * 86400, "30d"),
            (3 * 365 * 86400 + 86400, "3y1d"),
            (10 * 365 * 86400, "10y"),
        ] {
            assert_eq!(human_duration(seconds), text, "{seconds}");
        }
    }

    #[test]
    fn views_take_the_meta_version_asked_for() {
        use piazza_codec::{MetaVersion, Target};
        let meta = ObjectMeta { name: Some("a".into()), ..Default::default() };
        let mut list = partial_object_metadata_list(&[&meta], json!({}));
        set_meta_version(&mut list, Target::PartialObjectMetadataList(MetaVersion::V1Beta1));
        assert_eq!(list["apiVersion"], "meta.k8s.io/v1beta1");
        assert_eq!(list["items"][0]["apiVersion"], "meta.k8s.io/v1beta1");
        let mut one = partial_object_metadata(&meta);
        set_meta_version(&mut one, Target::PartialObjectMetadata(MetaVersion::V1));
        assert_eq!(one["apiVersion"], "meta.k8s.io/v1");
        let mut table = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "rows": [{"object": partial_object_metadata(&meta)}, {"object": {"apiVersion": "g/v1"}}]});
        set_meta_version(&mut table, Target::Table(MetaVersion::V1Beta1));
        assert_eq!(table["apiVersion"], "meta.k8s.io/v1beta1");
        assert_eq!(table["rows"][0]["object"]["apiVersion"], "meta.k8s.io/v1beta1");
        assert_eq!(table["rows"][1]["object"]["apiVersion"], "g/v1", "full objects keep their own version");
        let mut object = json!({"apiVersion": "g/v1"});
        set_meta_version(&mut object, Target::Object);
        assert_eq!(object["apiVersion"], "g/v1");
    }

    #[test]
    fn include_object_parameter() {
        assert_eq!(IncludeObject::parse(None).unwrap(), IncludeObject::Metadata);
        assert_eq!(IncludeObject::parse(Some("Object")).unwrap(), IncludeObject::Object);
        assert_eq!(IncludeObject::parse(Some("All")).unwrap_err().code, 400);
    }
}

use piazza_core::meta::ObjectMeta;
use piazza_derive::Resource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

const GROUP: u32 = 1;

#[derive(Clone, Serialize, Deserialize, JsonSchema, Resource)]
#[resource(group = GROUP, version = "v1", namespaced, crate = "piazza_core")]
struct Pizza {
    metadata: ObjectMeta,
}

fn main() {}

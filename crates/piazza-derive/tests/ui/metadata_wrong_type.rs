use piazza_derive::Resource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, JsonSchema, Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced, crate = "piazza_core")]
struct Pizza {
    metadata: String,
}

fn main() {}

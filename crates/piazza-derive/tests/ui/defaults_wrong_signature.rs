use piazza_core::meta::ObjectMeta;
use piazza_derive::Resource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, JsonSchema, Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced, crate = "piazza_core",
           defaults = Self::apply_defaults_v1)]
struct Pizza {
    metadata: ObjectMeta,
}

impl Pizza {
    fn apply_defaults_v1(pizza: Pizza) -> Pizza {
        pizza
    }
}

fn main() {}

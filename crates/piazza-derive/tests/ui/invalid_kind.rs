use piazza_core::meta::ObjectMeta;
use piazza_derive::Resource;

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced, kind = "pizza")]
struct Pizza {
    metadata: ObjectMeta,
}

// The kind defaults to the struct's name, which must then be a valid kind.
#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced)]
#[allow(non_camel_case_types)]
struct Pizza_Topping {
    metadata: ObjectMeta,
}

fn main() {}

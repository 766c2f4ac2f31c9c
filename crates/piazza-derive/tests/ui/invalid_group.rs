use piazza_core::meta::ObjectMeta;
use piazza_derive::Resource;

#[derive(Resource)]
#[resource(group = "Restaurant.example.com", version = "v1", namespaced)]
struct A {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group = "restaurant", version = "v1", namespaced)]
struct B {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group = "restaurant_kitchen.example.com", version = "v1", namespaced)]
struct C {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group = "restaurant..example.com", version = "v1", namespaced)]
struct D {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group = "", version = "v1", namespaced)]
struct E {
    metadata: ObjectMeta,
}

fn main() {}

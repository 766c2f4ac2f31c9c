use piazza_core::meta::ObjectMeta;
use piazza_derive::Resource;

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced = true)]
struct A {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group = 42, version = "v1", namespaced)]
struct B {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = v1, namespaced)]
struct C {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced, short_names = "pz")]
struct D {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced, crate = "not a path")]
struct E {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource]
struct F {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group)]
struct G {
    metadata: ObjectMeta,
}

fn main() {}

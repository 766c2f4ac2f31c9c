use piazza_core::meta::ObjectMeta;
use piazza_derive::Resource;

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "1.0", namespaced)]
struct A {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v0", namespaced)]
struct B {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1gamma1", namespaced)]
struct C {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1beta", namespaced)]
struct D {
    metadata: ObjectMeta,
}

fn main() {}

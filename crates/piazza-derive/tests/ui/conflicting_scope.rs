use piazza_core::meta::ObjectMeta;
use piazza_derive::Resource;

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced, cluster)]
struct Pizza {
    metadata: ObjectMeta,
}

fn main() {}

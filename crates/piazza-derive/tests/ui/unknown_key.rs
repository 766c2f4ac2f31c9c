use piazza_core::meta::ObjectMeta;
use piazza_derive::Resource;

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced, shortNames = ["pz"])]
struct Pizza {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", scope = "Cluster")]
struct Topping {
    metadata: ObjectMeta,
}

fn main() {}

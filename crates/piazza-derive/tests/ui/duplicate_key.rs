use piazza_core::meta::ObjectMeta;
use piazza_derive::Resource;

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced, version = "v2")]
struct Pizza {
    metadata: ObjectMeta,
}

// Keys may be split over several attributes, but still appear once.
#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", cluster, short_names = ["tp"])]
#[resource(group = "menu.example.com", cluster, short_names = ["top"])]
struct Topping {
    metadata: ObjectMeta,
}

fn main() {}

use piazza_derive::Resource;

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced)]
enum Pizza {
    Margherita,
}

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced)]
struct Topping(String);

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced)]
struct Menu;

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced)]
union Order {
    id: u64,
}

fn main() {}

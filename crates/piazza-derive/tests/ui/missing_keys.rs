use piazza_core::meta::ObjectMeta;
use piazza_derive::Resource;

#[derive(Resource)]
#[resource(kind = "Pizza", plural = "pizzas")]
struct Pizza {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group = "restaurant.example.com", namespaced)]
struct Topping {
    metadata: ObjectMeta,
}

fn main() {}

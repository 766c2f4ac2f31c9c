use piazza_core::meta::ObjectMeta;
use piazza_derive::Resource;

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced, plural = "Pizzas")]
struct Pizza {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", namespaced, singular = "top_ping",
           plural = "1toppings")]
struct Topping {
    metadata: ObjectMeta,
}

#[derive(Resource)]
#[resource(group = "restaurant.example.com", version = "v1", cluster,
           short_names = ["mn", "Menu", "mn"], categories = ["all", "food-"])]
struct Menu {
    metadata: ObjectMeta,
}

fn main() {}

#[derive(Default, piazza_derive::Protobuf)]
struct Topping {
    #[protobuf(tag = 1)]
    name: String,
    #[protobuf(tag = 1)]
    cost: f64,
    #[protobuf(tag = 2, tag = 3)]
    portions: i64,
    #[protobuf(tag = 4, name = "name")]
    label: String,
}

fn main() {}

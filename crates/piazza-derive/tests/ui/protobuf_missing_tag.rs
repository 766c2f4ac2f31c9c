#[derive(Default, piazza_derive::Protobuf)]
struct Topping {
    #[protobuf(tag = 1)]
    name: String,
    cost: f64,
    portions: i64,
}

fn main() {}

#[derive(Default, piazza_derive::Protobuf)]
struct Topping {
    #[protobuf(tag = 0)]
    name: String,
    #[protobuf(tag = 19000)]
    cost: f64,
    #[protobuf(tag = 536870912)]
    portions: i64,
}

#[derive(Default, piazza_derive::Protobuf)]
struct Crust {
    #[protobuf(tag = -1)]
    name: String,
}

#[derive(Default, piazza_derive::Protobuf)]
struct Sauce {
    #[protobuf(tga = 1)]
    name: String,
}

#[derive(Default, piazza_derive::Protobuf)]
struct Pair(#[protobuf(tag = 1)] String);

fn main() {}

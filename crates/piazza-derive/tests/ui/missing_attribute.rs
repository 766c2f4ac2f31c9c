use piazza_core::meta::ObjectMeta;
use piazza_derive::Resource;

#[derive(Resource)]
struct Pizza {
    metadata: ObjectMeta,
}

fn main() {}

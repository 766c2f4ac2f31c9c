//! The protobuf schema of every served group version, rendered as `.proto` files for
//! `pizza-apiserver export-proto` and checked against the committed copies in `proto/`.

use piazza::codec::protobuf::export::{apimachinery_files, group_file, group_schema, register_kind, render};

use super::menu::MENU_GROUP;
use super::{GROUP, menu, pizza, topping};

/// The groups the sample serves.
pub const GROUPS: [&str; 2] = [GROUP, MENU_GROUP];

/// One exported file: its path under the proto root and its contents.
pub type ProtoFile = (String, String);

/// The `.proto` files of `group`, one per version (`<group>/<version>/generated.proto`), or
/// `None` for a group the sample does not serve.
pub fn group_files(group: &str) -> Option<Vec<ProtoFile>> {
    match group {
        GROUP => Some(vec![
            version_file(
                GROUP,
                "v1alpha1",
                &[register_kind::<pizza::v1alpha1::Pizza>, register_kind::<topping::Topping>],
            ),
            version_file(GROUP, "v1beta1", &[register_kind::<pizza::v1beta1::Pizza>]),
        ]),
        MENU_GROUP => Some(vec![version_file(MENU_GROUP, "v1", &[register_kind::<menu::Pizza>])]),
        _ => None,
    }
}

/// Every file a client needs: each group's files and the apimachinery files they import.
pub fn all_files() -> Vec<ProtoFile> {
    let mut files = apimachinery_files();
    for group in GROUPS {
        files.extend(group_files(group).unwrap_or_default());
    }
    files
}

type Register = fn(&mut piazza::codec::protobuf::Schema);

fn version_file(group: &str, version: &str, kinds: &[Register]) -> ProtoFile {
    let mut schema = group_schema(group, version);
    for register in kinds {
        register(&mut schema);
    }
    (group_file(group, version), render(&schema))
}

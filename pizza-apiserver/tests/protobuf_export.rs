//! The `.proto` export matches the committed copies under `proto/` byte for byte, so a
//! changed field number, name or type breaks this test (and CI) until the copies are
//! regenerated on purpose:
//!
//! ```text
//! PIAZZA_UPDATE_PROTO=1 cargo test -p pizza-apiserver --all-features --test integration protobuf_export::
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use pizza_apiserver::apis::proto::all_files;

fn proto_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("proto")
}

fn committed_files(dir: &Path, root: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            committed_files(&path, root, out);
        } else {
            out.push(path.strip_prefix(root).expect("under root").to_string_lossy().into_owned());
        }
    }
}

#[test]
fn committed_proto_files_match_the_export() {
    let root = proto_root();
    let generated = all_files();
    if std::env::var_os("PIAZZA_UPDATE_PROTO").is_some() {
        let _ = std::fs::remove_dir_all(&root);
        for (path, contents) in &generated {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dir");
            std::fs::write(&path, contents).expect("write");
        }
    }
    let mut committed = Vec::new();
    committed_files(&root, &root, &mut committed);
    committed.sort();
    let mut expected: Vec<String> = generated.iter().map(|(path, _)| path.clone()).collect();
    expected.sort();
    assert_eq!(committed, expected, "the files under proto/ are not the exported set");
    for (path, contents) in &generated {
        let on_disk = std::fs::read_to_string(root.join(path)).expect("read committed file");
        assert!(
            on_disk == *contents,
            "{path} differs from the export; regenerate with PIAZZA_UPDATE_PROTO=1 and review the diff:\n{contents}"
        );
    }
}

#[test]
fn pizza_numbering_is_pinned() {
    let files = all_files();
    let v1beta1 = &files
        .iter()
        .find(|(path, _)| path == "restaurant.programming-kubernetes.info/v1beta1/generated.proto")
        .expect("v1beta1 file")
        .1;
    for line in [
        "package restaurant.programming_kubernetes.info.v1beta1;",
        "import \"k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto\";",
        "message Pizza {\n  optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;\n  optional PizzaSpec spec = 2;\n  optional PizzaStatus status = 3;\n}",
        "message PizzaTopping {\n  optional string name = 1;\n  optional int64 quantity = 2;\n}",
        "message PizzaStatus {\n  optional double cost = 1;\n  optional string phase = 2;\n  optional string bakedAt = 3;\n}",
        "message PizzaList {\n  optional k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta metadata = 1;\n  repeated Pizza items = 2;\n}",
    ] {
        assert!(v1beta1.contains(line), "missing {line:?} in\n{v1beta1}");
    }
}

#[test]
fn export_proto_subcommand_prints_and_writes_the_files() {
    let bin = env!("CARGO_BIN_EXE_pizza-apiserver");
    let out = Command::new(bin)
        .args(["export-proto", "--group", "restaurant.programming-kubernetes.info", "--version", "v1beta1"])
        .output()
        .expect("run pizza-apiserver");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let committed =
        std::fs::read(proto_root().join("restaurant.programming-kubernetes.info/v1beta1/generated.proto"))
            .expect("read");
    assert_eq!(out.stdout, committed);

    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(bin)
        .args(["export-proto", "--group", "menu.piazza.dev", "--out-dir"])
        .arg(dir.path())
        .output()
        .expect("run pizza-apiserver");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for path in ["menu.piazza.dev/v1/generated.proto", "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto"]
    {
        assert_eq!(
            std::fs::read(dir.path().join(path)).expect("written"),
            std::fs::read(proto_root().join(path)).expect("committed"),
            "{path}"
        );
    }

    let out = Command::new(bin).args(["export-proto", "--group", "nope.example.com"]).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown group \"nope.example.com\""));
    let out = Command::new(bin)
        .args(["export-proto", "--group", "restaurant.programming-kubernetes.info"])
        .output()
        .expect("run");
    assert!(!out.status.success(), "two versions need --version or --out-dir");
}

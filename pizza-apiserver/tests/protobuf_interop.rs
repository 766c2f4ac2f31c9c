//! Interoperability with the official protobuf runtime of another language: Python's
//! `protobuf` package decodes bodies Piazza produced, with classes that `protoc` compiled from
//! the exported `.proto` files, and Piazza decodes a body Python produced.
//!
//! Needs `protoc` and `python3` with `google.protobuf`; without them the test fails (it
//! never skips). CI installs them: `apt-get install -y protobuf-compiler` and
//! `python3 -m pip install protobuf==4.21.12` (the runtime matching protoc 3.21).

use std::path::Path;
use std::process::Command;

use crate::protobuf_support::{pizza_list, pizza_v1alpha1, pizza_v1beta1, restaurant};
use piazza::codec::protobuf::watch::event_frame;
use piazza::codec::protobuf::{ObjectList, decode_object, encode_object};
use piazza::codec::watch::WatchEventType;
use piazza::meta::ListMeta;
use pizza_apiserver::apis::pizza::v1alpha1;
use pizza_apiserver::apis::proto::all_files;

const SCRIPT: &str = r#"
import json, struct, sys
py, data = sys.argv[1], sys.argv[2]
sys.path.insert(0, py)
# protoc turns each file's path into a module path: dots become packages, dashes underscores.
from k8s.io.apimachinery.pkg.runtime import generated_pb2 as runtime
from k8s.io.apimachinery.pkg.apis.meta.v1 import generated_pb2 as meta
from restaurant.programming_kubernetes.info.v1beta1 import generated_pb2 as beta
from restaurant.programming_kubernetes.info.v1alpha1 import generated_pb2 as alpha

def unwrap(body):
    assert body[:4] == b"k8s\x00", body[:4]
    unknown = runtime.Unknown()
    unknown.ParseFromString(body[4:])
    return unknown

def pizza_fields(p):
    return {
        "name": p.metadata.name,
        "namespace": p.metadata.namespace,
        "resourceVersion": p.metadata.resourceVersion,
        "generation": p.metadata.generation,
        "created": p.metadata.creationTimestamp.seconds,
        "labels": dict(p.metadata.labels),
        "finalizers": list(p.metadata.finalizers),
        "toppings": [[t.name, t.quantity] for t in p.spec.toppings],
        "slices": p.spec.slices,
        "cost": p.status.cost,
        "phase": p.status.phase,
        "bakedAt": p.status.bakedAt,
    }

out = {}
unknown = unwrap(open(data + "/pizza.pb", "rb").read())
out["typeMeta"] = [unknown.typeMeta.apiVersion, unknown.typeMeta.kind]
out["contentType"] = [unknown.HasField("contentEncoding"), unknown.contentEncoding, unknown.contentType]
pizza = beta.Pizza()
pizza.ParseFromString(unknown.raw)
out["pizza"] = pizza_fields(pizza)

unknown = unwrap(open(data + "/list.pb", "rb").read())
plist = beta.PizzaList()
plist.ParseFromString(unknown.raw)
out["list"] = {"resourceVersion": plist.metadata.resourceVersion, "continue": getattr(plist.metadata, "continue"),
               "names": [p.metadata.name for p in plist.items], "slices": [p.spec.slices for p in plist.items]}

stream = open(data + "/watch.bin", "rb").read()
events = []
while stream:
    (length,) = struct.unpack(">I", stream[:4])
    event = meta.WatchEvent()
    event.ParseFromString(stream[4:4 + length])
    stream = stream[4 + length:]
    inner = beta.Pizza()
    inner.ParseFromString(unwrap(event.object.raw).raw)
    events.append([event.type, inner.metadata.name])
out["watch"] = events

unknown = unwrap(open(data + "/status.pb", "rb").read())
status = meta.Status()
status.ParseFromString(unknown.raw)
out["status"] = [unknown.typeMeta.kind, status.status, status.reason, status.code, status.message]

made = alpha.Pizza()
made.metadata.name = "from-python"
made.metadata.labels["lang"] = "python"
made.spec.toppings.extend(["basil", "basil"])
made.spec.slices = 4
made.status.cost = 2.25
envelope = runtime.Unknown()
envelope.typeMeta.apiVersion = "restaurant.programming-kubernetes.info/v1alpha1"
envelope.typeMeta.kind = "Pizza"
envelope.raw = made.SerializeToString()
out["fromPython"] = (b"k8s\x00" + envelope.SerializeToString()).hex()
print(json.dumps(out))
"#;

fn run(command: &mut Command) -> Vec<u8> {
    let out = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn require_tools() {
    let python = Command::new("python3").args(["-c", "import google.protobuf"]).output();
    assert!(
        python.as_ref().is_ok_and(|o| o.status.success()),
        "python3 with the protobuf package is required: python3 -m pip install protobuf==4.21.12 ({python:?})"
    );
    let protoc = Command::new("protoc").arg("--version").output();
    assert!(
        protoc.as_ref().is_ok_and(|o| o.status.success()),
        "protoc is required: apt-get install -y protobuf-compiler ({protoc:?})"
    );
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn python_decodes_our_bodies_and_we_decode_python_bodies() {
    require_tools();
    let dir = tempfile::tempdir().expect("temp dir");
    let (proto, py, data) = (dir.path().join("proto"), dir.path().join("py"), dir.path().join("data"));
    let files = all_files();
    for (path, contents) in &files {
        write(&proto.join(path), contents.as_bytes());
    }
    std::fs::create_dir_all(&py).expect("py dir");
    let mut protoc = Command::new("protoc");
    protoc.arg("-I").arg(&proto).arg(format!("--python_out={}", py.display()));
    protoc.args(files.iter().map(|(path, _)| path));
    run(&mut protoc);

    let pizza = pizza_v1beta1();
    let tm = restaurant("v1beta1", "Pizza");
    write(&data.join("pizza.pb"), &encode_object(&pizza, &tm));
    let list = ObjectList {
        metadata: ListMeta {
            resource_version: Some("2000".into()),
            continue_: Some("abc".into()),
            ..Default::default()
        },
        items: pizza_list(3),
    };
    write(&data.join("list.pb"), &encode_object(&list, &restaurant("v1beta1", "PizzaList")));
    let mut stream = event_frame(WatchEventType::Added, &encode_object(&list.items[0], &tm));
    stream.extend(event_frame(WatchEventType::Deleted, &encode_object(&list.items[2], &tm)));
    write(&data.join("watch.bin"), &stream);
    let status = piazza::ApiError::bad_request("bad pizza").to_status();
    let status_tm = piazza::codec::TypeMeta { api_version: "v1".into(), kind: "Status".into() };
    write(&data.join("status.pb"), &encode_object(&status, &status_tm));
    std::fs::write(dir.path().join("check.py"), SCRIPT).expect("script");

    let stdout = run(Command::new("python3").arg(dir.path().join("check.py")).arg(&py).arg(&data));
    let out: serde_json::Value = serde_json::from_slice(&stdout).expect("python prints JSON");

    assert_eq!(
        out["typeMeta"],
        serde_json::json!(["restaurant.programming-kubernetes.info/v1beta1", "Pizza"])
    );
    assert_eq!(out["contentType"], serde_json::json!([true, "", ""]));
    let p = &out["pizza"];
    assert_eq!(p["name"], "margherita");
    assert_eq!(p["namespace"], "default");
    assert_eq!(p["resourceVersion"], "1042");
    assert_eq!(p["generation"], 2);
    assert_eq!(p["created"], pizza.metadata.creation_timestamp.as_ref().expect("set").0.as_second());
    assert_eq!(p["labels"], serde_json::json!({"crust": "thin", "oven": "wood"}));
    assert_eq!(p["finalizers"], serde_json::json!(["restaurant.programming-kubernetes.info/kitchen"]));
    assert_eq!(p["toppings"], serde_json::json!([["mozzarella", 1], ["tomato", 2]]));
    assert_eq!(p["slices"], 8);
    assert_eq!(p["cost"], 12.5);
    assert_eq!(p["phase"], "Baked");
    assert_eq!(p["bakedAt"], "2025-11-26T00:00:00Z");
    assert_eq!(
        out["list"],
        serde_json::json!({"resourceVersion": "2000", "continue": "abc",
            "names": ["pizza-00000", "pizza-00001", "pizza-00002"], "slices": [1, 2, 3]})
    );
    assert_eq!(out["watch"], serde_json::json!([["ADDED", "pizza-00000"], ["DELETED", "pizza-00002"]]));
    assert_eq!(out["status"], serde_json::json!(["Status", "Failure", "BadRequest", 400, "bad pizza"]));

    let hex = out["fromPython"].as_str().expect("hex string");
    let from_python: Vec<u8> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect();
    let (made, type_meta) = decode_object::<v1alpha1::Pizza>(&from_python).expect("decode Python's body");
    assert_eq!(type_meta, restaurant("v1alpha1", "Pizza"));
    assert_eq!(made.metadata.name.as_deref(), Some("from-python"));
    assert_eq!(made.metadata.labels.as_ref().expect("labels")["lang"], "python");
    assert_eq!(made.spec.toppings, ["basil", "basil"]);
    assert_eq!((made.spec.slices, made.status.cost), (Some(4), 2.25));
    // Python wrote nothing for unset fields, and the fixture object is a different pizza.
    assert_eq!(made.status.phase, None);
    assert_ne!(made, pizza_v1alpha1());
}

//! Server-side printing and paging driven by the real `kubectl`: `get` shows the kind's own
//! columns, `-o wide` adds the wide ones, and `--chunk-size=2` pages through the list with
//! `limit`/`continue` yet prints every row once.
//!
//! Run with `cargo test -p pizza-apiserver --test integration kubectl_printing::`.

use crate::support::{Server, TempDir, example, pizza_json};
use serde_json::json;

fn columns(header: &str) -> Vec<&str> {
    header.split_whitespace().collect()
}

#[test]
fn get_wide_and_chunked() {
    let dir = TempDir::new("printing");
    let server = Server::start(&dir);
    let k = server.kubectl();
    k.ok(&["apply", "-f", &example("toppings.yaml")]);
    for i in 0..5 {
        let spec = json!({ "toppings": [{ "name": "tomato", "quantity": i + 1 }] });
        let out = k.run_stdin(&["create", "-f", "-"], &pizza_json("v1beta1", &format!("pizza-{i}"), spec));
        assert!(out.status.success(), "{out}");
    }

    let plain = k.ok(&["get", "pizzas"]);
    let lines: Vec<&str> = plain.lines().collect();
    assert_eq!(columns(lines[0]), ["NAME", "TOPPINGS", "COST", "AGE"], "{plain}");
    assert_eq!(lines.len(), 6, "{plain}");
    // pizza-1: one topping, tomato × 2 at 0.5 each (examples/toppings.yaml).
    assert_eq!(columns(lines[2])[..3], ["pizza-1", "1", "1"], "{plain}");

    let wide = k.ok(&["get", "pizzas", "-o", "wide"]);
    let wide_lines: Vec<&str> = wide.lines().collect();
    assert_eq!(
        columns(wide_lines[0]),
        ["NAME", "TOPPINGS", "COST", "TOPPING", "LIST", "SLICES", "PHASE", "AGE"],
        "-o wide adds the wide columns: {wide}"
    );
    assert_eq!(columns(wide_lines[2])[..5], ["pizza-1", "1", "1", "2xtomato", "8"], "{wide}");

    // Paged: kubectl asks for 2 at a time and follows the continue tokens.
    let out = k.run(&["get", "pizzas", "--chunk-size=2", "-v=6", "--no-headers"]);
    assert!(out.status.success(), "{out}");
    let names: Vec<&str> = out.stdout.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(names, ["pizza-0", "pizza-1", "pizza-2", "pizza-3", "pizza-4"], "{out}");
    let pages = out.stderr.lines().filter(|l| l.contains("limit=2")).count();
    assert_eq!(pages, 3, "three requests of two: {out}");
    assert!(out.stderr.contains("continue="), "the later pages carry a continue token: {out}");
}

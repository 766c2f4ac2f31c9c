//! What the binary's end-to-end tests share: running it.

use std::process::Output;

use serde_json::Value;

/// Runs `piazza-bench <args>` (which must include `--json`), asserts it succeeded, and
/// returns what it printed.
pub async fn bench(args: &[&str]) -> Value {
    let output: Output = tokio::process::Command::new(env!("CARGO_BIN_EXE_piazza-bench"))
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run piazza-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

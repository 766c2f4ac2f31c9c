//! `kill -9` loses no acknowledged write.
//!
//! The test re-runs this test binary as a child that writes as fast as it can and prints each
//! write once the store has acknowledged it. The parent kills the child with SIGKILL mid-stream,
//! reopens the store, and checks that every acknowledged write is there.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use bytes::Bytes;
use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use piazza_storage::{ReadRevision, Storage};

const CHILD_ENV: &str = "PIAZZA_STORAGE_CRASH_CHILD_DIR";

/// The child: only does anything when started by `kill_9_loses_no_acknowledged_write`.
#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = EmbeddedStore::open(dir.as_ref(), EmbeddedOptions::default()).unwrap();
        let mut stdout = std::io::stdout().lock();
        for i in 0u64.. {
            let key = format!("/crash/{i:08}");
            let kv = store.create(&key, Bytes::from(i.to_string())).await.unwrap();
            writeln!(stdout, "acked {key} {}", kv.mod_revision).unwrap();
            stdout.flush().unwrap();
        }
    });
}

#[tokio::test]
async fn kill_9_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child_writer", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning the child writer");

    let mut acked: Vec<(String, u64)> = Vec::new();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        let line = line.unwrap();
        let Some(rest) = line.strip_prefix("acked ") else { continue };
        let (key, rev) = rest.split_once(' ').unwrap();
        acked.push((key.to_owned(), rev.parse().unwrap()));
        if acked.len() == 300 {
            child.kill().expect("SIGKILL"); // SIGKILL on Unix: no destructors, no flush
            break;
        }
    }
    child.wait().unwrap();
    assert_eq!(acked.len(), 300, "the child stopped early");

    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("reopen after kill -9");
    for (key, rev) in &acked {
        let kv = store.get(key, ReadRevision::Latest).await.unwrap_or_else(|e| panic!("{key} lost: {e}"));
        assert_eq!(kv.mod_revision, *rev);
    }
    let current = store.current_revision().await.unwrap();
    assert!(current >= acked.last().unwrap().1);
    // The store goes on from where it was.
    let next = store.create("/crash/after", Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(next.mod_revision, current + 1);
}

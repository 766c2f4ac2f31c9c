//! The workspace's Markdown (README.md, ARCHITECTURE.md, docs/*.md, crates/*/README.md) links only to files that
//! exist and to headings that exist, with anchors spelled as GitHub spells them. Lives here
//! because docs/benchmarks.md, the longest and most cross-linked, is this crate's output.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root")
}

/// GitHub's anchor for a heading: lower case; letters, digits, `_`, `-` and spaces kept (other
/// punctuation, en dashes included, dropped); spaces become `-`.
fn github_slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Lines outside fenced code blocks.
fn prose_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    text.lines().filter(move |line| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    })
}

/// The anchors of a document's headings; a repeated heading gets `-1`, `-2`… as on GitHub.
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = BTreeMap::<String, usize>::new();
    let mut anchors = HashSet::new();
    for line in prose_lines(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let slug = github_slug(&line[hashes..]);
        let count = seen.entry(slug.clone()).or_default();
        anchors.insert(if *count == 0 { slug.clone() } else { format!("{slug}-{count}") });
        *count += 1;
    }
    anchors
}

/// Every `](target)` of a document's prose.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose_lines(text) {
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            if let Some(end) = rest.find(')') {
                targets.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    targets
}

fn documents(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    let docs = std::fs::read_dir(root.join("docs")).expect("docs/");
    files.extend(docs.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "md")));
    let crates = std::fs::read_dir(root.join("crates")).expect("crates/");
    files.extend(crates.map(|e| e.unwrap().path().join("README.md")).filter(|p| p.exists()));
    files
}

#[test]
fn every_local_link_and_anchor_resolves() {
    let root = workspace_root();
    let mut broken = Vec::new();
    for file in documents(&root) {
        let text = std::fs::read_to_string(&file).unwrap();
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let linked = if path.is_empty() { file.clone() } else { file.parent().unwrap().join(path) };
            let Ok(linked) = linked.canonicalize() else {
                broken.push(format!("{}: no file {target}", file.display()));
                continue;
            };
            // Only Markdown inside the workspace is checked for anchors.
            let is_markdown = linked.extension().is_some_and(|e| e == "md");
            if anchor.is_empty() || !is_markdown || !linked.starts_with(&root) {
                continue;
            }
            let linked_text = std::fs::read_to_string(&linked).unwrap();
            if !anchors(&linked_text).contains(anchor) {
                broken.push(format!("{}: no heading for {target}", file.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn slugs_follow_github() {
    assert_eq!(
        github_slug(" Watch fan-out (2026-11-27, 00:25–02:10 UTC)"),
        "watch-fan-out-2026-11-27-00250210-utc"
    );
    assert_eq!(github_slug("`piazza-bench` suite: GET & LIST"), "piazza-bench-suite-get--list");
    let text = "# A\n```\n# not a heading\n```\n## A\n#nope\n### B_c\n";
    let expected: HashSet<String> = ["a", "a-1", "b_c"].map(String::from).into();
    assert_eq!(anchors(text), expected);
    assert_eq!(link_targets("see [x](a.md#b) and [y](#c)\n```\n[z](d)\n```"), ["a.md#b", "#c"]);
}

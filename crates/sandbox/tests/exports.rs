//! The `woosmap-sandbox` binary tells a user how to point a client at it: after its first
//! stdout line (`woosmap-sandbox listening on URL`, which scripts parse), `export` lines that a
//! POSIX shell accepts as they are.

mod common;

use std::process::Command;

use common::{Lines, binary};

#[test]
fn the_binary_prints_ready_to_paste_export_lines() {
    let mut child = binary(&[
        "--quiet",
        "--trigger-window",
        "10s",
        "--status-window",
        "1500ms",
    ])
    .spawn()
    .expect("binary starts");
    let printed = Lines::of(&mut child).first(4);
    child.kill().ok();
    child.wait().ok();
    let url = printed[0]
        .strip_prefix("woosmap-sandbox listening on ")
        .unwrap_or_else(|| panic!("first line: {printed:?}"))
        .to_owned();
    let exports: Vec<&String> = printed
        .iter()
        .filter(|l| l.starts_with("export "))
        .collect();
    assert_eq!(exports.len(), 2, "{printed:?}");

    // A shell reads them back to the address, the default key and the windows.
    let script = format!(
        "{}\nprintf '%s|%s|%s|%s' \"$WOOSMAP_BASE_URL\" \"$WOOSMAP_PRIVATE_KEY\" \
         \"$WOOSMAP_TRIGGER_INTERVAL\" \"$WOOSMAP_STATUS_INTERVAL\"",
        exports
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{url}|sandbox-private-key|10s|1500ms")
    );
}

//! How the action gets `woosmap-import` (`scripts/action-install.sh`, the first step of
//! `action.yml`), with a release served from a `file://` directory laid out as GitHub serves
//! release assets (`vVERSION/ASSET`) and archives made by `scripts/package-cli.sh`:
//!
//! - a `woosmap-import` on PATH with the wanted version is used as is, nothing downloaded;
//! - one with another version is ignored and the release archive is downloaded, checked
//!   against the release's SHA256SUMS, unpacked under `$RUNNER_TEMP` and used;
//! - a checksum that does not match is an `::error` and nothing is installed;
//! - a version with no release and no cargo to build it is an `::error` that says so;
//! - with `service: rocketchat`, the action's first two steps, run as written in `action.yml`
//!   (the service check names the binary, the install step installs it), install
//!   `rocketchat-import` from its own verified release archive the same way.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A release directory `<dir>/v<VERSION>/` holding the CLI archive and its SHA256SUMS.
fn release(dir: &Path) -> PathBuf {
    release_of(dir, "woosmap-import", env!("CARGO_BIN_EXE_woosmap-import"))
}

/// [`release`] of the CLI `name` (`woosmap-import`, `rocketchat-import`) built at `binary`.
fn release_of(dir: &Path, name: &str, binary: &str) -> PathBuf {
    let out = dir.join(format!("v{VERSION}"));
    let status = Command::new(root().join("scripts/package-cli.sh"))
        .args(["--name", name])
        .arg("--binary")
        .arg(binary)
        .args(["--platform", &common::platform(), "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    out
}

struct Ran {
    code: i32,
    log: String,
    path_output: Option<String>,
}

/// Runs the install script as a runner would: GITHUB_ACTION_PATH, RUNNER_TEMP, GITHUB_OUTPUT,
/// a PATH of `path_dirs` then the system's, and releases from `releases`.
fn install(tmp: &Path, path_dirs: &[&Path], releases: &Path, version: Option<&str>) -> Ran {
    let system = [PathBuf::from("/usr/bin"), PathBuf::from("/bin")];
    install_with_system(tmp, path_dirs, releases, version, &system)
}

/// [`install`] with `system` instead of the system's `/usr/bin:/bin` after `path_dirs`.
fn install_with_system(
    tmp: &Path,
    path_dirs: &[&Path],
    releases: &Path,
    version: Option<&str>,
    system: &[PathBuf],
) -> Ran {
    let script = root().join("scripts/action-install.sh");
    let step_env = version.map(|v| ("WOOSMAP_IMPORT_VERSION".to_owned(), v.to_owned()));
    let runner = Runner {
        tmp,
        path_dirs,
        system,
        releases,
    };
    runner.run(&[script.as_os_str()], step_env.into_iter().collect())
}

/// A runner's view of an install step: the scratch folder `tmp` (its `runner_temp` and
/// `github_output`), a PATH of `path_dirs` then `system`, releases served from `releases`.
struct Runner<'a> {
    tmp: &'a Path,
    path_dirs: &'a [&'a Path],
    system: &'a [PathBuf],
    releases: &'a Path,
}

impl Runner<'_> {
    fn runner_temp(&self) -> PathBuf {
        self.tmp.join("runner_temp")
    }

    /// Runs `bash` with `args` as a runner would run the step: none of this process's
    /// environment but the step's `step_env`, PATH, GITHUB_ACTION_PATH, RUNNER_TEMP,
    /// GITHUB_OUTPUT and the releases' URL.
    fn run(&self, args: &[&std::ffi::OsStr], step_env: Vec<(String, String)>) -> Ran {
        let output = self.tmp.join("github_output");
        let _ = std::fs::remove_file(&output);
        std::fs::create_dir_all(self.runner_temp()).unwrap();
        let path = std::env::join_paths(
            self.path_dirs
                .iter()
                .map(|p| p.to_path_buf())
                .chain(self.system.iter().cloned()),
        )
        .unwrap();
        let out = Command::new("bash")
            .args(args)
            .env_clear()
            .envs(step_env)
            .env("PATH", path)
            .env("GITHUB_ACTION_PATH", root())
            .env("RUNNER_TEMP", self.runner_temp())
            .env("GITHUB_OUTPUT", &output)
            .env(
                "WOOSMAP_IMPORT_RELEASES",
                format!("file://{}", self.releases.display()),
            )
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let path_output = std::fs::read_to_string(&output).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("path=").map(str::to_owned))
        });
        Ran {
            code: out.status.code().unwrap_or(-1),
            log,
            path_output,
        }
    }
}

fn fake_binary(dir: &Path, version: &str) {
    fake_binary_named(dir, "woosmap-import", version);
}

/// A `name` in `dir` that says it is `name VERSION` and does nothing else.
fn fake_binary_named(dir: &Path, name: &str, version: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\necho '{name} {version}'\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn a_matching_binary_on_path_is_used_without_download() {
    let tmp = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_woosmap-import"))
        .parent()
        .unwrap();
    let r = install(
        tmp.path(),
        &[bin_dir],
        &tmp.path().join("no-releases"),
        None,
    );
    assert_eq!(r.code, 0, "{}", r.log);
    assert!(!r.log.contains("downloading"), "{}", r.log);
    assert_eq!(
        r.path_output.as_deref().map(Path::new),
        Some(Path::new(env!("CARGO_BIN_EXE_woosmap-import"))),
        "{}",
        r.log
    );
}

#[test]
fn another_version_on_path_is_ignored_and_the_verified_release_is_installed() {
    let tmp = tempfile::tempdir().unwrap();
    let releases = tmp.path().join("releases");
    release(&releases);
    let fake = tmp.path().join("fake");
    fake_binary(&fake, "0.0.0-old");

    let r = install(tmp.path(), &[&fake], &releases, None);
    assert_eq!(r.code, 0, "{}", r.log);
    assert!(r.log.contains("ignoring"), "{}", r.log);
    assert!(r.log.contains("downloading"), "{}", r.log);
    let installed = PathBuf::from(r.path_output.expect("a path output"));
    assert!(installed.starts_with(tmp.path().join("runner_temp")));
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("woosmap-import {VERSION}")
    );

    // A later step of the same job reuses the unpacked binary, even with the release gone.
    std::fs::remove_dir_all(&releases).unwrap();
    let again = install(
        tmp.path(),
        &[&fake],
        &releases,
        Some(&format!("v{VERSION}")),
    );
    assert_eq!(again.code, 0, "{}", again.log);
    assert_eq!(again.path_output.as_deref(), installed.to_str());
}

#[test]
fn a_checksum_mismatch_installs_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let releases = tmp.path().join("releases");
    let dir = release(&releases);
    let sums = dir.join(format!("woosmap-import_{VERSION}_SHA256SUMS"));
    let text = std::fs::read_to_string(&sums).unwrap();
    let tampered: String = text
        .lines()
        .map(|l| {
            let (hash, file) = l.split_once("  ").unwrap();
            let flipped = if hash.starts_with('0') { "1" } else { "0" };
            format!("{flipped}{}  {file}\n", &hash[1..])
        })
        .collect();
    std::fs::write(&sums, tampered).unwrap();

    let r = install(tmp.path(), &[], &releases, None);
    assert_eq!(r.code, 1, "{}", r.log);
    assert!(
        r.log
            .contains("::error title=woosmap-import::checksum mismatch"),
        "{}",
        r.log
    );
    assert!(r.path_output.is_none(), "{}", r.log);
    assert!(
        !tmp.path()
            .join("runner_temp/woosmap-import")
            .join(VERSION)
            .join(common::platform())
            .join("woosmap-import")
            .exists()
    );
}

/// A directory of links to every program of `/usr/bin` and `/bin` except the Rust toolchain:
/// the system's tools, as on a runner where Rust was not set up.
#[cfg(unix)]
fn system_without_cargo(tmp: &Path) -> PathBuf {
    let dir = tmp.join("system-without-cargo");
    std::fs::create_dir_all(&dir).unwrap();
    for system in ["/usr/bin", "/bin"] {
        let Ok(entries) = std::fs::read_dir(system) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let skip = ["cargo", "rustc", "rustup", "rustdoc"]
                .iter()
                .any(|tool| name.to_string_lossy().starts_with(tool));
            let link = dir.join(&name);
            if !skip && !link.exists() {
                let _ = std::os::unix::fs::symlink(entry.path(), &link);
            }
        }
    }
    dir
}

#[cfg(unix)]
#[test]
fn no_release_and_no_cargo_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    // Whether or not this machine has a system cargo, the script must not find one.
    let system = [system_without_cargo(tmp.path())];
    let r = install_with_system(
        tmp.path(),
        &[],
        &tmp.path().join("releases"),
        Some("9.9.9"),
        &system,
    );
    assert_eq!(r.code, 1, "{}", r.log);
    assert!(
        r.log.contains("could not download release 9.9.9"),
        "{}",
        r.log
    );
    assert!(r.log.contains("cargo is not installed"), "{}", r.log);
}

/// The `run:` line and the literal `env:` values of the step `id` of an action file (the
/// composite steps of this repository's actions: one-line `run`, `KEY: value` env entries).
fn step_of(action: &str, id: &str) -> (String, Vec<(String, String)>) {
    let text = std::fs::read_to_string(root().join(action)).unwrap();
    let mut lines = text
        .lines()
        .skip_while(|l| l.trim() != format!("- id: {id}"))
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with("- id:"));
    let mut run = None;
    let mut env = Vec::new();
    let mut in_env = false;
    for line in lines.by_ref() {
        let t = line.trim();
        if let Some(r) = t.strip_prefix("run: ") {
            run = Some(r.to_owned());
            in_env = false;
        } else if t == "env:" {
            in_env = true;
        } else if in_env && let Some((k, v)) = t.split_once(": ") {
            if !v.contains("${{") {
                env.push((k.to_owned(), v.to_owned()));
            }
        } else if !t.starts_with('#') {
            in_env = false;
        }
    }
    (
        run.unwrap_or_else(|| panic!("{action}: no run line in step {id}")),
        env,
    )
}

#[test]
fn the_action_for_rocketchat_installs_rocketchat_import_from_its_verified_release() {
    let tmp = tempfile::tempdir().unwrap();
    let releases = tmp.path().join("releases");
    release_of(
        &releases,
        "rocketchat-import",
        env!("CARGO_BIN_EXE_rocketchat-import"),
    );
    // An older rocketchat-import on PATH, and the woosmap-import of this build: neither is it.
    let fake = tmp.path().join("fake");
    fake_binary_named(&fake, "rocketchat-import", "0.0.0-old");
    fake_binary_named(&fake, "woosmap-import", VERSION);

    // The service step names the binary the install step gets as ACTION_BINARY.
    let (check, check_env) = step_of("action.yml", "service");
    let service_output = tmp.path().join("service_output");
    let checked = Command::new("bash")
        .args(["-c", &check])
        .env_clear()
        .envs(check_env)
        .env("PATH", "/usr/bin:/bin")
        .env("INPUT_SERVICE", "rocketchat")
        .env("GITHUB_ACTION_PATH", root())
        .env("GITHUB_OUTPUT", &service_output)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(checked.status.code(), Some(0), "{checked:?}");
    let binary = std::fs::read_to_string(&service_output)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("binary=").map(str::to_owned))
        .expect("a binary output");
    assert_eq!(binary, "rocketchat-import");
    let (run, mut env) = step_of("action.yml", "install");
    assert!(
        !env.iter().any(|(k, _)| k == "ACTION_BINARY"),
        "the install step's binary comes from the service step: {env:?}"
    );
    env.push(("ACTION_BINARY".to_owned(), binary));
    let runner = Runner {
        tmp: tmp.path(),
        path_dirs: &[&fake],
        system: &[PathBuf::from("/usr/bin"), PathBuf::from("/bin")],
        releases: &releases,
    };
    let Ran {
        code,
        log,
        path_output,
    } = runner.run(&["-c".as_ref(), run.as_ref()], env);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("rocketchat-import: ignoring"), "{log}");
    assert!(
        log.contains(&format!(
            "downloading file://{}/v{VERSION}/rocketchat-import_{VERSION}_",
            releases.display()
        )),
        "{log}"
    );
    let installed = PathBuf::from(path_output.expect("a path output"));
    assert!(installed.starts_with(runner.runner_temp()), "{installed:?}");
    assert!(installed.ends_with("rocketchat-import"), "{installed:?}");
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("rocketchat-import {VERSION}")
    );
}

//! The shared folder of a service: where it is (a variable, else `$XDG_RUNTIME_DIR/<name>`,
//! else `<temp>/<prefix>-<uid>`), whether it may be trusted (a directory, not a symlink, owned
//! by this user, writable by nobody else, on a local filesystem, writable by us), and the
//! warning (once, through `warnings`) when a folder is not used. A folder in use is cleaned of
//! stale files once, on first use (`cleanup`). Sharing is single-host: a folder on a network
//! filesystem is refused, and records carry the boot id (`stamp`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::file::write_new;
use crate::host::user_id;
use crate::warnings::warn;

/// Where a service's folder is.
#[derive(Debug, Clone, Copy)]
pub struct FolderSpec {
    /// The variable that names the folder (`off`: no sharing), if the service has one.
    pub env: Option<&'static str>,
    /// A folder of its own inside the variable's (services sharing one variable).
    pub env_subfolder: Option<&'static str>,
    /// The folder's name under `$XDG_RUNTIME_DIR`.
    pub runtime_name: &'static str,
    /// Without a runtime folder: `<temp>/<temp_prefix>-<uid>`.
    pub temp_prefix: &'static str,
    /// The caller's unit tests: the folder they use instead of the user's (`None` outside
    /// unit tests).
    pub unit_tests: Option<fn() -> PathBuf>,
}

/// A service that shares a budget through a folder: its name (part of every file name) and
/// where its folder is. Declare one `static` per service.
#[derive(Debug)]
pub struct Service {
    pub name: &'static str,
    pub folder: FolderSpec,
    dir: OnceLock<Option<PathBuf>>,
}

impl Service {
    pub const fn new(name: &'static str, folder: FolderSpec) -> Service {
        Service {
            name,
            folder,
            dir: OnceLock::new(),
        }
    }

    /// The folder, once checked (`None`: sharing is off, or the folder is not used; a warning
    /// said why, once). Stale records are cleaned up in the background the first time.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.get_or_init(|| self.open()).as_deref()
    }

    fn open(&self) -> Option<PathBuf> {
        let spec = &self.folder;
        let set = spec
            .env
            .and_then(|name| std::env::var(name).ok())
            .filter(|v| !v.trim().is_empty());
        let (dir, ours) = match set {
            Some(v) if v.trim().eq_ignore_ascii_case("off") => return None,
            Some(v) => {
                let dir = PathBuf::from(v);
                (
                    spec.env_subfolder.map_or(dir.clone(), |sub| dir.join(sub)),
                    false,
                )
            }
            None => (default_dir(spec)?, true),
        };
        match prepare(&dir, ours) {
            Ok(()) => {
                crate::cleanup::start(dir.clone());
                Some(dir)
            }
            Err(reason) => {
                let hint = spec
                    .env
                    .map(|env| format!(" (set {env} to a private folder)"))
                    .unwrap_or_default();
                warn(format!(
                    "not sharing rate-limit pacing with other processes: the folder {} \
                     {reason}; pacing within this process only{hint}",
                    dir.display()
                ));
                None
            }
        }
    }
}

fn default_dir(spec: &FolderSpec) -> Option<PathBuf> {
    if let Some(folder) = spec.unit_tests {
        return Some(folder());
    }
    let uid = user_id()?;
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(runtime) if Path::new(&runtime).is_absolute() && Path::new(&runtime).is_dir() => {
            Some(PathBuf::from(runtime).join(spec.runtime_name))
        }
        _ => Some(std::env::temp_dir().join(format!("{}-{uid}", spec.temp_prefix))),
    }
}

/// Creates the folder (0700) if missing, then checks that it can be trusted and written.
/// `ours`: the default location, whose parent is shared (a missing parent is not created).
pub fn prepare(dir: &Path, ours: bool) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(!ours);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    if let Err(e) = builder.create(dir)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(format!("could not be created ({e})"));
    }
    trusted(dir)?;
    local(dir)?;
    writable(dir)
}

/// Why a folder must not be used, if it must not.
#[cfg(unix)]
pub fn trusted(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("cannot be read ({e})"))?;
    if meta.file_type().is_symlink() {
        return Err("is a symbolic link".to_owned());
    }
    if !meta.is_dir() {
        return Err("is not a directory".to_owned());
    }
    let me = user_id().ok_or("has an owner that cannot be checked")?;
    if meta.uid() != me {
        return Err(format!(
            "is owned by uid {}, not by you (uid {me})",
            meta.uid()
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "can be written by other users (mode {mode:o}; expected 700)"
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn trusted(dir: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("cannot be read ({e})"))?;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err("is not a plain directory".to_owned());
    }
    Ok(())
}

/// Network filesystems (`statfs` magic numbers): their locks and clocks are not this host's.
#[cfg(target_os = "linux")]
const NETWORK_FILESYSTEMS: &[(i64, &str)] = &[
    (0x6969, "NFS"),
    (0x517b, "SMB"),
    (0xff53_4d42, "CIFS"),
    (0xfe53_4d42, "SMB2"),
    (0x7375_7245, "Coda"),
    (0x5346_414f, "AFS"),
    (0x6b41_4653, "AFS"),
    (0x0102_1997, "9P"),
    (0x00c3_6400, "Ceph"),
    (0x0116_1970, "GFS2"),
    (0x7461_636f, "OCFS2"),
    (0x0bd0_0bd0, "Lustre"),
];

/// Why a folder is not on a local filesystem, if it is not (Linux only: elsewhere the boot id
/// is missing and nothing is shared anyway).
fn local(dir: &Path) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let c_path = std::ffi::CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| "has a name with a NUL byte".to_owned())?;
        // SAFETY: statfs fills a plain struct; an all-zero one is a valid starting value.
        let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid NUL-terminated path and a writable struct.
        if unsafe { libc::statfs(c_path.as_ptr(), &mut fs) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(format!("cannot be inspected ({e})"));
        }
        #[allow(clippy::unnecessary_cast)]
        let magic = fs.f_type as i64 & 0xffff_ffff;
        if let Some((_, name)) = NETWORK_FILESYSTEMS.iter().find(|(m, _)| *m == magic) {
            return Err(format!(
                "is on a network filesystem ({name}); sharing works only between processes \
                 of one machine"
            ));
        }
    }
    let _ = dir;
    Ok(())
}

/// Why nothing can be written in the folder, if nothing can.
fn writable(dir: &Path) -> Result<(), String> {
    let probe = dir.join(format!(
        ".probe.{}.{:016x}.tmp",
        std::process::id(),
        fastrand::u64(..)
    ));
    write_new(&probe, b"").map_err(|e| format!("cannot be written ({e})"))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn untrusted_folders_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let open_dir = base.path().join("open");
        std::fs::create_dir(&open_dir).unwrap();
        std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = trusted(&open_dir).unwrap_err();
        assert!(err.contains("written by other users"), "{err}");
        let link = base.path().join("link");
        let private = base.path().join("private");
        std::fs::create_dir(&private).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(&private, &link).unwrap();
        assert!(trusted(&link).unwrap_err().contains("symbolic link"));
        assert_eq!(trusted(&private), Ok(()));
        assert!(prepare(&base.path().join("new"), false).is_ok());
        if user_id() != Some(0) {
            assert!(
                trusted(Path::new("/"))
                    .unwrap_err()
                    .contains("owned by uid 0")
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_folder_that_cannot_be_written_is_refused() {
        // /proc/self/fdinfo: owned by this process's user, mode 500, and no file can be
        // created in it, even by root.
        let err = prepare(Path::new("/proc/self/fdinfo"), false).unwrap_err();
        assert!(err.contains("cannot be written"), "{err}");
    }

    /// The service every unit test of this crate paces under: its folder is
    /// [`test_folder`] (keys are random, so tests do not meet).
    pub(crate) static TEST_SERVICE: Service = Service::new(
        "pacer-unit-tests",
        FolderSpec {
            env: None,
            env_subfolder: None,
            runtime_name: "pacer-unit-tests",
            temp_prefix: "pacer-unit-tests",
            unit_tests: Some(test_folder),
        },
    );

    /// This crate's unit tests: one folder of the test process's own, removed at its exit.
    pub(crate) fn test_folder() -> PathBuf {
        static ROOT: OnceLock<PathBuf> = OnceLock::new();
        extern "C" fn remove_root() {
            if let Some(root) = ROOT.get() {
                let _ = std::fs::remove_dir_all(root);
            }
        }
        ROOT.get_or_init(|| {
            let dir = tempfile::Builder::new()
                .prefix("pacer-unit-tests-")
                .tempdir()
                .expect("a folder in the temporary directory")
                .keep();
            // SAFETY: registers a function without arguments that only reads a set OnceLock.
            assert_eq!(unsafe { libc::atexit(remove_root) }, 0);
            dir
        })
        .join("pacer")
    }
}

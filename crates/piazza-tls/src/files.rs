//! Atomic, permission-aware file writes.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use crate::TlsError;

/// Mode of files holding private keys or credentials.
pub(crate) const PRIVATE_MODE: u32 = 0o600;
/// Mode of files holding only public material (certificates).
pub(crate) const PUBLIC_MODE: u32 = 0o644;
/// Mode of directories this crate creates for key material.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Write { path: path.to_path_buf(), source }
}

/// Creates `dir` and its missing parents, new directories with mode 0700.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), TlsError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir).map_err(write_error(dir))
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory gets the
/// contents and `mode`, is synced, and is renamed over `path`. Readers see the old file or the
/// new one, never a partial one, and a key never exists with wider permissions than `mode`.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // tempfile creates the file with mode 0600, so secrets are never readable by others.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(write_error(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file().set_permissions(fs::Permissions::from_mode(mode)).map_err(write_error(path))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(contents).map_err(write_error(path))?;
    tmp.as_file().sync_all().map_err(write_error(path))?;
    tmp.persist(path).map_err(|err| write_error(path)(err.error))?;
    // Make the rename durable; failure here does not undo the write, so it is not an error.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_with_mode_and_replaces_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        write_atomic(&path, b"one", PRIVATE_MODE).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(mode_of(&path), 0o600);

        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
        write_atomic(&path, b"two", PRIVATE_MODE).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(mode_of(&path), 0o600, "the replacement has the requested mode");

        write_atomic(&path, b"three", PUBLIC_MODE).unwrap();
        assert_eq!(mode_of(&path), 0o644);
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files are left behind");
    }

    #[test]
    fn creates_private_directories() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_private_dir(&nested).unwrap();
        assert_eq!(mode_of(&nested), 0o700);
        create_private_dir(&nested).unwrap();
    }

    #[test]
    fn missing_parent_is_a_write_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/secret");
        let err = write_atomic(&path, b"x", PRIVATE_MODE).unwrap_err();
        assert!(matches!(err, TlsError::Write { .. }));
        assert!(err.to_string().contains("missing/secret"));
    }
}

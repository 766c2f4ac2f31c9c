//! A size-rotated log file, as upstream's audit log backend rotates with lumberjack
//! (`--audit-log-maxsize`, `--audit-log-maxage`, `--audit-log-maxbackup`).
//!
//! When a write would take the file past the size limit, the file is renamed to a backup
//! named after the time of rotation in UTC (`audit.log` → `audit-2026-11-26T01-02-03.456.log`)
//! and a new file is started. Then backups beyond the count limit (oldest first) and older
//! than the age limit are removed.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The time format in backup names (sortable, no colons).
const BACKUP_TIME_FORMAT: &str = "%Y-%m-%dT%H-%M-%S%.3f";

/// When to rotate and which backups to keep. Zero means "no limit" for each field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate before the file would exceed this many bytes.
    pub max_bytes: u64,
    /// Remove backups older than this.
    pub max_age: Duration,
    /// Keep at most this many backups.
    pub max_backups: usize,
}

impl Rotation {
    /// The flags' values: megabytes, days, files.
    pub fn from_flags(max_size_mb: u64, max_age_days: u64, max_backups: usize) -> Self {
        Self {
            max_bytes: max_size_mb.saturating_mul(1024 * 1024),
            max_age: Duration::from_secs(max_age_days.saturating_mul(24 * 3600)),
            max_backups,
        }
    }
}

/// A file that rotates itself; see the module documentation.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    rotation: Rotation,
    file: File,
    size: u64,
}

impl RotatingFile {
    /// Opens `path` for appending (creating it and its directory).
    pub fn open(path: &Path, rotation: Rotation) -> io::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Self { path: path.to_owned(), rotation, file, size })
    }

    /// The backup name for a rotation at `at`.
    pub fn backup_name(path: &Path, at: jiff::Timestamp) -> PathBuf {
        let (stem, ext) = split_name(path);
        let time = at.strftime(BACKUP_TIME_FORMAT);
        path.with_file_name(format!("{stem}-{time}{ext}"))
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let mut backup = Self::backup_name(&self.path, jiff::Timestamp::now());
        // Two rotations within a millisecond: never overwrite a backup.
        while backup.exists() {
            std::thread::sleep(Duration::from_millis(1));
            backup = Self::backup_name(&self.path, jiff::Timestamp::now());
        }
        std::fs::rename(&self.path, &backup)?;
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        if let Err(error) = self.prune(jiff::Timestamp::now()) {
            tracing::warn!(%error, "cannot remove old audit log backups");
        }
        Ok(())
    }

    /// Removes the backups the limits no longer allow, judged at `now`.
    pub fn prune(&self, now: jiff::Timestamp) -> io::Result<()> {
        let mut backups = self.backups()?;
        // Newest first.
        backups.sort_by_key(|(taken, _)| std::cmp::Reverse(*taken));
        for (index, (taken, path)) in backups.iter().enumerate() {
            let too_many = self.rotation.max_backups != 0 && index >= self.rotation.max_backups;
            let age = now.duration_since(*taken);
            let too_old = !self.rotation.max_age.is_zero()
                && age.is_positive()
                && age.unsigned_abs() > self.rotation.max_age;
            if too_many || too_old {
                std::fs::remove_file(path)?;
            }
        }
        Ok(())
    }

    /// This file's backups with their rotation times.
    fn backups(&self) -> io::Result<Vec<(jiff::Timestamp, PathBuf)>> {
        let (stem, ext) = split_name(&self.path);
        let prefix = format!("{stem}-");
        let dir = match self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(dir) => dir.to_owned(),
            None => PathBuf::from("."),
        };
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(time) = name.strip_prefix(&prefix).and_then(|rest| rest.strip_suffix(&ext)) else {
                continue;
            };
            if let Some(taken) = parse_backup_time(time) {
                found.push((taken, entry.path()));
            }
        }
        Ok(found)
    }
}

/// The file name's stem and extension (with its dot, or empty).
fn split_name(path: &Path) -> (String, String) {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    (stem, ext)
}

fn parse_backup_time(text: &str) -> Option<jiff::Timestamp> {
    let civil = jiff::civil::DateTime::strptime(BACKUP_TIME_FORMAT, text).ok()?;
    civil.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp())
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let len = buf.len() as u64;
        if self.rotation.max_bytes != 0 {
            if len > self.rotation.max_bytes {
                return Err(io::Error::other(format!(
                    "write length {len} exceeds maximum file size {}",
                    self.rotation.max_bytes
                )));
            }
            if self.size + len > self.rotation.max_bytes {
                self.rotate()?;
            }
        }
        self.file.write_all(buf)?;
        self.size += len;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn backups_are_named_as_lumberjack_names_them() {
        let at: jiff::Timestamp = "2026-11-26T01:02:03.456Z".parse().unwrap();
        assert_eq!(
            RotatingFile::backup_name(Path::new("/var/log/audit.log"), at),
            PathBuf::from("/var/log/audit-2026-11-26T01-02-03.456.log")
        );
        assert_eq!(parse_backup_time("2026-11-26T01-02-03.456"), Some(at));
        assert_eq!(
            RotatingFile::backup_name(Path::new("audit"), at),
            PathBuf::from("audit-2026-11-26T01-02-03.456")
        );
    }

    #[test]
    fn rotates_at_the_size_limit_and_keeps_max_backups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let rotation = Rotation { max_bytes: 100, max_age: Duration::ZERO, max_backups: 2 };
        let mut file = RotatingFile::open(&path, rotation).unwrap();
        let line = [b'x'; 39];
        for _ in 0..2 {
            file.write_all(&line).unwrap();
        }
        assert_eq!(files(dir.path()), ["audit.log"], "78 bytes fit");
        file.write_all(&line).unwrap();
        let names = files(dir.path());
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names[0].starts_with("audit-") && names[0].ends_with(".log"), "{names:?}");
        assert_eq!(std::fs::read(dir.path().join(&names[0])).unwrap().len(), 78);
        assert_eq!(std::fs::read(&path).unwrap().len(), 39);

        // Four more rotations; only the two newest backups remain.
        for _ in 0..8 {
            file.write_all(&line).unwrap();
        }
        let names = files(dir.path());
        assert_eq!(names.len(), 3, "{names:?}");
        let err = file.write(&[b'y'; 101]).unwrap_err();
        assert!(err.to_string().contains("exceeds maximum file size 100"), "{err}");
    }

    #[test]
    fn reopening_counts_the_existing_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        std::fs::write(&path, [b'a'; 90]).unwrap();
        let rotation = Rotation { max_bytes: 100, ..Rotation::default() };
        let mut file = RotatingFile::open(&path, rotation).unwrap();
        file.write_all(&[b'b'; 20]).unwrap();
        assert_eq!(files(dir.path()).len(), 2);
    }

    #[test]
    fn old_backups_are_pruned_by_age_and_others_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let now: jiff::Timestamp = "2026-11-26T00:00:00Z".parse().unwrap();
        let day = jiff::SignedDuration::from_hours(24);
        for days in [1, 3, 10] {
            let taken = now.checked_sub(day * days).unwrap();
            std::fs::write(RotatingFile::backup_name(&path, taken), b"old").unwrap();
        }
        std::fs::write(dir.path().join("other.log"), b"keep").unwrap();
        std::fs::write(dir.path().join("audit-notatime.log"), b"keep").unwrap();
        let rotation = Rotation::from_flags(1, 5, 0);
        assert_eq!(rotation.max_bytes, 1024 * 1024);
        let file = RotatingFile::open(&path, rotation).unwrap();
        file.prune(now).unwrap();
        let names = files(dir.path());
        assert_eq!(
            names,
            [
                "audit-2026-11-23T00-00-00.000.log",
                "audit-2026-11-25T00-00-00.000.log",
                "audit-notatime.log",
                "audit.log",
                "other.log"
            ]
        );
    }
}

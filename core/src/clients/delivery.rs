//! Delivery of the user file: an atomic write into the drop folder (plus a `latest` copy,
//! keeping the last N run files) and/or an upload by SFTP (`sftp`).
//!
//! Names: `{tenant}-users-{run start, UTC, YYYYMMDDTHHMMSSZ}-run{N}.{csv|jsonl}` — the same
//! name when a run is resumed after a crash, so a re-delivery replaces the file instead of
//! adding one — (`…-run{N}-approved.…` for the file `hrsync approve` writes) and
//! `{tenant}-users-latest.{csv|jsonl}`.
//!
//! Invariant: a file under its final name is always complete. Locally each file is written to
//! `.{name}.tmp` in the same folder, fsynced, renamed, and the folder fsynced; by SFTP it is
//! uploaded to a temporary name and renamed. Files are created `0640`: they hold names and
//! work emails.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::clients::sftp::{self, SftpError};
use crate::clients::user_file::FileFormat;
use crate::spec::FileSpec;

/// Where a file went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The run file's name.
    pub name: String,
    /// Its path in the drop folder.
    pub local: Option<PathBuf>,
    /// Its path on the SFTP server.
    pub remote: Option<String>,
}

/// Why a file could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("cannot {action} {path}: {detail}; check file.directory (a folder hrsync can write to)")]
    Local {
        action: &'static str,
        path: String,
        detail: String,
    },
    #[error(transparent)]
    Sftp(Box<SftpError>),
}

impl From<SftpError> for DeliveryError {
    fn from(e: SftpError) -> Self {
        DeliveryError::Sftp(Box::new(e))
    }
}

impl DeliveryError {
    /// Whether a person must act (retrying on schedule cannot help).
    pub fn needs_person(&self) -> bool {
        match self {
            DeliveryError::Local { .. } => false,
            DeliveryError::Sftp(e) => e.needs_person(),
        }
    }
}

/// A file's name: tenant, time (UTC, to the second) and a label such as `run12`.
pub fn file_name(tenant: &str, at: DateTime<Utc>, label: &str, format: FileFormat) -> String {
    format!(
        "{tenant}-users-{}-{label}.{}",
        at.format("%Y%m%dT%H%M%SZ"),
        format.extension()
    )
}

/// The name of run `run_id`'s file (it started at `run_started`).
pub fn run_file_name(tenant: &str, run_started: DateTime<Utc>, run_id: u64, format: FileFormat) -> String {
    file_name(tenant, run_started, &format!("run{run_id}"), format)
}

/// The name of the copy that always holds the last delivered file.
pub fn latest_name(tenant: &str, format: FileFormat) -> String {
    format!("{tenant}-users-latest.{}", format.extension())
}

/// Writes the file `name` locally (when a folder is set), then uploads it (when SFTP is set).
pub async fn deliver(spec: &FileSpec, tenant: &str, name: String, bytes: Vec<u8>) -> Result<Delivered, DeliveryError> {
    let bytes = std::sync::Arc::new(bytes);
    let local = match &spec.directory {
        Some(dir) => {
            let (dir, tenant, file, format, keep) =
                (dir.clone(), tenant.to_string(), name.clone(), spec.format, spec.keep);
            let data = bytes.clone();
            let written = tokio::task::spawn_blocking(move || write_local(&dir, &tenant, &file, format, keep, &data))
                .await
                .map_err(|e| DeliveryError::Local {
                    action: "write",
                    path: name.clone(),
                    detail: e.to_string(),
                })??;
            Some(written)
        }
        None => None,
    };
    let remote = match &spec.sftp {
        Some(s) => Some(sftp::upload(s, &name, &bytes, &format!("{tenant}-users-")).await?),
        None => None,
    };
    Ok(Delivered { name, local, remote })
}

fn local_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> DeliveryError + 'a {
    move |e| DeliveryError::Local {
        action,
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// Writes the run file and the `latest` copy atomically, then keeps the newest `keep` run
/// files of this tenant (and removes its stale temporary files). Returns the run file's path.
pub fn write_local(
    dir: &Path,
    tenant: &str,
    name: &str,
    format: FileFormat,
    keep: usize,
    bytes: &[u8],
) -> Result<PathBuf, DeliveryError> {
    std::fs::create_dir_all(dir).map_err(local_err("create the folder", dir))?;
    let path = write_atomic(dir, name, bytes)?;
    write_atomic(dir, &latest_name(tenant, format), bytes)?;
    prune(dir, tenant, format, keep)?;
    Ok(path)
}

/// Temporary name, write, fsync, rename, fsync the folder.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, DeliveryError> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o640)
            .open(&tmp)
            .map_err(local_err("create", &tmp))?;
        f.write_all(bytes).map_err(local_err("write", &tmp))?;
        f.sync_all().map_err(local_err("fsync", &tmp))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(local_err("rename", &tmp))
    })();
    if let Err(e) = written {
        // Every failure path (create, write, fsync, rename) leaves no temporary file behind:
        // a full disk must not be made fuller by half-written copies.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(local_err("fsync the folder", dir))?;
    Ok(path)
}

/// Removes this tenant's run files beyond the newest `keep` (names sort by time), and its
/// temporary files left by an interrupted write.
fn prune(dir: &Path, tenant: &str, format: FileFormat, keep: usize) -> Result<(), DeliveryError> {
    let prefix = format!("{tenant}-users-");
    let suffix = format!(".{}", format.extension());
    let latest = latest_name(tenant, format);
    let mut runs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(local_err("list", dir))? {
        let entry = entry.map_err(local_err("list", dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!(".{prefix}")) && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        } else if name.starts_with(&prefix) && name.ends_with(&suffix) && name != latest {
            runs.push(name);
        }
    }
    runs.sort();
    let excess = runs.len().saturating_sub(keep.max(1));
    for name in &runs[..excess] {
        let path = dir.join(name);
        std::fs::remove_file(&path).map_err(local_err("remove", &path))?;
    }
    Ok(())
}

/// `hrsync check`: whether the drop folder can be used. Writes nothing.
pub fn check_local(dir: &Path) -> Result<String, String> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(format!("{} is not a folder", dir.display())),
        Ok(m) if m.permissions().readonly() => Err(format!("{} is read-only", dir.display())),
        Ok(_) => Ok(format!("{} is a folder", dir.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(format!(
            "{} does not exist yet; the first run creates it",
            dir.display()
        )),
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn writes_atomically_keeps_the_last_n_and_a_latest_copy() {
        let dir = tempfile::tempdir().unwrap();
        let at = |s: u32| Utc.with_ymd_and_hms(2026, 11, 29, 4, 0, s).unwrap();
        // A stale temporary file from an interrupted write, and another tenant's file.
        std::fs::write(dir.path().join(".acme-users-20261101T000000Z.csv.tmp"), "half").unwrap();
        std::fs::write(dir.path().join("acme-eu-users-20200101T000000Z.csv"), "other").unwrap();
        for s in 0..5 {
            let name = run_file_name("acme", at(s), u64::from(s) + 1, FileFormat::Csv);
            let path = write_local(
                dir.path(),
                "acme",
                &name,
                FileFormat::Csv,
                3,
                format!("run {s}").as_bytes(),
            )
            .unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("run {s}"));
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "acme-eu-users-20200101T000000Z.csv",
                "acme-users-20261129T040002Z-run3.csv",
                "acme-users-20261129T040003Z-run4.csv",
                "acme-users-20261129T040004Z-run5.csv",
                "acme-users-latest.csv",
            ]
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("acme-users-latest.csv")).unwrap(),
            "run 4"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("acme-users-latest.csv"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
    }

    #[test]
    fn a_failed_rename_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty folder under the run file's final name: the rename over it fails.
        let name = "acme-users-20261129T040000Z-run1.csv";
        std::fs::create_dir(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("keep"), "x").unwrap();
        let e = write_local(dir.path(), "acme", name, FileFormat::Csv, 3, b"data").unwrap_err();
        assert!(e.to_string().contains("cannot rename"), "{e}");
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, [name.to_string()], "a temporary file was left behind");
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        // A full disk: /dev/full accepts the open and fails every write (ENOSPC). The
        // temporary name is made a symlink to it.
        let full = Path::new("/dev/full");
        let dir = tempfile::tempdir().unwrap();
        let name = "acme-users-20261129T040000Z-run1.csv";
        let tmp = dir.path().join(format!(".{name}.tmp"));
        std::os::unix::fs::symlink(full, &tmp).unwrap();
        let e = write_local(dir.path(), "acme", name, FileFormat::Csv, 3, b"data").unwrap_err();
        assert!(e.to_string().contains("cannot write"), "{e}");
        assert!(
            std::fs::symlink_metadata(&tmp).is_err(),
            "the temporary file was left behind"
        );
        assert!(!dir.path().join(name).exists());
    }

    #[test]
    fn a_file_where_the_folder_should_be_is_an_error_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("out");
        std::fs::write(&blocker, "").unwrap();
        let e = write_local(&blocker, "acme", "x.csv", FileFormat::Csv, 3, b"x").unwrap_err();
        assert!(e.to_string().contains("check file.directory"), "{e}");
        assert!(!e.needs_person());
        assert!(check_local(&blocker).is_err());
        assert!(check_local(dir.path()).is_ok());
    }
}

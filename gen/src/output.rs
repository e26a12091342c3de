//! Output files that are either complete or absent.
//!
//! Every file moca writes goes to a temporary name in its final directory
//! (`.moca-tmp-<pid>-<random>`), is flushed to disk (`fsync`) and only then renamed over its
//! final name, so a full disk, an error or a killed run never leaves a truncated file under a
//! name a user reads. [`OutputDir`] does this for a set of files: a command that writes a
//! directory of results (`moca sweep --out DIR`) computes everything first, then stages and
//! renames the files together; it refuses a directory holding other files unless `--force`,
//! and removes what it created when it fails. Temporary files left by a killed run are removed
//! by the next run that writes into that directory.

use crate::usage;
use anyhow::{Context, Result};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Prefix of the temporary files (hidden, removed by the next run if a run was killed).
pub const TMP_PREFIX: &str = ".moca-tmp-";

/// Write `bytes` to a temporary file in `dir` and flush it to disk; returns the open file.
fn stage_in(dir: &Path, bytes: &[u8], final_path: &Path) -> Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("{TMP_PREFIX}{}-", std::process::id()))
        // As `std::fs::write` would create it (the umask applies), not owner-only.
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot create a file in this directory", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("{}: cannot write", final_path.display()))?;
    Ok(tmp)
}

fn sync_dir(dir: &Path) {
    // Make the renames durable; not every file system supports it, so best effort.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Write `bytes` to `path` atomically: a temporary file in the same directory, `fsync`, rename.
/// On failure `path` is unchanged and the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.exists() && !path.is_file() && !path.is_dir() {
        // A device or a pipe (`/dev/stdout`): written in place, never renamed over.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("{}: cannot open", path.display()))?;
        return f
            .write_all(bytes)
            .and_then(|()| f.flush())
            .with_context(|| format!("{}: cannot write", path.display()));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = stage_in(dir, bytes, path)?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    sync_dir(dir);
    Ok(())
}

/// Remove temporary files left in `dir` by killed runs of other processes.
fn remove_leftovers(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let own = format!("{TMP_PREFIX}{}-", std::process::id());
    for e in rd.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(TMP_PREFIX) && !name.starts_with(&own) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// A directory of results written as a whole (see the module documentation).
pub struct OutputDir {
    dir: PathBuf,
    created: bool,
    files: Vec<(PathBuf, Vec<u8>)>,
}

impl OutputDir {
    /// Check that `dir` may receive results: it is created later if missing, and must be empty
    /// (temporary files of killed runs aside) unless `force`. Nothing is created yet.
    pub fn new(dir: &Path, force: bool) -> Result<Self> {
        if dir.exists() {
            if !dir.is_dir() {
                return Err(usage(format!(
                    "--out {}: exists and is not a directory",
                    dir.display()
                )));
            }
            let others: Vec<String> = std::fs::read_dir(dir)
                .map_err(|e| usage(format!("--out {}: cannot read: {e}", dir.display())))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with(TMP_PREFIX))
                .collect();
            if !others.is_empty() && !force {
                return Err(usage(format!(
                    "--out {}: the directory is not empty ({} entries, e.g. `{}`); pass --force \
                     to replace the results in it",
                    dir.display(),
                    others.len(),
                    others[0]
                )));
            }
        } else if let Some(p) = dir.parent().filter(|p| !p.as_os_str().is_empty())
            && !p.is_dir()
        {
            return Err(usage(format!(
                "--out {}: directory {} does not exist",
                dir.display(),
                p.display()
            )));
        }
        Ok(OutputDir {
            dir: dir.to_path_buf(),
            created: false,
            files: Vec::new(),
        })
    }

    /// Add a file (kept in memory until [`commit`](Self::commit)).
    pub fn add(&mut self, name: &str, bytes: impl Into<Vec<u8>>) {
        self.files.push((self.dir.join(name), bytes.into()));
    }

    /// Write every file: create the directory if needed, stage each file under a temporary
    /// name (flushed to disk), then rename them all into place. On failure the staged files are
    /// removed, the previous files are unchanged and a directory created here is removed.
    pub fn commit(mut self) -> Result<Vec<PathBuf>> {
        if !self.dir.exists() {
            std::fs::create_dir_all(&self.dir)
                .map_err(|e| usage(format!("--out {}: cannot create: {e}", self.dir.display())))?;
            self.created = true;
        }
        remove_leftovers(&self.dir);
        let mut staged = Vec::with_capacity(self.files.len());
        for (path, bytes) in &self.files {
            staged.push((stage_in(&self.dir, bytes, path)?, path.clone()));
        }
        let mut written = Vec::with_capacity(staged.len());
        for (tmp, path) in staged {
            tmp.persist(&path)
                .map_err(|e| e.error)
                .with_context(|| format!("{}: cannot write", path.display()))?;
            written.push(path);
        }
        sync_dir(&self.dir);
        self.created = false;
        Ok(written)
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        // A failed commit: remove the directory if this run created it (staged files are
        // removed by their own drop; `remove_dir` only removes an empty directory).
        if self.created {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_empty_needs_force_and_leftovers_do_not_count() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("res");
        let mut o = OutputDir::new(&out, false).unwrap();
        o.add("a.txt", "1");
        o.commit().unwrap();
        let e = OutputDir::new(&out, false).err().unwrap();
        assert!(
            crate::is_usage_error(&e) && e.to_string().contains("--force"),
            "{e}"
        );
        std::fs::remove_file(out.join("a.txt")).unwrap();
        std::fs::write(out.join(".moca-tmp-1-x"), "half").unwrap();
        let mut o = OutputDir::new(&out, false).unwrap();
        o.add("b.txt", "2");
        o.commit().unwrap();
        let names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["b.txt"]);
    }

    #[test]
    fn a_device_is_written_in_place_never_replaced() {
        // A device (or a pipe) cannot be renamed over: it is written directly.
        let e = write_atomic(Path::new("/dev/full"), b"x").unwrap_err();
        assert!(format!("{e:#}").contains("/dev/full"), "{e:#}");
        assert!(!Path::new("/dev/full").is_file());
        write_atomic(Path::new("/dev/null"), b"x").unwrap();
    }
}

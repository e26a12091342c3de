//! Small helpers: a stable hash, temporary directories, running tools.

use crate::error::SimError;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

/// 128-bit FNV-1a: stable across Rust versions and platforms (unlike `DefaultHasher`).
#[derive(Clone, Debug)]
pub(crate) struct Fnv128(u128);

impl Fnv128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

    pub(crate) fn new() -> Self {
        Fnv128(Self::OFFSET)
    }

    fn bytes(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= u128::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// Add a length-prefixed field (so that field boundaries matter).
    pub(crate) fn field(&mut self, data: &[u8]) {
        self.bytes(&(data.len() as u64).to_le_bytes());
        self.bytes(data);
    }

    pub(crate) fn hex(&self) -> String {
        format!("{:032x}", self.0)
    }
}

/// A directory removed on drop unless [`TempDir::keep`] is called.
pub(crate) struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// Create a fresh directory `<parent>/<prefix><pid>-<nanos>-<n>`.
    pub(crate) fn new_in(parent: &Path, prefix: &str) -> Result<Self, SimError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        std::fs::create_dir_all(parent)
            .map_err(|e| SimError::io(format!("creating {}", parent.display()), e))?;
        loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = parent.join(format!("{prefix}{}-{nanos}-{n}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path, keep: false }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(SimError::io(format!("creating {}", path.display()), e)),
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Do not remove the directory on drop.
    pub(crate) fn keep(mut self) -> PathBuf {
        self.keep = true;
        std::mem::take(&mut self.path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Render a command line for messages.
pub(crate) fn command_line(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// The last `n` lines of the combined output of a tool.
pub(crate) fn tail(out: &Output, n: usize) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    let mut s = String::new();
    if start > 0 {
        s.push_str(&format!("[... {start} earlier lines]\n"));
    }
    s.push_str(&lines[start..].join("\n"));
    s
}

/// Run a tool to completion, mapping "not found" to [`SimError::ToolMissing`] and a failure
/// status to [`SimError::ToolFailed`].
pub(crate) fn run_tool(
    cmd: &mut Command,
    tool: &str,
    hint: &'static str,
) -> Result<Output, SimError> {
    let out = cmd.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
            SimError::ToolMissing {
                tool: tool.to_string(),
                path: PathBuf::from(cmd.get_program()),
                hint,
            }
        }
        _ => SimError::io(format!("running `{}`", command_line(cmd)), e),
    })?;
    if !out.status.success() {
        return Err(SimError::ToolFailed {
            tool: tool.to_string(),
            command: command_line(cmd),
            status: out.status.to_string(),
            output: tail(&out, 60),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_stable() {
        let mut h = Fnv128::new();
        h.field(b"abc");
        let a = h.hex();
        let mut h2 = Fnv128::new();
        h2.field(b"ab");
        h2.field(b"c");
        assert_ne!(a, h2.hex());
        assert_eq!(a.len(), 32);
        // Known FNV-1a 128 value of the empty input is the offset basis.
        assert_eq!(Fnv128::new().hex(), "6c62272e07bb014262b821756295c58d");
    }

    #[test]
    fn tempdir_removed() {
        let parent = std::env::temp_dir().join("moca-sim-unit");
        let p = {
            let t = TempDir::new_in(&parent, "t-").unwrap();
            assert!(t.path().is_dir());
            t.path().to_path_buf()
        };
        assert!(!p.exists());
        let t = TempDir::new_in(&parent, "t-").unwrap();
        let kept = t.keep();
        assert!(kept.is_dir());
        std::fs::remove_dir_all(kept).unwrap();
    }
}

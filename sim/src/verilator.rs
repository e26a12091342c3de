//! Building Verilog with Verilator into a cached shared library, and driving it.
//!
//! [`CompiledModel::compile`] parses the top's ports, generates a C++ shim (see
//! [`crate::shim`] for its ABI), runs `verilator --cc`, builds a shared library with Verilator's
//! generated makefile and loads it. [`CompiledModel::instantiate`] creates a model instance;
//! [`VerilatedModel::build`] does both.
//!
//! # Cache
//! Builds live in `<cache root>/<hash>/libmoca_model.so`, where the hash (128-bit FNV-1a) covers
//! the Verilog text, the top name, the Verilator version, every flag that changes the build and
//! the shim ABI version. The cache root is, in order: [`BuildOptions::cache_dir`], `$MOCA_SIM_CACHE`,
//! `$CARGO_TARGET_DIR/moca-sim-cache`, `<workspace>/target/moca-sim-cache` if this user can
//! write there, `$XDG_CACHE_HOME/moca-sim-cache`, and `<tmp>/moca-sim-cache-<uid>` (so a user
//! other than the one who built moca gets a cache of their own). Each entry records the size
//! and a checksum of its library (`libmoca_model.so.sum`); a library that does not match (a
//! truncated or damaged entry, which would otherwise kill the process with SIGBUS when loaded)
//! is rebuilt with a one-line message. A build happens in a fresh temporary directory next to
//! the entry, its files are flushed to disk, and it is renamed into place atomically, so processes building the same hash at once do not corrupt
//! each other (the loser of the rename discards its copy); within a process, builds of one hash
//! are serialised. A rebuild prints one line to stderr; a cache hit prints nothing. The compiled
//! Verilator runtime (`verilated*.o`) is kept once per Verilator version, compiler and flags in
//! `<cache root>/runtime-<hash>/` and copied into later builds, so a new design compiles only
//! its own model code (about 3 s instead of 10 s for a small design). Each entry keeps
//! `build.log` (Verilator and compiler output) and the generated `moca_shim.cpp`. Temporary
//! directories left by killed builds are removed after an hour.
//!
//! # Symbol isolation
//! Each build uses its own Verilator `--prefix` (`Vmoca_<hash>`), is linked with a version script
//! that exports only the `moca_sim_*` ABI (the Verilator runtime is linked in statically and
//! hidden) and `-Bsymbolic`, and is opened with `RTLD_LOCAL`. Several models, even of modules
//! with the same name, can therefore be loaded in one process at once.

use crate::error::{SimError, VERILATOR_INSTALL_HINT};
use crate::ports::{Direction, Port, PortId, parse_ports};
use crate::shim::{self, ABI_VERSION, LIB_NAME, storage_bytes};
use crate::stimulus::ReplayLayout;
use crate::util::{Fnv128, TempDir, run_tool};
use libloading::Library;
use std::collections::HashMap;
use std::ffi::{CString, c_char, c_void};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

/// Time units per clock cycle in VCD files; the rising edge is at `10 * cycle + 5`.
pub const CYCLE_TIME: u64 = 10;

/// Flags that make initial values deterministic: variables without an `initial` start at 0.
const X_FLAGS: [&str; 4] = ["--x-assign", "0", "--x-initial", "0"];

/// How to build a model.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Build with `--trace` so that [`VerilatedModel::open_vcd`] works (slower evaluation).
    pub trace: bool,
    /// Cache root; overrides `$MOCA_SIM_CACHE` and the default under `target/`.
    pub cache_dir: Option<PathBuf>,
    /// The `verilator` executable.
    pub verilator: PathBuf,
    /// The `make` executable.
    pub make: PathBuf,
    /// The C++ compiler (default `$CXX`, else `g++`).
    pub cxx: PathBuf,
    /// Optimisation flag for the model code (`OPT_FAST`), default `-O2`.
    pub opt_fast: String,
    /// Parallel jobs for `make` (not part of the cache key), default 2.
    pub jobs: usize,
    /// Extra arguments for `verilator` (part of the cache key).
    pub extra_verilator_args: Vec<String>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            trace: false,
            cache_dir: None,
            verilator: PathBuf::from("verilator"),
            make: PathBuf::from("make"),
            cxx: std::env::var_os("CXX").map_or_else(|| PathBuf::from("g++"), PathBuf::from),
            opt_fast: "-O2".into(),
            jobs: 2,
            extra_verilator_args: Vec::new(),
        }
    }
}

impl BuildOptions {
    /// The cache root these options resolve to (see the module docs).
    pub fn cache_root(&self) -> PathBuf {
        if let Some(d) = &self.cache_dir {
            return d.clone();
        }
        if let Some(d) = std::env::var_os("MOCA_SIM_CACHE") {
            return PathBuf::from(d);
        }
        if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
            return PathBuf::from(d).join("moca-sim-cache");
        }
        // The workspace moca was built from (a path compiled in): only if this user can write
        // there, else a per-user cache.
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut candidates = Vec::new();
        if let Some(ws) = manifest.parent()
            && ws.join("Cargo.toml").is_file()
        {
            candidates.push(ws.join("target").join("moca-sim-cache"));
        }
        if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
            candidates.push(PathBuf::from(x).join("moca-sim-cache"));
        }
        first_writable(&candidates)
    }
}

/// Whether this process can create files in `dir` (creating it if needed).
fn writable(dir: &Path) -> bool {
    std::fs::create_dir_all(dir).is_ok() && TempDir::new_in(dir, ".tmp-probe-").is_ok()
}

/// The first of `candidates` this process can write to, else the per-user directory
/// `<tmp>/moca-sim-cache-<uid>`.
pub fn first_writable(candidates: &[PathBuf]) -> PathBuf {
    candidates
        .iter()
        .find(|c| writable(c))
        .cloned()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("moca-sim-cache-{}", current_uid())))
}

/// The real user id (from `/proc/self/status`; 0 where that is not available).
fn current_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().and_then(|u| u.parse().ok()))
        })
        .unwrap_or(0)
}

/// Name of the file next to the library holding its size and checksum.
const SUM_NAME: &str = "libmoca_model.so.sum";

/// `<size> <fnv128>` of a file's content.
fn file_sum(path: &Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    let mut h = Fnv128::new();
    h.field(&bytes);
    Ok(format!("{} {}", bytes.len(), h.hex()))
}

/// Why a cache entry cannot be used (None: its library matches its recorded checksum).
fn entry_damage(entry: &Path) -> Option<String> {
    let lib = entry.join(LIB_NAME);
    let recorded = match std::fs::read_to_string(entry.join(SUM_NAME)) {
        Ok(s) => s,
        Err(_) => return Some(format!("{SUM_NAME} is missing")),
    };
    match file_sum(&lib) {
        Ok(actual) if actual == recorded.trim() => None,
        Ok(actual) => Some(format!(
            "{LIB_NAME} has size and checksum {actual}, recorded {}",
            recorded.trim()
        )),
        Err(e) => Some(format!("{LIB_NAME} cannot be read: {e}")),
    }
}

/// Write `text` to `path` and flush it to disk.
fn write_synced(path: &Path, text: &[u8]) -> Result<(), SimError> {
    use std::io::Write as _;
    let mut f = std::fs::File::create(path)
        .map_err(|e| SimError::io(format!("writing {}", path.display()), e))?;
    f.write_all(text)
        .and_then(|()| f.sync_all())
        .map_err(|e| SimError::io(format!("writing {}", path.display()), e))
}

fn sync_path(path: &Path) -> Result<(), SimError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| SimError::io(format!("flushing {}", path.display()), e))
}

/// Whether [`CompiledModel::compile`] built the library or found it in the cache.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BuildOutcome {
    /// Verilator and the C++ compiler ran.
    Built,
    /// The library was already in the cache; nothing ran but `verilator --version`.
    CacheHit,
}

type HandleFn = unsafe extern "C" fn(*mut c_void);

/// The loaded ABI functions (plain function pointers, valid while `_lib` lives).
struct Api {
    create: unsafe extern "C" fn() -> *mut c_void,
    destroy: HandleFn,
    eval: HandleFn,
    final_: HandleFn,
    got_finish: unsafe extern "C" fn(*mut c_void) -> i32,
    port_ptr: unsafe extern "C" fn(*mut c_void, u32) -> *mut c_void,
    set_u64: unsafe extern "C" fn(*mut c_void, u32, u64),
    get_u64: unsafe extern "C" fn(*mut c_void, u32) -> u64,
    set_words: unsafe extern "C" fn(*mut c_void, u32, *const u32, u32),
    get_words: unsafe extern "C" fn(*mut c_void, u32, *mut u32, u32),
    trace_open: unsafe extern "C" fn(*mut c_void, *const c_char) -> i32,
    trace_dump: unsafe extern "C" fn(*mut c_void, u64),
    trace_close: HandleFn,
    trace_error: unsafe extern "C" fn(*mut c_void) -> i32,
}

struct Compiled {
    api: Api,
    ports: Vec<Port>,
    top: String,
    hash: String,
    outcome: BuildOutcome,
    library: PathBuf,
    trace: bool,
    // Dropped last: the function pointers above point into it.
    _lib: Library,
}

/// A Verilated design loaded from the cache; cheap to clone, creates model instances.
#[derive(Clone)]
pub struct CompiledModel {
    inner: Arc<Compiled>,
}

impl std::fmt::Debug for CompiledModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledModel")
            .field("top", &self.inner.top)
            .field("hash", &self.inner.hash)
            .field("outcome", &self.inner.outcome)
            .field("library", &self.inner.library)
            .finish()
    }
}

fn version_cache() -> &'static Mutex<HashMap<PathBuf, String>> {
    static V: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
    V.get_or_init(Default::default)
}

/// The output of `verilator --version` (e.g. `Verilator 5.006 2023-01-22 rev ...`), cached per
/// executable path for the life of the process.
pub fn verilator_version(verilator: &Path) -> Result<String, SimError> {
    if let Some(v) = version_cache()
        .lock()
        .ok()
        .and_then(|m| m.get(verilator).cloned())
    {
        return Ok(v);
    }
    let out = run_tool(
        Command::new(verilator).arg("--version"),
        "verilator",
        VERILATOR_INSTALL_HINT,
    )?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if let Ok(mut m) = version_cache().lock() {
        m.insert(verilator.to_path_buf(), v.clone());
    }
    Ok(v)
}

fn build_lock(hash: &str) -> Arc<Mutex<()>> {
    static L: OnceLock<Mutex<HashMap<String, Arc<Mutex<()>>>>> = OnceLock::new();
    let map = L.get_or_init(Default::default);
    let mut m = map.lock().unwrap_or_else(|e| e.into_inner());
    m.entry(hash.to_string()).or_default().clone()
}

fn write(path: &Path, text: &str) -> Result<(), SimError> {
    std::fs::write(path, text).map_err(|e| SimError::io(format!("writing {}", path.display()), e))
}

impl CompiledModel {
    /// Build (or find in the cache) and load the Verilated model of module `top` of `verilog`.
    pub fn compile(verilog: &str, top: &str, opts: &BuildOptions) -> Result<Self, SimError> {
        let ports = parse_ports(verilog, top)?;
        let version = verilator_version(&opts.verilator)?;
        let mut h = Fnv128::new();
        h.field(&ABI_VERSION.to_le_bytes());
        // The templates themselves, so that any change to them invalidates the cache.
        let names: Vec<String> = ports
            .iter()
            .map(|p| shim::verilator_encode(&p.name))
            .collect();
        h.field(shim::shim_cpp("P", top, "H", &ports, &names, opts.trace).as_bytes());
        h.field(shim::makefile("P").as_bytes());
        h.field(shim::VERSION_SCRIPT.as_bytes());
        h.field(verilog.as_bytes());
        h.field(top.as_bytes());
        h.field(version.as_bytes());
        h.field(&[u8::from(opts.trace)]);
        h.field(opts.opt_fast.as_bytes());
        h.field(opts.cxx.as_os_str().as_encoded_bytes());
        for f in X_FLAGS
            .iter()
            .copied()
            .chain(opts.extra_verilator_args.iter().map(|s| s.as_str()))
        {
            h.field(f.as_bytes());
        }
        let hash = h.hex();
        let root = opts.cache_root();
        let entry = root.join(&hash);
        let lib_path = entry.join(LIB_NAME);

        let mut outcome = BuildOutcome::CacheHit;
        let lock = build_lock(&hash);
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        if entry.exists()
            && let Some(why) = entry_damage(&entry)
        {
            eprintln!(
                "moca-sim: cache entry {} is damaged ({why}); rebuilding it",
                entry.display()
            );
            // Move it aside first (atomic), so no process loads it while it is removed.
            let trash = TempDir::new_in(&root, ".tmp-damaged-")?;
            let _ = std::fs::rename(&entry, trash.path().join("entry"));
            drop(trash);
            if entry.exists() {
                return Err(SimError::io(
                    format!("removing the damaged cache entry {}", entry.display()),
                    std::io::Error::other("it is still there"),
                ));
            }
        }
        if !lib_path.is_file() {
            build(verilog, top, &ports, opts, &version, &hash, &root, &entry)?;
            outcome = BuildOutcome::Built;
        }
        drop(guard);
        let inner = load(&lib_path, ports, top, hash, outcome, opts.trace)?;
        Ok(CompiledModel {
            inner: Arc::new(inner),
        })
    }

    /// Create a new, independent instance of the model (its own Verilator context), evaluated
    /// once so that `initial` blocks have run.
    pub fn instantiate(&self) -> Result<VerilatedModel, SimError> {
        let c = &self.inner;
        // SAFETY: the library exports the ABI documented in `shim`; checked by `load`.
        let handle = unsafe { (c.api.create)() };
        if handle.is_null() {
            return Err(SimError::CreateFailed(c.top.clone()));
        }
        let mut slots = Vec::with_capacity(c.ports.len());
        for (i, p) in c.ports.iter().enumerate() {
            // SAFETY: `i` is below the port count checked by `load`; handle is live.
            let ptr = unsafe { (c.api.port_ptr)(handle, i as u32) }.cast::<u8>();
            let kind = match storage_bytes(p.width) {
                1 => Kind::U8,
                2 => Kind::U16,
                4 => Kind::U32,
                8 => Kind::U64,
                b => Kind::Wide(b / 4),
            };
            slots.push(Slot {
                ptr,
                kind,
                mask: p.mask64(),
            });
        }
        let mut m = VerilatedModel {
            handle,
            eval_fn: c.api.eval,
            slots,
            model: self.clone(),
            tracing: false,
            vcd: None,
            dirty: false,
            cycle: 0,
        };
        m.eval();
        Ok(m)
    }

    /// Ports of the top module, in header order.
    pub fn ports(&self) -> &[Port] {
        &self.inner.ports
    }

    /// Whether this value was built or came from the cache.
    pub fn outcome(&self) -> BuildOutcome {
        self.inner.outcome
    }

    /// The cache key (32 hex digits).
    pub fn hash(&self) -> &str {
        &self.inner.hash
    }

    /// The loaded shared library.
    pub fn library_path(&self) -> &Path {
        &self.inner.library
    }

    /// The top module's name.
    pub fn top(&self) -> &str {
        &self.inner.top
    }

    /// Whether the model was built with `--trace`.
    pub fn has_trace(&self) -> bool {
        self.inner.trace
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    verilog: &str,
    top: &str,
    ports: &[Port],
    opts: &BuildOptions,
    version: &str,
    hash: &str,
    root: &Path,
    entry: &Path,
) -> Result<(), SimError> {
    run_tool(
        Command::new(&opts.make).arg("--version"),
        "make",
        VERILATOR_INSTALL_HINT,
    )?;
    run_tool(
        Command::new(&opts.cxx).arg("--version"),
        "C++ compiler",
        VERILATOR_INSTALL_HINT,
    )?;
    let short_version = version.split_whitespace().nth(1).unwrap_or(version);
    eprintln!(
        "moca-sim: building {top} (hash {}) with verilator {short_version}",
        &hash[..16]
    );
    remove_stale_builds(root);
    let tmp = TempDir::new_in(root, &format!(".tmp-{}-", &hash[..16]))?;
    let dir = tmp.path();
    let prefix = format!("Vmoca_{}", &hash[..16]);
    write(&dir.join("design.v"), verilog)?;
    let mut cmd = Command::new(&opts.verilator);
    cmd.current_dir(dir)
        .args([
            "--cc",
            "--prefix",
            &prefix,
            "--top-module",
            top,
            "--Mdir",
            "obj",
        ])
        .args([
            "-O3",
            "--no-timing",
            "-Wno-fatal",
            "-Wno-lint",
            "-Wno-style",
        ])
        .args(X_FLAGS)
        .args(["-CFLAGS", "-fPIC"]);
    if opts.trace {
        cmd.arg("--trace");
    }
    cmd.args(&opts.extra_verilator_args).arg("design.v");
    let vout = run_tool(&mut cmd, "verilator", VERILATOR_INSTALL_HINT)?;
    let obj = dir.join("obj");
    let header_path = obj.join(format!("{prefix}.h"));
    let header = std::fs::read_to_string(&header_path)
        .map_err(|e| SimError::io(format!("reading {}", header_path.display()), e))?;
    let names = shim::cxx_port_names(&header, ports).map_err(SimError::AbiMismatch)?;
    write(
        &obj.join("moca_shim.cpp"),
        &shim::shim_cpp(&prefix, top, hash, ports, &names, opts.trace),
    )?;
    write(&obj.join("moca.mk"), &shim::makefile(&prefix))?;
    write(&obj.join("moca.map"), shim::VERSION_SCRIPT)?;
    let mut make = Command::new(&opts.make);
    make.current_dir(&obj)
        .args(["-f", "moca.mk"])
        .arg(format!("-j{}", opts.jobs.max(1)))
        .arg(format!("OPT_FAST={}", opts.opt_fast))
        .arg("VM_PARALLEL_BUILDS=1")
        .arg(format!("CXX={}", opts.cxx.display()))
        .arg(LIB_NAME);
    let runtime = runtime_dir(root, opts, version);
    let reused = reuse_runtime(&runtime, &obj);
    let mout = run_tool(
        &mut make,
        "make (C++ build of the Verilated model)",
        VERILATOR_INSTALL_HINT,
    )?;
    let log = format!(
        "{}\n{}{}\n{}{}",
        version,
        String::from_utf8_lossy(&vout.stdout),
        String::from_utf8_lossy(&vout.stderr),
        String::from_utf8_lossy(&mout.stdout),
        String::from_utf8_lossy(&mout.stderr)
    );
    write(&dir.join("build.log"), &log)?;
    if !reused {
        save_runtime(root, &obj, &runtime);
    }
    std::fs::rename(obj.join(LIB_NAME), dir.join(LIB_NAME))
        .map_err(|e| SimError::io(format!("moving {LIB_NAME} out of {}", obj.display()), e))?;
    std::fs::copy(obj.join("moca_shim.cpp"), dir.join("moca_shim.cpp"))
        .map_err(|e| SimError::io(format!("copying the shim in {}", obj.display()), e))?;
    // Object files are large and not needed once linked.
    let _ = std::fs::remove_dir_all(&obj);
    // The library and its checksum reach the disk before the entry becomes visible.
    let lib = dir.join(LIB_NAME);
    sync_path(&lib)?;
    let sum = file_sum(&lib).map_err(|e| SimError::io(format!("reading {}", lib.display()), e))?;
    write_synced(&dir.join(SUM_NAME), sum.as_bytes())?;
    sync_path(dir)?;
    match std::fs::rename(dir, entry) {
        Ok(()) => {
            tmp.keep();
            let _ = sync_path(root);
            Ok(())
        }
        // Another process finished the same build first: use theirs, drop ours.
        Err(_) if entry.join(LIB_NAME).is_file() => Ok(()),
        Err(e) => Err(SimError::io(
            format!("moving the build into the cache at {}", entry.display()),
            e,
        )),
    }
}

/// Where the compiled Verilator runtime (`verilated*.o`, identical for every design built with
/// the same Verilator, compiler and flags) is kept, so that each build compiles only the model.
fn runtime_dir(root: &Path, opts: &BuildOptions, version: &str) -> PathBuf {
    let mut h = Fnv128::new();
    h.field(b"runtime");
    h.field(&ABI_VERSION.to_le_bytes());
    h.field(version.as_bytes());
    h.field(&[u8::from(opts.trace)]);
    h.field(opts.cxx.as_os_str().as_encoded_bytes());
    for f in &opts.extra_verilator_args {
        h.field(f.as_bytes());
    }
    root.join(format!("runtime-{}", &h.hex()[..16]))
}

fn runtime_objects(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("verilated") && n.ends_with(".o"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Copy cached runtime objects into `obj` (fresh modification times, so `make` keeps them).
/// Returns false (and `make` compiles them) if there is no usable cache.
fn reuse_runtime(runtime: &Path, obj: &Path) -> bool {
    let objs = runtime_objects(runtime);
    !objs.is_empty()
        && objs.iter().all(|o| {
            o.file_name()
                .is_some_and(|n| std::fs::copy(o, obj.join(n)).is_ok())
        })
}

/// Keep the runtime objects of this build for the next ones (best effort, atomic rename).
fn save_runtime(root: &Path, obj: &Path, runtime: &Path) {
    let Ok(tmp) = TempDir::new_in(root, ".tmp-runtime-") else {
        return;
    };
    let objs = runtime_objects(obj);
    let copied = objs.iter().all(|o| {
        o.file_name()
            .is_some_and(|n| std::fs::copy(o, tmp.path().join(n)).is_ok())
    });
    if copied && !objs.is_empty() && std::fs::rename(tmp.path(), runtime).is_ok() {
        tmp.keep();
    }
}

/// Remove temporary build directories left by killed processes (older than an hour).
fn remove_stale_builds(root: &Path) {
    let Ok(rd) = std::fs::read_dir(root) else {
        return;
    };
    for e in rd.filter_map(|e| e.ok()) {
        let stale = e.file_name().to_string_lossy().starts_with(".tmp-")
            && e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 3600);
        if stale {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn load(
    path: &Path,
    ports: Vec<Port>,
    top: &str,
    hash: String,
    outcome: BuildOutcome,
    trace: bool,
) -> Result<Compiled, SimError> {
    use libloading::os::unix::{Library as UnixLibrary, RTLD_LOCAL, RTLD_NOW};
    let err = |source| SimError::Load {
        path: path.to_path_buf(),
        source,
    };
    // SAFETY: loading runs the library's static constructors (Verilator runtime, libstdc++);
    // the library was built by us from generated sources.
    let lib: Library = unsafe { UnixLibrary::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
        .map_err(err)?
        .into();
    macro_rules! sym {
        ($name:literal) => {
            // SAFETY: the symbol types match the shim's declarations (ABI_VERSION checked below).
            *unsafe { lib.get(concat!($name, "\0").as_bytes()) }.map_err(err)?
        };
    }
    let abi_version: unsafe extern "C" fn() -> u32 = sym!("moca_sim_abi_version");
    // SAFETY: plain function without arguments.
    let v = unsafe { abi_version() };
    if v != ABI_VERSION {
        return Err(SimError::AbiMismatch(format!(
            "shim ABI {v}, expected {ABI_VERSION}"
        )));
    }
    let num_ports: unsafe extern "C" fn() -> u32 = sym!("moca_sim_num_ports");
    let port_width: unsafe extern "C" fn(u32) -> u32 = sym!("moca_sim_port_width");
    let port_bytes: unsafe extern "C" fn(u32) -> u32 = sym!("moca_sim_port_storage_bytes");
    // SAFETY: plain functions over constant tables.
    let n = unsafe { num_ports() } as usize;
    if n != ports.len() {
        return Err(SimError::AbiMismatch(format!(
            "library has {n} ports, the Verilog {}",
            ports.len()
        )));
    }
    for (i, p) in ports.iter().enumerate() {
        // SAFETY: as above, `i < n`.
        let (w, b) = unsafe { (port_width(i as u32), port_bytes(i as u32)) };
        if w != p.width || b != storage_bytes(p.width) {
            return Err(SimError::AbiMismatch(format!(
                "port `{}`: library has width {w} and {b} storage bytes, expected width {} and {} bytes",
                p.name,
                p.width,
                storage_bytes(p.width)
            )));
        }
    }
    let api = Api {
        create: sym!("moca_sim_create"),
        destroy: sym!("moca_sim_destroy"),
        eval: sym!("moca_sim_eval"),
        final_: sym!("moca_sim_final"),
        got_finish: sym!("moca_sim_got_finish"),
        port_ptr: sym!("moca_sim_port_ptr"),
        set_u64: sym!("moca_sim_set_u64"),
        get_u64: sym!("moca_sim_get_u64"),
        set_words: sym!("moca_sim_set_words"),
        get_words: sym!("moca_sim_get_words"),
        trace_open: sym!("moca_sim_trace_open"),
        trace_dump: sym!("moca_sim_trace_dump"),
        trace_close: sym!("moca_sim_trace_close"),
        trace_error: sym!("moca_sim_trace_error"),
    };
    Ok(Compiled {
        api,
        ports,
        top: top.to_string(),
        hash,
        outcome,
        library: path.to_path_buf(),
        trace,
        _lib: lib,
    })
}

#[derive(Copy, Clone, Debug)]
enum Kind {
    U8,
    U16,
    U32,
    U64,
    /// Number of 32-bit words.
    Wide(u32),
}

#[derive(Copy, Clone, Debug)]
struct Slot {
    ptr: *mut u8,
    kind: Kind,
    mask: u64,
}

/// One instance of a Verilated model.
///
/// Values are read and written directly in Verilator's port storage (no call into C++), so
/// [`set`](Self::set), [`get`](Self::get), [`eval`](Self::eval) and [`tick`](Self::tick) do not
/// allocate. Not `Send`: use a model from the thread that created it.
pub struct VerilatedModel {
    handle: *mut c_void,
    eval_fn: HandleFn,
    slots: Vec<Slot>,
    model: CompiledModel,
    tracing: bool,
    /// The open VCD: `(temporary file written, final path)`; renamed into place on a clean
    /// close (`None` temporary: a device or pipe written in place).
    vcd: Option<(Option<PathBuf>, PathBuf)>,
    dirty: bool,
    cycle: u64,
}

impl std::fmt::Debug for VerilatedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerilatedModel")
            .field("model", &self.model)
            .field("cycle", &self.cycle)
            .field("tracing", &self.tracing)
            .finish()
    }
}

impl Drop for VerilatedModel {
    fn drop(&mut self) {
        // Finish a VCD still open (renamed into place if it was written completely).
        let _ = self.close_vcd();
        // SAFETY: handle came from `create` and is destroyed once; the library outlives it
        // because `self.model` is dropped after this.
        unsafe { (self.model.inner.api.destroy)(self.handle) }
    }
}

fn sign_extend(v: u64, width: u32) -> i64 {
    if width >= 64 || width == 0 {
        v as i64
    } else {
        let s = 64 - width;
        ((v << s) as i64) >> s
    }
}

impl VerilatedModel {
    /// Build (or load from the cache) module `top` of `verilog` and create one instance.
    pub fn build(verilog: &str, top: &str, opts: &BuildOptions) -> Result<Self, SimError> {
        CompiledModel::compile(verilog, top, opts)?.instantiate()
    }

    /// The compiled design this instance belongs to (for more instances, the hash, the outcome).
    pub fn compiled(&self) -> &CompiledModel {
        &self.model
    }

    /// Whether the library was built for this call or found in the cache.
    pub fn outcome(&self) -> BuildOutcome {
        self.model.outcome()
    }

    /// Ports of the top module, in header order ([`PortId`] indexes this slice).
    pub fn ports(&self) -> &[Port] {
        self.model.ports()
    }

    /// The port called `name`.
    pub fn port(&self, name: &str) -> Option<PortId> {
        self.ports().iter().position(|p| p.name == name).map(PortId)
    }

    /// The port called `name`, or [`SimError::NoSuchPort`].
    pub fn port_id(&self, name: &str) -> Result<PortId, SimError> {
        self.port(name)
            .ok_or_else(|| SimError::NoSuchPort(name.to_string()))
    }

    /// Description of a port.
    ///
    /// # Panics
    /// If `id` does not come from a model with at least as many ports.
    pub fn port_info(&self, id: PortId) -> &Port {
        &self.ports()[id.0]
    }

    /// Fast unchecked write of the low 64 bits of a port (wider ports: upper words are zeroed).
    /// The value is silently masked to the port width; the direction is not checked (writing
    /// an output has no lasting effect). Use [`try_set`](Self::try_set) for a checked write.
    ///
    /// # Panics
    /// If `id` does not come from a model with at least as many ports.
    #[inline]
    pub fn set(&mut self, id: PortId, value: u64) {
        let slot = self.slots[id.0];
        let v = value & slot.mask;
        // SAFETY: `ptr` points to Verilator's storage of this port, of the size given by
        // `kind`, valid while `handle` lives; nothing else accesses it concurrently.
        unsafe {
            match slot.kind {
                Kind::U8 => *slot.ptr = v as u8,
                Kind::U16 => *slot.ptr.cast::<u16>() = v as u16,
                Kind::U32 => *slot.ptr.cast::<u32>() = v as u32,
                Kind::U64 => *slot.ptr.cast::<u64>() = v,
                Kind::Wide(n) => {
                    let p = slot.ptr.cast::<u32>();
                    *p = v as u32;
                    *p.add(1) = (v >> 32) as u32;
                    for k in 2..n as usize {
                        *p.add(k) = 0;
                    }
                }
            }
        }
        self.dirty = true;
    }

    /// Read the low 64 bits of a port (inputs read back what was set).
    ///
    /// # Panics
    /// If `id` does not come from a model with at least as many ports.
    #[inline]
    pub fn get(&self, id: PortId) -> u64 {
        let slot = self.slots[id.0];
        // SAFETY: as in `set`.
        let v = unsafe {
            match slot.kind {
                Kind::U8 => u64::from(*slot.ptr),
                Kind::U16 => u64::from(*slot.ptr.cast::<u16>()),
                Kind::U32 => u64::from(*slot.ptr.cast::<u32>()),
                Kind::U64 => *slot.ptr.cast::<u64>(),
                Kind::Wide(_) => {
                    let p = slot.ptr.cast::<u32>();
                    u64::from(*p) | (u64::from(*p.add(1)) << 32)
                }
            }
        };
        v & slot.mask
    }

    /// Read a port of at most 64 bits as a signed value (sign-extended from the port width).
    /// Wider ports give their low 64 bits.
    #[inline]
    pub fn get_signed(&self, id: PortId) -> i64 {
        sign_extend(self.get(id), self.port_info(id).width)
    }

    fn check_input(&self, id: PortId) -> Result<&Port, SimError> {
        let p = self
            .ports()
            .get(id.0)
            .ok_or_else(|| SimError::NoSuchPort(format!("#{}", id.0)))?;
        if p.direction != Direction::Input {
            return Err(SimError::WrongDirection {
                port: p.name.clone(),
                actual: p.direction,
                expected: Direction::Input,
            });
        }
        Ok(p)
    }

    /// Checked write of an unsigned value: the port must be an input and the value must fit in
    /// its width (`0..=2^width-1`), else a typed error naming the port and the allowed range.
    pub fn try_set(&mut self, id: PortId, value: u64) -> Result<(), SimError> {
        let p = self.check_input(id)?;
        if value & !p.mask64() != 0 {
            return Err(SimError::ValueOutOfRange {
                port: p.name.clone(),
                width: p.width,
                value: value.to_string(),
                min: "0".into(),
                max: p.mask64().to_string(),
            });
        }
        // SAFETY: id checked above; handle is live.
        unsafe { (self.model.inner.api.set_u64)(self.handle, id.0 as u32, value) };
        self.dirty = true;
        Ok(())
    }

    /// Checked write of a signed value to a port of at most 64 bits: the value must lie in
    /// `-2^(width-1)..=2^(width-1)-1`; it is stored in two's complement.
    pub fn try_set_signed(&mut self, id: PortId, value: i64) -> Result<(), SimError> {
        let p = self.check_input(id)?;
        let w = p.width;
        if w > 64 {
            return Err(SimError::PortTooWide {
                port: p.name.clone(),
                width: w,
                max: 64,
            });
        }
        let (min, max) = if w == 64 {
            (i64::MIN, i64::MAX)
        } else {
            (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1)
        };
        if value < min || value > max {
            return Err(SimError::ValueOutOfRange {
                port: p.name.clone(),
                width: w,
                value: value.to_string(),
                min: min.to_string(),
                max: max.to_string(),
            });
        }
        self.set(id, value as u64);
        Ok(())
    }

    /// Checked write of a value of any width as 32-bit words, least significant first. Missing
    /// words are zero; bits beyond the width must be zero.
    pub fn set_wide(&mut self, id: PortId, words: &[u32]) -> Result<(), SimError> {
        let p = self.check_input(id)?;
        let n = p.words();
        let top_bits = p.width % 32;
        let excess = words.iter().skip(n).any(|&w| w != 0)
            || (top_bits != 0 && words.get(n - 1).is_some_and(|&w| w >> top_bits != 0));
        if excess {
            return Err(SimError::ValueOutOfRange {
                port: p.name.clone(),
                width: p.width,
                value: words_hex(words),
                min: "0".into(),
                max: format!("2^{}-1", p.width),
            });
        }
        let len = words.len().min(n) as u32;
        // SAFETY: id checked; `words` has at least `len` elements.
        unsafe { (self.model.inner.api.set_words)(self.handle, id.0 as u32, words.as_ptr(), len) };
        self.dirty = true;
        Ok(())
    }

    /// Read a port of any width into `out` as 32-bit words, least significant first (words past
    /// the width are zero, extra port words are dropped). Does not allocate.
    ///
    /// # Panics
    /// If `id` does not come from a model with at least as many ports.
    pub fn read_wide(&self, id: PortId, out: &mut [u32]) {
        assert!(id.0 < self.slots.len(), "port id out of range");
        // SAFETY: id checked; `out` is writable for `out.len()` words.
        unsafe {
            (self.model.inner.api.get_words)(
                self.handle,
                id.0 as u32,
                out.as_mut_ptr(),
                out.len() as u32,
            )
        };
    }

    /// Read a port of any width as `ceil(width/32)` words, least significant first.
    ///
    /// # Panics
    /// If `id` does not come from a model with at least as many ports.
    pub fn get_wide(&self, id: PortId) -> Vec<u32> {
        let mut v = vec![0; self.port_info(id).words()];
        self.read_wide(id, &mut v);
        v
    }

    /// Write a port of at most 128 bits (checked like [`set_wide`](Self::set_wide)).
    pub fn set_u128(&mut self, id: PortId, value: u128) -> Result<(), SimError> {
        let words: [u32; 4] = std::array::from_fn(|k| (value >> (32 * k)) as u32);
        self.set_wide(id, &words)
    }

    /// Read the low 128 bits of a port.
    ///
    /// # Panics
    /// If `id` does not come from a model with at least as many ports.
    pub fn get_u128(&self, id: PortId) -> u128 {
        if self.port_info(id).width <= 64 {
            return u128::from(self.get(id));
        }
        let mut w = [0u32; 4];
        self.read_wide(id, &mut w);
        w.iter()
            .enumerate()
            .fold(0u128, |acc, (k, &x)| acc | (u128::from(x) << (32 * k)))
    }

    /// Read the low 64 bits of a port by name through the C ABI (for status registers and
    /// debugging; slower than [`get`](Self::get)).
    pub fn peek(&self, name: &str) -> Result<u64, SimError> {
        let id = self.port_id(name)?;
        // SAFETY: id comes from this model; handle is live.
        Ok(unsafe { (self.model.inner.api.get_u64)(self.handle, id.0 as u32) })
    }

    /// Evaluate the model (settle combinational logic, run triggered processes).
    #[inline]
    pub fn eval(&mut self) {
        // SAFETY: handle is live.
        unsafe { (self.eval_fn)(self.handle) };
        self.dirty = false;
    }

    /// One clock cycle, finishing the current one (see the crate's cycle convention):
    /// evaluate if inputs changed since the last [`eval`](Self::eval), dump the VCD at
    /// `10 * cycle`, raise `clock` and evaluate (rising edge), dump at `10 * cycle + 5`, then
    /// lower `clock` (evaluated with the next cycle's inputs). Does not allocate.
    #[inline]
    pub fn tick(&mut self, clock: PortId) {
        if self.get(clock) != 0 {
            self.set(clock, 0);
        }
        if self.dirty {
            self.eval();
        }
        if self.tracing {
            self.dump(CYCLE_TIME * self.cycle);
        }
        self.set(clock, 1);
        self.eval();
        if self.tracing {
            self.dump(CYCLE_TIME * self.cycle + CYCLE_TIME / 2);
        }
        self.set(clock, 0);
        self.cycle += 1;
    }

    fn dump(&mut self, time: u64) {
        // SAFETY: handle is live.
        unsafe { (self.model.inner.api.trace_dump)(self.handle, time) };
    }

    /// Number of [`tick`](Self::tick)s so far.
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// Start writing a VCD waveform to `path` (needs [`BuildOptions::trace`]). Each following
    /// [`tick`](Self::tick) dumps two time steps; a cycle is [`CYCLE_TIME`] units.
    pub fn open_vcd(&mut self, path: impl AsRef<Path>) -> Result<(), SimError> {
        if !self.model.has_trace() {
            return Err(SimError::TraceNotEnabled);
        }
        self.close_vcd()?;
        let path = path.as_ref();
        // A regular file is written under a temporary name in its directory and renamed into
        // place by a clean `close_vcd`; a device or a pipe is written in place.
        let special = path.exists() && !path.is_file() && !path.is_dir();
        let write_to = if special {
            path.to_path_buf()
        } else {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let name = path
                .file_name()
                .map_or_else(|| "vcd".into(), |n| n.to_string_lossy().into_owned());
            dir.join(format!(".moca-tmp-{}-{name}", std::process::id()))
        };
        // Verilator aborts the process if it cannot open the file: check first.
        std::fs::OpenOptions::new()
            .write(true)
            .create(!special)
            .truncate(!special)
            .open(&write_to)
            .map_err(|e| SimError::io(format!("creating VCD file {}", path.display()), e))?;
        let c = CString::new(write_to.as_os_str().as_encoded_bytes()).map_err(|_| {
            SimError::io(
                format!("VCD path {}", path.display()),
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains NUL"),
            )
        })?;
        // SAFETY: handle is live; `c` is a NUL-terminated string that outlives the call.
        let rc = unsafe { (self.model.inner.api.trace_open)(self.handle, c.as_ptr()) };
        match rc {
            0 => {
                self.tracing = true;
                self.vcd = Some(((!special).then_some(write_to), path.to_path_buf()));
                Ok(())
            }
            -1 => Err(SimError::TraceNotEnabled),
            _ => Err(SimError::io(
                format!("opening VCD file {}", path.display()),
                std::io::Error::other(format!("Verilator trace open returned {rc}")),
            )),
        }
    }

    /// The first error writing the open VCD (a full disk, ...), if any. The rest of the
    /// waveform is dropped after an error, and [`close_vcd`](Self::close_vcd) reports it.
    pub fn vcd_error(&self) -> Option<std::io::Error> {
        if !self.tracing {
            return None;
        }
        // SAFETY: handle is live.
        let e = unsafe { (self.model.inner.api.trace_error)(self.handle) };
        (e != 0).then(|| std::io::Error::from_raw_os_error(e))
    }

    /// Flush and close the VCD file, if one is open, and move it to its final name. A write
    /// error (a full disk, ...) is returned, and then no file is left at the final name (a
    /// device or a pipe keeps what it received).
    pub fn close_vcd(&mut self) -> Result<(), SimError> {
        if !self.tracing {
            return Ok(());
        }
        // SAFETY: handle is live.
        unsafe { (self.model.inner.api.trace_close)(self.handle) };
        self.tracing = false;
        // SAFETY: handle is live.
        let err = unsafe { (self.model.inner.api.trace_error)(self.handle) };
        let Some((tmp, path)) = self.vcd.take() else {
            return Ok(());
        };
        let ctx = format!("writing VCD file {}", path.display());
        if err != 0 {
            if let Some(t) = &tmp {
                let _ = std::fs::remove_file(t);
            }
            return Err(SimError::io(ctx, std::io::Error::from_raw_os_error(err)));
        }
        if let Some(t) = tmp {
            let done = std::fs::File::open(&t)
                .and_then(|f| f.sync_all())
                .and_then(|()| std::fs::rename(&t, &path));
            if let Err(e) = done {
                let _ = std::fs::remove_file(&t);
                return Err(SimError::io(ctx, e));
            }
        }
        Ok(())
    }

    /// Run the model's `final` blocks (done at drop otherwise; runs once).
    pub fn finish(&mut self) {
        // SAFETY: handle is live.
        unsafe { (self.model.inner.api.final_)(self.handle) };
    }

    /// Whether the design executed `$finish`.
    pub fn got_finish(&self) -> bool {
        // SAFETY: handle is live.
        unsafe { (self.model.inner.api.got_finish)(self.handle) != 0 }
    }

    /// Replay a recorded stimulus following the cycle convention and return the outputs sampled
    /// each cycle, in the layout of [`ReplayLayout`] (same as [`crate::iverilog::replay`]).
    pub fn replay(&mut self, clock: &str, rows: &[Vec<u128>]) -> Result<Vec<Vec<u128>>, SimError> {
        let layout = ReplayLayout::new(self.ports(), clock)?;
        layout.check(self.ports(), rows)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            for (&id, &v) in layout.inputs.iter().zip(row) {
                self.set_u128(id, v)?;
            }
            self.eval();
            out.push(layout.outputs.iter().map(|&id| self.get_u128(id)).collect());
            self.tick(layout.clock);
        }
        Ok(out)
    }
}

fn words_hex(words: &[u32]) -> String {
    let mut s = String::from("0x");
    for w in words.iter().rev() {
        s.push_str(&format!("{w:08x}"));
    }
    s
}

//! Hostile input, full disks and killed runs (issue 13, docs/RELIABILITY.md).
//!
//! [`CASES`] is the table of bad inputs: one line per case, the arguments (`@name` is a fixture
//! file written by [`fixtures`], `@out` a fresh directory path that does not exist yet), the
//! expected exit code and a substring the message (stderr, then stdout) must contain. Every
//! case must also finish, print no panic, and leave `@out` uncreated. The other tests cover what
//! a table cannot: a full disk, killed runs, `--force`, a hanging VCD writer.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `(arguments, exit code, substring of the message)`.
type Case = (&'static [&'static str], i32, &'static str);

#[rustfmt::skip]
const CASES: &[Case] = &[
    // One range sentence for every block flag, whatever the subcommand.
    (&["gen", "--block", "arbiter", "--ports", "17", "-o", "@out"], 2, "ports=17 is out of range: allowed 1..=16"),
    (&["gen", "--block", "soc", "--dim", "1", "-o", "@out"], 2, "dim=1 is out of range: allowed 2..=16"),
    (&["gen", "--block", "soc", "--tiles", "0", "-o", "@out"], 2, "tiles=0 is out of range: allowed 1..=16"),
    (&["lint", "--block", "arbiter", "--ports", "x"], 2, "ports=x is out of range: allowed 1..=16"),
    (&["prove", "--block", "arbiter", "--ports", "0"], 2, "ports=0 is out of range: allowed 1..=16"),
    (&["cosim", "--block", "arbiter", "--ports", "17"], 2, "ports=17 is out of range: allowed 1..=16"),
    (&["cosim", "--block", "soc", "--gemm", "4x4x4", "--tiles", "17"], 2, "tiles=17 is out of range: allowed 1..=16"),
    (&["effect", "--dim", "1"], 2, "dim=1 is out of range: allowed 2..=16"),
    (&["effect", "--latency", "0"], 2, "latency=0 is out of range: allowed 1..=1024"),
    (&["rate", "--setting", "1:5"], 2, "WINDOW=1 is out of range: allowed 0 (off) or 2..=65535"),
    // Flags that used to be silently ignored.
    (&["cosim", "--block", "soc", "--gemm", "4x4x4", "--cycles", "10"], 2, "--cycles does not apply to --block soc"),
    (&["calibrate", "--dim", "4"], 2, "--dim applies to --against soc only"),
    (&["calibrate", "--latency", "8"], 2, "--latency applies to --against soc only"),
    (&["calibrate", "--against", "soc", "--layers", "@bom.csv"], 2, "--layers does not apply to --against soc"),
    (&["calibrate", "--against", "soc", "--dim", "1"], 2, "dim=1 is out of range: allowed 2..=16"),
    // An unwritable --vcd is refused before the run.
    (&["cosim", "--block", "throttle", "--cycles", "10", "--vcd", "/nonexistent/x.vcd"], 2, "does not exist"),
    (&["cosim", "--block", "throttle", "--cycles", "10", "--vcd", "/proc/moca.vcd"], 2, "cannot create a file in /proc"),
    // Every error of run, sweep, runtime and calibrate is a usage error.
    (&["run", "--policy", "nosuch"], 2, "unknown policy"),
    (&["run", "--set", "Z", "--tasks", "5"], 2, "unknown workload set `Z`"),
    (&["run", "--qos", "Q", "--tasks", "5"], 2, "unknown QoS level `Q`"),
    (&["run", "--tasks", "0"], 2, "task count 0 is out of range"),
    (&["run", "--config", "/nonexistent.toml"], 2, "/nonexistent.toml: cannot read: No such file"),
    (&["runtime", "--network", "nosuch", "--layer", "0"], 2, "unknown network `nosuch`"),
    (&["runtime", "--network", "resnet50", "--layer", "999"], 2, "layer=999 is out of range: allowed 0..=53"),
    (&["runtime", "--network", "resnet50", "--layer", "0", "--priority", "12"], 2, "priority=12 is out of range: allowed 0..=11"),
    (&["runtime", "--network", "resnet50", "--layer", "0", "--co-runner", "alexnet:5:12"], 2, "priority=12 is out of range: allowed 0..=11"),
    (&["runtime", "--network", "resnet50", "--layer", "0", "--co-runner", "alexnet:x"], 2, "layer `x` is not a number"),
    (&["runtime", "--network", "resnet50", "--layer", "0", "--tiles", "9"], 2, "tiles=9 is out of range: allowed 1..=8"),
    (&["runtime", "--network", "resnet50", "--layer", "0", "--qos", "Q"], 2, "unknown QoS level `Q`"),
    (&["sweep", "--seeds", "1", "--tasks", "0", "--out", "@out"], 2, "task count 0 is out of range"),
    // Unbounded work is bounded; overflow is refused, never wrapped.
    (&["sweep", "--seeds", "0", "--out", "@out"], 2, "seeds=0 is out of range: allowed 1..=10000"),
    (&["sweep", "--seeds", "18446744073709551615", "--out", "@out"], 2, "seeds=18446744073709551615 is out of range"),
    (&["sweep", "--seeds", "1000000000000", "--out", "@out"], 2, "allowed 1..=10000"),
    (&["sweep", "--seeds", "2", "--first-seed", "18446744073709551615", "--out", "@out"], 2, "first-seed=18446744073709551615 is out of range: allowed 0..=18446744073709551614"),
    (&["sweep", "--jobs", "10000", "--out", "@out"], 2, "jobs=10000 is out of range: allowed 1..=256"),
    (&["sweep", "--jobs", "0", "--out", "@out"], 2, "jobs=0 is out of range: allowed 1..=256"),
    (&["run", "--config", "@jitter.toml"], 2, "scheduler.dispatch_jitter_step`: 1152921504606846976 is out of range 0..=68719476736"),
    (&["run", "--config", "@sp.toml"], 2, "scheduler.sp_cycles`: entry 0 = 4000000000000000000 is out of range"),
    (&["run", "--layers", "@huge.csv", "--tasks", "3"], 2, "more than 2^48"),
    (&["runtime", "--layers", "@bigconv.csv", "--network", "alexnet", "--layer", "0"], 2, "more than 2^48"),
    // Nonsense is refused with a message naming it.
    (&["run", "--config", "@dupnet.toml"], 2, "`alexnet` is listed twice"),
    (&["run", "--config", "@noqos.toml"], 2, "scheduler.target_scale`: needs at least one QoS level"),
    (&["run", "--layers", "@extra.csv", "--tasks", "3"], 2, "unknown column `extra`"),
    (&["run", "--layers", "@dupcol.csv", "--tasks", "3"], 2, "column `K` appears twice"),
    (&["run", "--layers", "@nonint.csv", "--tasks", "3"], 2, "field `J`: `x` is not a non-negative integer"),
    (&["run", "--layers", "@short.csv", "--tasks", "3"], 2, "3 fields, the header has 16"),
    // What is valid works: a BOM and quoted names are read as a spreadsheet writes them.
    (&["run", "--layers", "@bom.csv", "--tasks", "3"], 0, "SLA satisfaction"),
    (&["run", "--layers", "@quoted.csv", "--tasks", "3"], 0, "SLA satisfaction"),
    // `moca --help` advertises only commands that exist.
    (&["--help"], 0, "moca rate --setting 100:25"),
];

const HEADER: &str = "network,layer,op,in_dim,in_channels,out_channels,out_dim,kernel,stride,padding,I,J,K,pool_size,pool_stride,out_dim_pooled";
const TOML: &str = include_str!("../data/moca-artifact.toml");
const LAYERS: &str = include_str!("../data/layers.csv");

/// alexnet's rows of the embedded layer CSV (a valid replacement of that network).
fn alexnet_rows() -> String {
    LAYERS
        .lines()
        .filter(|l| l.starts_with("alexnet,"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Write the fixture files of [`CASES`] into `dir`.
fn fixtures(dir: &Path) {
    let alex = alexnet_rows();
    let w = |name: &str, text: String| std::fs::write(dir.join(name), text).unwrap();
    w(
        "jitter.toml",
        TOML.replace(
            "dispatch_jitter_step = 45000",
            "dispatch_jitter_step = 1152921504606846976",
        ),
    );
    w(
        "sp.toml",
        TOML.replace(
            "sp_cycles = [15070506,",
            "sp_cycles = [4000000000000000000,",
        ),
    );
    w(
        "dupnet.toml",
        TOML.replace(
            "\"googlenet\", \"squeezenet\"",
            "\"alexnet\", \"squeezenet\"",
        ),
    );
    w(
        "noqos.toml",
        TOML.replace(
            "target_scale = { H = 0.8, M = 1.0, L = 1.2 }",
            "target_scale = {}",
        ),
    );
    w("bom.csv", format!("\u{feff}{HEADER}\n{alex}"));
    w(
        "quoted.csv",
        format!("{HEADER}\n{}", alex.replace("alexnet,", "\"alexnet\",")),
    );
    w("extra.csv", format!("{HEADER},extra\n"));
    w("dupcol.csv", format!("{HEADER},K\n"));
    w(
        "nonint.csv",
        format!("{HEADER}\nalexnet,0,matmul,,,,,,,,4,x,4,,,\n"),
    );
    w("short.csv", format!("{HEADER}\nalexnet,0,matmul\n"));
    w(
        "huge.csv",
        format!("{HEADER}\nalexnet,0,matmul,,,,,,,,1048576,1048576,1048576,,,\n"),
    );
    w(
        "bigconv.csv",
        format!("{HEADER}\nalexnet,0,conv,1048576,1048576,1048576,1048576,1,1,0,,,,,,\n"),
    );
}

fn moca() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_moca"));
    c.stdin(Stdio::null());
    c
}

/// Run `cmd` to completion, killing it (and failing) after `limit`.
fn run_bounded(mut cmd: Command, limit: Duration, what: &str) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run moca");
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?} (a hang)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    )
}

#[test]
fn every_bad_input_exits_2_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    fixtures(dir.path());
    let mut failures = Vec::new();
    for (i, (args, code, want)) in CASES.iter().enumerate() {
        let out = dir.path().join(format!("out{i}"));
        let args: Vec<String> = args
            .iter()
            .map(|a| match a.strip_prefix('@') {
                Some("out") => out.display().to_string(),
                Some(f) => dir.path().join(f).display().to_string(),
                None => a.to_string(),
            })
            .collect();
        let mut cmd = moca();
        cmd.args(&args);
        let o = run_bounded(cmd, Duration::from_secs(120), &args.join(" "));
        let t = text(&o);
        let ok = o.status.code() == Some(*code)
            && t.contains(want)
            && !t.contains("panicked")
            && !out.exists();
        if !ok {
            failures.push(format!(
                "moca {}: exit {:?} (want {code}), message should contain {want:?}{}:\n{t}",
                args.join(" "),
                o.status.code(),
                if out.exists() {
                    ", and @out was created"
                } else {
                    ""
                }
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn a_missing_file_is_named_once_with_its_cause_once() {
    let o = moca()
        .args(["run", "--config", "/nonexistent.toml"])
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(t.matches("os error 2").count(), 1, "{t}");
}

/// Run `moca args` with writes limited to `bytes` per file (`RLIMIT_FSIZE`, SIGXFSZ ignored):
/// for moca this is a disk that fills up after `bytes` bytes.
fn with_small_disk(args: &[&str], bytes: u64) -> Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = moca();
    cmd.args(args);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    run_bounded(cmd, Duration::from_secs(300), &args.join(" "))
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

const SWEEP_FILES: [&str; 11] = [
    "bandwidth.csv",
    "bandwidth.png",
    "bandwidth.svg",
    "fairness.png",
    "fairness.svg",
    "runs.csv",
    "sla.png",
    "sla.svg",
    "stp.png",
    "stp.svg",
    "summary.md",
];

fn sweep_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "sweep", "--seeds", "1", "--tasks", "6", "--jobs", "2", "--quiet", "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(out.display().to_string());
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[test]
fn full_disk_leaves_no_truncated_file_and_the_old_results_intact() {
    let dir = tempfile::tempdir().unwrap();
    // A new directory: nothing is left behind.
    let out = dir.path().join("new");
    let a = sweep_args(&out, &[]);
    let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
    let o = with_small_disk(&a, 2048);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("cannot write"), "{}", text(&o));
    assert!(!out.exists(), "{:?}", names(&out));
    // An earlier sweep replaced with --force on a full disk: the earlier files stay whole.
    let old = dir.path().join("old");
    let o = moca().args(sweep_args(&old, &[])).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let before: Vec<Vec<u8>> = SWEEP_FILES
        .iter()
        .map(|f| std::fs::read(old.join(f)).unwrap())
        .collect();
    let a = sweep_args(&old, &["--force", "--first-seed", "2"]);
    let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
    let o = with_small_disk(&a, 2048);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(names(&old), SWEEP_FILES);
    for (f, b) in SWEEP_FILES.iter().zip(&before) {
        assert_eq!(&std::fs::read(old.join(f)).unwrap(), b, "{f} changed");
    }
    // moca gen: no truncated Verilog.
    let rtl = dir.path().join("rtl");
    let o = with_small_disk(
        &["gen", "--block", "throttle", "-o", rtl.to_str().unwrap()],
        1024,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(names(&rtl).is_empty(), "{:?}", names(&rtl));
}

#[test]
fn sweep_refuses_a_non_empty_directory_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("res");
    let o = moca().args(sweep_args(&out, &[])).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(names(&out), SWEEP_FILES);
    let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let o = moca()
        .args(sweep_args(&out, &["--first-seed", "7"]))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--force"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(out.join("runs.csv")).unwrap(), runs);
    let o = moca()
        .args(sweep_args(&out, &["--first-seed", "7", "--force"]))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let new = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    assert!(new != runs && new.contains(",7,"), "{new}");
    assert_eq!(names(&out), SWEEP_FILES);
}

#[test]
fn killed_runs_leave_whole_files_and_their_leftovers_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let out: PathBuf = dir.path().join("res");
    // Kill sweeps at different moments: whatever is in the directory afterwards is complete.
    for delay_ms in [50u64, 200, 600] {
        let mut child = moca()
            .args(sweep_args(&out, &["--force"]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        for f in names(&out) {
            if f.starts_with(".moca-tmp-") {
                continue;
            }
            if f == "runs.csv" {
                let t = std::fs::read_to_string(out.join(&f)).unwrap();
                assert_eq!(t.lines().count(), 1 + 36, "truncated runs.csv:\n{t}");
            }
            if f.ends_with(".svg") {
                let t = std::fs::read_to_string(out.join(&f)).unwrap();
                assert!(t.trim_end().ends_with("</svg>"), "truncated {f}");
            }
        }
    }
    // Temporary files of a killed run do not make the directory "non-empty", and the next run
    // removes them.
    let fresh = dir.path().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    std::fs::write(fresh.join(".moca-tmp-1-abc"), "half a file").unwrap();
    let o = moca().args(sweep_args(&fresh, &[])).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(names(&fresh), SWEEP_FILES);
}

#[test]
fn a_vcd_on_a_full_disk_fails_instead_of_hanging() {
    let o = run_bounded(
        {
            let mut c = moca();
            c.args([
                "cosim",
                "--block",
                "throttle",
                "--cycles",
                "20000",
                "--seed",
                "1",
                "--vcd",
                "/dev/full",
            ]);
            c
        },
        Duration::from_secs(300),
        "cosim --vcd /dev/full",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("/dev/full") && text(&o).contains("No space left on device"),
        "{}",
        text(&o)
    );
}

#[test]
fn small_throttle_targets_are_regulated_without_a_warning() {
    // The throttle's contract holds for every TARGET >= 1 (docs/THROTTLE.md): settings that
    // used to be unstable are now accepted, regulated and co-simulated without a warning.
    for args in [
        &[
            "cosim", "--block", "throttle", "--target", "5", "--cycles", "100", "--seed", "1",
        ][..],
        &[
            "cosim",
            "--block",
            "soc",
            "--tiles",
            "2",
            "--dim",
            "4",
            "--gemm",
            "8x12x8,5x3x9",
            "--throttle",
            "0:100:5",
            "--seed",
            "3",
        ][..],
        &["rate", "--setting", "100:5", "--windows", "10"][..],
    ] {
        let o = run_bounded(
            {
                let mut c = moca();
                c.args(args);
                c
            },
            Duration::from_secs(300),
            &args.join(" "),
        );
        assert!(o.status.success(), "{}", text(&o));
        let t = text(&o);
        assert!(!t.contains("warning"), "{}: {t}", args.join(" "));
    }
}

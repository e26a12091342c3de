//! Verilator binding: build, cache, set/get, initial values, wide values, VCD, isolation.

mod common;

use common::*;
use sim::{BuildOptions, BuildOutcome, CompiledModel, Direction, SimError, VerilatedModel};

#[test]
fn ports_of_built_model() {
    let m = build(COUNTER, &BuildOptions::default());
    let names: Vec<_> = m.ports().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["clock", "en", "load", "d", "q", "wrap"]);
    let q = m.port("q").unwrap();
    assert_eq!(m.port_info(q).width, 8);
    assert_eq!(m.port_info(q).direction, Direction::Output);
    assert!(m.port("nope").is_none());
    assert!(matches!(m.port_id("nope"), Err(SimError::NoSuchPort(n)) if n == "nope"));
}

#[test]
fn counter_set_get_and_cycle_convention() {
    let mut m = build(COUNTER, &BuildOptions::default());
    let [clock, en, load, d, q, wrap] =
        ["clock", "en", "load", "d", "q", "wrap"].map(|n| m.port_id(n).unwrap());
    assert_eq!(m.get(q), 0, "initial value");
    // Load 0xfe: outputs of this cycle still show the current register.
    m.set(load, 1);
    m.set(d, 0xfe);
    m.eval();
    assert_eq!(m.get(q), 0);
    assert_eq!(m.get(d), 0xfe, "inputs read back");
    m.tick(clock);
    m.set(load, 0);
    m.set(en, 1);
    m.eval();
    assert_eq!(m.get(q), 0xfe);
    assert_eq!(m.get(wrap), 0);
    m.tick(clock);
    m.eval();
    assert_eq!(m.get(q), 0xff);
    assert_eq!(
        m.get(wrap),
        1,
        "combinational output settles before the edge"
    );
    m.tick(clock);
    assert_eq!(m.get(q), 0, "wraps");
    // tick without an explicit eval still applies changed inputs before the edge.
    m.set(en, 0);
    m.tick(clock);
    m.tick(clock);
    assert_eq!(m.get(q), 0);
    assert_eq!(m.cycle(), 5);
    assert_eq!(m.peek("q").unwrap(), 0);
    // Unchecked set masks to the width.
    m.set(d, 0x1ff);
    assert_eq!(m.get(d), 0xff);
    assert!(!m.got_finish());
}

#[test]
fn checked_set_errors() {
    let mut m = build(COUNTER, &BuildOptions::default());
    let d = m.port_id("d").unwrap();
    let q = m.port_id("q").unwrap();
    m.try_set(d, 255).unwrap();
    assert_eq!(m.get(d), 255);
    let e = m.try_set(d, 256).unwrap_err();
    assert!(matches!(e, SimError::ValueOutOfRange { ref port, width: 8, .. } if port == "d"));
    assert!(e.to_string().contains("0..=255"), "{e}");
    let e = m.try_set(q, 1).unwrap_err();
    assert!(matches!(e, SimError::WrongDirection { .. }), "{e}");
    let e = m.try_set_signed(d, 128).unwrap_err();
    assert!(e.to_string().contains("-128..=127"), "{e}");
    m.try_set_signed(d, -1).unwrap();
    assert_eq!(m.get(d), 0xff);
    let e = m.set_wide(d, &[0x100]).unwrap_err();
    assert!(matches!(e, SimError::ValueOutOfRange { .. }), "{e}");
}

#[test]
fn initial_blocks_and_zero_init() {
    let mut m = build(INITIALS, &BuildOptions::default());
    let [clock, a, b, c] = ["clock", "a", "b", "c"].map(|n| m.port_id(n).unwrap());
    assert_eq!(m.get(a), 0xa5);
    assert_eq!(m.get(b), 0xfffd);
    assert_eq!(m.get_signed(b), -3);
    assert_eq!(m.get(c), 0, "no initial block: starts at 0 (--x-initial 0)");
    m.tick(clock);
    assert_eq!(m.get(a), 0xa6);
    assert_eq!(m.get(c), 1);
    // A second instance of the same library is independent and starts fresh.
    let m2 = m.compiled().instantiate().unwrap();
    assert_eq!(m2.get(a), 0xa5);
    assert_eq!(m.get(a), 0xa6);
}

#[test]
fn wide_and_signed_round_trips() {
    let mut m = build(WIDE, &BuildOptions::default());
    let [clock, a, s, y, t, neg, w65] =
        ["clock", "a", "s", "y", "t", "neg", "w65"].map(|n| m.port_id(n).unwrap());
    assert!(m.port_info(s).signed);
    assert_eq!(m.port_info(a).width, 128);
    let val: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
    m.set_u128(a, val).unwrap();
    m.try_set_signed(s, -5).unwrap();
    m.eval();
    assert_eq!(m.get_u128(a), val);
    assert_eq!(
        m.get_wide(a),
        vec![0x7654_3210, 0xfedc_ba98, 0x89ab_cdef, 0x0123_4567]
    );
    assert_eq!(m.get(s), (1 << 25) - 5);
    assert_eq!(m.get_signed(s), -5);
    assert_eq!(m.get_signed(neg), 5);
    // w65 = {a[127], a[63:0]}
    assert_eq!(m.get_wide(w65), vec![0x7654_3210, 0xfedc_ba98, 0]);
    assert_eq!(m.get_u128(w65), val & u128::from(u64::MAX));
    assert_eq!(m.get(y), 0);
    m.tick(clock);
    let rot = val.rotate_left(64);
    assert_eq!(m.get_u128(y), rot);
    assert_eq!(m.get_signed(t), -5);
    m.tick(clock);
    assert_eq!(m.get_u128(y), 0);
    assert_eq!(m.get_signed(t), -10);
    // Extremes of the signed range.
    m.try_set_signed(s, -(1 << 24)).unwrap();
    m.eval();
    assert_eq!(m.get_signed(s), -(1 << 24));
    assert!(m.try_set_signed(s, 1 << 24).is_err());
    // Wide writes: top bit, and bits past the width rejected.
    m.set_wide(a, &[0, 0, 0, 0x8000_0000]).unwrap();
    m.eval();
    assert_eq!(m.get_wide(w65), vec![0, 0, 1]);
    assert!(m.set_wide(a, &[0, 0, 0, 0, 1]).is_err());
    let mut buf = [7u32; 6];
    m.read_wide(a, &mut buf);
    assert_eq!(buf, [0, 0, 0, 0x8000_0000, 0, 0]);
    // Unchecked set on a wide port zeroes the upper words.
    m.set(a, u64::MAX);
    assert_eq!(m.get_u128(a), u128::from(u64::MAX));
    assert!(
        m.try_set_signed(a, 1).is_err(),
        "signed writes are limited to 64 bits"
    );
}

#[test]
fn cache_hit_on_second_build_and_concurrent_builds() {
    let dir = fresh_dir("cache");
    let opts = BuildOptions {
        cache_dir: Some(dir.clone()),
        ..BuildOptions::default()
    };
    let first = compile(COUNTER, &opts);
    assert_eq!(first.outcome(), BuildOutcome::Built);
    assert!(first.library_path().starts_with(&dir));
    let mtime = std::fs::metadata(first.library_path())
        .unwrap()
        .modified()
        .unwrap();
    let second = compile(COUNTER, &opts);
    assert_eq!(second.outcome(), BuildOutcome::CacheHit);
    assert_eq!(first.hash(), second.hash());
    assert_eq!(
        std::fs::metadata(second.library_path())
            .unwrap()
            .modified()
            .unwrap(),
        mtime,
        "nothing rebuilt"
    );
    // A different flag is a different cache entry; the Verilog alone keys it too.
    let other = compile(&format!("{COUNTER}\n// variant\n"), &opts);
    assert_ne!(other.hash(), first.hash());
    // Two threads building the same new hash: one builds, the other waits and hits the cache.
    let v = format!("{COUNTER}\n// concurrent\n");
    let outcomes: Vec<BuildOutcome> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| s.spawn(|| compile(&v, &opts).outcome()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        outcomes
            .iter()
            .filter(|&&o| o == BuildOutcome::Built)
            .count(),
        1,
        "{outcomes:?}"
    );
    // Only finished entries are left: no temporary build directories.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn env_cache_dir_and_option_precedence() {
    let opts = BuildOptions {
        cache_dir: Some("/explicit".into()),
        ..BuildOptions::default()
    };
    assert_eq!(opts.cache_root(), std::path::PathBuf::from("/explicit"));
    let root = BuildOptions::default().cache_root();
    assert!(root.ends_with("moca-sim-cache"), "{}", root.display());
}

#[test]
fn two_models_with_the_same_top_name_at_once() {
    let mut a = build(COUNTER, &BuildOptions::default());
    let mut b = build(COUNTER_BY_3, &BuildOptions::default());
    assert_ne!(a.compiled().hash(), b.compiled().hash());
    let (ca, ea, qa) = (
        a.port_id("clock").unwrap(),
        a.port_id("en").unwrap(),
        a.port_id("q").unwrap(),
    );
    let (cb, eb, qb) = (
        b.port_id("clock").unwrap(),
        b.port_id("en").unwrap(),
        b.port_id("q").unwrap(),
    );
    a.set(ea, 1);
    b.set(eb, 1);
    for _ in 0..4 {
        a.tick(ca);
        b.tick(cb);
    }
    assert_eq!(a.get(qa), 4);
    assert_eq!(b.get(qb), 12);
    drop(a);
    b.tick(cb);
    assert_eq!(
        b.get(qb),
        15,
        "the other library still works after one is unloaded"
    );
}

#[test]
fn vcd_written_with_expected_signals() {
    let opts = BuildOptions {
        trace: true,
        ..BuildOptions::default()
    };
    let mut m = build(COUNTER, &opts);
    let dir = fresh_dir("vcd");
    let path = dir.join("counter.vcd");
    let (clock, en) = (m.port_id("clock").unwrap(), m.port_id("en").unwrap());
    m.open_vcd(&path).unwrap();
    m.set(en, 1);
    for _ in 0..20 {
        m.eval();
        m.tick(clock);
    }
    m.close_vcd().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.is_empty());
    for sig in ["clock", "en", "load", "d", "q", "wrap"] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with("$var")
                    && l.split_whitespace().any(|w| w == sig)),
            "signal {sig} missing from the VCD"
        );
    }
    for t in ["#0", "#5", "#10", "#195"] {
        assert!(text.lines().any(|l| l == t), "time {t} missing");
    }
    // Opening a VCD on a model built without trace is a typed error.
    let mut plain = build(COUNTER, &BuildOptions::default());
    assert!(matches!(
        plain.open_vcd(dir.join("x.vcd")),
        Err(SimError::TraceNotEnabled)
    ));
    // An unwritable path is an error, not an abort.
    assert!(m.open_vcd(dir.join("no/such/dir/x.vcd")).is_err());
    // A full disk is an error when the VCD is closed, not a hang in Verilator's writer
    // (5.006 deadlocks in its own error path): /dev/full accepts the open, refuses every write.
    m.open_vcd("/dev/full").unwrap();
    for _ in 0..5000 {
        m.eval();
        m.tick(clock);
    }
    assert!(m.vcd_error().is_some());
    let e = m.close_vcd().unwrap_err().to_string();
    assert!(
        e.contains("/dev/full") && e.contains("No space left"),
        "{e}"
    );
    // Nothing is left in the directory but the complete VCD.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["counter.vcd"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn damaged_cache_entry_is_rebuilt_and_other_users_get_their_own_cache() {
    let dir = std::env::temp_dir().join(format!("moca-damaged-cache-{}", std::process::id()));
    let opts = BuildOptions {
        cache_dir: Some(dir.clone()),
        ..BuildOptions::default()
    };
    let m = build(COUNTER, &opts);
    let lib = m.compiled().library_path().to_path_buf();
    drop(m);
    // A truncated library (a killed copy, a full disk): loading it would be SIGBUS.
    let len = std::fs::metadata(&lib).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&lib)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let mut m = build(COUNTER, &opts);
    assert_eq!(m.outcome(), sim::BuildOutcome::Built);
    let (clock, en, q) = (
        m.port_id("clock").unwrap(),
        m.port_id("en").unwrap(),
        m.port_id("q").unwrap(),
    );
    m.set(en, 1);
    m.tick(clock);
    assert_eq!(m.get(q), 1);
    drop(m);
    // An empty library too.
    std::fs::write(&lib, b"").unwrap();
    assert_eq!(build(COUNTER, &opts).outcome(), sim::BuildOutcome::Built);
    assert_eq!(build(COUNTER, &opts).outcome(), sim::BuildOutcome::CacheHit);
    std::fs::remove_dir_all(&dir).unwrap();
    // A cache root this user cannot write (below a file) falls back to a writable one.
    let ok = std::env::temp_dir().join(format!("moca-cache-fallback-{}", std::process::id()));
    let root = sim::verilator::first_writable(&["/dev/null/moca".into(), ok.clone()]);
    assert_eq!(root, ok);
    let root = sim::verilator::first_writable(&["/dev/null/moca".into()]);
    assert!(
        root.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("moca-sim-cache-"),
        "{}",
        root.display()
    );
    let _ = std::fs::remove_dir_all(&ok);
}

#[test]
fn missing_tools_tell_what_to_install() {
    let opts = BuildOptions {
        verilator: "/nonexistent/verilator".into(),
        ..BuildOptions::default()
    };
    let e = VerilatedModel::build(COUNTER, "top", &opts).unwrap_err();
    assert!(matches!(e, SimError::ToolMissing { .. }), "{e}");
    assert!(
        e.to_string().contains("apt-get install verilator g++ make"),
        "{e}"
    );
    // make and the C++ compiler are checked before a build (fresh cache dir: not cached).
    let dir = fresh_dir("tools");
    for (make, cxx, tool) in [
        ("/nonexistent/make", "g++", "make"),
        ("make", "/nonexistent/g++", "C++ compiler"),
    ] {
        let opts = BuildOptions {
            cache_dir: Some(dir.clone()),
            make: make.into(),
            cxx: cxx.into(),
            ..BuildOptions::default()
        };
        let e = VerilatedModel::build(COUNTER, "top", &opts).unwrap_err();
        assert!(
            matches!(e, SimError::ToolMissing { tool: ref t, .. } if t == tool),
            "{e}"
        );
        assert!(
            e.to_string().contains("apt-get install verilator g++ make"),
            "{e}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_gives_typed_errors() {
    let e = VerilatedModel::build(COUNTER, "nope", &BuildOptions::default()).unwrap_err();
    assert!(matches!(e, SimError::Parse(_)), "{e}");
    assert!(e.to_string().contains("inc8, top"), "{e}");
    // Verilog that parses but that Verilator rejects: the tool's message is returned.
    let dir = fresh_dir("bad");
    let opts = BuildOptions {
        cache_dir: Some(dir.clone()),
        ..BuildOptions::default()
    };
    let bad = "module top(clock, q); input wire clock; output reg q;\n always @(posedge clock) q <= undeclared_signal; endmodule";
    let e = CompiledModel::compile(bad, "top", &opts).unwrap_err();
    assert!(matches!(e, SimError::ToolFailed { .. }), "{e}");
    assert!(e.to_string().contains("undeclared_signal"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn finish_does_not_end_the_process() {
    let v = "
module top(clock,q);
    input wire  clock;
    output reg  [3:0] q;
    initial begin
        q = 4'h0;
    end
    always @(posedge clock) begin
        q <= q + 4'h1;
        if (q >= 4'h2) $finish;
    end
endmodule // top
";
    let mut m = build(v, &BuildOptions::default());
    let (clock, q) = (m.port_id("clock").unwrap(), m.port_id("q").unwrap());
    m.tick(clock);
    assert!(!m.got_finish());
    for _ in 0..5 {
        m.tick(clock);
    }
    assert!(m.got_finish());
    assert_eq!(m.get(q), 6, "the model keeps running after $finish");
    m.finish();
    m.finish();
}

#[test]
fn names_that_verilator_escapes() {
    let v = "
module top(clock,up$valid,a__b,register,q__);
    input wire  clock;
    input wire  up$valid;
    input wire  [39:0] a__b;
    input wire  register;
    output reg  [39:0] q__;
    initial begin
        q__ = 40'h0;
    end
    always @(posedge clock) begin
        if (up$valid & register) q__ <= a__b;
    end
endmodule // top
";
    let mut m = build(v, &BuildOptions::default());
    let [clock, valid, ab, reg, q] =
        ["clock", "up$valid", "a__b", "register", "q__"].map(|n| m.port_id(n).unwrap());
    m.set(valid, 1);
    m.set(reg, 1);
    m.set(ab, 0xab_cdef_0123);
    m.tick(clock);
    assert_eq!(m.get(q), 0xab_cdef_0123);
}

//! Co-simulation of the emitted Verilog against the golden models (issue 3).
//!
//! - lockstep in Verilator passes on both blocks across seeds, configurations and policies;
//! - an RTL bug injected by mutating one constant of the emitted Verilog is caught with the
//!   exact first cycle and signal, the values, a 32-cycle table and a VCD;
//! - Icarus Verilog, Verilator and the golden model agree cycle for cycle on recorded
//!   scenarios.
//!
//! Needs `verilator`, `g++`, `make` and `iverilog` (`make deps`). Budget: a few hundred
//! thousand simulated cycles in total; `moca fuzz` runs the long campaigns.

use golden::arbiter::Policy;
use golden::cfg::ThrottleConfig;
use golden::spec;
use golden::stimulus::Demand;
use sim::cosim::{
    self, ArbiterBlock, CosimBlock, CosimOptions, CosimReport, HISTORY, Recording, ThrottleBlock,
};
use sim::{CompiledModel, SimError};
use std::path::PathBuf;

fn opts(cycles: u64) -> CosimOptions {
    CosimOptions {
        cycles,
        ..Default::default()
    }
}

fn run<B: CosimBlock + Send>(verilog: &str, top: &str, b: &mut B, o: &CosimOptions) -> CosimReport {
    cosim::run(verilog, top, b, o, &mut |_| {}).unwrap_or_else(|e| {
        panic!("co-simulation could not run: {e}\n(needs `apt-get install verilator g++ make`)")
    })
}

fn assert_pass(r: &CosimReport, what: &str) {
    assert!(r.passed(), "{what}: {r}");
    assert_eq!(r.cycles, r.requested, "{what}");
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("moca-cosim-test-{}-{name}", std::process::id()))
}

#[test]
fn throttle_lockstep_passes_across_seeds_and_configurations() {
    let v = hw::emit::throttle();
    let cases = [
        (1, Demand::Random, 100, 25, None),
        (2, Demand::Random, 16, 3, Some(0)),
        (3, Demand::Random, 2, 1, Some(40)),
        (4, Demand::Random, 1000, 600, None),
        (5, Demand::Saturate, 100, 25, None),
        (6, Demand::Saturate, 37, 50, Some(5)),
        (7, Demand::Random, 0, 0, None),
    ];
    let mut beats = 0;
    let mut bubbles = 0;
    for (seed, demand, w, t, b) in cases {
        let cfg = ThrottleConfig::new(w, t, b).unwrap();
        let mut blk = ThrottleBlock::new(seed, demand, cfg);
        let r = run(&v.text, &v.top, &mut blk, &opts(25_000));
        assert_pass(&r, &format!("seed {seed} {demand:?} {cfg:?}"));
        assert_eq!(blk.stats().cycles, 25_000);
        beats += blk.stats().granted_beats;
        bubbles += blk.stats().bubble_cycles;
    }
    assert!(beats > 50_000 && bubbles > 10_000, "{beats} {bubbles}");
}

#[test]
fn arbiter_lockstep_passes_across_ports_and_policies() {
    for (seed, ports) in [(11u64, 1usize), (12, 2), (13, 4), (14, 16)] {
        let v = hw::emit::arbiter(ports).unwrap();
        for policy in [Policy::RoundRobin, Policy::Fixed] {
            let mut blk = ArbiterBlock::new(seed, ports, policy).unwrap();
            let r = run(&v.text, &v.top, &mut blk, &opts(15_000));
            assert_pass(&r, &format!("seed {seed} ports {ports} {policy:?}"));
            let grants = &blk.stats().grants_per_port;
            assert_eq!(grants.len(), ports);
            assert!(grants.iter().sum::<u64>() > 2_000, "{grants:?}");
        }
    }
}

/// Replace the `nth` (0-based) occurrence of `from` in `text` with `to`.
fn mutate(text: &str, from: &str, to: &str, nth: usize) -> String {
    let (pos, _) = text
        .match_indices(from)
        .nth(nth)
        .unwrap_or_else(|| panic!("`{from}` occurs fewer than {} times", nth + 1));
    format!("{}{to}{}", &text[..pos], &text[pos + from.len()..])
}

#[test]
fn mutated_window_counter_is_caught_at_the_right_cycle_and_signal() {
    // The window counter's decrement (`wc$q - 32'h1` outside a window end) counts by 2.
    let v = hw::emit::throttle();
    let from = "wc$d = wc$q - 32'h1;";
    assert_eq!(v.text.matches(from).count(), 1, "the in-window decrement");
    let bad = mutate(&v.text, from, "wc$d = wc$q - 32'h2;", 0);
    let cfg = ThrottleConfig::new(100, 25, None).unwrap();
    let seed = 21;

    // Expected from the golden model alone: the first cycle where the window counter reads
    // WINDOW - 2 (its first decrement) is the first cycle the mutant shows WINDOW - 3.
    let mut g = ThrottleBlock::new(seed, Demand::Saturate, cfg);
    let (cycle, read_addr) = (0u64..)
        .map(|c| (c, g.step_typed()))
        .find(|(_, (_, o))| o.status.wc == 98)
        .map(|(c, (i, _))| (c, i.cfg.addr))
        .unwrap();
    // The register read port comes before the status ports in the port list: if the stimulus
    // happens to read WC in that cycle, `cfg_rdata` is the first signal to differ.
    let signal = if read_addr == spec::throttle::WC {
        "cfg_rdata"
    } else {
        "st_wc"
    };

    let vcd = tmp("throttle-mutant.vcd");
    let _ = std::fs::remove_file(&vcd);
    let mut blk = ThrottleBlock::new(seed, Demand::Saturate, cfg);
    let o = CosimOptions {
        mismatch_vcd: Some(vcd.clone()),
        ..opts(50_000)
    };
    let r = run(&bad, &v.top, &mut blk, &o);
    println!("{r}");
    let m = r.mismatch.as_ref().expect("the mutant must be caught");
    assert_eq!(m.cycle, cycle, "{m}");
    assert_eq!(m.signal, signal, "{m}");
    assert_eq!((m.rtl, m.golden), (97, 98), "{m}");
    assert!(m.all.iter().any(|d| d.signal == "st_wc"), "{m}");
    assert_eq!(r.cycles, cycle + 1);
    assert_eq!(r.mismatches(), 1);
    assert_eq!(
        blk.stats().cycles,
        cycle + 1,
        "stats cover cycles 0..=failing"
    );

    // The table: the last cycles of both, the failing one last, inputs and outputs.
    let h = &m.history;
    assert_eq!(h.rows.len(), (cycle as usize + 1).min(HISTORY));
    assert_eq!(h.rows.last().unwrap().cycle, cycle);
    assert!(h.inputs.iter().any(|n| n == "up_valid"));
    assert!(h.outputs.iter().any(|n| n == "perf_windows"));
    let text = r.to_string();
    assert!(
        text.contains(&format!("MISMATCH at cycle {cycle}: signal `{signal}`")),
        "{text}"
    );
    assert!(text.contains("*61"), "{text}"); // 97, in hex

    // The VCD around the failure exists and holds the design's signals.
    assert_eq!(m.vcd.as_deref(), Some(vcd.as_path()));
    let dump = std::fs::read_to_string(&vcd).unwrap();
    assert!(
        dump.contains("$enddefinitions") && dump.contains(" st_wc "),
        "VCD content"
    );
    assert!(
        dump.contains(&format!("#{}", 10 * cycle + 5)),
        "VCD covers the failing edge"
    );
    let _ = std::fs::remove_file(&vcd);
}

#[test]
fn mutated_arbiter_grant_counter_is_caught() {
    let ports = 3;
    let v = hw::emit::arbiter(ports).unwrap();
    let bad = mutate(
        &v.text,
        "grants$d = grants$q + 32'h1;",
        "grants$d = grants$q + 32'h2;",
        0,
    );
    let seed = 5;
    let mut g = ArbiterBlock::new(seed, ports, Policy::RoundRobin).unwrap();
    let (cycle, read_addr) = (0u64..)
        .map(|c| (c, g.step_typed()))
        .find(|(_, (_, o))| o.status.perf_grants == 1)
        .map(|(c, (i, _))| (c, i.cfg.addr))
        .unwrap();
    let signal = if read_addr == spec::arbiter::PERF_GRANTS {
        "cfg_rdata"
    } else {
        "perf_grants"
    };
    let mut blk = ArbiterBlock::new(seed, ports, Policy::RoundRobin).unwrap();
    let r = run(&bad, &v.top, &mut blk, &opts(20_000));
    let m = r.mismatch.as_ref().expect("the mutant must be caught");
    assert_eq!((m.cycle, m.signal.as_str()), (cycle, signal), "{m}");
    assert_eq!((m.rtl, m.golden), (2, 1), "{m}");
    assert!(m.vcd.is_none(), "no VCD unless asked for");
}

#[test]
fn whole_run_vcd_and_interface_checks() {
    let v = hw::emit::throttle();
    let vcd = tmp("throttle-run.vcd");
    let cfg = ThrottleConfig::new(20, 4, None).unwrap();
    let mut blk = ThrottleBlock::new(3, Demand::Random, cfg);
    let o = CosimOptions {
        vcd: Some(vcd.clone()),
        ..opts(300)
    };
    let r = run(&v.text, &v.top, &mut blk, &o);
    assert_pass(&r, "traced run");
    let dump = std::fs::read_to_string(&vcd).unwrap();
    assert!(
        dump.contains("#2995"),
        "last rising edge of 300 cycles is dumped"
    );
    let _ = std::fs::remove_file(&vcd);

    // The throttle's golden model against the arbiter's Verilog: a typed error, not a run.
    let a = hw::emit::arbiter(2).unwrap();
    let mut blk = ThrottleBlock::new(3, Demand::Random, cfg);
    let e = cosim::run(&a.text, &a.top, &mut blk, &opts(10), &mut |_| {}).unwrap_err();
    assert!(matches!(e, SimError::Interface { .. }), "{e}");
    assert!(e.to_string().contains("has no port `up_valid`"), "{e}");
}

/// Record a scenario, replay it in Icarus and in Verilator, and compare both with the golden
/// outputs cycle by cycle.
fn three_way<B: CosimBlock>(verilog: &str, top: &str, b: &mut B, cycles: usize, what: &str) {
    let rec = Recording::record(b, cycles);
    let model = CompiledModel::compile(verilog, top, &Default::default()).unwrap();
    let ports = model.ports();
    let rows = rec.layout_rows(ports, "clock").unwrap();
    let golden = rec.golden_layout_rows(ports, "clock").unwrap();
    let icarus = sim::iverilog::replay(verilog, top, "clock", &rows, &Default::default())
        .unwrap_or_else(|e| panic!("{what}: Icarus replay failed: {e} (needs iverilog)"));
    let verilator = model.instantiate().unwrap().replay("clock", &rows).unwrap();
    let layout = sim::ReplayLayout::new(ports, "clock").unwrap();
    for (c, ((g, i), v)) in golden.iter().zip(&icarus).zip(&verilator).enumerate() {
        for (k, id) in layout.outputs.iter().enumerate() {
            let name = &ports[id.index()].name;
            assert!(
                g[k] == i[k] && g[k] == v[k],
                "{what}: cycle {c}: `{name}`: golden {:#x}, Icarus {:#x}, Verilator {:#x}",
                g[k],
                i[k],
                v[k]
            );
        }
    }
    assert_eq!(
        (golden.len(), icarus.len(), verilator.len()),
        (cycles, cycles, cycles)
    );
}

#[test]
fn icarus_verilator_and_golden_agree_on_recorded_scenarios() {
    let t = hw::emit::throttle();
    for (seed, demand, w, tg) in [
        (31, Demand::Random, 40, 9),
        (32, Demand::Saturate, 100, 25),
        (33, Demand::Random, 6, 2),
    ] {
        let cfg = ThrottleConfig::new(w, tg, None).unwrap();
        let mut b = ThrottleBlock::new(seed, demand, cfg);
        three_way(
            &t.text,
            &t.top,
            &mut b,
            3000,
            &format!("throttle seed {seed}"),
        );
    }
    for (seed, ports, policy) in [(41, 3, Policy::RoundRobin), (42, 4, Policy::Fixed)] {
        let a = hw::emit::arbiter(ports).unwrap();
        let mut b = ArbiterBlock::new(seed, ports, policy).unwrap();
        three_way(
            &a.text,
            &a.top,
            &mut b,
            3000,
            &format!("arbiter seed {seed}"),
        );
    }
}

#[test]
fn mismatch_history_spans_a_batch_boundary() {
    // The completed-window counter counts by 2; the first window ends after cycle BATCH, so
    // the 32-cycle table needs rows from two batches.
    let v = hw::emit::throttle();
    let bad = mutate(
        &v.text,
        "windows$d = windows$q + 32'h1;",
        "windows$d = windows$q + 32'h2;",
        0,
    );
    let cfg = ThrottleConfig::new(4100, 4000, None).unwrap();
    let mut g = ThrottleBlock::new(9, Demand::Saturate, cfg);
    let cycle = (0u64..)
        .find(|_| g.step_typed().1.status.perf_windows == 1)
        .unwrap();
    assert!(cycle > cosim::BATCH as u64 && cycle < cosim::BATCH as u64 + 31);
    let mut blk = ThrottleBlock::new(9, Demand::Saturate, cfg);
    let r = run(&bad, &v.top, &mut blk, &opts(20_000));
    let m = r.mismatch.as_ref().expect("caught");
    assert_eq!(m.cycle, cycle, "{m}");
    assert!(
        m.all
            .iter()
            .any(|d| d.signal == "perf_windows" && d.rtl == 2)
    );
    let cycles: Vec<u64> = m.history.rows.iter().map(|r| r.cycle).collect();
    assert_eq!(cycles, (cycle - 31..=cycle).collect::<Vec<_>>());
    // Rows before the failing cycle agree.
    assert!(m.history.rows[..31].iter().all(|r| r.rtl == r.golden));
}

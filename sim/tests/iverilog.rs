//! Icarus replay, and agreement of Verilator, Icarus and a Rust model cycle by cycle.

mod common;

use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::{BuildOptions, IverilogOptions, SimError, iverilog};

fn replay_iverilog(verilog: &str, rows: &[Vec<u128>]) -> Vec<Vec<u128>> {
    iverilog::replay(verilog, "top", "clock", rows, &IverilogOptions::default()).unwrap_or_else(
        |e| panic!("Icarus replay failed: {e}\n(these tests need `apt-get install iverilog`)"),
    )
}

/// Random stimulus: one row per cycle, one value per input except the clock.
fn random_rows(seed: u64, widths: &[u32], cycles: usize) -> Vec<Vec<u128>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..cycles)
        .map(|_| {
            widths
                .iter()
                .map(|&w| {
                    let v: u128 = rng.r#gen();
                    if w >= 128 { v } else { v & ((1u128 << w) - 1) }
                })
                .collect()
        })
        .collect()
}

#[test]
fn counter_agrees_with_verilator_and_a_rust_model() {
    let seed = 0x5eed;
    // Inputs: en, load, d. Mostly counting, with loads near the top so the wrap happens.
    let mut rows = random_rows(seed, &[1, 1, 8], 400);
    for (i, r) in rows.iter_mut().enumerate() {
        r[0] = u128::from(i % 8 != 3 || r[0] == 1);
        r[1] = u128::from(i % 40 == 0);
        if r[1] == 1 {
            r[2] |= 0xf0;
        }
    }
    let icarus = replay_iverilog(COUNTER, &rows);
    let mut m = build(COUNTER, &BuildOptions::default());
    let verilated = m.replay("clock", &rows).unwrap();
    // Golden: outputs of a cycle see the register's current value.
    let mut q: u128 = 0;
    let golden: Vec<Vec<u128>> = rows
        .iter()
        .map(|r| {
            let (en, load, d) = (r[0], r[1], r[2]);
            let out = vec![q, u128::from(en == 1 && q == 0xff)];
            q = if load == 1 {
                d
            } else if en == 1 {
                (q + 1) & 0xff
            } else {
                q
            };
            out
        })
        .collect();
    for (n, ((g, v), i)) in golden.iter().zip(&verilated).zip(&icarus).enumerate() {
        assert_eq!(v, g, "seed {seed:#x} cycle {n}: Verilator vs golden");
        assert_eq!(i, g, "seed {seed:#x} cycle {n}: Icarus vs golden");
    }
    assert_eq!(icarus.len(), rows.len());
    assert!(
        golden.iter().any(|o| o[1] == 1),
        "stimulus should reach the wrap"
    );
}

#[test]
fn wide_module_agrees_cycle_by_cycle() {
    let seed = 42;
    let rows = random_rows(seed, &[128, 25], 300);
    let icarus = replay_iverilog(WIDE, &rows);
    let mut m = build(WIDE, &BuildOptions::default());
    let verilated = m.replay("clock", &rows).unwrap();
    assert_eq!(verilated.len(), 300);
    for (n, (v, i)) in verilated.iter().zip(&icarus).enumerate() {
        assert_eq!(v, i, "seed {seed} cycle {n}: Verilator vs Icarus");
    }
    assert!(verilated.iter().any(|o| o[0] != 0));
}

#[test]
fn unknown_values_are_reported() {
    let rows = vec![vec![]; 3];
    let e =
        iverilog::replay(INITIALS, "top", "clock", &rows, &IverilogOptions::default()).unwrap_err();
    assert!(
        matches!(e, SimError::UnknownValue { cycle: 0, ref port, .. } if port == "c"),
        "{e}"
    );
    let opts = IverilogOptions {
        x_as_zero: true,
        ..IverilogOptions::default()
    };
    let out = iverilog::replay(INITIALS, "top", "clock", &rows, &opts).unwrap();
    assert_eq!(out[0], vec![0xa5, 0xfffd, 0]);
    assert_eq!(out[2][0], 0xa7);
}

#[test]
fn replay_input_errors_and_work_dir() {
    let e = iverilog::replay(
        COUNTER,
        "top",
        "clock",
        &[vec![0, 0]],
        &IverilogOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, SimError::StimulusShape { .. }), "{e}");
    let e = iverilog::replay(COUNTER, "top", "clk", &[], &IverilogOptions::default()).unwrap_err();
    assert!(matches!(e, SimError::NoSuchPort(_)), "{e}");
    assert!(
        iverilog::replay(COUNTER, "top", "clock", &[], &IverilogOptions::default())
            .unwrap()
            .is_empty()
    );
    let dir = fresh_dir("ivl");
    let opts = IverilogOptions {
        work_dir: Some(dir.clone()),
        ..IverilogOptions::default()
    };
    let out = iverilog::replay(COUNTER, "top", "clock", &vec![vec![1, 0, 0]; 3], &opts).unwrap();
    assert_eq!(out, vec![vec![0, 0], vec![1, 0], vec![2, 0]]);
    assert!(dir.join("tb.v").is_file() && dir.join("out.hex").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_iverilog_tells_what_to_install() {
    let opts = IverilogOptions {
        iverilog: "/nonexistent/iverilog".into(),
        ..IverilogOptions::default()
    };
    let e = iverilog::replay(COUNTER, "top", "clock", &[vec![0, 0, 0]], &opts).unwrap_err();
    assert!(matches!(e, SimError::ToolMissing { .. }), "{e}");
    assert!(e.to_string().contains("apt-get install iverilog"), "{e}");
}

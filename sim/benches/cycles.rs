//! Simulated cycles per second of a small Verilated model (no criterion: a plain timed loop).
//!
//! `cargo bench -p moca-sim` (optionally `-- <cycles>`). Prints one line per scenario.

use sim::{BuildOptions, VerilatedModel};
use std::hint::black_box;
use std::time::Instant;

// The tests' counter (a top with an incrementer submodule, as Rust-HDL emits it).
#[path = "../tests/common/mod.rs"]
mod common;
use common::COUNTER;

fn main() -> Result<(), sim::SimError> {
    let cycles: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let mut m = VerilatedModel::build(COUNTER, "top", &BuildOptions::default())?;
    let [clock, en, load, d, q, wrap] =
        ["clock", "en", "load", "d", "q", "wrap"].map(|n| m.port_id(n).expect("port"));

    // Lockstep pattern: set inputs, eval, read outputs, tick.
    let start = Instant::now();
    let mut acc = 0u64;
    for i in 0..cycles {
        m.set(en, 1);
        m.set(load, u64::from(i % 1000 == 0));
        m.set(d, i & 0xff);
        m.eval();
        acc = acc.wrapping_add(m.get(q) + m.get(wrap));
        m.tick(clock);
    }
    let s = start.elapsed().as_secs_f64();
    black_box(acc);
    println!(
        "verilator lockstep (set+eval+get+tick), counter: {cycles} cycles in {s:.3} s = {:.0} cycles/s",
        cycles as f64 / s
    );

    // Free running: tick only.
    let start = Instant::now();
    for _ in 0..cycles {
        m.tick(clock);
    }
    let s = start.elapsed().as_secs_f64();
    black_box(m.get(q));
    println!(
        "verilator tick only, counter: {cycles} cycles in {s:.3} s = {:.0} cycles/s",
        cycles as f64 / s
    );
    Ok(())
}

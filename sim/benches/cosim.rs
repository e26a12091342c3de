//! Simulated cycles per second of the golden model alone, Verilator alone and lockstep
//! co-simulation, per block (a plain timed loop, no criterion).
//!
//! `cargo bench -p moca-sim --bench cosim` (optionally `-- <cycles>`, default 2000000).
//!
//! - model: the golden model alone, stepping a recorded stimulus of 65536 cycles cyclically;
//! - golden: stimulus generation + golden model + writing the port values (what lockstep
//!   does on the golden side);
//! - verilator: set every input, eval, read every output, tick, on a recorded stimulus of
//!   65536 cycles replayed cyclically (no golden model, no comparison);
//! - lockstep: `sim::cosim::run`, both plus the comparison of every output every cycle.

use golden::arbiter::Policy;
use golden::cfg::ThrottleConfig;
use golden::stimulus::Demand;
use sim::cosim::{self, ArbiterBlock, CosimBlock, CosimOptions, Recording, ThrottleBlock};
use sim::{BuildOptions, VerilatedModel};
use std::hint::black_box;
use std::time::Instant;

const RECORDED: usize = 65_536;

fn rate(cycles: u64, start: Instant) -> f64 {
    cycles as f64 / start.elapsed().as_secs_f64()
}

/// The golden throttle alone on recorded inputs.
fn throttle_model_only(cfg: ThrottleConfig, demand: Demand, cycles: u64) -> f64 {
    let mut b = ThrottleBlock::new(1, demand, cfg);
    let ins: Vec<_> = (0..RECORDED).map(|_| b.step_typed().0).collect();
    let mut m = golden::throttle::MemThrottle::new();
    let start = Instant::now();
    for c in 0..cycles as usize {
        black_box(m.step(&ins[c % RECORDED]));
    }
    rate(cycles, start)
}

/// The golden arbiter alone on recorded inputs.
fn arbiter_model_only(ports: usize, cycles: u64) -> f64 {
    let mut b = ArbiterBlock::new(1, ports, Policy::RoundRobin).expect("ports");
    let ins: Vec<_> = (0..RECORDED).map(|_| b.step_typed().0).collect();
    let mut m = golden::arbiter::BusArbiter::new(ports).expect("ports");
    let start = Instant::now();
    for c in 0..cycles as usize {
        black_box(m.step(&ins[c % RECORDED]));
    }
    rate(cycles, start)
}

fn bench<B: CosimBlock + Send>(
    label: &str,
    verilog: &str,
    top: &str,
    mut fresh: impl FnMut() -> B,
    model: f64,
    cycles: u64,
) {
    // Golden alone.
    let mut b = fresh();
    let (mut i, mut o) = (
        vec![0u64; b.input_names().len()],
        vec![0u64; b.output_names().len()],
    );
    let start = Instant::now();
    for _ in 0..cycles {
        b.step(&mut i, &mut o);
        black_box((&i, &o));
    }
    let golden = rate(cycles, start);

    // Verilator alone, on a recorded stimulus.
    let rec = Recording::record(&mut fresh(), RECORDED);
    let mut m = VerilatedModel::build(verilog, top, &BuildOptions::default()).expect("verilator");
    let ins: Vec<_> = rec
        .input_names
        .iter()
        .map(|n| m.port_id(n).expect("input"))
        .collect();
    let outs: Vec<_> = rec
        .output_names
        .iter()
        .map(|n| m.port_id(n).expect("output"))
        .collect();
    let clock = m.port_id("clock").expect("clock");
    let flat: Vec<u64> = rec.inputs.concat();
    let ni = ins.len();
    let mut read = vec![0u64; outs.len()];
    let start = Instant::now();
    for c in 0..cycles as usize {
        let row = &flat[(c % RECORDED) * ni..(c % RECORDED + 1) * ni];
        for (&id, &v) in ins.iter().zip(row) {
            m.set(id, v);
        }
        m.eval();
        for (slot, &id) in read.iter_mut().zip(&outs) {
            *slot = m.get(id);
        }
        black_box(&read);
        m.tick(clock);
    }
    let verilator = rate(cycles, start);

    // Lockstep.
    let mut b = fresh();
    let opts = CosimOptions {
        cycles,
        ..Default::default()
    };
    let start = Instant::now();
    let r = cosim::run(verilog, top, &mut b, &opts, &mut |_| {}).expect("cosim");
    let lockstep = rate(cycles, start);
    assert!(r.passed(), "{r}");
    println!(
        "{label:<20} model {model:>11.0} | golden+stimulus {golden:>11.0} | verilator {verilator:>10.0} | \
         lockstep {lockstep:>10.0} cycles/s ({:.0}% of verilator alone)",
        100.0 * lockstep / verilator
    );
}

fn main() {
    let cycles: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    println!("{cycles} cycles per measurement");
    let t = hw::emit::throttle();
    let cfg = ThrottleConfig::new(100, 25, None).expect("cfg");
    bench(
        "throttle (random)",
        &t.text,
        &t.top,
        || ThrottleBlock::new(1, Demand::Random, cfg),
        throttle_model_only(cfg, Demand::Random, cycles),
        cycles,
    );
    bench(
        "throttle (saturate)",
        &t.text,
        &t.top,
        || ThrottleBlock::new(1, Demand::Saturate, cfg),
        throttle_model_only(cfg, Demand::Saturate, cycles),
        cycles,
    );
    for ports in [4, 16] {
        let a = hw::emit::arbiter(ports).expect("ports");
        bench(
            &format!("arbiter p{ports} (rr)"),
            &a.text,
            &a.top,
            || ArbiterBlock::new(1, ports, Policy::RoundRobin).expect("ports"),
            arbiter_model_only(ports, cycles),
            cycles,
        );
    }
}

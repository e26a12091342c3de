//! Simulated SoC cycles per second: the golden `MocaSoc` alone (`step` and `run_until_idle`),
//! the emitted SoC in Verilator alone, and lockstep co-simulation (`sim::cosim::run` with
//! `SocBlock`), at 1, 2, 4 and 8 tiles, DIM 4 and 16 (a plain timed loop, no criterion).
//!
//! `cargo bench -p moca-sim --bench soc` (optionally `-- <dims> <tiles> <scale>`, default
//! `4,16 1,2,4,8 32`).
//!
//! Every tile runs a `2D x (scale*D) x (scale*D)` int8 GEMM (random data, seed 1), memory latency
//! 16, no throttling; a run ends when every tile is idle.
//!
//! - golden `step`: `MocaSoc::step` until idle (records every port, as lockstep needs);
//! - golden `run_until_idle`: the fast path (quiet-span skipping), same cycles;
//! - verilator: set every input, eval, read every output, tick, on the recorded inputs of the
//!   run (no golden model, no comparison; memory not preloaded, which does not change speed);
//! - lockstep: `sim::cosim::run` (both sides, every output compared every cycle, outputs
//!   checked against the reference matmul), timed over the lockstep loop only (the prologue's
//!   back-door memory preload is excluded).
//!
//! Golden figures are the best of several repetitions (runs are short); the Verilator build
//! (cached under target/moca-sim-cache) is excluded.

use golden::compile::GemmShape;
use golden::soc::{MocaSoc, SocParams, place_gemms};
use golden::tile::TileParams;
use sim::cosim::{self, CosimBlock, CosimOptions, Recording, SocBlock};
use sim::{BuildOptions, VerilatedModel};
use std::hint::black_box;
use std::time::Instant;

const SHIFT: u8 = 8;
const SEED: u64 = 1;

fn params(tiles: usize, dim: usize, shape: GemmShape) -> SocParams {
    let rows = golden::compile::Layout::new(dim, shape, 0).total_rows() * tiles as u64;
    SocParams {
        tiles,
        tile: TileParams::new(dim).expect("dim"),
        mem_rows: (rows.next_power_of_two() as u32).max(8192),
        latency: 16,
    }
}

fn fresh(p: SocParams, shapes: &[GemmShape]) -> MocaSoc {
    let mut soc = MocaSoc::new(p).expect("params");
    place_gemms(&mut soc, shapes, SHIFT, 127, SEED).expect("place");
    soc
}

/// Best cycles/s of `reps` repetitions of `run` on a fresh SoC (returns cycles too).
fn best(
    p: SocParams,
    shapes: &[GemmShape],
    reps: usize,
    run: impl Fn(&mut MocaSoc) -> u64,
) -> (u64, f64) {
    let mut best = 0f64;
    let mut cycles = 0;
    for _ in 0..reps {
        let mut soc = fresh(p, shapes);
        let t = Instant::now();
        cycles = run(&mut soc);
        best = best.max(cycles as f64 / t.elapsed().as_secs_f64());
        black_box(&soc);
    }
    (cycles, best)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let list = |i: usize, default: &str| -> Vec<usize> {
        args.get(i)
            .map_or(default, String::as_str)
            .split(',')
            .map(|x| x.parse().expect("a comma-separated list of numbers"))
            .collect()
    };
    let dims = list(0, "4,16");
    let tile_counts = list(1, "1,2,4,8");
    let scale = list(2, "32")[0];
    println!(
        "SoC cycles/s; every tile runs 2D x {scale}D x {scale}D, latency 16, unthrottled \
         (millions of cycles/s for golden, thousands for Verilator and lockstep)"
    );
    println!(
        "| DIM | tiles | cycles | golden `step` (M/s) | golden `run_until_idle` (M/s) | \
         Verilator alone (k/s) | lockstep (k/s) | lockstep / Verilator |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &dim in &dims {
        for &tiles in &tile_counts {
            let shape = GemmShape::new(2 * dim, scale * dim, scale * dim).expect("shape");
            let shapes = vec![shape; tiles];
            let p = params(tiles, dim, shape);
            let reps = 5;
            let (cycles, step) = best(p, &shapes, reps, |soc| {
                while !soc.is_idle() {
                    black_box(soc.step());
                }
                soc.cycle()
            });
            let (fast_cycles, fast) = best(p, &shapes, reps, |soc| {
                soc.run_until_idle(u64::MAX / 2).expect("idle")
            });
            assert_eq!(cycles, fast_cycles);

            let v = hw::emit::soc(&p).expect("emit");
            let mut block = SocBlock::new(p, &shapes, &[], SEED, SHIFT).expect("block");
            let n = block.cycles();
            // Verilator alone on the recorded inputs.
            let rec = Recording::record(&mut block, n as usize);
            block.reset();
            let mut m =
                VerilatedModel::build(&v.text, &v.top, &BuildOptions::default()).expect("build");
            let ins: Vec<_> = rec
                .input_names
                .iter()
                .map(|x| m.port_id(x).expect("input"))
                .collect();
            let outs: Vec<_> = rec
                .output_names
                .iter()
                .map(|x| m.port_id(x).expect("output"))
                .collect();
            let clock = m.port_id("clock").expect("clock");
            let mut read = vec![0u64; outs.len()];
            let t = Instant::now();
            for row in &rec.inputs {
                for (&id, &x) in ins.iter().zip(row) {
                    m.set(id, x);
                }
                m.eval();
                for (slot, &id) in read.iter_mut().zip(&outs) {
                    *slot = m.get(id);
                }
                black_box(&read);
                m.tick(clock);
            }
            let verilator = n as f64 / t.elapsed().as_secs_f64();
            drop(m);
            // Lockstep.
            let opts = CosimOptions {
                cycles: n,
                ..Default::default()
            };
            let r = cosim::run(&v.text, &v.top, &mut block, &opts, &mut |_| {}).expect("cosim");
            assert!(r.passed(), "{r}");
            assert_eq!(block.stats().data_ok, Some(true));
            let lockstep = r.lockstep_cycles_per_s();
            println!(
                "| {dim} | {tiles} | {cycles} | {:.2} | {:.2} | {:.1} | {:.1} | {:.0}% |",
                step / 1e6,
                fast / 1e6,
                verilator / 1e3,
                lockstep / 1e3,
                100.0 * lockstep / verilator
            );
        }
    }
}

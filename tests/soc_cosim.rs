//! SoC co-simulation (issue 4): the emitted `moca_soc_t<N>_d<D>` Verilog in Verilator, in
//! lockstep with the golden SoC on every observable port, memory preloaded and results read
//! through the back door. Needs `verilator`, `g++`, `make`.

use golden::cfg::ThrottleConfig;
use golden::compile::GemmShape;
use golden::soc::SocParams;
use golden::tile::TileParams;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::cosim::{self, CosimOptions, SocBlock, SocStats};

fn run_soc(
    p: SocParams,
    shapes: &[GemmShape],
    thr: &[(usize, ThrottleConfig)],
    seed: u64,
) -> SocStats {
    let v = hw::emit::soc(&p).unwrap();
    let mut b = SocBlock::new(p, shapes, thr, seed, 4).unwrap();
    let o = CosimOptions {
        cycles: b.cycles(),
        ..Default::default()
    };
    let r = cosim::run(&v.text, &v.top, &mut b, &o, &mut |_| {})
        .unwrap_or_else(|e| panic!("co-simulation could not run: {e}"));
    assert!(r.passed(), "seed {seed} {shapes:?}: {r}");
    let s = b.stats().clone();
    assert_eq!(s.rtl_cycles, Some(s.golden_cycles), "seed {seed}");
    assert_eq!(
        s.data_ok,
        Some(true),
        "seed {seed} {shapes:?}: wrong matrices"
    );
    s
}

fn params(tiles: usize, dim: usize, latency: u32) -> SocParams {
    SocParams {
        tiles,
        tile: TileParams::new(dim).unwrap(),
        mem_rows: 8192,
        latency,
    }
}

#[test]
fn random_gemms_on_1_to_4_tiles_match_golden_in_verilator() {
    for seed in 0..6u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let tiles = 1 + (seed as usize % 4);
        let dim = [2, 4, 3, 4, 8, 4][seed as usize];
        let shapes: Vec<GemmShape> = (0..tiles)
            .map(|_| {
                GemmShape::new(
                    rng.gen_range(1..=20),
                    rng.gen_range(1..=20),
                    rng.gen_range(1..=20),
                )
                .unwrap()
            })
            .collect();
        let thr: Vec<(usize, ThrottleConfig)> = if seed % 2 == 1 {
            vec![(0, ThrottleConfig::new(60, 8, None).unwrap())]
        } else {
            vec![]
        };
        let s = run_soc(params(tiles, dim, 1 + seed as u32 * 5), &shapes, &thr, seed);
        eprintln!(
            "seed {seed}: {tiles} tiles dim {dim} {shapes:?} throttled {}: {} cycles, per tile {:?}",
            !thr.is_empty(),
            s.golden_cycles,
            s.per_tile_cycles
        );
    }
}

#[test]
fn moca_effect_is_identical_in_rtl_and_golden() {
    let dim = 4;
    let shape = GemmShape::new(dim, 32 * dim, dim).unwrap();
    let small = GemmShape::new(1, 1, 1).unwrap();
    let p2 = params(2, dim, 16);
    let alone = run_soc(p2, &[small, shape], &[], 5).per_tile_cycles[1];
    let corun = run_soc(p2, &[shape, shape], &[], 5).per_tile_cycles[1];
    let thr = [(0, ThrottleConfig::new(200, 20, None).unwrap())];
    let throttled = run_soc(p2, &[shape, shape], &thr, 5).per_tile_cycles[1];
    eprintln!(
        "tile 1: alone {alone}, + tile 0 unthrottled {corun}, + tile 0 throttled {throttled}"
    );
    // Two tiles ask the one-row-per-cycle port for 2 * 2D rows per 2D + 3 cycles (1.45x its
    // rate at DIM 4); over these 32 COMPUTEs, with the pipeline's fill and drain, tile 1 is
    // 1.27x slower beside tile 0 (with `COMPUTE` in 2D + 2 cycles).
    assert!(corun as f64 > 1.2 * alone as f64, "{alone} {corun}");
    assert!(throttled < corun, "{corun} {throttled}");
}

#[test]
fn random_gemms_on_8_tiles_match_golden_in_verilator() {
    // The upper end: 8 tiles, DIM 2 (small, so the Verilator build stays quick), every
    // other tile throttled with a different budget.
    let seed = 8u64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let shapes: Vec<GemmShape> = (0..8)
        .map(|_| {
            GemmShape::new(
                rng.gen_range(1..=12),
                rng.gen_range(1..=24),
                rng.gen_range(1..=12),
            )
            .unwrap()
        })
        .collect();
    let thr: Vec<(usize, ThrottleConfig)> = (0..8)
        .step_by(2)
        .map(|t| {
            (
                t,
                ThrottleConfig::new(40 + 20 * t as i64, 8 + t as i64, None).unwrap(),
            )
        })
        .collect();
    let mut p = params(8, 2, 4);
    p.mem_rows = 4096;
    let s = run_soc(p, &shapes, &thr, seed);
    eprintln!(
        "8 tiles: {} cycles, per tile {:?}",
        s.golden_cycles, s.per_tile_cycles
    );
    assert_eq!(s.per_tile_cycles.len(), 8);
}

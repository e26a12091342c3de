//! Tile co-simulation (issue 10): one tile alone on a memory, the emitted
//! `moca_tile_bench_d<D>` in Verilator in lockstep with `golden::tile_bench::TileBench` on
//! every port, running a compiled GEMM with invalid host words mixed in under random DMA
//! back-pressure; memory preloaded and the result read through the back door. Needs
//! `verilator`, `g++`, `make`.

use golden::compile::GemmShape;
use golden::tile::TileParams;
use sim::cosim::{self, CosimOptions, TileBlock, TileScenario};

fn scenario(dim: usize, latency: u32, (i, j, k): (usize, usize, usize)) -> TileScenario {
    let d = dim as u32;
    TileScenario {
        tile: TileParams::with_rows(dim, 16 * d, 4 * d).unwrap(),
        mem_rows: 1024,
        latency,
        shape: GemmShape::new(i, j, k).unwrap(),
        shift: 6,
    }
}

#[test]
fn compiled_gemms_with_bad_words_under_back_pressure_match_golden_in_verilator() {
    // Small tiles (16*DIM scratchpad rows) so that the GEMMs take several tiles and the load,
    // execute and store units overlap; a few thousand cycles each.
    for (seed, s) in [
        (1u64, scenario(4, 3, (21, 26, 23))),
        (2, scenario(2, 1, (9, 11, 13))),
        (3, scenario(3, 8, (13, 8, 20))),
    ] {
        let v = hw::emit::tile_bench(&s.tile, s.mem_rows, s.latency).unwrap();
        let mut b = TileBlock::new(s, seed).unwrap();
        let o = CosimOptions {
            cycles: b.cycles(),
            ..Default::default()
        };
        let r = cosim::run(&v.text, &v.top, &mut b, &o, &mut |_| {})
            .unwrap_or_else(|e| panic!("co-simulation could not run: {e}"));
        assert!(r.passed(), "seed {seed} {s:?}: {r}");
        let st = b.stats().clone();
        assert_eq!(st.rtl_cycles, Some(st.golden_cycles), "seed {seed}");
        assert_eq!(st.data_ok, Some(true), "seed {seed}: wrong matrix");
        assert!(st.dma_stalls > 0, "seed {seed}: no back-pressure");
        assert!(st.golden_cycles < 20_000, "seed {seed}: {st:?}");
        println!("seed {seed}: {} cycles, {st:?}", r.cycles);
    }
}

#[test]
fn a_wrong_tile_is_caught() {
    // The bench of a tile with a smaller scratchpad than the golden one refuses the LOADs the
    // golden tile accepts: the first difference is named (cmd_error, or the queue count).
    let s = scenario(4, 2, (9, 13, 11));
    let mut wrong = s.tile;
    wrong.sp_rows = 4 * 4;
    let v = hw::emit::tile_bench(&wrong, s.mem_rows, s.latency).unwrap();
    let mut b = TileBlock::new(s, 1).unwrap();
    let o = CosimOptions {
        cycles: b.cycles(),
        ..Default::default()
    };
    let r = cosim::run(&v.text, &v.top, &mut b, &o, &mut |_| {}).unwrap();
    let m = r.mismatch.expect("a smaller scratchpad must be caught");
    assert!(m.cycle < b.cycles(), "{m}");
}

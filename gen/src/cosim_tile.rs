//! `moca cosim --block tile`: one tile alone on a memory (`moca_tile_bench_d<DIM>`) in
//! Verilator, in lockstep with `golden::tile_bench::TileBench`, running one compiled GEMM under
//! random DMA back-pressure with invalid host words mixed in (`sim::cosim::TileBlock`); the
//! output matrix is read back from the RTL's memory and checked against a reference matmul.

use crate::cosim::{CosimArgs, default_shift, shape_str};
use crate::cosim_checked::{Checked, DataCheck};
use crate::usage;
use anyhow::Result;
use golden::compile::{GemmShape, Layout};
use golden::spec;
use golden::tile::TileParams;
use serde_json::{Value, json};
use sim::cosim::{TileBlock, TileScenario, TileStats};

/// Fewest memory rows of the bench (the GEMM's layout, rounded up to a power of two).
pub const TILE_MIN_MEM_ROWS: u32 = 64;

/// Validate the tile flags of `moca cosim` (usage errors name the allowed range).
pub fn scenario(a: &CosimArgs) -> Result<TileScenario> {
    a.check_flags()?;
    let [g] = &a.gemm[..] else {
        return Err(usage(format!(
            "--block tile needs one --gemm IxJxK (got {})",
            a.gemm.len()
        )));
    };
    let shape = g.parse::<GemmShape>().map_err(usage)?;
    let dim = crate::args::check_spec("dim", a.dim.unwrap_or(4), &crate::args::DIM)? as usize;
    let latency = crate::args::check_spec(
        "latency",
        a.latency
            .unwrap_or(i64::from(spec::tile::DEFAULT_MEM_LATENCY)),
        &crate::args::LATENCY,
    )? as u32;
    let shift = match a.shift {
        Some(v) => crate::args::check_spec("shift", v, &crate::args::SHIFT)? as u8,
        None => default_shift(shape.k),
    };
    let end = Layout::new(dim, shape, 0).end();
    let max = u64::from(spec::tile::MAX_MEM_ROWS);
    if end > max {
        return Err(usage(format!(
            "the GEMM needs {end} memory rows: allowed at most {max}"
        )));
    }
    let mem_rows = (end.max(1).next_power_of_two() as u32).max(TILE_MIN_MEM_ROWS);
    Ok(TileScenario {
        tile: TileParams::new(dim).map_err(usage)?,
        mem_rows: mem_rows.min(spec::tile::MAX_MEM_ROWS),
        latency,
        shape,
        shift,
    })
}

impl Checked for TileScenario {
    type Block = TileBlock;
    type Stats = TileStats;
    const BLOCK: &'static str = "tile";

    fn verilog(&self) -> Result<hw::emit::VerilogTop> {
        hw::emit::tile_bench(&self.tile, self.mem_rows, self.latency).map_err(usage)
    }

    fn block(&self, seed: u64) -> Result<TileBlock> {
        TileBlock::new(*self, seed).map_err(usage)
    }

    fn run_length(b: &TileBlock) -> u64 {
        b.cycles()
    }

    fn stats(b: &TileBlock) -> TileStats {
        b.stats().clone()
    }

    fn data_check(st: &TileStats) -> DataCheck {
        DataCheck {
            golden_cycles: st.golden_cycles,
            rtl_cycles: st.rtl_cycles,
            data_ok: st.data_ok,
        }
    }

    fn command(&self, seed: u64) -> String {
        format!(
            "moca cosim --block tile --dim {} --gemm {} --latency {} --shift {} --seed {seed}",
            self.tile.dim,
            shape_str(&self.shape),
            self.latency,
            self.shift
        )
    }

    fn json_fields(&self, st: &TileStats) -> Value {
        json!({
            "words": st.words,
            "bad_words": st.bad_words,
            "dma_stalls": st.dma_stalls,
            "dim": self.tile.dim,
            "sp_rows": self.tile.sp_rows,
            "acc_rows": self.tile.acc_rows,
            "mem_rows": self.mem_rows,
            "latency": self.latency,
            "shift": self.shift,
            "gemm": shape_str(&self.shape),
        })
    }

    fn print_header(&self, st: &TileStats) {
        println!(
            "tile: DIM {}, {} scratchpad / {} accumulator rows, memory latency {}, {} memory \
             rows, STORE shift {}",
            self.tile.dim,
            self.tile.sp_rows,
            self.tile.acc_rows,
            self.latency,
            self.mem_rows,
            self.shift
        );
        println!(
            "  GEMM {}: {} host words ({} invalid, dropped), {} cycles with a DMA request held \
             by back-pressure",
            shape_str(&self.shape),
            st.words,
            st.bad_words,
            st.dma_stalls
        );
    }

    fn right(&self) -> String {
        "the output matrix (RTL and golden memory) equals".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosim::tests::{parse, usage_err};

    fn tile_args(args: &[&str]) -> CosimArgs {
        parse(&[&["--block", "tile"][..], args].concat())
    }

    fn usage_msg(args: &[&str]) -> String {
        usage_err(scenario(&tile_args(args)))
    }

    #[test]
    fn tile_flags_are_validated_with_ranges() {
        assert!(usage_msg(&[]).contains("needs one --gemm"));
        assert!(usage_msg(&["--gemm", "2x2x2,3x3x3"]).contains("(got 2)"));
        assert!(usage_msg(&["--gemm", "2x2x2", "--dim", "1"]).contains("allowed 2..=16"));
        assert!(usage_msg(&["--gemm", "2x2x2", "--latency", "0"]).contains("allowed 1..=1024"));
        assert!(usage_msg(&["--gemm", "2x2x2", "--shift", "32"]).contains("allowed 0..=31"));
        assert!(usage_msg(&["--gemm", "2x2x2", "--ports", "2"]).contains("--ports"));
        assert!(usage_msg(&["--gemm", "2x2x2", "--cycles", "9"]).contains("--cycles"));
    }

    #[test]
    fn tile_scenario_defaults_and_command_round_trip() {
        let s = scenario(&tile_args(&["--gemm", "24x20x28"])).unwrap();
        assert_eq!(s.tile, TileParams::new(4).unwrap());
        assert_eq!(s.latency, spec::tile::DEFAULT_MEM_LATENCY);
        assert_eq!(s.shift, default_shift(28));
        assert!(u64::from(s.mem_rows) >= Layout::new(4, s.shape, 0).end());
        let cmd = s.command(9);
        let args: Vec<&str> = cmd.split(' ').skip(4).collect();
        assert_eq!(scenario(&tile_args(&args)).unwrap(), s, "{cmd}");
    }
}

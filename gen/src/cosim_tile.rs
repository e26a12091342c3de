//! `moca cosim --block tile`: one tile alone on a memory (`moca_tile_bench_d<DIM>`) in
//! Verilator, in lockstep with `golden::tile_bench::TileBench`, running one compiled GEMM under
//! random DMA back-pressure with invalid host words mixed in (`sim::cosim::TileBlock`); the
//! output matrix is read back from the RTL's memory and checked against a reference matmul.

use crate::cosim::{
    CosimArgs, check_vcd_path, clock_seed, data_checked_ok, default_shift, extend_json,
    print_idle_and_data, progress_bar, report_json, shape_str,
};
use crate::usage;
use anyhow::{Context, Result};
use golden::compile::{GemmShape, Layout};
use golden::spec;
use golden::tile::TileParams;
use serde_json::{Value, json};
use sim::cosim::{self, CosimOptions, CosimReport, TileBlock, TileScenario, TileStats};
use std::process::ExitCode;

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

/// The `moca cosim` command line that reruns `s`.
pub fn command(s: &TileScenario, seed: u64) -> String {
    format!(
        "moca cosim --block tile --dim {} --gemm {} --latency {} --shift {} --seed {seed}",
        s.tile.dim,
        shape_str(&s.shape),
        s.latency,
        s.shift
    )
}

/// The result of a tile co-simulation.
pub struct TileOutcome {
    /// The engine's report.
    pub report: CosimReport,
    /// Cycles, stream and the data check.
    pub stats: TileStats,
}

impl TileOutcome {
    /// Every port matched every cycle, the RTL ended idle with the golden model, and the
    /// output matrix is right.
    pub fn ok(&self) -> bool {
        data_checked_ok(
            &self.report,
            self.stats.rtl_cycles,
            self.stats.golden_cycles,
            self.stats.data_ok,
        )
    }

    /// The whole result as one JSON object (the `--json` interface).
    pub fn to_json(&self, s: &TileScenario, seed: u64) -> Value {
        let st = &self.stats;
        let mut v = report_json("tile", seed, &self.report, command(s, seed));
        let extra = json!({
            "rtl_cycles": st.rtl_cycles,
            "golden_cycles": st.golden_cycles,
            "words": st.words,
            "bad_words": st.bad_words,
            "dma_stalls": st.dma_stalls,
            "data_ok": st.data_ok,
            "passed": self.ok(),
            "dim": s.tile.dim,
            "sp_rows": s.tile.sp_rows,
            "acc_rows": s.tile.acc_rows,
            "mem_rows": s.mem_rows,
            "latency": s.latency,
            "shift": s.shift,
            "gemm": shape_str(&s.shape),
        });
        extend_json(&mut v, &[&extra]);
        v
    }
}

/// Run `s` with `seed` in Verilator lockstep with the golden bench until idle (`opts.cycles` is
/// replaced by the run length). `progress` gets the cycles done and the run length.
pub fn run(
    s: &TileScenario,
    seed: u64,
    opts: &CosimOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<TileOutcome> {
    let v = hw::emit::tile_bench(&s.tile, s.mem_rows, s.latency).map_err(usage)?;
    let mut b = TileBlock::new(*s, seed).map_err(usage)?;
    let total = b.cycles();
    let opts = CosimOptions {
        cycles: total,
        ..opts.clone()
    };
    let report = cosim::run(&v.text, &v.top, &mut b, &opts, &mut |done| {
        progress(done, total)
    })
    .context("co-simulating the tile")?;
    Ok(TileOutcome {
        report,
        stats: b.stats().clone(),
    })
}

/// `moca cosim --block tile`.
pub fn tile_cmd(a: &CosimArgs) -> Result<ExitCode> {
    let s = scenario(a)?;
    if let Some(p) = &a.vcd {
        check_vcd_path(p)?;
    }
    let seed = a.seed.unwrap_or_else(clock_seed);
    let opts = CosimOptions {
        vcd: a.vcd.clone(),
        mismatch_vcd: Some(std::env::temp_dir().join(format!("moca-cosim-tile-seed{seed}.vcd"))),
        ..Default::default()
    };
    if a.json {
        if a.seed.is_none() {
            eprintln!("moca cosim: seed {seed}");
        }
    } else {
        println!("moca cosim: seed {seed} (rerun: {})", command(&s, seed));
    }
    let mut pb = None;
    let outcome = run(&s, seed, &opts, &mut |done, total| {
        pb.get_or_insert_with(|| progress_bar(total, "tile"))
            .as_ref()
            .inspect(|p| p.set_position(done));
    });
    if let Some(Some(p)) = &pb {
        p.finish_and_clear();
    }
    let o = outcome?;
    let (r, st) = (&o.report, &o.stats);
    if a.json {
        println!("{}", o.to_json(&s, seed));
    } else {
        println!(
            "tile: DIM {}, {} scratchpad / {} accumulator rows, memory latency {}, {} memory \
             rows, STORE shift {}",
            s.tile.dim, s.tile.sp_rows, s.tile.acc_rows, s.latency, s.mem_rows, s.shift
        );
        println!(
            "  GEMM {}: {} host words ({} invalid, dropped), {} cycles with a DMA request held \
             by back-pressure",
            shape_str(&s.shape),
            st.words,
            st.bad_words,
            st.dma_stalls
        );
        print!("{r}");
        print_idle_and_data(
            r,
            st.rtl_cycles,
            st.golden_cycles,
            st.data_ok,
            "the output matrix (RTL and golden memory) equals",
        );
        if !o.ok() {
            println!("reproduce: {}", command(&s, seed));
        }
    }
    Ok(if o.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: CosimArgs,
    }

    fn parse(args: &[&str]) -> CosimArgs {
        let all = ["cosim", "--block", "tile"].into_iter();
        Cli::try_parse_from(all.chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{e}"))
            .a
    }

    fn usage_msg(args: &[&str]) -> String {
        let e = scenario(&parse(args)).unwrap_err();
        assert!(crate::is_usage_error(&e), "{e}");
        e.to_string()
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
        let s = scenario(&parse(&["--gemm", "24x20x28"])).unwrap();
        assert_eq!(s.tile, TileParams::new(4).unwrap());
        assert_eq!(s.latency, spec::tile::DEFAULT_MEM_LATENCY);
        assert_eq!(s.shift, default_shift(28));
        assert!(u64::from(s.mem_rows) >= Layout::new(4, s.shape, 0).end());
        let cmd = command(&s, 9);
        let args: Vec<&str> = cmd.split(' ').skip(4).collect();
        assert_eq!(scenario(&parse(&args)).unwrap(), s, "{cmd}");
    }
}

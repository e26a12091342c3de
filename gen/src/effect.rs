//! `moca effect`: the MoCA effect shown in RTL. Two tiles run the same memory-heavy GEMM;
//! tile 1's latency is measured alone, co-running with tile 0 unthrottled, and co-running with
//! tile 0 throttled. Each run is the emitted SoC in Verilator in lockstep with the golden SoC
//! (every observable port, every cycle; output matrices checked), and tile 1's latency is
//! measured on both sides: golden `TilePerf::finish_cycle`, and in Verilator the cycle after
//! the last one in which `idle$1` was 0 (a separate RTL-only run with the same stimulus).

use crate::cosim::SocScenario;
use crate::usage;
use anyhow::{Context, Result};
use clap::Args;
use golden::cfg::ThrottleConfig;
use golden::compile::GemmShape;
use golden::soc::SocParams;
use golden::tile::TileParams;
use serde_json::json;
use sim::CompiledModel;
use sim::cosim::CosimOptions;
use std::process::ExitCode;

/// Data seed of the three runs (the same matrices in each).
pub const SEED: u64 = 5;
/// `STORE` shift of the three runs.
pub const SHIFT: u8 = 4;

/// Arguments of `moca effect`.
#[derive(Args)]
#[command(
    allow_negative_numbers = true,
    long_about = "Two tiles run the same memory-heavy GEMM (DIM x 32*DIM x DIM: every COMPUTE \
    needs a fresh B block and writes a C block). Tile 1's latency in cycles is measured alone \
    (tile 0 runs a 1x1x1 GEMM), co-running with tile 0 unthrottled, and co-running with tile 0 \
    throttled to TARGET beats per WINDOW cycles. Each run is the emitted SoC in Verilator in \
    lockstep with the golden SoC, with the output matrices checked; the latencies measured in \
    RTL and in golden are printed side by side and must be identical (exit 1 otherwise).\n\n\
    Example:\n  moca effect --dim 4 --window 200 --target 20"
)]
pub struct EffectArgs {
    /// Systolic array dimension DIM (2..=16).
    #[arg(long, default_value_t = 4)]
    pub dim: i64,
    /// Shared-memory read latency in cycles (1..=1024).
    #[arg(long, default_value_t = 16)]
    pub latency: i64,
    /// Tile 0's throttle WINDOW in cycles (2..=65535) in the throttled run.
    #[arg(long, default_value_t = 200)]
    pub window: i64,
    /// Tile 0's throttle TARGET beats per window (1..=65535) in the throttled run.
    #[arg(long, default_value_t = 20)]
    pub target: i64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Tile 1's latency in one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latency {
    /// Measured in Verilator (`None`: the lockstep or the data check failed).
    pub rtl: Option<u64>,
    /// Golden `finish_cycle`.
    pub golden: u64,
    /// Lockstep passed, RTL idle with golden, matrices right.
    pub ok: bool,
}

fn run_one(
    params: SocParams,
    shapes: Vec<GemmShape>,
    throttles: Vec<(usize, ThrottleConfig)>,
) -> Result<Latency> {
    let s = SocScenario {
        params,
        shapes,
        throttles,
        shift: SHIFT,
    };
    let o = crate::cosim_checked::run(&s, SEED, &CosimOptions::default(), &mut |_, _| {})?;
    if !o.report.passed() {
        eprintln!("{}", o.report);
    }
    let golden = o.stats.per_tile_cycles.get(1).copied().unwrap_or(0);
    let mut rtl = None;
    if o.ok() {
        // Tile 1's latency measured on the RTL itself (same stimulus, model from the cache).
        let v = hw::emit::soc(&params).map_err(usage)?;
        let model = CompiledModel::compile(&v.text, &v.top, &Default::default())
            .context("building the SoC model")?;
        let mut b = s.block(SEED)?;
        rtl = b.rtl_tile_cycles(&model)?.get(1).copied();
    }
    Ok(Latency {
        rtl,
        golden,
        ok: o.ok(),
    })
}

/// The three runs: alone, co-running unthrottled, co-running with tile 0 throttled.
pub fn measure(
    dim: usize,
    latency: u32,
    throttle: ThrottleConfig,
) -> Result<(GemmShape, [Latency; 3])> {
    let params = SocParams {
        tiles: 2,
        tile: TileParams::new(dim).map_err(usage)?,
        mem_rows: crate::cosim::SOC_MIN_MEM_ROWS,
        latency,
    };
    params.validate().map_err(usage)?;
    let heavy = GemmShape::new(dim, 32 * dim, dim).map_err(usage)?;
    let small = GemmShape::new(1, 1, 1).map_err(usage)?;
    Ok((
        heavy,
        [
            run_one(params, vec![small, heavy], vec![])?,
            run_one(params, vec![heavy, heavy], vec![])?,
            run_one(params, vec![heavy, heavy], vec![(0, throttle)])?,
        ],
    ))
}

/// `moca effect`.
pub fn effect_cmd(a: &EffectArgs) -> Result<ExitCode> {
    let dim = crate::args::check_spec("dim", a.dim, &crate::args::DIM)? as usize;
    let latency = crate::args::check_spec("latency", a.latency, &crate::args::LATENCY)? as u32;
    let thr = ThrottleConfig::new(a.window, a.target, None).map_err(usage)?;
    if thr.window == 0 {
        return Err(usage(
            "WINDOW=0 switches the throttle off: allowed 2..=65535 here",
        ));
    }
    let (shape, [alone, corun, throttled]) = measure(dim, latency, thr)?;
    let runs = [
        ("alone", alone),
        ("unthrottled", corun),
        ("throttled", throttled),
    ];
    let same = runs.iter().all(|(_, l)| l.ok && l.rtl == Some(l.golden));
    if a.json {
        let mut v = json!({
            "dim": dim,
            "latency": latency,
            "gemm": format!("{}x{}x{}", shape.i, shape.j, shape.k),
            "seed": SEED,
            "window": thr.window,
            "target": thr.target,
            "identical": same,
        });
        let obj = v.as_object_mut().expect("object");
        for (name, l) in runs {
            obj.insert(
                name.to_string(),
                json!({ "rtl": l.rtl, "golden": l.golden, "ok": l.ok }),
            );
        }
        println!("{v}");
    } else {
        println!(
            "MoCA effect: 2 tiles, DIM {dim}, memory latency {latency}, GEMM {}x{}x{} per tile \
             (seed {SEED}); tile 1's latency in cycles:",
            shape.i, shape.j, shape.k
        );
        let heads = [
            "alone".to_string(),
            "+ tile 0".to_string(),
            format!("+ tile 0 at W={} T={}", thr.window, thr.target),
        ];
        let w = heads.iter().map(String::len).max().unwrap_or(0).max(10);
        let row = |label: &str, v: [String; 3]| {
            println!("{label:<8} {:>w$} {:>w$} {:>w$}", v[0], v[1], v[2]);
        };
        row("", heads.clone());
        let show = |l: &Latency| l.rtl.map_or("FAIL".to_string(), |c| c.to_string());
        row("RTL", [show(&alone), show(&corun), show(&throttled)]);
        row(
            "golden",
            [alone, corun, throttled].map(|l| l.golden.to_string()),
        );
        if same {
            println!(
                "identical in RTL and golden; co-running slows tile 1 by {:.2}x, throttling tile \
                 0 recovers {:.0}% of it",
                corun.golden as f64 / alone.golden.max(1) as f64,
                100.0 * corun.golden.saturating_sub(throttled.golden) as f64
                    / corun.golden.saturating_sub(alone.golden).max(1) as f64
            );
        } else {
            println!("RTL and golden DIFFER (or a run failed its lockstep or data check)");
        }
    }
    Ok(if same {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

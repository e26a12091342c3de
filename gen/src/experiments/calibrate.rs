//! `moca calibrate`: the predictor and the simulator against the artifact or the golden SoC.

use super::*;

/// What `moca calibrate` compares against.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Against {
    /// The MoCA artifact's per-layer predictions and measured isolated run times (part a).
    #[default]
    Artifact,
    /// The cycle-exact golden SoC, on scaled-down GEMM layers alone, co-running and throttled
    /// (part b).
    Soc,
    /// The MoCA artifact's FireSim measurements (data/firesim/): isolated per-layer timing on
    /// one tile and the static runs of sets A and B replayed (part c).
    Firesim,
}

/// Arguments of `moca calibrate`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    about = "Calibrate the predictor and the simulator against the artifact or the cycle-exact SoC",
    long_about = "Calibrate moca's models (docs/CALIBRATION.md).\n\n\
--against artifact (default): per network, the runtime's predictor (cycles, DRAM rows, loads) \
and the simulator's isolated per-layer cycles on a 2-tile group against the MoCA artifact's \
precompiled per-layer predictions, and the simulator's isolated whole-network time against the \
artifact's measured isolated run time. With --fit, grid-search the simulator's three fitted \
constants (overlap_serialization, aux_traffic_per_output_row, layer_overhead_cycles) against \
those seven run times and print the best.\n\n\
--against soc: scaled-down GEMM layers run on the cycle-exact golden SoC (DIM, L below; the \
matrices' values from --seed and checked against a reference matmul), alone, 2 and 4 side by \
side, throttled with fixed registers and with registers the MoCA runtime chooses; the same \
layers run through the simulator (`System::corun`) with the SoC's parameters. Prints per tenant \
the SoC's and the simulator's cycles, error and slowdown versus running alone. With --fit, \
grid-search the simulator's structural constants (overlap_serialization, queueing_factor) \
against the SoC.\n\n\
--against firesim: the simulator with the FireSim calibration against the MoCA artifact's \
FireSim measurements (data/firesim/, sets A and B): each network alone on one tile, per layer \
and whole, and the six static runs of A and B replayed through the artifact's harness (per-task \
error, stretch over isolated, SLA rate, makespan). With --fit, fit the physical parameters \
(DRAM latency, DMA/compute overlap, per-layer overhead on the isolated layers; row-buffer \
conflict latency on the static runs) and report them.\n\nExamples:\n  moca calibrate\n  \
moca calibrate --against soc\n  moca calibrate --against soc --fit --json\n  \
moca calibrate --against firesim --fit"
)]
pub struct CalibrateArgs {
    /// Where the experiment comes from.
    #[command(flatten)]
    pub source: ExperimentSource,
    /// Reference to compare against.
    #[arg(long, value_enum, default_value_t = Against::Artifact)]
    pub against: Against,
    /// Search the simulator's constants that fit the reference best.
    #[arg(long)]
    pub fit: bool,
    /// `--against soc` only: tiles' array dimension DIM (2..=16; default 4).
    #[arg(long)]
    pub dim: Option<usize>,
    /// `--against soc` only: shared-memory latency L in cycles (1..=1024; default 16).
    #[arg(long)]
    pub latency: Option<u32>,
    /// `--against soc` only: seed of the matrices' values (default 1; printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `moca calibrate`.
pub fn calibrate(args: &CalibrateArgs) -> Result<()> {
    if args.against != Against::Soc {
        for (flag, set) in [
            ("dim", args.dim.is_some()),
            ("latency", args.latency.is_some()),
            ("seed", args.seed.is_some()),
        ] {
            if set {
                return Err(crate::usage(format!(
                    "--{flag} applies to --against soc only"
                )));
            }
        }
    } else if args.source.layers.is_some() {
        return Err(crate::usage(
            "--layers does not apply to --against soc: it calibrates on GEMM scenarios, not on \
             networks (--config still sets the simulator's parameters)",
        ));
    }
    let exp = args.source.load()?;
    match args.against {
        Against::Artifact => calibrate_artifact(&exp, args),
        Against::Soc => calibrate_soc(&exp, args),
        Against::Firesim => crate::replay::calibrate_firesim(&args.source, args.fit, args.json),
    }
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1} %", 100.0 * x)
    } else {
        "-".into()
    }
}

fn calibrate_artifact(exp: &Experiment, args: &CalibrateArgs) -> Result<()> {
    if args.fit {
        let f = experiment::fit_isolated(exp);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&f)?);
            return Ok(());
        }
        println!(
            "best fit over {} points: overlap_serialization = {}, aux_traffic_per_output_row = {}, layer_overhead_cycles = {}",
            f.points,
            f.overlap_serialization,
            f.aux_traffic_per_output_row,
            f.layer_overhead_cycles
        );
        println!("| network | sim / measured isolated |");
        println!("|---|---|");
        for (n, r) in &f.ratios {
            println!("| {n} | {r:.3} |");
        }
        println!(
            "mean |ratio - 1| = {:.3}; put the values in the experiment TOML's [simulator] table to use them",
            f.mean_abs_error
        );
        return Ok(());
    }
    let rows = experiment::calibrate(exp);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "| network | layers | predictor cycles (artifact overlap) | runtime cycles (overlap 0.5) | DRAM rows | loads/tile | sim per-layer | sim / artifact sum | sim / measured isolated |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.3} | {:.3} |",
            r.network,
            r.layers,
            pct(r.predictor_cycles_mape),
            pct(r.runtime_cycles_mape),
            pct(r.dram_rows_mape),
            pct(r.loads_mape),
            pct(r.sim_layer_mape),
            r.sim_vs_predicted_sum,
            r.sim_vs_single_run
        );
    }
    println!("\nErrors are mean absolute relative errors over the network's layers.");
    Ok(())
}

fn calibrate_soc(exp: &Experiment, args: &CalibrateArgs) -> Result<()> {
    use golden::soc::SocParams;
    use multitenant::soc_calibration as sc;
    let dim = args.dim.unwrap_or(4);
    let seed = args.seed.unwrap_or(1);
    let mut soc = SocParams::new(4, dim).map_err(crate::usage)?;
    soc.latency = args
        .latency
        .unwrap_or(golden::spec::tile::DEFAULT_MEM_LATENCY);
    soc.validate().map_err(crate::usage)?;
    let scenarios = sc::default_scenarios(dim);
    let runs = sc::measure_soc(exp, &soc, &scenarios, seed)
        .context("running the calibration scenarios on the golden SoC")?;
    let c = if args.fit {
        sc::fit(&runs, &exp.sim)?
    } else {
        sc::compare(&runs, &exp.sim)?
    };
    if args.json {
        let mut v = serde_json::to_value(&c)?;
        v["seed"] = json!(seed);
        v["fit"] = json!(args.fit);
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "golden SoC: {} tiles, DIM {}, L {}; seed {} (matrix values; every result checked)",
        c.tiles, c.dim, c.latency, seed
    );
    println!(
        "simulator: overlap_serialization {}, queueing_factor {}{}",
        c.sim.overlap_serialization,
        c.sim.queueing_factor,
        if args.fit { " (best fit)" } else { "" }
    );
    println!(
        "| scenario | kind | tile | GEMM | WINDOW/TARGET | SoC cycles | sim cycles | error | SoC slowdown | sim slowdown | SoC rows/cycle |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for t in &c.tenants {
        let regs = if t.regs.enabled() {
            format!("{}/{}", t.regs.window, t.regs.target)
        } else {
            "off".into()
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.0} | {:+.1} % | {:.2} | {:.2} | {:.3} |",
            t.scenario,
            t.kind,
            t.tile,
            t.gemm,
            regs,
            t.soc_cycles,
            t.sim_cycles,
            100.0 * t.error,
            t.soc_slowdown,
            t.sim_slowdown,
            t.soc_rows_per_cycle
        );
    }
    let s = &c.summary;
    println!(
        "\nmean |error|: isolated {}, co-running {}, throttled {}; co-running slowdown {} (bias {:+.1} %); max |error| {}",
        pct(s.isolated_mape),
        pct(s.corun_mape),
        pct(s.throttled_mape),
        pct(s.corun_slowdown_mape),
        100.0 * s.corun_slowdown_bias,
        pct(s.max_error)
    );
    let p = &c.proportional;
    println!(
        "with proportional sharing instead of the SoC's round-robin: isolated {}, co-running {}, throttled {}; co-running slowdown {} (bias {:+.1} %)",
        pct(p.isolated_mape),
        pct(p.corun_mape),
        pct(p.throttled_mape),
        pct(p.corun_slowdown_mape),
        100.0 * p.corun_slowdown_bias
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibrate_runs_against_both_references_and_rejects_bad_soc_flags() {
        let args = CalibrateArgs {
            source: ExperimentSource::default(),
            against: Against::Soc,
            fit: true,
            dim: Some(2),
            latency: Some(8),
            seed: Some(3),
            json: true,
        };
        calibrate(&args).unwrap();
        calibrate(&CalibrateArgs {
            against: Against::Artifact,
            dim: None,
            latency: None,
            seed: None,
            ..args.clone()
        })
        .unwrap();
        // A flag of the other reference is an error, not ignored.
        let e = calibrate(&CalibrateArgs {
            against: Against::Artifact,
            ..args.clone()
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "--dim applies to --against soc only");
        for (dim, latency, msg) in [
            (1, 8, "dim=1 is out of range: allowed 2..=16"),
            (4, 0, "latency=0 is out of range: allowed 1..=1024"),
        ] {
            let e = calibrate(&CalibrateArgs {
                dim: Some(dim),
                latency: Some(latency),
                ..args.clone()
            })
            .unwrap_err();
            assert!(e.downcast_ref::<crate::UsageError>().is_some(), "{e}");
            assert_eq!(e.to_string(), msg);
        }
    }
}

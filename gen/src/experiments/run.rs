//! `moca run`: one multi-tenant experiment under one policy.

use super::*;

/// Arguments of `moca run`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    about = "Simulate one multi-tenant task stream under one policy",
    long_about = "Simulate one multi-tenant task stream (250 tasks by default, arrivals as in \
the MoCA artifact) on the 8-tile SoC with a shared DRAM channel, under one policy, and report \
SLA satisfaction, STP and fairness.\n\nPolicies: moca (2-tile groups, memory-aware scheduler, \
runtime-configured throttles), static (2-tile groups, no regulation), prema (whole accelerator, \
token-based preemption), planaria (dynamic spatial fission).\n\nExample:\n  moca run --policy \
moca --set C --qos M --seed 3 --json\n\n\
--calibration firesim runs the simulator with the parameters fitted to the MoCA artifact's \
FireSim measurements (docs/CALIBRATION.md (c), with each network's measured non-layer work); \
--arrivals DIR takes the task stream (network, priority, dispatch cycle, target) of a recorded \
run instead of generating one: the static run of --set/--qos in DIR/tasks.csv (format of \
data/firesim/; all runs of a set share the same tasks, the QoS level scales the targets). \
The artifact's experiment on its own arrivals (docs/REPRODUCTION.md (d)):\n  moca run \
--calibration firesim --arrivals data/firesim --set A --qos H --policy static"
)]
pub struct RunArgs {
    /// Scheduling policy: moca, static, prema or planaria.
    #[arg(long, default_value = "moca")]
    pub policy: Policy,
    /// Workload set (A = light networks, B = heavy, C = mixed; any key of the TOML's `[mix]`).
    #[arg(long, default_value = "C")]
    pub set: String,
    /// QoS level (H = tight targets x0.8, M = x1.0, L = loose x1.2).
    #[arg(long, default_value = "M")]
    pub qos: String,
    /// Seed of the task stream (network, priority and arrival draws; ChaCha8).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of tasks (default: the TOML's `scheduler.tasks`, 250).
    #[arg(long)]
    pub tasks: Option<usize>,
    /// Simulator calibration: artifact (the default simulator, calibrated against the golden
    /// SoC and the artifact's predictions) or firesim (fitted to the artifact's FireSim
    /// measurements, `moca calibrate --against firesim`).
    #[arg(long, value_enum, default_value_t = Calibration::Artifact)]
    pub calibration: Calibration,
    /// Take the task stream from the recorded static run of --set/--qos in DIR (tasks.csv,
    /// rounds.csv, runs.csv in the format of data/firesim/) instead of generating it.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["seed", "tasks"])]
    pub arrivals: Option<PathBuf>,
    /// MoCA's co-location: memory-aware (moca's pairing of whole tasks) or artifact (the MoCA
    /// artifact's 1+1 grouping of a heavy network's last part with a light partner; see
    /// data/baselines.md). Default: the TOML's `scheduler.moca_grouping`, memory-aware.
    #[arg(long, value_name = "memory-aware|artifact")]
    pub grouping: Option<multitenant::sched::grouping::Grouping>,
    /// Where the experiment comes from.
    #[command(flatten)]
    pub source: ExperimentSource,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The simulator calibration of `moca run` (`--calibration`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Calibration {
    /// The experiment's `[simulator]` parameters (by default calibrated against the golden SoC
    /// and the artifact's predictions).
    #[default]
    Artifact,
    /// The parameters fitted to the artifact's FireSim measurements (docs/CALIBRATION.md (c)),
    /// with each network's measured non-layer work.
    Firesim,
}

impl Calibration {
    /// The flag's value.
    pub fn name(self) -> &'static str {
        match self {
            Calibration::Artifact => "artifact",
            Calibration::Firesim => "firesim",
        }
    }

    /// `exp` under this calibration.
    pub fn apply(self, exp: Experiment) -> Experiment {
        match self {
            Calibration::Artifact => exp,
            Calibration::Firesim => multitenant::firesim::calibrate::firesim_experiment(&exp),
        }
    }
}

/// The task stream of the static run of `set`/`qos` recorded in `dir` (every read, parse or
/// selection error is bad input).
pub fn recorded_arrivals(
    exp: &Experiment,
    dir: &std::path::Path,
    set: &str,
    qos: &str,
) -> Result<Vec<multitenant::system::Task>> {
    if !dir.is_dir() {
        return Err(crate::usage(format!(
            "--arrivals {}: not a directory (it must hold tasks.csv, rounds.csv, runs.csv in the \
             format of data/firesim/)",
            dir.display()
        )));
    }
    let (files, nets) = crate::replay::load_trace(Some(dir))?;
    let trace = files
        .load(set, qos, "static")
        .map_err(|e| crate::usage(format!("--arrivals {}: {e}", dir.display())))?;
    multitenant::firesim::replay::recorded_tasks(exp, &trace, &nets)
        .map_err(|e| crate::usage(format!("--arrivals {}: {e}", dir.display())))
}

fn report_json(r: &RunReport, wall_ms: f64, args: &RunArgs) -> serde_json::Value {
    let m = &r.metrics;
    json!({
        "calibration": args.calibration.name(),
        "arrivals": args.arrivals.as_ref().map(|p| p.display().to_string()),
        "policy": r.policy.name(),
        "set": r.set,
        "qos": r.qos,
        "seed": r.seed,
        "tasks": m.tasks,
        "sla_rate": m.sla_rate,
        "sla_rate_by_priority": {
            "low": m.sla_rate_by_priority.low,
            "mid": m.sla_rate_by_priority.mid,
            "high": m.sla_rate_by_priority.high,
        },
        "stp": m.stp,
        "fairness": m.fairness,
        "makespan_cycles": m.makespan_cycles,
        "layers_run": r.layers_run,
        "throttled_layers": r.throttled_layers,
        "throttled_cycles": r.sim.throttled_cycles,
        "throttle_binding_cycles": r.sim.throttle_binding_cycles,
        "preemptions": r.preemptions,
        "wall_ms": wall_ms,
    })
}

fn opt(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.1} %", 100.0 * v))
}

/// `moca run`.
pub fn run(args: &RunArgs) -> Result<()> {
    let mut exp = args.calibration.apply(args.source.load()?);
    if let Some(g) = args.grouping {
        if args.policy != Policy::Moca {
            return Err(crate::usage(format!(
                "--grouping applies to --policy moca only (got --policy {})",
                args.policy
            )));
        }
        exp.scheduler.moca_grouping = g;
    }
    let profiles = Profiles::new(&exp);
    let cfg = RunConfig {
        policy: args.policy,
        set: args.set.clone(),
        qos: args.qos.clone(),
        seed: args.seed,
        tasks: args.tasks,
    };
    let arrivals = match &args.arrivals {
        Some(dir) => Some(recorded_arrivals(&exp, dir, &args.set, &args.qos)?),
        None => None,
    };
    let t0 = Instant::now();
    let r = match &arrivals {
        Some(tasks) => experiment::run_stream(&exp, &profiles, &cfg, tasks, false)?,
        None => experiment::run(&exp, &profiles, &cfg, false)?,
    };
    let wall_ms = t0.elapsed().as_secs_f64() * 1e3;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report_json(&r, wall_ms, args))?
        );
        return Ok(());
    }
    let m = &r.metrics;
    let stream = match &args.arrivals {
        Some(dir) => format!("arrivals {}", dir.display()),
        None => format!("seed {}", r.seed),
    };
    println!(
        "policy {}  set {}  qos {}  {stream}  tasks {}  calibration {}",
        r.policy,
        r.set,
        r.qos,
        m.tasks,
        args.calibration.name()
    );
    if r.policy == Policy::Moca {
        println!("  grouping           {}", exp.scheduler.moca_grouping);
    }
    println!("  SLA satisfaction   {:.1} %", 100.0 * m.sla_rate);
    println!(
        "    by priority      low {}  mid {}  high {}",
        opt(m.sla_rate_by_priority.low),
        opt(m.sla_rate_by_priority.mid),
        opt(m.sla_rate_by_priority.high)
    );
    println!("  STP                {:.3}", m.stp);
    println!("  fairness           {:.3}", m.fairness);
    println!("  makespan           {} cycles", m.makespan_cycles);
    if r.sim.throttled_cycles > 0.0 {
        println!(
            "  throttles bind     {:.1} % of throttled layer-cycles (cap below the share the \
             tenant would get unthrottled)",
            100.0 * r.sim.throttle_binding_cycles / r.sim.throttled_cycles
        );
    }
    println!(
        "  layers {} (throttled {}), preemptions {}, simulated in {:.1} ms",
        r.layers_run, r.throttled_layers, r.preemptions, wall_ms
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_args(policy: Policy) -> RunArgs {
        RunArgs {
            policy,
            set: "C".into(),
            qos: "M".into(),
            seed: 2,
            tasks: Some(30),
            calibration: Calibration::Artifact,
            arrivals: None,
            grouping: None,
            source: ExperimentSource::default(),
            json: true,
        }
    }

    #[test]
    fn run_takes_the_artifact_grouping_for_moca_only() {
        use multitenant::sched::grouping::Grouping;
        for g in Grouping::ALL {
            run(&RunArgs {
                grouping: Some(g),
                ..run_args(Policy::Moca)
            })
            .unwrap();
        }
        let e = run(&RunArgs {
            grouping: Some(Grouping::Artifact),
            ..run_args(Policy::Static)
        })
        .unwrap_err();
        assert!(e.downcast_ref::<crate::UsageError>().is_some(), "{e}");
        assert!(e.to_string().contains("--policy moca only"), "{e}");
        assert_eq!("artifact".parse::<Grouping>().unwrap(), Grouping::Artifact);
        assert!("fifo".parse::<Grouping>().is_err());
    }

    #[test]
    fn run_works_for_every_policy() {
        for p in Policy::ALL {
            run(&run_args(p)).unwrap();
        }
        let exp = Experiment::artifact();
        let prof = Profiles::new(&exp);
        let cfg = RunConfig {
            policy: Policy::Moca,
            set: "C".into(),
            qos: "M".into(),
            seed: 2,
            tasks: Some(30),
        };
        let v = report_json(
            &experiment::run(&exp, &prof, &cfg, false).unwrap(),
            1.0,
            &run_args(Policy::Moca),
        );
        let (thr, bind) = (
            v["throttled_cycles"].as_f64().unwrap(),
            v["throttle_binding_cycles"].as_f64().unwrap(),
        );
        assert!(thr > 0.0 && (0.0..=thr).contains(&bind), "{v}");
        let mut bad = run_args(Policy::Moca);
        bad.set = "Z".into();
        assert!(
            run(&bad)
                .unwrap_err()
                .to_string()
                .contains("unknown workload set")
        );
    }
}

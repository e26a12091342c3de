//! `moca replay`: replay a recorded FireSim run of the MoCA artifact through moca's models
//! (`multitenant::firesim`), and `moca calibrate --against firesim`.

use crate::experiments::ExperimentSource;
use anyhow::{Context, Result};
use multitenant::firesim::calibrate as fc;
use multitenant::firesim::data::{self, DataError, TraceFiles};
use multitenant::firesim::harness::Indexing;
use multitenant::firesim::replay::{self, ReplayReport};
use multitenant::system::Profiles;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Workload set of the recorded run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Set {
    /// Light networks (squeezenet, kws, yololite).
    #[value(name = "A")]
    A,
    /// Heavy networks (resnet50, alexnet, googlenet, yolov2).
    #[value(name = "B")]
    B,
    /// All seven.
    #[value(name = "C")]
    C,
}

/// QoS level of the recorded run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qos {
    /// Targets x 0.8.
    #[value(name = "H")]
    H,
    /// Targets x 1.0.
    #[value(name = "M")]
    M,
    /// Targets x 1.2.
    #[value(name = "L")]
    L,
}

/// Policy of the recorded run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TracePolicy {
    /// The artifact's baseline (`priority_mp8_static*`).
    Static,
    /// MoCA (`priority_mp8_dynamic*`).
    Moca,
}

/// Arguments of `moca replay`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    about = "Replay a recorded FireSim run of the MoCA artifact through moca's models",
    long_about = "Replay one recorded run of the MoCA artifact (FireSim logs as CSV, format of \
data/firesim/README.md) through moca's models: the same tasks on the same 2-tile sub-groups in \
the same order, round by round, with the artifact harness' semantics (per-tile virtual clocks, \
round starts, releases, latency floors and the 1000 sentinel). The four sub-groups run side by \
side, layer by layer, sharing the L2 and DRAM through the calibrated simulator; MoCA runs get \
their throttles from MoCA's runtime. Reports per task predicted vs measured thread runtime, per \
network mean execution time and stretch over isolated, per run the task error, makespan and SLA \
rate (the harness' way) from measured and predicted times.\n\n--as-logged replays the harness' \
off-by-one (`priority_mp8_dynamic.c:142`), reproducing the logged executed-layer counts; without \
it every task runs whole.\n\nExamples:\n  moca replay --set A --qos M --policy static\n  moca \
replay --trace data/firesim --set B --qos H --policy moca --as-logged --json"
)]
pub struct ReplayArgs {
    /// Directory with tasks.csv, rounds.csv, runs.csv (and optionally networks.csv) in the format
    /// of data/firesim/ (default: the embedded copy of data/firesim/).
    #[arg(long, value_name = "DIR")]
    pub trace: Option<PathBuf>,
    /// Workload set.
    #[arg(long, value_enum, required_unless_present = "all")]
    pub set: Option<Set>,
    /// QoS level.
    #[arg(long, value_enum, required_unless_present = "all")]
    pub qos: Option<Qos>,
    /// Policy of the recorded run.
    #[arg(long, value_enum, required_unless_present = "all")]
    pub policy: Option<TracePolicy>,
    /// Replay every run of the directory and print one table (or JSON array): the artifact's
    /// SLA rate as logged, recounted with never-executed tasks as misses, STP and fairness with
    /// each network's own single-run time, and the replay's errors.
    #[arg(long, conflicts_with_all = ["set", "qos", "policy", "csv"])]
    pub all: bool,
    /// Replay the harness' off-by-one (reproduces the logged `conv` of MoCA runs).
    #[arg(long)]
    pub as_logged: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write the per-task comparison to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Where the experiment (networks, SoC, simulator parameters) comes from.
    #[command(flatten)]
    pub source: ExperimentSource,
}

fn set_name(s: Set) -> &'static str {
    match s {
        Set::A => "A",
        Set::B => "B",
        Set::C => "C",
    }
}

fn qos_name(q: Qos) -> &'static str {
    match q {
        Qos::H => "H",
        Qos::M => "M",
        Qos::L => "L",
    }
}

fn policy_name(p: TracePolicy) -> &'static str {
    match p {
        TracePolicy::Static => "static",
        TracePolicy::Moca => "moca",
    }
}

/// Trace files and network constants of `--trace` (every read or parse error is bad input).
pub fn load_trace(dir: Option<&Path>) -> Result<(TraceFiles, Vec<data::NetConsts>)> {
    let Some(dir) = dir else {
        return Ok((TraceFiles::embedded(), data::embedded_networks()));
    };
    if !dir.is_dir() {
        return Err(crate::usage(format!(
            "--trace {}: not a directory (it must hold tasks.csv, rounds.csv, runs.csv)",
            dir.display()
        )));
    }
    let files = TraceFiles::read(dir).map_err(crate::usage)?;
    let nets_path = dir.join("networks.csv");
    let nets = if nets_path.exists() {
        let text = std::fs::read_to_string(&nets_path)
            .with_context(|| format!("{}: cannot read", nets_path.display()))
            .map_err(crate::usage)?;
        data::parse_networks(&nets_path.display().to_string(), &text).map_err(crate::usage)?
    } else {
        data::embedded_networks()
    };
    Ok((files, nets))
}

fn report_json(r: &ReplayReport, wall_ms: f64) -> serde_json::Value {
    let nets: serde_json::Map<String, serde_json::Value> = r
        .networks
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                json!({
                    "tasks": v.tasks,
                    "measured_mean": v.measured_mean,
                    "predicted_mean": v.predicted_mean,
                    "isolated_predicted": v.isolated_predicted,
                    "stretch_measured": v.stretch_measured,
                    "stretch_predicted": v.stretch_predicted,
                }),
            )
        })
        .collect();
    json!({
        "set": r.set,
        "qos": r.qos,
        "policy": r.policy,
        "as_logged": r.as_logged,
        "tasks": r.tasks,
        "executed": r.executed,
        "executed_measured": r.executed_measured,
        "conv_matches": r.conv_matches,
        "task_mean_abs_error": r.task_mean_abs_error,
        "task_p90_abs_error": r.task_p90_abs_error,
        "task_mean_error": r.task_mean_error,
        "sla_rate_measured": r.sla_rate_measured,
        "sla_rate_predicted": r.sla_rate_predicted,
        "sla_rate_predicted_at_logged_starts": r.sla_rate_predicted_at_logged_starts,
        "makespan_measured": r.makespan_measured,
        "makespan_predicted": r.makespan_predicted,
        "rounds": r.rounds,
        "round_starts_measured": r.round_starts.iter().map(|x| x.0).collect::<Vec<_>>(),
        "round_starts_predicted": r.round_starts.iter().map(|x| x.1).collect::<Vec<_>>(),
        "networks": nets,
        "wall_ms": wall_ms,
    })
}

fn write_csv(path: &Path, r: &ReplayReport) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("--csv {}: cannot create a file there", path.display()))
        .map_err(crate::usage)?;
    {
        let mut w = csv::Writer::from_writer(tmp.as_file());
        w.write_record([
            "task",
            "network",
            "measured_thread_cycles",
            "predicted_thread_cycles",
            "error",
            "measured_latency_cycles",
            "predicted_latency_cycles",
            "target_cycles",
            "measured_conv",
            "predicted_conv",
        ])?;
        for t in &r.per_task {
            let err = if t.measured_thread > 0 && t.predicted_thread > 0 {
                format!(
                    "{:.4}",
                    (t.predicted_thread as f64 - t.measured_thread as f64)
                        / t.measured_thread as f64
                )
            } else {
                String::new()
            };
            w.write_record([
                t.task.to_string(),
                t.network.clone(),
                t.measured_thread.to_string(),
                t.predicted_thread.to_string(),
                err,
                t.measured_latency.to_string(),
                t.predicted_latency.to_string(),
                t.target.to_string(),
                t.measured_conv.to_string(),
                t.predicted_conv.to_string(),
            ])?;
        }
        w.flush()?;
    }
    tmp.persist(path)
        .with_context(|| format!("--csv {}: cannot write", path.display()))?;
    Ok(())
}

/// `moca replay`.
pub fn replay_cmd(args: &ReplayArgs) -> Result<()> {
    let exp = fc::firesim_experiment(&args.source.load()?);
    let (files, nets) = load_trace(args.trace.as_deref())?;
    if args.all {
        return replay_all(&exp, &files, &nets, args);
    }
    let (Some(set), Some(qos), Some(policy)) = (args.set, args.qos, args.policy) else {
        return Err(crate::usage(
            "--set, --qos and --policy are required without --all",
        ));
    };
    let (set, qos, policy) = (set_name(set), qos_name(qos), policy_name(policy));
    let trace = files.load(set, qos, policy).map_err(|e| match e {
        DataError::Io { .. } => crate::usage(e),
        other => crate::usage(other),
    })?;
    let t0 = Instant::now();
    let profiles = Profiles::new(&exp);
    let indexing = if args.as_logged {
        Indexing::AsLogged
    } else {
        Indexing::Intended
    };
    let r = replay::replay(&exp, &profiles, &trace, &nets, indexing).map_err(crate::usage)?;
    let wall_ms = t0.elapsed().as_secs_f64() * 1e3;
    if let Some(p) = &args.csv {
        write_csv(p, &r)?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report_json(&r, wall_ms))?
        );
        return Ok(());
    }
    println!(
        "replay of {set}/{qos}/{policy} ({}), {} tasks, {} rounds: executed {} (log {}), conv as logged for {} tasks",
        if args.as_logged {
            "as logged"
        } else {
            "every task whole"
        },
        r.tasks,
        r.rounds,
        r.executed,
        r.executed_measured,
        r.conv_matches
    );
    println!(
        "\n| network | tasks | measured mean | predicted mean | error | isolated (moca, 2 tiles) | stretch measured | stretch predicted |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let s = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.3}"));
    for (n, v) in &r.networks {
        println!(
            "| {n} | {} | {} | {} | {:+.1} % | {} | {} | {} |",
            v.tasks,
            v.measured_mean,
            v.predicted_mean,
            100.0 * (v.predicted_mean as f64 / v.measured_mean.max(1) as f64 - 1.0),
            v.isolated_predicted,
            s(v.stretch_measured),
            s(v.stretch_predicted)
        );
    }
    println!(
        "\nper-task thread runtime error: mean |e| {:.1} %, p90 {:.1} %, bias {:+.1} %",
        100.0 * r.task_mean_abs_error,
        100.0 * r.task_p90_abs_error,
        100.0 * r.task_mean_error
    );
    println!(
        "SLA rate (latency < target, all tasks): measured {:.1} %, predicted {:.1} % ({:.1} % with the logged round starts)",
        100.0 * r.sla_rate_measured,
        100.0 * r.sla_rate_predicted,
        100.0 * r.sla_rate_predicted_at_logged_starts
    );
    println!(
        "makespan: measured {} cycles, predicted {} cycles ({:+.1} %); replayed in {wall_ms:.0} ms",
        r.makespan_measured,
        r.makespan_predicted,
        100.0 * (r.makespan_predicted as f64 / r.makespan_measured.max(1) as f64 - 1.0)
    );
    if let Some(p) = &args.csv {
        println!("per-task comparison written to {}", p.display());
    }
    Ok(())
}

/// The artifact's metrics of one logged run: (a) as it reports them, (b) recounted.
#[derive(Clone, Debug, serde::Serialize)]
struct Recount {
    sla_rate_logged: f64,
    sla_rate_never_run_missed: f64,
    never_executed: usize,
    stp: f64,
    fairness: f64,
}

fn recount(exp: &multitenant::workload::Experiment, trace: &data::RunTrace) -> Result<Recount> {
    use multitenant::metrics::{self, TaskOutcome};
    let n = trace.tasks.len().max(1) as f64;
    let met = |t: &data::TaskRow| t.latency_cycles < t.target_cycles;
    let mut outcomes = Vec::new();
    for t in trace.tasks.iter().filter(|t| t.executed) {
        let net = exp
            .network_index(&t.network)
            .ok_or_else(|| crate::usage(format!("network `{}` is not one of moca's", t.network)))?;
        outcomes.push(TaskOutcome {
            network: net,
            priority: t.priority,
            dispatch: t.dispatched_cycle,
            finish: t.dispatched_cycle + t.latency_cycles,
            target: t.target_cycles,
        });
    }
    let single = &exp.scheduler.single_run_cycles;
    Ok(Recount {
        sla_rate_logged: trace.tasks.iter().filter(|t| met(t)).count() as f64 / n,
        sla_rate_never_run_missed: trace.tasks.iter().filter(|t| t.executed && met(t)).count()
            as f64
            / n,
        never_executed: trace.tasks.iter().filter(|t| !t.executed).count(),
        stp: metrics::stp(&outcomes, single),
        fairness: metrics::fairness(&outcomes, single),
    })
}

fn replay_all(
    exp: &multitenant::workload::Experiment,
    files: &TraceFiles,
    nets: &[data::NetConsts],
    args: &ReplayArgs,
) -> Result<()> {
    let parsed = files.parsed().map_err(crate::usage)?;
    let profiles = Profiles::new(exp);
    let indexing = if args.as_logged {
        Indexing::AsLogged
    } else {
        Indexing::Intended
    };
    let mut rows = Vec::new();
    for (s, q, p) in files.runs().map_err(crate::usage)? {
        let tr = parsed.load(&s, &q, &p).map_err(crate::usage)?;
        let t0 = Instant::now();
        let r = replay::replay(exp, &profiles, &tr, nets, indexing).map_err(crate::usage)?;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        rows.push((recount(exp, &tr)?, r, ms));
    }
    if args.json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(c, r, ms)| {
                let mut j = report_json(r, *ms);
                j["recount"] = serde_json::to_value(c).expect("plain data");
                j
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "| run | executed | (a) SLA as logged | (b) SLA, never-run = miss | (b) STP | (b) fairness | (c) task error mean / p90 | (c) SLA predicted (at logged round starts) | (c) makespan measured / predicted | ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (c, r, ms) in &rows {
        println!(
            "| {}/{}/{} | {} | {:.1} % | {:.1} % | {:.3} | {:.3} | {:.1} % / {:.1} % | {:.1} % ({:.1} %) | {} / {} ({:+.1} %) | {ms:.0} |",
            r.set,
            r.qos,
            r.policy,
            r.executed_measured,
            100.0 * c.sla_rate_logged,
            100.0 * c.sla_rate_never_run_missed,
            c.stp,
            c.fairness,
            100.0 * r.task_mean_abs_error,
            100.0 * r.task_p90_abs_error,
            100.0 * r.sla_rate_predicted,
            100.0 * r.sla_rate_predicted_at_logged_starts,
            r.makespan_measured,
            r.makespan_predicted,
            100.0 * (r.makespan_predicted as f64 / r.makespan_measured.max(1) as f64 - 1.0)
        );
    }
    println!(
        "\n(a) latency < target over all tasks, as the harness prints it; (b) never-executed tasks count as misses, STP / fairness over executed tasks with each network's own single_run_cycles (moca-artifact.toml); (c) moca's replay ({}), thread-runtime error over tasks executed in the log and the replay.",
        if args.as_logged {
            "--as-logged"
        } else {
            "every task whole"
        }
    );
    Ok(())
}

/// `moca calibrate --against firesim [--fit]`.
pub fn calibrate_firesim(source: &ExperimentSource, fit: bool, json_out: bool) -> Result<()> {
    let base = source.load()?;
    let (exp, fitted) = if fit {
        let f = fc::fit(&base);
        let mut e = base.clone();
        f.params.apply(&mut e.sim);
        (e, Some(f))
    } else {
        (fc::firesim_experiment(&base), None)
    };
    let rep = fc::evaluate(&exp);
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "fit": fitted,
                "parameters": fc::Params::of(&exp.sim),
                "calibrated": fc::Params::FIRESIM,
                "report": rep,
            }))?
        );
        return Ok(());
    }
    if let Some(f) = &fitted {
        println!(
            "fit over {} points (sets A and B only): {}",
            f.points, f.params
        );
        println!("objective {:.4}\n", f.objective);
    }
    println!("parameters: {}", fc::Params::of(&exp.sim));
    println!("\n(i) isolated, 1 tile, against isolated_1tile_layers.csv (7 repeats' mean):");
    println!(
        "| network | layers | per-layer mean abs error | whole network measured | predicted | error |"
    );
    println!("|---|---|---|---|---|---|");
    for n in &rep.isolated {
        println!(
            "| {} | {} | {:.1} % | {} | {} | {:+.1} % |",
            n.network,
            n.layers,
            100.0 * n.layer_mean_abs_error,
            n.measured_total,
            n.predicted_total,
            100.0 * n.total_error
        );
    }
    println!("\n(ii) co-running, the static runs of sets A and B replayed:");
    println!(
        "| run | task mean abs error | p90 | SLA measured | SLA predicted | makespan measured | predicted | error |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &rep.runs {
        println!(
            "| {}/{}/{} | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {} | {} | {:+.1} % |",
            r.set,
            r.qos,
            r.policy,
            100.0 * r.task_mean_abs_error,
            100.0 * r.task_p90_abs_error,
            100.0 * r.sla_rate_measured,
            100.0 * r.sla_rate_predicted,
            r.makespan_measured,
            r.makespan_predicted,
            100.0 * (r.makespan_predicted as f64 / r.makespan_measured.max(1) as f64 - 1.0)
        );
    }
    println!("\n| network | stretch measured | stretch predicted | difference |");
    println!("|---|---|---|---|");
    for s in &rep.stretch {
        println!(
            "| {} | {:.3} | {:.3} | {:+.1} % |",
            s.network,
            s.measured,
            s.predicted,
            100.0 * (s.predicted / s.measured - 1.0)
        );
    }
    println!(
        "\ngoals: per-layer <= 10 % ({}), whole network <= 5 % ({}), per-task <= 10 % ({}), stretch within 5 % ({}), SLA within 5 points ({}), makespan within 5 % ({})",
        rep.goals.per_layer,
        rep.goals.whole_network,
        rep.goals.per_task,
        rep.goals.stretch,
        rep.goals.sla,
        rep.goals.makespan
    );
    Ok(())
}

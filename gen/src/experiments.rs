//! `moca run`, `moca sweep`, `moca runtime` and `moca calibrate`: the multi-tenant experiments.
//!
//! The heavy lifting lives in `multitenant` (`multitenant::experiment`, `multitenant::system`, `multitenant::sched`,
//! `multitenant::runtime`); this module parses flags, runs in parallel and writes reports.

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use multitenant::experiment::{self, Cell, RunConfig, RunReport};
use multitenant::runtime::{self, CoRunner, Partition, TaskState};
use multitenant::sched::Policy;
use multitenant::system::Profiles;
use multitenant::workload::Experiment;
use rayon::prelude::*;
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the experiment comes from (shared by every command).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ExperimentSource {
    /// Experiment/SoC TOML in the format of `data/moca-artifact.toml` (default: the embedded
    /// artifact constants). An optional `[simulator]` table overrides the simulator's SoC
    /// parameters; an optional top-level `layers = "file.csv"` adds networks.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Extra layer CSV (same columns as `data/layers.csv`) replacing networks of the same name.
    /// New networks must also be listed in the TOML's `networks` with their constants.
    #[arg(long, value_name = "FILE")]
    pub layers: Option<PathBuf>,
}

impl ExperimentSource {
    /// Load the experiment.
    pub fn load(&self) -> Result<Experiment> {
        let mut exp = match &self.config {
            Some(p) => Experiment::from_file(p)?,
            None => Experiment::artifact(),
        };
        if let Some(p) = &self.layers {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("{}: cannot read", p.display()))?;
            exp = exp.with_layers(&p.display().to_string(), &text)?;
        }
        Ok(exp)
    }
}

/// Arguments of `moca run`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    about = "Simulate one multi-tenant task stream under one policy",
    long_about = "Simulate one multi-tenant task stream (250 tasks by default, arrivals as in \
the MoCA artifact) on the 8-tile SoC with a shared DRAM channel, under one policy, and report \
SLA satisfaction, STP and fairness.\n\nPolicies: moca (2-tile groups, memory-aware scheduler, \
runtime-configured throttles), static (2-tile groups, no regulation), prema (whole accelerator, \
token-based preemption), planaria (dynamic spatial fission).\n\nExample:\n  moca run --policy \
moca --set C --qos M --seed 3 --json"
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

fn report_json(r: &RunReport, wall_ms: f64) -> serde_json::Value {
    let m = &r.metrics;
    json!({
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
    let mut exp = args.source.load()?;
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
    let t0 = Instant::now();
    let r = experiment::run(&exp, &profiles, &cfg, false)?;
    let wall_ms = t0.elapsed().as_secs_f64() * 1e3;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report_json(&r, wall_ms))?
        );
        return Ok(());
    }
    let m = &r.metrics;
    println!(
        "policy {}  set {}  qos {}  seed {}  tasks {}",
        r.policy, r.set, r.qos, r.seed, m.tasks
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

/// Arguments of `moca sweep`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    about = "Run every policy x workload set x QoS level x seed and write CSV, Markdown and SVG",
    long_about = "Run the paper's experiment matrix: every policy x workload set x QoS level, \
for K seeds each, in parallel. Writes into DIR:\n  runs.csv        one row per run\n  summary.md      \
means with standard deviation, and averages normalised to static\n  sla.svg, stp.svg, fairness.svg  \
bar charts per set/QoS normalised to static\n  bandwidth.svg, bandwidth.csv  per-tenant DRAM \
bandwidth over time of one MoCA run (set C, QoS M, first seed)\n\nExample:\n  moca sweep --seeds 5 \
--out results/"
)]
pub struct SweepArgs {
    /// Seeds per (policy, set, QoS) cell.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// First seed (seeds are first..first+K).
    #[arg(long, default_value_t = 1)]
    pub first_seed: u64,
    /// Tasks per run (default: the TOML's `scheduler.tasks`, 250).
    #[arg(long)]
    pub tasks: Option<usize>,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Where the experiment comes from.
    #[command(flatten)]
    pub source: ExperimentSource,
}

/// Summary of a sweep (returned for tests and printed).
#[derive(Debug, Clone)]
pub struct SweepSummary {
    /// Per policy: (mean SLA, mean STP / static, mean fairness / static) over sets and QoS.
    pub averages: Vec<(Policy, f64, f64, f64)>,
    /// Runs executed.
    pub runs: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Average over cells of each policy: (SLA, STP/static, fairness/static).
pub fn policy_averages(cells: &[Cell]) -> Vec<(Policy, f64, f64, f64)> {
    Policy::ALL
        .iter()
        .filter_map(|&p| {
            let cs: Vec<&Cell> = cells.iter().filter(|c| c.policy == p).collect();
            if cs.is_empty() {
                return None;
            }
            let n = cs.len() as f64;
            Some((
                p,
                cs.iter().map(|c| c.sla.0).sum::<f64>() / n,
                cs.iter().map(|c| c.stp_vs_static).sum::<f64>() / n,
                cs.iter().map(|c| c.fairness_vs_static).sum::<f64>() / n,
            ))
        })
        .collect()
}

/// Run the sweep and write every output; returns the summary.
pub fn sweep_to(args: &SweepArgs) -> Result<SweepSummary> {
    let exp = args.source.load()?;
    let profiles = Profiles::new(&exp);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create", args.out.display()))?;
    let cfgs = experiment::sweep_configs(&exp, args.seeds, args.first_seed, args.tasks);
    let pb = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(cfgs.len() as u64)
    };
    pb.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} runs {elapsed_precise} (eta {eta})")
            .expect("valid template"),
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()?;
    let t0 = Instant::now();
    let reports: Vec<RunReport> = pool.install(|| {
        cfgs.par_iter()
            .map(|c| {
                let r = experiment::run(&exp, &profiles, c, false);
                pb.inc(1);
                r
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    pb.finish_and_clear();
    let seconds = t0.elapsed().as_secs_f64();
    let cells = experiment::aggregate(&reports);
    let averages = policy_averages(&cells);
    write_runs_csv(&args.out.join("runs.csv"), &reports)?;
    write_summary(
        &args.out.join("summary.md"),
        &cells,
        &averages,
        args,
        seconds,
        reports.len(),
    )?;
    for (file, title, f) in [
        (
            "sla.svg",
            "SLA satisfaction rate (normalised to static)",
            0usize,
        ),
        ("stp.svg", "STP (normalised to static)", 1),
        ("fairness.svg", "Fairness (normalised to static)", 2),
    ] {
        let svg = bar_chart(&cells, title, |c| match f {
            0 => c.sla_vs_static,
            1 => c.stp_vs_static,
            _ => c.fairness_vs_static,
        });
        write(&args.out.join(file), &svg)?;
    }
    // Bandwidth over time of one MoCA run.
    let set = if exp.mix.contains_key("C") {
        "C".to_string()
    } else {
        exp.mix.keys().next().cloned().unwrap_or_default()
    };
    let qos = if exp.scheduler.target_scale.contains_key("M") {
        "M".to_string()
    } else {
        exp.scheduler
            .target_scale
            .keys()
            .next()
            .cloned()
            .unwrap_or_default()
    };
    let cfg = RunConfig {
        policy: Policy::Moca,
        set,
        qos,
        seed: args.first_seed,
        tasks: args.tasks,
    };
    let traced = experiment::run(&exp, &profiles, &cfg, true)?;
    write_bandwidth(&args.out, &exp, &traced)?;
    Ok(SweepSummary {
        averages,
        runs: reports.len(),
        seconds,
    })
}

/// `moca sweep`.
pub fn sweep(args: &SweepArgs) -> Result<()> {
    let s = sweep_to(args)?;
    println!(
        "{} runs in {:.2} s -> {}",
        s.runs,
        s.seconds,
        args.out.display()
    );
    println!("policy     SLA      STP/static  fairness/static   (mean over sets x QoS)");
    for (p, sla, stp, fair) in &s.averages {
        println!(
            "{:<9} {:>6.1} %  {:>9.3}  {:>9.3}",
            p.name(),
            100.0 * sla,
            stp,
            fair
        );
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("{}: cannot write", path.display()))
}

fn f(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v:.4}"))
}

fn write_runs_csv(path: &Path, reports: &[RunReport]) -> Result<()> {
    let mut s = String::from(
        "policy,set,qos,seed,tasks,sla_rate,sla_low,sla_mid,sla_high,stp,fairness,makespan_cycles,layers_run,throttled_layers,preemptions\n",
    );
    for r in reports {
        let m = &r.metrics;
        writeln!(
            s,
            "{},{},{},{},{},{:.4},{},{},{},{:.4},{:.4},{},{},{},{}",
            r.policy,
            r.set,
            r.qos,
            r.seed,
            m.tasks,
            m.sla_rate,
            f(m.sla_rate_by_priority.low),
            f(m.sla_rate_by_priority.mid),
            f(m.sla_rate_by_priority.high),
            m.stp,
            m.fairness,
            m.makespan_cycles,
            r.layers_run,
            r.throttled_layers,
            r.preemptions
        )?;
    }
    write(path, &s)
}

fn write_summary(
    path: &Path,
    cells: &[Cell],
    averages: &[(Policy, f64, f64, f64)],
    args: &SweepArgs,
    seconds: f64,
    runs: usize,
) -> Result<()> {
    let mut s = String::new();
    writeln!(s, "# moca sweep\n")?;
    writeln!(
        s,
        "{runs} runs ({} seeds from {}, {} tasks each) in {seconds:.2} s. Mean ± standard deviation over seeds; `x static` columns are per-seed ratios to the static partition, averaged.\n",
        args.seeds,
        args.first_seed,
        args.tasks.map_or("default".to_string(), |t| t.to_string())
    )?;
    writeln!(s, "## Average over workload sets and QoS levels\n")?;
    writeln!(
        s,
        "| policy | SLA satisfaction | STP x static | fairness x static |"
    )?;
    writeln!(s, "|---|---|---|---|")?;
    for (p, sla, stp, fair) in averages {
        writeln!(s, "| {p} | {:.1} % | {stp:.3} | {fair:.3} |", 100.0 * sla)?;
    }
    writeln!(s, "\n## Per set and QoS level\n")?;
    writeln!(
        s,
        "| set | QoS | policy | SLA | STP | fairness | STP x static | fairness x static |"
    )?;
    writeln!(s, "|---|---|---|---|---|---|---|---|")?;
    for c in cells {
        writeln!(
            s,
            "| {} | {} | {} | {:.1} ± {:.1} % | {:.3} ± {:.3} | {:.3} ± {:.3} | {:.3} | {:.3} |",
            c.set,
            c.qos,
            c.policy,
            100.0 * c.sla.0,
            100.0 * c.sla.1,
            c.stp.0,
            c.stp.1,
            c.fairness.0,
            c.fairness.1,
            c.stp_vs_static,
            c.fairness_vs_static
        )?;
    }
    write(path, &s)
}

const COLORS: [&str; 4] = ["#1b9e77", "#7570b3", "#d95f02", "#e7298a"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A grouped bar chart: one group per (set, QoS), one bar per policy.
pub fn bar_chart(cells: &[Cell], title: &str, value: impl Fn(&Cell) -> f64) -> String {
    let mut groups: Vec<(String, String)> = cells
        .iter()
        .map(|c| (c.set.clone(), c.qos.clone()))
        .collect();
    groups.dedup();
    groups.sort();
    groups.dedup();
    let vals: Vec<f64> = cells.iter().map(&value).filter(|v| v.is_finite()).collect();
    let vmax = vals.iter().cloned().fold(1.0, f64::max) * 1.1;
    let (w, h, left, top, bottom) = (80.0 + 70.0 * groups.len() as f64, 320.0, 50.0, 40.0, 60.0);
    let plot_h = h - top - bottom;
    let y = |v: f64| top + plot_h * (1.0 - v / vmax);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{:.0}\" y=\"20\" text-anchor=\"middle\" font-size=\"13\">{}</text>\n",
        w / 2.0,
        esc(title)
    );
    // Axis and grid.
    let mut tick = 0.0;
    while tick <= vmax {
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{:.0}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{tick:.2}</text>",
            w - 10.0,
            y(tick),
            y(tick),
            left - 4.0,
            y(tick) + 4.0
        );
        tick += if vmax > 3.0 { 1.0 } else { 0.25 };
    }
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" x2=\"{:.0}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\" stroke-dasharray=\"4 2\"/>",
        w - 10.0,
        y(1.0),
        y(1.0)
    );
    let bw = 14.0;
    for (gi, (set, qos)) in groups.iter().enumerate() {
        let gx = left + 10.0 + 70.0 * gi as f64;
        for (pi, p) in Policy::ALL.iter().enumerate() {
            let Some(c) = cells
                .iter()
                .find(|c| &c.set == set && &c.qos == qos && c.policy == *p)
            else {
                continue;
            };
            let v = value(c);
            if !v.is_finite() {
                continue;
            }
            let x = gx + bw * pi as f64;
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} {set}/{qos}: {v:.3}</title></rect>",
                y(v),
                bw - 2.0,
                (y(0.0) - y(v)).max(0.0),
                COLORS[pi],
                p
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}/{}</text>",
            gx + 2.0 * bw,
            h - bottom + 15.0,
            esc(set),
            esc(qos)
        );
    }
    for (pi, p) in Policy::ALL.iter().enumerate() {
        let x = left + 90.0 * pi as f64;
        let _ = writeln!(
            s,
            "<rect x=\"{x:.0}\" y=\"{:.0}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.0}\" y=\"{:.0}\">{p}</text>",
            h - 25.0,
            COLORS[pi],
            x + 14.0,
            h - 16.0
        );
    }
    s.push_str("</svg>\n");
    s
}

fn write_bandwidth(dir: &Path, exp: &Experiment, r: &RunReport) -> Result<()> {
    let mut csv =
        String::from("start_cycle,end_cycle,task,network,tiles,dram_rows_per_cycle,throttled\n");
    for smp in &r.sim.trace {
        for &(task, net, tiles, bw, thr) in &smp.tenants {
            writeln!(
                csv,
                "{},{},{},{},{},{:.5},{}",
                smp.start, smp.end, task, exp.network_names[net], tiles, bw, thr
            )?;
        }
    }
    write(&dir.join("bandwidth.csv"), &csv)?;
    // Stacked area (as steps) per network over the first part of the run.
    let end = r.sim.trace.last().map_or(1, |s| s.end).max(1) as f64;
    let horizon = (end * 0.25).max(1.0);
    let (w, h, left, top, bottom) = (900.0, 360.0, 60.0, 40.0, 60.0);
    let plot_w = w - left - 20.0;
    let plot_h = h - top - bottom;
    let peak = exp.sim.dram_peak_rows_per_cycle;
    let ymax = peak * 1.1;
    let x = |t: f64| left + plot_w * (t / horizon).min(1.0);
    let y = |v: f64| top + plot_h * (1.0 - v / ymax);
    let palette = [
        "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
    ];
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{:.0}\" y=\"20\" text-anchor=\"middle\" font-size=\"13\">DRAM bandwidth per network, MoCA, set {} QoS {} seed {} (first {:.0} Mcycles)</text>\n",
        w / 2.0,
        esc(&r.set),
        esc(&r.qos),
        r.seed,
        horizon / 1e6
    );
    // Average each network's bandwidth over fixed time bins (stacked), so that the chart stays
    // small whatever the number of events.
    const BINS: usize = 400;
    let nets = exp.network_names.len();
    let bin = horizon / BINS as f64;
    let mut acc = vec![vec![0.0f64; nets]; BINS];
    for smp in &r.sim.trace {
        let (t0, t1) = (smp.start as f64, (smp.end as f64).min(horizon));
        if t0 >= horizon {
            break;
        }
        let (b0, b1) = ((t0 / bin) as usize, ((t1 / bin) as usize).min(BINS - 1));
        for (bi, row) in acc.iter_mut().enumerate().take(b1 + 1).skip(b0) {
            let lo = t0.max(bi as f64 * bin);
            let hi = t1.min((bi + 1) as f64 * bin);
            if hi <= lo {
                continue;
            }
            for &(_, net, _, bw, _) in &smp.tenants {
                row[net] += bw * (hi - lo) / bin;
            }
        }
    }
    for (bi, row) in acc.iter().enumerate() {
        let mut base = 0.0;
        for (net, &bw) in row.iter().enumerate() {
            if bw <= 1e-6 {
                continue;
            }
            let _ = writeln!(
                s,
                "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{}\"/>",
                x(bi as f64 * bin),
                y(base + bw),
                x(bin) - x(0.0),
                y(base) - y(base + bw),
                palette[net % palette.len()]
            );
            base += bw;
        }
    }
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" x2=\"{:.0}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\" stroke-dasharray=\"4 2\"/><text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">peak {peak}</text>",
        left + plot_w,
        y(peak),
        y(peak),
        left + plot_w,
        y(peak) - 3.0
    );
    let _ = writeln!(
        s,
        "<text x=\"15\" y=\"{:.0}\" transform=\"rotate(-90 15 {:.0})\" text-anchor=\"middle\">rows (16 B) / cycle</text>",
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    for (i, n) in exp.network_names.iter().enumerate() {
        let lx = left + 110.0 * i as f64;
        let _ = writeln!(
            s,
            "<rect x=\"{lx:.0}\" y=\"{:.0}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.0}\" y=\"{:.0}\">{}</text>",
            h - 25.0,
            palette[i % palette.len()],
            lx + 14.0,
            h - 16.0,
            esc(n)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\">cycles (stacked per network, averaged over {BINS} bins)</text>",
        left + plot_w / 2.0,
        h - 35.0
    );
    s.push_str("</svg>\n");
    write(&dir.join("bandwidth.svg"), &s)
}

/// Arguments of `moca runtime`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    about = "Print the exact WINDOW/TARGET/BURST values the MoCA runtime sets for a layer",
    long_about = "Run the MoCA runtime for one layer and its co-runners: predict each layer \
(compute, on-chip and DRAM traffic, ideal cycles, DRAM demand in % of DRAM_BW), compute each \
task's dynamic score (1 + priority)/4 + round(10 * remaining / slack), detect contention (summed \
demand above 150 %), split the excess by score (floor 25 %) and print the throttle registers of \
every tile.\n\nA co-runner is NETWORK:LAYER[:PRIORITY[:ELAPSED_CYCLES]].\n\nExample:\n  moca runtime \
--network resnet50 --layer 44 --priority 2 --co-runner alexnet:5:11 --co-runner yolov2:13:6"
)]
pub struct RuntimeArgs {
    /// Network of the layer.
    #[arg(long)]
    pub network: String,
    /// Layer index (0-based, as in the layer CSV).
    #[arg(long)]
    pub layer: usize,
    /// User priority of the task (0..=11).
    #[arg(long, default_value_t = 0)]
    pub priority: u32,
    /// Cycles since the task's dispatch.
    #[arg(long, default_value_t = 0)]
    pub elapsed: u64,
    /// QoS level whose target scale sets the latency target.
    #[arg(long, default_value = "M")]
    pub qos: String,
    /// Tiles the task runs on (default: the TOML's `tiles_per_task`).
    #[arg(long)]
    pub tiles: Option<u32>,
    /// Co-running layers: NETWORK:LAYER[:PRIORITY[:ELAPSED]] (repeatable).
    #[arg(long = "co-runner", value_name = "SPEC")]
    pub co_runners: Vec<String>,
    /// Partition the excess as the paper describes (`paper`) or as the published artifact code
    /// does (`artifact`: every co-runner weighted by the caller's score).
    #[arg(long, default_value = "paper", value_parser = ["paper", "artifact"])]
    pub partition: String,
    /// Where the experiment comes from.
    #[command(flatten)]
    pub source: ExperimentSource,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

struct Tenant {
    network: String,
    layer: usize,
    priority: u32,
    elapsed: u64,
}

fn parse_corunner(spec: &str) -> Result<Tenant> {
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.len() < 2 || parts.len() > 4 {
        bail!("co-runner `{spec}`: expected NETWORK:LAYER[:PRIORITY[:ELAPSED]]");
    }
    let num = |i: usize, what: &str| -> Result<u64> {
        parts
            .get(i)
            .map(|s| {
                s.parse::<u64>()
                    .with_context(|| format!("co-runner `{spec}`: {what} `{s}` is not a number"))
            })
            .transpose()
            .map(|v| v.unwrap_or(0))
    };
    Ok(Tenant {
        network: parts[0].to_string(),
        layer: num(1, "layer")? as usize,
        priority: num(2, "priority")? as u32,
        elapsed: num(3, "elapsed")?,
    })
}

/// Compute the runtime's decision for every tenant; returns a JSON array (one object per tenant,
/// the first is the requested layer).
pub fn runtime_decisions(args: &RuntimeArgs) -> Result<serde_json::Value> {
    let exp = args.source.load()?;
    let hw = &exp.hardware;
    let tiles = args.tiles.unwrap_or(hw.tiles_per_task);
    if tiles == 0 || tiles > hw.tiles {
        bail!("--tiles {tiles} is out of range 1..={}", hw.tiles);
    }
    let tscale = *exp.scheduler.target_scale.get(&args.qos).with_context(|| {
        format!(
            "unknown QoS level `{}`: expected one of {}",
            args.qos,
            exp.scheduler
                .target_scale
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let partition = if args.partition == "artifact" {
        Partition::ArtifactCode
    } else {
        Partition::Paper
    };
    let profiles = Profiles::new(&exp);
    let mut tenants = vec![Tenant {
        network: args.network.clone(),
        layer: args.layer,
        priority: args.priority,
        elapsed: args.elapsed,
    }];
    for c in &args.co_runners {
        tenants.push(parse_corunner(c)?);
    }
    struct Ready {
        net: usize,
        pred: multitenant::runtime::LayerPrediction,
        rgb: bool,
        state: TaskState,
    }
    let mut ready = Vec::new();
    for t in &tenants {
        let net = exp.network_index(&t.network).with_context(|| {
            format!(
                "unknown network `{}`: expected one of {}",
                t.network,
                exp.network_names.join(", ")
            )
        })?;
        let prof = &profiles.nets[net];
        if t.layer >= prof.layers() {
            bail!(
                "{} has {} layers: layer {} is out of range 0..={}",
                t.network,
                prof.layers(),
                t.layer,
                prof.layers() - 1
            );
        }
        if t.priority > 11 {
            bail!("priority {} is out of range 0..=11", t.priority);
        }
        let target = (exp.scheduler.target_cycles[net] as f64 * tscale) as u64;
        ready.push(Ready {
            net,
            pred: *prof.pred(tiles, t.layer),
            rgb: prof.rgb_first[t.layer],
            state: TaskState {
                priority: t.priority,
                remaining_cycles: prof.remaining(tiles, t.layer),
                target_cycles: target,
                elapsed_cycles: t.elapsed,
            },
        });
    }
    let scores: Vec<u32> = ready
        .iter()
        .map(|r| {
            runtime::score(
                &exp.runtime,
                r.state.priority,
                r.state.remaining_cycles,
                r.state.target_cycles,
                r.state.elapsed_cycles,
            )
        })
        .collect();
    let mut out = Vec::new();
    for (i, r) in ready.iter().enumerate() {
        let others: Vec<CoRunner> = ready
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(j, o)| CoRunner {
                demand_percent: if o.rgb { 0 } else { o.pred.demand_percent },
                score: scores[j],
            })
            .collect();
        let d = runtime::decide(
            hw,
            &exp.runtime,
            &r.pred,
            r.rgb,
            &r.state,
            &others,
            partition,
        )
        .with_context(|| format!("{} layer {}", tenants[i].network, tenants[i].layer))?;
        out.push(json!({
            "network": exp.network_names[r.net],
            "layer": tenants[i].layer,
            "tiles": tiles,
            "priority": r.state.priority,
            "elapsed_cycles": r.state.elapsed_cycles,
            "target_cycles": r.state.target_cycles,
            "remaining_cycles": r.state.remaining_cycles,
            "compute_cycles": r.pred.compute_cycles.round() as u64,
            "dram_rows": r.pred.from_dram_rows,
            "load_rows": r.pred.load_rows,
            "ideal_cycles": r.pred.ideal_cycles,
            "demand_percent": r.pred.demand_percent,
            "first_rgb_layer": r.rgb,
            "score": d.score,
            "granted_percent": d.granted_percent,
            "registers": {"WINDOW": d.regs.window, "TARGET": d.regs.target, "BURST": d.regs.burst},
        }));
    }
    Ok(serde_json::Value::Array(out))
}

/// `moca runtime`.
pub fn runtime(args: &RuntimeArgs) -> Result<()> {
    let v = runtime_decisions(args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let rows = v.as_array().expect("array");
    let total: u64 = rows
        .iter()
        .map(|r| r["demand_percent"].as_u64().unwrap_or(0))
        .sum();
    println!(
        "summed demand {total} % of DRAM_BW (contention above 150 %), partition: {}",
        args.partition
    );
    println!(
        "{:<22} {:>4} {:>11} {:>9} {:>7} {:>6} {:>8} {:>7} {:>7} {:>6}",
        "layer",
        "prio",
        "ideal cyc",
        "DRAM rows",
        "demand",
        "score",
        "granted",
        "WINDOW",
        "TARGET",
        "BURST"
    );
    for r in rows {
        let granted = r["granted_percent"]
            .as_u64()
            .map_or("-".to_string(), |g| format!("{g} %"));
        let t = |v: &serde_json::Value| v.to_string();
        println!(
            "{:<22} {:>4} {:>11} {:>9} {:>6}% {:>6} {:>8} {:>7} {:>7} {:>6}",
            format!("{}[{}]", r["network"].as_str().unwrap_or(""), r["layer"]),
            t(&r["priority"]),
            t(&r["ideal_cycles"]),
            t(&r["dram_rows"]),
            t(&r["demand_percent"]),
            t(&r["score"]),
            granted,
            t(&r["registers"]["WINDOW"]),
            t(&r["registers"]["TARGET"]),
            t(&r["registers"]["BURST"])
        );
    }
    println!(
        "WINDOW = 0: throttle off (uncontended, share not below demand, short layer, or first RGB layer)"
    );
    Ok(())
}

/// What `moca calibrate` compares against.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Against {
    /// The MoCA artifact's per-layer predictions and measured isolated run times (part a).
    #[default]
    Artifact,
    /// The cycle-exact golden SoC, on scaled-down GEMM layers alone, co-running and throttled
    /// (part b).
    Soc,
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
against the SoC.\n\nExamples:\n  moca calibrate\n  moca calibrate --against soc\n  \
moca calibrate --against soc --fit --json"
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
    /// `--against soc`: tiles' array dimension DIM (2..=16).
    #[arg(long, default_value_t = 4)]
    pub dim: usize,
    /// `--against soc`: shared-memory latency L in cycles (1..=1024).
    #[arg(long, default_value_t = golden::spec::tile::DEFAULT_MEM_LATENCY)]
    pub latency: u32,
    /// `--against soc`: seed of the matrices' values (printed).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `moca calibrate`.
pub fn calibrate(args: &CalibrateArgs) -> Result<()> {
    let exp = args.source.load()?;
    match args.against {
        Against::Artifact => calibrate_artifact(&exp, args),
        Against::Soc => calibrate_soc(&exp, args),
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
    let mut soc = SocParams::new(4, args.dim).map_err(crate::usage)?;
    soc.latency = args.latency;
    soc.validate().map_err(crate::usage)?;
    let scenarios = sc::default_scenarios(args.dim);
    let runs = sc::measure_soc(exp, &soc, &scenarios, args.seed)
        .context("running the calibration scenarios on the golden SoC")?;
    let c = if args.fit {
        sc::fit(&runs, &exp.sim)?
    } else {
        sc::compare(&runs, &exp.sim)?
    };
    if args.json {
        let mut v = serde_json::to_value(&c)?;
        v["seed"] = json!(args.seed);
        v["fit"] = json!(args.fit);
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "golden SoC: {} tiles, DIM {}, L {}; seed {} (matrix values; every result checked)",
        c.tiles, c.dim, c.latency, args.seed
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

    fn run_args(policy: Policy) -> RunArgs {
        RunArgs {
            policy,
            set: "C".into(),
            qos: "M".into(),
            seed: 2,
            tasks: Some(30),
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
        let v = report_json(&experiment::run(&exp, &prof, &cfg, false).unwrap(), 1.0);
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

    #[test]
    fn calibrate_runs_against_both_references_and_rejects_bad_soc_flags() {
        let args = CalibrateArgs {
            source: ExperimentSource::default(),
            against: Against::Soc,
            fit: true,
            dim: 2,
            latency: 8,
            seed: 3,
            json: true,
        };
        calibrate(&args).unwrap();
        calibrate(&CalibrateArgs {
            against: Against::Artifact,
            ..args.clone()
        })
        .unwrap();
        for (dim, latency, msg) in [
            (1, 8, "dim=1 is out of range: allowed 2..=16"),
            (4, 0, "latency=0 is out of range: allowed 1..=1024"),
        ] {
            let e = calibrate(&CalibrateArgs {
                dim,
                latency,
                ..args.clone()
            })
            .unwrap_err();
            assert!(e.downcast_ref::<crate::UsageError>().is_some(), "{e}");
            assert_eq!(e.to_string(), msg);
        }
    }

    #[test]
    fn sweep_writes_every_output() {
        let dir = std::env::temp_dir().join(format!("moca-sweep-test-{}", std::process::id()));
        let args = SweepArgs {
            seeds: 1,
            first_seed: 1,
            tasks: Some(12),
            out: dir.clone(),
            jobs: Some(2),
            quiet: true,
            source: ExperimentSource::default(),
        };
        let s = sweep_to(&args).unwrap();
        assert_eq!(s.runs, 4 * 3 * 3);
        for f in [
            "runs.csv",
            "summary.md",
            "sla.svg",
            "stp.svg",
            "fairness.svg",
            "bandwidth.svg",
            "bandwidth.csv",
        ] {
            let text = std::fs::read_to_string(dir.join(f)).unwrap();
            assert!(!text.is_empty(), "{f}");
        }
        let csv = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
        assert_eq!(csv.lines().count(), 1 + 36);
        // Static normalised to itself is 1.
        let st = s.averages.iter().find(|a| a.0 == Policy::Static).unwrap();
        assert!((st.2 - 1.0).abs() < 1e-9 && (st.3 - 1.0).abs() < 1e-9);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn runtime_prints_registers_and_rejects_bad_input() {
        let args = RuntimeArgs {
            network: "resnet50".into(),
            layer: 44,
            priority: 0,
            elapsed: 0,
            qos: "M".into(),
            tiles: None,
            co_runners: vec!["alexnet:5:11".into(), "yolov2:13:6".into()],
            partition: "paper".into(),
            source: ExperimentSource::default(),
            json: true,
        };
        let v = runtime_decisions(&args).unwrap();
        let rows = v.as_array().unwrap();
        assert_eq!(rows.len(), 3);
        for r in rows {
            let w = r["registers"]["WINDOW"].as_u64().unwrap();
            let t = r["registers"]["TARGET"].as_u64().unwrap();
            assert!(w == 0 || (2..=65535).contains(&w), "{r}");
            assert!(w == 0 || (1..=65535).contains(&t), "{r}");
        }
        let mut bad = args.clone();
        bad.layer = 999;
        assert!(
            runtime_decisions(&bad)
                .unwrap_err()
                .to_string()
                .contains("out of range")
        );
        let mut bad = args.clone();
        bad.co_runners = vec!["nosuch:1".into()];
        assert!(
            runtime_decisions(&bad)
                .unwrap_err()
                .to_string()
                .contains("unknown network")
        );
        let mut bad = args;
        bad.co_runners = vec!["alexnet".into()];
        assert!(runtime_decisions(&bad).is_err());
    }
}

//! The sweep's text reports: `runs.csv` and `summary.md`.

use super::*;

pub(super) fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("{}: cannot write", path.display()))
}

pub(super) fn f(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v:.4}"))
}

pub(super) fn write_runs_csv(path: &Path, reports: &[RunReport]) -> Result<()> {
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

pub(super) fn write_summary(
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

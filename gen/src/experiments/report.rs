//! The sweep's text reports: `runs.csv` and `summary.md`.

use super::*;

pub(super) fn f(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v:.4}"))
}

/// One row of `runs.csv` (serde record; ratios with 4 decimals, an empty field where a
/// priority class had no task).
#[derive(serde::Serialize)]
struct RunRow<'a> {
    policy: String,
    set: &'a str,
    qos: &'a str,
    seed: u64,
    tasks: usize,
    sla_rate: String,
    sla_low: String,
    sla_mid: String,
    sla_high: String,
    stp: String,
    fairness: String,
    makespan_cycles: u64,
    layers_run: u64,
    throttled_layers: u64,
    preemptions: u64,
}

/// `runs.csv`: one row per run.
pub(super) fn runs_csv(reports: &[RunReport]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in reports {
        let m = &r.metrics;
        w.serialize(RunRow {
            policy: r.policy.to_string(),
            set: &r.set,
            qos: &r.qos,
            seed: r.seed,
            tasks: m.tasks,
            sla_rate: format!("{:.4}", m.sla_rate),
            sla_low: f(m.sla_rate_by_priority.low),
            sla_mid: f(m.sla_rate_by_priority.mid),
            sla_high: f(m.sla_rate_by_priority.high),
            stp: format!("{:.4}", m.stp),
            fairness: format!("{:.4}", m.fairness),
            makespan_cycles: m.makespan_cycles,
            layers_run: r.layers_run as u64,
            throttled_layers: r.throttled_layers as u64,
            preemptions: r.preemptions as u64,
        })?;
    }
    Ok(w.into_inner().map_err(|e| e.into_error())?)
}

/// `summary.md`: means with standard deviations, and averages normalised to static.
pub(super) fn summary_md(
    cells: &[Cell],
    averages: &[(Policy, f64, f64, f64)],
    args: &SweepArgs,
    seconds: f64,
    runs: usize,
) -> Result<String> {
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
    Ok(s)
}

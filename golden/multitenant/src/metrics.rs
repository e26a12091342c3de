//! The paper's evaluation metrics, exactly as defined in the workload README:
//!
//! - **SLA satisfaction rate** = tasks finishing (dispatch to completion) within their latency
//!   target / all tasks; also per priority bucket (low <= 2, mid <= 8, high <= 11).
//! - **STP** = sum over networks of `single_run_cycles / mean observed latency` of that network.
//! - **Fairness** = min over networks j, k of `PP_j / PP_k`, where `PP_j = (single / mean
//!   latency)_j` divided by the network's share of priority weight (mean `(priority + 1)` of j over
//!   the sum of those means).
//!
//! Only networks that have at least one task in the run take part in STP and fairness.

use serde::Serialize;

/// The outcome of one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TaskOutcome {
    /// Network index (into the experiment's networks).
    pub network: usize,
    /// User priority (0..=11).
    pub priority: u32,
    /// Dispatch (arrival) cycle.
    pub dispatch: u64,
    /// Completion cycle.
    pub finish: u64,
    /// Latency target in cycles.
    pub target: u64,
}

impl TaskOutcome {
    /// Latency from dispatch to completion.
    pub fn latency(&self) -> u64 {
        self.finish.saturating_sub(self.dispatch)
    }
    /// Whether it met its target.
    pub fn met(&self) -> bool {
        self.latency() <= self.target
    }
}

/// Priority bucket of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// priority <= 2
    Low,
    /// 3..=8
    Mid,
    /// 9..=11
    High,
}

/// The bucket of a priority.
pub fn bucket(priority: u32) -> Bucket {
    match priority {
        0..=2 => Bucket::Low,
        3..=8 => Bucket::Mid,
        _ => Bucket::High,
    }
}

/// SLA rate per priority bucket (`None` where the bucket has no task).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SlaByPriority {
    /// priority <= 2
    pub low: Option<f64>,
    /// 3..=8
    pub mid: Option<f64>,
    /// 9..=11
    pub high: Option<f64>,
}

/// All metrics of one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    /// Tasks counted.
    pub tasks: usize,
    /// SLA satisfaction rate (0..=1).
    pub sla_rate: f64,
    /// Per priority bucket.
    pub sla_rate_by_priority: SlaByPriority,
    /// System throughput.
    pub stp: f64,
    /// Fairness (0..=1).
    pub fairness: f64,
    /// Last completion minus first dispatch.
    pub makespan_cycles: u64,
}

fn rate(it: impl Iterator<Item = bool>) -> Option<f64> {
    let (mut n, mut ok) = (0usize, 0usize);
    for m in it {
        n += 1;
        ok += usize::from(m);
    }
    (n > 0).then(|| ok as f64 / n as f64)
}

/// SLA satisfaction rate over all tasks (0 for an empty run).
pub fn sla_rate(tasks: &[TaskOutcome]) -> f64 {
    rate(tasks.iter().map(TaskOutcome::met)).unwrap_or(0.0)
}

/// SLA rate per priority bucket.
pub fn sla_by_priority(tasks: &[TaskOutcome]) -> SlaByPriority {
    let of = |b: Bucket| {
        rate(
            tasks
                .iter()
                .filter(|t| bucket(t.priority) == b)
                .map(TaskOutcome::met),
        )
    };
    SlaByPriority {
        low: of(Bucket::Low),
        mid: of(Bucket::Mid),
        high: of(Bucket::High),
    }
}

/// Per network present in the run: (single / mean latency, mean (priority + 1)).
fn per_network(tasks: &[TaskOutcome], single_run_cycles: &[u64]) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for (j, &single) in single_run_cycles.iter().enumerate() {
        let mine: Vec<&TaskOutcome> = tasks.iter().filter(|t| t.network == j).collect();
        if mine.is_empty() {
            continue;
        }
        let n = mine.len() as f64;
        let mean_lat = mine.iter().map(|t| t.latency() as f64).sum::<f64>() / n;
        let mean_w = mine.iter().map(|t| f64::from(t.priority + 1)).sum::<f64>() / n;
        out.push((single as f64 / mean_lat.max(1.0), mean_w));
    }
    out
}

/// STP: sum over networks of single-run cycles / mean observed latency.
pub fn stp(tasks: &[TaskOutcome], single_run_cycles: &[u64]) -> f64 {
    per_network(tasks, single_run_cycles)
        .iter()
        .map(|(s, _)| s)
        .sum()
}

/// Fairness: min over network pairs of `PP_j / PP_k` (= min PP / max PP); 1 with one network,
/// 0 for an empty run.
pub fn fairness(tasks: &[TaskOutcome], single_run_cycles: &[u64]) -> f64 {
    let nets = per_network(tasks, single_run_cycles);
    if nets.is_empty() {
        return 0.0;
    }
    let wsum: f64 = nets.iter().map(|(_, w)| w).sum();
    let pp: Vec<f64> = nets.iter().map(|(s, w)| s / (w / wsum)).collect();
    let max = pp.iter().cloned().fold(f64::MIN, f64::max);
    let min = pp.iter().cloned().fold(f64::MAX, f64::min);
    min / max
}

/// Compute every metric of a run.
pub fn compute(tasks: &[TaskOutcome], single_run_cycles: &[u64]) -> Metrics {
    let first = tasks.iter().map(|t| t.dispatch).min().unwrap_or(0);
    let last = tasks.iter().map(|t| t.finish).max().unwrap_or(0);
    Metrics {
        tasks: tasks.len(),
        sla_rate: sla_rate(tasks),
        sla_rate_by_priority: sla_by_priority(tasks),
        stp: stp(tasks, single_run_cycles),
        fairness: fairness(tasks, single_run_cycles),
        makespan_cycles: last.saturating_sub(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(network: usize, priority: u32, dispatch: u64, finish: u64, target: u64) -> TaskOutcome {
        TaskOutcome {
            network,
            priority,
            dispatch,
            finish,
            target,
        }
    }

    #[test]
    fn sla_counts_dispatch_to_completion() {
        let tasks = [
            t(0, 0, 100, 200, 100),   // exactly on target: met
            t(0, 5, 100, 201, 100),   // one cycle late
            t(1, 11, 0, 50, 100),     // met
            t(1, 9, 1000, 1500, 400), // late
        ];
        assert_eq!(sla_rate(&tasks), 0.5);
        let b = sla_by_priority(&tasks);
        assert_eq!((b.low, b.mid, b.high), (Some(1.0), Some(0.0), Some(0.5)));
        assert_eq!(sla_by_priority(&tasks[..1]).mid, None);
    }

    #[test]
    fn stp_and_fairness_by_hand() {
        // Network 0: latencies 100 and 300 -> mean 200; single 100 -> 0.5. Priorities 0, 2 ->
        // mean weight 2.
        // Network 1: latency 400; single 200 -> 0.5. Priority 5 -> weight 6.
        let tasks = [t(0, 0, 0, 100, 1), t(0, 2, 0, 300, 1), t(1, 5, 0, 400, 1)];
        let single = [100, 200, 999];
        assert!((stp(&tasks, &single) - 1.0).abs() < 1e-12);
        // Shares: 2/8 and 6/8; PP0 = 0.5/0.25 = 2, PP1 = 0.5/0.75 = 2/3; min ratio = 1/3.
        assert!((fairness(&tasks, &single) - 1.0 / 3.0).abs() < 1e-12);
        let m = compute(&tasks, &single);
        assert_eq!((m.tasks, m.makespan_cycles), (3, 400));
        assert_eq!(m.sla_rate, 0.0);
    }

    #[test]
    fn equal_service_weighted_by_priority_is_fair() {
        // Network 1 has twice the weight and gets twice the normalised progress: fairness 1.
        let tasks = [t(0, 0, 0, 200, 1), t(1, 1, 0, 100, 1)];
        assert!((fairness(&tasks, &[100, 100]) - 1.0).abs() < 1e-12);
        assert_eq!(fairness(&[], &[1]), 0.0);
    }

    #[test]
    fn buckets_follow_the_report() {
        assert_eq!(bucket(2), Bucket::Low);
        assert_eq!(bucket(3), Bucket::Mid);
        assert_eq!(bucket(8), Bucket::Mid);
        assert_eq!(bucket(9), Bucket::High);
    }
}

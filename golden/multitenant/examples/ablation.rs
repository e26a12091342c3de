//! Ablation behind docs/CALIBRATION.md: how much of MoCA's gain over static comes from its
//! scheduler and how much from its runtime. The four variants of `moca regime`
//! (`multitenant::regime::Variant`) at the artifact's load (1), every set x QoS x seeds 1..=5,
//! averaged per set and over all sets with STP and fairness as per-run ratios to static.
//!
//! `cargo run --release -p moca-multitenant --example ablation`

use multitenant::regime::{Point, Variant, run_point};
use multitenant::system::Profiles;
use multitenant::workload::Experiment;

fn main() {
    let exp = Experiment::artifact();
    let prof = Profiles::new(&exp);
    for set in ["A", "B", "C", "all"] {
        let mut sums = [(0.0, 0.0, 0.0); 4];
        let mut n = 0.0;
        let (mut thr, mut bind) = (0.0, 0.0);
        for s in ["A", "B", "C"]
            .into_iter()
            .filter(|s| set == "all" || *s == set)
        {
            for qos in ["H", "M", "L"] {
                for seed in 1..=5 {
                    let point = Point {
                        set: s.into(),
                        qos: qos.into(),
                        load: 1.0,
                        seed,
                    };
                    let runs = run_point(&exp, &prof, &point, None).expect("the variants run");
                    let base = &runs[0].metrics;
                    for (acc, r) in sums.iter_mut().zip(&runs) {
                        acc.0 += r.metrics.sla_rate;
                        acc.1 += r.metrics.stp / base.stp;
                        acc.2 += r.metrics.fairness / base.fairness;
                    }
                    let moca = &runs[3];
                    thr += moca.throttled_share;
                    bind += moca.binding_share * moca.throttled_share;
                    n += 1.0;
                }
            }
        }
        for (v, (sla, stp, fair)) in Variant::ALL.iter().zip(&sums) {
            println!(
                "set {set:>3} | {:<14} SLA {:5.1} %  STP x static {:.3}  fairness x static {:.3}",
                v.name(),
                100.0 * sla / n,
                stp / n,
                fair / n
            );
        }
        println!(
            "set {set:>3} | moca: throttles bind in {:.1} % of throttled layer-cycles",
            100.0 * bind / f64::max(thr, 1e-12)
        );
    }
}

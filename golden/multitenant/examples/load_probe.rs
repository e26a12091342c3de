//! Load probes behind docs/CALIBRATION.md ("History 2: arrivals"): the static partition's
//! throughput with every task dispatched at cycle 0 (with the L2 split and the DRAM channel
//! removed in turn), and each policy's offered load against that saturated capacity.
//!
//! `cargo run --release -p moca-multitenant --example load_probe`
//!
//! (The sweep averages the former `load_probe_sweep_averages` printed are `moca sweep --seeds 5`.)

use multitenant::experiment::generate_tasks;
use multitenant::sched::Policy;
use multitenant::system::{Profiles, System, Task};
use multitenant::workload::Experiment;

/// Saturated static throughput, in 2-tile groups' worth of isolated work, per variant and set.
fn saturated_capacity() {
    for variant in 0..4 {
        let mut exp = Experiment::artifact();
        if variant & 1 == 1 {
            exp.sim.share_l2_capacity = false;
        }
        if variant & 2 == 2 {
            exp.sim.dram_peak_rows_per_cycle = 100.0;
            exp.sim.interference_loss_per_stream = 0.0;
            exp.sim.max_interference_loss = 0.0;
        }
        let prof = Profiles::new(&exp);
        let single = &exp.scheduler.single_run_cycles;
        for set in ["A", "B", "C"] {
            let mut eff = 0.0;
            for seed in 1..=3u64 {
                let tasks = generate_tasks(&exp, set, "M", 250, seed).expect("artifact set");
                let work: f64 = tasks.iter().map(|t| single[t.network] as f64).sum();
                let sat: Vec<Task> = tasks.iter().map(|t| Task { dispatch: 0, ..*t }).collect();
                let mut s = Policy::Static.scheduler(&exp);
                let r = System::new(&exp, &prof)
                    .run(&sat, s.as_mut())
                    .expect("static runs");
                let mk = *r.finish.iter().max().expect("tasks") as f64;
                eff += work / mk / 3.0;
            }
            println!(
                "variant l2split={} infdram={} set {set}: saturated static throughput = {:.2} groups of isolated work",
                variant & 1 == 0,
                variant & 2 == 2,
                eff
            );
        }
    }
}

/// Per set and seed: the offered isolated work over the arrival span, and per policy the
/// arrival rate over its saturated capacity, the mean latency of the first and last 50 tasks,
/// the makespan over the span and the DRAM rows per cycle.
fn offered_vs_capacity() {
    let exp = Experiment::artifact();
    let prof = Profiles::new(&exp);
    let single = &exp.scheduler.single_run_cycles;
    for set in ["A", "B", "C"] {
        for seed in 1..=3u64 {
            let tasks = generate_tasks(&exp, set, "M", 250, seed).expect("artifact set");
            let span = tasks.iter().map(|t| t.dispatch).max().expect("tasks") as f64;
            let work: f64 = tasks.iter().map(|t| single[t.network] as f64).sum();
            let arr_rate = tasks.len() as f64 / span;
            let mut line = format!(
                "{set} s{seed}: span {:.0}M offered {:.2} groups (isolated work/span)",
                span / 1e6,
                work / span
            );
            for p in Policy::ALL {
                // Saturated: everything dispatched at 0.
                let sat: Vec<Task> = tasks.iter().map(|t| Task { dispatch: 0, ..*t }).collect();
                let mut s = p.scheduler(&exp);
                let r = System::new(&exp, &prof)
                    .run(&sat, s.as_mut())
                    .expect("policy runs");
                let mk = *r.finish.iter().max().expect("tasks") as f64;
                let cap = sat.len() as f64 / mk;
                // Open loop.
                let mut s = p.scheduler(&exp);
                let r2 = System::new(&exp, &prof)
                    .run(&tasks, s.as_mut())
                    .expect("policy runs");
                let lat: Vec<f64> = tasks
                    .iter()
                    .zip(&r2.finish)
                    .map(|(t, &f)| (f - t.dispatch) as f64)
                    .collect();
                let first = lat[..50].iter().sum::<f64>() / 50.0;
                let last = lat[200..].iter().sum::<f64>() / 50.0;
                let mk2 = *r2.finish.iter().max().expect("tasks") as f64;
                line += &format!(
                    " | {} rho {:.2} lat first50 {:.1}M last50 {:.1}M mk/span {:.2} dram {:.2}",
                    p.name(),
                    arr_rate / cap,
                    first / 1e6,
                    last / 1e6,
                    mk2 / span,
                    r2.dram_rows / mk2
                );
            }
            println!("{line}");
        }
    }
}

fn main() {
    saturated_capacity();
    offered_vs_capacity();
}

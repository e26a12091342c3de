//! Per-layer grant of the golden throttle against `TARGET/WINDOW` for the registers MoCA's
//! runtime picks (docs/CALIBRATION.md, "The throttle as built"): every layer of every network
//! on 2 tiles, contending with one co-runner of the same demand, timed from a freshly written
//! throttle with the layer's own DMA requests (`System::throttle_grant`, golden timing).
//!
//! `cargo run --release -p moca-multitenant --example throttle_excess`

use multitenant::runtime::{self, CoRunner, Partition, TaskState};
use multitenant::system::{CoRunLayer, Profiles, System};
use multitenant::throttle_model::ThrottleTiming;
use multitenant::workload::Experiment;

fn main() {
    let exp = Experiment::artifact();
    let prof = Profiles::new(&exp);
    let mut sys = System::new(&exp, &prof);
    sys.throttle_timing = ThrottleTiming::Golden;
    let mut rows = Vec::new();
    for (ni, net) in prof.nets.iter().enumerate() {
        for layer in 0..net.layers() {
            let pred = net.pred(2, layer);
            // Contention with one co-runner of the same demand and score: the runtime throttles
            // this layer to its share.
            let others = [CoRunner {
                demand_percent: pred.demand_percent,
                score: 1,
            }];
            let state = TaskState {
                priority: 4,
                remaining_cycles: net.remaining(2, layer),
                target_cycles: 4 * net.remaining(2, 0),
                elapsed_cycles: 0,
            };
            let Ok(d) = runtime::decide(
                &exp.hardware,
                &exp.runtime,
                pred,
                net.rgb_first[layer],
                &state,
                &others,
                Partition::Paper,
            ) else {
                continue;
            };
            if !d.regs.enabled() {
                continue;
            }
            let layer_run = CoRunLayer {
                work: sys.layer_work(ni, layer, 2, 2),
                tiles: 2,
                regs: d.regs,
            };
            let (rate, cycles) = sys
                .throttle_grant(&layer_run)
                .expect("the runtime's registers grant");
            let excess = rate / d.regs.rate() - 1.0;
            rows.push((exp.network_names[ni].clone(), layer, d.regs, cycles, excess));
        }
    }
    if rows.is_empty() {
        println!("no throttled layers");
        return;
    }
    rows.sort_by(|a, b| a.4.total_cmp(&b.4));
    let n = rows.len();
    println!(
        "{n} throttled layers; excess min {:.1} % median {:.1} % max {:.1} %",
        100.0 * rows[0].4,
        100.0 * rows[n / 2].4,
        100.0 * rows[n - 1].4
    );
    for (i, r) in rows.iter().enumerate() {
        if i < 3 || i + 6 >= n || i == n / 4 || i == n / 2 || i == 3 * n / 4 {
            println!(
                "| {}[{}] | {}:{} | {} | {:+.1} % |",
                r.0,
                r.1,
                r.2.window,
                r.2.target,
                r.3,
                100.0 * r.4
            );
        }
    }
}

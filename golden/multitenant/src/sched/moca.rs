//! The MoCA scheduler (HPCA 2023).
//!
//! Models: the same 2-tile groups as the static partition, plus
//! - ordering by priority and waiting time relative to the task's *expected* run time
//!   (`estimate_scale` x the runtime's whole-network prediction on a group), over every dispatched
//!   waiting task (the artifact ranks all released tasks; its `QUEUE_DEPTH` is a per-group batch
//!   size of its round-based emulation, not a window, see [`super::static_part`]);
//! - memory-aware co-location: each network has a memory intensity (its predicted DRAM demand over
//!   the whole network, percent of `DRAM_BW`); a candidate whose intensity would push the running
//!   tasks' summed intensity above the contention limit (`dram_max_util_percent`) loses up to one
//!   priority level in proportion to the overflow, so memory-heavy networks (ResNet, YOLO,
//!   AlexNet) tend to be paired with light ones (SqueezeNet, KWS, YOLO-lite) and their demands do
//!   not peak together;
//! - the runtime ([`crate::runtime`]) configures every tile's throttle at each layer start
//!   (enabled by [`Scheduler::regulated`]).
//!
//! With `[scheduler] moca_grouping = "artifact"` (`moca run --grouping artifact`) the
//! memory-aware pairing is replaced by the artifact's 1+1 grouping ([`super::grouping`]): the
//! same ranking without the intensity penalty; a ResNet-50/AlexNet/YOLOv2 started on a free
//! group takes as partner the first later task of an allowed type in the ranked queue that has
//! not started (the artifact's `workload_grouping` on the queue, the primary first); the primary
//! runs its pending leading parts on both tiles, then its last part on one tile while the partner
//! runs its part(s) on the other, unthrottled, and stops there (it resumes later from its own
//! turn; a partial heavy partner then takes its own partner, the artifact's chains). The group
//! is free again when both are done. SqueezeNet and YOLO-lite are never throttled.

use super::group_score;
use super::grouping::{Grouping, Kind, group_table, last_part_start, partner_layers};
use crate::system::{Action, Profiles, Scheduler, Task, TaskView, View};
use crate::workload::Experiment;
use std::collections::HashMap;

/// The MoCA scheduler.
#[derive(Debug)]
pub struct MocaScheduler {
    tiles_per_task: u32,
    estimate_scale: f64,
    limit: f64,
    intensity: Option<Vec<f64>>,
    grouping: Grouping,
    /// Artifact network kind of each network.
    kinds: Vec<Option<Kind>>,
    /// Artifact grouping: primary task -> its partner task.
    primaries: HashMap<usize, usize>,
    /// Artifact grouping: partner task -> (layer it stops before, its primary's group, started).
    partners: HashMap<usize, (usize, usize, bool)>,
}

impl MocaScheduler {
    /// For an experiment.
    pub fn new(exp: &Experiment) -> Self {
        MocaScheduler {
            tiles_per_task: exp.hardware.tiles_per_task,
            estimate_scale: exp.scheduler.estimate_scale,
            limit: f64::from(exp.hardware.dram_max_util_percent),
            intensity: None,
            grouping: exp.scheduler.moca_grouping,
            kinds: exp
                .network_names
                .iter()
                .map(|n| Kind::from_name(n))
                .collect(),
            primaries: HashMap::new(),
            partners: HashMap::new(),
        }
    }

    /// The artifact's scheduler score (priority, then waiting over the expected run time).
    fn base_score(&self, v: &View, t: &TaskView) -> f64 {
        let expected = (self.estimate_scale
            * v.profiles.nets[t.task.network].remaining(self.tiles_per_task, 0) as f64)
            as u64;
        group_score(
            t.task.priority,
            v.now.saturating_sub(t.task.dispatch),
            expected,
        )
    }

    /// The artifact's 1+1 grouping (module docs).
    fn decide_artifact(&mut self, v: &View) -> Vec<Action> {
        let tiles = self.tiles_per_task;
        let mut out = Vec::new();
        let running: HashMap<usize, &TaskView> = v.running.iter().map(|r| (r.task.id, r)).collect();
        let waiting: HashMap<usize, &TaskView> = v.waiting.iter().map(|w| (w.task.id, w)).collect();
        // Forget finished primaries and partners that ran and are no longer running.
        self.primaries
            .retain(|p, _| running.contains_key(p) || waiting.contains_key(p));
        // A reserved partner whose primary is gone (cannot happen: a primary starts its pair or
        // drops it) is released rather than kept out of the queue forever.
        let planned: Vec<usize> = self.primaries.values().copied().collect();
        self.partners.retain(|q, (_, _, started)| {
            if *started {
                running.contains_key(q)
            } else {
                planned.contains(q)
            }
        });
        // Layer boundaries: a partner stops after its parts (and may be started again right
        // away); a primary reaching its last part moves to one tile and its partner starts on
        // the other.
        let mut yielded: Vec<TaskView> = Vec::new();
        for r in v.running.iter().filter(|r| r.at_boundary) {
            let id = r.task.id;
            if let Some(&(stop, _, true)) = self.partners.get(&id) {
                if r.layer >= stop {
                    out.push(Action::Yield { task: id });
                    self.partners.remove(&id);
                    yielded.push(TaskView {
                        tiles: 0,
                        at_boundary: false,
                        group: None,
                        ..*r
                    });
                }
                continue;
            }
            let Some(&q) = self.primaries.get(&id) else {
                continue;
            };
            let kind = self.kinds[r.task.network].expect("primaries have a kind");
            if r.tiles > 1 && r.layer >= last_part_start(kind, r.layers) {
                self.start_pair(r.task.id, q, None, &waiting, &mut out);
            }
        }
        // Free groups: not running a task, and not holding a partner that still runs.
        let partner_groups: Vec<usize> = self
            .partners
            .values()
            .filter(|p| p.2)
            .map(|p| p.1)
            .collect();
        let mut cands: Vec<&TaskView> = v
            .waiting
            .iter()
            .chain(&yielded)
            .filter(|w| !self.partners.contains_key(&w.task.id))
            .collect();
        cands.sort_by(|a, b| {
            self.base_score(v, b)
                .total_cmp(&self.base_score(v, a))
                .then(a.task.dispatch.cmp(&b.task.dispatch))
                .then(a.task.id.cmp(&b.task.id))
        });
        for &g in v.free_groups.iter().filter(|g| !partner_groups.contains(g)) {
            if cands.is_empty() {
                break;
            }
            let p = cands.remove(0);
            let kind = self.kinds[p.task.network];
            let mut partner = None;
            if kind.is_some_and(Kind::is_primary) {
                // The grouping rule on the queue, the primary first; started tasks are not
                // eligible partners.
                let queue: Vec<Option<Kind>> = std::iter::once(kind)
                    .chain(cands.iter().map(|c| {
                        if c.started {
                            None
                        } else {
                            self.kinds[c.task.network]
                        }
                    }))
                    .collect();
                if let super::grouping::Grouped::Partner(j) = group_table(&queue)[0] {
                    let q = cands.remove(j - 1);
                    let qk = self.kinds[q.task.network].expect("partners have a kind");
                    let stop = partner_layers(kind.expect("checked"), qk, q.layers);
                    self.primaries.insert(p.task.id, q.task.id);
                    self.partners.insert(q.task.id, (stop, g, false));
                    partner = Some(q.task.id);
                }
            }
            match (partner, kind) {
                (Some(q), Some(k)) if p.layer >= last_part_start(k, p.layers) => {
                    self.start_pair(p.task.id, q, Some(g), &waiting, &mut out);
                }
                _ => out.push(Action::Start {
                    task: p.task.id,
                    tiles,
                    group: Some(g),
                }),
            }
        }
        out
    }

    /// Run primary `p`'s last part on one tile and partner `q` on the other: resize a running
    /// primary (`group` None) or start a waiting one on `group`.
    fn start_pair(
        &mut self,
        p: usize,
        q: usize,
        group: Option<usize>,
        waiting: &HashMap<usize, &TaskView>,
        out: &mut Vec<Action>,
    ) {
        if !waiting.contains_key(&q) {
            // The partner is not available (cannot happen: it is reserved); run alone.
            self.primaries.remove(&p);
            self.partners.remove(&q);
            if let Some(g) = group {
                out.push(Action::Start {
                    task: p,
                    tiles: self.tiles_per_task,
                    group: Some(g),
                });
            }
            return;
        }
        match group {
            Some(g) => out.push(Action::Start {
                task: p,
                tiles: 1,
                group: Some(g),
            }),
            None => out.push(Action::Resize { task: p, tiles: 1 }),
        }
        out.push(Action::Start {
            task: q,
            tiles: self.tiles_per_task - 1,
            group: None,
        });
        if let Some(e) = self.partners.get_mut(&q) {
            e.2 = true;
        }
        self.primaries.remove(&p);
    }

    /// Whole-network DRAM demand in percent of `DRAM_BW` on a group of `tiles`.
    pub fn intensities(exp: &Experiment, profiles: &Profiles, tiles: u32) -> Vec<f64> {
        profiles
            .nets
            .iter()
            .map(|n| {
                let d: u64 = n.costs.iter().map(|c| c.from_dram_rows).sum();
                let t = n.remaining(tiles, 0).max(1);
                100.0 * d as f64 / t as f64 / f64::from(exp.hardware.dram_bw_rows_per_cycle)
            })
            .collect()
    }
}

impl Scheduler for MocaScheduler {
    fn name(&self) -> &'static str {
        "moca"
    }
    fn regulated(&self) -> bool {
        true
    }
    fn throttles(&self, task: &Task) -> bool {
        if self.grouping != Grouping::Artifact {
            return true;
        }
        let never = self.kinds[task.network].is_some_and(Kind::never_throttled);
        let partner = self.partners.get(&task.id).is_some_and(|p| p.2);
        !never && !partner
    }
    fn decide(&mut self, v: &View) -> Vec<Action> {
        if self.grouping == Grouping::Artifact {
            return self.decide_artifact(v);
        }
        let tiles = self.tiles_per_task;
        let intensity = self
            .intensity
            .get_or_insert_with(|| Self::intensities(v.exp, v.profiles, tiles))
            .clone();
        let mut running: f64 = v.running.iter().map(|r| intensity[r.task.network]).sum();
        let mut cands: Vec<_> = v.waiting.iter().collect();
        let mut out = Vec::new();
        for &g in &v.free_groups {
            let score = |t: &crate::system::TaskView| {
                let expected = (self.estimate_scale
                    * v.profiles.nets[t.task.network].remaining(tiles, 0) as f64)
                    as u64;
                let base = group_score(
                    t.task.priority,
                    v.now.saturating_sub(t.task.dispatch),
                    expected,
                );
                let overflow = (running + intensity[t.task.network] - self.limit).max(0.0);
                base - 100_000.0 * (overflow / self.limit).min(1.0)
            };
            let best = cands
                .iter()
                .enumerate()
                .max_by(|a, b| score(a.1).total_cmp(&score(b.1)).then(b.0.cmp(&a.0)))
                .map(|(i, _)| i);
            let Some(i) = best else { break };
            let t = cands.remove(i);
            running += intensity[t.task.network];
            out.push(Action::Start {
                task: t.task.id,
                tiles,
                group: Some(g),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::{System, TraceSample};

    fn one_group(grouping: Grouping) -> Experiment {
        let mut exp = Experiment::artifact();
        exp.hardware.tiles = 2;
        exp.scheduler.moca_grouping = grouping;
        exp
    }

    fn task(exp: &Experiment, id: usize, net: &str, priority: u32) -> Task {
        Task {
            id,
            network: exp.network_index(net).unwrap(),
            priority,
            dispatch: 0,
            target: u64::MAX / 4,
        }
    }

    /// (tiles, throttled) of `task` in every trace sample it appears in.
    fn runs_of(trace: &[TraceSample], task: usize) -> Vec<(u32, bool)> {
        trace
            .iter()
            .flat_map(|s| s.tenants.iter())
            .filter(|t| t.0 == task)
            .map(|t| (t.2, t.4))
            .collect()
    }

    #[test]
    fn artifact_grouping_runs_the_last_part_beside_a_partner() {
        // One 2-tile group: resnet50 first (higher priority), squeezenet waiting.
        let run = |g: Grouping| {
            let exp = one_group(g);
            let prof = Profiles::new(&exp);
            let tasks = [
                task(&exp, 0, "resnet50", 11),
                task(&exp, 1, "squeezenet", 0),
            ];
            let mut sys = System::new(&exp, &prof);
            sys.trace = true;
            sys.run(&tasks, &mut MocaScheduler::new(&exp)).unwrap()
        };
        let mem = run(Grouping::MemoryAware);
        let art = run(Grouping::Artifact);
        // Memory-aware: one task after the other on both tiles.
        assert!(mem.finish[1] > mem.finish[0]);
        assert!(runs_of(&mem.trace, 1).iter().all(|&(t, _)| t == 2));
        // Artifact: resnet50's last part (layers 44..54) on one tile, squeezenet whole on the
        // other, unthrottled; squeezenet is done long before it would be after resnet50.
        let r = runs_of(&art.trace, 0);
        assert!(r.contains(&(2, true)) || r.contains(&(2, false)));
        assert!(r.iter().any(|&(t, _)| t == 1), "{r:?}");
        let s = runs_of(&art.trace, 1);
        assert!(
            !s.is_empty() && s.iter().all(|&(t, thr)| t == 1 && !thr),
            "{s:?}"
        );
        assert!(art.finish[1] < mem.finish[1]);
        assert!(
            art.finish[0] > mem.finish[0],
            "the last part on one tile is slower"
        );
    }

    #[test]
    fn artifact_grouping_chain_partial_partner_takes_its_own_partner() {
        // resnet50 takes alexnet (first allowed in the ranked queue); alexnet runs part 1
        // (5 layers) on one tile and stops; when resnet50 is done, alexnet (at its last part,
        // ranked first: same priority as resnet50, kws 0) takes kws as its partner: both on
        // one tile at once, kws whole.
        let exp = one_group(Grouping::Artifact);
        let prof = Profiles::new(&exp);
        let tasks = [
            task(&exp, 0, "resnet50", 11),
            task(&exp, 1, "alexnet", 11),
            task(&exp, 2, "kws", 0),
        ];
        let mut sys = System::new(&exp, &prof);
        sys.trace = true;
        let r = sys.run(&tasks, &mut MocaScheduler::new(&exp)).unwrap();
        assert!(r.finish.iter().all(|&f| f > 0));
        let alex = runs_of(&r.trace, 1);
        assert!(
            alex.iter().all(|&(t, _)| t == 1),
            "alexnet never on 2 tiles: {alex:?}"
        );
        let kws = runs_of(&r.trace, 2);
        assert!(
            !kws.is_empty() && kws.iter().all(|&(t, thr)| t == 1 && !thr),
            "{kws:?}"
        );
        // kws ran beside alexnet, after resnet50.
        let beside = r
            .trace
            .iter()
            .any(|s| s.tenants.iter().any(|t| t.0 == 1) && s.tenants.iter().any(|t| t.0 == 2));
        assert!(beside);
        assert!(r.finish[2] > r.finish[0] && r.finish[1] > r.finish[0]);
    }
}

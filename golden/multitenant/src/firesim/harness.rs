//! The artifact's scheduling harness (`priority_mp8_{static,dynamic}*.c`, `include/workload.h`),
//! as `data/firesim/README.md` documents it with file and line: what each slot of a round runs
//! ([`plan`]) and the harness' time accounting ([`account`]): per-tile virtual clocks, round
//! starts, the `finish`/`thread` result slots, the latency floor and the 1000 sentinel.
//!
//! [`plan`] replays the control flow only (not timing). Releases (`others_done`, a wall-clock
//! race between sub-groups) are taken from the log's `released` column, so the replay runs the
//! exact schedule the log's later rounds were built from.

use super::data::{NetConsts, RunTrace, SUB_GROUPS};
use std::ops::Range;
use thiserror::Error;

/// Tiles of the harness' SoC.
pub const TILES: usize = 8;
/// Cycles the harness adds to every tile's clock after a round with no work.
pub const EMPTY_ROUND_CYCLES: u64 = 1_000_000;
/// Latency the harness records for a task whose virtual finish is not after its dispatch
/// (raised to the floor afterwards, so it never appears in the logs).
pub const SENTINEL: u64 = 1000;
/// `status` after a grouped call, for the primary (`workload.h:837-1419`).
const PRIMARY_DONE: i64 = 80;
/// `status` of a partner that ran whole.
const PARTNER_WHOLE: i64 = 50;
/// `status` after a whole run alone.
const DONE: i64 = 100;

/// Which `workload_group` the MoCA harness compares the status with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Indexing {
    /// `workload_group[id]`, the off-by-one of `priority_mp8_dynamic.c:142`: reproduces the logs.
    AsLogged,
    /// `workload_group[id - 1]` (the number of parts): every task runs whole.
    Intended,
}

/// The harness could not replay the run.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum HarnessError {
    /// A task's network id is not in `networks.csv`.
    #[error("task {task}: network id {id} is not in networks.csv (1..={max})")]
    UnknownNetwork {
        /// Task.
        task: usize,
        /// Its id.
        id: u32,
        /// Largest id known.
        max: usize,
    },
    /// A grouped pair the harness has no grouped function for.
    #[error(
        "round {round}: task {primary} ({pn}) grouped with task {partner} ({qn}): the harness groups resnet50/yolov2 with squeezenet, yololite, kws, alexnet, googlenet and alexnet with googlenet, kws, yolov2, resnet50"
    )]
    UnknownPair {
        /// Round.
        round: usize,
        /// Primary.
        primary: usize,
        /// Its network.
        pn: String,
        /// Partner.
        partner: usize,
        /// Its network.
        qn: String,
    },
}

/// A run of consecutive layers of one task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seg {
    /// Task id.
    pub task: usize,
    /// Conv/matmul layer indices of its network.
    pub layers: Range<usize>,
    /// Runs through `dram_util = 0` (MoCA's runtime throttling).
    pub throttled: bool,
}

/// What one executed slot runs: `shared` on both tiles of the sub-group, then `tile0` on tile 2s
/// and `tile1` on tile 2s+1 side by side (1 tile each).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRun {
    /// 2-tile layers, in order.
    pub shared: Vec<Seg>,
    /// 1-tile layers on tile 2s afterwards.
    pub tile0: Vec<Seg>,
    /// 1-tile layers on tile 2s+1 afterwards.
    pub tile1: Vec<Seg>,
    /// Task whose result slot tile 2s writes.
    pub id0: usize,
    /// Task whose result slot tile 2s+1 writes (the partner in the grouped path).
    pub id1: usize,
}

/// One slot of a sub-group's round list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Something ran.
    Run(SlotRun),
    /// Reached, nothing ran (status too high).
    Skip(usize),
    /// Put back and re-listed in a later round.
    Released(usize),
}

/// The control flow of one round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundPlan {
    /// Queue levels (0 = empty round).
    pub levels: u32,
    /// Slots per sub-group.
    pub sub_groups: [Vec<Slot>; SUB_GROUPS],
}

/// The whole run's control flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Rounds.
    pub rounds: Vec<RoundPlan>,
    /// Conv/matmul layer calls executed per task (the logged `conv`).
    pub conv: Vec<u32>,
}

fn part_range(parts: &[u32], from: usize, to: usize) -> Range<usize> {
    let start: u32 = parts[..from].iter().sum();
    let end: u32 = parts[..to].iter().sum();
    start as usize..end as usize
}

/// Network ids of the harness (`include/workload.h:10-16`).
mod id {
    pub const RESNET50: u32 = 1;
    pub const ALEXNET: u32 = 2;
    pub const GOOGLENET: u32 = 3;
    pub const SQUEEZENET: u32 = 4;
    pub const KWS: u32 = 5;
    pub const YOLOV2: u32 = 6;
    pub const YOLOLITE: u32 = 7;
}

/// Record a task's segment `seg` run alone on both tiles of a sub-group (`lane`): its layers
/// count toward `conv`, it is done up to the segment's end, and its status becomes `DONE`.
fn run_solo(
    seg: Seg,
    conv: &mut [u32],
    done_layers: &mut [usize],
    status: &mut [i64],
    lane: &mut Vec<Slot>,
) {
    let q = seg.task;
    conv[q] += seg.layers.len() as u32;
    done_layers[q] = seg.layers.end;
    status[q] = DONE;
    lane.push(Slot::Run(SlotRun {
        shared: vec![seg],
        tile0: vec![],
        tile1: vec![],
        id0: q,
        id1: q,
    }));
}

/// Replay the harness' control flow over the logged round tables.
pub fn plan(
    trace: &RunTrace,
    nets: &[NetConsts],
    indexing: Indexing,
) -> Result<Plan, HarnessError> {
    let n = trace.tasks.len();
    let net_of = |t: usize| -> Result<&NetConsts, HarnessError> {
        let id = trace.tasks[t].network_id;
        nets.get((id as usize).wrapping_sub(1))
            .ok_or(HarnessError::UnknownNetwork {
                task: t,
                id,
                max: nets.len(),
            })
    };
    let moca = trace.policy == "moca";
    let mut status = vec![0i64; n];
    let mut conv = vec![0u32; n];
    let mut done_layers = vec![0usize; n];
    let mut rounds = Vec::with_capacity(trace.rounds.len());
    for round in &trace.rounds {
        let mut sub_groups: [Vec<Slot>; SUB_GROUPS] = Default::default();
        if round.levels > 0 {
            for (s, list) in round.sub_groups.iter().enumerate() {
                for (k, &q) in list.tasks.iter().enumerate() {
                    let nq = net_of(q)?;
                    // The harness releases a MoCA task only while its status is <= 0
                    // (`dynamic.c:139`); with the intended indexing a task may already have run
                    // part of its network where the log's did not, and then it is not released.
                    let releasable = !moca || indexing == Indexing::AsLogged || status[q] <= 0;
                    if round.released.contains(&q) && releasable {
                        status[q] = -1;
                        sub_groups[s].push(Slot::Released(q));
                        continue;
                    }
                    // The rest of a task run alone: the function parts after `status` as the
                    // harness does (kws' part boundary differs between its two paths, quirk 3),
                    // or every layer not yet run.
                    let whole = |t: usize, net: &NetConsts, from_status: i64, throttled: bool| {
                        let done = from_status.clamp(0, net.function_parts.len() as i64) as usize;
                        let from = match indexing {
                            Indexing::AsLogged => part_range(&net.function_parts, 0, done).end,
                            Indexing::Intended => done_layers[t],
                        };
                        Seg {
                            task: t,
                            layers: from..net.layers as usize,
                            throttled,
                        }
                    };
                    if !moca {
                        let seg = whole(q, nq, 0, false);
                        run_solo(
                            seg,
                            &mut conv,
                            &mut done_layers,
                            &mut status,
                            &mut sub_groups[s],
                        );
                        continue;
                    }
                    let group = match indexing {
                        // Out of bounds (yololite): the logs never run it alone, not even
                        // after a release (status -1), so the value read is <= -1.
                        Indexing::AsLogged => nq.group_as_indexed.unwrap_or(-1),
                        Indexing::Intended => nq.group_intended,
                    };
                    if status[q] >= group {
                        sub_groups[s].push(Slot::Skip(q));
                        continue;
                    }
                    let p = list.grouped.get(k).copied().unwrap_or(-1);
                    // squeezenet and yololite run with dram_util = -1 (`workload.h:758-819`).
                    let regulated = !matches!(nq.id, id::SQUEEZENET | id::YOLOLITE);
                    if p < 0 {
                        let seg = whole(q, nq, status[q], regulated);
                        run_solo(
                            seg,
                            &mut conv,
                            &mut done_layers,
                            &mut status,
                            &mut sub_groups[s],
                        );
                        continue;
                    }
                    let p = p as usize;
                    let np = net_of(p)?;
                    let partner_parts = match (nq.id, np.id) {
                        (id::RESNET50 | id::YOLOV2, id::SQUEEZENET | id::YOLOLITE) => None,
                        (id::RESNET50 | id::YOLOV2, id::KWS | id::ALEXNET | id::GOOGLENET) => {
                            Some(1)
                        }
                        (id::ALEXNET, id::GOOGLENET | id::KWS) => None,
                        (id::ALEXNET, id::YOLOV2 | id::RESNET50) => Some(2),
                        _ => {
                            return Err(HarnessError::UnknownPair {
                                round: round.index,
                                primary: q,
                                pn: nq.name.clone(),
                                partner: p,
                                qn: np.name.clone(),
                            });
                        }
                    };
                    let parts = nq.function_parts.len();
                    let done = status[q].clamp(0, parts as i64) as usize;
                    let lead =
                        part_range(&nq.function_parts, done, parts.saturating_sub(1).max(done));
                    let last_block = nq.block_parts.len();
                    let last = part_range(&nq.block_parts, last_block - 1, last_block);
                    let pk = partner_parts
                        .unwrap_or(np.block_parts.len())
                        .min(np.block_parts.len());
                    let mut plays = part_range(&np.block_parts, 0, pk);
                    if indexing == Indexing::Intended {
                        // Never run a partner's layers twice.
                        plays.start = plays.start.max(done_layers[p]).min(plays.end);
                    }
                    conv[q] += (lead.len() + last.len()) as u32;
                    conv[p] += plays.len() as u32;
                    done_layers[q] = last.end;
                    done_layers[p] = done_layers[p].max(plays.end);
                    status[q] = PRIMARY_DONE;
                    if !plays.is_empty() || indexing == Indexing::AsLogged {
                        status[p] = partner_parts.map_or(PARTNER_WHOLE, |k| k as i64);
                    }
                    let shared = if lead.is_empty() {
                        vec![]
                    } else {
                        vec![Seg {
                            task: q,
                            layers: lead,
                            throttled: true,
                        }]
                    };
                    sub_groups[s].push(Slot::Run(SlotRun {
                        shared,
                        tile0: vec![Seg {
                            task: q,
                            layers: last,
                            throttled: true,
                        }],
                        id1: if plays.is_empty() { q } else { p },
                        tile1: if plays.is_empty() {
                            vec![]
                        } else {
                            vec![Seg {
                                task: p,
                                layers: plays,
                                throttled: false,
                            }]
                        },
                        id0: q,
                    }));
                }
            }
        }
        rounds.push(RoundPlan {
            levels: round.levels,
            sub_groups,
        });
    }
    Ok(Plan { rounds, conv })
}

/// Durations of one round as the tiles measured them: per sub-group, per slot, the cycles tile
/// 2s and tile 2s+1 spent in the slot's call (`end - inner_start`; 0 for skipped and released
/// slots), and per tile the round's `end - start` (its own calls plus the barrier waits).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundTiming {
    /// `slots[s][k] = (tile 2s, tile 2s+1)` durations.
    pub slots: [Vec<(u64, u64)>; SUB_GROUPS],
    /// Per tile, the cycles added to its `gemmini_runtime` for this round.
    pub wall: [u64; TILES],
}

/// The harness' accounting of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Accounting {
    /// Printed `dispatch to finish time` per task (floored at `tp_prediction_cycles`).
    pub latency: Vec<u64>,
    /// Printed `thread runtime` per task (0 = never executed).
    pub thread: Vec<u64>,
    /// `T` at each round's start (the printed `gemmini runtime`).
    pub round_start: Vec<u64>,
    /// Per-tile runtimes at the end.
    pub tile_runtime: [u64; TILES],
    /// Max of `tile_runtime`.
    pub makespan: u64,
}

impl Accounting {
    /// SLA met count the harness' way: `latency < target` over all tasks.
    pub fn sla_met(&self, targets: &[u64]) -> usize {
        self.latency
            .iter()
            .zip(targets)
            .filter(|(l, t)| l < t)
            .count()
    }
}

/// The harness' accounting (`dynamic.c:120-184,342-367`, `static.c:120-167,313-338`) of a
/// planned run given each round's durations. `dispatch[i]` and `floor[i]`
/// (`tp_prediction_cycles` of the task's network) per task.
pub fn account(plan: &Plan, timing: &[RoundTiming], dispatch: &[u64], floor: &[u64]) -> Accounting {
    account_from(plan, timing, dispatch, floor, None)
}

/// [`account`], but with each round starting at the given `T` (e.g. the logged ones) instead of
/// the maximum of the accumulated tile runtimes: separates the durations' error from its
/// accumulation over the rounds.
pub fn account_from(
    plan: &Plan,
    timing: &[RoundTiming],
    dispatch: &[u64],
    floor: &[u64],
    starts: Option<&[u64]>,
) -> Accounting {
    let n = dispatch.len();
    let mut finish = vec![[0u64; 4]; n];
    let mut thread = vec![[0u64; 4]; n];
    let mut runtime = [0u64; TILES];
    let mut round_start = Vec::with_capacity(plan.rounds.len());
    let empty = RoundTiming::default();
    for (r, rp) in plan.rounds.iter().enumerate() {
        let t0 = starts
            .and_then(|s| s.get(r).copied())
            .unwrap_or_else(|| runtime.iter().copied().max().unwrap_or(0));
        round_start.push(t0);
        if rp.levels == 0 {
            for c in runtime.iter_mut() {
                *c += EMPTY_ROUND_CYCLES;
            }
            continue;
        }
        let tm = timing.get(r).unwrap_or(&empty);
        for (s, slots) in rp.sub_groups.iter().enumerate() {
            let mut temp = [t0, t0];
            for (k, slot) in slots.iter().enumerate() {
                let Slot::Run(run) = slot else { continue };
                let (d0, d1) = tm.slots[s].get(k).copied().unwrap_or((0, 0));
                for (cid, (id, d)) in [(run.id0, d0), (run.id1, d1)].into_iter().enumerate() {
                    let slot_ix = cid + 2 * (s % 2);
                    let end = temp[cid] + d;
                    finish[id][slot_ix] = if end > dispatch[id] {
                        end - dispatch[id]
                    } else {
                        SENTINEL
                    };
                    thread[id][slot_ix] = d;
                    temp[cid] = end;
                }
            }
        }
        for (c, w) in runtime.iter_mut().zip(tm.wall) {
            *c += w;
        }
    }
    let latency = finish
        .iter()
        .zip(floor)
        .map(|(f, &fl)| f.iter().copied().max().unwrap_or(0).max(fl))
        .collect();
    Accounting {
        latency,
        thread: thread
            .iter()
            .map(|t| t.iter().copied().max().unwrap_or(0))
            .collect(),
        round_start,
        makespan: runtime.iter().copied().max().unwrap_or(0),
        tile_runtime: runtime,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firesim::data::{TraceFiles, embedded_networks};

    fn solo(t: usize) -> Slot {
        Slot::Run(SlotRun {
            shared: vec![Seg {
                task: t,
                layers: 0..1,
                throttled: false,
            }],
            tile0: vec![],
            tile1: vec![],
            id0: t,
            id1: t,
        })
    }

    /// A round of `levels` queue levels in which sub-group `s` runs the slots given for it.
    fn round<const N: usize>(levels: u32, runs: [(usize, Vec<Slot>); N]) -> RoundPlan {
        let mut sub_groups: [Vec<Slot>; SUB_GROUPS] = Default::default();
        for (s, slots) in runs {
            sub_groups[s] = slots;
        }
        RoundPlan { levels, sub_groups }
    }

    /// A round's timing: the slot durations of the sub-groups given, and every tile's wall.
    fn timing<const N: usize>(
        slots: [(usize, Vec<(u64, u64)>); N],
        wall: [u64; TILES],
    ) -> RoundTiming {
        let mut t = RoundTiming {
            wall,
            ..Default::default()
        };
        for (s, d) in slots {
            t.slots[s] = d;
        }
        t
    }

    #[test]
    fn virtual_clocks_floor_sentinel_and_empty_rounds() {
        // Round 0: sub-group 0 runs task 0 (100 cycles) then task 1 (50 cycles); sub-group 1
        // runs task 2 (30 cycles on tile 2, 40 on tile 3). Round 1 is empty. Round 2: sub-group 2
        // runs task 3 (10 cycles).
        let plan = Plan {
            rounds: vec![
                round(1, [(0, vec![solo(0), solo(1)]), (1, vec![solo(2)])]),
                round(0, []),
                round(1, [(2, vec![solo(3)])]),
            ],
            conv: vec![1; 5],
        };
        // Wall: tiles 0/1 wait at the second slot's barrier (100), then 50/60.
        let t0 = timing(
            [(0, vec![(100, 90), (50, 60)]), (1, vec![(30, 40)])],
            [150, 160, 30, 40, 0, 0, 0, 0],
        );
        let t2 = timing([(2, vec![(10, 10)])], [0, 0, 0, 0, 10, 10, 0, 0]);
        let dispatch = [0, 120, 500, 1_000_000, 0];
        let floor = [20, 20, 20, 20, 77];
        let timing = [t0, RoundTiming::default(), t2];
        let a = account(&plan, &timing, &dispatch, &floor);
        // Task 0: max(100, 90) = 100. Task 1: tile 0 virtual 150, tile 1 virtual 150 (90 + 60):
        // 150 - 120 = 30 (not 160 - 120: waits at barriers do not count).
        assert_eq!(a.latency[0], 100);
        assert_eq!(a.latency[1], 30);
        // Task 2 finishes at 40 before its dispatch 500: sentinel 1000, floor 20 -> 1000.
        assert_eq!(a.latency[2], SENTINEL);
        // Round starts: 0; 160 (max tile); 1 000 160. Task 3 ends 1 000 170 - 1 000 000 = 170.
        assert_eq!(a.round_start, vec![0, 160, 1_000_160]);
        assert_eq!(a.latency[3], 170);
        // Never executed: the floor.
        assert_eq!(a.latency[4], 77);
        assert_eq!(a.thread, vec![100, 60, 40, 10, 0]);
        assert_eq!(a.tile_runtime[1], 1_000_160);
        // Each tile sums its own rounds: tile 4 ran only 10 cycles besides the empty round.
        assert_eq!(a.tile_runtime[4], 1_000_010);
        assert_eq!(a.makespan, 1_000_160);
        // The floor raises a short latency.
        let a = account(&plan, &timing, &dispatch, &[200; 5]);
        assert_eq!(a.latency[1], 200);
        assert_eq!(a.latency[0], 200);
        assert_eq!(a.sla_met(&[201, 200, 0, 0, 0]), 1);
        // A zero-length run at its dispatch cycle gets the sentinel, then the floor.
        let a = account(&plan, &[RoundTiming::default()], &dispatch, &[20; 5]);
        assert_eq!(a.latency[0], SENTINEL);
    }

    #[test]
    fn later_segment_overwrites_its_slot_only() {
        // Task 0 runs as a partner on tile 1 (slot 1) of sub-group 0 for 500 cycles, then whole
        // on sub-group 1 (slots 2, 3) for 100: the thread runtime is the max of the last writes.
        let grouped = Slot::Run(SlotRun {
            shared: vec![],
            tile0: vec![],
            tile1: vec![],
            id0: 1,
            id1: 0,
        });
        let plan = Plan {
            rounds: vec![
                round(1, [(0, vec![grouped])]),
                round(1, [(1, vec![solo(0)])]),
            ],
            conv: vec![0; 2],
        };
        let t0 = timing([(0, vec![(300, 500)])], [500, 500, 0, 0, 0, 0, 0, 0]);
        let t1 = timing([(1, vec![(100, 100)])], [0, 0, 100, 100, 0, 0, 0, 0]);
        let a = account(&plan, &[t0, t1], &[0, 0], &[1, 1]);
        assert_eq!(a.thread, vec![500, 300]);
        // Slot 1 keeps 500; slots 2/3 get 500 + 100.
        assert_eq!(a.latency[0], 600);
    }

    #[test]
    fn as_logged_reproduces_conv_of_every_run() {
        let files = TraceFiles::embedded();
        let parsed = files.parsed().unwrap();
        let nets = embedded_networks();
        for (s, q, p) in files.runs().unwrap() {
            let tr = parsed.load(&s, &q, &p).unwrap();
            let pl = plan(&tr, &nets, Indexing::AsLogged).unwrap();
            for t in &tr.tasks {
                assert_eq!(pl.conv[t.task], t.conv, "{s}/{q}/{p} task {}", t.task);
            }
            let whole = plan(&tr, &nets, Indexing::Intended).unwrap();
            for t in &tr.tasks {
                assert_eq!(
                    whole.conv[t.task], t.network_layers,
                    "{s}/{q}/{p} task {}",
                    t.task
                );
            }
        }
    }
}

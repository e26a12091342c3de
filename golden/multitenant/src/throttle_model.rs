//! What the throttle grants a layer: the golden [`MemThrottle`], accelerated exactly.
//!
//! The layer simulator ([`crate::system`]) needs, for every throttled layer, how many cycles the
//! tile's throttle takes to grant the layer's beats from the state it is in when the layer starts
//! (after the runtime's register writes), and the state it is left in when the layer ends (the
//! next layer's writes start from it). A throttle is *not* an exact `TARGET/WINDOW` cap over a
//! layer: what it grants depends on its state machine (windows, credit, bubbles, what a register
//! write does to them), and that is defined by the golden model alone. This module therefore knows
//! nothing of the throttle's logic; it only drives [`MemThrottle`] through its public API
//! ([`MemThrottle::step`] with the layer's requests, the configuration port for the runtime's
//! writes, [`MemThrottle::read`] for the registers) and makes that fast:
//!
//! * **Constant input, periodic state.** Under a constant input (a request of `b` beats every
//!   cycle with the bus ready = *saturating demand*, or no request = *idle*) the throttle is a
//!   finite deterministic machine, so its state is eventually periodic. A [`Trace`] steps the
//!   golden model and records the cycles at which a request fires; Brent's cycle detection on the
//!   *regulation state* (every readable register of the register map except the performance
//!   counters, [`regulation_key`]) finds a cycle `s` and a length `λ` with equal state at `s` and
//!   `s + λ`. The candidate period is then verified by stepping one more period (same fire
//!   pattern, same state again) before it is used, so state the registers do not show would be
//!   caught rather than extrapolated. From then on the fire times are exact by periodicity:
//!   fire `s`-relative index `f_s + qF + r` happens at `fire[f_s + r] + qλ`.
//! * **Lazy.** A trace is only stepped as far as queries need (a layer that ends inside the first
//!   window never pays for the transient), and it stops stepping once its period is known.
//! * **Cached.** Traces are keyed by (regulation state at the start, input), so every layer that
//!   starts from the same state with the same registers shares one trace, whatever the throttle's
//!   design (a design in which a register write resets everything gives one trace per register
//!   setting; one whose credit survives a write gives one per distinct carried state).
//! * **State at any cycle.** A trace keeps a clone of the throttle every [`CHECKPOINT`] cycles;
//!   the state at cycle `t` is the nearest earlier clone (after reducing `t` into the first
//!   period) stepped forward. Performance counters of such a state are those of the reduced
//!   cycle (they do not influence regulation and are not carried).
//!
//! Equality with plain stepping is tested over many register settings, layer lengths, request
//! sizes, starting states and a register write in mid-stream (the tests below), so the simulator
//! grants what the golden model grants.
//!
//! # The layer's request pattern
//! The simulator ([`crate::system`]) drives a layer's throttle with [`Demand::Paced`]: requests of
//! `MAX_BEATS` beats at the layer's unconstrained memory rate, with the DMA's rows in flight as
//! slack (after a bubble its free slots issue back to back), until the layer's beats are granted,
//! then idle until the layer ends. The grant time bounds the layer's time from below; the state
//! after the idle tail is what the next layer's register writes meet.

use golden::cfg::{CfgPort, ThrottleConfig};
use golden::spec::{self, Access};
use golden::throttle::{MemThrottle, ThrottleIn};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// How the layer simulator times a throttled layer (`[simulator] throttle_model`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThrottleTiming {
    /// What the golden throttle grants over the layer from its carried state (this module).
    Golden,
    /// An exact `TARGET/WINDOW` cap (fast; off from the hardware by the amounts in
    /// docs/CALIBRATION.md, "The throttle as built").
    #[default]
    ExactCap,
}

/// Cycles between two stored states of a trace.
pub const CHECKPOINT: u64 = 512;

/// The regulation state as software sees it: every readable register (indexed by address) except
/// the performance counters.
pub type RegulationKey = [u32; 1 << spec::CFG_ADDR_BITS];

/// Addresses whose read-back makes up the regulation state (computed once).
fn regulation_addrs() -> &'static [u8] {
    static ADDRS: OnceLock<Vec<u8>> = OnceLock::new();
    ADDRS.get_or_init(|| {
        spec::THROTTLE_REGISTERS
            .iter()
            .filter(|r| r.access != Access::WriteOnly && !r.name.starts_with("PERF_"))
            .map(|r| r.addr)
            .collect()
    })
}

/// Read the regulation state of a throttle through its registers.
pub fn regulation_key(t: &MemThrottle) -> RegulationKey {
    let mut k = [0u32; 1 << spec::CFG_ADDR_BITS];
    for &a in regulation_addrs() {
        k[usize::from(a)] = t.read(a);
    }
    k
}

/// Fixed-point scale of [`Demand::Paced`] rates and credit (1/1024 beat).
pub const PACE_ONE: u64 = 1024;

/// The requests a tile presents to its throttle (the bus is always ready).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Demand {
    /// A request of this many beats every cycle.
    Saturating(u8),
    /// No request.
    Idle,
    /// A DMA that can issue `rate / PACE_ONE` beats per cycle on average with up to `depth`
    /// beats of slack (its in-flight slots, Little's law), through a port of `peak / PACE_ONE`
    /// beats per cycle: two token buckets, one gaining `rate` every cycle up to
    /// `depth * PACE_ONE`, one gaining `peak` up to `beats * PACE_ONE`, both starting full; a
    /// request of `beats` is presented while both hold at least `beats * PACE_ONE`, and takes
    /// that much from both when it fires.
    Paced {
        /// Beats per request.
        beats: u8,
        /// Beats per cycle, in 1/[`PACE_ONE`].
        rate: u64,
        /// Bucket depth in beats (at least `beats`).
        depth: u64,
        /// Port beats per cycle, in 1/[`PACE_ONE`].
        peak: u64,
    },
}

impl Demand {
    /// The source's state at the start (the buckets' fill, 0 for the constant inputs).
    fn initial(self) -> (u64, u64) {
        match self {
            Demand::Paced { depth, beats, .. } => (
                depth.max(u64::from(beats)) * PACE_ONE,
                u64::from(beats) * PACE_ONE,
            ),
            _ => (0, 0),
        }
    }

    /// This cycle's input for source state `credit` (updated for the cycle's gain).
    fn input(self, credit: &mut (u64, u64)) -> ThrottleIn {
        let (valid, beats) = match self {
            Demand::Saturating(b) => (true, b),
            Demand::Idle => (false, 0),
            Demand::Paced {
                beats,
                rate,
                depth,
                peak,
            } => {
                let b = u64::from(beats) * PACE_ONE;
                credit.0 = (credit.0 + rate).min(depth.max(u64::from(beats)) * PACE_ONE);
                credit.1 = (credit.1 + peak).min(b);
                (credit.0 >= b && credit.1 >= b, beats)
            }
        };
        ThrottleIn {
            up_valid: valid,
            up_beats: beats,
            up_addr: 0,
            down_ready: true,
            cfg: CfgPort::default(),
        }
    }

    /// Account a fired request in the source state.
    fn fired(self, credit: &mut (u64, u64)) {
        if let Demand::Paced { beats, .. } = self {
            credit.0 -= u64::from(beats) * PACE_ONE;
            credit.1 -= u64::from(beats) * PACE_ONE;
        }
    }

    /// Beats per request.
    pub fn beats(self) -> u8 {
        match self {
            Demand::Saturating(b) | Demand::Paced { beats: b, .. } => b,
            Demand::Idle => 0,
        }
    }
}

/// The periodic part of a trace: the state at `start + len` equals the state at `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Period {
    start: u64,
    len: u64,
    /// Index of the first fire at or after `start`.
    first_fire: usize,
    /// Fires per period.
    fires: usize,
}

/// The golden throttle stepped under one constant input from one state, with its fire times,
/// stored states and (once found) its period.
#[derive(Clone, Debug)]
pub struct Trace {
    demand: Demand,
    /// State at cycle `cycles` (throttle, source).
    frontier: MemThrottle,
    credit: (u64, u64),
    cycles: u64,
    /// Cycles (from the start) at which a request fired, increasing.
    fires: Vec<u64>,
    /// State at cycle `j * CHECKPOINT`.
    checkpoints: Vec<(MemThrottle, (u64, u64))>,
    // Brent's cycle detection on (regulation state, source state).
    saved: (RegulationKey, (u64, u64)),
    saved_at: u64,
    power: u64,
    /// Candidate `(start, len)` waiting for its verification period.
    candidate: Option<(u64, u64)>,
    period: Option<Period>,
}

impl Trace {
    /// Start a trace of `start` under `demand`.
    pub fn new(start: &MemThrottle, demand: Demand) -> Self {
        let credit = demand.initial();
        Trace {
            demand,
            frontier: start.clone(),
            credit,
            cycles: 0,
            fires: Vec::new(),
            checkpoints: Vec::new(),
            saved: (regulation_key(start), credit),
            saved_at: 0,
            power: 1,
            candidate: None,
            period: None,
        }
    }

    /// Cycles stepped so far (the cost of this trace).
    pub fn stepped(&self) -> u64 {
        self.cycles
    }

    /// The period `(start, length)` once found.
    pub fn period(&self) -> Option<(u64, u64)> {
        self.period.map(|p| (p.start, p.len))
    }

    fn fires_in(&self, from: u64, to: u64) -> &[u64] {
        let a = self.fires.partition_point(|&c| c < from);
        let b = self.fires.partition_point(|&c| c < to);
        &self.fires[a..b]
    }

    /// Step one cycle (only while the period is unknown).
    fn step(&mut self) {
        if self.cycles == self.checkpoints.len() as u64 * CHECKPOINT {
            self.checkpoints.push((self.frontier.clone(), self.credit));
        }
        let input = self.demand.input(&mut self.credit);
        if self.frontier.step(&input).fire {
            self.demand.fired(&mut self.credit);
            self.fires.push(self.cycles);
        }
        self.cycles += 1;
        let key = (regulation_key(&self.frontier), self.credit);
        if let Some((s, len)) = self.candidate {
            if self.cycles == s + 2 * len {
                let first = self.fires_in(s, s + len);
                let second = self.fires_in(s + len, s + 2 * len);
                let same = key == self.saved
                    && first.len() == second.len()
                    && first.iter().zip(second).all(|(a, b)| a + len == *b);
                if same {
                    let first_fire = self.fires.partition_point(|&c| c < s);
                    self.period = Some(Period {
                        start: s,
                        len,
                        first_fire,
                        fires: first.len(),
                    });
                } else {
                    self.candidate = None;
                    self.saved = key;
                    self.saved_at = self.cycles;
                    self.power = 1;
                }
            }
            return;
        }
        if key == self.saved {
            self.candidate = Some((self.saved_at, self.cycles - self.saved_at));
        } else if self.cycles - self.saved_at == self.power {
            self.power *= 2;
            self.saved = key;
            self.saved_at = self.cycles;
        }
    }

    /// Cycle at which the `n`-th request (0-based) fires; `None` if it never does.
    pub fn fire_time(&mut self, n: usize) -> Option<u64> {
        loop {
            if let Some(&c) = self.fires.get(n) {
                return Some(c);
            }
            if let Some(p) = self.period {
                if p.fires == 0 {
                    return None;
                }
                let k = n - p.first_fire;
                let (q, r) = (k / p.fires, k % p.fires);
                return Some(self.fires[p.first_fire + r] + q as u64 * p.len);
            }
            self.step();
        }
    }

    /// Cycles from the start until `n` requests have fired (0 for `n = 0`); `None` if never.
    pub fn cycles_for(&mut self, n: u64) -> Option<u64> {
        if n == 0 {
            return Some(0);
        }
        self.fire_time(usize::try_from(n - 1).ok()?).map(|c| c + 1)
    }

    /// The throttle after `t` cycles (regulation state exact; performance counters not carried).
    pub fn state_at(&mut self, t: u64) -> MemThrottle {
        let t = loop {
            if let Some(p) = self.period {
                break if t >= p.start + p.len {
                    p.start + (t - p.start) % p.len
                } else {
                    t
                };
            }
            if t <= self.cycles {
                break t;
            }
            self.step();
        };
        if t == self.cycles {
            return self.frontier.clone();
        }
        let j = (t / CHECKPOINT) as usize;
        let (mut s, mut credit) = self.checkpoints[j].clone();
        for _ in j as u64 * CHECKPOINT..t {
            let input = self.demand.input(&mut credit);
            if s.step(&input).fire {
                self.demand.fired(&mut credit);
            }
        }
        s
    }
}

/// Apply the runtime's register writes for `regs` (the order of [`ThrottleConfig::writes`], one
/// cycle each, no request pending) to a throttle.
pub fn write_registers(t: &mut MemThrottle, regs: &ThrottleConfig) {
    for w in regs.writes() {
        t.step(&ThrottleIn {
            cfg: w,
            down_ready: true,
            ..ThrottleIn::default()
        });
    }
}

/// A layer's grant: cycles until its last beat is granted (from the layer start) and the state
/// at that point.
#[derive(Clone, Debug)]
pub struct Grant {
    /// Cycles from the layer start until its last request fired (inclusive).
    pub cycles: u64,
    /// Requests granted.
    pub requests: u64,
    /// Beats granted (`requests * request beats`; at least the layer's beats).
    pub beats: u64,
}

#[derive(Debug, Default)]
struct Cache {
    traces: HashMap<(RegulationKey, Demand), Trace>,
}

/// Shared, thread-safe cache of throttle traces (one per experiment's profiles; cheap to clone,
/// clones share the cache).
#[derive(Clone, Debug, Default)]
pub struct ThrottleModel {
    cache: Arc<Mutex<Cache>>,
}

impl ThrottleModel {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_trace<R>(
        &self,
        start: &MemThrottle,
        demand: Demand,
        f: impl FnOnce(&mut Trace) -> R,
    ) -> R {
        let key = (regulation_key(start), demand);
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let t = c
            .traces
            .entry(key)
            .or_insert_with(|| Trace::new(start, demand));
        f(t)
    }

    /// Grant `beats` beats to the requests of `demand` (not [`Demand::Idle`]) from `start`.
    /// `None` if the throttle never grants them (cannot happen for a configuration the register
    /// map accepts).
    pub fn grant(&self, start: &MemThrottle, demand: Demand, beats: u64) -> Option<Grant> {
        let b = u64::from(demand.beats());
        if b == 0 {
            return None;
        }
        let requests = beats.div_ceil(b);
        let cycles = self.with_trace(start, demand, |t| t.cycles_for(requests))?;
        Some(Grant {
            cycles,
            requests,
            beats: requests * b,
        })
    }

    /// The throttle after `cycles` cycles of `demand` from `start`.
    pub fn state_after(&self, start: &MemThrottle, demand: Demand, cycles: u64) -> MemThrottle {
        if cycles == 0 {
            return start.clone();
        }
        self.with_trace(start, demand, |t| t.state_at(cycles))
    }

    /// The state a layer leaves behind: `demand` for `grant_cycles`, then idle until the layer's
    /// end `layer_cycles` after its start.
    pub fn after_layer(
        &self,
        start: &MemThrottle,
        demand: Demand,
        grant_cycles: u64,
        layer_cycles: u64,
    ) -> MemThrottle {
        let s = self.state_after(start, demand, grant_cycles);
        self.state_after(&s, Demand::Idle, layer_cycles.saturating_sub(grant_cycles))
    }

    /// Traces cached and golden cycles stepped in total (cost figures).
    pub fn stats(&self) -> (usize, u64) {
        let c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        (c.traces.len(), c.traces.values().map(Trace::stepped).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use golden::spec::throttle as reg;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn cfg(w: u16, t: u16) -> ThrottleConfig {
        ThrottleConfig {
            window: w,
            target: t,
            burst: t,
        }
    }

    /// An independent plain model of the request sources: (valid, beats) this cycle, and what
    /// a fired request takes.
    struct Source {
        d: Demand,
        bucket: f64,
        port: f64,
    }

    impl Source {
        fn new(d: Demand) -> Self {
            let (bucket, port) = match d {
                Demand::Paced { depth, beats, .. } => {
                    (depth.max(u64::from(beats)) as f64, f64::from(beats))
                }
                _ => (0.0, 0.0),
            };
            Source { d, bucket, port }
        }
        fn input(&mut self) -> ThrottleIn {
            let (valid, beats) = match self.d {
                Demand::Saturating(b) => (true, b),
                Demand::Idle => (false, 0),
                Demand::Paced {
                    beats,
                    rate,
                    depth,
                    peak,
                } => {
                    // Exact in binary floating point: multiples of 1/1024.
                    let cap = depth.max(u64::from(beats)) as f64;
                    self.bucket = (self.bucket + rate as f64 / 1024.0).min(cap);
                    self.port = (self.port + peak as f64 / 1024.0).min(f64::from(beats));
                    let b = f64::from(beats);
                    (self.bucket >= b && self.port >= b, beats)
                }
            };
            ThrottleIn {
                up_valid: valid,
                up_beats: beats,
                down_ready: true,
                ..ThrottleIn::default()
            }
        }
        fn step(&mut self, t: &mut MemThrottle) -> bool {
            let i = self.input();
            let fire = t.step(&i).fire;
            if fire {
                self.bucket -= f64::from(i.up_beats);
                self.port -= f64::from(i.up_beats);
            }
            fire
        }
    }

    /// Plain stepping: cycles until `n` requests fired from `start` under `d`.
    fn plain_grant(start: &MemThrottle, d: Demand, n: u64) -> Option<u64> {
        let mut t = start.clone();
        let mut src = Source::new(d);
        let mut fired = 0;
        for c in 0..50_000_000u64 {
            if fired == n {
                return Some(c);
            }
            fired += u64::from(src.step(&mut t));
        }
        None
    }

    /// Plain stepping: the regulation state at every cycle `0..=horizon`.
    fn plain_keys(start: &MemThrottle, d: Demand, horizon: u64) -> Vec<RegulationKey> {
        let mut t = start.clone();
        let mut src = Source::new(d);
        let mut keys = vec![regulation_key(&t)];
        for _ in 0..horizon {
            src.step(&mut t);
            keys.push(regulation_key(&t));
        }
        keys
    }

    fn random_demand(rng: &mut ChaCha8Rng) -> Demand {
        let beats = rng.gen_range(1..=4u8);
        if rng.gen_bool(0.3) {
            Demand::Saturating(beats)
        } else {
            Demand::Paced {
                beats,
                rate: rng.gen_range(1..=4 * PACE_ONE),
                depth: rng.gen_range(0..200),
                peak: rng.gen_range(1..=4 * PACE_ONE),
            }
        }
    }

    /// The accelerator equals plain stepping of the golden model: grant times for many lengths
    /// and the state at many cycles, over register settings that include the runtime's kind
    /// (large windows, TARGET far below WINDOW), small and unstable ones, saturating and paced
    /// sources of 1..=4-beat requests.
    #[test]
    fn accelerated_grants_equal_plain_stepping() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut settings = vec![
            (4257, 316),
            (3459, 27688 / 8),
            (200, 20),
            (100, 25),
            (10, 4),
            (64, 3),
            (2, 8),
            (1000, 999),
            (37, 16),
        ];
        for _ in 0..12 {
            let w = rng.gen_range(2..3000u16);
            settings.push((w, rng.gen_range(1..=w.saturating_mul(2))));
        }
        let model = ThrottleModel::new();
        for &(w, t) in &settings {
            let mut start = MemThrottle::new();
            write_registers(&mut start, &cfg(w, t));
            let demands = [
                Demand::Saturating(4),
                Demand::Saturating(1),
                Demand::Paced {
                    beats: 4,
                    rate: 545,
                    depth: 64,
                    peak: PACE_ONE,
                },
                random_demand(&mut rng),
                random_demand(&mut rng),
            ];
            for d in demands {
                let b = u64::from(d.beats());
                let horizon = 6 * u64::from(w) + 500;
                let lengths: Vec<u64> = [1, 2, 7, u64::from(t), u64::from(w) * 3]
                    .into_iter()
                    .chain((0..4).map(|_| rng.gen_range(1..20 * u64::from(w) + 50)))
                    .collect();
                for &beats in &lengths {
                    let want = plain_grant(&start, d, beats.div_ceil(b));
                    let got = model.grant(&start, d, beats).map(|g| g.cycles);
                    assert_eq!(got, want, "W={w} T={t} {d:?} beats={beats}");
                }
                let keys = plain_keys(&start, d, horizon);
                for _ in 0..20 {
                    let c = rng.gen_range(0..=horizon);
                    let s = model.state_after(&start, d, c);
                    assert_eq!(
                        regulation_key(&s),
                        keys[c as usize],
                        "W={w} T={t} {d:?} at {c}"
                    );
                }
            }
        }
    }

    /// Starting states other than a fresh configuration (a throttle in mid-window, in a bubble,
    /// with banked or owed credit, after an idle tail), a register write in mid-stream, and the
    /// composition the simulator uses (the layer's requests until granted, then idle, then the
    /// next layer's writes).
    #[test]
    fn carried_states_and_mid_stream_writes_equal_plain_stepping() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let model = ThrottleModel::new();
        for case in 0..40 {
            let w = rng.gen_range(8..1500u16);
            let t = rng.gen_range(8..=w);
            let d = random_demand(&mut rng);
            let b = u64::from(d.beats());
            // A random history: configure, random traffic, maybe a mid-stream rewrite.
            let mut hist = MemThrottle::new();
            write_registers(&mut hist, &cfg(w, t));
            for k in 0..rng.gen_range(0..4 * u64::from(w)) {
                let write = k == 3 * u64::from(w) / 2 && case % 2 == 0;
                hist.step(&ThrottleIn {
                    up_valid: rng.gen_bool(0.8),
                    up_beats: rng.gen_range(1..=4),
                    down_ready: true,
                    cfg: if write {
                        CfgPort::write(reg::TARGET, t / 2 + 1)
                    } else {
                        CfgPort::default()
                    },
                    ..ThrottleIn::default()
                });
            }
            let beats = rng.gen_range(1..30 * u64::from(w));
            let g = model.grant(&hist, d, beats).unwrap();
            let want = plain_grant(&hist, d, beats.div_ceil(b));
            assert_eq!(Some(g.cycles), want, "case {case}: W={w} T={t} {d:?}");
            // The layer's end state: its requests until granted, then an idle tail.
            let tail = rng.gen_range(0..5 * u64::from(w));
            let end = model.after_layer(&hist, d, g.cycles, g.cycles + tail);
            let mut p = hist.clone();
            let mut src = Source::new(d);
            for _ in 0..g.cycles {
                src.step(&mut p);
            }
            let mut idle = Source::new(Demand::Idle);
            for _ in 0..tail {
                idle.step(&mut p);
            }
            assert_eq!(regulation_key(&end), regulation_key(&p), "case {case}");
            // The next layer's writes from both.
            let next = cfg(rng.gen_range(8..1500), rng.gen_range(8..800));
            let (mut a, mut q) = (end, p);
            write_registers(&mut a, &next);
            write_registers(&mut q, &next);
            assert_eq!(regulation_key(&a), regulation_key(&q), "case {case}");
            let n = rng.gen_range(1..10_000u64);
            let want = plain_grant(&q, d, n.div_ceil(b));
            assert_eq!(model.grant(&a, d, n).map(|g| g.cycles), want, "case {case}");
        }
    }

    #[test]
    fn period_is_found_and_verified() {
        let mut start = MemThrottle::new();
        write_registers(&mut start, &cfg(200, 20));
        let mut tr = Trace::new(&start, Demand::Saturating(4));
        tr.cycles_for(100_000);
        let (s, len) = tr.period().expect("periodic");
        assert!(len > 0 && tr.stepped() <= s + 2 * len);
        // Far beyond the stepped horizon, the rate is the periodic one.
        let a = tr.cycles_for(1_000_000).unwrap();
        let b = tr.cycles_for(2_000_000).unwrap();
        let rate = 4.0 * 1e6 / (b - a) as f64;
        assert!((rate - 0.1).abs() < 0.01, "{rate}");
    }
}

//! Seeded stimulus generators shared by the Rust-HDL cross-checks, Verilator co-simulation,
//! fuzzing and the Icarus replay. Every generator is deterministic in its seed.
//!
//! Requesters follow the valid/ready protocol: once a request is raised it is held, with the
//! same payload, until it fires (the generator is told whether the previous cycle's request
//! fired). Arbiter requesters may also *retract* a request with a small probability, as a tile
//! behind a throttle does when a bubble starts.

use crate::arbiter::{ArbiterIn, Request};
use crate::cfg::{CfgPort, ThrottleConfig};
use crate::spec::{self, arbiter as areg, throttle as treg};
use crate::throttle::ThrottleIn;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Demand pattern of a throttle stimulus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Demand {
    /// A request every cycle, bus always ready, no configuration traffic after set-up.
    Saturate,
    /// Random requests with random beats, bursts and idle gaps, bus back-pressure, and
    /// configuration writes (valid and invalid) at random cycles, mid-window and mid-bubble.
    Random,
}

impl std::str::FromStr for Demand {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "saturate" => Ok(Demand::Saturate),
            "random" => Ok(Demand::Random),
            _ => Err(format!("unknown demand '{s}': allowed saturate, random")),
        }
    }
}

/// Stimulus for `MemThrottle`.
pub struct ThrottleStimulus {
    rng: ChaCha8Rng,
    demand: Demand,
    setup: Vec<CfgPort>,
    cycle: u64,
    pending: Option<(u8, u32)>,
    busy: bool,
    next_addr: u32,
    saturate_beats: u8,
}

impl ThrottleStimulus {
    /// A generator that first writes `cfg` (its [`ThrottleConfig::writes`]), then produces `demand`.
    pub fn new(seed: u64, demand: Demand, cfg: &ThrottleConfig) -> Self {
        let mut setup: Vec<CfgPort> = cfg.writes().to_vec();
        setup.reverse();
        ThrottleStimulus {
            rng: ChaCha8Rng::seed_from_u64(seed),
            demand,
            setup,
            cycle: 0,
            pending: None,
            busy: true,
            next_addr: 0x1000,
            saturate_beats: 1,
        }
    }

    /// Beats of every saturating request (1..=4; default 1, the rate-property set-up).
    pub fn with_saturate_beats(mut self, beats: u8) -> Self {
        self.saturate_beats = beats;
        self
    }

    fn random_cfg(&mut self) -> CfgPort {
        let r = &mut self.rng;
        match r.gen_range(0..12) {
            0..=2 => CfgPort::write(treg::WINDOW, r.gen_range(2..400)),
            3 => CfgPort::write(treg::WINDOW, [0, 1][r.gen_range(0..2)]),
            4..=5 => CfgPort::write(treg::TARGET, r.gen_range(1..200)),
            6 => CfgPort::write(treg::TARGET, 0),
            7 => CfgPort::write(treg::BURST, r.gen_range(0..300)),
            8 => CfgPort::write(treg::CTRL, r.gen_range(0..=treg::CTRL_BITS)),
            9 => CfgPort::write(treg::CTRL, r.gen_range(treg::CTRL_BITS + 1..=u16::MAX)),
            10 => CfgPort::write(r.gen_range(treg::STATUS..16), r.r#gen()),
            _ => CfgPort::write(treg::WINDOW, r.gen_range(2..64)),
        }
    }

    /// The next cycle's inputs; `last_fired` tells whether the previous request fired.
    pub fn next(&mut self, last_fired: bool) -> ThrottleIn {
        self.cycle += 1;
        if last_fired {
            self.pending = None;
        }
        let read_addr = self.rng.gen_range(0..16u8);
        if let Some(w) = self.setup.pop() {
            return ThrottleIn {
                cfg: w,
                ..Default::default()
            };
        }
        match self.demand {
            Demand::Saturate => {
                let (beats, addr) = *self.pending.get_or_insert_with(|| {
                    self.next_addr = self.next_addr.wrapping_add(64);
                    (self.saturate_beats, self.next_addr)
                });
                ThrottleIn {
                    up_valid: true,
                    up_beats: beats,
                    up_addr: addr,
                    down_ready: true,
                    cfg: CfgPort::read(read_addr),
                }
            }
            Demand::Random => {
                // Bursts and idle gaps: a two-state Markov source.
                if self.rng.gen_bool(0.02) {
                    self.busy = !self.busy;
                }
                if self.pending.is_none() && self.busy && self.rng.gen_bool(0.8) {
                    let beats = self.rng.gen_range(1..=spec::MAX_BEATS as u8);
                    self.next_addr = self.next_addr.wrapping_add(64);
                    self.pending = Some((beats, self.next_addr));
                }
                let cfg = if self.rng.gen_bool(0.004) {
                    self.random_cfg()
                } else {
                    CfgPort::read(read_addr)
                };
                let (valid, (beats, addr)) = match self.pending {
                    Some(p) => (true, p),
                    None => (false, (self.rng.gen_range(0..8), self.rng.r#gen())),
                };
                ThrottleIn {
                    up_valid: valid,
                    up_beats: beats,
                    up_addr: addr,
                    down_ready: self.rng.gen_bool(0.85),
                    cfg,
                }
            }
        }
    }
}

/// Stimulus for `BusArbiter`: random request subsets, random memory back-pressure, policy
/// switches at random cycles (valid and invalid writes).
pub struct ArbiterStimulus {
    rng: ChaCha8Rng,
    ports: usize,
    pending: Vec<Option<Request>>,
    active: Vec<bool>,
    policy: u16,
    started: bool,
    counter: u32,
}

impl ArbiterStimulus {
    /// A generator for `ports` requesters starting with `policy` (written in the first cycle).
    pub fn new(seed: u64, ports: usize, policy: crate::arbiter::Policy) -> Self {
        ArbiterStimulus {
            rng: ChaCha8Rng::seed_from_u64(seed),
            ports,
            pending: vec![None; ports],
            active: vec![true; ports],
            policy: policy.value(),
            started: false,
            counter: 0,
        }
    }

    /// The next cycle's inputs; `last_ready` is the previous cycle's `req_ready` mask.
    pub fn next(&mut self, last_ready: u16) -> ArbiterIn {
        let r = &mut self.rng;
        for k in 0..self.ports {
            if last_ready >> k & 1 == 1 {
                self.pending[k] = None;
            }
        }
        if !self.started {
            self.started = true;
            return ArbiterIn {
                req: vec![Request::default(); self.ports],
                mem_ready: false,
                cfg: CfgPort::write(areg::POLICY, self.policy),
            };
        }
        // A random subset of requesters is active; it changes now and then.
        if r.gen_bool(0.01) {
            for a in self.active.iter_mut() {
                *a = r.gen_bool(0.6);
            }
        }
        let mut req = Vec::with_capacity(self.ports);
        for k in 0..self.ports {
            if self.pending[k].is_some() && r.gen_bool(0.01) {
                self.pending[k] = None; // retracted
            }
            if self.pending[k].is_none() && self.active[k] && r.gen_bool(0.7) {
                self.counter = self.counter.wrapping_add(1);
                self.pending[k] = Some(Request {
                    valid: true,
                    beats: r.gen_range(1..=spec::MAX_BEATS as u8),
                    addr: (k as u32) << 28 | self.counter,
                });
            }
            req.push(self.pending[k].unwrap_or(Request {
                valid: false,
                beats: r.gen_range(0..8),
                addr: r.r#gen(),
            }));
        }
        let cfg = if r.gen_bool(0.003) {
            match r.gen_range(0..5) {
                0 | 1 => CfgPort::write(areg::POLICY, r.gen_range(0..2)),
                2 => CfgPort::write(areg::POLICY, r.gen_range(2..=u16::MAX)),
                3 => CfgPort::write(areg::CTRL, r.gen_range(0..8)),
                _ => CfgPort::write(r.gen_range(areg::STATUS..16), r.r#gen()),
            }
        } else {
            CfgPort::read(r.gen_range(0..16))
        };
        ArbiterIn {
            req,
            mem_ready: r.gen_bool(0.75),
            cfg,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbiter::{BusArbiter, Policy};
    use crate::throttle::{MemThrottle, State};

    #[test]
    fn throttle_stimulus_is_deterministic_and_holds_requests() {
        let cfg = ThrottleConfig::new(50, 10, None).unwrap();
        let run = |seed| {
            let mut s = ThrottleStimulus::new(seed, Demand::Random, &cfg);
            let mut t = MemThrottle::new();
            let mut fired = false;
            let mut trace = Vec::new();
            let mut prev: Option<ThrottleIn> = None;
            for _ in 0..5000 {
                let i = s.next(fired);
                if let Some(p) = prev
                    && p.up_valid
                    && !fired
                {
                    assert!(i.up_valid && i.up_addr == p.up_addr && i.up_beats == p.up_beats);
                }
                let o = t.step(&i);
                fired = o.fire;
                trace.push(o);
                prev = Some(i);
            }
            (trace, *t.status())
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3).0, run(4).0);
        let (trace, _) = run(3);
        assert!(trace.iter().filter(|o| o.fire).count() > 1000);
        assert!(
            trace
                .iter()
                .filter(|o| o.status.state == State::Bubble)
                .count()
                > 100
        );
        assert!(trace.iter().any(|o| o.status.cfg_error));
    }

    #[test]
    fn arbiter_stimulus_exercises_both_policies() {
        for policy in [Policy::RoundRobin, Policy::Fixed] {
            let mut s = ArbiterStimulus::new(9, 5, policy);
            let mut a = BusArbiter::new(5).unwrap();
            let mut ready = 0;
            let mut stalls = 0;
            for _ in 0..3000 {
                let o = a.step(&s.next(ready));
                ready = o.req_ready;
                stalls += u32::from(o.mem_valid && ready == 0);
            }
            assert!(a.status().perf_grants > 1000);
            assert!(stalls > 100);
        }
    }
}

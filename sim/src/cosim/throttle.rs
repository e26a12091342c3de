//! The `MemThrottle` adapter: golden model and seeded [`ThrottleStimulus`].

use super::{CosimBlock, write_values};
use crate::interface::Declared;
use golden::cfg::ThrottleConfig;
use golden::stimulus::{Demand, ThrottleStimulus};
use golden::throttle::{MemThrottle, State, ThrottleIn, ThrottleOut};

/// Statistics of a throttle run (from the golden model, over the cycles run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThrottleStats {
    /// Requests that fired.
    pub granted_requests: u64,
    /// Beats of the requests that fired.
    pub granted_beats: u64,
    /// Cycles spent in a bubble.
    pub bubble_cycles: u64,
    /// Cycles run.
    pub cycles: u64,
}

/// `MemThrottle`: golden model and [`ThrottleStimulus`].
pub struct ThrottleBlock {
    seed: u64,
    demand: Demand,
    cfg: ThrottleConfig,
    stim: ThrottleStimulus,
    gold: MemThrottle,
    fired: bool,
    stats: ThrottleStats,
    declared: Declared,
}

impl ThrottleBlock {
    /// A throttle configured with `cfg` (written in the first cycles), driven by `demand`.
    pub fn new(seed: u64, demand: Demand, cfg: ThrottleConfig) -> Self {
        let sample = (ThrottleIn::default(), ThrottleOut::default());
        ThrottleBlock {
            seed,
            demand,
            cfg,
            stim: ThrottleStimulus::new(seed, demand, &cfg),
            gold: MemThrottle::new(),
            fired: false,
            stats: ThrottleStats::default(),
            declared: Declared::of(&sample),
        }
    }

    /// Statistics of the cycles run since the last reset.
    pub fn stats(&self) -> ThrottleStats {
        self.stats
    }

    /// One cycle with the golden types (used by [`CosimBlock::step`]).
    pub fn step_typed(&mut self) -> (ThrottleIn, ThrottleOut) {
        let i = self.stim.next(self.fired);
        let o = self.gold.step(&i);
        self.fired = o.fire;
        self.stats.cycles += 1;
        if o.fire {
            self.stats.granted_requests += 1;
            self.stats.granted_beats += u64::from(i.up_beats & 7);
        }
        self.stats.bubble_cycles += u64::from(o.status.state == State::Bubble);
        (i, o)
    }
}

impl CosimBlock for ThrottleBlock {
    fn name(&self) -> &str {
        "throttle"
    }
    fn declared(&self) -> &Declared {
        &self.declared
    }
    fn step(&mut self, inputs: &mut [u64], outputs: &mut [u64]) {
        let (i, o) = self.step_typed();
        write_values(&(&i, &o), inputs, outputs);
    }
    fn reset(&mut self) {
        *self = ThrottleBlock::new(self.seed, self.demand, self.cfg);
    }
}

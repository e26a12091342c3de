//! The `BusArbiter` adapter: golden model and seeded [`ArbiterStimulus`].

use super::{CosimBlock, write_values};
use crate::interface::Declared;
use golden::arbiter::{ArbiterIn, ArbiterOut, BusArbiter, Policy};
use golden::cfg::ConfigError;
use golden::observe::ArbiterOutPorts;
use golden::stimulus::ArbiterStimulus;

/// Statistics of an arbiter run (from the golden model, over the cycles run).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArbiterStats {
    /// Grants (fired requests) per requester.
    pub grants_per_port: Vec<u64>,
    /// Cycles a request was presented to memory and not accepted.
    pub stall_cycles: u64,
    /// Cycles run.
    pub cycles: u64,
}

/// `BusArbiter`: golden model and [`ArbiterStimulus`].
pub struct ArbiterBlock {
    seed: u64,
    ports: usize,
    policy: Policy,
    stim: ArbiterStimulus,
    gold: BusArbiter,
    ready: u16,
    stats: ArbiterStats,
    declared: Declared,
}

impl ArbiterBlock {
    /// An arbiter with `ports` requesters (1..=16) starting with `policy`.
    pub fn new(seed: u64, ports: usize, policy: Policy) -> Result<Self, ConfigError> {
        let gold = BusArbiter::new(ports)?;
        let sample_in = ArbiterIn {
            req: vec![Default::default(); ports],
            ..Default::default()
        };
        let sample_out = ArbiterOut::default();
        let sample = (
            &sample_in,
            ArbiterOutPorts {
                out: &sample_out,
                ports,
            },
        );
        Ok(ArbiterBlock {
            seed,
            ports,
            policy,
            stim: ArbiterStimulus::new(seed, ports, policy),
            gold,
            ready: 0,
            stats: ArbiterStats {
                grants_per_port: vec![0; ports],
                ..Default::default()
            },
            declared: Declared::of(&sample),
        })
    }

    /// Statistics of the cycles run since the last reset.
    pub fn stats(&self) -> &ArbiterStats {
        &self.stats
    }

    /// One cycle with the golden types (used by [`CosimBlock::step`]).
    pub fn step_typed(&mut self) -> (ArbiterIn, ArbiterOut) {
        let i = self.stim.next(self.ready);
        let o = self.gold.step(&i);
        self.ready = o.req_ready;
        self.stats.cycles += 1;
        for (k, g) in self.stats.grants_per_port.iter_mut().enumerate() {
            *g += u64::from(o.req_ready >> k & 1);
        }
        self.stats.stall_cycles += u64::from(o.mem_valid && o.req_ready == 0);
        (i, o)
    }
}

impl CosimBlock for ArbiterBlock {
    fn name(&self) -> &str {
        "arbiter"
    }
    fn declared(&self) -> &Declared {
        &self.declared
    }
    fn step(&mut self, inputs: &mut [u64], outputs: &mut [u64]) {
        let (i, o) = self.step_typed();
        let out = ArbiterOutPorts {
            out: &o,
            ports: self.ports,
        };
        write_values(&(&i, out), inputs, outputs);
    }
    fn reset(&mut self) {
        self.stim = ArbiterStimulus::new(self.seed, self.ports, self.policy);
        self.gold = BusArbiter::new(self.ports).expect("port count checked by new");
        self.ready = 0;
        self.stats = ArbiterStats {
            grants_per_port: vec![0; self.ports],
            ..Default::default()
        };
    }
}

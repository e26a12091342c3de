//! Cycle stepping of Rust-HDL blocks with the same convention as the golden models and the
//! Verilator binding: set inputs, settle, read outputs (they see the registers' current
//! values), rising clock edge, settle.
//!
//! [`ThrottleRtl`] and [`ArbiterRtl`] take and return the golden models' input and output types,
//! so a cross-check is a comparison of two values of the same type.

use crate::arbiter::BusArbiter;
use crate::throttle::MemThrottle;
use golden::arbiter::{ArbiterIn, ArbiterOut, ArbiterStatus, Policy};
use golden::throttle::{State, ThrottleIn, ThrottleOut, ThrottleStatus};
use rust_hdl::prelude::*;

/// Most delta iterations allowed for the combinational logic to settle.
const MAX_ITERS: usize = 200;

/// A block that failed to settle (a combinational loop).
#[derive(Debug, thiserror::Error)]
#[error("the combinational logic of {0} did not settle within {MAX_ITERS} delta iterations")]
pub struct NoConvergence(pub &'static str);

fn settle<B: Block>(uut: &mut B, name: &'static str) -> Result<(), NoConvergence> {
    if simulate(uut, MAX_ITERS) {
        Ok(())
    } else {
        Err(NoConvergence(name))
    }
}

fn u(v: u64) -> u32 {
    v as u32
}

fn sext25(v: u64) -> i32 {
    ((v as u32) << 7) as i32 >> 7
}

/// The `MemThrottle` RTL driven with golden-model types.
pub struct ThrottleRtl {
    uut: MemThrottle,
}

impl Default for ThrottleRtl {
    fn default() -> Self {
        let mut uut = MemThrottle::default();
        uut.connect_all();
        Self { uut }
    }
}

impl ThrottleRtl {
    /// A freshly powered-up throttle.
    pub fn new() -> Self {
        Self::default()
    }

    /// One clock cycle.
    pub fn step(&mut self, i: &ThrottleIn) -> Result<ThrottleOut, NoConvergence> {
        let t = &mut self.uut;
        t.clock.next = Clock { clk: false };
        t.up_valid.next = i.up_valid;
        t.up_beats.next = u64::from(i.up_beats & 7).into();
        t.up_addr.next = u64::from(i.up_addr).into();
        t.down_ready.next = i.down_ready;
        t.cfg_we.next = i.cfg.we;
        t.cfg_addr.next = u64::from(i.cfg.addr).into();
        t.cfg_wdata.next = u64::from(i.cfg.wdata).into();
        settle(t, "MemThrottle")?;
        let out = ThrottleOut {
            up_ready: t.up_ready.val(),
            down_valid: t.down_valid.val(),
            down_beats: t.down_beats.val().index() as u8,
            down_addr: u(t.down_addr.val().to_u64()),
            cfg_rdata: u(t.cfg_rdata.val().to_u64()),
            fire: i.up_valid && t.up_ready.val(),
            status: ThrottleStatus {
                state: if t.st_bubble.val() {
                    State::Bubble
                } else {
                    State::Monitor
                },
                cfg_error: t.st_cfg_error.val(),
                wc: t.st_wc.val().index() as u16,
                inner: sext25(t.st_inner.val().to_u64()),
                outer: sext25(t.st_outer.val().to_u64()),
                bubble_len: t.st_bubble_len.val().index() as u16,
                perf_reqs: u(t.perf_reqs.val().to_u64()),
                perf_beats: u(t.perf_beats.val().to_u64()),
                perf_bubble: u(t.perf_bubble.val().to_u64()),
                perf_wait: u(t.perf_wait.val().to_u64()),
                perf_windows: u(t.perf_windows.val().to_u64()),
            },
        };
        t.clock.next = Clock { clk: true };
        settle(t, "MemThrottle")?;
        Ok(out)
    }
}

/// The `BusArbiter` RTL driven with golden-model types.
pub struct ArbiterRtl {
    uut: BusArbiter,
}

impl ArbiterRtl {
    /// A freshly powered-up arbiter with `ports` requesters.
    pub fn new(ports: usize) -> Result<Self, golden::cfg::ConfigError> {
        let mut uut = BusArbiter::new(ports)?;
        uut.connect_all();
        Ok(Self { uut })
    }

    /// One clock cycle. `i.req` must have one entry per port.
    pub fn step(&mut self, i: &ArbiterIn) -> Result<ArbiterOut, NoConvergence> {
        let a = &mut self.uut;
        assert_eq!(i.req.len(), a.ports(), "one request per arbiter port");
        a.clock.next = Clock { clk: false };
        for (k, r) in i.req.iter().enumerate() {
            a.req_valid[k].next = r.valid;
            a.req_beats[k].next = u64::from(r.beats & 7).into();
            a.req_addr[k].next = u64::from(r.addr).into();
        }
        a.mem_ready.next = i.mem_ready;
        a.cfg_we.next = i.cfg.we;
        a.cfg_addr.next = u64::from(i.cfg.addr).into();
        a.cfg_wdata.next = u64::from(i.cfg.wdata).into();
        settle(a, "BusArbiter")?;
        let mask = |v: &Vec<Signal<Out, Bit>>| {
            v.iter()
                .enumerate()
                .fold(0u16, |m, (k, s)| m | (u16::from(s.val()) << k))
        };
        let out = ArbiterOut {
            grant: mask(&a.grant),
            req_ready: mask(&a.req_ready),
            mem_valid: a.mem_valid.val(),
            mem_id: a.mem_id.val().index() as u8,
            mem_beats: a.mem_beats.val().index() as u8,
            mem_addr: u(a.mem_addr.val().to_u64()),
            cfg_rdata: u(a.cfg_rdata.val().to_u64()),
            status: ArbiterStatus {
                policy: if a.st_policy.val() {
                    Policy::Fixed
                } else {
                    Policy::RoundRobin
                },
                ptr: a.st_ptr.val().index() as u8,
                locked: a.st_locked.val(),
                lock_id: a.st_lock_id.val().index() as u8,
                cfg_error: a.st_cfg_error.val(),
                perf_grants: u(a.perf_grants.val().to_u64()),
                perf_stall: u(a.perf_stall.val().to_u64()),
            },
        };
        a.clock.next = Clock { clk: true };
        settle(a, "BusArbiter")?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    //! Rust-HDL's own simulator against the golden twins, cycle by cycle, on seeded random
    //! stimulus. (Verilator co-simulation of the emitted Verilog lives in the `sim` crate.)
    use super::*;
    use golden::arbiter::BusArbiter as GoldenArbiter;
    use golden::cfg::ThrottleConfig;
    use golden::observe::{ArbiterOutPorts, Ports, first_difference};
    use golden::stimulus::{ArbiterStimulus, Demand, ThrottleStimulus};
    use golden::throttle::{MemThrottle as GoldenThrottle, saturated_rate};

    fn throttle_lockstep(seed: u64, demand: Demand, cfg: ThrottleConfig, cycles: u64) -> u64 {
        let mut stim = ThrottleStimulus::new(seed, demand, &cfg);
        let mut gold = GoldenThrottle::new();
        let mut rtl = ThrottleRtl::new();
        let mut fired = false;
        let mut granted = 0;
        for cycle in 0..cycles {
            let i = stim.next(fired);
            let g = gold.step(&i);
            let r = rtl.step(&i).unwrap();
            if let Some((sig, rv, gv)) = first_difference(&r.port_list(), &g.port_list()) {
                panic!("seed {seed}: cycle {cycle}: {sig}: rtl {rv:#x} golden {gv:#x}");
            }
            fired = g.fire;
            granted += u64::from(g.fire) * u64::from(i.up_beats);
        }
        granted
    }

    #[test]
    fn throttle_matches_golden_on_random_traffic() {
        for seed in 0..4 {
            let cfg = ThrottleConfig::new(20 + 13 * seed as i64, 5 + seed as i64, None).unwrap();
            throttle_lockstep(seed, Demand::Random, cfg, 4000);
        }
    }

    #[test]
    fn throttle_rate_property_holds_in_rust_hdl() {
        let cfg = ThrottleConfig::new(100, 25, None).unwrap();
        let windows = 120;
        let granted = throttle_lockstep(11, Demand::Saturate, cfg, 4 + 100 * windows);
        let rate = granted as f64 / (100 * windows) as f64;
        assert!((rate - 0.25).abs() / 0.25 <= 0.02, "rate {rate}");
        // The golden model agrees on the long-run figure too.
        let m = saturated_rate(&cfg, 1, windows);
        assert!(
            (m.rate - 0.25).abs() / 0.25 <= 0.02,
            "golden rate {}",
            m.rate
        );
    }

    #[test]
    fn arbiter_matches_golden_and_is_fair() {
        for (seed, ports) in [(1u64, 1usize), (2, 3), (3, 4), (4, 16)] {
            for policy in [Policy::RoundRobin, Policy::Fixed] {
                let mut stim = ArbiterStimulus::new(seed, ports, policy);
                let mut gold = GoldenArbiter::new(ports).unwrap();
                let mut rtl = ArbiterRtl::new(ports).unwrap();
                let mut ready = 0;
                for cycle in 0..2500 {
                    let i = stim.next(ready);
                    let g = gold.step(&i);
                    let r = rtl.step(&i).unwrap();
                    let gp = ArbiterOutPorts { out: &g, ports }.port_list();
                    let rp = ArbiterOutPorts { out: &r, ports }.port_list();
                    if let Some((sig, rv, gv)) = first_difference(&rp, &gp) {
                        panic!(
                            "seed {seed} ports {ports}: cycle {cycle}: {sig}: rtl {rv} golden {gv}"
                        );
                    }
                    ready = g.req_ready;
                }
            }
        }
        // Round-robin fairness in the RTL: 3 of 4 ports always requesting get 1/3 each.
        let mut rtl = ArbiterRtl::new(4).unwrap();
        let mut grants = [0u32; 4];
        let req = |k: usize| golden::arbiter::Request {
            valid: k != 2,
            beats: 1,
            addr: k as u32,
        };
        for _ in 0..3000 {
            let o = rtl
                .step(&ArbiterIn {
                    req: (0..4).map(req).collect(),
                    mem_ready: true,
                    cfg: Default::default(),
                })
                .unwrap();
            grants[usize::from(o.mem_id)] += 1;
        }
        assert_eq!(grants, [1000, 1000, 0, 1000]);
    }
}

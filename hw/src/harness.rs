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

fn sext_credit(v: u64) -> i32 {
    const SHIFT: u32 = 32 - golden::spec::CREDIT_BITS as u32;
    ((v as u32) << SHIFT) as i32 >> SHIFT
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
                credit: sext_credit(t.st_credit.val().to_u64()),
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

/// The `MocaSoc` RTL driven with golden-model types: inputs from a golden
/// [`golden::soc::SocCycle`], outputs returned as a `SocCycle` with the same port names (compare
/// with [`golden::observe::first_difference`]).
pub struct SocRtl {
    uut: crate::soc::MocaSoc,
    dim: usize,
    cycle: u64,
}

impl SocRtl {
    /// A freshly powered-up SoC (memory zeroed, throttles off).
    pub fn new(p: &golden::soc::SocParams) -> Result<Self, golden::soc::SocError> {
        let mut uut = crate::soc::MocaSoc::new(p)?;
        uut.connect_all();
        Ok(Self {
            uut,
            dim: p.tile.dim,
            cycle: 0,
        })
    }

    /// Cycles stepped by [`SocRtl::step`] (back-door writes do not count).
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    fn idle_inputs(&mut self) {
        let s = &mut self.uut;
        for k in 0..s.tiles() {
            s.cmd_valid[k].next = false;
            s.cmd_word[k].next = 0.into();
            s.cfg_we[k].next = false;
            s.cfg_addr[k].next = 0.into();
            s.cfg_wdata[k].next = 0.into();
        }
        s.arb_cfg_we.next = false;
        s.arb_cfg_addr.next = 0.into();
        s.arb_cfg_wdata.next = 0.into();
        s.bd_we.next = false;
    }

    fn clock_edge(&mut self) -> Result<(), NoConvergence> {
        self.uut.clock.next = Clock { clk: true };
        settle(&mut self.uut, "MocaSoc")?;
        self.uut.clock.next = Clock { clk: false };
        settle(&mut self.uut, "MocaSoc")
    }

    /// Back door: write whole rows of int8 values from row `addr` (one clock cycle per row,
    /// with every other input idle; use it only while the SoC is idle).
    pub fn mem_write(&mut self, addr: u32, data: &[i8]) -> Result<(), NoConvergence> {
        self.idle_inputs();
        for (r, row) in data.chunks(self.dim).enumerate() {
            let mut v = 0u128;
            for (j, &x) in row.iter().enumerate() {
                v |= u128::from(x as u8) << (8 * j);
            }
            let s = &mut self.uut;
            s.bd_we.next = true;
            s.bd_addr.next = u64::from(addr + r as u32).into();
            s.bd_wdata_lo.next = (v as u64).into();
            s.bd_wdata_hi.next = ((v >> 64) as u64).into();
            settle(s, "MocaSoc")?;
            self.clock_edge()?;
        }
        self.uut.bd_we.next = false;
        settle(&mut self.uut, "MocaSoc")
    }

    /// Back door: read `rows` rows from row `addr` (combinational, no clock).
    pub fn mem_read(&mut self, addr: u32, rows: usize) -> Result<Vec<i8>, NoConvergence> {
        let mut out = Vec::with_capacity(rows * self.dim);
        for r in 0..rows {
            self.uut.bd_addr.next = u64::from(addr + r as u32).into();
            settle(&mut self.uut, "MocaSoc")?;
            let v = u128::from(self.uut.bd_rdata_lo.val().to_u64())
                | (u128::from(self.uut.bd_rdata_hi.val().to_u64()) << 64);
            out.extend((0..self.dim).map(|j| (v >> (8 * j)) as u8 as i8));
        }
        Ok(out)
    }

    /// One clock cycle with the inputs of golden cycle `i`; returns the RTL's ports (inputs
    /// copied from `i`).
    pub fn step(
        &mut self,
        i: &golden::soc::SocCycle,
    ) -> Result<golden::soc::SocCycle, NoConvergence> {
        use golden::soc::TileCycle;
        use golden::tile::TileStatus;
        let s = &mut self.uut;
        assert_eq!(i.tiles.len(), s.tiles(), "one TileCycle per tile");
        s.clock.next = Clock { clk: false };
        for (k, t) in i.tiles.iter().enumerate() {
            s.cmd_valid[k].next = t.cmd_valid;
            s.cmd_word[k].next = t.cmd_word.into();
            s.cfg_we[k].next = t.cfg.we;
            s.cfg_addr[k].next = u64::from(t.cfg.addr).into();
            s.cfg_wdata[k].next = u64::from(t.cfg.wdata).into();
        }
        s.arb_cfg_we.next = i.arb_cfg.we;
        s.arb_cfg_addr.next = u64::from(i.arb_cfg.addr).into();
        s.arb_cfg_wdata.next = u64::from(i.arb_cfg.wdata).into();
        s.bd_we.next = false;
        settle(s, "MocaSoc")?;
        let tiles = i
            .tiles
            .iter()
            .enumerate()
            .map(|(k, t)| TileCycle {
                cmd_valid: t.cmd_valid,
                cmd_word: t.cmd_word,
                cfg: t.cfg,
                cmd_ready: s.cmd_ready[k].val(),
                cfg_rdata: u(s.cfg_rdata[k].val().to_u64()),
                dma_valid: s.dma_valid[k].val(),
                dma_beats: s.dma_beats[k].val().index() as u8,
                dma_addr: u(s.dma_addr[k].val().to_u64()),
                dma_fire: s.dma_fire[k].val(),
                issue: s.issue[k].val(),
                bubble: s.thr_bubble[k].val(),
                status: TileStatus {
                    queue: s.q_count[k].val().index(),
                    inbox: 0,
                    loads: s.ld_count[k].val().index(),
                    exec_busy: s.ex_busy[k].val(),
                    store_busy: s.st_busy[k].val(),
                    idle: s.idle[k].val(),
                    cmd_error: s.cmd_error[k].val(),
                },
            })
            .collect();
        let out = golden::soc::SocCycle {
            cycle: self.cycle,
            tiles,
            arb_cfg: i.arb_cfg,
            arbiter: ArbiterOut {
                mem_valid: s.mem_valid.val(),
                mem_id: s.mem_id.val().index() as u8,
                mem_beats: s.mem_beats.val().index() as u8,
                mem_addr: u(s.mem_addr.val().to_u64()),
                cfg_rdata: u(s.arb_cfg_rdata.val().to_u64()),
                ..Default::default()
            },
            mem_ready: s.mem_ready.val(),
        };
        self.clock_edge()?;
        self.cycle += 1;
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

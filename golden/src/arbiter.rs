//! Golden model of `BusArbiter`, the shared memory-bus arbiter. This file is the specification
//! the RTL (`hw::arbiter`) is co-simulated against, cycle by cycle.
//!
//! `N` requesters (1..=16), each a valid/ready request with `beats` and an address, share one
//! memory port. At most one request is granted per cycle, and the memory port carries the
//! requester's id so responses can be routed back.
//!
//! # Cycle semantics
//! * **Selection** (combinational): if a request is *locked* (presented last cycle and not
//!   accepted) and its requester still asserts valid, it stays selected; otherwise round-robin
//!   picks the first valid requester at or after the pointer (cyclically), fixed priority the
//!   lowest valid index. `mem_valid` = a requester is selected; `mem_id`, `mem_beats`, `mem_addr`
//!   are the selected requester's; `req_ready[k] = (selected == k) && mem_ready`.
//! * **Grant** (`mem_valid && mem_ready`): under round-robin the pointer moves past the granted
//!   port (`ptr = id + 1 mod N`); under fixed priority it holds. The lock is released.
//! * **Stall** (`mem_valid && !mem_ready`): the selection is locked for the next cycle, so the
//!   request presented to memory stays stable until accepted (AXI-style), whatever arrives
//!   meanwhile. A requester that drops its request (a throttle entering a bubble does) releases
//!   the lock; nothing is ever granted twice or dropped.
//! * **Configuration**: `POLICY` accepts 0 (round-robin) or 1 (fixed); a change takes effect at
//!   the next selection and neither moves the pointer nor breaks a lock. Refused writes set the
//!   sticky `CFG_ERROR`.

use crate::cfg::CfgPort;
use crate::spec::{self, arbiter as reg};

/// Arbitration policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// Round-robin: the pointer moves past the granted port.
    #[default]
    RoundRobin,
    /// Fixed priority: lowest index first (can starve higher indices).
    Fixed,
}

impl Policy {
    /// The `POLICY` register value.
    pub fn value(self) -> u16 {
        match self {
            Policy::RoundRobin => reg::POLICY_ROUND_ROBIN,
            Policy::Fixed => reg::POLICY_FIXED,
        }
    }
}

/// One requester's port in one cycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// Request valid.
    pub valid: bool,
    /// Beats (3-bit field).
    pub beats: u8,
    /// Address.
    pub addr: u32,
}

/// Inputs of one cycle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArbiterIn {
    /// One entry per requester (length `N`).
    pub req: Vec<Request>,
    /// Memory port ready.
    pub mem_ready: bool,
    /// Configuration port.
    pub cfg: CfgPort,
}

/// Status registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArbiterStatus {
    /// Current policy.
    pub policy: Policy,
    /// Round-robin pointer.
    pub ptr: u8,
    /// A presented request is waiting for the memory.
    pub locked: bool,
    /// Requester id of the locked request.
    pub lock_id: u8,
    /// Sticky configuration error.
    pub cfg_error: bool,
    /// Grants.
    pub perf_grants: u32,
    /// Cycles a presented request was not accepted.
    pub perf_stall: u32,
}

/// Outputs of one cycle, and the status registers' current values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArbiterOut {
    /// Bit `k` set: requester `k` is selected (one-hot or zero).
    pub grant: u16,
    /// Bit `k` set: requester `k`'s request fires this cycle.
    pub req_ready: u16,
    /// Memory port valid.
    pub mem_valid: bool,
    /// Requester id presented to memory.
    pub mem_id: u8,
    /// Beats presented to memory.
    pub mem_beats: u8,
    /// Address presented to memory.
    pub mem_addr: u32,
    /// Read data of the register addressed by `cfg.addr`.
    pub cfg_rdata: u32,
    /// Status before this cycle's clock edge.
    pub status: ArbiterStatus,
}

impl ArbiterOut {
    /// Whether a request was granted (fired) this cycle.
    pub fn fired(&self) -> bool {
        self.req_ready != 0
    }
}

/// The golden `BusArbiter`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusArbiter {
    ports: usize,
    s: ArbiterStatus,
}

impl BusArbiter {
    /// An arbiter with `ports` requesters (1..=16), after power-up (round-robin, pointer 0).
    pub fn new(ports: usize) -> Result<Self, crate::cfg::ConfigError> {
        let ports = crate::cfg::check_ports(ports as i64)?;
        Ok(BusArbiter {
            ports,
            s: ArbiterStatus::default(),
        })
    }

    /// Number of requesters.
    pub fn ports(&self) -> usize {
        self.ports
    }

    /// Current status registers.
    pub fn status(&self) -> &ArbiterStatus {
        &self.s
    }

    /// The raw value of one field (`spec::ARBITER_REGISTERS`) of a readable register.
    fn field(&self, f: &spec::Field) -> u32 {
        use reg::field as F;
        let s = &self.s;
        match f.name {
            n if n == F::POLICY[0].name => u32::from(s.policy.value()),
            n if n == F::PTR.name => u32::from(s.ptr),
            n if n == F::LOCKED.name => u32::from(s.locked),
            n if n == F::LOCK_ID.name => u32::from(s.lock_id),
            n if n == F::CFG_ERROR.name => u32::from(s.cfg_error),
            n if n == F::PERF_GRANTS[0].name => s.perf_grants,
            n if n == F::PERF_STALL[0].name => s.perf_stall,
            n => unreachable!("readable arbiter field {n} has no value"),
        }
    }

    /// What `cfg_rdata` returns for `addr`: the register's fields placed as the register table
    /// says (0 for write-only and unmapped addresses).
    pub fn read(&self, addr: u8) -> u32 {
        spec::RegisterBlock::Arbiter.read(addr, |f| self.field(f))
    }

    /// Whether a write of `wdata` to `addr` is accepted ([`spec::arbiter_write_ok`]: mapped,
    /// writable, no reserved bit, every field's value valid).
    pub fn write_ok(&self, addr: u8, wdata: u16) -> bool {
        spec::arbiter_write_ok(addr, wdata)
    }

    /// The requester selected this cycle, if any.
    pub fn select(&self, req: &[Request]) -> Option<usize> {
        let s = &self.s;
        if s.locked && req[usize::from(s.lock_id)].valid {
            return Some(usize::from(s.lock_id));
        }
        match s.policy {
            Policy::Fixed => req.iter().position(|r| r.valid),
            Policy::RoundRobin => (0..self.ports)
                .map(|k| (usize::from(s.ptr) + k) % self.ports)
                .find(|&k| req[k].valid),
        }
    }

    /// Simulate one clock cycle. `i.req` must have one entry per port.
    pub fn step(&mut self, i: &ArbiterIn) -> ArbiterOut {
        assert_eq!(i.req.len(), self.ports, "one request per arbiter port");
        let sel = self.select(&i.req);
        let mut out = ArbiterOut {
            cfg_rdata: self.read(i.cfg.addr),
            status: self.s,
            ..Default::default()
        };
        if let Some(k) = sel {
            let r = i.req[k];
            out.grant = 1 << k;
            out.mem_valid = true;
            out.mem_id = k as u8;
            out.mem_beats = r.beats & 7;
            out.mem_addr = r.addr;
            if i.mem_ready {
                out.req_ready = 1 << k;
            }
        }
        let s = &mut self.s;
        match sel {
            Some(k) if i.mem_ready => {
                if s.policy == Policy::RoundRobin {
                    s.ptr = ((k + 1) % self.ports) as u8;
                }
                s.locked = false;
                s.perf_grants = s.perf_grants.wrapping_add(1);
            }
            Some(k) => {
                s.locked = true;
                s.lock_id = k as u8;
                s.perf_stall = s.perf_stall.wrapping_add(1);
            }
            None => s.locked = false,
        }
        if i.cfg.we {
            self.configure(i.cfg.addr, i.cfg.wdata);
        }
        out
    }

    fn configure(&mut self, addr: u8, wdata: u16) {
        if !self.write_ok(addr, wdata) {
            self.s.cfg_error = true;
            return;
        }
        let s = &mut self.s;
        let value = |f: spec::Field| f.extract(u32::from(wdata));
        if addr == reg::POLICY {
            s.policy = if value(reg::field::POLICY[0]) == u32::from(reg::POLICY_FIXED) {
                Policy::Fixed
            } else {
                Policy::RoundRobin
            };
            return;
        }
        debug_assert_eq!(
            addr,
            reg::CTRL,
            "write_ok accepts only mapped writable addresses"
        );
        if value(reg::field::CLEAR_ERROR) != 0 {
            s.cfg_error = false;
        }
        if value(reg::field::CLEAR_PERF) != 0 {
            s.perf_grants = 0;
            s.perf_stall = 0;
        }
    }
}

/// Bits of the `grant`/`req_ready` masks (one per possible port).
pub const MASK_BITS: usize = spec::MAX_PORTS;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn all(n: usize, valid: u16) -> ArbiterIn {
        ArbiterIn {
            req: (0..n)
                .map(|k| Request {
                    valid: valid >> k & 1 == 1,
                    beats: 1,
                    addr: k as u32 * 0x100,
                })
                .collect(),
            mem_ready: true,
            cfg: CfgPort::default(),
        }
    }

    #[test]
    fn round_robin_is_fair_for_every_active_subset() {
        let n = 5;
        for mask in 1u16..(1 << n) {
            let mut a = BusArbiter::new(n).unwrap();
            let mut grants = [0u32; 5];
            let cycles = 3000;
            for _ in 0..cycles {
                let o = a.step(&all(n, mask));
                assert!(o.fired());
                grants[usize::from(o.mem_id)] += 1;
            }
            let j = mask.count_ones() as f64;
            for (k, g) in grants.iter().enumerate() {
                let share = f64::from(*g) / f64::from(cycles);
                if mask >> k & 1 == 1 {
                    assert!(
                        (share - 1.0 / j).abs() <= 0.1 / j,
                        "mask {mask:b} port {k}: {share}"
                    );
                } else {
                    assert_eq!(*g, 0);
                }
            }
        }
    }

    #[test]
    fn round_robin_pointer_moves_past_the_granted_port() {
        let mut a = BusArbiter::new(4).unwrap();
        let o = a.step(&all(4, 0b1010));
        assert_eq!(o.mem_id, 1);
        assert_eq!(a.status().ptr, 2);
        let o = a.step(&all(4, 0b1011));
        assert_eq!(o.mem_id, 3);
        assert_eq!(a.status().ptr, 0);
        let o = a.step(&all(4, 0b1011));
        assert_eq!(o.mem_id, 0);
    }

    #[test]
    fn fixed_priority_starves_higher_indices() {
        let mut a = BusArbiter::new(3).unwrap();
        a.step(&ArbiterIn {
            cfg: CfgPort::write(reg::POLICY, reg::POLICY_FIXED),
            ..all(3, 0)
        });
        assert_eq!(a.status().policy, Policy::Fixed);
        let mut grants = [0; 3];
        for _ in 0..1000 {
            grants[usize::from(a.step(&all(3, 0b111)).mem_id)] += 1;
        }
        assert_eq!(grants, [1000, 0, 0]);
    }

    #[test]
    fn stalled_request_stays_stable_until_accepted() {
        let mut a = BusArbiter::new(4).unwrap();
        a.step(&all(4, 0b0001)); // ptr -> 1
        let mut i = all(4, 0b0100);
        i.mem_ready = false;
        let o = a.step(&i);
        assert_eq!((o.mem_valid, o.mem_id, o.req_ready), (true, 2, 0));
        // Port 1 arrives and would win round-robin, but the locked request stays.
        let mut i = all(4, 0b0110);
        i.mem_ready = false;
        assert_eq!(a.step(&i).mem_id, 2);
        i.mem_ready = true;
        let o = a.step(&i);
        assert_eq!((o.mem_id, o.req_ready), (2, 0b0100));
        assert_eq!(a.step(&all(4, 0b0110)).mem_id, 1);
    }

    #[test]
    fn a_retracted_request_releases_the_lock() {
        let mut a = BusArbiter::new(2).unwrap();
        let mut i = all(2, 0b01);
        i.mem_ready = false;
        a.step(&i);
        assert!(a.status().locked);
        let o = a.step(&all(2, 0b10));
        assert_eq!((o.mem_id, o.fired()), (1, true));
    }

    #[test]
    fn nothing_dropped_or_duplicated_under_random_traffic() {
        // Requesters hold a numbered request until it fires (valid/ready protocol); every
        // request number must be granted exactly once, in order per requester.
        let n = 6;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for policy in [Policy::RoundRobin, Policy::Fixed] {
            let mut a = BusArbiter::new(n).unwrap();
            a.step(&ArbiterIn {
                cfg: CfgPort::write(reg::POLICY, policy.value()),
                ..all(n, 0)
            });
            let mut next = vec![0u32; n];
            let mut pending = vec![false; n];
            let mut granted = vec![0u32; n];
            for _ in 0..20_000 {
                for p in pending.iter_mut() {
                    if !*p && rng.gen_bool(0.4) {
                        *p = true;
                    }
                }
                let i = ArbiterIn {
                    req: (0..n)
                        .map(|k| Request {
                            valid: pending[k],
                            beats: 1,
                            addr: next[k],
                        })
                        .collect(),
                    mem_ready: rng.gen_bool(0.7),
                    cfg: CfgPort::default(),
                };
                let o = a.step(&i);
                assert!(o.req_ready.count_ones() <= 1);
                assert!(o.grant.count_ones() <= 1);
                if o.fired() {
                    let k = usize::from(o.mem_id);
                    assert_eq!(o.req_ready, 1 << k);
                    assert_eq!(o.mem_addr, next[k]);
                    assert_eq!(o.mem_addr, granted[k]);
                    granted[k] += 1;
                    next[k] += 1;
                    pending[k] = false;
                }
            }
            assert!(granted.iter().sum::<u32>() > 5000);
        }
    }

    #[test]
    fn config_errors_and_read_port() {
        let mut a = BusArbiter::new(4).unwrap();
        let w = |a: &mut BusArbiter, addr, d| {
            a.step(&ArbiterIn {
                cfg: CfgPort::write(addr, d),
                ..all(4, 0)
            });
        };
        w(&mut a, reg::POLICY, 2);
        assert!(a.status().cfg_error);
        assert_eq!(a.status().policy, Policy::RoundRobin);
        w(&mut a, reg::CTRL, reg::CTRL_CLEAR_ERROR);
        assert!(!a.status().cfg_error);
        w(&mut a, reg::STATUS, 0);
        assert_eq!(reg::field::CFG_ERROR.extract(a.read(reg::STATUS)), 1);
        assert!(BusArbiter::new(0).is_err());
        assert!(BusArbiter::new(17).is_err());
        let mut a = BusArbiter::new(1).unwrap();
        for _ in 0..10 {
            assert_eq!(a.step(&all(1, 1)).mem_id, 0);
        }
        assert_eq!(a.read(reg::PERF_GRANTS), 10);
    }
}

/// One test per register of `spec::ARBITER_REGISTERS`, driven by the table: the shared
/// register test (`regs::testing::check_register`) on arbiters in assorted states.
#[cfg(test)]
mod registers {
    use super::*;
    use crate::regs::testing::{RegisterModel, check_register, check_unmapped, register_tests};
    use crate::spec::{RegisterBlock, arbiter_write_ok};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A cycle with no request and a configuration write.
    fn write(ports: usize, addr: u8, wdata: u16) -> ArbiterIn {
        ArbiterIn {
            req: vec![Request::default(); ports],
            mem_ready: true,
            cfg: CfgPort::write(addr, wdata),
        }
    }

    /// Arbiters in assorted states: reset (1, 4 and 16 ports), then after random traffic
    /// under both policies with a stalling memory (pointer anywhere, locked with any id, perf
    /// counters non-zero, `CFG_ERROR` set or not).
    fn states() -> Vec<BusArbiter> {
        let mut out = Vec::new();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for ports in [1, 4, 16] {
            out.push(BusArbiter::new(ports).unwrap());
            let mut a = BusArbiter::new(ports).unwrap();
            for k in 0..60u32 {
                let cfg = match k {
                    20 => CfgPort::write(reg::POLICY, reg::POLICY_FIXED),
                    30 => CfgPort::write(reg::STATUS, 0),
                    40 => CfgPort::write(reg::POLICY, reg::POLICY_ROUND_ROBIN),
                    _ => CfgPort::default(),
                };
                a.step(&ArbiterIn {
                    req: (0..ports)
                        .map(|_| Request {
                            valid: rng.gen_bool(0.5),
                            beats: 1,
                            addr: 0,
                        })
                        .collect(),
                    mem_ready: rng.gen_bool(0.5),
                    cfg,
                });
                if k % 4 == 3 {
                    out.push(a.clone());
                }
            }
        }
        assert!(
            out.iter()
                .any(|a| a.status().locked && a.status().lock_id > 7)
        );
        assert!(out.iter().any(|a| a.status().ptr > 7));
        assert!(out.iter().any(|a| a.status().policy == Policy::Fixed));
        out
    }

    impl RegisterModel for BusArbiter {
        const BLOCK: RegisterBlock = RegisterBlock::Arbiter;

        fn read(&self, addr: u8) -> u32 {
            BusArbiter::read(self, addr)
        }

        fn write(&mut self, addr: u8, wdata: u16) {
            self.step(&write(self.ports(), addr, wdata));
        }

        fn idle(&mut self) {
            self.step(&ArbiterIn {
                cfg: CfgPort::default(),
                ..write(self.ports(), 0, 0)
            });
        }

        fn cfg_error(&mut self) -> &mut bool {
            &mut self.s.cfg_error
        }

        fn valid_write(&self, addr: u8, wdata: u16) -> bool {
            arbiter_write_ok(addr, wdata)
        }

        fn check_accepted(&self, after: &Self, _addr: u8, _wdata: u16, what: &str) {
            assert_eq!(after.status().cfg_error, self.status().cfg_error, "{what}");
        }
    }

    fn check(name: &str) {
        let resets: Vec<BusArbiter> = [1, 4, 16]
            .into_iter()
            .map(|ports| BusArbiter::new(ports).unwrap())
            .collect();
        check_register(name, &resets, &states());
    }

    register_tests!(
        BusArbiter;
        policy: "POLICY",
        ctrl: "CTRL",
        status: "STATUS",
        perf_grants: "PERF_GRANTS",
        perf_stall: "PERF_STALL",
    );

    #[test]
    fn unmapped_addresses_are_refused_and_read_0() {
        check_unmapped(&states());
    }
}

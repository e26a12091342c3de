//! Golden model of `MemThrottle`, MoCA's memory-access rate limiter. This file is the
//! specification the RTL (`hw::throttle`) is co-simulated against, cycle by cycle.
//!
//! The throttle sits between a tile's DMA read-request port (`up_*`) and the shared bus
//! (`down_*`). It gives the tile a budget of `TARGET` beats per `WINDOW` cycles: a window's
//! budget is added to a signed `credit` at the window's end, every request that fires is
//! charged its beats, and while the credit is used up (`credit <= 0`) the throttle is in a
//! *bubble*: no request may fire (`up_ready` and `down_valid` low) until the window ends.
//!
//! # Cycle semantics
//! All next values are computed from this cycle's register values and inputs;
//! `fire = up_valid && up_ready`, `f = fire ? beats : 0` (the 3-bit field as given, 0..=7).
//!
//! * **Off** (`WINDOW == 0`): `up_ready = down_ready`, `down_valid = up_valid`; `credit` and
//!   `wc` stay 0; only the perf counters change.
//! * **On** (`WINDOW != 0`): BUBBLE while `credit <= 0`, MONITOR otherwise (pass-through).
//!   `wc` counts the cycles left in the current window down to 0.
//!   - `wc != 0`: `credit -= f`, `wc -= 1`.
//!   - `wc == 0` (window end): `credit = min(credit, BURST) + TARGET - f`, `wc = WINDOW - 1`,
//!     one window completed. Unused credit is banked up to `BURST` beats (capped before the
//!     window-end cycle's request is charged); a debt (a request that fired with less credit
//!     than its beats) is carried in full.
//! * **Configuration** (wins over the above): a valid write to `TARGET` (which also sets
//!   `BURST`) or `BURST` changes only the register: the new values are used from the next
//!   window end on. A `WINDOW` write that enables the throttle (old `WINDOW == 0`) starts it:
//!   `credit = TARGET` (one window's budget), `wc = WINDOW - 1`; one that disables it
//!   (`WINDOW = 0`) clears `credit` and `wc`; one that changes a non-zero `WINDOW` changes only
//!   the register (the current window runs out, the next one has the new length). So credit
//!   and debt survive rewrites. `CTRL` bit 2 (RESTART, while on) starts afresh as enabling
//!   does; bit 1 clears the perf counters (the clear wins over this cycle's increments); bit 0
//!   clears `CFG_ERROR`. An invalid write (`WINDOW = 1`; `WINDOW != 0` with `TARGET = 0`;
//!   `TARGET = 0` with `WINDOW != 0`; reserved `CTRL` bits; a read-only or unmapped address)
//!   changes nothing but the sticky `CFG_ERROR`.
//! * **Widths**: `credit` is 18-bit two's complement and never wraps (`-6 <= credit <=
//!   BURST + TARGET <= 131070`), `wc` 16 bits, perf counters 32-bit wrapping.
//!
//! # The contract
//! With `R` the largest request (4 beats for a well-formed request, 7 at most), for every
//! interval of `t` cycles during which the throttle stays on with the same configuration, and
//! with no RESTART inside it, the beats granted are at most `BURST + TARGET + R - 1 +
//! TARGET*ceil(t/WINDOW) < sigma + rho*t`, with `rho = TARGET/WINDOW` and
//! `sigma = 2*TARGET + BURST + R - 1` (see [`sigma`]). `docs/THROTTLE.md` states the general
//! form across configuration changes and proves the bound; `moca prove --block throttle`
//! proves it on the RTL.
//!
//! # Differences from the published MoCA design
//! MoCA counts a window's beats and, after the window, injects a bubble whose length (half to
//! a whole window) depends on the excess. That lets a tenant take its whole window's demand
//! before any check (up to `4*WINDOW` beats), admits a request in every detection cycle (so
//! `TARGET < 8` is not regulated at all) and restarts on every register write. Here the check
//! is made on every request against the credit, the bubble lasts from the cycle the credit is
//! used up to the window end, and register writes keep the credit. The long-run rate under
//! saturating demand is exactly `TARGET/WINDOW` for every setting.

use crate::cfg::{CfgPort, ThrottleConfig};
use crate::spec::{self, throttle as reg};

/// Throttle state machine state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum State {
    /// Requests pass; beats are charged to the credit.
    #[default]
    Monitor,
    /// The credit is used up: requests are held back until the window ends.
    Bubble,
}

/// Inputs of one cycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThrottleIn {
    /// Upstream (tile DMA) request valid.
    pub up_valid: bool,
    /// Upstream request beats (3-bit field; 1..=4 when well formed).
    pub up_beats: u8,
    /// Upstream request address (payload, passed through).
    pub up_addr: u32,
    /// Downstream (bus) ready.
    pub down_ready: bool,
    /// Configuration port.
    pub cfg: CfgPort,
}

/// Read-only status registers, as the RTL exposes them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThrottleStatus {
    /// MONITOR or BUBBLE.
    pub state: State,
    /// Sticky configuration error.
    pub cfg_error: bool,
    /// Cycles left in the current window after this one (0 when off).
    pub wc: u16,
    /// Beats the tenant may still take in this window (18-bit signed; negative is a debt).
    pub credit: i32,
    /// Granted requests.
    pub perf_reqs: u32,
    /// Granted beats.
    pub perf_beats: u32,
    /// Cycles in BUBBLE.
    pub perf_bubble: u32,
    /// Cycles a request waited because of the throttle.
    pub perf_wait: u32,
    /// Windows completed.
    pub perf_windows: u32,
}

/// Outputs of one cycle (combinational from the current state and this cycle's inputs), and
/// the status registers' current values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThrottleOut {
    /// Upstream ready.
    pub up_ready: bool,
    /// Downstream valid.
    pub down_valid: bool,
    /// Downstream beats (= upstream beats).
    pub down_beats: u8,
    /// Downstream address (= upstream address).
    pub down_addr: u32,
    /// Read data of the register addressed by `cfg.addr`.
    pub cfg_rdata: u32,
    /// Whether a request fired this cycle.
    pub fire: bool,
    /// Status registers before this cycle's clock edge.
    pub status: ThrottleStatus,
}

/// The golden `MemThrottle`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemThrottle {
    /// `WINDOW`, `TARGET`, `BURST`.
    cfg: ThrottleConfig,
    s: ThrottleStatus,
}

/// The burst term `sigma = 2*TARGET + BURST + R - 1` of the throttle's arrival curve
/// (beats in any `t` cycles `< sigma + t*TARGET/WINDOW`), for requests of at most
/// `max_beats` beats (`R`: 4 when well formed, 7 at most).
pub fn sigma(target: u16, burst: u16, max_beats: u8) -> u64 {
    2 * u64::from(target) + u64::from(burst) + u64::from(max_beats.max(1)) - 1
}

/// The staircase form of the contract, which the RTL proof states and which implies the
/// `sigma + rho*t` bound: at most `BURST + TARGET + R - 1 + TARGET*ceil(t/WINDOW)` beats in
/// any `t` cycles (`t >= 1`) with one configuration.
pub fn staircase_bound(window: u16, target: u16, burst: u16, max_beats: u8, t: u64) -> u64 {
    u64::from(burst) + u64::from(target) + u64::from(max_beats.max(1)) - 1
        + u64::from(target) * t.div_ceil(u64::from(window.max(1)))
}

impl MemThrottle {
    /// A throttle after power-up: all registers 0 (off).
    pub fn new() -> Self {
        Self::default()
    }

    /// Current `WINDOW`, `TARGET`, `BURST`.
    pub fn registers(&self) -> (u16, u16, u16) {
        (self.cfg.window, self.cfg.target, self.cfg.burst)
    }

    /// Current configuration registers.
    pub fn config(&self) -> &ThrottleConfig {
        &self.cfg
    }

    /// Current status registers.
    pub fn status(&self) -> &ThrottleStatus {
        &self.s
    }

    /// Whether the throttle holds requests back this cycle.
    pub fn in_bubble(&self) -> bool {
        self.cfg.enabled() && self.s.credit <= 0
    }

    /// The raw value of one field (`spec::THROTTLE_REGISTERS`) of a readable register.
    fn field(&self, f: &spec::Field) -> u32 {
        use reg::field as F;
        let s = &self.s;
        match f.name {
            n if n == F::WINDOW[0].name => u32::from(self.cfg.window),
            n if n == F::TARGET[0].name => u32::from(self.cfg.target),
            n if n == F::BURST[0].name => u32::from(self.cfg.burst),
            n if n == F::BUBBLE.name => u32::from(s.state == State::Bubble),
            n if n == F::CFG_ERROR.name => u32::from(s.cfg_error),
            n if n == F::WC[0].name => u32::from(s.wc),
            n if n == F::CREDIT[0].name => s.credit as u32,
            n if n == F::PERF_REQS[0].name => s.perf_reqs,
            n if n == F::PERF_BEATS[0].name => s.perf_beats,
            n if n == F::PERF_BUBBLE[0].name => s.perf_bubble,
            n if n == F::PERF_WAIT[0].name => s.perf_wait,
            n if n == F::PERF_WINDOWS[0].name => s.perf_windows,
            n => unreachable!("readable throttle field {n} has no value"),
        }
    }

    /// What `cfg_rdata` returns for `addr`: the register's fields placed as the register table
    /// says (0 for write-only and unmapped addresses).
    pub fn read(&self, addr: u8) -> u32 {
        spec::RegisterBlock::Throttle.read(addr, |f| self.field(f))
    }

    /// Whether a write of `wdata` to `addr` is accepted given the current registers
    /// ([`spec::throttle_write_ok`]: mapped, writable, no reserved bit, a valid configuration).
    pub fn write_ok(&self, addr: u8, wdata: u16) -> bool {
        spec::throttle_write_ok(&self.cfg, addr, wdata)
    }

    /// Simulate one clock cycle: compute this cycle's outputs, then advance the state.
    pub fn step(&mut self, i: &ThrottleIn) -> ThrottleOut {
        let enabled = self.cfg.enabled();
        let in_bubble = self.in_bubble();
        let up_ready = i.down_ready && !in_bubble;
        let down_valid = i.up_valid && !in_bubble;
        let fire = i.up_valid && up_ready;
        let out = ThrottleOut {
            up_ready,
            down_valid,
            down_beats: i.up_beats,
            down_addr: i.up_addr,
            cfg_rdata: self.read(i.cfg.addr),
            fire,
            status: self.s,
        };
        let beats = if fire { i32::from(i.up_beats & 7) } else { 0 };

        // Monitoring.
        let mut window_end = false;
        if enabled {
            let s = &mut self.s;
            if s.wc == 0 {
                s.credit =
                    s.credit.min(i32::from(self.cfg.burst)) + i32::from(self.cfg.target) - beats;
                s.wc = self.cfg.window - 1;
                window_end = true;
            } else {
                s.credit -= beats;
                s.wc -= 1;
            }
        }

        // Performance counters.
        let s = &mut self.s;
        s.perf_reqs = s.perf_reqs.wrapping_add(u32::from(fire));
        s.perf_beats = s.perf_beats.wrapping_add(beats as u32);
        s.perf_bubble = s.perf_bubble.wrapping_add(u32::from(in_bubble));
        s.perf_wait = s.perf_wait.wrapping_add(u32::from(in_bubble && i.up_valid));
        s.perf_windows = s.perf_windows.wrapping_add(u32::from(window_end));

        // Configuration (wins over everything above).
        if i.cfg.we {
            self.configure(i.cfg.addr, i.cfg.wdata);
        }
        self.s.state = if self.in_bubble() {
            State::Bubble
        } else {
            State::Monitor
        };
        debug_assert!(
            (CREDIT_MIN..=CREDIT_MAX).contains(&self.s.credit),
            "credit {} out of its 18-bit range",
            self.s.credit
        );
        out
    }

    /// Start monitoring afresh: one window's budget, a full window.
    fn start(&mut self) {
        self.s.credit = i32::from(self.cfg.target);
        self.s.wc = self.cfg.window - 1;
    }

    fn configure(&mut self, addr: u8, wdata: u16) {
        if !self.write_ok(addr, wdata) {
            self.s.cfg_error = true;
            return;
        }
        if let Some(next) = self.cfg.with_write(addr, wdata) {
            let was_on = self.cfg.enabled();
            self.cfg = next;
            if addr == reg::WINDOW {
                if !next.enabled() {
                    self.s.credit = 0;
                    self.s.wc = 0;
                } else if !was_on {
                    self.start();
                }
            }
            return;
        }
        debug_assert_eq!(
            addr,
            reg::CTRL,
            "write_ok accepts only mapped writable addresses"
        );
        let set = |f: spec::Field| f.extract(u32::from(wdata)) != 0;
        if set(reg::field::CLEAR_ERROR) {
            self.s.cfg_error = false;
        }
        if set(reg::field::CLEAR_PERF) {
            let s = &mut self.s;
            s.perf_reqs = 0;
            s.perf_beats = 0;
            s.perf_bubble = 0;
            s.perf_wait = 0;
            s.perf_windows = 0;
        }
        if set(reg::field::RESTART) && self.cfg.enabled() {
            self.start();
        }
    }

    /// Apply a validated configuration through the configuration port (cycles with no
    /// request traffic). Returns the number of cycles used.
    pub fn configure_idle(&mut self, cfg: &ThrottleConfig) -> u64 {
        let mut n = 0;
        for w in cfg.writes() {
            self.step(&ThrottleIn {
                cfg: w,
                ..Default::default()
            });
            n += 1;
        }
        n
    }
}

/// Smallest credit: a request fires with credit 1 and is charged up to 7 beats.
pub const CREDIT_MIN: i32 = 1 - (1 << spec::BEATS_BITS) + 1;
/// Largest credit: `BURST + TARGET` at their largest.
pub const CREDIT_MAX: i32 = 2 * spec::REG_MAX as i32;
const _: () = assert!(CREDIT_MAX < 1 << (spec::CREDIT_BITS - 1));
const _: () = assert!(CREDIT_MIN >= -(1 << (spec::CREDIT_BITS - 1)));

/// Result of [`saturated_rate`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateMeasurement {
    /// Granted beats per cycle.
    pub rate: f64,
    /// `TARGET/WINDOW`.
    pub ideal: f64,
    /// Granted beats.
    pub beats: u64,
    /// Measured cycles.
    pub cycles: u64,
    /// Cycles spent in bubbles.
    pub bubble_cycles: u64,
}

impl RateMeasurement {
    /// Relative error of the granted rate against `TARGET/WINDOW`.
    pub fn relative_error(&self) -> f64 {
        (self.rate - self.ideal) / self.ideal
    }
}

/// Drive the golden throttle with saturating demand (a request of `beats` beats every cycle,
/// bus always ready) for `windows` windows and measure the granted rate.
pub fn saturated_rate(cfg: &ThrottleConfig, beats: u8, windows: u64) -> RateMeasurement {
    let mut t = MemThrottle::new();
    t.configure_idle(cfg);
    let cycles = windows * u64::from(cfg.window.max(1));
    let input = ThrottleIn {
        up_valid: true,
        up_beats: beats,
        up_addr: 0,
        down_ready: true,
        cfg: CfgPort::default(),
    };
    let mut granted = 0u64;
    let mut bubble = 0u64;
    for _ in 0..cycles {
        let o = t.step(&input);
        granted += if o.fire { u64::from(beats) } else { 0 };
        bubble += u64::from(o.status.state == State::Bubble);
    }
    RateMeasurement {
        rate: granted as f64 / cycles as f64,
        ideal: cfg.rate(),
        beats: granted,
        cycles,
        bubble_cycles: bubble,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn cfg(w: i64, t: i64) -> ThrottleConfig {
        ThrottleConfig::new(w, t, None).unwrap()
    }

    fn req(beats: u8) -> ThrottleIn {
        ThrottleIn {
            up_valid: true,
            up_beats: beats,
            up_addr: 0xdead_0000,
            down_ready: true,
            cfg: CfgPort::default(),
        }
    }

    fn write(addr: u8, wdata: u16) -> ThrottleIn {
        ThrottleIn {
            cfg: CfgPort::write(addr, wdata),
            ..Default::default()
        }
    }

    /// Largest `W*A(s,t) - T*(t-s)` over every interval `[s,t)` of a trace of granted beats
    /// per cycle: for each end point, the prefix value minus the smallest earlier one.
    fn max_excess_scaled(granted: &[u8], w: u16, t: u16) -> i128 {
        let (w, t) = (i128::from(w), i128::from(t));
        let (mut p, mut min_p, mut best) = (0i128, 0i128, 0i128);
        for &g in granted {
            p += w * i128::from(g) - t;
            best = best.max(p - min_p);
            min_p = min_p.min(p);
        }
        best
    }

    /// Run `cycles` cycles of `demand` (and optional configuration writes) on a throttle
    /// configured with `c`, returning the beats granted per cycle.
    fn run(
        c: &ThrottleConfig,
        cycles: u64,
        mut input: impl FnMut(u64, &MemThrottle) -> ThrottleIn,
    ) -> Vec<u8> {
        let mut th = MemThrottle::new();
        th.configure_idle(c);
        (0..cycles)
            .map(|k| {
                let i = input(k, &th);
                let o = th.step(&i);
                if o.fire { i.up_beats & 7 } else { 0 }
            })
            .collect()
    }

    /// The arrival-curve contract for one configuration over every interval of the trace,
    /// returned as the largest excess over `rho*t` relative to `sigma`.
    fn check_contract(c: &ThrottleConfig, r: u8, granted: &[u8], what: &str) -> f64 {
        let sig = sigma(c.target, c.burst, r);
        let x = max_excess_scaled(granted, c.window, c.target);
        let limit = i128::from(c.window) * i128::from(sig);
        assert!(
            x < limit,
            "{what}: {}:{}:{} beats over rho*t {:.2} >= sigma {sig}",
            c.window,
            c.target,
            c.burst,
            x as f64 / f64::from(c.window)
        );
        x as f64 / limit as f64
    }

    #[test]
    fn rate_is_exact_in_the_long_run() {
        // Saturating demand: the credit carries every debt and the bank is never used, so the
        // granted rate is TARGET/WINDOW up to one window's budget over the whole run.
        for (w, t) in [
            (100u16, 25u16),
            (200, 20),
            (8, 2),
            (3, 1),
            (1000, 1),
            (4096, 17),
            (32, 20),
            (2, 1),
            (10, 3),
            (65535, 1),
        ] {
            for beats in [1u8, 3, 4, 7] {
                let windows = (200_000 / u64::from(w)).max(20);
                let m = saturated_rate(&cfg(i64::from(w), i64::from(t)), beats, windows);
                let budget = u64::from(t) * windows;
                assert!(
                    m.beats <= budget + u64::from(t) + u64::from(beats)
                        && m.beats + u64::from(t) + u64::from(beats) >= budget,
                    "{w}:{t} beats {beats}: granted {} of {budget}",
                    m.beats
                );
            }
        }
    }

    #[test]
    fn no_stall_when_target_covers_four_beats_every_cycle() {
        for (w, t) in [(2, 8), (10, 40), (100, 400), (1000, 65535)] {
            let mut th = MemThrottle::new();
            th.configure_idle(&cfg(w, t));
            for _ in 0..50 * w {
                let o = th.step(&req(4));
                assert!(o.fire && o.status.state == State::Monitor);
            }
            assert_eq!(th.status().perf_wait, 0);
        }
    }

    #[test]
    fn bubble_from_used_up_credit_to_the_window_end() {
        let mut t = MemThrottle::new();
        t.configure_idle(&ThrottleConfig::new(10, 4, Some(0)).unwrap());
        assert_eq!((t.status().credit, t.status().wc), (4, 9));
        // 3 + 3 beats: the second request fires with credit 1 and leaves a debt of 2.
        assert!(t.step(&req(3)).fire);
        assert!(t.step(&req(3)).fire);
        assert_eq!(t.status().credit, -2);
        assert_eq!(t.status().state, State::Bubble);
        // Held back for the rest of the window (8 cycles), the last one included.
        for k in 0..8 {
            let o = t.step(&req(1));
            assert!(!o.fire && !o.up_ready && !o.down_valid, "cycle {k}");
        }
        // Window end: -2 + 4 = 2.
        assert_eq!((t.status().credit, t.status().wc), (2, 9));
        assert_eq!(t.status().perf_windows, 1);
        assert_eq!((t.status().perf_wait, t.status().perf_bubble), (8, 8));
        assert!(t.step(&req(2)).fire);
        assert_eq!(t.status().state, State::Bubble);
        assert_eq!(t.read(reg::STATUS), reg::STATUS_BUBBLE);
    }

    #[test]
    fn unused_credit_is_banked_up_to_burst() {
        let mut t = MemThrottle::new();
        t.configure_idle(&ThrottleConfig::new(10, 8, Some(20)).unwrap());
        for _ in 0..100 {
            t.step(&ThrottleIn::default());
        }
        assert_eq!(t.status().credit, 28);
        // Default BURST = TARGET.
        let mut t = MemThrottle::new();
        t.configure_idle(&cfg(10, 8));
        for _ in 0..100 {
            t.step(&ThrottleIn::default());
        }
        assert_eq!(t.status().credit, 16);
        // The bank is capped before the request of the window-end cycle is charged.
        let mut t = MemThrottle::new();
        t.configure_idle(&ThrottleConfig::new(4, 8, Some(2)).unwrap());
        for _ in 0..3 {
            t.step(&ThrottleIn::default());
        }
        assert_eq!(t.status().wc, 0);
        t.step(&req(4));
        assert_eq!(t.status().credit, 2 + 8 - 4, "min(8, 2) + 8 - 4");
    }

    #[test]
    fn disabled_is_pass_through() {
        let mut t = MemThrottle::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..1000 {
            let i = ThrottleIn {
                up_valid: rng.r#gen(),
                up_beats: rng.gen_range(1..=4),
                up_addr: rng.r#gen(),
                down_ready: rng.r#gen(),
                cfg: CfgPort::default(),
            };
            let o = t.step(&i);
            assert_eq!(o.up_ready, i.down_ready);
            assert_eq!(o.down_valid, i.up_valid);
            assert_eq!(o.down_addr, i.up_addr);
            assert_eq!((o.status.wc, o.status.credit), (0, 0));
        }
        assert!(t.status().perf_beats > 0);
    }

    #[test]
    fn invalid_writes_are_refused_and_sticky() {
        let mut t = MemThrottle::new();
        t.step(&write(reg::WINDOW, 100)); // TARGET is 0: refused
        assert_eq!(t.registers(), (0, 0, 0));
        assert!(t.status().cfg_error);
        t.step(&write(reg::CTRL, reg::CTRL_CLEAR_ERROR));
        assert!(!t.status().cfg_error);
        t.step(&write(reg::TARGET, 10));
        assert_eq!(t.registers(), (0, 10, 10));
        t.step(&write(reg::WINDOW, 1));
        assert!(t.status().cfg_error);
        assert_eq!(t.registers(), (0, 10, 10));
        t.step(&write(reg::WINDOW, 50));
        assert_eq!(t.registers(), (50, 10, 10));
        t.step(&write(reg::TARGET, 0));
        assert_eq!(t.registers(), (50, 10, 10));
        t.step(&write(reg::CREDIT, 5));
        t.step(&write(0xF, 5));
        t.step(&write(reg::CTRL, 8));
        assert!(t.status().cfg_error);
        assert_eq!(t.read(reg::STATUS), spec::throttle::STATUS_CFG_ERROR);
    }

    #[test]
    fn writes_keep_the_credit_and_restart_refreshes_it() {
        let mut t = MemThrottle::new();
        t.configure_idle(&cfg(10, 2));
        t.step(&req(4));
        assert_eq!(t.status().credit, -2);
        // Rewriting the same (or another on) setting keeps the debt and the window phase.
        for w in cfg(10, 2).writes() {
            t.step(&ThrottleIn { cfg: w, ..req(4) });
        }
        assert_eq!((t.status().credit, t.status().wc), (-2, 5));
        t.step(&write(reg::WINDOW, 20));
        assert_eq!((t.status().credit, t.status().wc), (-2, 4));
        for _ in 0..5 {
            t.step(&ThrottleIn::default());
        }
        assert_eq!(
            (t.status().credit, t.status().wc),
            (0, 19),
            "the new WINDOW"
        );
        // RESTART: a fresh window with one window's budget, in one write.
        t.step(&ThrottleIn {
            cfg: CfgPort::write(reg::CTRL, reg::CTRL_RESTART),
            ..req(1)
        });
        assert_eq!((t.status().credit, t.status().wc), (2, 19));
        // Off clears, on starts afresh.
        t.step(&write(reg::WINDOW, 0));
        assert_eq!((t.status().credit, t.status().wc), (0, 0));
        t.step(&write(reg::CTRL, reg::CTRL_RESTART));
        assert_eq!(
            (t.status().credit, t.status().wc),
            (0, 0),
            "RESTART while off"
        );
        t.step(&write(reg::WINDOW, 7));
        assert_eq!((t.status().credit, t.status().wc), (2, 6));
    }

    #[test]
    fn perf_clear_and_read_port() {
        let mut t = MemThrottle::new();
        t.configure_idle(&cfg(10, 2));
        for _ in 0..30 {
            t.step(&req(2));
        }
        assert_eq!(t.read(reg::PERF_REQS), t.status().perf_reqs);
        assert_eq!(t.read(reg::WINDOW), 10);
        assert!(t.status().perf_bubble > 0);
        t.step(&ThrottleIn {
            cfg: CfgPort::write(reg::CTRL, reg::CTRL_CLEAR_PERF),
            ..req(2)
        });
        assert_eq!(t.status().perf_reqs, 0);
        assert_eq!(t.status().perf_beats, 0);
        // Signed read-back is sign-extended.
        let mut t = MemThrottle::new();
        t.configure_idle(&cfg(10, 1));
        t.step(&req(4));
        assert_eq!(t.read(reg::CREDIT) as i32, -3);
    }

    // ---- The arrival-curve contract (docs/THROTTLE.md) ----

    #[test]
    fn contract_holds_for_the_cases_of_the_issue() {
        // Saturating 4-beat demand; the old design granted 4x (3:1), +9.9 % (1000:1) and
        // +121 % in its first window (4096:17).
        for (w, t, cycles) in [(3, 1, 30_000), (1000, 1, 2_000_000), (4096, 17, 400_000)] {
            let c = cfg(w, t);
            let g = run(&c, cycles, |_, _| req(4));
            check_contract(&c, 4, &g, "saturating");
            let total: u64 = g.iter().map(|&x| u64::from(x)).sum();
            let budget = cycles as f64 * c.rate();
            assert!(
                total as f64 <= budget + sigma(c.target, c.burst, 4) as f64,
                "{w}:{t}: {total} beats for a budget of {budget}"
            );
        }
        // The same setting rewritten every 2000 and 10^4 cycles (old: +317 % and +79 %).
        for every in [2000u64, 10_000] {
            let c = cfg(200, 20);
            let writes = c.writes();
            let g = run(&c, 400_000, |k, _| {
                let slot = (k % every) as usize;
                ThrottleIn {
                    cfg: writes.get(slot).copied().unwrap_or_default(),
                    ..req(4)
                }
            });
            check_contract(&c, 4, &g, "rewritten");
            let total: u64 = g.iter().map(|&x| u64::from(x)).sum();
            assert!(total <= 400_000 / 10 + 64, "every {every}: {total}");
        }
    }

    #[test]
    fn contract_holds_under_adversarial_demand() {
        // Random settings; random, on/off and maximal demand; random bus back-pressure.
        let seed = 12;
        println!("seed {seed}");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut worst: f64 = 0.0;
        for n in 0..120 {
            let w: u16 = if n % 3 == 0 {
                rng.gen_range(2..20)
            } else {
                rng.gen_range(2..2000)
            };
            let t: u16 = rng.gen_range(1..=(w / 2).max(1) + 3);
            let b: u16 = [0, t, rng.gen_range(0..3 * t + 1)][n % 3];
            let c = ThrottleConfig::new(i64::from(w), i64::from(t), Some(i64::from(b))).unwrap();
            let r: u8 = if n % 4 == 3 { 7 } else { 4 };
            let pattern = n % 5;
            let (on, off) = (
                rng.gen_range(1..3 * u64::from(w)),
                rng.gen_range(1..5 * u64::from(w)),
            );
            let p_valid: f64 = rng.gen_range(0.05..1.0);
            let mut rr = ChaCha8Rng::seed_from_u64(seed * 1000 + n as u64);
            let g = run(&c, 40 * u64::from(w) + 5000, |k, _| {
                let valid = match pattern {
                    0 => true,
                    1 => k % (on + off) < on,
                    2 => rr.gen_bool(p_valid),
                    // Idle long enough to bank, then everything at once.
                    3 => k % (on + off) >= off.min(on + off - 1),
                    _ => k % u64::from(w) >= u64::from(w) - 2,
                };
                ThrottleIn {
                    up_valid: valid,
                    up_beats: if pattern == 2 { rr.gen_range(1..=r) } else { r },
                    up_addr: 0,
                    down_ready: pattern == 0 || rr.gen_bool(0.9),
                    cfg: CfgPort::default(),
                }
            });
            worst = worst.max(check_contract(&c, r, &g, "adversarial demand"));
        }
        println!("largest excess over rho*t: {:.1} % of sigma", 100.0 * worst);
        assert!(worst > 0.5, "the bound should be approached: {worst}");
    }

    #[test]
    fn contract_holds_under_adversarial_register_writes() {
        // Rewrites of the configuration every k cycles (k below, at and above WINDOW), writes
        // during bubbles and at window ends, CTRL writes: one configuration throughout.
        let seed = 34;
        println!("seed {seed}");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for n in 0..60 {
            let w: u16 = rng.gen_range(2..300);
            let t: u16 = rng.gen_range(1..=w);
            let c = ThrottleConfig::new(
                i64::from(w),
                i64::from(t),
                Some(i64::from(rng.gen_range(0..=t))),
            )
            .unwrap();
            let every = [
                1,
                3,
                u64::from(w) - 1,
                u64::from(w),
                u64::from(w) + 1,
                7 * u64::from(w) / 3,
            ][n % 6]
                .max(1);
            let writes = c.writes();
            let mut rr = ChaCha8Rng::seed_from_u64(seed * 1000 + n as u64);
            let g = run(&c, 30 * u64::from(w) + 2000, |k, th| {
                let cfg = match n % 4 {
                    0 => writes[(k % 3) as usize],
                    1 if k % every == 0 => writes[rr.gen_range(0..3)],
                    2 if th.in_bubble() || th.status().wc == 0 => {
                        CfgPort::write(reg::CTRL, rr.gen_range(0..4))
                    }
                    3 if k % every == 0 => CfgPort::write(rr.gen_range(4..16), rr.r#gen()),
                    _ => CfgPort::default(),
                };
                ThrottleIn { cfg, ..req(4) }
            });
            check_contract(&c, 4, &g, "register writes");
        }
    }

    #[test]
    fn accounting_holds_across_configuration_changes() {
        // Alternating settings: for every interval without a RESTART, the beats granted are
        // at most the credit at its start plus R - 1 plus the TARGETs added at the window
        // ends inside it, and the credit never exceeds the BURST + TARGET of the last window
        // end (or start).
        let seed = 56;
        println!("seed {seed}");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let settings: Vec<ThrottleConfig> = (0..6)
            .map(|_| {
                let w = rng.gen_range(2..400);
                ThrottleConfig::new(w, rng.gen_range(1..=w), Some(rng.gen_range(0..200))).unwrap()
            })
            .collect();
        let mut th = MemThrottle::new();
        th.configure_idle(&settings[0]);
        let mut cap = i64::from(settings[0].target);
        let (mut q, mut min_q) = (0i64, i64::MAX);
        let mut pending: Vec<CfgPort> = Vec::new();
        for k in 0..300_000u64 {
            if k % rng.gen_range(50..3000) == 0 && pending.is_empty() {
                pending.extend(settings[rng.gen_range(0..settings.len())].writes());
            }
            let cfg = if pending.is_empty() {
                CfgPort::default()
            } else {
                pending.remove(0)
            };
            let (w0, t0, b0) = th.registers();
            let c0 = i64::from(th.status().credit);
            let end = w0 != 0 && th.status().wc == 0;
            min_q = min_q.min(q + c0);
            let beats = rng.gen_range(1..=4);
            let o = th.step(&ThrottleIn { cfg, ..req(beats) });
            let a = if o.fire { i64::from(beats) } else { 0 };
            q += a - if end { i64::from(t0) } else { 0 };
            assert!(
                q - min_q <= 3,
                "cycle {k}: {} beats over the accrued credit",
                q - min_q
            );
            if end {
                cap = i64::from(b0) + i64::from(t0);
            }
            assert!(
                i64::from(th.status().credit) <= cap.max(i64::from(th.registers().1)),
                "cycle {k}"
            );
        }
    }

    #[test]
    fn the_bound_is_tight() {
        // Bank BURST, then take BURST + 2*TARGET + R - 1 beats in 28 cycles across a window
        // end: the staircase bound is reached exactly.
        let c = ThrottleConfig::new(1000, 40, Some(29)).unwrap();
        let g = run(&c, 3000, |k, _| ThrottleIn {
            up_valid: k >= 1000 + 1000 - 18,
            ..req(4)
        });
        let burst: u64 = g[1000..2100].iter().map(|&x| u64::from(x)).sum();
        assert_eq!(burst, staircase_bound(1000, 40, 29, 4, 28));
        assert_eq!(burst, sigma(40, 29, 4), "so sigma cannot be smaller");
    }
}

/// One test per register of `spec::THROTTLE_REGISTERS`, driven by the table: the shared
/// register test (`regs::testing::check_register`) on throttles in assorted states.
#[cfg(test)]
mod registers {
    use super::*;
    use crate::regs::testing::{RegisterModel, check_register, check_unmapped, register_tests};
    use crate::spec::{RegisterBlock, validate};

    fn write(addr: u8, wdata: u16) -> ThrottleIn {
        ThrottleIn {
            cfg: CfgPort::write(addr, wdata),
            ..Default::default()
        }
    }

    /// Throttles in assorted states: reset, on with a debt and in BUBBLE, on with banked
    /// credit, and switched off again after traffic (perf counters non-zero).
    fn states() -> Vec<MemThrottle> {
        let mut out = vec![MemThrottle::new()];
        let mut t = MemThrottle::new();
        t.configure_idle(&ThrottleConfig::new(10, 3, Some(5)).unwrap());
        for k in 0..25u32 {
            t.step(&ThrottleIn {
                up_valid: k % 3 != 2,
                up_beats: 4,
                down_ready: true,
                ..Default::default()
            });
            out.push(t.clone());
        }
        t.step(&write(reg::WINDOW, 0));
        out.push(t);
        out
    }

    impl RegisterModel for MemThrottle {
        const BLOCK: RegisterBlock = RegisterBlock::Throttle;

        fn read(&self, addr: u8) -> u32 {
            MemThrottle::read(self, addr)
        }

        fn write(&mut self, addr: u8, wdata: u16) {
            self.step(&write(addr, wdata));
        }

        fn idle(&mut self) {
            self.step(&ThrottleIn::default());
        }

        fn cfg_error(&mut self) -> &mut bool {
            &mut self.s.cfg_error
        }

        /// The configuration after the write passes `spec::validate`.
        fn valid_write(&self, addr: u8, wdata: u16) -> bool {
            validate(&self.config().with_write(addr, wdata).unwrap()).is_ok()
        }

        fn check_accepted(&self, after: &Self, addr: u8, wdata: u16, what: &str) {
            let next = self.config().with_write(addr, wdata).unwrap();
            assert!(!after.status().cfg_error, "{what} refused");
            assert_eq!(after.config(), &next, "{what}");
        }
    }

    fn check(name: &str) {
        check_register(name, &[MemThrottle::new()], &states());
    }

    register_tests!(
        MemThrottle;
        window: "WINDOW",
        target: "TARGET",
        burst: "BURST",
        ctrl: "CTRL",
        status: "STATUS",
        wc: "WC",
        credit: "CREDIT",
        perf_reqs: "PERF_REQS",
        perf_beats: "PERF_BEATS",
        perf_bubble: "PERF_BUBBLE",
        perf_wait: "PERF_WAIT",
        perf_windows: "PERF_WINDOWS",
    );

    #[test]
    fn unmapped_addresses_are_refused_and_read_0() {
        check_unmapped(&states());
    }
}

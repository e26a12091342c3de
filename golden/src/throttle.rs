//! Golden model of `MemThrottle`, MoCA's memory-access rate limiter. This file is the
//! specification the RTL (`hw::throttle`) is co-simulated against, cycle by cycle.
//!
//! The throttle sits between a tile's DMA read-request port (`up_*`) and the shared bus
//! (`down_*`). It counts the beats of every request that fires (valid and ready) and, when the
//! tile is over its budget of `TARGET` beats per `WINDOW` cycles, injects a *bubble*: for a number
//! of cycles no request may fire (`up_ready` and `down_valid` low).
//!
//! # Cycle semantics
//! All next values are computed from this cycle's register values and inputs;
//! `fire = up_valid && up_ready`.
//!
//! * **Off** (`WINDOW == 0`): `up_ready = down_ready`, `down_valid = up_valid`, no state but the
//!   perf counters changes.
//! * **MONITOR**: pass-through. `sum = inner + (fire ? beats : 0)`. *Detection* on the current
//!   `outer`: if `2*outer > TARGET` the next state is BUBBLE, `wc = 0`, `inner = sum` (the beats
//!   of a request that fired in the detection cycle count toward the next window) and, with
//!   `b = TARGET`, `h = WINDOW/2`:
//!
//!   | condition               | bubble length | `outer -=`    |
//!   |-------------------------|---------------|---------------|
//!   | `outer >= b`            | `2h`          | `b`           |
//!   | `outer >= b/2 + b/4`    | `h + h/2`     | `b/2 + b/4`   |
//!   | `outer >= b/2 + b/8`    | `h + h/4`     | `b/2 + b/8`   |
//!   | otherwise               | `h`           | `b/2`         |
//!
//!   Otherwise, at `wc == WINDOW-1` (window end): `outer = max(outer + sum - TARGET, -BURST)`,
//!   `inner = 0`, `wc = 0`, one window completed; else `inner = sum`, `wc += 1`.
//!   A detection abandons the current window: its partial count stays in `inner`.
//! * **BUBBLE**: no request fires; `inner`, `outer` hold; `wc` counts `0..BUBBLE_LEN-1`, then
//!   MONITOR with `wc = 0`.
//! * **Configuration**: a valid write to `WINDOW`, `TARGET` or `BURST` restarts monitoring
//!   (MONITOR, `wc = inner = outer = BUBBLE_LEN = 0`); a `TARGET` write also sets `BURST`. A
//!   request firing in the same cycle is counted by the perf counters but not by the restarted
//!   window. An invalid write (`WINDOW = 1`; `WINDOW != 0` with `TARGET = 0`; `TARGET = 0` with
//!   `WINDOW != 0`; reserved `CTRL` bits; a read-only or unmapped address) changes nothing but
//!   the sticky `CFG_ERROR`. `CTRL` bit 1 clears the perf counters (the clear wins over this
//!   cycle's increments); bit 0 clears `CFG_ERROR`.
//! * **Widths**: `inner`/`outer` are 25-bit two's complement (all arithmetic wraps at 25 bits),
//!   `wc` and the bubble length 16 bits, perf counters 32-bit wrapping. The `beats` field is
//!   3 bits and counted as given (a well-formed request has 1..=4).
//!
//! # Differences from the published MoCA RTL
//! A request firing in the last cycle of a window is counted (the original drops it); `inner`
//! is not zeroed on entering a bubble (the original under-counts); banked credit is bounded by
//! `BURST` (the original lets an idle tenant bank unbounded credit).
//!
//! # Accuracy
//! Under saturating demand the granted rate converges to `TARGET/WINDOW`: within 2 % for
//! `WINDOW >= 32` and `TARGET >= 16` except a few small windows with `TARGET/WINDOW` above
//! about 0.35 (up to 2.8 %; tested). For small values the integer bubble rule is coarse;
//! `docs/THROTTLE.md` tabulates the measured error (`moca rate`). With `TARGET` below
//! [`spec::STABLE_TARGET`] (twice the largest request) the credit is unbounded under
//! saturating demand (the request of every detection cycle fires); see the same page.

use crate::cfg::CfgPort;
use crate::spec::{self, throttle as reg};

/// Throttle state machine state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum State {
    /// Requests pass; beats are counted.
    #[default]
    Monitor,
    /// Requests are held back.
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
    /// Window counter (MONITOR) or bubble counter (BUBBLE).
    pub wc: u16,
    /// Beats granted in the current window (25-bit signed).
    pub inner: i32,
    /// Accumulated excess over TARGET (25-bit signed).
    pub outer: i32,
    /// Current (or last) bubble length.
    pub bubble_len: u16,
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
    window: u16,
    target: u16,
    burst: u16,
    s: ThrottleStatus,
}

const CREDIT_SHIFT: u32 = 32 - spec::CREDIT_BITS as u32;

/// Wrap a value to the 25-bit two's complement credit width.
fn wrap_credit(x: i64) -> i32 {
    ((x as i32) << CREDIT_SHIFT) >> CREDIT_SHIFT
}

/// The bubble length and credit decrement chosen by the detection rule.
pub fn bubble_rule(outer: i32, window: u16, target: u16) -> (u16, i32) {
    let b = i32::from(target);
    let h = window / 2;
    if outer >= b {
        (2 * h, b)
    } else if outer >= b / 2 + b / 4 {
        (h + h / 2, b / 2 + b / 4)
    } else if outer >= b / 2 + b / 8 {
        (h + h / 4, b / 2 + b / 8)
    } else {
        (h, b / 2)
    }
}

impl MemThrottle {
    /// A throttle after power-up: all registers 0 (off).
    pub fn new() -> Self {
        Self::default()
    }

    /// Current `WINDOW`, `TARGET`, `BURST`.
    pub fn registers(&self) -> (u16, u16, u16) {
        (self.window, self.target, self.burst)
    }

    /// Current status registers.
    pub fn status(&self) -> &ThrottleStatus {
        &self.s
    }

    /// What `cfg_rdata` returns for `addr` (0 for write-only and unmapped addresses).
    pub fn read(&self, addr: u8) -> u32 {
        let s = &self.s;
        match addr {
            reg::WINDOW => u32::from(self.window),
            reg::TARGET => u32::from(self.target),
            reg::BURST => u32::from(self.burst),
            reg::STATUS => u32::from(s.state == State::Bubble) | (u32::from(s.cfg_error) << 1),
            reg::WC => u32::from(s.wc),
            reg::INNER => s.inner as u32,
            reg::OUTER => s.outer as u32,
            reg::BUBBLE_LEN => u32::from(s.bubble_len),
            reg::PERF_REQS => s.perf_reqs,
            reg::PERF_BEATS => s.perf_beats,
            reg::PERF_BUBBLE => s.perf_bubble,
            reg::PERF_WAIT => s.perf_wait,
            reg::PERF_WINDOWS => s.perf_windows,
            _ => 0,
        }
    }

    /// Whether a write of `wdata` to `addr` is accepted given the current registers.
    pub fn write_ok(&self, addr: u8, wdata: u16) -> bool {
        match addr {
            reg::WINDOW => wdata != 1 && (wdata == 0 || self.target != 0),
            reg::TARGET => self.window == 0 || wdata != 0,
            reg::BURST => true,
            reg::CTRL => wdata & !(reg::CTRL_CLEAR_ERROR | reg::CTRL_CLEAR_PERF) == 0,
            _ => false,
        }
    }

    /// Simulate one clock cycle: compute this cycle's outputs, then advance the state.
    pub fn step(&mut self, i: &ThrottleIn) -> ThrottleOut {
        let enabled = self.window != 0;
        let in_bubble = enabled && self.s.state == State::Bubble;
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
            match s.state {
                State::Monitor => {
                    let sum = wrap_credit(i64::from(s.inner) + i64::from(beats));
                    if 2 * i64::from(s.outer) > i64::from(self.target) {
                        let (len, dec) = bubble_rule(s.outer, self.window, self.target);
                        s.state = State::Bubble;
                        s.wc = 0;
                        s.inner = sum;
                        s.outer = wrap_credit(i64::from(s.outer) - i64::from(dec));
                        s.bubble_len = len;
                    } else if s.wc == self.window - 1 {
                        let o = wrap_credit(
                            i64::from(s.outer) + i64::from(sum) - i64::from(self.target),
                        );
                        s.outer = o.max(-i32::from(self.burst));
                        s.inner = 0;
                        s.wc = 0;
                        window_end = true;
                    } else {
                        s.inner = sum;
                        s.wc += 1;
                    }
                }
                State::Bubble => {
                    if s.wc == s.bubble_len.wrapping_sub(1) {
                        s.state = State::Monitor;
                        s.wc = 0;
                    } else {
                        s.wc += 1;
                    }
                }
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
        out
    }

    fn configure(&mut self, addr: u8, wdata: u16) {
        if !self.write_ok(addr, wdata) {
            self.s.cfg_error = true;
            return;
        }
        match addr {
            reg::CTRL => {
                if wdata & reg::CTRL_CLEAR_ERROR != 0 {
                    self.s.cfg_error = false;
                }
                if wdata & reg::CTRL_CLEAR_PERF != 0 {
                    let s = &mut self.s;
                    s.perf_reqs = 0;
                    s.perf_beats = 0;
                    s.perf_bubble = 0;
                    s.perf_wait = 0;
                    s.perf_windows = 0;
                }
                return;
            }
            reg::WINDOW => self.window = wdata,
            reg::TARGET => {
                self.target = wdata;
                self.burst = wdata;
            }
            reg::BURST => self.burst = wdata,
            _ => unreachable!("write_ok accepts only mapped writable addresses"),
        }
        let s = &mut self.s;
        s.state = State::Monitor;
        s.wc = 0;
        s.inner = 0;
        s.outer = 0;
        s.bubble_len = 0;
    }

    /// Apply a validated configuration through the configuration port (four cycles with no
    /// request traffic). Returns the number of cycles used.
    pub fn configure_idle(&mut self, cfg: &crate::cfg::ThrottleConfig) -> u64 {
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
pub fn saturated_rate(
    cfg: &crate::cfg::ThrottleConfig,
    beats: u8,
    windows: u64,
) -> RateMeasurement {
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
        ideal: cfg.rate().unwrap_or(f64::INFINITY),
        beats: granted,
        cycles,
        bubble_cycles: bubble,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfg::ThrottleConfig;
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

    #[test]
    fn reference_rates_from_the_issue() {
        // An independent model of the spec gives 0.2478 (W=100, T=25) and 0.0997 (W=200, T=20).
        let a = saturated_rate(&cfg(100, 25), 1, 1000);
        let b = saturated_rate(&cfg(200, 20), 1, 1000);
        println!("W=100 T=25: {:.4}; W=200 T=20: {:.4}", a.rate, b.rate);
        assert!((a.rate - 0.2478).abs() < 0.0005, "{}", a.rate);
        assert!((b.rate - 0.0997).abs() < 0.0005, "{}", b.rate);
    }

    /// Windows to measure over: at least 100, and long enough that the burst a tenant gets
    /// at the start of every repayment period (up to WINDOW beats at once) averages out.
    fn long_run(w: u16, t: u16) -> u64 {
        (100 * u64::from(w) / u64::from(t)).max(100)
    }

    #[test]
    fn rate_within_two_percent_for_large_windows() {
        // Saturating single-beat demand. The claim holds on this grid except three small-window
        // points where the integer bubble rule (b/2 + b/8 over h + h/4) under-grants by up to
        // 3 % (docs/THROTTLE.md).
        let exceptions = [(32, 20), (50, 20), (64, 25)];
        for w in [32u16, 50, 64, 100, 128, 200, 256, 500, 1000] {
            for t in [16u16, 20, 25, 32, 50, 64, 100, 128, 250, 500] {
                if t >= w {
                    continue;
                }
                let m = saturated_rate(&cfg(i64::from(w), i64::from(t)), 1, long_run(w, t));
                let err = m.relative_error().abs();
                let bound = if exceptions.contains(&(w, t)) {
                    0.03
                } else {
                    0.02
                };
                assert!(err <= bound, "W={w} T={t}: rate {} vs {}", m.rate, m.ideal);
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
    fn bubble_rule_table() {
        // b = 64, h = 50.
        assert_eq!(bubble_rule(64, 100, 64), (100, 64));
        assert_eq!(bubble_rule(100, 100, 64), (100, 64));
        assert_eq!(bubble_rule(48, 100, 64), (75, 48));
        assert_eq!(bubble_rule(63, 100, 64), (75, 48));
        assert_eq!(bubble_rule(40, 100, 64), (62, 40));
        assert_eq!(bubble_rule(47, 100, 64), (62, 40));
        assert_eq!(bubble_rule(33, 100, 64), (50, 32));
        // Odd window: 2h = W - 1.
        assert_eq!(bubble_rule(10, 101, 10), (100, 10));
    }

    #[test]
    fn detection_goes_to_bubble_and_counts_the_detection_cycle_request() {
        let mut t = MemThrottle::new();
        t.configure_idle(&cfg(10, 4));
        // First window: 10 beats granted, excess 6.
        for _ in 0..10 {
            assert!(t.step(&req(1)).fire);
        }
        assert_eq!(t.status().outer, 6);
        assert_eq!(t.status().inner, 0);
        assert_eq!(t.status().perf_windows, 1);
        // Detection cycle: still MONITOR, the request fires and counts toward the next window.
        let o = t.step(&req(3));
        assert!(o.fire);
        let s = *t.status();
        assert_eq!(s.state, State::Bubble);
        assert_eq!((s.bubble_len, s.outer, s.inner, s.wc), (10, 2, 3, 0));
        // The bubble: 10 cycles, nothing fires, counters hold.
        for k in 0..10 {
            let o = t.step(&req(1));
            assert!(!o.fire && !o.up_ready && !o.down_valid, "cycle {k}");
            assert_eq!(o.status.wc, k);
        }
        assert_eq!(t.status().state, State::Monitor);
        assert_eq!((t.status().inner, t.status().outer), (3, 2));
        assert_eq!(t.status().perf_wait, 10);
        assert_eq!(t.status().perf_bubble, 10);
        assert_eq!(t.status().perf_beats, 13);
    }

    #[test]
    fn last_cycle_of_a_window_is_counted() {
        let mut t = MemThrottle::new();
        t.configure_idle(&cfg(4, 100));
        let idle = ThrottleIn::default();
        for _ in 0..3 {
            t.step(&idle);
        }
        t.step(&req(2));
        assert_eq!(t.status().outer, 2 - 100);
    }

    #[test]
    fn credit_is_clamped_at_minus_burst() {
        let mut t = MemThrottle::new();
        t.configure_idle(&ThrottleConfig::new(10, 8, Some(20)).unwrap());
        for _ in 0..100 {
            t.step(&ThrottleIn::default());
        }
        assert_eq!(t.status().outer, -20);
        // Default BURST = TARGET.
        let mut t = MemThrottle::new();
        t.configure_idle(&cfg(10, 8));
        for _ in 0..100 {
            t.step(&ThrottleIn::default());
        }
        assert_eq!(t.status().outer, -8);
        // An idle tenant can then burst at most TARGET + BURST beats above its budget before
        // the throttle engages: here two windows' worth plus the bank.
        let mut granted_before_bubble = 0;
        loop {
            let o = t.step(&req(4));
            if !o.fire {
                break;
            }
            granted_before_bubble += 4;
        }
        assert!(
            granted_before_bubble <= 2 * 40 + 8 + 8,
            "{granted_before_bubble}"
        );
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
            assert_eq!(o.status.wc, 0);
            assert_eq!(o.status.inner, 0);
        }
        assert!(t.status().perf_beats > 0);
    }

    #[test]
    fn invalid_writes_are_refused_and_sticky() {
        let mut t = MemThrottle::new();
        let w = |t: &mut MemThrottle, a, d| {
            t.step(&ThrottleIn {
                cfg: CfgPort::write(a, d),
                ..Default::default()
            })
        };
        w(&mut t, reg::WINDOW, 100); // TARGET is 0: refused
        assert_eq!(t.registers(), (0, 0, 0));
        assert!(t.status().cfg_error);
        w(&mut t, reg::CTRL, reg::CTRL_CLEAR_ERROR);
        assert!(!t.status().cfg_error);
        w(&mut t, reg::TARGET, 10);
        assert_eq!(t.registers(), (0, 10, 10));
        w(&mut t, reg::WINDOW, 1);
        assert!(t.status().cfg_error);
        assert_eq!(t.registers(), (0, 10, 10));
        w(&mut t, reg::WINDOW, 50);
        assert_eq!(t.registers(), (50, 10, 10));
        w(&mut t, reg::TARGET, 0);
        assert_eq!(t.registers(), (50, 10, 10));
        w(&mut t, reg::OUTER, 5);
        w(&mut t, 0xF, 5);
        w(&mut t, reg::CTRL, 4);
        assert!(t.status().cfg_error);
        assert_eq!(t.read(reg::STATUS), spec::throttle::STATUS_CFG_ERROR);
    }

    #[test]
    fn write_mid_window_and_mid_bubble_restarts_monitoring() {
        let mut t = MemThrottle::new();
        t.configure_idle(&cfg(10, 2));
        for _ in 0..11 {
            t.step(&req(4));
        }
        assert_eq!(t.status().state, State::Bubble);
        t.step(&ThrottleIn {
            cfg: CfgPort::write(reg::BURST, 3),
            ..req(4)
        });
        let s = *t.status();
        assert_eq!((s.state, s.wc, s.inner, s.outer), (State::Monitor, 0, 0, 0));
        for _ in 0..5 {
            t.step(&req(1));
        }
        assert_eq!(t.status().wc, 5);
        t.step(&ThrottleIn {
            cfg: CfgPort::write(reg::WINDOW, 20),
            ..req(1)
        });
        assert_eq!((t.status().wc, t.status().inner), (0, 0));
        // The request in the write cycle was counted by perf, not by the new window.
        assert_eq!(t.status().perf_reqs, 11 + 6 - 1 + 1);
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
        t.configure_idle(&cfg(10, 8));
        for _ in 0..10 {
            t.step(&ThrottleIn::default());
        }
        assert_eq!(t.read(reg::OUTER) as i32, -8);
    }

    #[test]
    fn credit_wraps_at_25_bits() {
        assert_eq!(wrap_credit(1 << 24), -(1 << 24));
        assert_eq!(wrap_credit(-1), -1);
        assert_eq!(wrap_credit((1 << 24) - 1), (1 << 24) - 1);
    }
}

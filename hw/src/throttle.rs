//! `MemThrottle` RTL: MoCA's memory-access rate limiter.
//!
//! The specification is the golden twin `golden::throttle` (cycle semantics, register map in
//! `golden::spec`); this block implements it and is co-simulated against it cycle by cycle.
//! Signed credit counters are held as 25-bit two's complement `Bits` and compared with
//! explicit sign handling, so the emitted Verilog is plain unsigned Verilog-2005.

use golden::spec::{self, throttle as reg};
use rust_hdl::prelude::*;

/// Credit counter type (25-bit two's complement).
pub type Credit = Bits<{ spec::CREDIT_BITS }>;
/// 16-bit register type.
pub type Reg16 = Bits<{ spec::COUNTER_BITS }>;
/// 32-bit performance counter type.
pub type Perf = Bits<{ spec::PERF_BITS }>;

/// The throttle. Ports first; `update()` implements `golden::throttle::MemThrottle::step`.
#[derive(LogicBlock)]
pub struct MemThrottle {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Upstream (tile DMA) request valid.
    pub up_valid: Signal<In, Bit>,
    /// Upstream request beats.
    pub up_beats: Signal<In, Bits<{ spec::BEATS_BITS }>>,
    /// Upstream request address.
    pub up_addr: Signal<In, Bits<{ spec::ADDR_BITS }>>,
    /// Upstream ready.
    pub up_ready: Signal<Out, Bit>,
    /// Downstream (bus) request valid.
    pub down_valid: Signal<Out, Bit>,
    /// Downstream beats.
    pub down_beats: Signal<Out, Bits<{ spec::BEATS_BITS }>>,
    /// Downstream address.
    pub down_addr: Signal<Out, Bits<{ spec::ADDR_BITS }>>,
    /// Downstream ready.
    pub down_ready: Signal<In, Bit>,
    /// Configuration write enable.
    pub cfg_we: Signal<In, Bit>,
    /// Configuration address (read and write).
    pub cfg_addr: Signal<In, Bits<{ spec::CFG_ADDR_BITS }>>,
    /// Configuration write data.
    pub cfg_wdata: Signal<In, Reg16>,
    /// Configuration read data (combinational).
    pub cfg_rdata: Signal<Out, Bits<{ spec::CFG_RDATA_BITS }>>,
    /// Status: in BUBBLE.
    pub st_bubble: Signal<Out, Bit>,
    /// Status: sticky configuration error.
    pub st_cfg_error: Signal<Out, Bit>,
    /// Status: window/bubble counter.
    pub st_wc: Signal<Out, Reg16>,
    /// Status: inner counter.
    pub st_inner: Signal<Out, Credit>,
    /// Status: outer counter.
    pub st_outer: Signal<Out, Credit>,
    /// Status: bubble length.
    pub st_bubble_len: Signal<Out, Reg16>,
    /// Perf: granted requests.
    pub perf_reqs: Signal<Out, Perf>,
    /// Perf: granted beats.
    pub perf_beats: Signal<Out, Perf>,
    /// Perf: bubble cycles.
    pub perf_bubble: Signal<Out, Perf>,
    /// Perf: cycles a request waited because of the throttle.
    pub perf_wait: Signal<Out, Perf>,
    /// Perf: windows completed.
    pub perf_windows: Signal<Out, Perf>,
    // Registers.
    window: DFF<Reg16>,
    target: DFF<Reg16>,
    burst: DFF<Reg16>,
    bubble: DFF<Bit>,
    cfg_error: DFF<Bit>,
    wc: DFF<Reg16>,
    inner: DFF<Credit>,
    outer: DFF<Credit>,
    blen: DFF<Reg16>,
    reqs: DFF<Perf>,
    beats: DFF<Perf>,
    bubbles: DFF<Perf>,
    waits: DFF<Perf>,
    windows: DFF<Perf>,
    // Combinational intermediates.
    in_bubble: Signal<Local, Bit>,
    fire: Signal<Local, Bit>,
    fired_beats: Signal<Local, Credit>,
    sum: Signal<Local, Credit>,
    detect: Signal<Local, Bit>,
    half: Signal<Local, Reg16>,
    b34: Signal<Local, Credit>,
    b58: Signal<Local, Credit>,
    b12: Signal<Local, Credit>,
    raw_settled: Signal<Local, Credit>,
    settled: Signal<Local, Credit>,
    floor: Signal<Local, Credit>,
    write_ok: Signal<Local, Bit>,
    restart: Signal<Local, Bit>,
    // Register addresses and constants from `golden::spec`.
    a_window: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_target: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_burst: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_ctrl: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_status: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_wc: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_inner: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_outer: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_bubble_len: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_perf_reqs: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_perf_beats: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_perf_bubble: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_perf_wait: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_perf_windows: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    ctrl_reserved: Constant<Reg16>,
    sign_mask: Constant<Credit>,
    sign_ext32: Constant<Bits<{ spec::CFG_RDATA_BITS }>>,
}

impl Default for MemThrottle {
    fn default() -> Self {
        let a = |x: u8| Constant::new(Bits::from(u64::from(x)));
        Self {
            clock: Default::default(),
            up_valid: Default::default(),
            up_beats: Default::default(),
            up_addr: Default::default(),
            up_ready: Default::default(),
            down_valid: Default::default(),
            down_beats: Default::default(),
            down_addr: Default::default(),
            down_ready: Default::default(),
            cfg_we: Default::default(),
            cfg_addr: Default::default(),
            cfg_wdata: Default::default(),
            cfg_rdata: Default::default(),
            st_bubble: Default::default(),
            st_cfg_error: Default::default(),
            st_wc: Default::default(),
            st_inner: Default::default(),
            st_outer: Default::default(),
            st_bubble_len: Default::default(),
            perf_reqs: Default::default(),
            perf_beats: Default::default(),
            perf_bubble: Default::default(),
            perf_wait: Default::default(),
            perf_windows: Default::default(),
            window: Default::default(),
            target: Default::default(),
            burst: Default::default(),
            bubble: Default::default(),
            cfg_error: Default::default(),
            wc: Default::default(),
            inner: Default::default(),
            outer: Default::default(),
            blen: Default::default(),
            reqs: Default::default(),
            beats: Default::default(),
            bubbles: Default::default(),
            waits: Default::default(),
            windows: Default::default(),
            in_bubble: Default::default(),
            fire: Default::default(),
            fired_beats: Default::default(),
            sum: Default::default(),
            detect: Default::default(),
            half: Default::default(),
            b34: Default::default(),
            b58: Default::default(),
            b12: Default::default(),
            raw_settled: Default::default(),
            settled: Default::default(),
            floor: Default::default(),
            write_ok: Default::default(),
            restart: Default::default(),
            a_window: a(reg::WINDOW),
            a_target: a(reg::TARGET),
            a_burst: a(reg::BURST),
            a_ctrl: a(reg::CTRL),
            a_status: a(reg::STATUS),
            a_wc: a(reg::WC),
            a_inner: a(reg::INNER),
            a_outer: a(reg::OUTER),
            a_bubble_len: a(reg::BUBBLE_LEN),
            a_perf_reqs: a(reg::PERF_REQS),
            a_perf_beats: a(reg::PERF_BEATS),
            a_perf_bubble: a(reg::PERF_BUBBLE),
            a_perf_wait: a(reg::PERF_WAIT),
            a_perf_windows: a(reg::PERF_WINDOWS),
            ctrl_reserved: Constant::new(Bits::from(u64::from(
                !(reg::CTRL_CLEAR_ERROR | reg::CTRL_CLEAR_PERF),
            ))),
            sign_mask: Constant::new(Bits::from(1u64 << (spec::CREDIT_BITS - 1))),
            sign_ext32: Constant::new(Bits::from(
                (u64::from(u32::MAX) << spec::CREDIT_BITS) & u64::from(u32::MAX),
            )),
        }
    }
}

impl Logic for MemThrottle {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, window, target, burst, bubble, cfg_error, wc, inner, outer, blen, reqs,
            beats, bubbles, waits, windows
        );
        // Handshake: pass-through unless in a bubble (never when WINDOW == 0).
        self.in_bubble.next = self.bubble.q.val() & (self.window.q.val() != 0);
        self.up_ready.next = self.down_ready.val() & !self.in_bubble.val();
        self.down_valid.next = self.up_valid.val() & !self.in_bubble.val();
        self.down_beats.next = self.up_beats.val();
        self.down_addr.next = self.up_addr.val();
        self.fire.next = self.up_valid.val() & self.down_ready.val() & !self.in_bubble.val();
        self.fired_beats.next = 0.into();
        if self.fire.val() {
            self.fired_beats.next =
                bit_cast::<{ spec::CREDIT_BITS }, { spec::BEATS_BITS }>(self.up_beats.val());
        }

        // Detection: 2*outer > TARGET with outer >= 0 (a negative outer never detects).
        self.sum.next = self.inner.q.val() + self.fired_beats.val();
        self.detect.next = ((self.outer.q.val() & self.sign_mask.val()) == 0)
            & ((bit_cast::<26, { spec::CREDIT_BITS }>(self.outer.q.val()) << 1)
                > bit_cast::<26, { spec::COUNTER_BITS }>(self.target.q.val()));
        self.half.next = self.window.q.val() >> 1;
        self.b12.next =
            bit_cast::<{ spec::CREDIT_BITS }, { spec::COUNTER_BITS }>(self.target.q.val() >> 1);
        self.b34.next = self.b12.val()
            + bit_cast::<{ spec::CREDIT_BITS }, { spec::COUNTER_BITS }>(self.target.q.val() >> 2);
        self.b58.next = self.b12.val()
            + bit_cast::<{ spec::CREDIT_BITS }, { spec::COUNTER_BITS }>(self.target.q.val() >> 3);
        // Window end: outer + sum - TARGET, clamped below at -BURST (signed compare by flipping
        // the sign bit).
        self.raw_settled.next = self.outer.q.val() + self.sum.val()
            - bit_cast::<{ spec::CREDIT_BITS }, { spec::COUNTER_BITS }>(self.target.q.val());
        self.floor.next =
            !bit_cast::<{ spec::CREDIT_BITS }, { spec::COUNTER_BITS }>(self.burst.q.val()) + 1;
        self.settled.next = self.raw_settled.val();
        if (self.raw_settled.val() ^ self.sign_mask.val())
            < (self.floor.val() ^ self.sign_mask.val())
        {
            self.settled.next = self.floor.val();
        }

        if self.window.q.val() != 0 {
            if !self.bubble.q.val() {
                if self.detect.val() {
                    self.bubble.d.next = true;
                    self.wc.d.next = 0.into();
                    self.inner.d.next = self.sum.val();
                    if self.outer.q.val()
                        >= bit_cast::<{ spec::CREDIT_BITS }, { spec::COUNTER_BITS }>(
                            self.target.q.val(),
                        )
                    {
                        self.blen.d.next = self.half.val() << 1;
                        self.outer.d.next = self.outer.q.val()
                            - bit_cast::<{ spec::CREDIT_BITS }, { spec::COUNTER_BITS }>(
                                self.target.q.val(),
                            );
                    } else if self.outer.q.val() >= self.b34.val() {
                        self.blen.d.next = self.half.val() + (self.half.val() >> 1);
                        self.outer.d.next = self.outer.q.val() - self.b34.val();
                    } else if self.outer.q.val() >= self.b58.val() {
                        self.blen.d.next = self.half.val() + (self.half.val() >> 2);
                        self.outer.d.next = self.outer.q.val() - self.b58.val();
                    } else {
                        self.blen.d.next = self.half.val();
                        self.outer.d.next = self.outer.q.val() - self.b12.val();
                    }
                } else if self.wc.q.val() == self.window.q.val() - 1 {
                    self.outer.d.next = self.settled.val();
                    self.inner.d.next = 0.into();
                    self.wc.d.next = 0.into();
                    self.windows.d.next = self.windows.q.val() + 1;
                } else {
                    self.inner.d.next = self.sum.val();
                    self.wc.d.next = self.wc.q.val() + 1;
                }
            } else if self.wc.q.val() == self.blen.q.val() - 1 {
                self.bubble.d.next = false;
                self.wc.d.next = 0.into();
            } else {
                self.wc.d.next = self.wc.q.val() + 1;
            }
        }

        // Performance counters.
        if self.fire.val() {
            self.reqs.d.next = self.reqs.q.val() + 1;
            self.beats.d.next = self.beats.q.val()
                + bit_cast::<{ spec::PERF_BITS }, { spec::BEATS_BITS }>(self.up_beats.val());
        }
        if self.in_bubble.val() {
            self.bubbles.d.next = self.bubbles.q.val() + 1;
            if self.up_valid.val() {
                self.waits.d.next = self.waits.q.val() + 1;
            }
        }

        // Configuration writes win over everything above.
        self.write_ok.next = false;
        self.restart.next = false;
        if self.cfg_addr.val() == self.a_window.val() {
            self.write_ok.next = (self.cfg_wdata.val() != 1)
                & ((self.cfg_wdata.val() == 0) | (self.target.q.val() != 0));
            self.restart.next = true;
        }
        if self.cfg_addr.val() == self.a_target.val() {
            self.write_ok.next = (self.window.q.val() == 0) | (self.cfg_wdata.val() != 0);
            self.restart.next = true;
        }
        if self.cfg_addr.val() == self.a_burst.val() {
            self.write_ok.next = true;
            self.restart.next = true;
        }
        if self.cfg_addr.val() == self.a_ctrl.val() {
            self.write_ok.next = (self.cfg_wdata.val() & self.ctrl_reserved.val()) == 0;
        }
        if self.cfg_we.val() {
            if !self.write_ok.val() {
                self.cfg_error.d.next = true;
            } else {
                if self.cfg_addr.val() == self.a_window.val() {
                    self.window.d.next = self.cfg_wdata.val();
                }
                if self.cfg_addr.val() == self.a_target.val() {
                    self.target.d.next = self.cfg_wdata.val();
                    self.burst.d.next = self.cfg_wdata.val();
                }
                if self.cfg_addr.val() == self.a_burst.val() {
                    self.burst.d.next = self.cfg_wdata.val();
                }
                if self.restart.val() {
                    self.bubble.d.next = false;
                    self.wc.d.next = 0.into();
                    self.inner.d.next = 0.into();
                    self.outer.d.next = 0.into();
                    self.blen.d.next = 0.into();
                } else {
                    if self.cfg_wdata.val().get_bit(0) {
                        self.cfg_error.d.next = false;
                    }
                    if self.cfg_wdata.val().get_bit(1) {
                        self.reqs.d.next = 0.into();
                        self.beats.d.next = 0.into();
                        self.bubbles.d.next = 0.into();
                        self.waits.d.next = 0.into();
                        self.windows.d.next = 0.into();
                    }
                }
            }
        }

        // Status outputs and the read port.
        self.st_bubble.next = self.bubble.q.val();
        self.st_cfg_error.next = self.cfg_error.q.val();
        self.st_wc.next = self.wc.q.val();
        self.st_inner.next = self.inner.q.val();
        self.st_outer.next = self.outer.q.val();
        self.st_bubble_len.next = self.blen.q.val();
        self.perf_reqs.next = self.reqs.q.val();
        self.perf_beats.next = self.beats.q.val();
        self.perf_bubble.next = self.bubbles.q.val();
        self.perf_wait.next = self.waits.q.val();
        self.perf_windows.next = self.windows.q.val();
        self.cfg_rdata.next = 0.into();
        if self.cfg_addr.val() == self.a_window.val() {
            self.cfg_rdata.next = bit_cast::<32, 16>(self.window.q.val());
        }
        if self.cfg_addr.val() == self.a_target.val() {
            self.cfg_rdata.next = bit_cast::<32, 16>(self.target.q.val());
        }
        if self.cfg_addr.val() == self.a_burst.val() {
            self.cfg_rdata.next = bit_cast::<32, 16>(self.burst.q.val());
        }
        if self.cfg_addr.val() == self.a_status.val() {
            if self.bubble.q.val() {
                self.cfg_rdata.next = 1.into();
            }
            if self.cfg_error.q.val() {
                self.cfg_rdata.next = 2.into();
                if self.bubble.q.val() {
                    self.cfg_rdata.next = 3.into();
                }
            }
        }
        if self.cfg_addr.val() == self.a_wc.val() {
            self.cfg_rdata.next = bit_cast::<32, 16>(self.wc.q.val());
        }
        if self.cfg_addr.val() == self.a_inner.val() {
            self.cfg_rdata.next = bit_cast::<32, { spec::CREDIT_BITS }>(self.inner.q.val());
            if (self.inner.q.val() & self.sign_mask.val()) != 0 {
                self.cfg_rdata.next = bit_cast::<32, { spec::CREDIT_BITS }>(self.inner.q.val())
                    | self.sign_ext32.val();
            }
        }
        if self.cfg_addr.val() == self.a_outer.val() {
            self.cfg_rdata.next = bit_cast::<32, { spec::CREDIT_BITS }>(self.outer.q.val());
            if (self.outer.q.val() & self.sign_mask.val()) != 0 {
                self.cfg_rdata.next = bit_cast::<32, { spec::CREDIT_BITS }>(self.outer.q.val())
                    | self.sign_ext32.val();
            }
        }
        if self.cfg_addr.val() == self.a_bubble_len.val() {
            self.cfg_rdata.next = bit_cast::<32, 16>(self.blen.q.val());
        }
        if self.cfg_addr.val() == self.a_perf_reqs.val() {
            self.cfg_rdata.next = self.reqs.q.val();
        }
        if self.cfg_addr.val() == self.a_perf_beats.val() {
            self.cfg_rdata.next = self.beats.q.val();
        }
        if self.cfg_addr.val() == self.a_perf_bubble.val() {
            self.cfg_rdata.next = self.bubbles.q.val();
        }
        if self.cfg_addr.val() == self.a_perf_wait.val() {
            self.cfg_rdata.next = self.waits.q.val();
        }
        if self.cfg_addr.val() == self.a_perf_windows.val() {
            self.cfg_rdata.next = self.windows.q.val();
        }
    }
}

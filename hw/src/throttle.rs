//! `MemThrottle` RTL: MoCA's memory-access rate limiter.
//!
//! The specification is the golden twin `golden::throttle` (cycle semantics, register map in
//! `golden::spec`); this block implements it and is co-simulated against it cycle by cycle.
//!
//! Implementation notes (none of this is visible at the ports):
//! * The credit is held as `avail = CREDIT - 1` while on and 0 while off, so the bubble is the
//!   sign bit of a register: `fire` is one LUT from the inputs.
//! * One wide carry chain after `fire`: the next credit is `base - f`, where `base` is `avail`,
//!   or at a window end `min(avail, BURST - 1) + TARGET`, selected by a registered flag
//!   (`below_burst`) from `avail + TARGET` and `BURST + TARGET - 1`, which come from registers
//!   in parallel with `fire`. `below_burst` is computed one cycle ahead, `avail - f < BURST`
//!   with this cycle's (or the newly written) `BURST`; it is exact in every window-end cycle,
//!   because the cycle before a window end is never a window end, a start or a restart
//!   (`WINDOW >= 2`). `TARGET - 1` is kept in a register written with `TARGET`.
//! * `en` is a register copy of `WINDOW != 0`.
//! * The configuration writes that set the credit (start, stop, restart) are decoded in
//!   parallel and select the final value with one multiplexer after the chain.
//! * Signed values are 18-bit two's complement `Bits`, compared with explicit sign handling,
//!   so the emitted Verilog is plain unsigned Verilog-2005.
//!
//! Register file: the read multiplexer and the write decode are the shared sub-block
//! [`crate::regfile::RegFile`], built by looping over the register table
//! `golden::spec::THROTTLE_REGISTERS` (addresses, field positions and widths, sign extension,
//! reserved bits, valid ranges) and its `RELATIONS`, so a field or a range changed in the
//! table changes the RTL. What the table cannot know is which signal holds a field's value:
//! that binding is written once, in [`MemThrottle::update`] (`regs.val`, in table order, and
//! the relations' `regs.rel_on`/`regs.rel_cur`), and [`MemThrottle::default`] checks that it
//! covers the table. Which writes are valid is decided only by the register file's `write_ok`
//! (the credit updates of start, stop and restart use it).

use crate::regfile::RegFile;
use golden::spec::{self, RegisterBlock, Relation, throttle as reg};
use rust_hdl::prelude::*;

/// Address type.
type Addr = Bits<{ spec::CFG_ADDR_BITS }>;

/// The readable fields the RTL binds a signal to, in table order (`regs.val[k]` in `update`).
const BOUND_FIELDS: [&str; 12] = [
    "WINDOW",
    "TARGET",
    "BURST",
    "BUBBLE",
    "CFG_ERROR",
    "WC",
    "CREDIT",
    "PERF_REQS",
    "PERF_BEATS",
    "PERF_BUBBLE",
    "PERF_WAIT",
    "PERF_WINDOWS",
];

/// The relations the RTL binds signals to (`regs.rel_on`, `regs.rel_cur` in `update`):
/// `TARGET` against the `WINDOW` switch. Panics, naming the file to change, when the table has another one.
fn bound_relations() -> &'static [Relation] {
    for rel in reg::RELATIONS {
        let Relation::AtLeastWhileOn {
            register, switch, ..
        } = *rel;
        assert!(
            register == reg::TARGET && switch == reg::WINDOW,
            "hw/src/throttle.rs binds only TARGET-while-WINDOW relations; bind {rel:?} in update()"
        );
    }
    reg::RELATIONS
}

/// Credit type (18-bit two's complement).
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
    /// Status: cycles left in the window.
    pub st_wc: Signal<Out, Reg16>,
    /// Status: credit (18-bit two's complement).
    pub st_credit: Signal<Out, Credit>,
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
    tm1: DFF<Reg16>,
    en: DFF<Bit>,
    cfg_error: DFF<Bit>,
    wc: DFF<Reg16>,
    avail: DFF<Credit>,
    below_burst: DFF<Bit>,
    reqs: DFF<Perf>,
    beats: DFF<Perf>,
    bubbles: DFF<Perf>,
    waits: DFF<Perf>,
    windows: DFF<Perf>,
    // Combinational intermediates.
    enabled: Signal<Local, Bit>,
    in_bubble: Signal<Local, Bit>,
    fire: Signal<Local, Bit>,
    fired: Signal<Local, Bits<{ spec::BEATS_BITS }>>,
    fired_wide: Signal<Local, Credit>,
    plus_target: Signal<Local, Credit>,
    cap: Signal<Local, Credit>,
    base: Signal<Local, Credit>,
    charged: Signal<Local, Credit>,
    ahead_cur: Signal<Local, Credit>,
    ahead_new: Signal<Local, Credit>,
    below_cur: Signal<Local, Bit>,
    below_new: Signal<Local, Bit>,
    set_credit: Signal<Local, Bit>,
    set_value: Signal<Local, Credit>,
    credit: Signal<Local, Credit>,
    write_ok: Signal<Local, Bit>,
    /// The register file: read multiplexer and write check, from the table.
    regs: RegFile,
    // Addresses and `CTRL` bits the datapath acts on, from the table.
    a_window: Constant<Addr>,
    a_target: Constant<Addr>,
    a_burst: Constant<Addr>,
    a_ctrl: Constant<Addr>,
    c_clear_error: Constant<Reg16>,
    c_clear_perf: Constant<Reg16>,
    c_restart: Constant<Reg16>,
    sign_mask: Constant<Credit>,
    high_mask: Constant<Credit>,
}

impl Default for MemThrottle {
    fn default() -> Self {
        let a = |x: u8| Constant::new(Bits::from(u64::from(x)));
        let r16 = |x: u32| Constant::new(Bits::from(u64::from(x)));
        bound_relations();
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
            st_credit: Default::default(),
            perf_reqs: Default::default(),
            perf_beats: Default::default(),
            perf_bubble: Default::default(),
            perf_wait: Default::default(),
            perf_windows: Default::default(),
            window: Default::default(),
            target: Default::default(),
            burst: Default::default(),
            tm1: Default::default(),
            en: Default::default(),
            cfg_error: Default::default(),
            wc: Default::default(),
            avail: Default::default(),
            below_burst: Default::default(),
            reqs: Default::default(),
            beats: Default::default(),
            bubbles: Default::default(),
            waits: Default::default(),
            windows: Default::default(),
            enabled: Default::default(),
            in_bubble: Default::default(),
            fire: Default::default(),
            fired: Default::default(),
            fired_wide: Default::default(),
            plus_target: Default::default(),
            cap: Default::default(),
            base: Default::default(),
            charged: Default::default(),
            ahead_cur: Default::default(),
            ahead_new: Default::default(),
            below_cur: Default::default(),
            below_new: Default::default(),
            set_credit: Default::default(),
            set_value: Default::default(),
            credit: Default::default(),
            write_ok: Default::default(),
            regs: RegFile::new(RegisterBlock::Throttle, &BOUND_FIELDS, "hw/src/throttle.rs"),
            a_window: a(reg::WINDOW),
            a_target: a(reg::TARGET),
            a_burst: a(reg::BURST),
            a_ctrl: a(reg::CTRL),
            c_clear_error: r16(reg::CTRL_CLEAR_ERROR.into()),
            c_clear_perf: r16(reg::CTRL_CLEAR_PERF.into()),
            c_restart: r16(reg::CTRL_RESTART.into()),
            sign_mask: Constant::new(Bits::from(1u64 << (spec::CREDIT_BITS - 1))),
            high_mask: Constant::new(Bits::from(
                ((1u64 << spec::CREDIT_BITS) - 1) & !((1u64 << spec::BEATS_BITS) - 1),
            )),
        }
    }
}

impl Logic for MemThrottle {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            window,
            target,
            burst,
            tm1,
            en,
            cfg_error,
            wc,
            avail,
            below_burst,
            reqs,
            beats,
            bubbles,
            waits,
            windows
        );
        // Handshake: pass-through unless the credit is used up (avail < 0; avail is 0 when off).
        self.enabled.next = self.en.q.val();
        self.in_bubble.next = (self.avail.q.val() & self.sign_mask.val()) != 0;
        self.up_ready.next = self.down_ready.val() & !self.in_bubble.val();
        self.down_valid.next = self.up_valid.val() & !self.in_bubble.val();
        self.down_beats.next = self.up_beats.val();
        self.down_addr.next = self.up_addr.val();
        self.fire.next = self.up_valid.val() & self.down_ready.val() & !self.in_bubble.val();
        self.fired.next = 0.into();
        if self.fire.val() {
            self.fired.next = self.up_beats.val();
        }
        self.fired_wide.next =
            bit_cast::<{ spec::CREDIT_BITS }, { spec::BEATS_BITS }>(self.fired.val());

        // Which writes are valid: the register file decides (from the table); the relation
        // `TARGET >= min while WINDOW != 0` is bound to the running flag and TARGET (the
        // registers themselves: a local such as `enabled` here makes Verilator see a
        // combinational loop through the sub-block, UNOPTFLAT).
        self.regs.cfg_addr.next = self.cfg_addr.val();
        self.regs.cfg_wdata.next = self.cfg_wdata.val();
        self.regs.rel_on[0].next = self.en.q.val();
        self.regs.rel_cur[0].next = self.target.q.val();
        self.write_ok.next = self.regs.write_ok.val();

        // Charging: avail' = base - f, with base = avail, or at a window end
        // min(avail, BURST - 1) + TARGET (registers only, in parallel with `fire`).
        self.plus_target.next = self.avail.q.val()
            + bit_cast::<{ spec::CREDIT_BITS }, { spec::COUNTER_BITS }>(self.target.q.val());
        self.cap.next =
            bit_cast::<{ spec::CREDIT_BITS }, { spec::COUNTER_BITS }>(self.burst.q.val())
                + bit_cast::<{ spec::CREDIT_BITS }, { spec::COUNTER_BITS }>(self.tm1.q.val());
        self.base.next = self.avail.q.val();
        if self.wc.q.val() == 0 {
            if self.below_burst.q.val() {
                self.base.next = self.plus_target.val();
            } else {
                self.base.next = self.cap.val();
            }
        }
        self.charged.next = self.base.val() - self.fired_wide.val();
        // One cycle ahead: avail - f < BURST' (BURST' = the value written this cycle, if any),
        // i.e. avail - BURST' < f with f <= 7; both candidates in parallel, the write selects.
        self.ahead_cur.next = self.avail.q.val()
            - bit_cast::<{ spec::CREDIT_BITS }, { spec::COUNTER_BITS }>(self.burst.q.val());
        self.ahead_new.next = self.avail.q.val()
            - bit_cast::<{ spec::CREDIT_BITS }, { spec::COUNTER_BITS }>(self.cfg_wdata.val());
        self.below_cur.next = ((self.ahead_cur.val() & self.sign_mask.val()) != 0)
            | (((self.ahead_cur.val() & self.high_mask.val()) == 0)
                & (bit_cast::<{ spec::BEATS_BITS }, { spec::CREDIT_BITS }>(self.ahead_cur.val())
                    < self.fired.val()));
        self.below_new.next = ((self.ahead_new.val() & self.sign_mask.val()) != 0)
            | (((self.ahead_new.val() & self.high_mask.val()) == 0)
                & (bit_cast::<{ spec::BEATS_BITS }, { spec::CREDIT_BITS }>(self.ahead_new.val())
                    < self.fired.val()));
        self.below_burst.d.next = self.below_cur.val();
        if self.cfg_we.val()
            & self.write_ok.val()
            & ((self.cfg_addr.val() == self.a_burst.val())
                | (self.cfg_addr.val() == self.a_target.val()))
        {
            self.below_burst.d.next = self.below_new.val();
        }

        // Writes that set the credit: stop (0), start or restart (TARGET - 1). While off the
        // credit holds its 0.
        self.set_credit.next = !self.enabled.val();
        self.set_value.next = 0.into();
        if self.cfg_we.val() & self.write_ok.val() {
            if self.cfg_addr.val() == self.a_window.val() {
                if self.cfg_wdata.val() == 0 {
                    self.set_credit.next = true;
                } else if !self.enabled.val() {
                    self.set_credit.next = true;
                    self.set_value.next =
                        bit_cast::<{ spec::CREDIT_BITS }, { spec::COUNTER_BITS }>(self.tm1.q.val());
                }
            }
            if (self.cfg_addr.val() == self.a_ctrl.val())
                & ((self.cfg_wdata.val() & self.c_restart.val()) != 0)
                & self.enabled.val()
            {
                self.set_credit.next = true;
                self.set_value.next =
                    bit_cast::<{ spec::CREDIT_BITS }, { spec::COUNTER_BITS }>(self.tm1.q.val());
            }
        }
        self.avail.d.next = self.charged.val();
        if self.set_credit.val() {
            self.avail.d.next = self.set_value.val();
        }

        if self.enabled.val() {
            if self.wc.q.val() == 0 {
                self.wc.d.next = self.window.q.val() - 1;
                self.windows.d.next = self.windows.q.val() + 1;
            } else {
                self.wc.d.next = self.wc.q.val() - 1;
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
        if self.cfg_we.val() {
            if !self.write_ok.val() {
                self.cfg_error.d.next = true;
            } else {
                if self.cfg_addr.val() == self.a_window.val() {
                    self.window.d.next = self.cfg_wdata.val();
                    self.en.d.next = self.cfg_wdata.val() != 0;
                    if self.cfg_wdata.val() == 0 {
                        self.wc.d.next = 0.into();
                    } else if !self.enabled.val() {
                        self.wc.d.next = self.cfg_wdata.val() - 1;
                    }
                }
                if self.cfg_addr.val() == self.a_target.val() {
                    self.target.d.next = self.cfg_wdata.val();
                    self.burst.d.next = self.cfg_wdata.val();
                    self.tm1.d.next = self.cfg_wdata.val() - 1;
                }
                if self.cfg_addr.val() == self.a_burst.val() {
                    self.burst.d.next = self.cfg_wdata.val();
                }
                if self.cfg_addr.val() == self.a_ctrl.val() {
                    if (self.cfg_wdata.val() & self.c_clear_error.val()) != 0 {
                        self.cfg_error.d.next = false;
                    }
                    if (self.cfg_wdata.val() & self.c_clear_perf.val()) != 0 {
                        self.reqs.d.next = 0.into();
                        self.beats.d.next = 0.into();
                        self.bubbles.d.next = 0.into();
                        self.waits.d.next = 0.into();
                        self.windows.d.next = 0.into();
                    }
                    if ((self.cfg_wdata.val() & self.c_restart.val()) != 0) & self.enabled.val() {
                        self.wc.d.next = self.window.q.val() - 1;
                    }
                }
            }
        }

        // Status outputs and the read port.
        self.credit.next = 0.into();
        if self.enabled.val() {
            self.credit.next = self.avail.q.val() + 1;
        }
        self.st_bubble.next = self.in_bubble.val();
        self.st_cfg_error.next = self.cfg_error.q.val();
        self.st_wc.next = self.wc.q.val();
        self.st_credit.next = self.credit.val();
        self.perf_reqs.next = self.reqs.q.val();
        self.perf_beats.next = self.beats.q.val();
        self.perf_bubble.next = self.bubbles.q.val();
        self.perf_wait.next = self.waits.q.val();
        self.perf_windows.next = self.windows.q.val();
        // The read port: each readable field's value (the binding: one line per field, in the
        // order of the register table, `BOUND_FIELDS`); the register file places, extends and
        // selects them as the table says.
        self.regs.val[0].next = bit_cast::<32, { spec::COUNTER_BITS }>(self.window.q.val());
        self.regs.val[1].next = bit_cast::<32, { spec::COUNTER_BITS }>(self.target.q.val());
        self.regs.val[2].next = bit_cast::<32, { spec::COUNTER_BITS }>(self.burst.q.val());
        self.regs.val[3].next = bit_cast::<32, 1>(self.in_bubble.val().into());
        self.regs.val[4].next = bit_cast::<32, 1>(self.cfg_error.q.val().into());
        self.regs.val[5].next = bit_cast::<32, { spec::COUNTER_BITS }>(self.wc.q.val());
        self.regs.val[6].next = bit_cast::<32, { spec::CREDIT_BITS }>(self.credit.val());
        self.regs.val[7].next = self.reqs.q.val();
        self.regs.val[8].next = self.beats.q.val();
        self.regs.val[9].next = self.bubbles.q.val();
        self.regs.val[10].next = self.waits.q.val();
        self.regs.val[11].next = self.windows.q.val();
        self.cfg_rdata.next = self.regs.rdata.val();
    }
}

//! The register map: every block's registers *and their fields*, in one const table, with the
//! one rule that decides which configuration writes are valid ([`validate`]).
//!
//! Everything that knows a register reads it from here (re-exported by [`crate::spec`]): the
//! golden models decode their reads and writes through the table, the RTL (`hw::throttle`,
//! `hw::arbiter`) builds its read multiplexers and write decodes by looping over it,
//! `hw::formal` takes the addresses, field positions and valid ranges from it, and
//! `docs/REGISTERS.md` and the README's register tables are generated from it
//! ([`registers_markdown`], [`registers_readme`]; a test fails when a committed copy differs).
//!
//! A register is a list of [`Field`]s (`lsb`, `width`, meaning, valid values). Addresses are word
//! offsets; the configuration port carries `cfg_we`, a `CFG_ADDR_BITS`-bit `cfg_addr`,
//! `CFG_WDATA_BITS` of `cfg_wdata` and returns `CFG_RDATA_BITS` of `cfg_rdata` combinationally.
//! Const assertions below check that every field fits the bus, that no two fields of a register
//! overlap, and that addresses are dense and unique.

use crate::cfg::{ConfigError, ThrottleConfig};
use crate::spec::{
    CFG_ADDR_BITS, CFG_RDATA_BITS, CFG_WDATA_BITS, COUNTER_BITS, CREDIT_BITS, PERF_BITS,
    PORT_ID_BITS, REG_MAX, TARGET_MIN, WINDOW_MIN,
};
use std::fmt;

/// How software may access a register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read and write.
    ReadWrite,
    /// Read only: a write is refused and sets `CFG_ERROR`.
    ReadOnly,
    /// Write-only command bits (reads return 0).
    WriteOnly,
}

impl Access {
    /// Whether `cfg_rdata` returns the register.
    pub const fn readable(self) -> bool {
        !matches!(self, Access::WriteOnly)
    }

    /// Whether a write may be accepted.
    pub const fn writable(self) -> bool {
        !matches!(self, Access::ReadOnly)
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::ReadWrite => "RW",
            Access::ReadOnly => "RO",
            Access::WriteOnly => "WO",
        })
    }
}

/// The values a write may put into a field (read-only fields take [`Valid::Any`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Valid {
    /// Every value the field's width holds.
    Any,
    /// `min..=max`.
    Range {
        /// Smallest valid value.
        min: u32,
        /// Largest valid value.
        max: u32,
    },
    /// `off` (the block switched off) or `min..=max`.
    OffOr {
        /// The value that switches the block off.
        off: u32,
        /// Smallest valid value otherwise.
        min: u32,
        /// Largest valid value.
        max: u32,
    },
}

impl Valid {
    /// Whether `v` is valid for a field of `width` bits.
    pub const fn contains(self, v: u32, width: u8) -> bool {
        match self {
            Valid::Any => width >= 32 || v < 1 << width,
            Valid::Range { min, max } => min <= v && v <= max,
            Valid::OffOr { off, min, max } => v == off || (min <= v && v <= max),
        }
    }

    /// The smallest valid value other than an `off` value (0 for [`Valid::Any`]).
    pub const fn min(self) -> u32 {
        match self {
            Valid::Any => 0,
            Valid::Range { min, .. } | Valid::OffOr { min, .. } => min,
        }
    }

    /// The `off` value, if there is one.
    pub const fn off(self) -> Option<u32> {
        match self {
            Valid::OffOr { off, .. } => Some(off),
            _ => None,
        }
    }
}

/// One field of a register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Name (unique inside its register; a single-field register's field has its name).
    pub name: &'static str,
    /// Position of the least significant bit in the register word.
    pub lsb: u8,
    /// Bits.
    pub width: u8,
    /// Two's complement (the read word is sign-extended from the field's top bit).
    pub signed: bool,
    /// Values a write may put in it ([`Valid::Any`] for read-only fields and command bits).
    pub valid: Valid,
    /// The allowed values in words, as error messages and the docs print them (a test checks
    /// it against `valid` and the block's [`Relation`]s).
    pub allowed: &'static str,
    /// Meaning, one sentence.
    pub doc: &'static str,
}

impl Field {
    /// The field's bits in the register word.
    pub const fn mask(&self) -> u32 {
        (((1u64 << self.width) - 1) << self.lsb) as u32
    }

    /// The largest raw value of the field.
    pub const fn max(&self) -> u32 {
        ((1u64 << self.width) - 1) as u32
    }

    /// The field's raw value in `word`.
    pub const fn extract(&self, word: u32) -> u32 {
        (word & self.mask()) >> self.lsb
    }

    /// `word` with the field replaced by `value` (truncated to the field's width).
    pub const fn insert(&self, word: u32, value: u32) -> u32 {
        (word & !self.mask()) | ((value << self.lsb) & self.mask())
    }

    /// The field's mask as a 16-bit write-data value (for fields of writable registers).
    pub const fn wmask(&self) -> u16 {
        assert!(self.lsb as usize + self.width as usize <= CFG_WDATA_BITS);
        self.mask() as u16
    }
}

/// One register of a block's register file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Register {
    /// Name as used in docs, CLI and status reports.
    pub name: &'static str,
    /// Word address inside the block.
    pub addr: u8,
    /// Software access.
    pub access: Access,
    /// Value after power-up.
    pub reset: u32,
    /// Its fields, lowest first.
    pub fields: &'static [Field],
    /// One-paragraph description used in the generated documentation.
    pub doc: &'static str,
}

impl Register {
    /// Significant bits: one past the highest field bit.
    pub const fn width(&self) -> u8 {
        let mut w = 0;
        let mut i = 0;
        while i < self.fields.len() {
            let top = self.fields[i].lsb + self.fields[i].width;
            if top > w {
                w = top;
            }
            i += 1;
        }
        w
    }

    /// Every bit that belongs to a field.
    pub const fn mask(&self) -> u32 {
        let mut m = 0;
        let mut i = 0;
        while i < self.fields.len() {
            m |= self.fields[i].mask();
            i += 1;
        }
        m
    }

    /// Write-data bits that belong to no field (a write setting one is refused).
    pub const fn reserved(&self) -> u16 {
        !(self.mask() as u16)
    }

    /// Whether the read word is sign-extended (its top field is signed).
    pub const fn signed(&self) -> bool {
        let mut i = 0;
        while i < self.fields.len() {
            let f = &self.fields[i];
            if f.signed && f.lsb + f.width == self.width() {
                return true;
            }
            i += 1;
        }
        false
    }

    /// The register's only field (configuration registers have one; panics otherwise).
    pub const fn field(&self) -> &Field {
        assert!(self.fields.len() == 1, "the register has several fields");
        &self.fields[0]
    }

    /// Look a field up by name.
    pub fn field_named(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The read word made of the fields' raw values (`value(field)`), sign-extended to 32 bits
    /// when the register is signed.
    pub fn compose(&self, mut value: impl FnMut(&Field) -> u32) -> u32 {
        let w = self.fields.iter().fold(0, |w, f| f.insert(w, value(f)));
        let width = u32::from(self.width());
        if self.signed() && width < 32 && w >> (width - 1) & 1 == 1 {
            w | (u32::MAX << width)
        } else {
            w
        }
    }
}

/// A rule between two registers of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// `register >= min` whenever `switch != 0` (the block is on).
    AtLeastWhileOn {
        /// Address of the constrained register.
        register: u8,
        /// Its smallest value while on.
        min: u32,
        /// Address of the register whose non-zero value switches the block on.
        switch: u8,
    },
}

impl Relation {
    /// Whether the relation holds for the register values `value(addr)`.
    pub fn holds(&self, value: impl Fn(u8) -> u32) -> bool {
        match *self {
            Relation::AtLeastWhileOn {
                register,
                min,
                switch,
            } => value(switch) == 0 || value(register) >= min,
        }
    }

    /// The register the relation constrains (its error names this register).
    pub fn register(&self) -> u8 {
        match *self {
            Relation::AtLeastWhileOn { register, .. } => register,
        }
    }
}

/// A register made of one unsigned field at bit 0.
const fn value(
    name: &'static str,
    width: usize,
    valid: Valid,
    allowed: &'static str,
    doc: &'static str,
) -> [Field; 1] {
    [Field {
        name,
        lsb: 0,
        width: width as u8,
        signed: false,
        valid,
        allowed,
        doc,
    }]
}

/// A 32-bit wrapping performance counter.
const fn perf(name: &'static str, doc: &'static str) -> [Field; 1] {
    value(name, PERF_BITS, Valid::Any, "wrapping", doc)
}

/// A one-bit flag or command bit.
const fn bit(name: &'static str, lsb: u8, doc: &'static str) -> Field {
    Field {
        name,
        lsb,
        width: 1,
        signed: false,
        valid: Valid::Any,
        allowed: "0..=1",
        doc,
    }
}

/// Throttle register addresses and fields.
pub mod throttle {
    use super::*;

    /// `WINDOW`: monitoring window in cycles; 0 disables the throttle, 1 is invalid.
    pub const WINDOW: u8 = 0x0;
    /// `TARGET`: beats allowed per window; >= 1 whenever `WINDOW` != 0.
    pub const TARGET: u8 = 0x1;
    /// `BURST`: most credit (beats) a tenant may bank; a `TARGET` write also sets it.
    pub const BURST: u8 = 0x2;
    /// `CTRL`: write-only command bits ([`field::CTRL`]).
    pub const CTRL: u8 = 0x3;
    /// `STATUS`: [`field::STATUS`].
    pub const STATUS: u8 = 0x4;
    /// `WC`: cycles left in the current window after this one.
    pub const WC: u8 = 0x5;
    /// `CREDIT`: beats the tenant may still take in this window (signed 18 bit).
    pub const CREDIT: u8 = 0x6;
    /// `PERF_REQS`: requests granted.
    pub const PERF_REQS: u8 = 0x7;
    /// `PERF_BEATS`: beats granted.
    pub const PERF_BEATS: u8 = 0x8;
    /// `PERF_BUBBLE`: cycles spent in BUBBLE.
    pub const PERF_BUBBLE: u8 = 0x9;
    /// `PERF_WAIT`: cycles a request waited because of the throttle.
    pub const PERF_WAIT: u8 = 0xA;
    /// `PERF_WINDOWS`: monitoring windows completed.
    pub const PERF_WINDOWS: u8 = 0xB;

    /// The throttle's fields.
    pub mod field {
        use super::super::*;

        /// `WINDOW`: 0 (off) or `WINDOW_MIN..=REG_MAX`.
        pub const WINDOW: [Field; 1] = value(
            "WINDOW",
            COUNTER_BITS,
            Valid::OffOr {
                off: 0,
                min: WINDOW_MIN,
                max: REG_MAX,
            },
            "0 (off) or 2..=65535",
            "window length in cycles",
        );
        /// `TARGET`: `0..=REG_MAX`, at least `TARGET_MIN` while `WINDOW != 0`
        /// ([`RELATIONS`](super::RELATIONS)).
        pub const TARGET: [Field; 1] = value(
            "TARGET",
            COUNTER_BITS,
            Valid::Range {
                min: 0,
                max: REG_MAX,
            },
            "1..=65535 while WINDOW != 0",
            "beats of credit added per window",
        );
        /// `BURST`: `0..=REG_MAX`.
        pub const BURST: [Field; 1] = value(
            "BURST",
            COUNTER_BITS,
            Valid::Range {
                min: 0,
                max: REG_MAX,
            },
            "0..=65535",
            "most unused credit carried into the next window",
        );
        /// `CTRL` bit 0.
        pub const CLEAR_ERROR: Field = bit("CLEAR_ERROR", 0, "1 clears the sticky CFG_ERROR");
        /// `CTRL` bit 1.
        pub const CLEAR_PERF: Field = bit("CLEAR_PERF", 1, "1 clears every performance counter");
        /// `CTRL` bit 2.
        pub const RESTART: Field = bit(
            "RESTART",
            2,
            "1 restarts monitoring while WINDOW != 0: CREDIT = TARGET, a full window",
        );
        /// `CTRL`'s command bits.
        pub const CTRL: [Field; 3] = [CLEAR_ERROR, CLEAR_PERF, RESTART];
        /// `STATUS` bit 0.
        pub const BUBBLE: Field = bit("BUBBLE", 0, "state: 0 = MONITOR, 1 = BUBBLE");
        /// `STATUS` bit 1.
        pub const CFG_ERROR: Field =
            bit("CFG_ERROR", 1, "sticky: a configuration write was refused");
        /// `STATUS`'s fields.
        pub const STATUS: [Field; 2] = [BUBBLE, CFG_ERROR];
        /// `WC`.
        pub const WC: [Field; 1] = value(
            "WC",
            COUNTER_BITS,
            Valid::Any,
            "0..=WINDOW-1",
            "cycles left in the window",
        );
        /// `CREDIT`.
        pub const CREDIT: [Field; 1] = [Field {
            signed: true,
            ..value(
                "CREDIT",
                CREDIT_BITS,
                Valid::Any,
                "-6..=BURST+TARGET",
                "beats left in this window (negative: a debt)",
            )[0]
        }];

        /// `PERF_REQS`.
        pub const PERF_REQS: [Field; 1] = perf("PERF_REQS", "requests granted");
        /// `PERF_BEATS`.
        pub const PERF_BEATS: [Field; 1] = perf("PERF_BEATS", "beats granted");
        /// `PERF_BUBBLE`.
        pub const PERF_BUBBLE: [Field; 1] = perf("PERF_BUBBLE", "cycles in BUBBLE");
        /// `PERF_WAIT`.
        pub const PERF_WAIT: [Field; 1] = perf("PERF_WAIT", "cycles a request waited in BUBBLE");
        /// `PERF_WINDOWS`.
        pub const PERF_WINDOWS: [Field; 1] = perf("PERF_WINDOWS", "windows completed");
    }

    /// `CTRL` bit that clears the sticky `CFG_ERROR`.
    pub const CTRL_CLEAR_ERROR: u16 = field::CLEAR_ERROR.wmask();
    /// `CTRL` bit that clears all performance counters.
    pub const CTRL_CLEAR_PERF: u16 = field::CLEAR_PERF.wmask();
    /// `CTRL` bit that restarts monitoring while on: `CREDIT = TARGET`, a fresh window.
    pub const CTRL_RESTART: u16 = field::RESTART.wmask();
    /// Every defined `CTRL` bit (the others are reserved: a write setting one is refused).
    pub const CTRL_BITS: u16 = !super::THROTTLE_REGISTERS[CTRL as usize].reserved();
    /// `STATUS` bit: the throttle is in BUBBLE.
    pub const STATUS_BUBBLE: u32 = field::BUBBLE.mask();
    /// `STATUS` bit: a configuration write was refused (sticky).
    pub const STATUS_CFG_ERROR: u32 = field::CFG_ERROR.mask();

    /// The rules between registers: `TARGET >= TARGET_MIN` while `WINDOW != 0`.
    pub const RELATIONS: &[Relation] = &[Relation::AtLeastWhileOn {
        register: TARGET,
        min: TARGET_MIN,
        switch: WINDOW,
    }];

    /// The register at `addr`, if one is mapped there.
    pub fn register(addr: u8) -> Option<&'static Register> {
        super::THROTTLE_REGISTERS.get(usize::from(addr))
    }

    /// The configuration registers (read-write, one field each), in address order: the ones
    /// [`ThrottleConfig`] holds.
    pub fn config_registers() -> impl Iterator<Item = &'static Register> {
        super::THROTTLE_REGISTERS
            .iter()
            .filter(|r| r.access == Access::ReadWrite)
    }
}

/// Arbiter register addresses and fields.
pub mod arbiter {
    use super::Register;

    /// `POLICY`: 0 = round-robin, 1 = fixed priority (lowest index first).
    pub const POLICY: u8 = 0x0;
    /// `CTRL`: write-only command bits (bit 0 clears `CFG_ERROR`, bit 1 clears perf counters).
    pub const CTRL: u8 = 0x1;
    /// `STATUS`: bits 3:0 round-robin pointer, bit 4 locked, bits 8:5 locked id, bit 9 `CFG_ERROR`.
    pub const STATUS: u8 = 0x2;
    /// `PERF_GRANTS`: total grants.
    pub const PERF_GRANTS: u8 = 0x3;
    /// `PERF_BUSY`: cycles the memory port was offered a request but was not ready.
    pub const PERF_STALL: u8 = 0x4;

    /// The arbiter's fields.
    pub mod field {
        use super::super::*;

        /// `POLICY`.
        pub const POLICY: [Field; 1] = value(
            "POLICY",
            1,
            Valid::Range { min: 0, max: 1 },
            "0..=1",
            "0 = round-robin, 1 = fixed priority",
        );
        /// `CTRL` bit 0.
        pub const CLEAR_ERROR: Field = bit("CLEAR_ERROR", 0, "1 clears the sticky CFG_ERROR");
        /// `CTRL` bit 1.
        pub const CLEAR_PERF: Field = bit("CLEAR_PERF", 1, "1 clears the performance counters");
        /// `CTRL`'s command bits.
        pub const CTRL: [Field; 2] = [CLEAR_ERROR, CLEAR_PERF];
        /// `STATUS` bits 3:0.
        pub const PTR: Field = Field {
            width: PORT_ID_BITS as u8,
            allowed: "0..=PORTS-1",
            ..bit(
                "PTR",
                0,
                "round-robin pointer: the port with the highest priority next",
            )
        };
        /// `STATUS` bit 4.
        pub const LOCKED: Field = bit(
            "LOCKED",
            PTR.lsb + PTR.width,
            "a presented request waits for the memory",
        );
        /// `STATUS` bits 8:5.
        pub const LOCK_ID: Field = Field {
            width: PORT_ID_BITS as u8,
            allowed: "0..=PORTS-1",
            ..bit("LOCK_ID", LOCKED.lsb + 1, "the locked requester")
        };
        /// `STATUS` bit 9.
        pub const CFG_ERROR: Field = bit(
            "CFG_ERROR",
            LOCK_ID.lsb + LOCK_ID.width,
            "sticky: a configuration write was refused",
        );
        /// `STATUS`'s fields.
        pub const STATUS: [Field; 4] = [PTR, LOCKED, LOCK_ID, CFG_ERROR];
        /// `PERF_GRANTS`.
        pub const PERF_GRANTS: [Field; 1] = perf("PERF_GRANTS", "requests granted");
        /// `PERF_STALL`.
        pub const PERF_STALL: [Field; 1] =
            perf("PERF_STALL", "cycles a presented request was not accepted");
    }

    /// `POLICY` value: round-robin.
    pub const POLICY_ROUND_ROBIN: u16 = 0;
    /// `POLICY` value: fixed priority.
    pub const POLICY_FIXED: u16 = 1;
    /// `CTRL` bit that clears the sticky `CFG_ERROR`.
    pub const CTRL_CLEAR_ERROR: u16 = field::CLEAR_ERROR.wmask();
    /// `CTRL` bit that clears the performance counters.
    pub const CTRL_CLEAR_PERF: u16 = field::CLEAR_PERF.wmask();

    /// The register at `addr`, if one is mapped there.
    pub fn register(addr: u8) -> Option<&'static Register> {
        super::ARBITER_REGISTERS.get(usize::from(addr))
    }
}

/// The throttle's register file, in address order.
pub const THROTTLE_REGISTERS: &[Register] = &[
    Register {
        name: "WINDOW",
        addr: throttle::WINDOW,
        access: Access::ReadWrite,
        reset: 0,
        fields: &throttle::field::WINDOW,
        doc: "Window in cycles: TARGET beats of credit are added at the end of every window. 0 \
              disables the throttle (combinational pass-through, zero added latency); 1 is \
              invalid; 2..=65535 enable it (needs TARGET >= 1). Enabling starts with \
              CREDIT = TARGET and a full window; changing a non-zero WINDOW takes effect when \
              the current window ends; 0 clears CREDIT and WC.",
    },
    Register {
        name: "TARGET",
        addr: throttle::TARGET,
        access: Access::ReadWrite,
        reset: 0,
        fields: &throttle::field::TARGET,
        doc: "Beats of credit per window (0..=65535; must be >= 1 while WINDOW != 0). A write \
              also sets BURST to the same value (write BURST afterwards to choose another \
              bound). Used from the next window end; CREDIT is kept.",
    },
    Register {
        name: "BURST",
        addr: throttle::BURST,
        access: Access::ReadWrite,
        reset: 0,
        fields: &throttle::field::BURST,
        doc: "Most unused credit, in beats, carried into the next window: at a window end \
              CREDIT = min(CREDIT, BURST) + TARGET (0..=65535). Used from the next window end.",
    },
    Register {
        name: "CTRL",
        addr: throttle::CTRL,
        access: Access::WriteOnly,
        reset: 0,
        fields: &throttle::field::CTRL,
        doc: "Command bits, write-only: bit 0 clears the sticky CFG_ERROR, bit 1 clears all \
              performance counters, bit 2 (RESTART, while WINDOW != 0) starts monitoring \
              afresh: CREDIT = TARGET, a full window (debt and banked credit are dropped). \
              Bits 15:3 must be 0.",
    },
    Register {
        name: "STATUS",
        addr: throttle::STATUS,
        access: Access::ReadOnly,
        reset: 0,
        fields: &throttle::field::STATUS,
        doc: "Bit 0: state (0 = MONITOR, 1 = BUBBLE: WINDOW != 0 and CREDIT <= 0). Bit 1: \
              CFG_ERROR, sticky, set when a write is refused (invalid combination, read-only \
              address, reserved CTRL bits).",
    },
    Register {
        name: "WC",
        addr: throttle::WC,
        access: Access::ReadOnly,
        reset: 0,
        fields: &throttle::field::WC,
        doc: "Cycles left in the current window after this one: counts down to 0 (the window \
              end), then reloads WINDOW-1. 0 while off.",
    },
    Register {
        name: "CREDIT",
        addr: throttle::CREDIT,
        access: Access::ReadOnly,
        reset: 0,
        fields: &throttle::field::CREDIT,
        doc: "Beats the tenant may still take in this window (18-bit two's complement, \
              sign-extended; -6..=BURST+TARGET). A request fires only while CREDIT > 0 and is \
              charged its beats, so a debt of up to beats-1 is carried to the next window.",
    },
    Register {
        name: "PERF_REQS",
        addr: throttle::PERF_REQS,
        access: Access::ReadOnly,
        reset: 0,
        fields: &throttle::field::PERF_REQS,
        doc: "Requests granted (handshakes), 32-bit wrapping.",
    },
    Register {
        name: "PERF_BEATS",
        addr: throttle::PERF_BEATS,
        access: Access::ReadOnly,
        reset: 0,
        fields: &throttle::field::PERF_BEATS,
        doc: "Beats granted, 32-bit wrapping.",
    },
    Register {
        name: "PERF_BUBBLE",
        addr: throttle::PERF_BUBBLE,
        access: Access::ReadOnly,
        reset: 0,
        fields: &throttle::field::PERF_BUBBLE,
        doc: "Cycles spent in BUBBLE, 32-bit wrapping.",
    },
    Register {
        name: "PERF_WAIT",
        addr: throttle::PERF_WAIT,
        access: Access::ReadOnly,
        reset: 0,
        fields: &throttle::field::PERF_WAIT,
        doc: "Cycles a request was waiting (upstream valid) while the throttle held it in BUBBLE, \
              32-bit wrapping. Back-pressure from the bus is not counted.",
    },
    Register {
        name: "PERF_WINDOWS",
        addr: throttle::PERF_WINDOWS,
        access: Access::ReadOnly,
        reset: 0,
        fields: &throttle::field::PERF_WINDOWS,
        doc: "Windows completed (window ends), 32-bit wrapping.",
    },
];

/// The arbiter's register file, in address order.
pub const ARBITER_REGISTERS: &[Register] = &[
    Register {
        name: "POLICY",
        addr: arbiter::POLICY,
        access: Access::ReadWrite,
        reset: 0,
        fields: &arbiter::field::POLICY,
        doc: "Arbitration policy: 0 = round-robin (the pointer moves past the granted port), \
              1 = fixed priority (lowest index first). Other values are refused.",
    },
    Register {
        name: "CTRL",
        addr: arbiter::CTRL,
        access: Access::WriteOnly,
        reset: 0,
        fields: &arbiter::field::CTRL,
        doc: "Command bits, write-only: bit 0 clears the sticky CFG_ERROR, bit 1 clears the \
              performance counters. Bits 15:2 must be 0.",
    },
    Register {
        name: "STATUS",
        addr: arbiter::STATUS,
        access: Access::ReadOnly,
        reset: 0,
        fields: &arbiter::field::STATUS,
        doc: "Bits 3:0 round-robin pointer (the port with the highest priority next), bit 4 \
              locked (a presented request is waiting for the memory), bits 8:5 the locked \
              requester id, bit 9 CFG_ERROR (sticky).",
    },
    Register {
        name: "PERF_GRANTS",
        addr: arbiter::PERF_GRANTS,
        access: Access::ReadOnly,
        reset: 0,
        fields: &arbiter::field::PERF_GRANTS,
        doc: "Requests granted to the memory port, 32-bit wrapping.",
    },
    Register {
        name: "PERF_STALL",
        addr: arbiter::PERF_STALL,
        access: Access::ReadOnly,
        reset: 0,
        fields: &arbiter::field::PERF_STALL,
        doc: "Cycles a request was presented to the memory port but not accepted, 32-bit wrapping.",
    },
];

/// Compile-time checks of a register file: addresses dense from 0 and within `cfg_addr`; every
/// field non-empty and inside the read bus (readable) and the write bus (writable); no two
/// fields of a register overlap; the reset value fits the fields and is valid; a writable
/// field's valid values lie inside its width and reach its top (the RTL checks the upper
/// bound through the width); a configuration (read-write) register has exactly one field.
const fn check_register_file(regs: &[Register]) {
    assert!(
        regs.len() <= 1 << CFG_ADDR_BITS,
        "more registers than cfg_addr reaches"
    );
    let mut i = 0;
    while i < regs.len() {
        let r = &regs[i];
        assert!(r.addr as usize == i, "addresses must be dense, in order");
        assert!(!r.fields.is_empty(), "a register without fields");
        let mut seen = 0u64;
        let mut j = 0;
        while j < r.fields.len() {
            let f = &r.fields[j];
            let top = f.lsb as usize + f.width as usize;
            assert!(f.width >= 1, "an empty field");
            assert!(
                !r.access.readable() || top <= CFG_RDATA_BITS,
                "field beyond cfg_rdata"
            );
            assert!(
                !r.access.writable() || top <= CFG_WDATA_BITS,
                "field beyond cfg_wdata"
            );
            let m = ((1u64 << f.width) - 1) << f.lsb;
            assert!(seen & m == 0, "overlapping fields");
            seen |= m;
            if r.access.writable() {
                let (lo, hi) = match f.valid {
                    Valid::Any => (0, f.max()),
                    Valid::Range { min, max } | Valid::OffOr { min, max, .. } => (min, max),
                };
                assert!(
                    lo <= hi && hi == f.max(),
                    "valid range must end at the field's top"
                );
                if let Valid::OffOr { off, .. } = f.valid {
                    assert!(off < lo, "the off value lies below the range");
                }
                assert!(
                    f.valid.contains(f.extract(r.reset), f.width),
                    "invalid reset value"
                );
            }
            j += 1;
        }
        assert!(r.reset & !r.mask() == 0, "reset value outside the fields");
        assert!(
            !matches!(r.access, Access::ReadWrite) || r.fields.len() == 1,
            "one field per RW register"
        );
        i += 1;
    }
}

const _: () = check_register_file(THROTTLE_REGISTERS);
const _: () = check_register_file(ARBITER_REGISTERS);
// `ThrottleConfig` holds exactly the throttle's configuration registers, as u16.
const _: () = {
    assert!(THROTTLE_REGISTERS[throttle::WINDOW as usize].field().width as usize <= 16);
    assert!(THROTTLE_REGISTERS[throttle::TARGET as usize].field().width as usize <= 16);
    assert!(THROTTLE_REGISTERS[throttle::BURST as usize].field().width as usize <= 16);
};

/// Check the throttle's configuration registers in address order, each against its field's
/// valid values and then every [`Relation`] that constrains it (with the registers before it).
/// `value` gives a register's value given the ones checked so far (or its own error, e.g. a
/// value wider than the register). The one copy of the rule "which configuration is valid".
pub(crate) fn check_throttle(
    mut value: impl FnMut(&Register, &ThrottleConfig) -> Result<u16, ConfigError>,
) -> Result<ThrottleConfig, ConfigError> {
    let mut cfg = ThrottleConfig::OFF;
    for r in throttle::config_registers() {
        let v = value(r, &cfg)?;
        let f = r.field();
        cfg = cfg.with_value(r.addr, v);
        let ok = f.valid.contains(u32::from(v), f.width)
            && throttle::RELATIONS
                .iter()
                .filter(|rel| rel.register() == r.addr)
                .all(|rel| rel.holds(|a| u32::from(cfg.get(a).unwrap_or(0))));
        if !ok {
            return Err(ConfigError::OutOfRange {
                register: r.name,
                value: i64::from(v),
                allowed: f.allowed,
            });
        }
    }
    Ok(cfg)
}

/// Whether a throttle configuration is valid: every configuration register within its field's
/// valid values, every [`throttle::RELATIONS`] rule holding. The golden throttle (through
/// [`throttle_write_ok`]), [`ThrottleConfig::new`] and the runtime call this; the RTL's write
/// decode and the formal properties are generated from the same table and checked against it.
pub fn validate(cfg: &ThrottleConfig) -> Result<(), ConfigError> {
    check_throttle(|r, _| Ok(cfg.get(r.addr).unwrap_or(0))).map(|_| ())
}

/// Whether the throttle accepts a write of `wdata` to `addr` while its configuration is `cfg`:
/// the address is mapped and writable, no reserved bit is set, and the configuration after the
/// write is [`validate`]d.
pub fn throttle_write_ok(cfg: &ThrottleConfig, addr: u8, wdata: u16) -> bool {
    let Some(r) = throttle::register(addr) else {
        return false;
    };
    r.access.writable()
        && wdata & r.reserved() == 0
        && cfg
            .with_write(addr, wdata)
            .is_none_or(|next| validate(&next).is_ok())
}

/// Whether the arbiter accepts a write of `wdata` to `addr`: the address is mapped and
/// writable, no reserved bit is set, and every field's value is valid (the arbiter has no
/// [`Relation`]s). The golden arbiter calls this; the RTL's write decode is generated from the
/// same table.
pub fn arbiter_write_ok(addr: u8, wdata: u16) -> bool {
    let Some(r) = arbiter::register(addr) else {
        return false;
    };
    r.access.writable()
        && wdata & r.reserved() == 0
        && r.fields
            .iter()
            .all(|f| f.valid.contains(f.extract(u32::from(wdata)), f.width))
}

/// A block whose registers are described here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterBlock {
    /// The MoCA memory throttle.
    Throttle,
    /// The shared-bus arbiter.
    Arbiter,
}

impl RegisterBlock {
    /// Every block with a register file.
    pub const ALL: [RegisterBlock; 2] = [RegisterBlock::Throttle, RegisterBlock::Arbiter];

    /// The block's registers in address order.
    pub fn registers(self) -> &'static [Register] {
        match self {
            RegisterBlock::Throttle => THROTTLE_REGISTERS,
            RegisterBlock::Arbiter => ARBITER_REGISTERS,
        }
    }

    /// The block's rules between registers.
    pub fn relations(self) -> &'static [Relation] {
        match self {
            RegisterBlock::Throttle => throttle::RELATIONS,
            RegisterBlock::Arbiter => &[],
        }
    }

    /// Human name of the block.
    pub fn name(self) -> &'static str {
        match self {
            RegisterBlock::Throttle => "MemThrottle",
            RegisterBlock::Arbiter => "BusArbiter",
        }
    }

    /// Look a register up by name (case-insensitive).
    pub fn register(self, name: &str) -> Option<&'static Register> {
        self.registers()
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
    }

    /// What the block's `cfg_rdata` returns for `addr`: the register's fields, with the raw
    /// values `value(field)`, placed as the table says (0 for write-only and unmapped
    /// addresses).
    pub fn read(self, addr: u8, value: impl FnMut(&Field) -> u32) -> u32 {
        match self.registers().iter().find(|r| r.addr == addr) {
            Some(r) if r.access.readable() => r.compose(value),
            _ => 0,
        }
    }
}

fn bits(f: &Field) -> String {
    if f.width == 1 {
        f.lsb.to_string()
    } else {
        format!("{}:{}", f.lsb + f.width - 1, f.lsb)
    }
}

/// The register and field tables of every block, with `heading` (`#` marks) before each
/// block's name.
fn register_tables(heading: &str) -> String {
    let mut s = String::new();
    for block in RegisterBlock::ALL {
        s.push_str(&format!("{heading} {}\n\n", block.name()));
        s.push_str("| addr | name | access | width | reset | description |\n");
        s.push_str("|---:|---|:---:|---:|---:|---|\n");
        for r in block.registers() {
            let width = if r.signed() {
                format!("{} (signed)", r.width())
            } else {
                r.width().to_string()
            };
            s.push_str(&format!(
                "| 0x{:X} | `{}` | {} | {} | {} | {} |\n",
                r.addr, r.name, r.access, width, r.reset, r.doc
            ));
        }
        s.push_str("\nFields (a write to a writable register must keep every other bit 0):\n\n");
        s.push_str("| register | field | bits | meaning | values |\n");
        s.push_str("|---|---|---:|---|---|\n");
        for r in block.registers() {
            for f in r.fields {
                s.push_str(&format!(
                    "| `{}` | `{}` | {} | {} | {} |\n",
                    r.name,
                    f.name,
                    bits(f),
                    f.doc,
                    if f.allowed.is_empty() {
                        "any"
                    } else {
                        f.allowed
                    }
                ));
            }
        }
        s.push('\n');
    }
    s
}

/// Render the register map as Markdown (the content of `docs/REGISTERS.md`).
pub fn registers_markdown() -> String {
    let mut s = String::new();
    s.push_str("# moca register map\n\n");
    s.push_str(
        "Generated from `golden/src/regs.rs` by `moca regs --markdown`; do not edit by hand \
         (a test fails when this file is stale).\n\n",
    );
    s.push_str(&format!(
        "Every block has a configuration port: `cfg_we`, `cfg_addr[{}:0]` (word address), \
         `cfg_wdata[{}:0]` and a combinational `cfg_rdata[{}:0]`. Signed registers are \
         sign-extended on read. A refused write has no effect except setting the sticky \
         CFG_ERROR bit. Only the host/runtime drives these ports; a tile's DMA port cannot \
         reach them.\n\n",
        CFG_ADDR_BITS - 1,
        CFG_WDATA_BITS - 1,
        CFG_RDATA_BITS - 1
    ));
    s.push_str(&register_tables("##"));
    s
}

/// First line of the README's generated register section.
pub const README_BEGIN: &str = "<!-- registers: generated by `moca regs --readme`; do not edit -->";
/// Last line of the README's generated register section.
pub const README_END: &str = "<!-- registers: end -->";

/// The README's register section (between [`README_BEGIN`] and [`README_END`], both included).
pub fn registers_readme() -> String {
    format!("{README_BEGIN}\n\n{}{README_END}\n", register_tables("###"))
}

/// The one register test, shared by the golden blocks' per-register tests
/// (`golden::throttle`, `golden::arbiter`): reset value, width (the read word holds only the
/// register's fields, sign-extended if signed), access (a write to a read-only register or a
/// reserved bit is refused and changes nothing but `CFG_ERROR`; write-only registers read 0)
/// and valid values (a write the table's rule refuses sets `CFG_ERROR` and leaves the
/// register; one it accepts lands).
#[cfg(test)]
pub(crate) mod testing {
    use super::{Access, RegisterBlock, Valid};
    use crate::spec::CFG_ADDR_BITS;
    use std::fmt::Debug;

    /// A golden block under the register tests.
    pub(crate) trait RegisterModel: Clone + PartialEq + Debug {
        /// Its register table.
        const BLOCK: RegisterBlock;
        /// The word read at `addr`.
        fn read(&self, addr: u8) -> u32;
        /// One cycle with no traffic and a configuration write.
        fn write(&mut self, addr: u8, wdata: u16);
        /// One cycle with no traffic and no configuration access.
        fn idle(&mut self);
        /// The sticky `CFG_ERROR` bit of the state.
        fn cfg_error(&mut self) -> &mut bool;
        /// The same block after one idle cycle, with `CFG_ERROR` set: what a refused write
        /// leaves.
        fn refused(&self) -> Self {
            let mut u = self.clone();
            u.idle();
            *u.cfg_error() = true;
            u
        }
        /// The table's rule, computed independently of the model's write path: is a write of
        /// `wdata` to the read-write register `addr` valid in this state?
        fn valid_write(&self, addr: u8, wdata: u16) -> bool;
        /// `after` is this block after an accepted write of `wdata` to `addr`: check what
        /// else the block says about it (`what` names the case).
        fn check_accepted(&self, after: &Self, addr: u8, wdata: u16, what: &str);
    }

    /// The test of register `name`: its reset value in each of `resets`, then width, access
    /// and valid values in each of `states`.
    pub(crate) fn check_register<M: RegisterModel>(name: &str, resets: &[M], states: &[M]) {
        let r = M::BLOCK
            .registers()
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{name} is not in the register table"));
        for m in resets {
            assert_eq!(m.read(r.addr), r.reset, "{name}: reset value");
        }
        let width = u32::from(r.width());
        for t in states {
            // Width: only the fields' bits (and a sign extension) are ever read.
            let v = t.read(r.addr);
            if r.access.readable() {
                let top = if width < 32 { v >> width } else { 0 };
                let extended = r.signed() && v >> (width - 1) == u32::MAX >> (width - 1);
                assert!(
                    top == 0 || extended,
                    "{name}: {v:#x} wider than {width} bits"
                );
                assert!(
                    extended || v & !r.mask() == 0,
                    "{name}: {v:#x} outside its fields"
                );
            } else {
                assert_eq!(v, 0, "{name}: a write-only register reads 0");
            }
            match r.access {
                Access::ReadOnly => {
                    for wdata in [0, 1, 0xFFFF] {
                        let mut u = t.clone();
                        u.write(r.addr, wdata);
                        assert_eq!(u, t.refused(), "{name}: a write is refused");
                    }
                }
                Access::WriteOnly | Access::ReadWrite => {
                    // A reserved bit is refused, whatever the rest.
                    for bit in (0..16).filter(|b| r.reserved() >> b & 1 == 1) {
                        let mut u = t.clone();
                        u.write(r.addr, 1 << bit);
                        assert_eq!(u, t.refused(), "{name}: reserved bit {bit}");
                    }
                }
            }
            match r.access {
                Access::WriteOnly => {
                    // Every command bit alone is accepted.
                    for f in r.fields {
                        let mut u = t.clone();
                        *u.cfg_error() = false;
                        u.write(r.addr, f.wmask());
                        assert!(!*u.cfg_error(), "{name}.{}", f.name);
                        assert_eq!(u.read(r.addr), 0, "{name}: reads 0 after a write");
                    }
                }
                Access::ReadWrite => {
                    // Valid values as the table says, at the edges of every range.
                    let f = r.field();
                    let mut values = vec![0, 1, f.max() - 1, f.max()];
                    if let Valid::Range { min, max } | Valid::OffOr { min, max, .. } = f.valid {
                        values.extend([min.saturating_sub(1), min, min + 1, max]);
                    }
                    for v in values {
                        let wdata = v as u16;
                        let mut u = t.clone();
                        u.write(r.addr, wdata);
                        if t.valid_write(r.addr, wdata) {
                            t.check_accepted(&u, r.addr, wdata, &format!("{name}={v}"));
                            assert_eq!(u.read(r.addr), f.insert(0, v), "{name}={v} read back");
                        } else {
                            assert_eq!(u, t.refused(), "{name}={v} accepted");
                        }
                    }
                }
                Access::ReadOnly => {}
            }
        }
    }

    /// Every address past the table reads 0, and a write to it is refused, in each of
    /// `states`.
    pub(crate) fn check_unmapped<M: RegisterModel>(states: &[M]) {
        for t in states {
            for addr in M::BLOCK.registers().len() as u8..1 << CFG_ADDR_BITS {
                assert_eq!(t.read(addr), 0);
                let mut u = t.clone();
                u.write(addr, 0);
                assert_eq!(u, t.refused(), "address {addr:#x}");
            }
        }
    }

    /// One `#[test]` per register (`test_name: "REGISTER"`), each calling `check(name)` in the
    /// invoking module, and `every_register_has_a_test` comparing the list with the table of
    /// the `RegisterModel` type given first.
    macro_rules! register_tests {
        ($model:ty; $($test:ident: $name:literal),* $(,)?) => {
            $(
                #[test]
                fn $test() {
                    check($name);
                }
            )*

            #[test]
            fn every_register_has_a_test() {
                use $crate::regs::testing::RegisterModel;
                let table: Vec<&str> =
                    <$model>::BLOCK.registers().iter().map(|r| r.name).collect();
                assert_eq!(
                    [$($name),*].as_slice(),
                    table,
                    "add a register_tests! line for every register"
                );
            }
        };
    }
    pub(crate) use register_tests;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_unique_dense_and_fit_the_port() {
        for block in RegisterBlock::ALL {
            let regs = block.registers();
            for (i, r) in regs.iter().enumerate() {
                assert_eq!(
                    r.addr as usize,
                    i,
                    "{} {} out of order",
                    block.name(),
                    r.name
                );
                assert!((r.addr as usize) < (1 << CFG_ADDR_BITS));
                assert!((r.width() as usize) <= CFG_RDATA_BITS);
            }
        }
    }

    #[test]
    fn register_lookup_is_case_insensitive() {
        let r = RegisterBlock::Throttle.register("window").unwrap();
        assert_eq!(r.addr, throttle::WINDOW);
        assert!(RegisterBlock::Arbiter.register("WINDOW").is_none());
    }

    #[test]
    fn field_helpers_extract_and_insert() {
        let f = arbiter::field::LOCK_ID;
        assert_eq!(f.mask(), 0x1E0);
        assert_eq!(f.extract(0x3FF), 0xF);
        assert_eq!(f.insert(0, 0x1F), 0x1E0, "truncated to the width");
        assert_eq!(f.insert(0x3FF, 0), 0x21F);
        assert_eq!(throttle::CTRL_BITS, 0b111);
        let credit = &THROTTLE_REGISTERS[throttle::CREDIT as usize];
        assert!(credit.signed() && credit.width() == 18);
        assert_eq!(credit.compose(|_| (-3i32) as u32), (-3i32) as u32);
        assert_eq!(credit.compose(|_| 5), 5);
    }

    /// The words of `allowed` follow from `valid` and the relations, so a change of a range
    /// in the table cannot leave the error messages behind.
    #[test]
    fn allowed_texts_match_the_valid_values() {
        for block in RegisterBlock::ALL {
            for r in block
                .registers()
                .iter()
                .filter(|r| r.access == Access::ReadWrite)
            {
                let f = r.field();
                let rel_min = block
                    .relations()
                    .iter()
                    .find(|rel| rel.register() == r.addr);
                let text = match (f.valid, rel_min) {
                    (
                        Valid::Range { max, .. },
                        Some(&Relation::AtLeastWhileOn { min, switch, .. }),
                    ) => format!(
                        "{min}..={max} while {} != 0",
                        block.registers()[usize::from(switch)].name
                    ),
                    (Valid::Range { min, max }, None) => format!("{min}..={max}"),
                    (Valid::OffOr { off, min, max }, None) => {
                        format!("{off} (off) or {min}..={max}")
                    }
                    other => panic!("{}: no wording for {other:?}", r.name),
                };
                assert_eq!(f.allowed, text, "{} {}", block.name(), r.name);
            }
        }
    }

    #[test]
    fn validate_is_the_documented_rule() {
        let c = |window, target, burst| ThrottleConfig {
            window,
            target,
            burst,
        };
        assert!(validate(&c(0, 0, 0)).is_ok());
        assert!(validate(&c(2, 1, 0)).is_ok());
        assert!(validate(&c(65535, 65535, 65535)).is_ok());
        assert_eq!(
            validate(&c(1, 5, 5)).unwrap_err().to_string(),
            "WINDOW=1 is out of range: allowed 0 (off) or 2..=65535"
        );
        assert_eq!(
            validate(&c(10, 0, 5)).unwrap_err().to_string(),
            "TARGET=0 is out of range: allowed 1..=65535 while WINDOW != 0"
        );
        // Writes: read-only, unmapped and reserved bits are refused; the rest follow validate.
        let on = c(10, 4, 4);
        assert!(throttle_write_ok(&on, throttle::BURST, 0));
        assert!(!throttle_write_ok(&on, throttle::TARGET, 0));
        assert!(throttle_write_ok(&c(0, 0, 0), throttle::TARGET, 0));
        assert!(!throttle_write_ok(&c(0, 0, 0), throttle::WINDOW, 5));
        assert!(!throttle_write_ok(&on, throttle::WINDOW, 1));
        assert!(throttle_write_ok(&on, throttle::CTRL, throttle::CTRL_BITS));
        assert!(!throttle_write_ok(&on, throttle::CTRL, 8));
        assert!(!throttle_write_ok(&on, throttle::WC, 0));
        assert!(!throttle_write_ok(&on, 0xF, 0));
        // The arbiter: POLICY 0..=1, CTRL's two command bits, nothing else.
        assert!(arbiter_write_ok(arbiter::POLICY, 0));
        assert!(arbiter_write_ok(arbiter::POLICY, 1));
        assert!(!arbiter_write_ok(arbiter::POLICY, 2));
        assert!(arbiter_write_ok(arbiter::CTRL, 0b11));
        assert!(!arbiter_write_ok(arbiter::CTRL, 0b100));
        assert!(!arbiter_write_ok(arbiter::STATUS, 0));
        assert!(!arbiter_write_ok(arbiter::PERF_STALL, 0));
        assert!(!arbiter_write_ok(0xF, 0));
    }
}

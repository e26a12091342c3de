//! `RegFile` RTL: a block's configuration read multiplexer and write check, built from its
//! register table.
//!
//! The read multiplexer and the write decode are built by looping over a register table
//! (`golden::spec::RegisterBlock`: addresses, field positions and widths, sign extension,
//! reserved bits, valid ranges and relations), so a field or a range changed in the table
//! changes the RTL. The throttle and the arbiter each instantiate one; what the table cannot
//! know is which signal holds a field's value, so the parent binds `val` (one input per
//! readable field, in table order, see [`readable_fields`]) and, per relation, `rel_on` and
//! `rel_cur`. Which writes are valid is decided only here (`write_ok`); the golden twin of
//! the rule is `golden::spec::throttle_write_ok` / `arbiter_write_ok`.

use golden::spec::{self, Access, Field, Register, RegisterBlock, Relation};
use rust_hdl::prelude::*;

use crate::arbiter::signals;

/// Address type.
type Addr = Bits<{ spec::CFG_ADDR_BITS }>;
/// Read-data type.
type Word = Bits<{ spec::CFG_RDATA_BITS }>;
/// Write-data type.
type WData = Bits<{ spec::CFG_WDATA_BITS }>;

/// Every readable field of the register file `regs`, in table order, with its register: the
/// order of [`RegFile::val`].
pub fn readable_fields(regs: &'static [Register]) -> Vec<(&'static Register, &'static Field)> {
    regs.iter()
        .filter(|r| r.access.readable())
        .flat_map(|r| r.fields.iter().map(move |f| (r, f)))
        .collect()
}

/// The register file of one block (combinational).
#[derive(LogicBlock)]
pub struct RegFile {
    /// Per readable field, in table order: the field's raw value (zero-extended).
    pub val: Vec<Signal<In, Word>>,
    /// Per relation `register >= min while switch != 0`: the switch is on.
    pub rel_on: Vec<Signal<In, Bit>>,
    /// Per relation: the constrained register's current value.
    pub rel_cur: Vec<Signal<In, WData>>,
    /// Configuration address (read and write).
    pub cfg_addr: Signal<In, Addr>,
    /// Configuration write data.
    pub cfg_wdata: Signal<In, WData>,
    /// The addressed register's word (0 for an unmapped or write-only address).
    pub rdata: Signal<Out, Word>,
    /// A write of `cfg_wdata` to `cfg_addr` is valid.
    pub write_ok: Signal<Out, Bit>,
    // Read multiplexer, one entry per readable field: the value placed at its lsb and
    // sign-extended, and the running OR of its register's fields up to it.
    rf_placed: Vec<Signal<Local, Word>>,
    rf_acc: Vec<Signal<Local, Word>>,
    rf_addr: Vec<Constant<Addr>>,
    rf_lsb: Vec<Constant<Word>>,
    rf_sign: Vec<Constant<Word>>,
    rf_ext: Vec<Constant<Word>>,
    /// The field is its register's first (the OR restarts) / last (the word is complete).
    rf_first: Vec<Constant<Bit>>,
    rf_last: Vec<Constant<Bit>>,
    // Write decode, one entry per writable register: its address and reserved bits.
    wr_addr: Vec<Constant<Addr>>,
    wr_reserved: Vec<Constant<WData>>,
    // Per configuration field with a smallest value: below it (and not its off value) is refused.
    lo_addr: Vec<Constant<Addr>>,
    lo_min: Vec<Constant<WData>>,
    lo_off: Vec<Constant<WData>>,
    // Per relation: its addresses and minimum.
    rel_reg: Vec<Constant<Addr>>,
    rel_sw: Vec<Constant<Addr>>,
    rel_min: Vec<Constant<WData>>,
}

impl RegFile {
    /// The register file of `block`, from its table. `bound` names the readable fields whose
    /// values `owner` (the parent's source file) binds to [`RegFile::val`], in table order;
    /// panics, naming the file to change, when the table's readable fields differ.
    pub fn new(block: RegisterBlock, bound: &[&str], owner: &str) -> Self {
        let a = |x: u8| Constant::new(Bits::from(u64::from(x)));
        let r16 = |x: u32| Constant::new(Bits::from(u64::from(x)));
        let word = |x: u64| Constant::new(Bits::from(x & u64::from(u32::MAX)));
        // The sign bit of a signed field in the register word (0 for an unsigned one).
        let sign = |f: &Field| u64::from(f.signed) << (f.lsb + f.width - 1);
        let regs = block.registers();
        let fields = readable_fields(regs);
        let names: Vec<&str> = fields.iter().map(|(_, f)| f.name).collect();
        assert_eq!(
            names, bound,
            "the register table's readable fields changed: bind their signals (regs.val) in {owner}"
        );
        let writable: Vec<&Register> = regs.iter().filter(|r| r.access.writable()).collect();
        let lower: Vec<&Register> = regs
            .iter()
            .filter(|r| r.access == Access::ReadWrite && r.field().valid.min() > 0)
            .collect();
        let rels = block.relations();
        Self {
            val: signals(fields.len()),
            rel_on: signals(rels.len()),
            rel_cur: signals(rels.len()),
            cfg_addr: Default::default(),
            cfg_wdata: Default::default(),
            rdata: Default::default(),
            write_ok: Default::default(),
            rf_placed: signals(fields.len()),
            rf_acc: signals(fields.len() + 1),
            rf_addr: fields.iter().map(|(r, _)| a(r.addr)).collect(),
            rf_lsb: fields.iter().map(|(_, f)| word(u64::from(f.lsb))).collect(),
            rf_sign: fields.iter().map(|(_, f)| word(sign(f))).collect(),
            rf_ext: fields
                .iter()
                .map(|(_, f)| word(if sign(f) == 0 { 0 } else { !(2 * sign(f) - 1) }))
                .collect(),
            rf_first: fields
                .iter()
                .map(|(r, f)| Constant::new(std::ptr::eq(*f, &r.fields[0])))
                .collect(),
            rf_last: fields
                .iter()
                .map(|(r, f)| Constant::new(std::ptr::eq(*f, r.fields.last().unwrap())))
                .collect(),
            wr_addr: writable.iter().map(|r| a(r.addr)).collect(),
            wr_reserved: writable.iter().map(|r| r16(r.reserved().into())).collect(),
            lo_addr: lower.iter().map(|r| a(r.addr)).collect(),
            lo_min: lower.iter().map(|r| r16(r.field().valid.min())).collect(),
            lo_off: lower
                .iter()
                .map(|r| {
                    let v = r.field().valid;
                    r16(v.off().unwrap_or(v.min()))
                })
                .collect(),
            rel_reg: rels.iter().map(|r| a(r.register())).collect(),
            rel_sw: rels
                .iter()
                .map(|&Relation::AtLeastWhileOn { switch, .. }| a(switch))
                .collect(),
            rel_min: rels
                .iter()
                .map(|&Relation::AtLeastWhileOn { min, .. }| r16(min))
                .collect(),
        }
    }
}

impl Logic for RegFile {
    #[hdl_gen]
    fn update(&mut self) {
        // Which writes are valid, from the register table: a writable address with no
        // reserved bit set, not below the field's smallest value (unless its off value), and
        // every relation `register >= min while switch != 0` kept.
        self.write_ok.next = false;
        for k in 0..self.wr_addr.len() {
            if self.cfg_addr.val() == self.wr_addr[k].val() {
                self.write_ok.next = (self.cfg_wdata.val() & self.wr_reserved[k].val()) == 0;
            }
        }
        for k in 0..self.lo_addr.len() {
            if (self.cfg_addr.val() == self.lo_addr[k].val())
                & (self.cfg_wdata.val() < self.lo_min[k].val())
                & (self.cfg_wdata.val() != self.lo_off[k].val())
            {
                self.write_ok.next = false;
            }
        }
        for k in 0..self.rel_reg.len() {
            if (self.cfg_addr.val() == self.rel_reg[k].val())
                & self.rel_on[k].val()
                & (self.cfg_wdata.val() < self.rel_min[k].val())
            {
                self.write_ok.next = false;
            }
            if (self.cfg_addr.val() == self.rel_sw[k].val())
                & (self.cfg_wdata.val() != 0)
                & (self.rel_cur[k].val() < self.rel_min[k].val())
            {
                self.write_ok.next = false;
            }
        }
        // The read port: every field as the table says, placed at its lsb, sign-extended if
        // signed, and ORed with the fields before it in its register; the addressed
        // register's word is the OR at its last field.
        self.rf_acc[0].next = 0.into();
        self.rdata.next = 0.into();
        for k in 0..self.rf_addr.len() {
            self.rf_placed[k].next = self.val[k].val() << self.rf_lsb[k].val();
            if ((self.val[k].val() << self.rf_lsb[k].val()) & self.rf_sign[k].val()) != 0 {
                self.rf_placed[k].next =
                    (self.val[k].val() << self.rf_lsb[k].val()) | self.rf_ext[k].val();
            }
            self.rf_acc[k + 1].next = self.rf_acc[k].val() | self.rf_placed[k].val();
            if self.rf_first[k].val() {
                self.rf_acc[k + 1].next = self.rf_placed[k].val();
            }
            if (self.cfg_addr.val() == self.rf_addr[k].val()) & self.rf_last[k].val() {
                self.rdata.next = self.rf_acc[k + 1].val();
            }
        }
    }
}

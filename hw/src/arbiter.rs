//! `BusArbiter` RTL: N requesters to one memory port, round-robin or fixed priority.
//!
//! The specification is the golden twin `golden::arbiter`. The number of ports is chosen at
//! run time (1..=16): per-port signals are `Vec`s that Rust-HDL unrolls into `name$k` ports.
//!
//! # Selection: a log-depth picker tree
//! The selection is a complete binary tree over exactly N leaves (heap order, like common_cells'
//! `rr_arb_tree` but without idle padding leaves), so its depth is `ceil(log2 N)` and no carry
//! chain, shifter or priority chain lies between the registers and the memory port. Every
//! request belongs to up to three priority classes, two of them from registered per-port
//! masks:
//!
//! 1. the locked request (`lock_oh`: one-hot of `lock_id` while `locked`, else zero);
//! 2. a request at or after the round-robin pointer (every request under fixed priority;
//!    `behind` marks the ports before the pointer: `!policy & (k < ptr)`);
//! 3. any valid request.
//!
//! Each tree node forwards the OR of each class over its subtree, picks the child with the
//! better class (the lower child on a tie) and muxes the winner's id, next pointer, beats and
//! address one level up: the root carries the selected request. This is exactly the golden
//! `select` (the locked request if it still asks, else the first valid port at or after the
//! pointer cyclically, else none). A top-down pass ANDs the node decisions into the one-hot
//! grant, and a second one marks the ports above the selection, which is the next pointer's
//! thermometer (`behind` after a round-robin grant) without decoding the selected id.
//! `behind` and `lock_oh` are redundant copies of (`policy`, `ptr`) and (`locked`,
//! `lock_id`), updated from the same next-state values; `moca prove` checks that they stay
//! consistent (`picker_masks_consistent`). The cycle behaviour is unchanged: co-simulation
//! against the golden twin, cycle by cycle.
//!
//! Each node's decision reaches the muxes and the grant pass through a kept net
//! ([`KeepBit`], `t_pick`), so synthesis maps the decision once per node instead of merging
//! it, duplicated, into the wide data multiplexers: on ECP5 the 16-port arbiter's Fmax then
//! meets 110 MHz at every placement seed (docs/HARDWARE.md, "Arbiter timing"). The emitted
//! Verilog is proven equivalent to the one without kept nets (yosys `equiv_induct`).
//!
//! # Register file
//! As in `hw::throttle`, the read multiplexer and the write decode are the shared sub-block
//! [`crate::regfile::RegFile`], built by looping over the register table
//! `golden::spec::ARBITER_REGISTERS` (addresses, field positions and widths, sign extension,
//! reserved bits, valid ranges), so a field or a range changed in the table changes the RTL.
//! Which signal holds a field's value is written once, in [`BusArbiter::update`] (`regs.val`,
//! in table order), and [`BusArbiter::new`] checks that it covers the table. Which writes are
//! valid is decided only by the register file's `write_ok`.

use crate::keep::KeepBit;
use crate::regfile::RegFile;
use golden::cfg::{ConfigError, check_ports};
use golden::spec::{self, RegisterBlock, arbiter as reg};
use rust_hdl::prelude::*;

/// Address type.
type Addr = Bits<{ spec::CFG_ADDR_BITS }>;
/// Write-data type.
type WData = Bits<{ spec::CFG_WDATA_BITS }>;

/// The readable fields the RTL binds a signal to, in table order (`regs.val[k]` in `update`).
const BOUND_FIELDS: [&str; 7] = [
    "POLICY",
    "PTR",
    "LOCKED",
    "LOCK_ID",
    "CFG_ERROR",
    "PERF_GRANTS",
    "PERF_STALL",
];

// The bound signals are as wide as their fields (`policy`, `locked` and `cfg_error` are bits).
const _: () = {
    assert!(reg::field::POLICY[0].width == 1);
    assert!(reg::field::PTR.width as usize == spec::PORT_ID_BITS);
    assert!(reg::field::LOCKED.width == 1);
    assert!(reg::field::LOCK_ID.width as usize == spec::PORT_ID_BITS);
    assert!(reg::field::CFG_ERROR.width == 1);
    assert!(reg::field::PERF_GRANTS[0].width as usize == spec::PERF_BITS);
    assert!(reg::field::PERF_STALL[0].width as usize == spec::PERF_BITS);
};

/// Mask type: one bit per possible port.
pub type Mask = Bits<{ spec::MAX_PORTS }>;
/// Requester id type.
pub type PortId = Bits<{ spec::PORT_ID_BITS }>;

/// The arbiter. Ports first; `update()` implements `golden::arbiter::BusArbiter::step`.
#[derive(LogicBlock)]
pub struct BusArbiter {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Per requester: request valid.
    pub req_valid: Vec<Signal<In, Bit>>,
    /// Per requester: beats.
    pub req_beats: Vec<Signal<In, Bits<{ spec::BEATS_BITS }>>>,
    /// Per requester: address.
    pub req_addr: Vec<Signal<In, Bits<{ spec::ADDR_BITS }>>>,
    /// Per requester: ready (the request fires).
    pub req_ready: Vec<Signal<Out, Bit>>,
    /// Per requester: selected this cycle (one-hot or none).
    pub grant: Vec<Signal<Out, Bit>>,
    /// Memory port: valid.
    pub mem_valid: Signal<Out, Bit>,
    /// Memory port: ready.
    pub mem_ready: Signal<In, Bit>,
    /// Memory port: requester id.
    pub mem_id: Signal<Out, PortId>,
    /// Memory port: beats.
    pub mem_beats: Signal<Out, Bits<{ spec::BEATS_BITS }>>,
    /// Memory port: address.
    pub mem_addr: Signal<Out, Bits<{ spec::ADDR_BITS }>>,
    /// Configuration write enable.
    pub cfg_we: Signal<In, Bit>,
    /// Configuration address.
    pub cfg_addr: Signal<In, Bits<{ spec::CFG_ADDR_BITS }>>,
    /// Configuration write data.
    pub cfg_wdata: Signal<In, Bits<{ spec::CFG_WDATA_BITS }>>,
    /// Configuration read data.
    pub cfg_rdata: Signal<Out, Bits<{ spec::CFG_RDATA_BITS }>>,
    /// Status: policy (1 = fixed priority).
    pub st_policy: Signal<Out, Bit>,
    /// Status: round-robin pointer.
    pub st_ptr: Signal<Out, PortId>,
    /// Status: a stalled request is locked.
    pub st_locked: Signal<Out, Bit>,
    /// Status: the locked requester.
    pub st_lock_id: Signal<Out, PortId>,
    /// Status: sticky configuration error.
    pub st_cfg_error: Signal<Out, Bit>,
    /// Perf: grants.
    pub perf_grants: Signal<Out, Bits<{ spec::PERF_BITS }>>,
    /// Perf: stalled cycles.
    pub perf_stall: Signal<Out, Bits<{ spec::PERF_BITS }>>,
    // Registers.
    policy: DFF<Bit>,
    ptr: DFF<PortId>,
    locked: DFF<Bit>,
    lock_id: DFF<PortId>,
    cfg_error: DFF<Bit>,
    grants: DFF<Bits<{ spec::PERF_BITS }>>,
    stalls: DFF<Bits<{ spec::PERF_BITS }>>,
    /// Ports `0..N-1`: out of class 2, `!policy & (k < ptr)` (the port is behind the
    /// pointer; port `N - 1` never is). None when `N = 1`.
    behind: Vec<DFF<Bit>>,
    /// Per port: class 1, `locked & (lock_id == k)`. None when `N = 1`.
    lock_oh: Vec<DFF<Bit>>,
    // Picker tree: a complete binary tree over exactly N leaves in heap order (node `i` has
    // children `2i + 1` and `2i + 2`; internal nodes `0..N-1`, root 0; leaves `N-1..2N-1`).
    // The leaves in left-to-right order are the ports in order: port `k` is leaf `P - 1 + k`
    // for `k < 2N - P` (the deepest level), else `k + P - N - 1`, with `P` = N rounded up to a
    // power of two. `t_lock`/`t_prio` (classes 1 and 2) exist for the non-root nodes only
    // (node `h` at index `h - 1`).
    t_lock: Vec<Signal<Local, Bit>>,
    t_prio: Vec<Signal<Local, Bit>>,
    /// Class 3: some port of the subtree asks.
    t_any: Vec<Signal<Local, Bit>>,
    t_id: Vec<Signal<Local, PortId>>,
    t_next: Vec<Signal<Local, PortId>>,
    t_beats: Vec<Signal<Local, Bits<{ spec::BEATS_BITS }>>>,
    t_addr: Vec<Signal<Local, Bits<{ spec::ADDR_BITS }>>>,
    /// Internal node `i` picks its upper child (`2i + 2`).
    t_upper: Vec<Signal<Local, Bit>>,
    /// `t_upper` on a kept net (see [`KeepBit`]): what the muxes and the grant read.
    t_pick: Vec<KeepBit>,
    /// Node on the selected path (top-down).
    t_sel: Vec<Signal<Local, Bit>>,
    /// The selected leaf lies left of this node's subtree (top-down; none when `N = 1`).
    t_left: Vec<Signal<Local, Bit>>,
    /// Ports `0..N-1`: the selected port is below port `k`.
    left_of: Vec<Signal<Local, Bit>>,
    /// The selected port is below port `N - 1` (one signal; none when `N = 1`).
    left_of_last: Vec<Signal<Local, Bit>>,
    /// A round-robin grant moves the pointer.
    fire_rr: Signal<Local, Bit>,
    // Combinational intermediates.
    any: Signal<Local, Bit>,
    fire: Signal<Local, Bit>,
    sel: Signal<Local, PortId>,
    sel_next: Signal<Local, PortId>,
    policy_next: Signal<Local, Bit>,
    write_ok: Signal<Local, Bit>,
    // Constants.
    port_id: Vec<Constant<PortId>>,
    next_id: Vec<Constant<PortId>>,
    /// The register file: read multiplexer and write check, from the table.
    regs: RegFile,
    // Addresses, `POLICY` value and `CTRL` bits the datapath acts on, from the table.
    a_policy: Constant<Addr>,
    a_ctrl: Constant<Addr>,
    v_fixed: Constant<WData>,
    c_clear_error: Constant<WData>,
    c_clear_perf: Constant<WData>,
}

/// `n` default signals (one per port, node, field...).
pub(crate) fn signals<D: Direction, T: Synth>(n: usize) -> Vec<Signal<D, T>> {
    (0..n).map(|_| Signal::default()).collect()
}

impl BusArbiter {
    /// An arbiter with `ports` requesters (1..=16).
    pub fn new(ports: usize) -> Result<Self, ConfigError> {
        let n = check_ports(ports as i64)?;
        let a = |x: u8| Constant::new(Bits::from(u64::from(x)));
        let r16 = |x: u32| Constant::new(Bits::from(u64::from(x)));
        assert!(
            RegisterBlock::Arbiter.relations().is_empty(),
            "hw/src/arbiter.rs binds no relation between registers; bind it in update()"
        );
        let nodes = 2 * n - 1;
        Ok(Self {
            clock: Default::default(),
            req_valid: signals(n),
            req_beats: signals(n),
            req_addr: signals(n),
            req_ready: signals(n),
            grant: signals(n),
            mem_valid: Default::default(),
            mem_ready: Default::default(),
            mem_id: Default::default(),
            mem_beats: Default::default(),
            mem_addr: Default::default(),
            cfg_we: Default::default(),
            cfg_addr: Default::default(),
            cfg_wdata: Default::default(),
            cfg_rdata: Default::default(),
            st_policy: Default::default(),
            st_ptr: Default::default(),
            st_locked: Default::default(),
            st_lock_id: Default::default(),
            st_cfg_error: Default::default(),
            perf_grants: Default::default(),
            perf_stall: Default::default(),
            policy: Default::default(),
            ptr: Default::default(),
            locked: Default::default(),
            lock_id: Default::default(),
            cfg_error: Default::default(),
            grants: Default::default(),
            stalls: Default::default(),
            behind: (0..n - 1).map(|_| Default::default()).collect(),
            lock_oh: (0..if n > 1 { n } else { 0 })
                .map(|_| Default::default())
                .collect(),
            t_lock: signals(nodes - 1),
            t_prio: signals(nodes - 1),
            t_any: signals(nodes),
            t_id: signals(nodes),
            t_next: signals(nodes),
            t_beats: signals(nodes),
            t_addr: signals(nodes),
            t_upper: signals(n - 1),
            t_pick: (0..n - 1).map(|_| KeepBit::default()).collect(),
            t_sel: signals(nodes),
            t_left: signals(if n > 1 { nodes } else { 0 }),
            left_of: signals(n - 1),
            left_of_last: signals(usize::from(n > 1)),
            fire_rr: Default::default(),
            any: Default::default(),
            fire: Default::default(),
            sel: Default::default(),
            sel_next: Default::default(),
            policy_next: Default::default(),
            write_ok: Default::default(),
            port_id: (0..n)
                .map(|k| Constant::new(Bits::from(k as u64)))
                .collect(),
            next_id: (0..n)
                .map(|k| Constant::new(Bits::from(((k + 1) % n) as u64)))
                .collect(),
            regs: RegFile::new(RegisterBlock::Arbiter, &BOUND_FIELDS, "hw/src/arbiter.rs"),
            a_policy: a(reg::POLICY),
            a_ctrl: a(reg::CTRL),
            v_fixed: r16(reg::POLICY_FIXED.into()),
            c_clear_error: r16(reg::CTRL_CLEAR_ERROR.into()),
            c_clear_perf: r16(reg::CTRL_CLEAR_PERF.into()),
        })
    }

    /// Number of requesters.
    pub fn ports(&self) -> usize {
        self.req_valid.len()
    }

    /// `P`: the number of ports rounded up to a power of two.
    fn pow2(&self) -> usize {
        self.ports().next_power_of_two()
    }

    /// Ports on the deepest level of the picker tree (`2N - P`).
    fn deep(&self) -> usize {
        2 * self.ports() - self.pow2()
    }

    // Loop bounds (Rust-HDL takes a range's ends as plain expressions).
    fn ports_end(&self) -> usize {
        self.ports() + 1
    }

    fn pow2_end(&self) -> usize {
        self.pow2() + 1
    }

    fn deep_locks(&self) -> usize {
        self.lock_oh.len().min(self.deep())
    }

    fn deep_behind(&self) -> usize {
        self.behind.len().min(self.deep())
    }

    fn last_split(&self) -> usize {
        self.behind.len().max(self.deep_locks())
    }

    /// 1 when the picker has internal nodes (`N > 1`), else 0.
    fn has_tree(&self) -> usize {
        usize::from(self.ports() > 1)
    }

    /// Internal nodes other than the root.
    fn inner(&self) -> usize {
        self.ports().saturating_sub(2)
    }
}

impl Logic for BusArbiter {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, policy, ptr, locked, lock_id, cfg_error, grants, stalls
        );
        for k in 0..self.behind.len() {
            self.behind[k].clock.next = self.clock.val();
        }
        for k in 0..self.lock_oh.len() {
            self.lock_oh[k].clock.next = self.clock.val();
        }
        // One-iteration loops bind N (`n`) and P (`p`) for the index expressions.
        for n in self.ports()..self.ports_end() {
            for p in self.pow2()..self.pow2_end() {
                // Leaves: what port k asks for and would present.
                for k in 0..self.deep() {
                    self.t_any[k + p - 1].next = self.req_valid[k].val();
                    self.t_id[k + p - 1].next = self.port_id[k].val();
                    self.t_next[k + p - 1].next = self.next_id[k].val();
                    self.t_beats[k + p - 1].next = self.req_beats[k].val();
                    self.t_addr[k + p - 1].next = self.req_addr[k].val();
                }
                for k in self.deep()..self.ports() {
                    self.t_any[k + p - n - 1].next = self.req_valid[k].val();
                    self.t_id[k + p - n - 1].next = self.port_id[k].val();
                    self.t_next[k + p - n - 1].next = self.next_id[k].val();
                    self.t_beats[k + p - n - 1].next = self.req_beats[k].val();
                    self.t_addr[k + p - n - 1].next = self.req_addr[k].val();
                }
                // The leaves' classes 1 (locked) and 2 (not behind the pointer).
                for k in 0..self.deep_locks() {
                    self.t_lock[k + p - 2].next = self.req_valid[k].val() & self.lock_oh[k].q.val();
                }
                for k in self.deep_locks()..self.lock_oh.len() {
                    self.t_lock[k + p - n - 2].next =
                        self.req_valid[k].val() & self.lock_oh[k].q.val();
                }
                for k in 0..self.deep_behind() {
                    self.t_prio[k + p - 2].next = self.req_valid[k].val() & !self.behind[k].q.val();
                }
                for k in self.deep_behind()..self.behind.len() {
                    self.t_prio[k + p - n - 2].next =
                        self.req_valid[k].val() & !self.behind[k].q.val();
                }
                // Port N - 1 is never behind the pointer (it is on the deepest level when N
                // is a power of two).
                for k in self.behind.len()..self.last_split() {
                    self.t_prio[k + p - 2].next = self.req_valid[k].val();
                }
                for k in self.last_split()..self.lock_oh.len() {
                    self.t_prio[k + p - n - 2].next = self.req_valid[k].val();
                }
                // Bottom-up. Classes of the non-root internal nodes i = n - 2 - j (children
                // 2i + 1 and 2i + 2, at class indices 2i and 2i + 1).
                for j in 0..self.inner() {
                    self.t_lock[n - 3 - j].next =
                        self.t_lock[2 * n - 4 - 2 * j].val() | self.t_lock[2 * n - 3 - 2 * j].val();
                    self.t_prio[n - 3 - j].next =
                        self.t_prio[2 * n - 4 - 2 * j].val() | self.t_prio[2 * n - 3 - 2 * j].val();
                }
                // Every internal node i = n - 2 - j: pick the child with the better class (the
                // lower one on a tie) and forward its request.
                for j in 0..self.t_upper.len() {
                    self.t_upper[n - 2 - j].next = self.t_lock[2 * n - 3 - 2 * j].val()
                        | (!self.t_lock[2 * n - 4 - 2 * j].val()
                            & !self.t_prio[2 * n - 4 - 2 * j].val()
                            & (self.t_prio[2 * n - 3 - 2 * j].val()
                                | !self.t_any[2 * n - 3 - 2 * j].val()));
                    self.t_any[n - 2 - j].next =
                        self.t_any[2 * n - 3 - 2 * j].val() | self.t_any[2 * n - 2 - 2 * j].val();
                    self.t_id[n - 2 - j].next = self.t_id[2 * n - 3 - 2 * j].val();
                    self.t_next[n - 2 - j].next = self.t_next[2 * n - 3 - 2 * j].val();
                    self.t_beats[n - 2 - j].next = self.t_beats[2 * n - 3 - 2 * j].val();
                    self.t_addr[n - 2 - j].next = self.t_addr[2 * n - 3 - 2 * j].val();
                    self.t_pick[n - 2 - j].d.next = self.t_upper[n - 2 - j].val();
                    if self.t_pick[n - 2 - j].q.val() {
                        self.t_id[n - 2 - j].next = self.t_id[2 * n - 2 - 2 * j].val();
                        self.t_next[n - 2 - j].next = self.t_next[2 * n - 2 - 2 * j].val();
                        self.t_beats[n - 2 - j].next = self.t_beats[2 * n - 2 - 2 * j].val();
                        self.t_addr[n - 2 - j].next = self.t_addr[2 * n - 2 - 2 * j].val();
                    }
                }
                // Top-down: each internal node passes the selection to the child it picked.
                self.t_sel[0].next = self.t_any[0].val();
                for i in 0..self.t_upper.len() {
                    self.t_sel[2 * i + 1].next = self.t_sel[i].val() & !self.t_pick[i].q.val();
                    self.t_sel[2 * i + 2].next = self.t_sel[i].val() & self.t_pick[i].q.val();
                }
                for k in 0..self.deep() {
                    self.grant[k].next = self.t_sel[k + p - 1].val();
                }
                for k in self.deep()..self.ports() {
                    self.grant[k].next = self.t_sel[k + p - n - 1].val();
                }
                // Top-down: is the selected leaf left of the node? (The next pointer's
                // thermometer, without decoding the selected id.)
                for _r in 0..self.has_tree() {
                    self.t_left[0].next = false;
                }
                for i in 0..self.t_upper.len() {
                    self.t_left[2 * i + 1].next = self.t_left[i].val();
                    self.t_left[2 * i + 2].next =
                        self.t_left[i].val() | self.t_sel[2 * i + 1].val();
                }
                for k in 0..self.deep_behind() {
                    self.left_of[k].next = self.t_left[k + p - 1].val();
                }
                for k in self.deep_behind()..self.behind.len() {
                    self.left_of[k].next = self.t_left[k + p - n - 1].val();
                }
                for k in self.behind.len()..self.last_split() {
                    self.left_of_last[0].next = self.t_left[k + p - 1].val();
                }
                for k in self.last_split()..self.lock_oh.len() {
                    self.left_of_last[0].next = self.t_left[k + p - n - 1].val();
                }
            }
        }
        // The root: the selected request (none when no port asks).
        self.any.next = self.t_any[0].val();
        self.sel.next = 0.into();
        self.sel_next.next = 0.into();
        self.mem_beats.next = 0.into();
        self.mem_addr.next = 0.into();
        if self.t_any[0].val() {
            self.sel.next = self.t_id[0].val();
            self.sel_next.next = self.t_next[0].val();
            self.mem_beats.next = self.t_beats[0].val();
            self.mem_addr.next = self.t_addr[0].val();
        }
        self.fire.next = self.any.val() & self.mem_ready.val();
        self.mem_valid.next = self.any.val();
        self.mem_id.next = self.sel.val();
        for k in 0..self.req_valid.len() {
            self.req_ready[k].next = self.grant[k].val() & self.mem_ready.val();
        }
        // A stalled selection is locked for the next cycle.
        for k in 0..self.lock_oh.len() {
            self.lock_oh[k].d.next = self.grant[k].val() & !self.mem_ready.val();
        }

        // Pointer, lock and perf counters.
        self.fire_rr.next = self.fire.val() & !self.policy.q.val();
        if self.fire_rr.val() {
            self.ptr.d.next = self.sel_next.val();
        }
        self.locked.d.next = self.any.val() & !self.mem_ready.val();
        if self.fire.val() {
            self.grants.d.next = self.grants.q.val() + 1;
        } else if self.any.val() {
            self.lock_id.d.next = self.sel.val();
            self.stalls.d.next = self.stalls.q.val() + 1;
        }

        // Which writes are valid: the register file decides (from the table).
        self.regs.cfg_addr.next = self.cfg_addr.val();
        self.regs.cfg_wdata.next = self.cfg_wdata.val();
        self.write_ok.next = self.regs.write_ok.val();

        // Configuration writes.
        self.policy_next.next = self.policy.q.val();
        if self.cfg_we.val() {
            if !self.write_ok.val() {
                self.cfg_error.d.next = true;
            } else {
                if self.cfg_addr.val() == self.a_policy.val() {
                    self.policy_next.next = self.cfg_wdata.val() == self.v_fixed.val();
                }
                if self.cfg_addr.val() == self.a_ctrl.val() {
                    if (self.cfg_wdata.val() & self.c_clear_error.val()) != 0 {
                        self.cfg_error.d.next = false;
                    }
                    if (self.cfg_wdata.val() & self.c_clear_perf.val()) != 0 {
                        self.grants.d.next = 0.into();
                        self.stalls.d.next = 0.into();
                    }
                }
            }
        }
        self.policy.d.next = self.policy_next.val();
        // Port k is behind the next pointer: after a round-robin grant to port g < N - 1,
        // k <= g (the selection is not left of k); after one to N - 1, none is.
        for k in 0..self.behind.len() {
            self.behind[k].d.next = !self.policy_next.val()
                & (self.port_id[k].val() < self.ptr.q.val())
                & !self.fire_rr.val();
            if self.fire_rr.val() {
                self.behind[k].d.next =
                    !self.policy_next.val() & !self.left_of[k].val() & self.left_of_last[0].val();
            }
        }

        // Status and read port.
        self.st_policy.next = self.policy.q.val();
        self.st_ptr.next = self.ptr.q.val();
        self.st_locked.next = self.locked.q.val();
        self.st_lock_id.next = self.lock_id.q.val();
        self.st_cfg_error.next = self.cfg_error.q.val();
        self.perf_grants.next = self.grants.q.val();
        self.perf_stall.next = self.stalls.q.val();
        // The read port: each readable field's value (the binding: one line per field, in the
        // order of the register table, `BOUND_FIELDS`); the register file places, extends and
        // selects them as the table says.
        self.regs.val[0].next = bit_cast::<32, 1>(self.policy.q.val().into());
        self.regs.val[1].next = bit_cast::<32, { spec::PORT_ID_BITS }>(self.ptr.q.val());
        self.regs.val[2].next = bit_cast::<32, 1>(self.locked.q.val().into());
        self.regs.val[3].next = bit_cast::<32, { spec::PORT_ID_BITS }>(self.lock_id.q.val());
        self.regs.val[4].next = bit_cast::<32, 1>(self.cfg_error.q.val().into());
        self.regs.val[5].next = self.grants.q.val();
        self.regs.val[6].next = self.stalls.q.val();
        self.cfg_rdata.next = self.regs.rdata.val();
    }
}

#[cfg(test)]
mod tests {
    //! The picker tree against the golden `select`, for every port count, on inputs that do
    //! not follow the valid/ready protocol: any request may appear or vanish in any cycle,
    //! the memory stalls at random and the policy flips often, so every lock, pointer and
    //! class combination occurs.
    use crate::harness::ArbiterRtl;
    use golden::arbiter::{ArbiterIn, BusArbiter as GoldenArbiter, Request};
    use golden::cfg::CfgPort;
    use golden::observe::{ArbiterOutPorts, Ports, first_difference};
    use golden::spec::arbiter as reg;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn picker_tree_matches_golden_for_every_port_count() {
        for ports in 1..=golden::spec::MAX_PORTS {
            let seed = 100 + ports as u64;
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut gold = GoldenArbiter::new(ports).unwrap();
            let mut rtl = ArbiterRtl::new(ports).unwrap();
            // Sparse, dense and single-port request patterns in turn.
            let mut density = 0.5;
            for cycle in 0..1500 {
                if cycle % 100 == 0 {
                    density = [0.1, 0.5, 0.9][rng.gen_range(0..3)];
                }
                let req = (0..ports)
                    .map(|_| Request {
                        valid: rng.gen_bool(density),
                        beats: rng.gen_range(0..8),
                        addr: rng.r#gen(),
                    })
                    .collect();
                let cfg = match rng.gen_range(0..40) {
                    0 => CfgPort::write(reg::POLICY, rng.gen_range(0..2)),
                    1 => CfgPort::write(reg::CTRL, rng.gen_range(0..4)),
                    _ => CfgPort::read(rng.gen_range(0..8)),
                };
                let i = ArbiterIn {
                    req,
                    mem_ready: rng.gen_bool(0.6),
                    cfg,
                };
                let g = gold.step(&i);
                let r = rtl.step(&i).unwrap();
                let gp = ArbiterOutPorts { out: &g, ports }.port_list();
                let rp = ArbiterOutPorts { out: &r, ports }.port_list();
                if let Some((sig, rv, gv)) = first_difference(&rp, &gp) {
                    panic!("seed {seed} ports {ports}: cycle {cycle}: {sig}: rtl {rv} golden {gv}");
                }
            }
        }
    }
}

//! `BusArbiter` RTL: N requesters to one memory port, round-robin or fixed priority.
//!
//! The specification is the golden twin `golden::arbiter`. The number of ports is chosen at
//! run time (1..=16): per-port signals are `Vec`s that Rust-HDL unrolls into `name$k` ports.
//! Selection uses 16-bit masks (a find-first-set after the pointer, then the lowest request)
//! rather than a priority chain, so it is the same in Rust-HDL's simulator and in Verilog.

use golden::cfg::{ConfigError, check_ports};
use golden::spec::{self, arbiter as reg};
use rust_hdl::prelude::*;

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
    // Combinational intermediates.
    prefix: Vec<Signal<Local, Mask>>,
    vmask: Signal<Local, Mask>,
    lock_hit: Signal<Local, Bit>,
    upper: Signal<Local, Mask>,
    pick: Signal<Local, Mask>,
    onehot: Signal<Local, Mask>,
    sel: Signal<Local, PortId>,
    any: Signal<Local, Bit>,
    status_base: Signal<Local, Bits<{ spec::CFG_RDATA_BITS }>>,
    status_word: Signal<Local, Bits<{ spec::CFG_RDATA_BITS }>>,
    lock_id_shift: Constant<Bits<5>>,
    locked_flag: Constant<Bits<{ spec::CFG_RDATA_BITS }>>,
    error_flag: Constant<Bits<{ spec::CFG_RDATA_BITS }>>,
    // Constants.
    one: Constant<Mask>,
    all_ones: Constant<Mask>,
    port_bit: Vec<Constant<Mask>>,
    port_id: Vec<Constant<PortId>>,
    last_id: Constant<PortId>,
    a_policy: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_ctrl: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_status: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_perf_grants: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    a_perf_stall: Constant<Bits<{ spec::CFG_ADDR_BITS }>>,
    ctrl_reserved: Constant<Bits<{ spec::CFG_WDATA_BITS }>>,
}

fn signals<D: Direction, T: Synth>(n: usize) -> Vec<Signal<D, T>> {
    (0..n).map(|_| Signal::default()).collect()
}

impl BusArbiter {
    /// An arbiter with `ports` requesters (1..=16).
    pub fn new(ports: usize) -> Result<Self, ConfigError> {
        let n = check_ports(ports as i64)?;
        let a = |x: u8| Constant::new(Bits::from(u64::from(x)));
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
            prefix: signals(n + 1),
            vmask: Default::default(),
            lock_hit: Default::default(),
            upper: Default::default(),
            pick: Default::default(),
            onehot: Default::default(),
            sel: Default::default(),
            any: Default::default(),
            status_base: Default::default(),
            status_word: Default::default(),
            lock_id_shift: Constant::new(Bits::from(u64::from(reg::STATUS_LOCK_ID_SHIFT))),
            locked_flag: Constant::new(Bits::from(1u64 << reg::STATUS_LOCKED_SHIFT)),
            error_flag: Constant::new(Bits::from(1u64 << reg::STATUS_CFG_ERROR_SHIFT)),
            one: Constant::new(Bits::from(1u64)),
            all_ones: Constant::new(Bits::from((1u64 << spec::MAX_PORTS) - 1)),
            port_bit: (0..n)
                .map(|k| Constant::new(Bits::from(1u64 << k)))
                .collect(),
            port_id: (0..n)
                .map(|k| Constant::new(Bits::from(k as u64)))
                .collect(),
            last_id: Constant::new(Bits::from((n - 1) as u64)),
            a_policy: a(reg::POLICY),
            a_ctrl: a(reg::CTRL),
            a_status: a(reg::STATUS),
            a_perf_grants: a(reg::PERF_GRANTS),
            a_perf_stall: a(reg::PERF_STALL),
            ctrl_reserved: Constant::new(Bits::from(u64::from(
                !(reg::CTRL_CLEAR_ERROR | reg::CTRL_CLEAR_PERF),
            ))),
        })
    }

    /// Number of requesters.
    pub fn ports(&self) -> usize {
        self.req_valid.len()
    }
}

impl Logic for BusArbiter {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, policy, ptr, locked, lock_id, cfg_error, grants, stalls
        );
        // Pack the valid bits: a prefix chain over distinct signals (no read-after-write).
        self.prefix[0].next = 0.into();
        for i in 0..self.req_valid.len() {
            self.prefix[i + 1].next = self.prefix[i].val();
            if self.req_valid[i].val() {
                self.prefix[i + 1].next = self.prefix[i].val() | self.port_bit[i].val();
            }
            self.vmask.next = self.prefix[i + 1].val();
        }
        self.lock_hit.next = self.locked.q.val()
            & (((self.vmask.val() >> self.lock_id.q.val()) & self.one.val()) != 0);
        // Round-robin: requests at or after the pointer first, then the rest.
        self.upper.next = self.vmask.val() & (self.all_ones.val() << self.ptr.q.val());
        self.pick.next = self.vmask.val();
        if !self.policy.q.val() & (self.upper.val() != 0) {
            self.pick.next = self.upper.val();
        }
        // Lowest set bit.
        self.onehot.next = self.pick.val() & (!self.pick.val() + 1);
        if self.lock_hit.val() {
            self.onehot.next = self.one.val() << self.lock_id.q.val();
        }
        self.any.next = self.onehot.val() != 0;
        self.sel.next = 0.into();
        for i in 0..self.req_valid.len() {
            if self.onehot.val().get_bit(i) {
                self.sel.next = self.port_id[i].val();
            }
        }
        self.mem_valid.next = self.any.val();
        self.mem_id.next = self.sel.val();
        self.mem_beats.next = 0.into();
        self.mem_addr.next = 0.into();
        for i in 0..self.req_valid.len() {
            self.grant[i].next = self.onehot.val().get_bit(i);
            self.req_ready[i].next = self.onehot.val().get_bit(i) & self.mem_ready.val();
            if self.onehot.val().get_bit(i) {
                self.mem_beats.next = self.req_beats[i].val();
                self.mem_addr.next = self.req_addr[i].val();
            }
        }

        // Pointer, lock and perf counters.
        if self.any.val() & self.mem_ready.val() {
            if !self.policy.q.val() {
                self.ptr.d.next = self.sel.val() + 1;
                if self.sel.val() == self.last_id.val() {
                    self.ptr.d.next = 0.into();
                }
            }
            self.locked.d.next = false;
            self.grants.d.next = self.grants.q.val() + 1;
        } else if self.any.val() {
            self.locked.d.next = true;
            self.lock_id.d.next = self.sel.val();
            self.stalls.d.next = self.stalls.q.val() + 1;
        } else {
            self.locked.d.next = false;
        }

        // Configuration writes.
        if self.cfg_we.val() {
            self.cfg_error.d.next = true;
            if self.cfg_addr.val() == self.a_policy.val() {
                if self.cfg_wdata.val() == 0 {
                    self.policy.d.next = false;
                    self.cfg_error.d.next = self.cfg_error.q.val();
                }
                if self.cfg_wdata.val() == 1 {
                    self.policy.d.next = true;
                    self.cfg_error.d.next = self.cfg_error.q.val();
                }
            }
            if (self.cfg_addr.val() == self.a_ctrl.val())
                & ((self.cfg_wdata.val() & self.ctrl_reserved.val()) == 0)
            {
                self.cfg_error.d.next = self.cfg_error.q.val() & !self.cfg_wdata.val().get_bit(0);
                if self.cfg_wdata.val().get_bit(1) {
                    self.grants.d.next = 0.into();
                    self.stalls.d.next = 0.into();
                }
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
        self.cfg_rdata.next = 0.into();
        if self.cfg_addr.val() == self.a_policy.val() {
            self.cfg_rdata.next = 0.into();
            if self.policy.q.val() {
                self.cfg_rdata.next = 1.into();
            }
        }
        self.status_base.next = bit_cast::<32, { spec::PORT_ID_BITS }>(self.ptr.q.val())
            | (bit_cast::<32, { spec::PORT_ID_BITS }>(self.lock_id.q.val())
                << self.lock_id_shift.val());
        self.status_word.next = self.status_base.val();
        if self.locked.q.val() {
            self.status_word.next = self.status_base.val() | self.locked_flag.val();
        }
        if self.cfg_error.q.val() {
            self.status_word.next = self.status_base.val() | self.error_flag.val();
            if self.locked.q.val() {
                self.status_word.next =
                    self.status_base.val() | self.locked_flag.val() | self.error_flag.val();
            }
        }
        if self.cfg_addr.val() == self.a_status.val() {
            self.cfg_rdata.next = self.status_word.val();
        }
        if self.cfg_addr.val() == self.a_perf_grants.val() {
            self.cfg_rdata.next = self.grants.q.val();
        }
        if self.cfg_addr.val() == self.a_perf_stall.val() {
            self.cfg_rdata.next = self.stalls.q.val();
        }
    }
}

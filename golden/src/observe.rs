//! Named, flat views of a block's per-cycle inputs and outputs.
//!
//! Names are exactly the Verilog port names of the RTL top module (arrays of ports appear as
//! `name$k`, as Rust-HDL emits them), so any simulator of the emitted Verilog can be driven and
//! compared with the golden model by name, and a mismatch report names the diverging signal.
//! Values are the raw port bits (a 25-bit signed counter is its 25-bit two's complement pattern).
//!
//! Each block's ports and their order are defined once, by its [`Ports::visit`]: a walk over
//! `(`[`Port`]`, value)` pairs that allocates nothing, so a per-cycle consumer (the lockstep
//! co-simulation) can write the values straight into a buffer, while [`Ports::ports`] and
//! [`Ports::port_list`] build the `name$k` strings from the same walk for reports, waveforms
//! and port lookup.

use crate::arbiter::{ArbiterIn, ArbiterOut};
use crate::spec;
use crate::throttle::{State, ThrottleIn, ThrottleOut};
use std::fmt;

/// A named port value.
pub type Named = (String, u64);

/// Direction of a port of the RTL top module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// An input (driven by the stimulus).
    In,
    /// An output (compared with the RTL).
    Out,
}

/// One port as [`Ports::visit`] reports it: the Verilog name and width, without allocating.
///
/// The width is part of the declaration: a test parses the emitted Verilog of every block and
/// compares its ports (name, direction, width) with these declarations without Verilator
/// (`tests/ports.rs`), and the co-simulation checks them again when it binds a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Port {
    /// Base name (`cmd_valid`).
    pub base: &'static str,
    /// Index in an array of ports (`cmd_valid$3`), if the port is one.
    pub index: Option<usize>,
    /// Direction.
    pub dir: Dir,
    /// Width in bits (1..=64).
    pub width: u32,
}

impl Port {
    /// A scalar input of `width` bits.
    pub const fn input(base: &'static str, width: usize) -> Self {
        Port {
            base,
            index: None,
            dir: Dir::In,
            width: width as u32,
        }
    }

    /// A scalar output of `width` bits.
    pub const fn output(base: &'static str, width: usize) -> Self {
        Port {
            base,
            index: None,
            dir: Dir::Out,
            width: width as u32,
        }
    }

    /// Element `k` of an array of ports.
    pub const fn at(self, k: usize) -> Self {
        Port {
            index: Some(k),
            ..self
        }
    }
}

impl fmt::Display for Port {
    /// The Verilog port name: `base`, or `base$k` for element `k` of an array.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            None => f.write_str(self.base),
            Some(k) => write!(f, "{}${k}", self.base),
        }
    }
}

/// Something that can be listed as named port values.
///
/// Implement only [`visit`](Self::visit); the string forms and the allocation-free
/// [`write_values`](Self::write_values) are built from it. The implementations here are
/// `#[inline(always)]`: inlined into `write_values`, its position counters stay in registers
/// and its bounds checks fold away, which makes it as fast as a hand-written list of the values.
pub trait Ports {
    /// Call `f(port, value)` for every port, in a fixed order: the one definition of the ports
    /// and their order. Allocates nothing.
    fn visit(&self, f: &mut impl FnMut(Port, u64));

    /// Append `(port name, value)` pairs, in [`visit`](Self::visit) order.
    fn ports(&self, out: &mut Vec<Named>) {
        self.visit(&mut |p, v| out.push((p.to_string(), v)));
    }

    /// The pairs as a new vector.
    fn port_list(&self) -> Vec<Named> {
        let mut v = Vec::new();
        self.ports(&mut v);
        v
    }

    /// Every port's declaration (name, direction, width), in [`visit`](Self::visit) order.
    fn declarations(&self) -> Vec<Port> {
        let mut v = Vec::new();
        self.visit(&mut |p, _| v.push(p));
        v
    }

    /// The names of the ports in direction `dir`, in [`visit`](Self::visit) order.
    fn port_names(&self, dir: Dir) -> Vec<String> {
        let mut names = Vec::new();
        self.visit(&mut |p, _| {
            if p.dir == dir {
                names.push(p.to_string());
            }
        });
        names
    }

    /// Write the values of the inputs to `inputs` and those of the outputs to `outputs`, each in
    /// [`visit`](Self::visit) order (the order of [`port_names`](Self::port_names)), without
    /// allocating. Returns the numbers of inputs and outputs written.
    ///
    /// # Panics
    /// If a slice is shorter than the number of ports of its direction.
    #[inline]
    fn write_values(&self, inputs: &mut [u64], outputs: &mut [u64]) -> (usize, usize) {
        // Counting first (a constant once `visit` is inlined, for fixed port lists) lets the
        // compiler drop the per-port bounds checks below.
        let (mut ni, mut no) = (0, 0);
        self.visit(&mut |p, _| match p.dir {
            Dir::In => ni += 1,
            Dir::Out => no += 1,
        });
        assert!(
            ni <= inputs.len() && no <= outputs.len(),
            "{ni} inputs and {no} outputs do not fit {} and {} values",
            inputs.len(),
            outputs.len()
        );
        let (mut i, mut o) = (0, 0);
        self.visit(&mut |p, v| match p.dir {
            Dir::In => {
                inputs[i] = v;
                i += 1;
            }
            Dir::Out => {
                outputs[o] = v;
                o += 1;
            }
        });
        (i, o)
    }
}

impl<T: Ports + ?Sized> Ports for &T {
    #[inline(always)]
    fn visit(&self, f: &mut impl FnMut(Port, u64)) {
        (**self).visit(f);
    }
}

/// The ports of `A`, then those of `B` (a block's inputs and outputs as one list).
impl<A: Ports, B: Ports> Ports for (A, B) {
    #[inline(always)]
    fn visit(&self, f: &mut impl FnMut(Port, u64)) {
        self.0.visit(f);
        self.1.visit(f);
    }
}

fn credit_bits(x: i32) -> u64 {
    u64::from(x as u32) & ((1 << spec::CREDIT_BITS) - 1)
}

/// The three inputs of a configuration port (write enable, address, data), named `names`
/// (e.g. [`CFG`]), element `index` of an array of ports if given.
#[inline(always)]
pub(crate) fn cfg_ports(
    f: &mut impl FnMut(Port, u64),
    names: [&'static str; 3],
    index: Option<usize>,
    cfg: &crate::cfg::CfgPort,
) {
    let [we, addr, wdata] = names;
    let mut p = |base, width, v| {
        f(
            Port {
                index,
                ..Port::input(base, width)
            },
            v,
        )
    };
    p(we, 1, u64::from(cfg.we));
    p(addr, spec::CFG_ADDR_BITS, u64::from(cfg.addr));
    p(wdata, spec::CFG_WDATA_BITS, u64::from(cfg.wdata));
}

/// Names of a block's own configuration port.
pub(crate) const CFG: [&str; 3] = ["cfg_we", "cfg_addr", "cfg_wdata"];

impl Ports for ThrottleIn {
    #[inline(always)]
    fn visit(&self, f: &mut impl FnMut(Port, u64)) {
        let mut p = |name, width, v| f(Port::input(name, width), v);
        p("up_valid", 1, u64::from(self.up_valid));
        p("up_beats", spec::BEATS_BITS, u64::from(self.up_beats & 7));
        p("up_addr", spec::ADDR_BITS, u64::from(self.up_addr));
        p("down_ready", 1, u64::from(self.down_ready));
        cfg_ports(f, CFG, None, &self.cfg);
    }
}

impl Ports for ThrottleOut {
    #[inline(always)]
    fn visit(&self, f: &mut impl FnMut(Port, u64)) {
        let s = &self.status;
        let mut p = |name, width, v| f(Port::output(name, width), v);
        p("up_ready", 1, u64::from(self.up_ready));
        p("down_valid", 1, u64::from(self.down_valid));
        p(
            "down_beats",
            spec::BEATS_BITS,
            u64::from(self.down_beats & 7),
        );
        p("down_addr", spec::ADDR_BITS, u64::from(self.down_addr));
        p("cfg_rdata", spec::CFG_RDATA_BITS, u64::from(self.cfg_rdata));
        p("st_bubble", 1, u64::from(s.state == State::Bubble));
        p("st_cfg_error", 1, u64::from(s.cfg_error));
        p("st_wc", spec::COUNTER_BITS, u64::from(s.wc));
        p("st_credit", spec::CREDIT_BITS, credit_bits(s.credit));
        p("perf_reqs", spec::PERF_BITS, u64::from(s.perf_reqs));
        p("perf_beats", spec::PERF_BITS, u64::from(s.perf_beats));
        p("perf_bubble", spec::PERF_BITS, u64::from(s.perf_bubble));
        p("perf_wait", spec::PERF_BITS, u64::from(s.perf_wait));
        p("perf_windows", spec::PERF_BITS, u64::from(s.perf_windows));
    }
}

impl Ports for ArbiterIn {
    #[inline(always)]
    fn visit(&self, f: &mut impl FnMut(Port, u64)) {
        for (k, r) in self.req.iter().enumerate() {
            f(Port::input("req_valid", 1).at(k), u64::from(r.valid));
            let beats = Port::input("req_beats", spec::BEATS_BITS);
            f(beats.at(k), u64::from(r.beats & 7));
            let addr = Port::input("req_addr", spec::ADDR_BITS);
            f(addr.at(k), u64::from(r.addr));
        }
        f(Port::input("mem_ready", 1), u64::from(self.mem_ready));
        cfg_ports(f, CFG, None, &self.cfg);
    }
}

/// Outputs of an arbiter with a known number of ports (the grant masks do not carry it).
pub struct ArbiterOutPorts<'a> {
    /// The outputs.
    pub out: &'a ArbiterOut,
    /// Number of requesters.
    pub ports: usize,
}

impl Ports for ArbiterOutPorts<'_> {
    #[inline(always)]
    fn visit(&self, f: &mut impl FnMut(Port, u64)) {
        let o = self.out;
        let s = &o.status;
        for k in 0..self.ports {
            f(Port::output("grant", 1).at(k), u64::from(o.grant >> k & 1));
            let ready = Port::output("req_ready", 1);
            f(ready.at(k), u64::from(o.req_ready >> k & 1));
        }
        let mut p = |name, width, v| f(Port::output(name, width), v);
        p("mem_valid", 1, u64::from(o.mem_valid));
        p("mem_id", spec::PORT_ID_BITS, u64::from(o.mem_id));
        p("mem_beats", spec::BEATS_BITS, u64::from(o.mem_beats & 7));
        p("mem_addr", spec::ADDR_BITS, u64::from(o.mem_addr));
        p("cfg_rdata", spec::CFG_RDATA_BITS, u64::from(o.cfg_rdata));
        p("st_policy", 1, u64::from(s.policy.value()));
        p("st_ptr", spec::PORT_ID_BITS, u64::from(s.ptr));
        p("st_locked", 1, u64::from(s.locked));
        p("st_lock_id", spec::PORT_ID_BITS, u64::from(s.lock_id));
        p("st_cfg_error", 1, u64::from(s.cfg_error));
        p("perf_grants", spec::PERF_BITS, u64::from(s.perf_grants));
        p("perf_stall", spec::PERF_BITS, u64::from(s.perf_stall));
    }
}

/// The first differing signal between two equally ordered port lists:
/// `(name, left value, right value)`.
pub fn first_difference<'a>(a: &'a [Named], b: &'a [Named]) -> Option<(&'a str, u64, u64)> {
    a.iter()
        .zip(b)
        .find(|(x, y)| x.1 != y.1 || x.0 != y.0)
        .map(|(x, y)| (x.0.as_str(), x.1, y.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::throttle::MemThrottle;

    #[test]
    fn names_and_differences() {
        let mut t = MemThrottle::new();
        let o = t.step(&ThrottleIn::default());
        let a = o.port_list();
        assert_eq!(a[0].0, "up_ready");
        assert_eq!(a.len(), 14);
        let mut b = a.clone();
        assert_eq!(first_difference(&a, &b), None);
        b[7].1 = 3;
        assert_eq!(first_difference(&a, &b), Some(("st_wc", 0, 3)));
        assert_eq!(credit_bits(-1), (1 << 18) - 1);
    }

    #[test]
    fn names_values_and_directions_line_up() {
        let i = ArbiterIn {
            req: vec![Default::default(); 2],
            mem_ready: true,
            ..Default::default()
        };
        let o = ArbiterOut {
            req_ready: 2,
            mem_addr: 77,
            ..Default::default()
        };
        let both = (&i, ArbiterOutPorts { out: &o, ports: 2 });
        let list = both.port_list();
        let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names[..4],
            ["req_valid$0", "req_beats$0", "req_addr$0", "req_valid$1"]
        );
        assert_eq!(names[10..12], ["grant$0", "req_ready$0"]);
        let (ins, outs) = (both.port_names(Dir::In), both.port_names(Dir::Out));
        assert_eq!(ins, i.port_names(Dir::In));
        assert!(i.port_names(Dir::Out).is_empty());
        assert_eq!(ins.len() + outs.len(), list.len());
        let (mut iv, mut ov) = (vec![0; ins.len()], vec![0; outs.len()]);
        assert_eq!(both.write_values(&mut iv, &mut ov), (ins.len(), outs.len()));
        // Every name of the string form carries the value the fast form wrote for it.
        for (n, v) in ins.iter().zip(&iv).chain(outs.iter().zip(&ov)) {
            assert_eq!(
                list.iter().find(|(m, _)| m == n).map(|p| p.1),
                Some(*v),
                "{n}"
            );
        }
        assert_eq!(list.iter().find(|p| p.0 == "req_ready$1").unwrap().1, 1);
        assert_eq!(Port::output("x", 1).at(3).to_string(), "x$3");
        assert_eq!(Port::input("y", 8).to_string(), "y");
    }
}

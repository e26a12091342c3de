//! Named, flat views of a block's per-cycle inputs and outputs.
//!
//! Names are exactly the Verilog port names of the RTL top module (arrays of ports appear as
//! `name$k`, as Rust-HDL emits them), so any simulator of the emitted Verilog can be driven and
//! compared with the golden model by name, and a mismatch report names the diverging signal.
//! Values are the raw port bits (a 25-bit signed counter is its 25-bit two's complement pattern).

use crate::arbiter::{ArbiterIn, ArbiterOut};
use crate::spec;
use crate::throttle::{State, ThrottleIn, ThrottleOut};

/// A named port value.
pub type Named = (String, u64);

/// Something that can be listed as named port values.
pub trait Ports {
    /// Append `(port name, value)` pairs, in a fixed order.
    fn ports(&self, out: &mut Vec<Named>);

    /// The pairs as a new vector.
    fn port_list(&self) -> Vec<Named> {
        let mut v = Vec::new();
        self.ports(&mut v);
        v
    }
}

fn push(out: &mut Vec<Named>, name: &str, v: u64) {
    out.push((name.to_string(), v));
}

fn credit_bits(x: i32) -> u64 {
    u64::from(x as u32) & ((1 << spec::CREDIT_BITS) - 1)
}

fn cfg_ports(out: &mut Vec<Named>, cfg: &crate::cfg::CfgPort) {
    push(out, "cfg_we", u64::from(cfg.we));
    push(out, "cfg_addr", u64::from(cfg.addr));
    push(out, "cfg_wdata", u64::from(cfg.wdata));
}

impl Ports for ThrottleIn {
    fn ports(&self, out: &mut Vec<Named>) {
        push(out, "up_valid", u64::from(self.up_valid));
        push(out, "up_beats", u64::from(self.up_beats & 7));
        push(out, "up_addr", u64::from(self.up_addr));
        push(out, "down_ready", u64::from(self.down_ready));
        cfg_ports(out, &self.cfg);
    }
}

impl Ports for ThrottleOut {
    fn ports(&self, out: &mut Vec<Named>) {
        let s = &self.status;
        push(out, "up_ready", u64::from(self.up_ready));
        push(out, "down_valid", u64::from(self.down_valid));
        push(out, "down_beats", u64::from(self.down_beats & 7));
        push(out, "down_addr", u64::from(self.down_addr));
        push(out, "cfg_rdata", u64::from(self.cfg_rdata));
        push(out, "st_bubble", u64::from(s.state == State::Bubble));
        push(out, "st_cfg_error", u64::from(s.cfg_error));
        push(out, "st_wc", u64::from(s.wc));
        push(out, "st_inner", credit_bits(s.inner));
        push(out, "st_outer", credit_bits(s.outer));
        push(out, "st_bubble_len", u64::from(s.bubble_len));
        push(out, "perf_reqs", u64::from(s.perf_reqs));
        push(out, "perf_beats", u64::from(s.perf_beats));
        push(out, "perf_bubble", u64::from(s.perf_bubble));
        push(out, "perf_wait", u64::from(s.perf_wait));
        push(out, "perf_windows", u64::from(s.perf_windows));
    }
}

impl Ports for ArbiterIn {
    fn ports(&self, out: &mut Vec<Named>) {
        for (k, r) in self.req.iter().enumerate() {
            push(out, &format!("req_valid${k}"), u64::from(r.valid));
            push(out, &format!("req_beats${k}"), u64::from(r.beats & 7));
            push(out, &format!("req_addr${k}"), u64::from(r.addr));
        }
        push(out, "mem_ready", u64::from(self.mem_ready));
        cfg_ports(out, &self.cfg);
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
    fn ports(&self, out: &mut Vec<Named>) {
        let o = self.out;
        let s = &o.status;
        for k in 0..self.ports {
            push(out, &format!("grant${k}"), u64::from(o.grant >> k & 1));
            push(
                out,
                &format!("req_ready${k}"),
                u64::from(o.req_ready >> k & 1),
            );
        }
        push(out, "mem_valid", u64::from(o.mem_valid));
        push(out, "mem_id", u64::from(o.mem_id));
        push(out, "mem_beats", u64::from(o.mem_beats & 7));
        push(out, "mem_addr", u64::from(o.mem_addr));
        push(out, "cfg_rdata", u64::from(o.cfg_rdata));
        push(out, "st_policy", u64::from(s.policy.value()));
        push(out, "st_ptr", u64::from(s.ptr));
        push(out, "st_locked", u64::from(s.locked));
        push(out, "st_lock_id", u64::from(s.lock_id));
        push(out, "st_cfg_error", u64::from(s.cfg_error));
        push(out, "perf_grants", u64::from(s.perf_grants));
        push(out, "perf_stall", u64::from(s.perf_stall));
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
        assert_eq!(a.len(), 16);
        let mut b = a.clone();
        assert_eq!(first_difference(&a, &b), None);
        b[7].1 = 3;
        assert_eq!(first_difference(&a, &b), Some(("st_wc", 0, 3)));
        assert_eq!(credit_bits(-1), (1 << 25) - 1);
    }
}

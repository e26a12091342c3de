//! Formal properties of the emitted RTL, for yosys' SAT-based temporal induction.
//!
//! A [`FormalProblem`] is the emitted Verilog of a block with a property block inserted at the
//! end of its top module (inside `` `ifdef FORMAL ``), so the properties can name the block's
//! registers (`window$q`, `outer$q`, ...) as well as its ports. Each [`Property`] is one
//! `assert`; assumptions restrict the environment (for example, that the memory is always
//! ready for the round-robin liveness bound). The prover (`moca prove`) runs yosys on it.

use crate::emit::{self, VerilogTop};
use golden::cfg::ConfigError;
use golden::spec;

/// One property to prove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    /// Short name (`no_fire_in_bubble`).
    pub name: String,
    /// What it states, in words.
    pub doc: String,
    /// The asserted Verilog expression.
    pub expr: String,
    /// Environment assumptions the property needs (Verilog expression, note); empty for a
    /// property that holds for every input sequence.
    pub assumptions: Vec<(String, String)>,
    /// Proved in a run of its own, with the other properties of the block that share its
    /// assumptions asserted beside it as lemmas (they are proved first, in their own run).
    pub separate: bool,
}

/// A block's Verilog with its properties, ready for yosys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormalProblem {
    /// Top module name.
    pub top: String,
    /// The emitted Verilog (without properties).
    pub verilog: String,
    /// Extra Verilog placed in the property block before the assertions (monitor registers).
    pub monitors: String,
    /// The properties.
    pub properties: Vec<Property>,
}

impl FormalProblem {
    /// The Verilog with the property block asserting `selected` properties (indices into
    /// `properties`).
    pub fn verilog_with(&self, selected: &[usize]) -> String {
        let mut block = String::from("`ifdef FORMAL\n");
        block.push_str(&self.monitors);
        block.push_str("    always @(*) begin\n");
        let mut assumed: Vec<&(String, String)> = Vec::new();
        for &i in selected {
            for a in &self.properties[i].assumptions {
                if !assumed.contains(&a) {
                    assumed.push(a);
                }
            }
        }
        for (a, note) in assumed {
            block.push_str(&format!("        assume({a}); // {note}\n"));
        }
        for &i in selected {
            let p = &self.properties[i];
            block.push_str(&format!("        assert({}); // {}\n", p.expr, p.name));
        }
        block.push_str("    end\n`endif\n");
        let marker = format!("\nendmodule // {}\n", self.top);
        match self.verilog.find(&marker).map(|p| p + 1) {
            Some(pos) => {
                let mut v = self.verilog.clone();
                v.insert_str(pos, &block);
                v
            }
            None => panic!("emitted Verilog has no `{marker}` line"),
        }
    }

    /// Replace the block's Verilog (used to check that a broken variant fails to prove).
    pub fn with_verilog(mut self, verilog: String) -> Self {
        self.verilog = verilog;
        self
    }
}

fn prop(name: &str, doc: &str, expr: String) -> Property {
    Property {
        name: name.into(),
        doc: doc.into(),
        expr,
        assumptions: Vec::new(),
        separate: false,
    }
}

/// Largest `beats` value the 3-bit field can carry (malformed requests included).
pub const MAX_FIELD_BEATS: u32 = (1 << spec::BEATS_BITS) - 1;

/// The throttle's properties.
///
/// `outer_bounded` is the invariant behind the long-run `TARGET/WINDOW` rate. With `R` the
/// largest request (7 beats: the 3-bit field, malformed requests included) and `TARGET >= 2R`,
/// every detection cycle admits at most `R` beats and repays at least `TARGET/2 >= R`, so
/// credit carried across bubbles stays bounded; the proved bound is
/// `OUTER <= 2*R*WINDOW + TARGET` (see docs/FORMAL.md for the argument).
pub fn throttle() -> FormalProblem {
    let VerilogTop { top, text, .. } = emit::throttle();
    let r = MAX_FIELD_BEATS;
    let mut bounded = prop(
        "outer_bounded",
        &format!(
            "with TARGET >= {} (twice the largest request), OUTER <= 2*{r}*WINDOW + TARGET",
            2 * r
        ),
        format!(
            "target$q < 16'd{} || outer$q[24] || \
             {{8'd0, outer$q[23:0]}} <= {{16'd0, window$q}} * 32'd{} + {{16'd0, target$q}}",
            2 * r,
            2 * r
        ),
    );
    bounded.separate = true;
    let properties = vec![
        prop(
            "bubble_only_when_enabled",
            "the throttle is in BUBBLE only while WINDOW != 0",
            "!bubble$q || window$q != 16'd0".into(),
        ),
        prop(
            "no_fire_in_bubble",
            "no request fires (nor is offered downstream) while in BUBBLE",
            "!(bubble$q && (up_ready || down_valid))".into(),
        ),
        prop(
            "off_is_pass_through",
            "WINDOW = 0 is a combinational pass-through",
            "window$q != 16'd0 || (up_ready == down_ready && down_valid == up_valid \
             && down_beats == up_beats && down_addr == up_addr)"
                .into(),
        ),
        prop(
            "wc_below_window_or_bubble",
            "the window counter stays below WINDOW (MONITOR) or the bubble length (BUBBLE)",
            "bubble$q ? (wc$q < blen$q) : (window$q == 16'd0 ? wc$q == 16'd0 : wc$q < window$q)"
                .into(),
        ),
        prop(
            "outer_at_least_minus_burst",
            "OUTER never goes below -BURST",
            "$signed({outer$q[24], outer$q}) >= -$signed({10'd0, burst$q})".into(),
        ),
        prop(
            "invalid_config_never_takes_effect",
            "WINDOW is never 1, and TARGET is never 0 while WINDOW != 0",
            "window$q != 16'd1 && (window$q == 16'd0 || target$q != 16'd0)".into(),
        ),
        bounded,
    ];
    FormalProblem {
        top,
        verilog: text,
        monitors: String::new(),
        properties,
    }
}

/// The arbiter's properties for `ports` requesters.
///
/// `rr_grant_within_n` holds under round-robin with the memory always ready (assumed, with no
/// configuration writes so the policy stays round-robin from reset): a port that keeps
/// requesting is granted within `ports` cycles. It is proved with the inductive strengthening
/// `wait_k + ((k - ptr) mod N) <= N - 1`, and with `picker_masks_consistent`: the picker's
/// per-port mask registers (`behind$k`, `lock_oh$k`, see `hw::arbiter`) are the redundant
/// copies of (`policy`, `ptr`) and (`locked`, `lock_id`) they are meant to be. That property
/// is asserted beside the others (and inside the liveness invariant), since the induction
/// step may otherwise start from masks that disagree with the pointer.
pub fn arbiter(ports: usize) -> Result<FormalProblem, ConfigError> {
    let VerilogTop { top, text, .. } = emit::arbiter(ports)?;
    let n = ports;
    let cat = |name: &str| {
        let v: Vec<String> = (0..n).rev().map(|k| format!("{name}${k}")).collect();
        format!("{{{}}}", v.join(", "))
    };
    let g = cat("grant");
    let v = cat("req_valid");
    let wb = 5; // enough for wait counters up to 16
    let mut monitors = String::new();
    for k in 0..n {
        monitors.push_str(&format!(
            "    reg [{hi}:0] wait{k};\n    initial wait{k} = 0;\n    \
             always @(posedge clock) wait{k} <= (req_valid${k} && !req_ready${k}) ? \
             wait{k} + {wb}'d1 : {wb}'d0;\n",
            hi = wb - 1
        ));
    }
    let mut ids = Vec::new();
    let mut readies = Vec::new();
    let mut waits = Vec::new();
    let mut strengthen = Vec::new();
    for k in 0..n {
        ids.push(format!("(!grant${k} || mem_id == 4'd{k})"));
        readies.push(format!("(req_ready${k} == (grant${k} && mem_ready))"));
        waits.push(format!("wait{k} < {wb}'d{n}"));
        strengthen.push(format!(
            "(wait{k} == {wb}'d0 || wait{k} + (4'd{k} >= ptr$q ? {wb}'d{k} - ptr$q : \
             {wb}'d{k} + {wb}'d{n} - ptr$q) <= {wb}'d{})",
            n - 1
        ));
    }
    let mut masks = Vec::new();
    if n > 1 {
        for k in 0..n - 1 {
            masks.push(format!("behind${k}$q == (!policy$q && 4'd{k} < ptr$q)"));
        }
        for k in 0..n {
            masks.push(format!(
                "lock_oh${k}$q == (locked$q && lock_id$q == 4'd{k})"
            ));
        }
    }
    let masks = masks.join(" && ");
    let mut rr = prop(
        "rr_grant_within_n",
        &format!(
            "under round-robin with the memory ready, a port that keeps requesting is \
             granted within {n} cycles"
        ),
        format!(
            "{} && !locked$q && !policy$q && {}{}{masks}",
            waits.join(" && "),
            strengthen.join(" && "),
            if masks.is_empty() { "" } else { " && " },
        ),
    );
    rr.assumptions = vec![
        (
            "mem_ready".into(),
            "liveness environment: the memory accepts a request every cycle".into(),
        ),
        (
            "!cfg_we".into(),
            "no configuration writes: the policy stays round-robin from reset".into(),
        ),
    ];
    let mut properties = vec![
        prop(
            "grants_one_hot",
            "at most one requester is granted per cycle",
            format!("({g} & ({g} - 1'b1)) == 0"),
        ),
        prop(
            "grants_only_to_requesters",
            "only a requesting port is granted",
            format!("({g} & ~{v}) == 0"),
        ),
        prop(
            "id_matches_grant",
            "mem_valid is the OR of the grants, mem_id names the granted port, and a port's \
             ready is its grant while the memory is ready",
            format!(
                "mem_valid == ({g} != 0) && {} && {}",
                ids.join(" && "),
                readies.join(" && ")
            ),
        ),
        prop(
            "pointer_in_range",
            "the round-robin pointer and the locked id name existing ports",
            format!("{{1'b0, ptr$q}} < 5'd{n} && {{1'b0, lock_id$q}} < 5'd{n}"),
        ),
    ];
    if n > 1 {
        properties.push(prop(
            "picker_masks_consistent",
            "the picker's mask registers agree with the registers they copy: port k is \
             behind the pointer exactly when round-robin and k < ptr, and is the locked \
             port exactly when locked and lock_id == k",
            masks,
        ));
    }
    properties.push(rr);
    Ok(FormalProblem {
        top,
        verilog: text,
        monitors,
        properties,
    })
}

/// The tile's formal configuration: the smallest tile of dimension `dim` (`4*DIM` scratchpad
/// and `2*DIM` accumulator rows, 64 memory rows), which keeps the SAT problem small; the control
/// logic under proof (queue, load slots, DMA request) does not depend on the storage sizes
/// except through the bounds constants.
pub fn tile_params(dim: usize) -> Result<(golden::tile::TileParams, u32), golden::soc::SocError> {
    let d = dim as u32;
    let p = golden::tile::TileParams::with_rows(dim, 4 * d, 2 * d)?;
    Ok((p, 64))
}

/// The tile's properties (`moca_tile_d<D>` alone: its DMA request and read response are
/// top-level ports, so the environment plays the throttle, bus and memory).
///
/// Monitors record the previous cycle's request (`f_pv`, `f_pf`, `f_pb`, `f_pa`) and the read
/// beats requested but not yet returned (`f_outst`). The properties about the request and the
/// load slots assume the environment returns read beats (`rd_valid`) only for requests that
/// fired; they depend on invariants of the load slots that the induction does not find, so
/// they are checked to the bounded depth (see docs/FORMAL.md).
pub fn tile(
    p: &golden::tile::TileParams,
    mem_rows: u32,
) -> Result<FormalProblem, golden::soc::SocError> {
    let VerilogTop { top, text, .. } = emit::tile(p, mem_rows)?;
    let depth = golden::spec::tile::QUEUE_DEPTH;
    let monitors = "    reg f_pv, f_pf;
    reg [2:0] f_pb;
    reg [31:0] f_pa;
             reg [15:0] f_outst;
    initial begin f_pv = 0; f_pf = 0; f_pb = 0; f_pa = 0;          f_outst = 0; end
    always @(posedge clock) begin
        f_pv <= dma_valid;
                 f_pf <= dma_valid && dma_ready;
        f_pb <= dma_beats;
        f_pa <= dma_addr;
                 f_outst <= f_outst + ((dma_valid && dma_ready && !dma_addr[31]) ? {13'd0, dma_beats}          : 16'd0) - (rd_valid ? 16'd1 : 16'd0);
    end
"
        .to_string();
    let env = vec![(
        "!rd_valid || f_outst != 16'd0".to_string(),
        "environment: the memory returns read beats only for requests that fired".to_string(),
    )];
    let bounded = |name: &str, doc: &str, expr: String| {
        let mut x = prop(name, doc, expr);
        x.assumptions = env.clone();
        x.separate = true;
        x
    };
    let properties = vec![
        prop(
            "dma_beats_1_to_max",
            &format!(
                "a presented DMA request has 1..={} beats",
                golden::spec::MAX_BEATS
            ),
            format!(
                "!dma_valid || (dma_beats != 3'd0 && dma_beats <= 3'd{})",
                golden::spec::MAX_BEATS
            ),
        ),
        prop(
            "queue_within_depth",
            &format!(
                "the command queue holds at most {depth} commands and cmd_ready is high                  exactly when it has room"
            ),
            format!("q_count <= 5'd{depth} && cmd_ready == (q_count != 5'd{depth})"),
        ),
        bounded(
            "request_held_until_fire",
            "a request that is presented and not accepted is presented unchanged (beats and              address) in the next cycle",
            "!(f_pv && !f_pf) || (dma_valid && dma_beats == f_pb && dma_addr == f_pa)".into(),
        ),
        bounded(
            "dma_within_memory",
            &format!("every request's rows lie inside the {mem_rows}-row shared memory"),
            format!(
                "!dma_valid || ({{1'b0, dma_addr[30:0]}} + {{29'd0, dma_beats}} <= 32'd{mem_rows})"
            ),
        ),
        bounded(
            "load_slots_within_limit",
            &format!(
                "at most {} LOADs are in flight",
                golden::spec::tile::LOAD_SLOTS
            ),
            format!("ld_count <= 3'd{}", golden::spec::tile::LOAD_SLOTS),
        ),
    ];
    Ok(FormalProblem {
        top,
        verilog: text,
        monitors,
        properties,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_are_inserted_inside_the_top() {
        let p = throttle();
        let v = p.verilog_with(&[0, 1]);
        let body = &v[v.find("module moca_throttle(").unwrap()..];
        let ifdef = body.find("`ifdef FORMAL").unwrap();
        assert!(ifdef < body.find("endmodule // moca_throttle\n").unwrap());
        assert!(v.contains("// no_fire_in_bubble"));
        assert!(!v.contains("// outer_bounded"));
        let a = arbiter(3).unwrap();
        let v = a.verilog_with(&[0]);
        assert!(v.contains("{grant$2, grant$1, grant$0}"));
        assert!(
            !v.contains("assume(mem_ready)"),
            "safety needs no assumption"
        );
        let rr = a.properties.len() - 1;
        assert!(a.verilog_with(&[rr]).contains("assume(mem_ready)"));
        assert!(arbiter(0).is_err());
    }
}

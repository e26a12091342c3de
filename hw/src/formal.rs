//! Formal properties of the emitted RTL, for yosys' SAT-based temporal induction.
//!
//! A [`FormalProblem`] is the emitted Verilog of a block with a property block inserted at the
//! end of its top module (inside `` `ifdef FORMAL ``), so the properties can name the block's
//! registers (`window$q`, `avail$q`, ...) as well as its ports. Each [`Property`] is one
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

/// The throttle's contract monitor and its helper signals (Verilog placed in the property
/// block). See [`throttle`].
fn throttle_monitor() -> String {
    use spec::throttle as reg;
    format!(
        "    // Helpers: the configuration in force and what this cycle's write does to it.
    wire f_on = window$q != 16'd0;
    wire signed [17:0] f_credit = f_on ? avail$q + 18'd1 : 18'd0;
    wire signed [17:0] f_bt = {{2'b0, burst$q}} + {{2'b0, target$q}};
    wire [2:0] f_beats = fire ? up_beats : 3'd0;
    wire f_wr = cfg_we && write_ok;
    wire f_change = f_wr && ((cfg_addr == 4'd{w} && cfg_wdata != window$q)
        || (cfg_addr == 4'd{t} && (cfg_wdata != target$q || cfg_wdata != burst$q))
        || (cfg_addr == 4'd{b} && cfg_wdata != burst$q));
    wire f_fresh = f_wr && ((cfg_addr == 4'd{w} && !f_on && cfg_wdata != 16'd0)
        || (cfg_addr == 4'd{c} && cfg_wdata[{rs}] && f_on));
    wire f_end = f_on && wc$q == 16'd0;
    // f_dirty: the configuration changed since the last window end (or start), so the
    // credit may still exceed the new BURST + TARGET and WC the new WINDOW - 1.
    reg f_dirty;
    initial f_dirty = 1'b0;
    always @(posedge clock)
        f_dirty <= f_fresh ? 1'b0 : f_change ? 1'b1 : f_end ? 1'b0 : f_dirty;
    // The contract monitor. At a cycle s chosen by the free input f_start (with the
    // configuration settled) it starts, and it stops when the configuration changes or
    // RESTART is written. f_cs is the credit at s. f_z starts at f_cs, is charged the beats
    // of every request that fires and gets TARGET at every window end (the throttle's credit
    // without the BURST cap). f_ph counts down the monitor's own blocks of WINDOW cycles from
    // s; f_ahead is 1 while the monitor has started one block more than the throttle has ended
    // windows. So, with A the beats granted since s and t - s the cycles since s,
    // A - TARGET*ceil((t-s)/WINDOW) = f_cs - f_z - TARGET*f_ahead. f_z saturates at 2^18
    // (so the asserted bound on that difference is stronger than needed).
    wire f_start;
    reg f_act, f_ahead;
    reg [15:0] f_ph;
    reg signed [19:0] f_z;
    reg signed [17:0] f_cs;
    initial begin f_act = 1'b0; f_ahead = 1'b0; f_ph = 16'd0; f_z = 20'd0; f_cs = 18'd0; end
    wire f_go = !f_act && f_start && f_on && !f_dirty;
    wire f_run = f_act || f_go;
    wire [15:0] f_ph0 = f_go ? 16'd0 : f_ph;
    wire f_inc = f_ph0 == 16'd0;
    wire signed [19:0] f_z1 = (f_go ? $signed({{{{2{{f_credit[17]}}}}, f_credit}}) : f_z)
        - $signed({{17'd0, f_beats}}) + (f_end ? $signed({{4'd0, target$q}}) : 20'sd0);
    wire signed [19:0] f_excess = $signed({{{{2{{f_cs[17]}}}}, f_cs}}) - f_z
        - (f_ahead ? $signed({{4'd0, target$q}}) : 20'sd0);
    always @(posedge clock) begin
        f_act <= f_run && !f_change && !f_fresh;
        if (f_run) begin
            f_z <= f_z1 > 20'sd262144 ? 20'sd262144 : f_z1;
            f_ph <= f_inc ? window$q - 16'd1 : f_ph0 - 16'd1;
            f_ahead <= (f_inc && !f_end) ? 1'b1 : (f_end && !f_inc) ? 1'b0
                : (f_go ? 1'b0 : f_ahead);
            if (f_go) f_cs <= f_credit;
        end
    end
",
        w = reg::WINDOW,
        t = reg::TARGET,
        b = reg::BURST,
        c = reg::CTRL,
        rs = reg::field::RESTART.lsb,
    )
}

/// The register rule of `golden::spec::validate` as a Verilog expression over the RTL's
/// configuration registers (`window$q`, ...: the register's name in lower case), generated from
/// the register table: each field's valid values (the upper bound is the width, which the table
/// asserts) and every relation.
pub fn throttle_config_valid() -> String {
    use spec::{Relation, Valid, throttle as reg};
    let q = |addr: u8| {
        let r = &spec::THROTTLE_REGISTERS[usize::from(addr)];
        (format!("{}$q", r.name.to_lowercase()), r.field().width)
    };
    let mut terms = Vec::new();
    for r in reg::config_registers() {
        let (v, w) = q(r.addr);
        match r.field().valid {
            Valid::Any | Valid::Range { min: 0, .. } => {}
            Valid::Range { min, .. } => terms.push(format!("{v} >= {w}'d{min}")),
            Valid::OffOr { off, min, .. } => {
                terms.push(format!("({v} == {w}'d{off} || {v} >= {w}'d{min})"))
            }
        }
    }
    for rel in reg::RELATIONS {
        let Relation::AtLeastWhileOn {
            register,
            min,
            switch,
        } = *rel;
        let ((v, w), (s, sw)) = (q(register), q(switch));
        terms.push(format!("({s} == {sw}'d0 || {v} >= {w}'d{min})"));
    }
    terms.join(" && ")
}

/// The throttle's properties.
///
/// The contract (docs/THROTTLE.md): with `R` the largest request, in every interval of `t`
/// cycles with one configuration the throttle grants at most
/// `BURST + TARGET + R - 1 + TARGET*ceil(t/WINDOW)` beats (`< sigma + rho*t`,
/// `sigma = 2*TARGET + BURST + R - 1`). The monitor of [`throttle_monitor`] checks it from a
/// freely chosen start; the other properties are the inductive strengthening that makes the
/// proof unbounded: the credit stays within `-(R-1)..=BURST+TARGET`, and the monitor's sum is
/// at most the credit at the start minus the credit now (minus `TARGET` while its blocks are
/// one ahead of the window ends). `contract` holds for any `beats` (R = 7); the
/// `well_formed` group assumes requests of at most 4 beats (R = 4).
pub fn throttle() -> FormalProblem {
    let VerilogTop { top, text, .. } = emit::throttle();
    let base = [
        (
            "off_state",
            "while off, CREDIT and WC are 0 (the internal avail register too)",
            "f_on || (avail$q == 18'd0 && wc$q == 16'd0)".to_string(),
        ),
        (
            "enabled_register",
            "the internal copy of WINDOW != 0 matches WINDOW",
            "en$q == (window$q != 16'd0)".to_string(),
        ),
        (
            "below_burst_at_window_end",
            "in a window-end cycle the registered look-ahead flag is CREDIT <= BURST",
            "!f_on || wc$q != 16'd0 || below_burst$q == ($signed(avail$q) < $signed({2'b0, burst$q}))"
                .to_string(),
        ),
        (
            "target_minus_one",
            "the register holding TARGET - 1 matches TARGET",
            "target$q == 16'd0 || tm1$q == target$q - 16'd1".to_string(),
        ),
        (
            "credit_at_most_burst_plus_target",
            "with the configuration unchanged since the last window end, CREDIT <= BURST + \
             TARGET and WC < WINDOW",
            "!f_on || f_dirty || (f_credit <= f_bt && wc$q < window$q)".to_string(),
        ),
        (
            "monitor_tracks_credit",
            "the monitor's uncapped credit is at least the throttle's credit, its start credit \
             is within BURST + TARGET, and its blocks are in step with the windows: at most one \
             ahead, and never behind",
            "!f_act || (f_on && !f_dirty && f_cs <= f_bt && f_ph < window$q \
             && (f_ahead ? wc$q < f_ph : wc$q >= f_ph) \
             && f_z >= $signed({{2{f_credit[17]}}, f_credit}) && f_z <= 20'sd262144)"
                .to_string(),
        ),
    ];
    let floor = |r: u32| {
        format!(
            "(!f_on || f_credit >= -18'sd{m}) && (!f_act || f_cs >= -18'sd{m})",
            m = r - 1
        )
    };
    let contract = |r: u32| {
        format!(
            "!f_act || f_excess <= $signed({{3'd0, f_bt[16:0]}}) + 20'sd{}",
            r - 1
        )
    };
    let mut properties = vec![
        prop(
            "bubble_only_when_enabled",
            "the throttle is in BUBBLE only while WINDOW != 0",
            "!st_bubble || window$q != 16'd0".into(),
        ),
        prop(
            "no_fire_in_bubble",
            "no request fires (nor is offered downstream) while in BUBBLE",
            "!(st_bubble && (up_ready || down_valid))".into(),
        ),
        prop(
            "off_is_pass_through",
            "WINDOW = 0 is a combinational pass-through",
            "window$q != 16'd0 || (up_ready == down_ready && down_valid == up_valid \
             && down_beats == up_beats && down_addr == up_addr)"
                .into(),
        ),
        prop(
            "invalid_config_never_takes_effect",
            "the configuration registers always hold a valid configuration (the rule of the \
             register table, golden::spec::validate): WINDOW is 0 or at least 2, TARGET at \
             least 1 while WINDOW != 0",
            throttle_config_valid(),
        ),
    ];
    let r = MAX_FIELD_BEATS;
    for (name, doc, expr) in &base {
        properties.push(prop(name, doc, expr.clone()));
    }
    properties.push(prop(
        "credit_at_least_one_minus_r",
        &format!(
            "CREDIT >= {} (a request fires only with CREDIT >= 1)",
            1 - r as i32
        ),
        floor(r),
    ));
    properties.push(prop(
        "contract",
        &format!(
            "beats granted in any t cycles with one configuration <= BURST + TARGET + {} + \
             TARGET*ceil(t/WINDOW), for any beats field (R = {r})",
            r - 1
        ),
        contract(r),
    ));
    // The same for well-formed requests (R = 4), under that assumption; the group repeats the
    // strengthening it needs.
    let wf = (
        format!("!up_valid || up_beats <= 3'd{}", spec::MAX_BEATS),
        format!("well-formed requests: at most {} beats", spec::MAX_BEATS),
    );
    let r = spec::MAX_BEATS;
    let mut lemmas: Vec<String> = properties
        .iter()
        .take(4)
        .map(|p| p.expr.clone())
        .chain(base.iter().map(|(_, _, e)| e.clone()))
        .map(|e| format!("({e})"))
        .collect();
    lemmas.push(floor(r));
    let mut wf_lemmas = prop(
        "well_formed_strengthening",
        &format!(
            "the strengthening above with CREDIT >= {} (requests of at most {r} beats)",
            1 - r as i32
        ),
        lemmas.join(" && "),
    );
    wf_lemmas.assumptions = vec![wf.clone()];
    let mut wf_contract = prop(
        "contract_well_formed",
        &format!(
            "beats granted in any t cycles with one configuration <= BURST + TARGET + {} + \
             TARGET*ceil(t/WINDOW), for requests of at most R = {r} beats",
            r - 1
        ),
        contract(r),
    );
    wf_contract.assumptions = vec![wf];
    properties.push(wf_lemmas);
    properties.push(wf_contract);
    FormalProblem {
        top,
        verilog: text,
        monitors: throttle_monitor(),
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
                "the command queue holds at most {depth} commands and cmd_ready is high \
                 exactly when it has room"
            ),
            format!("q_count <= 5'd{depth} && cmd_ready == (q_count != 5'd{depth})"),
        ),
        bounded(
            "request_held_until_fire",
            "a request that is presented and not accepted is presented unchanged (beats and \
             address) in the next cycle",
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
    fn property_texts_have_no_runs_of_spaces() {
        let problems = [throttle(), arbiter(4).unwrap(), {
            let (p, rows) = tile_params(2).unwrap();
            tile(&p, rows).unwrap()
        }];
        for p in problems.iter().flat_map(|f| &f.properties) {
            for text in [&p.doc, &p.expr] {
                assert!(!text.contains("  "), "{}: {text:?}", p.name);
            }
        }
    }

    #[test]
    fn config_rule_comes_from_the_register_table() {
        assert_eq!(
            throttle_config_valid(),
            "(window$q == 16'd0 || window$q >= 16'd2) && (window$q == 16'd0 || target$q >= 16'd1)"
        );
        let v = throttle().verilog;
        for name in ["window$q", "target$q", "burst$q"] {
            assert!(v.contains(name), "the RTL has no {name}");
        }
    }

    #[test]
    fn properties_are_inserted_inside_the_top() {
        let p = throttle();
        let v = p.verilog_with(&[0, 1]);
        let body = &v[v.find("module moca_throttle(").unwrap()..];
        let ifdef = body.find("`ifdef FORMAL").unwrap();
        assert!(ifdef < body.find("endmodule // moca_throttle\n").unwrap());
        assert!(v.contains("// no_fire_in_bubble"));
        assert!(!v.contains("// contract"));
        assert!(
            v.contains("reg f_act"),
            "the contract monitor is in the property block"
        );
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

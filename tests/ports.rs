//! Every block's RTL ports equal its golden declaration (names, directions, widths), checked
//! on the emitted Verilog without Verilator: a port renamed or resized on one side fails here,
//! not only when a co-simulation loads the model.

use golden::arbiter::ArbiterOut;
use golden::observe::{ArbiterOutPorts, Ports};
use golden::soc::{BACKDOOR_PORTS, MocaSoc, SocParams};
use golden::throttle::{ThrottleIn, ThrottleOut};
use sim::interface::{Declared, check};
use sim::ports::parse_ports;

fn assert_matches(
    v: &hw::emit::VerilogTop,
    declared: &Declared,
    backdoor: &[golden::observe::Port],
) {
    let rtl = parse_ports(&v.text, &v.top).expect("emitted Verilog parses");
    let bound = check(&rtl, "clock", &declared.ports, backdoor)
        .unwrap_or_else(|e| panic!("{}: {e}", v.top));
    assert_eq!(bound.ports.len(), declared.ports.len());
}

#[test]
fn throttle_ports_equal_the_declaration() {
    let sample = (ThrottleIn::default(), ThrottleOut::default());
    assert_matches(&hw::emit::throttle(), &Declared::of(&sample), &[]);
}

#[test]
fn arbiter_ports_equal_the_declaration() {
    for n in [golden::spec::MIN_PORTS, 4, golden::spec::MAX_PORTS] {
        let i = golden::arbiter::ArbiterIn {
            req: vec![Default::default(); n],
            ..Default::default()
        };
        let o = ArbiterOut::default();
        let sample = (&i, ArbiterOutPorts { out: &o, ports: n });
        assert_matches(&hw::emit::arbiter(n).unwrap(), &Declared::of(&sample), &[]);
    }
}

#[test]
fn soc_ports_equal_the_declaration() {
    for (tiles, dim) in [(1, 16), (2, 2), (3, 4)] {
        let mut p = SocParams::new(tiles, dim).unwrap();
        p.mem_rows = 256;
        let mut soc = MocaSoc::new(p).unwrap();
        let declared = Declared::of(soc.step());
        assert_matches(&hw::emit::soc(&p).unwrap(), &declared, &BACKDOOR_PORTS);
    }
}

#[test]
fn tile_bench_ports_equal_the_declaration() {
    for dim in [2, 4, 16] {
        let p = golden::tile::TileParams::new(dim).unwrap();
        let sample = golden::tile_bench::BenchCycle::default();
        let v = hw::emit::tile_bench(&p, 256, 3).unwrap();
        assert_matches(&v, &Declared::of(&sample), &BACKDOOR_PORTS);
    }
}

#[test]
fn a_resized_declaration_is_caught() {
    let sample = (ThrottleIn::default(), ThrottleOut::default());
    let mut declared = Declared::of(&sample);
    let v = hw::emit::throttle();
    let rtl = parse_ports(&v.text, &v.top).unwrap();
    let k = declared
        .ports
        .iter()
        .position(|p| p.to_string() == "st_credit")
        .unwrap();
    declared.ports[k].width -= 1;
    let e = check(&rtl, "clock", &declared.ports, &[]).unwrap_err();
    let bits = golden::spec::CREDIT_BITS;
    let want = format!("`st_credit` is {bits} bits wide in the RTL, {}", bits - 1);
    assert!(e.contains(&want), "{e}");
    assert!(
        sample
            .declarations()
            .iter()
            .all(|p| (1..=64).contains(&p.width))
    );
}

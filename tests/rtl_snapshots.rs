//! Snapshots of the emitted Verilog at default parameters. A change to a block's RTL shows up
//! here as a diff to review (`cargo insta review`), so no RTL change lands unseen.

#[test]
fn throttle_verilog() {
    insta::assert_snapshot!("moca_throttle", hw::emit::throttle().text);
}

#[test]
fn arbiter_verilog_default_ports() {
    let ports = golden::spec::DEFAULT_PORTS;
    insta::assert_snapshot!("moca_arbiter_p4", hw::emit::arbiter(ports).unwrap().text);
}

#[test]
fn emission_is_deterministic_and_parameterised() {
    assert_eq!(hw::emit::throttle(), hw::emit::throttle());
    let a2 = hw::emit::arbiter(2).unwrap();
    let a16 = hw::emit::arbiter(16).unwrap();
    assert!(a2.text.contains("module moca_arbiter_p2("));
    assert!(a2.text.contains("// parameter PORTS = 2"));
    assert!(a16.text.contains("req_valid$15"));
    assert!(!a2.text.contains("req_valid$2"));
    assert!(hw::emit::arbiter(0).is_err());
    assert!(hw::emit::arbiter(17).is_err());
}

#[test]
fn soc_verilog_small_configuration() {
    // Two tiles, DIM 2, minimal scratchpad/accumulator, 64 memory rows, latency 2.
    let mut p = golden::soc::SocParams::new(2, 2).unwrap();
    p.tile.sp_rows = 8;
    p.tile.acc_rows = 4;
    p.mem_rows = 64;
    p.latency = 2;
    p.validate().unwrap();
    let v = hw::emit::soc(&p).unwrap();
    assert_eq!(v.top, "moca_soc_t2_d2");
    insta::assert_snapshot!("moca_soc_t2_d2", v.text);
}

#[test]
fn tile_verilog_small_configuration() {
    // One tile alone at DIM 2 with the minimal scratchpad and accumulator, 64 memory rows.
    let p = golden::tile::TileParams::with_rows(2, 8, 4).unwrap();
    let v = hw::emit::tile(&p, 64).unwrap();
    assert_eq!(v.top, "moca_tile_d2");
    assert_eq!(v, hw::emit::tile(&p, 64).unwrap());
    assert!(hw::emit::tile(&p, 0).is_err());
    insta::assert_snapshot!("moca_tile_d2", v.text);
}

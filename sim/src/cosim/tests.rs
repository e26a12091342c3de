//! Unit tests of the engine's reporting and of the block adapters' port values.

use super::*;
use golden::arbiter::Policy;
use golden::cfg::ThrottleConfig;
use golden::observe::ArbiterOutPorts;
use golden::spec;
use golden::stimulus::Demand;
use golden::throttle::State;

fn run_values<B: CosimBlock>(b: &mut B, cycles: usize) -> Vec<(Vec<u64>, Vec<u64>)> {
    (0..cycles)
        .map(|_| {
            let mut i = vec![0; b.input_names().len()];
            let mut o = vec![0; b.output_names().len()];
            b.step(&mut i, &mut o);
            (i, o)
        })
        .collect()
}

/// The values `CosimBlock::step` wrote carry, under the block's port names, the values the
/// string form (`Ports::port_list`) of the same cycle gives those names, and every port is
/// either an input or an output.
fn assert_lined_up<B: CosimBlock + ?Sized>(b: &B, typed: &impl Ports, i: &[u64], o: &[u64]) {
    let list = typed.port_list();
    assert_eq!(list.len(), i.len() + o.len());
    let names = b.input_names().iter().zip(i);
    for (n, v) in names.chain(b.output_names().iter().zip(o)) {
        let named = list.iter().find(|p| p.0 == *n).map(|p| p.1);
        assert_eq!(named, Some(*v), "{n}");
    }
}

#[test]
fn fast_values_follow_observe_names() {
    let cfg = ThrottleConfig::new(40, 9, Some(20)).unwrap();
    let mut t = ThrottleBlock::new(5, Demand::Random, cfg);
    let mut check = ThrottleBlock::new(5, Demand::Random, cfg);
    for _ in 0..3000 {
        let mut i = vec![0; 7];
        let mut o = vec![0; 14];
        t.step(&mut i, &mut o);
        assert_lined_up(&t, &check.step_typed(), &i, &o);
    }
    assert_eq!(t.input_names()[0], "up_valid");
    assert_eq!(t.output_names()[7], "st_wc");
    let mut a = ArbiterBlock::new(2, 3, Policy::Fixed).unwrap();
    let mut check = ArbiterBlock::new(2, 3, Policy::Fixed).unwrap();
    for _ in 0..3000 {
        let mut i = vec![0; a.input_names().len()];
        let mut o = vec![0; a.output_names().len()];
        a.step(&mut i, &mut o);
        let (ci, co) = check.step_typed();
        assert_lined_up(&a, &(ci, ArbiterOutPorts { out: &co, ports: 3 }), &i, &o);
    }
    assert_eq!(a.input_names()[0], "req_valid$0");
    assert_eq!(a.output_names()[1], "req_ready$0");
    let p = golden::soc::SocParams::new(2, 4).unwrap();
    let shape = golden::compile::GemmShape::new(8, 16, 16).unwrap();
    let mut s = SocBlock::new(p, &[shape; 2], &[], 3, 8).unwrap();
    let mut check = s.golden().clone();
    let (mut i, mut o) = (vec![0; 2 * 5 + 3], vec![0; 2 * 14 + 6]);
    for _ in 0..s.cycles() {
        s.step(&mut i, &mut o);
        assert_lined_up(&s, check.step(), &i, &o);
    }
    assert!(check.is_idle());
    assert_eq!(s.input_names()[5], "cmd_valid$1");
    assert_eq!(s.output_names()[2 * 14], "mem_valid");
}

#[test]
fn reset_replays_the_same_stream() {
    let cfg = ThrottleConfig::new(30, 7, None).unwrap();
    let mut t = ThrottleBlock::new(8, Demand::Random, cfg);
    let a = run_values(&mut t, 2000);
    let stats = t.stats();
    t.reset();
    assert_eq!(t.stats(), ThrottleStats::default());
    assert_eq!(run_values(&mut t, 2000), a);
    assert_eq!(t.stats(), stats);
    assert!(stats.granted_beats > 0 && stats.bubble_cycles > 0);
    let mut b = ArbiterBlock::new(4, 4, Policy::RoundRobin).unwrap();
    let x = run_values(&mut b, 1000);
    b.reset();
    assert_eq!(run_values(&mut b, 1000), x);
    assert_eq!(b.stats().grants_per_port.len(), 4);
    assert!(b.stats().grants_per_port.iter().all(|&g| g > 0));
}

#[test]
fn random_stimulus_writes_mid_window_and_mid_bubble() {
    let cfg = ThrottleConfig::new(60, 20, None).unwrap();
    let mut t = ThrottleBlock::new(1, Demand::Random, cfg);
    let (mut mid_bubble, mut mid_window, mut invalid) = (0, 0, 0);
    let (mut prev_write, mut prev_error) = (false, false);
    for _ in 0..200_000 {
        let (i, o) = t.step_typed();
        if i.cfg.we && i.cfg.addr <= spec::throttle::BURST {
            match o.status.state {
                State::Bubble => mid_bubble += 1,
                State::Monitor if o.status.wc > 0 => mid_window += 1,
                State::Monitor => {}
            }
        }
        // A refused write sets the sticky CFG_ERROR at its edge.
        if prev_write && !prev_error && o.status.cfg_error {
            invalid += 1;
        }
        (prev_write, prev_error) = (i.cfg.we, o.status.cfg_error);
    }
    assert!(
        mid_bubble > 20 && mid_window > 50,
        "{mid_bubble} {mid_window}"
    );
    assert!(invalid > 10, "{invalid}");
}

#[test]
fn history_table_marks_differences() {
    let h = History {
        inputs: vec!["a".into()],
        outputs: vec!["q".into(), "long_name".into()],
        rows: vec![
            HistoryRow {
                cycle: 9,
                inputs: vec![1],
                rtl: vec![2, 3],
                golden: vec![2, 3],
            },
            HistoryRow {
                cycle: 10,
                inputs: vec![0],
                rtl: vec![0x1f, 3],
                golden: vec![2, 3],
            },
        ],
    };
    let t = h.to_string();
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 5, "{t}");
    assert!(lines[0].contains("cycle") && lines[0].contains("| "), "{t}");
    assert!(
        lines[3].trim_start().starts_with("10 rtl") && lines[3].contains("*1f"),
        "{t}"
    );
    assert!(lines[4].contains("gold") && lines[4].contains("*2"), "{t}");
    assert!(!lines[1].contains('*'), "{t}");
}

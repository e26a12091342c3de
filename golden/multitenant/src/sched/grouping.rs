//! The MoCA artifact's 1+1 grouping (`workload_grouping`, `include/workload.h:420-540` of
//! SeahK/gemmini-rocc-tests-moca-ae; `../shared/workloads/firesim/README.md`).
//!
//! **The rule.** In a queue (the artifact: one sub-group's round list, queue level 0, then 1,
//! then 2), every ResNet-50, AlexNet or YOLOv2 entry, in order, takes as its partner the first
//! *later* entry of an allowed type (`networks.csv groups_with`) that is not yet marked; that
//! entry is marked consumed (printed `-7`) and the primary's entry holds the partner's id. A
//! partner that is itself a ResNet-50/AlexNet/YOLOv2 gets its mark overwritten by its own partner
//! when it is processed (a chain). [`group_table`] reproduces the artifact's printed `grouped`
//! tables.
//!
//! **The execution** (`workload_group_function`, `workload.h:837-1419`): the primary's still
//! pending leading parts run on both tiles of its sub-group (`<net>_function_1`), then tile `2s`
//! runs the primary's last part while tile `2s+1` runs the partner's part(s) on one tile
//! (`<net>_block_function_1`) — ResNet-50/YOLOv2 primaries: SqueezeNet/YOLO-lite whole,
//! KWS/AlexNet/GoogLeNet part 1; AlexNet primary: GoogLeNet/KWS whole, YOLOv2/ResNet-50 parts 1-2
//! ([`partner_parts`]). Partners, SqueezeNet and YOLO-lite run without throttling
//! (`dram_util = -1`); everything else with MoCA's runtime throttling.
//!
//! The harness reads `workload_group[type]` with a 1-based type (an off-by-one, the README's
//! quirk 2) where `workload_group[type - 1]` (the network's part count) is intended; this module
//! implements the intended rule: a task runs at its own turn until all its parts are done.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// How the MoCA scheduler co-locates tasks (`[scheduler] moca_grouping`, `moca run --grouping`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grouping {
    /// moca's memory-aware pairing: whole tasks on 2-tile groups, a candidate that would push the
    /// running tasks' summed memory intensity over the contention limit loses priority.
    #[default]
    MemoryAware,
    /// The artifact's 1+1 grouping of a heavy network's last part with a light partner (this
    /// module), with the intended `workload_group[type - 1]`.
    Artifact,
}

impl Grouping {
    /// Both, the default first.
    pub const ALL: [Grouping; 2] = [Grouping::MemoryAware, Grouping::Artifact];

    /// Name as in the TOML and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Grouping::MemoryAware => "memory-aware",
            Grouping::Artifact => "artifact",
        }
    }
}

impl fmt::Display for Grouping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown grouping name.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("unknown grouping `{0}`: expected memory-aware or artifact")]
pub struct UnknownGrouping(pub String);

impl FromStr for Grouping {
    type Err = UnknownGrouping;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Grouping::ALL
            .into_iter()
            .find(|g| g.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownGrouping(s.to_string()))
    }
}

/// The artifact's networks (`include/workload.h:10-16`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Kind {
    /// 1
    Resnet50,
    /// 2
    Alexnet,
    /// 3
    Googlenet,
    /// 4
    Squeezenet,
    /// 5
    Kws,
    /// 6
    Yolov2,
    /// 7
    Yololite,
}

impl Kind {
    /// The kind of a network name of `data/layers.csv` (None for networks the artifact lacks).
    pub fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "resnet50" => Kind::Resnet50,
            "alexnet" => Kind::Alexnet,
            "googlenet" => Kind::Googlenet,
            "squeezenet" => Kind::Squeezenet,
            "kws" => Kind::Kws,
            "yolov2" => Kind::Yolov2,
            "yololite" => Kind::Yololite,
            _ => return None,
        })
    }

    /// Whether it takes a partner (ResNet-50, AlexNet, YOLOv2).
    pub fn is_primary(self) -> bool {
        matches!(self, Kind::Resnet50 | Kind::Alexnet | Kind::Yolov2)
    }

    /// Partner types a primary may take (`networks.csv groups_with`).
    pub fn groups_with(self) -> &'static [Kind] {
        use Kind::*;
        match self {
            Resnet50 | Yolov2 => &[Googlenet, Squeezenet, Yololite, Kws, Alexnet],
            Alexnet => &[Googlenet, Yolov2, Kws, Resnet50],
            _ => &[],
        }
    }

    /// Conv/matmul layers per part of the 2-tile path (`networks.csv function_parts`).
    pub fn function_parts(self) -> &'static [usize] {
        use Kind::*;
        match self {
            Resnet50 => &[12, 13, 19, 10],
            Alexnet => &[5, 5],
            Googlenet => &[3, 55],
            Squeezenet => &[26],
            Kws => &[14, 11],
            Yolov2 => &[4, 9, 6],
            Yololite => &[7],
        }
    }

    /// Conv/matmul layers per part of the 1-tile path used by grouping (`block_parts`).
    pub fn block_parts(self) -> &'static [usize] {
        match self {
            Kind::Kws => &[12, 13],
            k => k.function_parts(),
        }
    }

    /// Whether the harness runs it without throttling even alone (`workload.h:758,774,803,819`).
    pub fn never_throttled(self) -> bool {
        matches!(self, Kind::Squeezenet | Kind::Yololite)
    }
}

/// Block parts a partner runs next to a primary's last part (all of them = the whole network).
pub fn partner_parts(primary: Kind, partner: Kind) -> usize {
    use Kind::*;
    match (primary, partner) {
        (Resnet50 | Yolov2, Squeezenet | Yololite) => partner.block_parts().len(),
        (Resnet50 | Yolov2, _) => 1,
        (Alexnet, Googlenet | Kws) => partner.block_parts().len(),
        (Alexnet, _) => 2,
        _ => 0,
    }
}

/// Layers (conv-counted) a partner runs next to a primary, capped at the network's layers.
pub fn partner_layers(primary: Kind, partner: Kind, layers: usize) -> usize {
    let parts = partner_parts(primary, partner);
    partner.block_parts()[..parts.min(partner.block_parts().len())]
        .iter()
        .sum::<usize>()
        .min(layers)
}

/// First layer of a primary's last part (where it moves to one tile next to its partner).
pub fn last_part_start(primary: Kind, layers: usize) -> usize {
    let p = primary.function_parts();
    p[..p.len() - 1].iter().sum::<usize>().min(layers)
}

/// An entry of the artifact's printed `grouped` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Grouped {
    /// `-1`: no partner.
    None,
    /// `-7`: taken as another entry's partner (and not itself a primary with a partner).
    Consumed,
    /// The partner's queue position.
    Partner(usize),
}

/// `workload_grouping` over one queue of network kinds (None = a network the artifact lacks,
/// never grouped): the grouped table, entry by entry.
pub fn group_table(kinds: &[Option<Kind>]) -> Vec<Grouped> {
    let mut g = vec![Grouped::None; kinds.len()];
    for i in 0..kinds.len() {
        let Some(k) = kinds[i].filter(|k| k.is_primary()) else {
            continue;
        };
        let allowed = k.groups_with();
        if let Some(j) = (i + 1..kinds.len())
            .find(|&j| g[j] == Grouped::None && kinds[j].is_some_and(|p| allowed.contains(&p)))
        {
            g[i] = Grouped::Partner(j);
            g[j] = Grouped::Consumed;
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use Kind::*;

    fn k(v: &[Kind]) -> Vec<Option<Kind>> {
        v.iter().map(|&x| Some(x)).collect()
    }

    #[test]
    fn hand_made_queue_with_a_chain() {
        use Grouped::*;
        // Each primary takes the first later unmarked entry of an allowed type: resnet50 -> kws,
        // alexnet -> googlenet, yolov2 -> squeezenet; yololite is left alone.
        let q = k(&[
            Resnet50, Kws, Alexnet, Googlenet, Yolov2, Squeezenet, Yololite,
        ]);
        assert_eq!(
            group_table(&q),
            vec![
                Partner(1),
                Consumed,
                Partner(3),
                Consumed,
                Partner(5),
                Consumed,
                None
            ]
        );
        // A chain: resnet50 takes alexnet, whose -7 is overwritten by its own partner, kws;
        // alexnet may not take yololite.
        let q = k(&[Resnet50, Alexnet, Kws, Yololite]);
        assert_eq!(
            group_table(&q),
            vec![Partner(1), Partner(2), Consumed, None]
        );
        // A consumed entry is never taken twice: resnet50 takes squeezenet, alexnet then takes
        // kws, not the consumed squeezenet (which it may not take anyway).
        let q = k(&[Resnet50, Squeezenet, Alexnet, Kws]);
        assert_eq!(
            group_table(&q),
            vec![Partner(1), Consumed, Partner(3), Consumed]
        );
        // alexnet skips squeezenet, yololite and an unknown network and takes yolov2 (a chain
        // again: yolov2 then takes squeezenet); the last resnet50 finds no later entry.
        let q = vec![
            Some(Alexnet),
            Some(Squeezenet),
            Some(Yololite),
            Option::None,
            Some(Yolov2),
            Some(Squeezenet),
            Some(Resnet50),
        ];
        assert_eq!(
            group_table(&q),
            vec![Partner(4), None, None, None, Partner(5), Consumed, None]
        );
        // Light networks never take a partner.
        assert_eq!(
            group_table(&k(&[Kws, Squeezenet, Googlenet])),
            vec![None; 3]
        );
    }

    #[test]
    fn parts_follow_the_harness() {
        assert_eq!(last_part_start(Resnet50, 54), 44);
        assert_eq!(last_part_start(Alexnet, 10), 5);
        assert_eq!(last_part_start(Yolov2, 19), 13);
        assert_eq!(partner_layers(Resnet50, Squeezenet, 26), 26);
        assert_eq!(partner_layers(Resnet50, Kws, 25), 12);
        assert_eq!(partner_layers(Yolov2, Alexnet, 10), 5);
        assert_eq!(partner_layers(Alexnet, Resnet50, 54), 25);
        assert_eq!(partner_layers(Alexnet, Yolov2, 19), 13);
        assert_eq!(partner_layers(Alexnet, Kws, 25), 25);
        assert_eq!(partner_layers(Yolov2, Googlenet, 58), 3);
    }
}

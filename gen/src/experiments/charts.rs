//! The sweep's SVG charts (and `bandwidth.csv`, the data of the bandwidth chart).

use super::*;

const COLORS: [&str; 4] = ["#1b9e77", "#7570b3", "#d95f02", "#e7298a"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A grouped bar chart: one group per (set, QoS), one bar per policy.
pub fn bar_chart(cells: &[Cell], title: &str, value: impl Fn(&Cell) -> f64) -> String {
    let mut groups: Vec<(String, String)> = cells
        .iter()
        .map(|c| (c.set.clone(), c.qos.clone()))
        .collect();
    groups.dedup();
    groups.sort();
    groups.dedup();
    let vals: Vec<f64> = cells.iter().map(&value).filter(|v| v.is_finite()).collect();
    let vmax = vals.iter().cloned().fold(1.0, f64::max) * 1.1;
    let (w, h, left, top, bottom) = (80.0 + 70.0 * groups.len() as f64, 320.0, 50.0, 40.0, 60.0);
    let plot_h = h - top - bottom;
    let y = |v: f64| top + plot_h * (1.0 - v / vmax);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{:.0}\" y=\"20\" text-anchor=\"middle\" font-size=\"13\">{}</text>\n",
        w / 2.0,
        esc(title)
    );
    // Axis and grid.
    let mut tick = 0.0;
    while tick <= vmax {
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{:.0}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{tick:.2}</text>",
            w - 10.0,
            y(tick),
            y(tick),
            left - 4.0,
            y(tick) + 4.0
        );
        tick += if vmax > 3.0 { 1.0 } else { 0.25 };
    }
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" x2=\"{:.0}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\" stroke-dasharray=\"4 2\"/>",
        w - 10.0,
        y(1.0),
        y(1.0)
    );
    let bw = 14.0;
    for (gi, (set, qos)) in groups.iter().enumerate() {
        let gx = left + 10.0 + 70.0 * gi as f64;
        for (pi, p) in Policy::ALL.iter().enumerate() {
            let Some(c) = cells
                .iter()
                .find(|c| &c.set == set && &c.qos == qos && c.policy == *p)
            else {
                continue;
            };
            let v = value(c);
            if !v.is_finite() {
                continue;
            }
            let x = gx + bw * pi as f64;
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} {set}/{qos}: {v:.3}</title></rect>",
                y(v),
                bw - 2.0,
                (y(0.0) - y(v)).max(0.0),
                COLORS[pi],
                p
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}/{}</text>",
            gx + 2.0 * bw,
            h - bottom + 15.0,
            esc(set),
            esc(qos)
        );
    }
    for (pi, p) in Policy::ALL.iter().enumerate() {
        let x = left + 90.0 * pi as f64;
        let _ = writeln!(
            s,
            "<rect x=\"{x:.0}\" y=\"{:.0}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.0}\" y=\"{:.0}\">{p}</text>",
            h - 25.0,
            COLORS[pi],
            x + 14.0,
            h - 16.0
        );
    }
    s.push_str("</svg>\n");
    s
}

pub(super) fn write_bandwidth(dir: &Path, exp: &Experiment, r: &RunReport) -> Result<()> {
    let mut csv =
        String::from("start_cycle,end_cycle,task,network,tiles,dram_rows_per_cycle,throttled\n");
    for smp in &r.sim.trace {
        for &(task, net, tiles, bw, thr) in &smp.tenants {
            writeln!(
                csv,
                "{},{},{},{},{},{:.5},{}",
                smp.start, smp.end, task, exp.network_names[net], tiles, bw, thr
            )?;
        }
    }
    write(&dir.join("bandwidth.csv"), &csv)?;
    // Stacked area (as steps) per network over the first part of the run.
    let end = r.sim.trace.last().map_or(1, |s| s.end).max(1) as f64;
    let horizon = (end * 0.25).max(1.0);
    let (w, h, left, top, bottom) = (900.0, 360.0, 60.0, 40.0, 60.0);
    let plot_w = w - left - 20.0;
    let plot_h = h - top - bottom;
    let peak = exp.sim.dram_peak_rows_per_cycle;
    let ymax = peak * 1.1;
    let x = |t: f64| left + plot_w * (t / horizon).min(1.0);
    let y = |v: f64| top + plot_h * (1.0 - v / ymax);
    let palette = [
        "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
    ];
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{:.0}\" y=\"20\" text-anchor=\"middle\" font-size=\"13\">DRAM bandwidth per network, MoCA, set {} QoS {} seed {} (first {:.0} Mcycles)</text>\n",
        w / 2.0,
        esc(&r.set),
        esc(&r.qos),
        r.seed,
        horizon / 1e6
    );
    // Average each network's bandwidth over fixed time bins (stacked), so that the chart stays
    // small whatever the number of events.
    const BINS: usize = 400;
    let nets = exp.network_names.len();
    let bin = horizon / BINS as f64;
    let mut acc = vec![vec![0.0f64; nets]; BINS];
    for smp in &r.sim.trace {
        let (t0, t1) = (smp.start as f64, (smp.end as f64).min(horizon));
        if t0 >= horizon {
            break;
        }
        let (b0, b1) = ((t0 / bin) as usize, ((t1 / bin) as usize).min(BINS - 1));
        for (bi, row) in acc.iter_mut().enumerate().take(b1 + 1).skip(b0) {
            let lo = t0.max(bi as f64 * bin);
            let hi = t1.min((bi + 1) as f64 * bin);
            if hi <= lo {
                continue;
            }
            for &(_, net, _, bw, _) in &smp.tenants {
                row[net] += bw * (hi - lo) / bin;
            }
        }
    }
    for (bi, row) in acc.iter().enumerate() {
        let mut base = 0.0;
        for (net, &bw) in row.iter().enumerate() {
            if bw <= 1e-6 {
                continue;
            }
            let _ = writeln!(
                s,
                "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{}\"/>",
                x(bi as f64 * bin),
                y(base + bw),
                x(bin) - x(0.0),
                y(base) - y(base + bw),
                palette[net % palette.len()]
            );
            base += bw;
        }
    }
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" x2=\"{:.0}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\" stroke-dasharray=\"4 2\"/><text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">peak {peak}</text>",
        left + plot_w,
        y(peak),
        y(peak),
        left + plot_w,
        y(peak) - 3.0
    );
    let _ = writeln!(
        s,
        "<text x=\"15\" y=\"{:.0}\" transform=\"rotate(-90 15 {:.0})\" text-anchor=\"middle\">rows (16 B) / cycle</text>",
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    for (i, n) in exp.network_names.iter().enumerate() {
        let lx = left + 110.0 * i as f64;
        let _ = writeln!(
            s,
            "<rect x=\"{lx:.0}\" y=\"{:.0}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.0}\" y=\"{:.0}\">{}</text>",
            h - 25.0,
            palette[i % palette.len()],
            lx + 14.0,
            h - 16.0,
            esc(n)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\">cycles (stacked per network, averaged over {BINS} bins)</text>",
        left + plot_w / 2.0,
        h - 35.0
    );
    s.push_str("</svg>\n");
    write(&dir.join("bandwidth.svg"), &s)
}

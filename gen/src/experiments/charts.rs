//! The sweep's charts, drawn with `plotters` as SVG and PNG (every chart has a title, labelled
//! axes with ticks and values, and a legend), and `bandwidth.csv`, the data of the bandwidth
//! chart.
//!
//! Text is laid out (both formats) and rasterised (PNG) with one font compiled into the binary
//! (Ubuntu Light from the `epaint_default_fonts` crate, registered with plotters' `ab_glyph`
//! backend as `sans-serif`), so no chart depends on the fonts installed on the machine.

use super::*;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::sync::OnceLock;

/// A chart in both formats.
pub struct Chart {
    /// The SVG document.
    pub svg: String,
    /// The PNG image (8-bit RGB).
    pub png: Vec<u8>,
}

/// Register the chart font once per process (plotters keeps fonts in a global table).
fn register_font() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        )
        .is_ok()
    });
    anyhow::ensure!(ok, "the chart font (Ubuntu Light) could not be loaded");
    Ok(())
}

/// Draw one chart of `size` pixels with `draw` into an SVG string and a PNG image.
fn render(
    size: (u32, u32),
    draw: impl Fn(DrawingArea<SVGBackend, Shift>) -> Result<()>,
    draw_png: impl Fn(DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<Chart> {
    register_font()?;
    let mut svg = String::new();
    draw(SVGBackend::with_string(&mut svg, size).into_drawing_area())?;
    let mut rgb = vec![0u8; 3 * size.0 as usize * size.1 as usize];
    draw_png(BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area())?;
    let mut png = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png, size.0, size.1);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()?.write_image_data(&rgb)?;
    }
    Ok(Chart { svg, png })
}

/// One colour per policy, in [`Policy::ALL`] order.
const POLICY_COLORS: [RGBColor; 4] = [
    RGBColor(0x1b, 0x9e, 0x77),
    RGBColor(0x75, 0x70, 0xb3),
    RGBColor(0xd9, 0x5f, 0x02),
    RGBColor(0xe7, 0x29, 0x8a),
];

/// One colour per network (cycled).
const NET_COLORS: [RGBColor; 8] = [
    RGBColor(0x1b, 0x9e, 0x77),
    RGBColor(0xd9, 0x5f, 0x02),
    RGBColor(0x75, 0x70, 0xb3),
    RGBColor(0xe7, 0x29, 0x8a),
    RGBColor(0x66, 0xa6, 0x1e),
    RGBColor(0xe6, 0xab, 0x02),
    RGBColor(0xa6, 0x76, 0x1d),
    RGBColor(0x66, 0x66, 0x66),
];

fn draw_err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing a chart: {e}")
}

/// A grouped bar chart: one group per (set, QoS), one bar per policy, a dashed line at 1 (the
/// static partition).
pub fn bar_chart(cells: &[Cell], title: &str, value: impl Fn(&Cell) -> f64) -> Result<Chart> {
    let mut groups: Vec<(String, String)> = cells
        .iter()
        .map(|c| (c.set.clone(), c.qos.clone()))
        .collect();
    groups.sort();
    groups.dedup();
    let vmax = cells
        .iter()
        .map(&value)
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max)
        * 1.15;
    let n = groups.len().max(1);
    let width = (160 + 90 * n) as u32;
    let groups = &groups;
    let value = &value;
    render(
        (width, 360),
        |root| draw_bars(root, cells, groups, title, vmax, value),
        |root| draw_bars(root, cells, groups, title, vmax, value),
    )
}

/// The body of [`bar_chart`] on any plotters backend.
fn draw_bars<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    cells: &[Cell],
    groups: &[(String, String)],
    title: &str,
    vmax: f64,
    value: &impl Fn(&Cell) -> f64,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let n = groups.len().max(1);
    {
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..vmax)
            .map_err(draw_err)?;
        let label = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < groups.len() {
                let (set, qos) = &groups[i as usize];
                format!("{set}/{qos}")
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n + 1)
            .x_label_formatter(&label)
            .y_labels(8)
            .y_label_formatter(&|y| format!("{y:.2}"))
            .x_desc("workload set / QoS level")
            .y_desc("ratio to the static partition")
            .draw()
            .map_err(draw_err)?;
        let bw = 0.8 / Policy::ALL.len() as f64;
        for (pi, p) in Policy::ALL.iter().enumerate() {
            let color = POLICY_COLORS[pi % POLICY_COLORS.len()];
            let bars: Vec<Rectangle<(f64, f64)>> = groups
                .iter()
                .enumerate()
                .filter_map(|(gi, (set, qos))| {
                    let c = cells
                        .iter()
                        .find(|c| &c.set == set && &c.qos == qos && c.policy == *p)?;
                    let v = value(c);
                    let x0 = gi as f64 - 0.4 + bw * pi as f64;
                    v.is_finite()
                        .then(|| Rectangle::new([(x0, 0.0), (x0 + bw * 0.9, v)], color.filled()))
                })
                .collect();
            chart
                .draw_series(bars)
                .map_err(draw_err)?
                .label(p.name())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        chart
            .draw_series(DashedLineSeries::new(
                [(-0.5, 1.0), (n as f64 - 0.5, 1.0)],
                6,
                4,
                BLACK.stroke_width(1),
            ))
            .map_err(draw_err)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(())
}

/// One row of `bandwidth.csv` (serde record).
#[derive(serde::Serialize)]
struct BandwidthRow<'a> {
    start_cycle: u64,
    end_cycle: u64,
    task: usize,
    network: &'a str,
    tiles: u32,
    dram_rows_per_cycle: String,
    throttled: bool,
}

/// `bandwidth.csv`: every tenant's DRAM bandwidth in each interval of the traced run.
pub(super) fn bandwidth_csv(exp: &Experiment, r: &RunReport) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for smp in &r.sim.trace {
        for &(task, net, tiles, bw, thr) in &smp.tenants {
            w.serialize(BandwidthRow {
                start_cycle: smp.start,
                end_cycle: smp.end,
                task,
                network: &exp.network_names[net],
                tiles,
                dram_rows_per_cycle: format!("{bw:.5}"),
                throttled: thr,
            })?;
        }
    }
    Ok(w.into_inner().map_err(|e| e.into_error())?)
}

/// `bandwidth.svg` / `bandwidth.png`: per-network DRAM bandwidth over the first quarter of the
/// traced run, stacked and averaged over fixed time bins (so the chart stays small whatever the
/// number of events), with the channel's peak as a dashed line.
pub(super) fn bandwidth_chart(exp: &Experiment, r: &RunReport) -> Result<Chart> {
    let end = r.sim.trace.last().map_or(1, |s| s.end).max(1) as f64;
    let horizon = (end * 0.25).max(1.0);
    let peak = exp.sim.dram_peak_rows_per_cycle;
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
    let stacked_max = acc
        .iter()
        .map(|row| row.iter().sum::<f64>())
        .fold(peak, f64::max);
    let title = format!(
        "DRAM bandwidth per network, MoCA, set {} QoS {} seed {}",
        r.set, r.qos, r.seed
    );
    let d = BandwidthData {
        names: &exp.network_names,
        acc: &acc,
        bin,
        horizon,
        peak,
        stacked_max,
        title: &title,
    };
    render(
        (900, 400),
        |root| draw_bandwidth(root, &d),
        |root| draw_bandwidth(root, &d),
    )
}

/// What [`bandwidth_chart`] draws.
struct BandwidthData<'a> {
    names: &'a [String],
    /// Per time bin, per network: mean rows per cycle.
    acc: &'a [Vec<f64>],
    bin: f64,
    horizon: f64,
    peak: f64,
    stacked_max: f64,
    title: &'a str,
}

/// The body of [`bandwidth_chart`] on any plotters backend.
fn draw_bandwidth<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, d: &BandwidthData) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let BandwidthData {
        names,
        acc,
        bin,
        horizon,
        peak,
        stacked_max,
        title,
    } = *d;
    {
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(0f64..horizon, 0f64..stacked_max * 1.1)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_labels(10)
            .x_label_formatter(&|x| format!("{:.1}", x / 1e6))
            .y_labels(8)
            .y_label_formatter(&|y| format!("{y:.2}"))
            .x_desc("time (million cycles)")
            .y_desc("DRAM rows (16 B) per cycle")
            .draw()
            .map_err(draw_err)?;
        let mut base = vec![0.0f64; acc.len()];
        for (net, name) in names.iter().enumerate() {
            let color = NET_COLORS[net % NET_COLORS.len()];
            let rects: Vec<Rectangle<(f64, f64)>> = acc
                .iter()
                .enumerate()
                .filter(|(_, row)| row[net] > 1e-6)
                .map(|(bi, row)| {
                    let (x0, y0) = (bi as f64 * bin, base[bi]);
                    Rectangle::new([(x0, y0), (x0 + bin, y0 + row[net])], color.filled())
                })
                .collect();
            for (bi, row) in acc.iter().enumerate() {
                base[bi] += row[net];
            }
            chart
                .draw_series(rects)
                .map_err(draw_err)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, peak), (horizon, peak)],
                6,
                4,
                BLACK.stroke_width(1),
            ))
            .map_err(draw_err)?
            .label(format!("channel peak {peak} rows/cycle"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], BLACK));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(())
}

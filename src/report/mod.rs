//! The HTML report: one self-contained file (inline SVG charts drawn with `poloto`, inline CSS,
//! no scripts or external resources) that shows what a student costs and how it behaves:
//! the spike raster of one sample per layer, spike rates per layer, per-layer operations and
//! energy, the energy breakdown and target comparison, resource use against the device, and
//! the accuracy-energy trade-off table when the passes produced one.

use std::fmt::Write as _;

use serde::Serialize;

use crate::data::InputBatch;
use crate::energy::Estimate;
use crate::energy::neurobench::Counts;
use crate::hw::Plan;
use crate::names::label;
use crate::sim::cycle::{BatchResult, Tracer};

/// Spikes of one sample: per layer, (step, neuron) pairs.
#[derive(Default)]
pub struct Raster {
    step: usize,
    /// Per layer.
    pub spikes: Vec<Vec<(usize, usize)>>,
}

impl Raster {
    /// A recorder for a plan with `layers` layers.
    pub fn new(layers: usize) -> Self {
        Raster { step: 0, spikes: vec![vec![]; layers] }
    }
}

impl Tracer for Raster {
    fn neuron(&mut self, _cycle: u64, layer: usize, n: usize, _v: i64, spike: bool) {
        if spike {
            self.spikes[layer].push((self.step, n));
        }
    }
    fn neuron_at(&mut self, _cycle: u64, layer: usize, n: usize, t: usize, _v: i64, spike: bool) {
        if spike {
            self.spikes[layer].push((t, n));
        }
    }
    fn step(&mut self, _cycle: u64, t: usize) {
        self.step = t + 1;
    }
}

/// Records the spikes of sample `sample` with the cycle engine.
pub fn raster(plan: &Plan, batch: &InputBatch, sample: usize, steps: usize) -> Raster {
    let mut r = Raster::new(plan.layers.len());
    match plan.power_on.as_deref() {
        // A board design's power-on students (`compile --active-students`): the raster is the
        // design's own run, under that mask. `Plan::power_on` is only set to a mask the plan
        // runs (the driver resolves it with `Plan::masked` first), so this cannot fail.
        Some(active) => {
            crate::sim::cycle::run_traced_active(plan, batch, sample, steps, active, &mut r)
                .expect("power_on is a mask the plan takes");
        }
        None => {
            crate::sim::cycle::run_traced(plan, batch, sample, steps, &mut r);
        }
    }
    r
}

/// Spikes per neuron per step, per layer, over a whole batch run: each layer's spikes over its
/// neuron updates (neurons x the steps it ran), so a layer that runs fewer steps than the
/// design (early exit), none (an inactive student) or once per stage (the cascade's merge
/// layer) is rated over the steps it ran; 0 for a layer that ran none.
pub fn rates(plan: &Plan, run: &BatchResult) -> Vec<f64> {
    plan.layers
        .iter()
        .zip(&run.total.layers)
        .map(|(_, c)| if c.neuron_updates == 0 { 0.0 } else { c.spikes as f64 / c.neuron_updates as f64 })
        .collect()
}

/// Resource use of a built design: (resource, used, available).
pub type Resources = Vec<(String, u64, u64)>;

/// One row of an accuracy-energy trade-off table.
#[derive(Clone, Debug, Serialize)]
pub struct TradeOff {
    /// What was cut (e.g. `T = 4, students 0,2`).
    pub config: String,
    /// Accuracy or class agreement.
    pub accuracy: f64,
    /// Energy per inference (J).
    pub energy_j: f64,
    /// Cycles per inference.
    pub cycles: f64,
    /// On the Pareto front.
    pub pareto: bool,
}

/// Everything the report shows.
pub struct ReportData<'a> {
    /// Title (model file).
    pub title: String,
    /// The plan.
    pub plan: &'a Plan,
    /// Estimates: the main target first, then comparisons.
    pub estimates: Vec<Estimate>,
    /// One sample's spikes.
    pub raster: Raster,
    /// Which sample the raster shows.
    pub raster_sample: usize,
    /// Spike rate per layer (spikes per neuron per step).
    pub rates: Vec<f64>,
    /// Accuracy of the hardware plan on the inputs, when labels were given.
    pub accuracy: Option<f64>,
    /// Resource use, when the design was built.
    pub resources: Option<Resources>,
    /// Trade-off table, when passes produced one.
    pub tradeoffs: Vec<TradeOff>,
    /// NeuroBench-compatible counts (reference engine).
    pub counts: Option<Counts>,
}

/// `s` escaped for HTML text and attribute values.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `1.23 uJ`-style joules.
pub fn fmt_j(j: f64) -> String {
    let a = j.abs();
    if a >= 1e-3 {
        format!("{:.3} mJ", j * 1e3)
    } else if a >= 1e-6 {
        format!("{:.3} uJ", j * 1e6)
    } else if a >= 1e-9 {
        format!("{:.3} nJ", j * 1e9)
    } else {
        format!("{:.3} pJ", j * 1e12)
    }
}

/// An SVG chart, or an explanatory note when it cannot be drawn.
fn svg<F: FnOnce() -> Result<String, std::fmt::Error>>(f: F) -> String {
    f().unwrap_or_else(|_| "<p class=\"note\">(chart not drawn)</p>".to_string())
}

/// A horizontal bar chart with one labelled bar per (label, value).
fn bars(title: &str, xlabel: &str, items: &[(String, f64)]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let data: Vec<(f64, String)> = items.iter().map(|(l, v)| (*v, l.clone())).collect();
    svg(|| {
        poloto::build::bar::gen_simple("", data, [0.0])
            .label((title, xlabel, ""))
            .append_to(poloto::header().light_theme())
            .render_string()
    })
}

/// One point of a [`labelled_scatter`]: its label, its series and its coordinates.
pub struct Point<'a> {
    /// Shown beside the point.
    pub label: &'a str,
    /// Series (one colour and one legend entry each).
    pub series: &'a str,
    /// Coordinates.
    pub x: f64,
    /// See `x`.
    pub y: f64,
}

/// An axis of a [`labelled_scatter`]: logarithmic when every value is positive and they span
/// more than a decade, else linear; `lo..hi` in the axis' own units (log10 or value).
struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
}

impl Axis {
    fn of(v: &[f64]) -> Axis {
        let (mn, mx) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        if mn > 0.0 && mx / mn > 10.0 {
            return Axis { log: true, lo: mn.log10().floor(), hi: mx.log10().ceil().max(mn.log10().floor() + 1.0) };
        }
        let span = if mx > mn { mx - mn } else { mx.abs().max(1.0) };
        let step = nice_step(span / 5.0);
        let lo = ((mn - 0.05 * span) / step).floor() * step;
        let hi = ((mx + 0.05 * span) / step).ceil() * step;
        Axis { log: false, lo, hi: if hi > lo { hi } else { lo + step } }
    }

    /// Where `v` falls on the axis, 0..1.
    fn at(&self, v: f64) -> f64 {
        let u = if self.log { v.log10() } else { v };
        (u - self.lo) / (self.hi - self.lo)
    }

    /// Tick values and their labels.
    fn ticks(&self) -> Vec<(f64, String)> {
        if self.log {
            (self.lo as i32..=self.hi as i32).map(|e| (10f64.powi(e), tick_label(10f64.powi(e)))).collect()
        } else {
            let step = nice_step((self.hi - self.lo) / 5.0);
            let mut v = vec![];
            let mut x = (self.lo / step).ceil() * step;
            while x <= self.hi + step * 1e-9 {
                v.push((x, tick_label(x)));
                x += step;
            }
            v
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `x`.
fn nice_step(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * p).find(|&s| s >= x).unwrap_or(10.0 * p)
}

/// A short tick label: `0.5`, `20`, `1e4`.
fn tick_label(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e4).contains(&a) {
        format!("{x:e}")
    } else {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A scatter chart as SVG in which every point carries its label, each series has a colour
/// and a legend entry in the right margin, and an axis whose values span decades is
/// logarithmic. Labels that would overlap an earlier one move down a line.
pub fn labelled_scatter(title: &str, xlabel: &str, ylabel: &str, points: &[Point<'_>]) -> String {
    use std::fmt::Write as _;
    let points: Vec<&Point> = points.iter().filter(|p| p.x.is_finite() && p.y.is_finite()).collect();
    if points.is_empty() {
        return String::new();
    }
    const COLOURS: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
    let mut series: Vec<&str> = vec![];
    for p in &points {
        if !series.contains(&p.series) {
            series.push(p.series);
        }
    }
    let (w, h) = (860.0, 440.0);
    let (left, right, top, bottom) = (80.0, 170.0, 40.0, 56.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let ax = Axis::of(&points.iter().map(|p| p.x).collect::<Vec<_>>());
    let ay = Axis::of(&points.iter().map(|p| p.y).collect::<Vec<_>>());
    let px = |v: f64| left + ax.at(v) * pw;
    let py = |v: f64| top + (1.0 - ay.at(v)) * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"12\"><rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\
         <text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}</text>",
        left + pw / 2.0,
        esc(title)
    );
    let _ = write!(s, "<rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#888\"/>");
    for (v, t) in ax.ticks() {
        let x = px(v);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"{x:.1}\" y=\"{:.1}\" \
             text-anchor=\"middle\">{}</text>",
            top + ph,
            top + ph + 16.0,
            esc(&t)
        );
    }
    for (v, t) in ay.ticks() {
        let y = py(v);
        let _ = write!(
            s,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" \
             text-anchor=\"end\">{}</text>",
            left + pw,
            left - 6.0,
            y + 4.0,
            esc(&t)
        );
    }
    let log = |a: &Axis| if a.log { " (log scale)" } else { "" };
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}{}</text>\
         <text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}{}</text>",
        left + pw / 2.0,
        h - 14.0,
        esc(xlabel),
        log(&ax),
        top + ph / 2.0,
        esc(ylabel),
        log(&ay)
    );
    // Labels: right of the point, moved down while they overlap an earlier label.
    let mut boxes: Vec<(f64, f64, f64, f64)> = vec![];
    for p in &points {
        let c = COLOURS[series.iter().position(|&k| k == p.series).unwrap_or(0) % COLOURS.len()];
        let (x, y) = (px(p.x), py(p.y));
        let tw = 7.0 * p.label.chars().count() as f64 + 4.0;
        let (mut lx, mut ly) = (x + 6.0, y - 5.0);
        if lx + tw > left + pw {
            lx = x - 6.0 - tw;
        }
        for _ in 0..8 {
            if boxes.iter().any(|&(a, b, c2, d)| lx < c2 && lx + tw > a && ly - 11.0 < d && ly > b) {
                ly += 13.0;
            } else {
                break;
            }
        }
        boxes.push((lx, ly - 11.0, lx + tw, ly));
        let _ = write!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4.5\" fill=\"{c}\"><title>{}</title></circle>\
             <text x=\"{lx:.1}\" y=\"{ly:.1}\" fill=\"{c}\">{}</text>",
            esc(p.label),
            esc(p.label)
        );
    }
    for (i, k) in series.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let y = top + 14.0 + 20.0 * i as f64;
        let x = left + pw + 16.0;
        let _ = write!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"5\" fill=\"{c}\"/><text x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            y - 4.0,
            x + 10.0,
            esc(k)
        );
    }
    s.push_str("</svg>");
    s
}

/// A self-contained page: the style every report shares, the title, and `body` (HTML).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>\n\
         body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}\n\
         table{{border-collapse:collapse;margin:1em 0}} td,th{{border:1px solid #bbb;padding:3px 8px;text-align:right}}\n\
         th{{background:#eef}} td:first-child,th:first-child{{text-align:left}}\n\
         .chart svg{{max-width:100%;height:auto}} .note{{color:#666}}\n\
         tr.notes td{{text-align:left;border-top:none;font-size:90%}} details summary{{cursor:pointer;color:#555}}\n</style></head><body>\n<h1>{t}</h1>\n{body}\
         <p class=\"note\">Generated by spikefab.</p>\n</body></html>\n",
        t = esc(&label(title))
    )
}

/// Renders the report.
pub fn render(d: &ReportData) -> String {
    let plan = d.plan;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>spikefab report: {}</title>\n<style>\n\
         body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}\n\
         table{{border-collapse:collapse;margin:1em 0}} td,th{{border:1px solid #bbb;padding:3px 8px;text-align:right}}\n\
         th{{background:#eef}} td:first-child,th:first-child{{text-align:left}}\n\
         .chart svg{{max-width:100%;height:auto}} .note{{color:#666}}\n</style></head><body>\n",
        esc(&label(&d.title))
    );
    let _ = writeln!(
        h,
        "<h1>spikefab report: {}</h1>\n<p>Target {}, {} MHz; T = {}; {} layers; reset {}, fire {}.</p>",
        esc(&label(&d.title)),
        esc(&label(&plan.target)),
        plan.clock_mhz,
        plan.timesteps,
        plan.layers.len(),
        plan.reset,
        if plan.fire_on_equal { "v &gt;= THR" } else { "v &gt; THR" }
    );
    if let Some(a) = d.accuracy {
        let _ = writeln!(h, "<p>Accuracy of the hardware plan on the inputs: <b>{:.2}%</b>.</p>", a * 100.0);
    }
    if let Some(e) = d.estimates.first() {
        let _ = write!(
            h,
            "<h2>Energy per inference</h2>\n<p><b>{}</b> on {} (mean over {} inputs; min {}, max {}){}.\n\
             The same network as a conventional ANN: {} MACs, {} fp32 / {} int8 \
             (against the SNN's operation energy {}: {:.2}x / {:.2}x).</p>\n",
            fmt_j(e.energy_per_inference_j),
            esc(&label(&e.target)),
            e.samples,
            fmt_j(e.energy_min_j),
            fmt_j(e.energy_max_j),
            e.latency_s.map(|l| format!("; latency {:.1} us, {:.0} cycles", l * 1e6, e.cycles)).unwrap_or_default(),
            e.ann.macs,
            fmt_j(e.ann.fp32_j),
            fmt_j(e.ann.int8_j),
            fmt_j(e.operations_j),
            e.ann_fp32_over_snn,
            e.ann_int8_over_snn
        );
        h.push_str("<table><tr><th>component</th><th>energy per inference</th><th>share</th></tr>\n");
        for c in &e.components {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.1}%</td></tr>",
                esc(&label(&c.name)),
                fmt_j(c.joules),
                100.0 * c.joules / e.energy_per_inference_j.max(f64::MIN_POSITIVE)
            );
        }
        h.push_str("</table>\n");
        let comps: Vec<(String, f64)> = e.components.iter().map(|c| (c.name.clone(), c.joules * 1e9)).collect();
        let _ = writeln!(h, "<div class=\"chart\">{}</div>", bars("Energy by component", "nJ per inference", &comps));
        h.push_str("<h2>Per layer</h2>\n<table><tr><th>#</th><th>layer</th><th>neurons</th><th>synaptic ops</th><th>neuron updates</th><th>spikes</th><th>spike rate</th><th>energy</th></tr>\n");
        for (k, l) in e.layers.iter().enumerate() {
            let _ = writeln!(
                h,
                "<tr><td>{k}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.0}</td><td>{:.1}</td><td>{:.4}</td><td>{}</td></tr>",
                esc(&label(&l.name)),
                plan.layers[k].neurons(),
                l.synaptic_ops,
                l.neuron_updates,
                l.spikes,
                d.rates.get(k).copied().unwrap_or(0.0),
                fmt_j(l.total_j)
            );
        }
        h.push_str("</table>\n");
        let named = |f: &dyn Fn(usize) -> f64| -> Vec<(String, f64)> {
            plan.layers.iter().enumerate().map(|(k, l)| (label(&l.name), f(k))).collect()
        };
        let rates = named(&|k| d.rates.get(k).copied().unwrap_or(0.0));
        let ops = named(&|k| e.layers.get(k).map_or(0.0, |l| l.synaptic_ops));
        let ej = named(&|k| e.layers.get(k).map_or(0.0, |l| l.total_j * 1e9));
        let _ = writeln!(
            h,
            "<div class=\"chart\">{}</div>\n<div class=\"chart\">{}</div>\n<div class=\"chart\">{}</div>",
            bars("Spike rate per layer", "spikes per neuron per step", &rates),
            bars("Synaptic operations per layer", "ops per inference", &ops),
            bars("Energy per layer", "nJ per inference", &ej)
        );
        if d.estimates.len() > 1 {
            h.push_str("<h2>Across targets</h2>\n<table><tr><th>target</th><th>kind</th><th>energy per inference</th><th>latency</th><th>ANN fp32 / SNN</th></tr>\n");
            for e in &d.estimates {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}x</td></tr>",
                    esc(&label(&e.target)),
                    esc(&e.kind),
                    fmt_j(e.energy_per_inference_j),
                    e.latency_s.map(|l| format!("{:.1} us", l * 1e6)).unwrap_or_else(|| "-".into()),
                    e.ann_fp32_over_snn
                );
            }
            h.push_str("</table>\n");
            let per: Vec<(String, f64)> =
                d.estimates.iter().map(|e| (label(&e.target), e.energy_per_inference_j * 1e9)).collect();
            let _ = writeln!(h, "<div class=\"chart\">{}</div>", bars("Energy per inference by target", "nJ", &per));
        }
    }
    if let Some(c) = &d.counts {
        let _ = write!(
            h,
            "<h2>NeuroBench counts (reference engine, per sample)</h2>\n<p>{} samples, T = {}: effective ACs {:.1}, \
             effective MACs {:.1}, dense ops {:.0}, membrane updates {:.1}, neuron ops {:.1}, activation sparsity {:.4}, \
             footprint {} bytes, {} parameters, connection sparsity {:.4}.</p>\n\
             <table><tr><th>layer</th><th>op</th><th>effective ACs</th><th>effective MACs</th><th>dense ops</th>\
             <th>membrane updates</th><th>activation sparsity</th></tr>\n",
            c.samples,
            c.timesteps,
            c.effective_acs,
            c.effective_macs,
            c.dense_ops,
            c.membrane_updates,
            c.neuron_ops,
            c.activation_sparsity,
            c.footprint_bytes,
            c.parameter_count,
            c.connection_sparsity
        );
        let cell = |v: Option<f64>, digits: usize| v.map(|x| format!("{x:.digits$}")).unwrap_or_default();
        for l in &c.layers {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&label(&l.name)),
                esc(&l.op),
                cell(l.effective_acs, 1),
                cell(l.effective_macs, 1),
                cell(l.dense_ops, 0),
                cell(l.membrane_updates, 1),
                cell(l.activation_sparsity, 4)
            );
        }
        h.push_str("</table>\n");
    }
    let _ = writeln!(h, "<h2>Spike raster (sample {})</h2>", d.raster_sample);
    for (k, l) in plan.layers.iter().enumerate() {
        let pts: Vec<(f64, f64)> = d.raster.spikes[k].iter().map(|&(t, n)| (t as f64, n as f64)).collect();
        if pts.is_empty() {
            let _ = writeln!(h, "<p class=\"note\">{}: no spikes in this sample.</p>", esc(&label(&l.name)));
            continue;
        }
        let title = format!("{} ({} neurons)", label(&l.name), l.neurons());
        let chart = svg(|| {
            poloto::frame_build()
                .data(poloto::plots!(
                    poloto::build::plot("spike").scatter(pts),
                    poloto::build::markers([0.0, plan.timesteps as f64 + 1.0], [0.0])
                ))
                .build_and_label((title.as_str(), "step", "neuron"))
                .append_to(poloto::header().light_theme())
                .render_string()
        });
        let _ = writeln!(h, "<div class=\"chart\">{chart}</div>");
    }
    if let Some(r) = &d.resources {
        h.push_str("<h2>Resources against the device</h2>\n<table><tr><th>resource</th><th>used</th><th>available</th><th>use</th></tr>\n");
        for (name, used, avail) in r {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{used}</td><td>{avail}</td><td>{:.1}%</td></tr>",
                esc(name),
                if *avail > 0 { 100.0 * *used as f64 / *avail as f64 } else { 0.0 }
            );
        }
        h.push_str("</table>\n");
        let pct: Vec<(String, f64)> =
            r.iter().map(|(n, u, a)| (n.clone(), if *a > 0 { 100.0 * *u as f64 / *a as f64 } else { 0.0 })).collect();
        let _ = writeln!(h, "<div class=\"chart\">{}</div>", bars("Resource use", "% of the device", &pct));
    }
    if !d.tradeoffs.is_empty() {
        let _ = writeln!(
            h,
            "<h2>Accuracy against energy</h2>\n<p>{} configurations measured on the calibration inputs (all in the \
             plot); the {} on the Pareto front are listed.</p>",
            d.tradeoffs.len(),
            d.tradeoffs.iter().filter(|t| t.pareto).count()
        );
        h.push_str("<table><tr><th>configuration</th><th>accuracy</th><th>energy per inference</th><th>cycles</th><th>Pareto</th></tr>\n");
        for t in d.tradeoffs.iter().filter(|t| t.pareto) {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{:.4}</td><td>{}</td><td>{:.0}</td><td>{}</td></tr>",
                esc(&t.config),
                t.accuracy,
                fmt_j(t.energy_j),
                t.cycles,
                if t.pareto { "yes" } else { "" }
            );
        }
        h.push_str("</table>\n");
        let all: Vec<(f64, f64)> = d.tradeoffs.iter().map(|t| (t.energy_j * 1e9, t.accuracy)).collect();
        let mut front: Vec<(f64, f64)> =
            d.tradeoffs.iter().filter(|t| t.pareto).map(|t| (t.energy_j * 1e9, t.accuracy)).collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0));
        let chart = svg(|| {
            poloto::frame_build()
                .data(poloto::plots!(
                    poloto::build::plot("configurations").scatter(all),
                    poloto::build::plot("Pareto front").line(front)
                ))
                .build_and_label(("Accuracy against energy", "nJ per inference", "accuracy"))
                .append_to(poloto::header().light_theme())
                .render_string()
        });
        let _ = writeln!(h, "<div class=\"chart\">{chart}</div>");
    }
    h.push_str("<p class=\"note\">Generated by spikefab. Energy is an estimate from counted operations and published constants (docs/energy.md); no open power analysis exists for iCE40.</p>\n</body></html>\n");
    h
}

//! Xylo mapping: a network quantised under Xylo's rules ([`crate::quant::xylo`]) placed in
//! the chip's one hidden population and its readout, as the keyword arguments of rockpool's
//! `XyloSim.from_specification`.
//!
//! Every hidden layer of the network becomes a contiguous range of hidden neurons; all the
//! connections between hidden layers live in the one recurrent matrix (a feed-forward stack is
//! block-structured there), input projections in the input matrix, and projections into the
//! output layer in the output matrix. Layers that take input come first (`weights_in` reaches
//! the first `ien` hidden neurons) and layers that drive the outputs last (`weights_out` is
//! read from the last `oen`), which is how rockpool places them and what Xylo IMU and Xylo
//! Audio 3 require (128 each).
//!
//! Every limit comes from the target's `[chip]` section (hidden neurons, input channels,
//! outputs, input and output-source neurons, and where stated the connections between hidden
//! neurons the chip stores); the three Xylo targets differ in nothing else.
//! spikefab places every projection on the first synaptic current, so a target's second
//! current (Xylo Audio 2 and 3) stays unused and the specification has one synapse axis.
//!
//! On the chip a spike reaches another neuron one step later, so a layer `d` hidden layers
//! from the input runs `d` steps behind the model and the output `lag` steps behind
//! ([`XyloSpec::lag`]): the inference runs `T + lag` steps on zero-padded input and the
//! model's step `t` is the chip's step `t + lag`.

use serde::Serialize;

use crate::quant::{Leak, Network, ProjKind, Source};
use crate::target::Target;

/// The keyword arguments of `XyloSim.from_specification`, plus what spikefab needs to run it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct XyloSpec {
    /// Input channels (16: models with fewer inputs leave the rest unconnected).
    pub n_in: usize,
    /// Hidden neurons used.
    pub n_hidden: usize,
    /// Output neurons.
    pub n_out: usize,
    /// Synaptic currents per neuron in the weight matrices' last axis (1, or 2 on Xylo Audio 2).
    pub synapses: usize,
    /// Hidden neurons that take input (the first `ien`).
    pub ien: usize,
    /// Hidden neurons that drive the outputs (the last `oen`).
    pub oen: usize,
    /// `weights_in`, `(n_in, ien, synapses)`, C order.
    pub weights_in: Vec<i8>,
    /// `weights_rec`, `(n_hidden, n_hidden, synapses)`, source first.
    pub weights_rec: Vec<i8>,
    /// `weights_out`, `(oen, n_out)`.
    pub weights_out: Vec<i8>,
    /// Membrane decay shifts of hidden neurons.
    pub dash_mem: Vec<u8>,
    /// First synaptic decay shifts.
    pub dash_syn: Vec<u8>,
    /// Second synaptic decay shifts.
    pub dash_syn_2: Vec<u8>,
    /// Output membrane decay shifts.
    pub dash_mem_out: Vec<u8>,
    /// Output synaptic decay shifts.
    pub dash_syn_out: Vec<u8>,
    /// Hidden thresholds.
    pub threshold: Vec<i16>,
    /// Output thresholds.
    pub threshold_out: Vec<i16>,
    /// Hidden membrane biases.
    pub bias: Vec<i16>,
    /// Output membrane biases.
    pub bias_out: Vec<i16>,
    /// Left shift of the input weights.
    pub weight_shift_in: i8,
    /// Left shift of the recurrent weights.
    pub weight_shift_rec: i8,
    /// Left shift of the output weights.
    pub weight_shift_out: i8,
    /// Seconds per step.
    pub dt: f64,
    /// Steps the output runs behind the model.
    pub lag: usize,
    /// Where each network layer lives.
    pub places: Vec<Place>,
}

/// A network layer's place on the chip.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Place {
    /// Layer name.
    pub layer: String,
    /// `hidden` or `output`.
    pub population: &'static str,
    /// First neuron index in the population.
    pub first: usize,
    /// Neurons.
    pub neurons: usize,
    /// Steps behind the model.
    pub delay: usize,
}

/// Why a network cannot be placed on the chip.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{target}: {message}")]
pub struct XyloMapError {
    /// Target name.
    pub target: String,
    /// The limit and the network's figure.
    pub message: String,
}

/// Limits of a Xylo target's `[chip]` section.
#[derive(Debug, PartialEq, Eq)]
struct Limits {
    hidden: usize,
    inputs: usize,
    outputs: usize,
    input_neurons: usize,
    output_sources: usize,
    synapses: usize,
    /// Non-zero weights between hidden neurons the recurrent weight memory holds, when stated.
    hidden_synapses: Option<usize>,
}

impl Limits {
    /// What `c` states; a limit it leaves out is none beyond the hidden population (16 input
    /// channels, one synaptic current).
    fn of(c: &crate::target::ChipSpec) -> Limits {
        let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        Limits {
            hidden: n(c.neurons_per_core),
            inputs: n(c.input_channels.unwrap_or(16)),
            outputs: n(c.output_neurons.unwrap_or(u64::MAX)),
            input_neurons: n(c.input_neurons.unwrap_or(c.neurons_per_core)),
            output_sources: n(c.output_source_neurons.unwrap_or(c.neurons_per_core)),
            synapses: n(c.synapses_per_neuron.unwrap_or(1)),
            hidden_synapses: c.hidden_synapses.map(n),
        }
    }
}

/// Places `net` (quantised under [`crate::quant::Rules::xylo`]) on `target`.
pub fn map(net: &Network, target: &Target) -> Result<XyloSpec, XyloMapError> {
    let err = |message: String| XyloMapError { target: target.name.clone(), message };
    let c = target.chip.as_ref().ok_or_else(|| err("the target has no [chip] section".into()))?;
    let lim = Limits::of(c);
    if lim.synapses == 0 {
        return Err(err("chip.synapses_per_neuron is 0: Xylo's neurons have one or two synaptic currents".into()));
    }
    let name = &target.name;
    let out_k = net.output.layer;
    let outl = &net.layers[out_k];
    if !outl.spiking() {
        return Err(err(format!("the output layer '{}' must spike: Xylo reads out spiking neurons", outl.name)));
    }
    let n_in = net.input.numel();
    if n_in > lim.inputs {
        return Err(err(format!("{n_in} input channels; {name} has {} (input '{}')", lim.inputs, net.input.node)));
    }
    let n_out = outl.neurons();
    if n_out > lim.outputs {
        return Err(err(format!("{n_out} output neurons; {name} has {} (output layer '{}')", lim.outputs, outl.name)));
    }
    // Steps behind the model: input-fed layers 0, a same-step edge +1, a delayed edge +0.
    let nl = net.layers.len();
    let mut delay: Vec<Option<usize>> = vec![None; nl];
    for _ in 0..=nl {
        for (k, l) in net.layers.iter().enumerate() {
            for p in &l.projections {
                let want = match (p.source, p.delayed) {
                    (Source::Input, false) => Some(0),
                    (Source::Input, true) => None,
                    (Source::Layer(s), d) => delay[s].map(|x| x + usize::from(!d)),
                };
                if let Some(w) = want
                    && delay[k].is_none_or(|x| x < w)
                {
                    delay[k] = Some(w);
                }
            }
        }
    }
    for (k, l) in net.layers.iter().enumerate() {
        let d = delay[k].ok_or_else(|| err(format!("layer '{}' is not reached from the input", l.name)))?;
        for p in &l.projections {
            let (src, ok) = match p.source {
                Source::Input => ("the input".to_string(), !p.delayed && d == 0),
                Source::Layer(s) => {
                    let ds = delay[s].unwrap_or(0);
                    (format!("'{}'", net.layers[s].name), d == ds + usize::from(!p.delayed))
                }
            };
            if !ok {
                return Err(err(format!(
                    "the path from {src} into '{}' cannot keep its timing: on Xylo every connection between \
                     neurons takes one step, so each layer must be exactly one step behind the layers it reads \
                     in the same step (and level with those it reads from the previous step)",
                    l.name
                )));
            }
            if !matches!(p.kind, ProjKind::Dense { .. } | ProjKind::OneToOne) || p.pre_pool.is_some() {
                return Err(err(format!(
                    "layer '{}' is fed by a {} projection; Xylo's matrices take fully connected and element-wise \
                     connections only",
                    l.name,
                    if p.pre_pool.is_some() { "pooled" } else { "convolution or pooling" }
                )));
            }
            if k == out_k && p.source == Source::Input {
                return Err(err(format!(
                    "the output layer '{}' reads the input directly; Xylo's readout reads hidden neurons only",
                    l.name
                )));
            }
        }
    }
    // Hidden layers: input takers first, output drivers last.
    let feeds_out = |k: usize| outl.projections.iter().any(|p| p.source == Source::Layer(k));
    let takes_in = |k: usize| net.layers[k].projections.iter().any(|p| p.source == Source::Input);
    let mut hidden: Vec<usize> = (0..nl).filter(|&k| k != out_k).collect();
    hidden.sort_by_key(|&k| (!takes_in(k), feeds_out(k)));
    let mut first = vec![0usize; nl];
    let mut n_hidden = 0;
    for &k in &hidden {
        first[k] = n_hidden;
        n_hidden += net.layers[k].neurons();
    }
    // The layers `ks` by name, each with its figure.
    let per_layer = |ks: &[usize], count: &dyn Fn(usize) -> usize| {
        ks.iter().map(|&k| format!("'{}' {}", net.layers[k].name, count(k))).collect::<Vec<_>>().join(", ")
    };
    if n_hidden > lim.hidden {
        let layers = per_layer(&hidden, &|k| net.layers[k].neurons());
        return Err(err(format!("{n_hidden} hidden neurons; {name} has {} (layers {layers})", lim.hidden)));
    }
    if n_hidden == 0 {
        return Err(err("no hidden layer: Xylo's outputs read hidden neurons".into()));
    }
    let ien = hidden.iter().filter(|&&k| takes_in(k)).map(|&k| first[k] + net.layers[k].neurons()).max().unwrap_or(0);
    let oen = n_hidden - hidden.iter().filter(|&&k| feeds_out(k)).map(|&k| first[k]).min().unwrap_or(n_hidden);
    if ien > lim.input_neurons {
        return Err(err(format!(
            "{ien} hidden neurons must take input; on {name} only the first {} do",
            lim.input_neurons
        )));
    }
    if oen > lim.output_sources {
        return Err(err(format!(
            "{oen} hidden neurons must drive the outputs; on {name} only the last {} do",
            lim.output_sources
        )));
    }
    // One synapse axis: every projection reaches the first current (at least one, checked above).
    let ns = 1;
    let shift = |src_input: bool, dst_out: bool| {
        net.layers
            .iter()
            .enumerate()
            .flat_map(|(k, l)| l.projections.iter().map(move |p| (k, p)))
            .filter(|(k, p)| (p.source == Source::Input) == src_input && (*k == out_k) == dst_out)
            .map(|(_, p)| p.shift)
            .max()
            .unwrap_or(0) as i8
    };
    let mut spec = XyloSpec {
        n_in: lim.inputs,
        n_hidden,
        n_out,
        synapses: ns,
        ien,
        oen,
        weights_in: vec![0; lim.inputs * ien * ns],
        weights_rec: vec![0; n_hidden * n_hidden * ns],
        weights_out: vec![0; oen * n_out],
        dash_mem: vec![0; n_hidden],
        dash_syn: vec![0; n_hidden],
        dash_syn_2: vec![0; n_hidden],
        dash_mem_out: vec![0; n_out],
        dash_syn_out: vec![0; n_out],
        threshold: vec![0; n_hidden],
        threshold_out: vec![0; n_out],
        bias: vec![0; n_hidden],
        bias_out: vec![0; n_out],
        weight_shift_in: shift(true, false),
        weight_shift_rec: shift(false, false),
        weight_shift_out: shift(false, true),
        dt: 0.0,
        lag: delay[out_k].unwrap_or(0),
        places: vec![],
    };
    let dash = |l: &Leak| match l {
        Leak::Shift { k } => *k as u8,
        _ => unreachable!("the Xylo quantiser writes shift decays"),
    };
    let sum_into = |slot: &mut i8, w: i64, what: &str| -> Result<(), XyloMapError> {
        let v = i64::from(*slot) + w;
        *slot = i8::try_from(v).map_err(|_| err(format!("{what}: two paths add up to weight {v}, beyond int8")))?;
        Ok(())
    };
    for (k, l) in net.layers.iter().enumerate() {
        let n = l.neurons();
        let is_out = k == out_k;
        for i in 0..n {
            let (thr, bias) = (crate::quant::at(&l.params.thr, i), crate::quant::at(&l.params.bias, i));
            let (dm, ds) = (dash(&l.leak), dash(l.syn_leak.as_ref().expect("Xylo layers are current-based")));
            if is_out {
                spec.threshold_out[i] = thr as i16;
                spec.bias_out[i] = bias as i16;
                spec.dash_mem_out[i] = dm;
                spec.dash_syn_out[i] = ds;
            } else {
                let q = first[k] + i;
                spec.threshold[q] = thr as i16;
                spec.bias[q] = bias as i16;
                spec.dash_mem[q] = dm;
                spec.dash_syn[q] = ds;
            }
        }
        for p in &l.projections {
            let src_n = match p.source {
                Source::Input => n_in,
                Source::Layer(s) => net.layers[s].neurons(),
            };
            let what = format!("layer '{}'", l.name);
            for i in 0..n {
                let entries: Vec<(usize, i64)> = match p.kind {
                    ProjKind::Dense { cols } => (0..cols).map(|j| (j, p.weights.values[i * cols + j])).collect(),
                    _ => vec![(i % src_n, p.weights.at(i))],
                };
                for (j, w) in entries {
                    if w == 0 {
                        continue;
                    }
                    let slot = match (p.source, is_out) {
                        (Source::Input, _) => &mut spec.weights_in[j * ien + first[k] + i],
                        (Source::Layer(s), false) => &mut spec.weights_rec[(first[s] + j) * n_hidden + first[k] + i],
                        (Source::Layer(s), true) => {
                            &mut spec.weights_out[(first[s] + j - (n_hidden - oen)) * n_out + i]
                        }
                    };
                    sum_into(slot, w, &what)?;
                }
            }
        }
        let (population, f) = if is_out { ("output", 0) } else { ("hidden", first[k]) };
        spec.places.push(Place {
            layer: l.name.clone(),
            population,
            first: f,
            neurons: n,
            delay: delay[k].unwrap_or(0),
        });
    }
    if let Some(cap) = lim.hidden_synapses {
        // The chip stores the hidden neurons' weights as fan-out lists of the connections
        // (source, target) with a non-zero weight on either current.
        let targets: Vec<usize> = spec
            .weights_rec
            .chunks(ns)
            .enumerate()
            .filter(|(_, w)| w.iter().any(|&w| w != 0))
            .map(|(pair, _)| pair % n_hidden)
            .collect();
        if targets.len() > cap {
            let into = |k: usize| {
                targets.iter().filter(|&&t| (first[k]..first[k] + net.layers[k].neurons()).contains(&t)).count()
            };
            let fed: Vec<usize> = hidden.iter().copied().filter(|&k| into(k) > 0).collect();
            let total = targets.len();
            let layers = per_layer(&fed, &into);
            return Err(err(format!(
                "{total} non-zero weights between hidden neurons; {name} holds {cap} (into {layers})"
            )));
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{Limits, map};
    use crate::ir::dialect::DialectOverrides;
    use crate::ir::{Graph, Op, Tensor};
    use crate::model::Model;
    use crate::quant::{InputStats, QuantOptions, Rules, xylo::quantise};
    use crate::target::Target;

    /// 16 inputs through current-based LIF layers of `widths` in a chain, the last the output;
    /// deterministic weights of magnitude 0.1 to 0.19 (none quantises to zero), the Xylo
    /// student's neurons (threshold 1, dt 1 ms).
    fn chain(widths: &[usize]) -> crate::quant::Network {
        sparse_chain(widths, 1)
    }

    /// [`chain`] with only every `stride`-th weight of a layer reading another layer non-zero
    /// (by row plus column); the input and output weights stay dense.
    fn sparse_chain(widths: &[usize], stride: usize) -> crate::quant::Network {
        let mut g = Graph::default();
        let mut prev = g.add_node("in", Op::Input { shape: vec![16] });
        let mut n_in = 16;
        for (k, &n) in widths.iter().enumerate() {
            let sparse = k > 0 && k + 1 < widths.len();
            let w: Vec<f64> = (0..n * n_in)
                .map(|i| {
                    let kept = !sparse || (i / n_in + i % n_in) % stride == 0;
                    let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
                    if kept { sign * (0.1 + ((i * 7 + k) % 13) as f64 / 130.0) } else { 0.0 }
                })
                .collect();
            let fc = g.add_node(format!("fc{k}"), Op::Linear { weight: Tensor::f64(vec![n, n_in], w) });
            let fill = |v: f64| Tensor::f64(vec![n], vec![v; n]);
            let lif = g.add_node(
                format!("lif{k}"),
                Op::CubaLIF {
                    tau_syn: fill(4e-3),
                    tau_mem: fill(16e-3),
                    r: fill(16.0),
                    v_leak: fill(0.0),
                    w_in: fill(0.75),
                    v_threshold: fill(1.0),
                    v_reset: fill(0.0),
                },
            );
            g.add_edge(prev, fc);
            g.add_edge(fc, lif);
            prev = lif;
            n_in = n;
        }
        let out = g.add_node("out", Op::Output);
        g.add_edge(prev, out);
        let o = DialectOverrides { dt: Some(1e-3), timesteps: Some(4), ..Default::default() };
        let m = Model::from_graph(Path::new("t.json"), g, &o).expect("a valid test model");
        let stats = InputStats { min: 0.0, max: 15.0, integers: true, grid: Some(1.0), per_step: true };
        let o = QuantOptions {
            rules: Rules::xylo(),
            input_scale: None,
            input_stats: Some(stats),
            timesteps: 4,
            output: None,
            early_exit: false,
            spike_cap: None,
        };
        quantise(&m, &o).expect("quantises")
    }

    fn target(name: &str) -> Target {
        Target::load(name).expect("a bundled target")
    }

    #[test]
    fn the_xylo_targets_state_rockpools_limits() {
        let lim = |name: &str| Limits::of(target(name).chip.as_ref().expect("a [chip] section"));
        let l = |hidden, outputs, input_neurons, output_sources, synapses, hidden_synapses| Limits {
            hidden,
            inputs: 16,
            outputs,
            input_neurons,
            output_sources,
            synapses,
            hidden_synapses,
        };
        assert_eq!(lim("xylo-imu"), l(496, 16, 128, 128, 1, None));
        assert_eq!(lim("xylo-audio2"), l(1000, 8, 1000, 1000, 2, None));
        assert_eq!(lim("xylo-audio3"), l(992, 32, 128, 128, 2, Some(31_744)));
        for (name, module) in [("xylo-imu", "syns63300"), ("xylo-audio2", "syns61201"), ("xylo-audio3", "syns65302")] {
            let t = target(name);
            let m = t.chip.as_ref().and_then(|c| c.vendor_module.as_deref());
            assert_eq!(m, Some(module), "{name}");
            assert!(crate::back::xylo::rockpool_xylo(module).is_some(), "{module}");
        }
    }

    #[test]
    fn audio3_takes_up_to_32_outputs_and_992_hidden_neurons() {
        // 16 -> 128 -> 32: 32 outputs fit Xylo Audio 3 only.
        let net = chain(&[128, 32]);
        let s = map(&net, &target("xylo-audio3")).expect("fits Xylo Audio 3");
        assert_eq!((s.n_in, s.n_hidden, s.n_out, s.ien, s.oen, s.synapses, s.lag), (16, 128, 32, 128, 128, 1, 1));
        assert_eq!(s.weights_in.len(), 16 * 128);
        assert_eq!(s.weights_out.len(), 128 * 32);
        let e = map(&net, &target("xylo-imu")).unwrap_err();
        assert_eq!(e.to_string(), "xylo-imu: 32 output neurons; xylo-imu has 16 (output layer 'lif1')");
        let e = map(&net, &target("xylo-audio2")).unwrap_err();
        assert_eq!(e.to_string(), "xylo-audio2: 32 output neurons; xylo-audio2 has 8 (output layer 'lif1')");
        let e = map(&chain(&[128, 33]), &target("xylo-audio3")).unwrap_err();
        assert_eq!(e.to_string(), "xylo-audio3: 33 output neurons; xylo-audio3 has 32 (output layer 'lif1')");
        // 128 + 736 + 128 = 992 hidden neurons: input takers first, output drivers last; one
        // hidden-to-hidden weight in 8 is non-zero (23,552 connections).
        let s = map(&sparse_chain(&[128, 736, 128, 10], 8), &target("xylo-audio3")).expect("992 hidden neurons fit");
        assert_eq!((s.n_hidden, s.ien, s.oen, s.lag), (992, 128, 128, 3));
        let firsts: Vec<(usize, usize)> = s.places.iter().map(|p| (p.first, p.delay)).collect();
        assert_eq!(firsts, [(0, 0), (128, 1), (864, 2), (0, 3)]);
        assert_eq!(s.weights_rec.iter().filter(|&&w| w != 0).count(), 23_552);
        let e = map(&sparse_chain(&[128, 737, 128, 10], 8), &target("xylo-audio3")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "xylo-audio3: 993 hidden neurons; xylo-audio3 has 992 (layers 'lif0' 128, 'lif1' 737, 'lif2' 128)"
        );
    }

    #[test]
    fn audio3_holds_31744_connections_between_hidden_neurons() {
        // 128 -> 124 -> 128 hidden neurons, densely connected: 2 x 128 x 124 = 31,744
        // connections fit; one more middle neuron (32,000) is refused, naming the layers the
        // connections reach.
        let s = map(&chain(&[128, 124, 128, 10]), &target("xylo-audio3")).expect("31,744 connections fit");
        assert_eq!(s.weights_rec.iter().filter(|&&w| w != 0).count(), 31_744);
        let net = chain(&[128, 125, 128, 10]);
        let e = map(&net, &target("xylo-audio3")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "xylo-audio3: 32000 non-zero weights between hidden neurons; xylo-audio3 holds 31744 \
             (into 'lif1' 16000, 'lif2' 16000)"
        );
        // Xylo IMU's target states no such memory.
        assert!(map(&net, &target("xylo-imu")).is_ok());
    }

    #[test]
    fn audio3_feeds_input_to_the_first_128_hidden_neurons_and_reads_the_last_128() {
        // 129 input takers: Xylo Audio 3 and Xylo IMU configure only 128; Audio 2 takes them.
        let net = chain(&[129, 8]);
        let e = map(&net, &target("xylo-audio3")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "xylo-audio3: 129 hidden neurons must take input; on xylo-audio3 only the first 128 do"
        );
        assert_eq!(map(&net, &target("xylo-audio2")).map(|s| (s.ien, s.oen)), Ok((129, 129)));
        let net = chain(&[64, 129, 10]);
        let e = map(&net, &target("xylo-audio3")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "xylo-audio3: 129 hidden neurons must drive the outputs; on xylo-audio3 only the last 128 do"
        );
        let net = chain(&[64, 129, 8]);
        assert_eq!(map(&net, &target("xylo-audio2")).map(|s| (s.ien, s.oen)), Ok((64, 129)));
    }
}

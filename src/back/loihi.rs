//! Loihi export: `network.net` is a lava-dl netx HDF5 network that
//! `lava.lib.dl.netx.hdf5.Network(net_config=...)` loads unchanged (`/layer/0` the input,
//! then one group per dense, conv or flatten layer with CUBA neurons: `iDecay`, `vDecay`,
//! `vThMant`, `refDelay`, integer `weight` and `bias`), `inputs.npy` the input spikes of each
//! sample's `T` model steps (`N x T x inputs`, uint8 payloads), `expected_spikes.npy`
//! spikefab's simulation of each sample's output over its `T` model steps (`N x T x outputs`,
//! uint8) and `run_lava.py` runs the samples in Lava with
//! `Loihi2SimCfg(select_tag="fixed_pt")`, compares, reads out the classes and checks that a
//! sample run alone gives what it gave in the stream.
//!
//! The stream Lava runs is the samples back to back plus `D` zero steps for `D` layers (each
//! layer adds one step); the reset that keeps samples apart: [`crate::sim::loihi`].

use crate::data::npy_bytes as npy;
use hdf5_pure::{FileBuilder, GroupBuilder};

use crate::chip::loihi::NetxNet;

/// The netx HDF5 file could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetxError {
    /// A dataset could not be written.
    #[error("netx export: cannot write '{dataset}': {message}")]
    Dataset {
        /// The dataset.
        dataset: String,
        /// The HDF5 writer's message.
        message: String,
    },
    /// The file could not be serialised.
    #[error("netx export: cannot serialise HDF5: {0}")]
    Serialise(String),
}

fn kind(g: &mut GroupBuilder, name: &str, s: &str) -> Result<(), NetxError> {
    g.create_dataset(name)
        .with_ascii_strings(&[s])
        .map_err(|e| NetxError::Dataset { dataset: name.to_string(), message: e.to_string() })?;
    Ok(())
}

fn ints(g: &mut GroupBuilder, name: &str, v: &[i64]) {
    g.create_dataset(name).with_i64_data(v);
}

fn int(g: &mut GroupBuilder, name: &str, v: i64) {
    g.create_dataset(name).with_i64_data(&[v]).with_shape(&[]);
}

fn us(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

/// The netx HDF5 bytes of `net`.
pub fn netx_bytes(net: &NetxNet) -> Result<Vec<u8>, NetxError> {
    let mut fb = FileBuilder::new();
    let mut top = fb.create_group("layer");
    let mut index = 0usize;
    let mut group = |top: &mut GroupBuilder, f: &mut dyn FnMut(&mut GroupBuilder) -> Result<(), NetxError>| {
        let mut g = top.create_group(&index.to_string());
        index += 1;
        f(&mut g)?;
        top.add_group(g.finish());
        Ok::<(), NetxError>(())
    };
    group(&mut top, &mut |g| {
        kind(g, "type", "input")?;
        ints(g, "shape", &us(&net.input_shape));
        Ok(())
    })?;
    for l in &net.layers {
        if l.flatten_before {
            group(&mut top, &mut |g| {
                kind(g, "type", "flatten")?;
                ints(g, "shape", &[l.in_features as i64]);
                Ok(())
            })?;
        }
        group(&mut top, &mut |g| {
            let n = l.neurons();
            match &l.conv {
                None => {
                    kind(g, "type", if l.rec.is_some() { "dense_rec" } else { "dense" })?;
                    ints(g, "shape", &[n as i64]);
                    int(g, "inFeatures", l.in_features as i64);
                    int(g, "outFeatures", n as i64);
                    g.create_dataset("weight").with_i64_data(&l.weights).with_shape(&[n as u64, l.in_features as u64]);
                    if let Some(r) = &l.rec {
                        g.create_dataset("weight_rec").with_i64_data(&r.weights).with_shape(&[n as u64, n as u64]);
                    }
                    ints(g, "bias", &l.bias);
                }
                Some(c) => {
                    kind(g, "type", "conv")?;
                    ints(g, "shape", &us(&l.shape));
                    int(g, "inChannels", c.in_shape[0] as i64);
                    int(g, "outChannels", l.shape[0] as i64);
                    ints(g, "kernelSize", &us(&c.kernel));
                    let ci_g = (c.in_shape[0] / c.groups) as u64;
                    g.create_dataset("weight").with_i64_data(&l.weights).with_shape(&[
                        l.shape[0] as u64,
                        ci_g,
                        c.kernel[0] as u64,
                        c.kernel[1] as u64,
                    ]);
                    ints(g, "stride", &us(&c.stride));
                    ints(g, "padding", &us(&c.padding));
                    ints(g, "dilation", &us(&c.dilation));
                    int(g, "groups", c.groups as i64);
                    let pos = l.shape[1] * l.shape[2];
                    let per_channel: Vec<i64> = l.bias.iter().step_by(pos.max(1)).copied().collect();
                    ints(g, "bias", &per_channel);
                }
            }
            let mut nr = g.create_group("neuron");
            kind(&mut nr, "type", "CUBA")?;
            int(&mut nr, "iDecay", l.i_decay);
            int(&mut nr, "vDecay", l.v_decay);
            int(&mut nr, "vThMant", l.vth);
            int(&mut nr, "refDelay", 1);
            int(&mut nr, "gradedSpike", 0);
            g.add_group(nr.finish());
            Ok(())
        })?;
    }
    fb.add_group(top.finish());
    fb.finish().map_err(|e| NetxError::Serialise(e.to_string()))
}

/// The files of the export: (name, bytes). `inputs` is `n x steps x inputs` payloads,
/// `expected` `n x steps x outputs` output spikes, `steps` the model's.
pub fn files(
    net: &NetxNet,
    n: usize,
    steps: usize,
    inputs: &[u8],
    expected: &[u8],
) -> Result<Vec<(String, Vec<u8>)>, NetxError> {
    let mut files = vec![
        ("network.net".into(), netx_bytes(net)?),
        ("inputs.npy".into(), npy(&[n, steps, net.input_numel()], inputs)),
        ("expected_spikes.npy".into(), npy(&[n, steps, net.outputs()], expected)),
        ("run_lava.py".into(), script(net).into_bytes()),
    ];
    // A multi-spike layer's units: each unit's drive, (C, H, W) or (n,).
    for (k, l) in net.layers.iter().enumerate() {
        if let Some(u) = &l.units {
            let drive: Vec<i32> = u.drive.iter().map(|&d| d as i32).collect();
            let shape = if l.conv.is_some() { l.shape.to_vec() } else { vec![l.neurons()] };
            files.push((format!("units{k}.npy"), npy(&shape, &drive)));
        }
    }
    Ok(files)
}

/// The script that runs the export in Lava.
pub fn script(net: &NetxNet) -> String {
    let bits = if net.input_bits <= 1 { 0 } else { net.input_bits };
    let names: Vec<String> = net.layers.iter().map(|l| format!("{:?}", crate::names::label(&l.name))).collect();
    SCRIPT
        .replace("{MODEL}", &crate::names::label(&net.model))
        .replace("{BITS}", &bits.to_string())
        .replace("{RESET_OFFSET}", &crate::chip::loihi::RESET_OFFSET.to_string())
        .replace("{LAYERS}", &names.join(", "))
        .replace(
            "{UNITS}",
            &net.layers
                .iter()
                .enumerate()
                .filter_map(|(k, l)| {
                    let u = l.units.as_ref()?;
                    Some(format!("{k}: ({}, {}, {:?})", u.k, u.theta, if l.conv.is_some() { "conv" } else { "dense" }))
                })
                .collect::<Vec<_>>()
                .join(", "),
        )
        .replace("{OUT_GROUP}", &net.out_group.to_string())
        .replace(
            "{REC}",
            &net.layers
                .iter()
                .enumerate()
                .filter(|(_, l)| l.rec.is_some())
                .map(|(k, _)| k.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        )
}

const SCRIPT: &str = r#""""Runs spikefab's Loihi export of {MODEL} in Lava (generated by spikefab).

Loads network.net unchanged with lava.lib.dl.netx.hdf5.Network and runs the samples of
inputs.npy (N x T x inputs: each sample's T model steps) back to back as one stream through a
RingBuffer source with Loihi2SimCfg(select_tag="fixed_pt"), Lava's bit-accurate model of
Loihi's CUBA neurons (documented by Lava as Loihi 1's).

Each of the D layers adds one step: layer k (0-based) handles sample i's model step t at
stream step i*T + t + k + 1, so the stream runs N*T + D steps (the last D on zero input) and
sample i's output of model step t is the stream's step i*T + t + D. netx's reset
(reset_interval=T, reset_offset=RESET_OFFSET: netx adds one, and one per layer) clears layer
k's u and v at every stream step k + 1 (mod T), when its input of a sample's model step 0
arrives: every sample starts every layer from zero, so what it gives does not depend on the
samples before it. A recurrent layer k (netx dense_rec) also receives, at that step, its own
spikes of the step before (the previous sample's last) through its recurrent synapse, which
the reset does not clear: the run pauses after every stream step k (mod T) and the host
zeroes that synapse's buffer (`a_buff`), as a host must between samples. Lava's simulator
allows the write; whether Loihi 2 does cannot be checked with the open tools.

Checks, in one JSON line:
- the output spikes of every sample's T model steps against expected_spikes.npy (N x T x
  outputs, spikefab's simulation of the chip): mismatching_outputs;
- with --alone K (default 2; 0 skips; "all"), the first K samples again, each alone in a fresh
  network, against the same sample in the stream: alone_differences;
- the readout: a sample's class is the output with the most spikes over its T model steps
  (ties: the lowest index); with --labels FILE (.npy, the first N labels used) the accuracy.
With --record FILE it saves the output spikes, the classes and every layer's u and v over each
sample's steps (N x T x neurons, C, H, W order; layer k's from stream step i*T + k + 1).
Exits 0 when every output spike matches and no sample alone differs, 1 otherwise.

Usage: python run_lava.py [--record FILE] [--samples N] [--alone K|all] [--labels FILE]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
INPUT_MESSAGE_BITS = {BITS}
RESET_OFFSET = {RESET_OFFSET}
LAYERS = [{LAYERS}]
RECURRENT = [{REC}]  # indices of the dense_rec layers
# Multi-spike layers as units: index -> (units per neuron K, theta, dense or conv). Each gets a
# recurrence of weight -theta among the K units of a neuron (a Dense, or a 1x1 Conv) and, from
# units<k>.npy, a constant drive into its units' current (the neuron's bias).
UNITS = {{UNITS}}
OUT_GROUP = {OUT_GROUP}  # units per output neuron: an output neuron's spikes are their sum


def windows(a, n, steps, start):
    """The rows start + i*steps + t of a (stream steps first), as (n, steps, -1)."""
    idx = start + np.arange(n)[:, None] * steps + np.arange(steps)[None, :]
    return a[idx].reshape(n, steps, -1)


def run_stream(x, record):
    """Runs the samples x (N, T, inputs) back to back in one fresh Lava network: each
    sample's output spikes (N, T, outputs) and, when record, every layer's u and v over the
    sample's steps (N, T, neurons)."""
    from lava.lib.dl.netx import hdf5
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.monitor.process import Monitor

    n, steps = x.shape[0], x.shape[1]
    depth = len(LAYERS)
    total = n * steps + depth
    net = hdf5.Network(net_config=os.path.join(HERE, "network.net"), input_message_bits=INPUT_MESSAGE_BITS,
                       reset_interval=steps, reset_offset=RESET_OFFSET)
    shape = net.inp.shape  # Lava's (x, y, z) = (W, H, C), or (n,)
    flat = x.reshape(n * steps, -1)
    flat = np.concatenate([flat, np.zeros((depth, flat.shape[1]), flat.dtype)])
    data = flat.reshape((total,) + tuple(reversed(shape))) if len(shape) == 3 else flat
    data = np.moveaxis(data, 0, -1)
    if data.ndim == 4:
        data = data.transpose(2, 1, 0, 3)  # (C, H, W, T) -> (W, H, C, T)
    src = Source(data=data.astype(np.int32))
    sink = Sink(shape=net.out.shape, buffer=total)
    src.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    cleared = {k: net.layers[k].synapse_rec.a_buff for k in RECURRENT}
    keep = []  # the unit layers' processes (Lava needs them referenced until the run ends)
    for k, (units, theta, kind) in UNITS.items():
        from lava.proc.conv.process import Conv
        from lava.proc.dense.process import Dense
        neuron = net.layers[k].neuron
        shp = tuple(neuron.a_in.shape)
        if kind == "dense":
            w = np.kron(np.eye(shp[0] // units, dtype=np.int64), -theta * np.ones((units, units), np.int64))
            rec = Dense(weights=w.astype(np.int32), weight_exp=0, num_weight_bits=8)
            cleared[k] = rec.a_buff
        else:
            chans = shp[2]  # Lava's (W, H, C)
            w = np.zeros((chans, 1, 1, chans), np.int32)
            for o in range(chans):
                w[o, 0, 0, (o // units) * units:(o // units + 1) * units] = -theta
            rec = Conv(weight=w, input_shape=shp)
            cleared[k] = rec.a_buf
        neuron.s_out.connect(rec.s_in)
        rec.a_out.connect(neuron.a_in)
        keep.append(rec)
        drive = np.load(os.path.join(HERE, "units%d.npy" % k)).astype(np.int32)
        if drive.any():
            lay = drive.transpose(2, 1, 0) if drive.ndim == 3 else drive  # (C, H, W) -> (W, H, C)
            feed = Source(data=np.repeat(lay[..., None], total, axis=-1))
            feed.s_out.connect(neuron.a_in)
            keep.append(feed)
    monitors = []
    if record:
        for k, layer in enumerate(net.layers):
            for var in (layer.neuron.u, layer.neuron.v):
                m = Monitor()
                m.probe(var, total)
                monitors.append((k, m, var, var.shape))
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    # Run to each stream step after which a recurrent layer's synapse is cleared (0-based c
    # with c = k mod T), then clear it; without recurrent layers, one run.
    stops = sorted({c + 1 for k in cleared for c in range(k % steps, total, steps)} | {total})
    done = 0
    for stop in stops:
        net.run(condition=RunSteps(num_steps=stop - done), run_cfg=cfg)
        done = stop
        for k, buf in cleared.items():
            if (done - 1) % steps == k % steps:
                buf.set(np.zeros(buf.shape, np.int32))
    out = np.moveaxis(sink.data.get(), -1, 0)
    if out.ndim == 4:
        out = out.transpose(0, 3, 2, 1)
    states = []
    for k, m, var, shp in monitors:
        r = list(m.get_data().values())[0][var.name].reshape((total,) + tuple(shp))
        if len(shp) == 3:
            r = r.transpose(0, 3, 2, 1)  # (T, W, H, C) -> (T, C, H, W)
        states.append(windows(r, n, steps, k + 1).astype(np.int64))
    net.stop()
    return windows(out, n, steps, depth).astype(np.int64), states


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--record", help="save Lava's output spikes, classes, u and v to this .npz")
    ap.add_argument("--samples", type=int, default=0, help="run only the first N samples")
    ap.add_argument("--alone", default="2",
                    help="run the first K samples again, each alone in a fresh network (0: none; all)")
    ap.add_argument("--labels", help="labels (.npy) for the accuracy of the readout")
    args = ap.parse_args()
    x = np.load(os.path.join(HERE, "inputs.npy"))
    expected = np.load(os.path.join(HERE, "expected_spikes.npy"))
    if args.samples > 0:
        x, expected = x[:args.samples], expected[:args.samples]
    n = int(x.shape[0])
    if args.alone == "all":
        alone = n
    else:
        try:
            alone = min(max(int(args.alone), 0), n)
        except ValueError:
            ap.error("--alone takes a number of samples or 'all'")
    labels = None
    if args.labels:
        labels = np.load(args.labels).reshape(-1)
        if labels.shape[0] < n:
            ap.error("%d labels for %d samples" % (labels.shape[0], n))
        labels = labels[:n].astype(np.int64)
    t0 = time.time()
    outs, states = run_stream(x, bool(args.record))
    stream_seconds = time.time() - t0
    differences = 0
    for i in range(alone):
        own, _ = run_stream(x[i:i + 1], False)
        differences += int(np.count_nonzero(own[0] != outs[i]))
    classes = outs.sum(axis=1).reshape(n, -1, OUT_GROUP).sum(axis=2).argmax(axis=1)
    if args.record:
        rec = {"out_spikes": outs, "classes": classes}
        for k in range(len(LAYERS)):
            rec["u%d" % k] = states[2 * k]
            rec["v%d" % k] = states[2 * k + 1]
        np.savez(args.record, **rec)
    mismatches = int(np.count_nonzero(outs != expected))
    summary = {
        "samples": n,
        "steps": int(x.shape[1]),
        "stream_steps": n * int(x.shape[1]) + len(LAYERS),
        "output_spikes": int(outs.sum()),
        "mismatching_outputs": mismatches,
        "alone_samples": alone,
        "alone_differences": differences,
        "alone": "%d of %d samples run alone in a fresh network: %d output spikes differ from the stream"
                 % (alone, n, differences),
        "seconds": time.time() - t0,
        "stream_seconds": stream_seconds,
    }
    if labels is not None:
        correct = int(np.count_nonzero(classes == labels))
        summary["correct"] = correct
        summary["accuracy"] = correct / n if n else 0.0
    print(json.dumps(summary))
    sys.exit(0 if mismatches == 0 and differences == 0 else 1)


if __name__ == "__main__":
    main()
"#;

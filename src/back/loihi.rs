//! Loihi export: `network.net` is a lava-dl netx HDF5 network that
//! `lava.lib.dl.netx.hdf5.Network(net_config=...)` loads unchanged (`/layer/0` the input,
//! then one group per dense, conv or flatten layer with CUBA neurons: `iDecay`, `vDecay`,
//! `vThMant`, `refDelay`, integer `weight` and `bias`), `inputs.npy` the input spikes as fed
//! (`N x T' x inputs`, uint8 payloads), `expected_spikes.npy` spikefab's simulation of the chip
//! (`N x T' x outputs`, uint8) and `run_lava.py` runs every sample in Lava with
//! `Loihi2SimCfg(select_tag="fixed_pt")` and compares.
//!
//! `T' = T + D` for `D` layers: each layer adds one step (see [`crate::chip::loihi`]).

use crate::data::npy_bytes as npy;
use hdf5_pure::{FileBuilder, GroupBuilder};

use crate::chip::loihi::NetxNet;

/// The netx HDF5 file could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("netx export: {0}")]
pub struct NetxError(pub String);

fn kind(g: &mut GroupBuilder, name: &str, s: &str) -> Result<(), NetxError> {
    g.create_dataset(name).with_ascii_strings(&[s]).map_err(|e| NetxError(format!("cannot write '{name}': {e}")))?;
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
                    kind(g, "type", "dense")?;
                    ints(g, "shape", &[n as i64]);
                    int(g, "inFeatures", l.in_features as i64);
                    int(g, "outFeatures", n as i64);
                    g.create_dataset("weight").with_i64_data(&l.weights).with_shape(&[n as u64, l.in_features as u64]);
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
    fb.finish().map_err(|e| NetxError(format!("cannot serialise HDF5: {e}")))
}

/// The files of the export: (name, bytes). `inputs` is `n x steps x inputs` payloads,
/// `expected` `n x steps x outputs` output spikes.
pub fn files(
    net: &NetxNet,
    n: usize,
    steps: usize,
    inputs: &[u8],
    expected: &[u8],
) -> Result<Vec<(String, Vec<u8>)>, NetxError> {
    Ok(vec![
        ("network.net".into(), netx_bytes(net)?),
        ("inputs.npy".into(), npy(&[n, steps, net.input_numel()], inputs)),
        ("expected_spikes.npy".into(), npy(&[n, steps, net.outputs()], expected)),
        ("run_lava.py".into(), script(net).into_bytes()),
    ])
}

/// The script that runs the export in Lava.
pub fn script(net: &NetxNet) -> String {
    let bits = if net.input_bits <= 1 { 0 } else { net.input_bits };
    let names: Vec<String> = net.layers.iter().map(|l| format!("{:?}", crate::names::label(&l.name))).collect();
    SCRIPT
        .replace("{MODEL}", &crate::names::label(&net.model))
        .replace("{BITS}", &bits.to_string())
        .replace("{RESET_OFFSET}", &crate::sim::loihi::RESET_OFFSET.to_string())
        .replace("{LAYERS}", &names.join(", "))
}

const SCRIPT: &str = r#""""Runs spikefab's Loihi export of {MODEL} in Lava (generated by spikefab).

Loads network.net unchanged with lava.lib.dl.netx.hdf5.Network (reset_interval T'), feeds the
samples of inputs.npy (N x T' x inputs; T' = T + the number of layers, each layer adding one step)
back to back through a RingBuffer source and runs them with Loihi2SimCfg(select_tag="fixed_pt"), Lava's bit-accurate model of Loihi's
CUBA neurons (documented by Lava as Loihi 1's). Compares the output spikes with
expected_spikes.npy (spikefab's simulation of the chip). With --record FILE it also saves the
output spikes and every layer's u and v (N x T' x neurons, C, H, W order).
Prints one JSON line; exits 0 when every output spike matches, 1 otherwise.

Usage: python run_lava.py [--record FILE] [--samples N]
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


def run_all(x, record):
    """Runs the samples x (N, T', inputs) back to back in one Lava run. netx's reset_interval
    (LIFReset) clears layer k's u and v at step k + 1 of every sample, just before its input of
    the model's first step arrives (reset_offset=RESET_OFFSET: netx adds one, and one per layer)."""
    from lava.lib.dl.netx import hdf5
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.monitor.process import Monitor

    n, steps = x.shape[0], x.shape[1]
    total = n * steps
    net = hdf5.Network(net_config=os.path.join(HERE, "network.net"), input_message_bits=INPUT_MESSAGE_BITS,
                       reset_interval=steps, reset_offset=RESET_OFFSET)
    shape = net.inp.shape  # Lava's (x, y, z) = (W, H, C), or (n,)
    flat = x.reshape(total, -1)
    data = flat.reshape((total,) + tuple(reversed(shape))) if len(shape) == 3 else flat
    data = np.moveaxis(data, 0, -1)
    if data.ndim == 4:
        data = data.transpose(2, 1, 0, 3)  # (C, H, W, T) -> (W, H, C, T)
    src = Source(data=data.astype(np.int32))
    sink = Sink(shape=net.out.shape, buffer=total)
    src.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    monitors = []
    if record:
        for layer in net.layers:
            for var in (layer.neuron.u, layer.neuron.v):
                m = Monitor()
                m.probe(var, total)
                monitors.append((m, var, var.shape))
    net.run(condition=RunSteps(num_steps=total), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    out = np.moveaxis(sink.data.get(), -1, 0)
    if out.ndim == 4:
        out = out.transpose(0, 3, 2, 1)
    states = []
    for m, var, shp in monitors:
        r = list(m.get_data().values())[0][var.name].reshape((total,) + tuple(shp))
        if len(shp) == 3:
            r = r.transpose(0, 3, 2, 1)  # (T, W, H, C) -> (T, C, H, W)
        states.append(r.reshape(n, steps, -1).astype(np.int64))
    net.stop()
    return out.reshape(n, steps, -1).astype(np.int64), states


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--record", help="save Lava's output spikes, u and v to this .npz")
    ap.add_argument("--samples", type=int, default=0, help="run only the first N samples")
    args = ap.parse_args()
    x = np.load(os.path.join(HERE, "inputs.npy"))
    expected = np.load(os.path.join(HERE, "expected_spikes.npy"))
    if args.samples > 0:
        x, expected = x[:args.samples], expected[:args.samples]
    t0 = time.time()
    outs, states = run_all(x, bool(args.record))
    if args.record:
        rec = {"out_spikes": outs}
        for k in range(len(LAYERS)):
            rec["u%d" % k] = states[2 * k]
            rec["v%d" % k] = states[2 * k + 1]
        np.savez(args.record, **rec)
    mismatches = int(np.count_nonzero(outs != expected))
    print(json.dumps({
        "samples": int(x.shape[0]),
        "steps": int(x.shape[1]),
        "output_spikes": int(outs.sum()),
        "mismatching_outputs": mismatches,
        "seconds": time.time() - t0,
    }))
    sys.exit(0 if mismatches == 0 else 1)


if __name__ == "__main__":
    main()
"#;

//! VCD waveforms (GTKWave) of one inference on the cycle-accurate engine: every traced
//! neuron's membrane (as computed in its update, before reset) and spike, on the clock cycle
//! the RTL updates it, plus the step counter.

use std::io::Write;
use std::path::Path;

use vcd::{IdCode, TimescaleUnit, Value};

use super::cycle::{self, SampleResult, Tracer};
use crate::data::InputBatch;
use crate::hw::Plan;
use crate::names::{Namer, label};

struct VcdTracer<W: Write> {
    w: vcd::Writer<W>,
    /// Per layer, per neuron: (spike id, membrane id) for traced neurons.
    ids: Vec<Vec<Option<(IdCode, IdCode)>>>,
    bits: Vec<u32>,
    period_ps: u64,
    now: u64,
    /// Spike pulses to drop back to 0 at the next timestamp.
    high: Vec<IdCode>,
    step_id: IdCode,
    err: Option<std::io::Error>,
}

impl<W: Write> VcdTracer<W> {
    fn at(&mut self, cycle: u64) -> std::io::Result<()> {
        let ts = cycle * self.period_ps;
        if ts != self.now {
            self.w.timestamp(ts)?;
            self.now = ts;
            for id in std::mem::take(&mut self.high) {
                self.w.change_scalar(id, Value::V0)?;
            }
        }
        Ok(())
    }

    fn vector(v: i64, bits: u32) -> Vec<Value> {
        (0..bits).rev().map(|b| if (v >> b.min(63)) & 1 == 1 { Value::V1 } else { Value::V0 }).collect()
    }
}

impl<W: Write> Tracer for VcdTracer<W> {
    fn neuron(&mut self, cycle: u64, layer: usize, n: usize, v: i64, spike: bool) {
        if self.err.is_some() {
            return;
        }
        let Some(Some((sid, vid))) = self.ids[layer].get(n).copied() else { return };
        let bits = self.bits[layer];
        let r = (|| {
            self.at(cycle)?;
            self.w.change_vector(vid, Self::vector(v, bits))?;
            if spike {
                self.w.change_scalar(sid, Value::V1)?;
                self.high.push(sid);
            }
            Ok(())
        })();
        if let Err(e) = r {
            self.err = Some(e);
        }
    }

    fn step(&mut self, cycle: u64, t: usize) {
        if self.err.is_some() {
            return;
        }
        let id = self.step_id;
        let r = (|| {
            self.at(cycle)?;
            self.w.change_vector(id, Self::vector(t as i64 + 1, 16))
        })();
        if let Err(e) = r {
            self.err = Some(e);
        }
    }
}

/// Runs sample `sample` of `batch` with the first `neurons` neurons of every layer traced and
/// writes the waveform to `path`.
pub fn write(
    plan: &Plan,
    batch: &InputBatch,
    sample: usize,
    steps: usize,
    neurons: usize,
    path: &Path,
) -> std::io::Result<SampleResult> {
    let f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut w = vcd::Writer::new(f);
    w.comment(&format!("spikefab cycle engine: {} on {}, sample {sample}", label(&plan.model), label(&plan.target)))?;
    let period_ps = (1e6 / plan.clock_mhz).round().max(1.0) as u64;
    w.timescale(1, TimescaleUnit::PS)?;
    w.add_module("spikefab")?;
    let step_id = w.add_wire(16, "step")?;
    let mut namer = Namer::new();
    let mut ids = vec![];
    let mut bits = vec![];
    for l in &plan.layers {
        w.add_module(&namer.name(&l.name))?;
        let mut v = vec![];
        for n in 0..l.neurons().min(neurons) {
            let s = w.add_wire(1, &format!("n{n}_spike"))?;
            let m = w.add_wire(l.v_bits, &format!("n{n}_v"))?;
            v.push(Some((s, m)));
        }
        w.upscope()?;
        ids.push(v);
        bits.push(l.v_bits);
    }
    w.upscope()?;
    w.enddefinitions()?;
    w.begin(vcd::SimulationCommand::Dumpvars)?;
    w.change_vector(step_id, VcdTracer::<std::io::BufWriter<std::fs::File>>::vector(0, 16))?;
    for (k, layer) in ids.iter().enumerate() {
        for (s, m) in layer.iter().flatten() {
            w.change_scalar(*s, Value::V0)?;
            w.change_vector(*m, VcdTracer::<std::io::BufWriter<std::fs::File>>::vector(0, bits[k]))?;
        }
    }
    w.end()?;
    let mut t = VcdTracer { w, ids, bits, period_ps, now: 0, high: vec![], step_id, err: None };
    let r = cycle::run_traced(plan, batch, sample, steps, &mut t);
    if let Some(e) = t.err {
        return Err(e);
    }
    t.at(r.counters.cycles)?;
    t.w.flush()?;
    Ok(r)
}

//! Preparing the engine: [`Engine::new`] computes, once per run, everything both paths read
//! about a plan (the types, [`Fast`], [`LayerPrep`] and [`Lists`], are in [`super::types`]):
//! each projection's fast form, each layer's update tables, how consumers read each layer's
//! events, and whether passes may keep state in i32.

use crate::hw::dense::{self, Mode};
use crate::hw::schedule::{self, beats_per_event};
use crate::hw::{Layer, Plan, Schedule};
use crate::quant::{AccTarget, Leak, PoolGeom, ProjKind, Projection, Source, at};

use super::kernels;
use super::packed::bits_of;
use super::pass;
use super::types::{Engine, Fast, LayerPrep, Lists, PoolDense, RowFold, TapTable, conv_geo, kept_by, pool_candidates};

/// Whether passes over `plan` may keep state in i32 (see [`super::word`]). Starting from values
/// within their checked widths, bounds every value a narrow pass computes before the next
/// check: the state after each ACC phase (its width plus the most one phase can add to a
/// neuron) and the update's V and next state. Every bound must stay below 2^31.
fn narrow_fits(plan: &Plan, fast: &[Vec<Fast>], plain: &[bool]) -> bool {
    const LIMIT: f64 = 2147483648.0;
    let half = |bits: u32| 2f64.powi(bits as i32 - 1);
    let max_abs = |v: &[i64]| v.iter().map(|&x| x.unsigned_abs() as f64).fold(0.0, f64::max);
    let input_max = plan.input.max_abs() as f64;
    for (k, l) in plan.layers.iter().enumerate() {
        if !plain[k] || l.v_bits > 31 || l.s_bits > 31 {
            return false;
        }
        for (p, f) in l.projections.iter().zip(&fast[k]) {
            let (n_src, v_max) = match p.source {
                Source::Input => (plan.input.numel() as f64, input_max),
                Source::Layer(src) => (plan.layers[src].neurons() as f64, 1.0),
            };
            let w_max = if p.weights.binary() {
                1.0
            } else {
                p.weights.values.iter().map(|w| w.unsigned_abs() as f64).fold(0.0, f64::max)
            };
            // The most one phase adds to a neuron, before the shift.
            let add = match (&p.kind, f, p.source) {
                (ProjKind::Dense { .. }, Fast::DenseBinary { .. }, _) => n_src * v_max,
                (ProjKind::Dense { .. }, Fast::DenseCols(_), _) if p.pre_pool.is_none() => n_src * v_max * w_max,
                (ProjKind::OneToOne, Fast::OneToOne(_), Source::Layer(_)) => w_max,
                _ => return false,
            };
            let width = if p.target == AccTarget::Static { l.s_bits } else { l.v_bits };
            if half(width) + add * 2f64.powi(p.shift as i32) >= LIMIT {
                return false;
            }
        }
        let pr = &l.params;
        let v = half(l.v_bits)
            + if l.s_bits > 0 { half(l.s_bits) } else { 0.0 }
            + max_abs(&pr.bias)
            + max_abs(&pr.bias_late);
        let th = max_abs(&pr.thr);
        let vhat = v.max(max_abs(&pr.vreset)) + th;
        let leaked = match &l.leak {
            Leak::Zero => 0.0,
            Leak::One => vhat,
            Leak::Shift { .. } => vhat + 1.0,
            Leak::Mul { b } => {
                let b = max_abs(b);
                if b >= LIMIT {
                    return false;
                }
                vhat * b / 2f64.powi(plan.rules.leak_bits() as i32) + 1.0
            }
        };
        if v >= LIMIT || leaked + th >= LIMIT {
            return false;
        }
    }
    true
}

/// True when the projection reads a weight memory word per beat.
pub(super) fn weight_memory(l: &Layer, p: &Projection) -> bool {
    let _ = l;
    match p.kind {
        ProjKind::Dense { .. } | ProjKind::Conv { .. } => true,
        ProjKind::Pool(_) | ProjKind::OneToOne => p.weights.values.len() > 1,
    }
}

impl Fast {
    /// The fast path's form of projection `p` into layer `l`.
    fn of(l: &Layer, p: &Projection) -> Fast {
        let ints32 = || p.weights.values.iter().all(|&w| i32::try_from(w).is_ok());
        match (&p.kind, &p.pre_pool) {
            (ProjKind::Dense { cols }, None) if p.weights.binary() && !l.saturate => {
                let words = cols.div_ceil(64);
                let pos = bits_of(&p.weights.values, *cols, words, l.neurons());
                Fast::DenseBinary { pos, words }
            }
            (ProjKind::Conv { ci, kh, kw, groups: 1, .. }, None) if p.weights.binary() && !l.saturate => {
                Fast::conv_binary(l, p, *ci, kh * kw)
            }
            (ProjKind::Conv { .. }, None) if !l.saturate && ints32() => Fast::conv_cols(l, p),
            (ProjKind::OneToOne, None) if !l.saturate => {
                Fast::OneToOne((0..l.neurons()).map(|i| p.weights.at(i)).collect())
            }
            (ProjKind::Dense { cols }, Some(g)) if !l.saturate && ints32() => Fast::pool_dense(p, *cols, g),
            (ProjKind::Dense { cols }, _) if ints32() => {
                let n = l.neurons();
                let mut w = vec![0i32; n * cols];
                for i in 0..n {
                    for j in 0..*cols {
                        w[j * n + i] = p.weights.values[i * cols + j] as i32;
                    }
                }
                Fast::DenseCols(w)
            }
            _ => Fast::Scatter,
        }
    }

    /// A binary convolution of one group (`ci` input channels, `taps` kernel taps) into `l`,
    /// or [`Fast::Scatter`] when its tap table would be too large.
    fn conv_binary(l: &Layer, p: &Projection, ci: usize, taps: usize) -> Fast {
        let words = ci.div_ceil(64);
        // Layout [tap][word][output channel]: the inner loop runs over output
        // channels, which vectorises.
        let co = l.shape[0];
        let mut pos = vec![0u64; taps * words * co];
        for o in 0..co {
            for c in 0..ci {
                for tap in 0..taps {
                    if p.weights.values[(o * ci + c) * taps + tap] > 0 {
                        pos[(tap * words + c / 64) * co + o] |= 1 << (c % 64);
                    }
                }
            }
        }
        let g = conv_geo(l, &p.kind).expect("a convolution");
        let w16 = if ci * taps <= i16::MAX as usize {
            let mut w16 = vec![0i16; p.weights.values.len()];
            for o in 0..co {
                for c in 0..ci {
                    for tap in 0..taps {
                        w16[(c * taps + tap) * co + o] = p.weights.values[(o * ci + c) * taps + tap] as i16;
                    }
                }
            }
            w16
        } else {
            vec![]
        };
        let Some(table) = TapTable::new(&g) else { return Fast::Scatter };
        let win = if ci < 64 && (taps * ci).div_ceil(64) <= kernels::WINDOW_WORDS {
            let ww = (taps * ci).div_ceil(64);
            let mut win = vec![0u64; ww * co];
            for o in 0..co {
                for c in 0..ci {
                    for tap in 0..taps {
                        if p.weights.values[(o * ci + c) * taps + tap] > 0 {
                            let b = tap * ci + c;
                            win[(b / 64) * co + o] |= 1 << (b % 64);
                        }
                    }
                }
            }
            win
        } else {
            vec![]
        };
        Fast::ConvBinary { pos, words, taps_at: table.counts(), w16, table, win }
    }

    /// Convolution weights as contiguous output-channel runs per (input channel, tap), or
    /// [`Fast::Scatter`] when the tap table would be too large.
    fn conv_cols(l: &Layer, p: &Projection) -> Fast {
        let ProjKind::Conv { ci, kh, kw, groups, .. } = p.kind else { unreachable!("a convolution") };
        let (co, taps) = (l.shape[0], kh * kw);
        let (ci_g, co_g) = (ci / groups, co / groups);
        let mut wt = vec![0i32; p.weights.values.len()];
        for o in 0..co {
            let (grp, col) = (o / co_g, o % co_g);
            for cil in 0..ci_g {
                for tap in 0..taps {
                    wt[((grp * ci_g + cil) * taps + tap) * co_g + col] =
                        p.weights.values[(o * ci_g + cil) * taps + tap] as i32;
                }
            }
        }
        let g = conv_geo(l, &p.kind).expect("a convolution");
        match TapTable::new(&g) {
            Some(table) => Fast::ConvCols { wt, table },
            None => Fast::Scatter,
        }
    }

    /// A dense projection after the pre-pooling stage `g` (`cols` pooled inputs).
    fn pool_dense(p: &Projection, cols: usize, g: &PoolGeom) -> Fast {
        let wr = p.weights.values.iter().map(|&w| w as i32).collect();
        let [_, sh, sw] = p.src_shape;
        let (mut table, mut start, mut cands) = (vec![], vec![0u32], vec![]);
        for y in 0..sh {
            for x in 0..sw {
                pool_candidates(g, y, x, &mut cands);
                table.extend(cands.iter().flatten().map(|&(a, b)| (a * g.out[1] + b) as u32));
                start.push(table.len() as u32);
            }
        }
        let wmax = p.weights.values.iter().map(|w| w.unsigned_abs()).max().unwrap_or(0);
        let fits32 = (cols as u64)
            .checked_mul((g.k[0] * g.k[1]) as u64)
            .and_then(|v| v.checked_mul(wmax))
            .is_some_and(|v| v < i32::MAX as u64);
        let pooled = g.out[0] * g.out[1];
        let mut lists = vec![vec![]; pooled];
        for q in 0..sh * sw {
            for &pp in &table[start[q] as usize..start[q + 1] as usize] {
                lists[pp as usize].push(q as u32);
            }
        }
        let mut mstart = vec![0u32];
        for m in &lists {
            mstart.push(mstart[mstart.len() - 1] + m.len() as u32);
        }
        let members = lists.concat();
        Fast::PoolDense(PoolDense { wr, table, start, members, mstart, pooled, fits32 })
    }
}

impl LayerPrep {
    /// Layer `k`'s (`l`) tables for passes of up to `cap` samples.
    fn new(plan: &Plan, k: usize, l: &Layer, cap: usize) -> LayerPrep {
        let pos = l.positions();
        let w = l.shape[2];
        let mut slots = vec![u32::MAX; l.rows * l.lanes];
        for row in 0..l.rows {
            for lane in 0..l.lanes {
                if let Some(c) = l.channel_of(row / pos, lane) {
                    slots[row * l.lanes + lane] = (c * pos + row % pos) as u32;
                }
            }
        }
        let coords: Vec<(u32, u32, u32)> =
            (0..l.neurons()).map(|n| ((n / pos) as u32, ((n % pos) / w) as u32, (n % w) as u32)).collect();
        let n = l.neurons();
        let pr = &l.params;
        let fits32 = |v: &[i64]| v.iter().all(|&x| i32::try_from(x).is_ok());
        let params_i32 = [&pr.thr, &pr.bias, &pr.bias_late, &pr.vreset].iter().all(|v| fits32(v));
        let reps = if n < pass::SWEEP_SAMPLES_BELOW { cap } else { 1 };
        let expand = |v: &[i64]| {
            if params_i32 { (0..n).map(|i| at(v, i) as i32).collect::<Vec<i32>>().repeat(reps) } else { vec![] }
        };
        let leak_full = match &l.leak {
            Leak::Mul { b } if b.len() > 1 => b[..n].repeat(reps),
            _ => vec![],
        };
        let order: Vec<u32> = slots.iter().copied().filter(|&s| s != u32::MAX).collect();
        let (mut group_chans, mut group_start) = (vec![], vec![0u32]);
        for g in 0..l.lane_groups() {
            group_chans.extend((0..l.lanes).filter_map(|lane| l.channel_of(g, lane)).map(|c| c as u32));
            group_start.push(group_chans.len() as u32);
        }
        let contiguous = pos == 1 && order.iter().enumerate().all(|(i, &o)| o as usize == i) && {
            let mut r = 0;
            let mut ok = true;
            for (g, w) in group_start.windows(2).enumerate() {
                ok &= group_chans[w[0] as usize..w[1] as usize]
                    .iter()
                    .enumerate()
                    .all(|(i, &c)| c as usize == g * l.lanes + i);
                r = w[1] as usize;
            }
            ok && r == n
        };
        let contiguous = contiguous.then(|| RowFold::new(l.lanes));
        let event_of = coords.iter().map(|&(c, y, x)| (c as usize, y as usize, x as usize, 1i64)).collect();
        LayerPrep {
            slots,
            coords,
            param_rom: crate::hw::memory::param_lane_bits(plan, k) > 0,
            thr_full: expand(&pr.thr),
            bias_full: expand(&pr.bias),
            bias_late_full: expand(&pr.bias_late),
            vreset_full: expand(&pr.vreset),
            leak_full,
            table_len: (n * reps).max(1),
            zeros: vec![0; n * reps],
            zero32: vec![0; n * reps],
            params_i32,
            extra: l.s_bits > 0 || pr.bias.iter().chain(&pr.bias_late).any(|&b| b != 0),
            order,
            group_chans,
            group_start,
            contiguous,
            event_of,
        }
    }
}

/// How each layer's consumers read its events: the most any consumer needs.
fn consumer_lists(plan: &Plan, fast: &[Vec<Fast>], plain: &[bool]) -> Vec<Lists> {
    let mut lists = vec![Lists::None; plan.layers.len()];
    for (k, l) in plan.layers.iter().enumerate() {
        for (pi, p) in l.projections.iter().enumerate() {
            if let Source::Layer(src) = p.source {
                let need = if l.saturate {
                    Lists::Ordered
                } else if matches!(fast[k][pi], Fast::DenseBinary { .. } | Fast::ConvBinary { .. } | Fast::OneToOne(_))
                    || (plain[src] && matches!(fast[k][pi], Fast::PoolDense(_)))
                    || (plain[src] && matches!(fast[k][pi], Fast::DenseCols(_)) && p.pre_pool.is_none())
                {
                    Lists::None
                } else {
                    Lists::Any
                };
                lists[src] = lists[src].max(need);
            }
        }
    }
    lists
}

/// Words of the input's shared bit planes, when binary dense projections read the input
/// ([`Engine::input_planes`]).
fn shared_input_planes(plan: &Plan, fast: &[Vec<Fast>]) -> Option<usize> {
    // Shared planes need every binary dense reader of the input to see the input's own
    // layout (validation guarantees it; a reader that did not would build its own).
    let readers: Vec<(&Projection, usize)> = plan
        .layers
        .iter()
        .zip(fast)
        .flat_map(|(l, f)| l.projections.iter().zip(f))
        .filter_map(|(p, f)| match f {
            Fast::DenseBinary { words, .. } if p.source == Source::Input => Some((p, *words)),
            _ => None,
        })
        .collect();
    let in_words = plan.input.numel().div_ceil(64);
    (!readers.is_empty() && readers.iter().all(|&(p, w)| w == in_words && p.src_shape == plan.input.shape))
        .then_some(in_words)
}

impl<'p> Engine<'p> {
    /// Prepares `plan` for passes of up to `cap` samples.
    pub(super) fn new(plan: &'p Plan, cap: usize) -> Self {
        // A multi-spike layer's events carry counts: its readers scatter each event's value.
        let counts = |p: &Projection| matches!(p.source, Source::Layer(s) if plan.layers[s].multi);
        let fast: Vec<Vec<Fast>> = plan
            .layers
            .iter()
            .map(|l| l.projections.iter().map(|p| if counts(p) { Fast::Scatter } else { Fast::of(l, p) }).collect())
            .collect();
        let cap = cap.max(1);
        let prep: Vec<LayerPrep> =
            plan.layers.iter().enumerate().map(|(k, l)| LayerPrep::new(plan, k, l, cap)).collect();
        let plain: Vec<bool> = plan
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let is_out = k == plan.output.layer;
                !l.saturate
                    && !l.kind.cuba()
                    && prep[k].params_i32
                    && (l.spiking() || !is_out)
                    && l.params.vmin.is_empty()
                    && !l.multi
            })
            .collect();
        let lists = consumer_lists(plan, &fast, &plain);
        let beats = plan
            .layers
            .iter()
            .map(|l| l.projections.iter().map(|p| (beats_per_event(l, p), weight_memory(l, p))).collect())
            .collect();
        let kept: Vec<Option<Vec<bool>>> = (0..plan.layers.len())
            .map(|k| dense::event_reach(plan, k).map(|r| (0..plan.layers[k].positions()).map(|q| r.at(q)).collect()))
            .collect();
        // An event the list does not keep is never read: no beats.
        let beats_at = plan
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                l.projections
                    .iter()
                    .enumerate()
                    .map(|(pi, p)| match kept_by(plan, &kept, k, pi) {
                        Some(kp) => {
                            let uniform = beats_per_event(l, p);
                            let at = schedule::beats_at(l, p);
                            Some(
                                kp.iter()
                                    .enumerate()
                                    .map(|(q, &on)| match (on, &at) {
                                        (false, _) => 0,
                                        (true, Some(at)) => at[q],
                                        (true, None) => u32::try_from(uniform).unwrap_or(u32::MAX),
                                    })
                                    .collect(),
                            )
                        }
                        None => schedule::beats_at(l, p),
                    })
                    .collect()
            })
            .collect();
        let input_planes = shared_input_planes(plan, &fast);
        let input_list = plan.layers.iter().zip(&fast).flat_map(|(l, f)| l.projections.iter().zip(f)).any(|(p, f)| {
            p.source == Source::Input && !(matches!(f, Fast::DenseBinary { .. }) && input_planes.is_some())
        });
        let mut proj_base = Vec::with_capacity(plan.layers.len());
        let mut nproj = 0;
        for l in &plan.layers {
            proj_base.push(nproj);
            nproj += l.projections.len();
        }
        let narrow = narrow_fits(plan, &fast, &plain);
        let pipe = (plan.schedule == Schedule::Pipelined).then(|| schedule::Pipe::new(plan));
        let dense = plan
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                (0..l.projections.len())
                    .map(|pi| {
                        (l.modes[pi] == Mode::Dense)
                            .then(|| {
                                dense::geometry(plan, k, pi).ok().map(|g| (g.words_per_row * g.bit_planes(), l.rows))
                            })
                            .flatten()
                    })
                    .collect()
            })
            .collect();
        let event_list = (0..plan.layers.len()).map(|k| dense::has_event_readers(plan, k)).collect();
        let plane_copies = (0..plan.layers.len())
            .map(|k| match dense::plane_readers(plan, k).len() {
                0 => 0,
                n if pipe.is_some() => n as u64,
                _ => 1,
            })
            .collect();
        Engine {
            plan,
            fast,
            beats,
            beats_at,
            prep,
            lists,
            plain,
            input_planes,
            input_list,
            proj_base,
            nproj,
            narrow,
            pipe,
            dense,
            event_list,
            kept,
            plane_copies,
            fused: (0..plan.layers.len()).map(|k| plan.fused(k)).collect(),
            planes: (0..plan.layers.len())
                .map(|k| {
                    let planes =
                        |pi| dense::geometry(plan, k, pi).map(|g| (g.weight_planes as u64, g.source_planes as u64));
                    (0..plan.layers[k].projections.len())
                        .map(|pi| if plan.fused(k) { planes(pi).unwrap_or((1, 1)) } else { (1, 1) })
                        .collect()
                })
                .collect(),
            layer_major: plan.schedule == Schedule::Streamed,
            runs: vec![true; plan.layers.len()],
            runs_proj: plan.layers.iter().map(|l| vec![true; l.projections.len()]).collect(),
        }
    }
}

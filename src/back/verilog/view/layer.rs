//! One layer as the templates print it: widths, leak modes, the neuron parameters (constants
//! or slices of the parameter ROM), entry fields of its event list, and its projections.
//! This file builds the view; its types ([`LayerView`] and its parts) are in [`super::types`].
//!
//! Invariants: the parameter ROM's lane slice holds the per-neuron parameters in
//! [`neuron_params`]' order, packed from bit 0 (the layout [`param_lane_bits`] sizes); the
//! fields that depend on the shared memories and datapaths (`*_sig`, `*_lw`, `g*`) hold the
//! layer's own values until [`super::banks`] and [`super::update`] fill them.

use super::common::{EmitError, Roms};
use super::expr::{abits, lit};
use super::proj::proj_view;
use super::rom::{RomParam, param_image};
use super::types::{LayerView, ParamView, PlaneMemView, PlaneView};
use crate::back::common::{ParamClass, in_registers, neuron_params};
use crate::hw::memory::{event_width, param_lane_bits};
use crate::hw::{Layer, Plan};
use crate::names::{Namer, label};
use crate::quant::Leak;

/// The spike plane of layer `k`, when some projection reads it densely.
fn plane_view(plan: &Plan, k: usize, l: &Layer) -> Option<PlaneView> {
    use crate::hw::Schedule;
    use crate::hw::dense::{Plane, plane_readers};
    let readers = plane_readers(plan, k);
    if readers.is_empty() {
        return None;
    }
    let pl = Plane::of(l);
    let aw = abits(pl.depth());
    let mems = match plan.schedule {
        Schedule::Pipelined => readers
            .iter()
            .map(|&r| PlaneMemView {
                pre: format!("l{k}pl{r}"),
                depth: 1 << (aw + 1),
                aw: aw + 1,
                logic: in_registers(plan, &format!("{}.plane.{}", l.name, plan.layers[r].name)),
                waddr: format!("{{g{k}_t[0], l{k}_pl_wa}}"),
                readers: super::common::plane_units(plan, k, r)
                    .into_iter()
                    .map(|u| (u.clone(), format!("{{g{r}_t[0], {u}_pa_b}}")))
                    .collect(),
            })
            .collect(),
        // Streamed, the plane lives in a memory shared in time (`banks::plane_banks`).
        Schedule::Streamed => vec![],
        // Sequential: one step's plane, its readers taking turns.
        Schedule::Sequential => vec![PlaneMemView {
            pre: format!("l{k}_pl"),
            depth: pl.depth(),
            aw,
            logic: in_registers(plan, &format!("{}.plane", l.name)),
            waddr: format!("l{k}_pl_wa"),
            readers: readers
                .iter()
                .flat_map(|&r| super::common::plane_units(plan, k, r))
                .map(|u| (u.clone(), format!("{u}_pa_b")))
                .collect(),
        }],
    };
    Some(PlaneView { m: pl.m, hw: pl.hw, hww: super::expr::bits_for_count(pl.hw), width: pl.width(), aw, mems })
}

/// hdl/sf_neuron.v's leak mode (0 zero, 1 one, 2 shift, 3 multiply) and shift.
fn leak_code(l: &Leak) -> (usize, u32) {
    match l {
        Leak::Zero => (0, 1),
        Leak::One => (1, 1),
        Leak::Shift { k } => (2, *k),
        Leak::Mul { .. } => (3, 1),
    }
}

/// The parameter ROM of a layer.
struct ParamRom {
    file: String,
    lane_bits: usize,
    logic: bool,
}

/// The layer's parameters (ROM slices for per-neuron values, constants otherwise) and, when
/// some are per neuron, its parameter ROM (its image added to `roms`).
fn params(
    plan: &Plan,
    k: usize,
    l: &Layer,
    ident: &str,
    roms: &mut Roms,
) -> (Vec<(String, ParamView)>, Option<ParamRom>) {
    let (vw, yw) = (l.v_bits as usize, (l.y_bits as usize).max(1));
    let pw = plan.rules.leak_bits() as usize + 1;
    let specs = neuron_params(l);
    let shares = plan.stored_shares(k);
    // The neuron parameters, then (a design taking a student mask) the students' shares, named
    // `<param>_s<student>`.
    let mut all: Vec<(String, &[i64], usize)> = specs
        .iter()
        .map(|s| {
            let w = match s.class {
                ParamClass::Membrane => vw,
                ParamClass::Synaptic => yw,
                ParamClass::Multiplier => pw,
            };
            (s.name.to_string(), &*s.vals, w)
        })
        .collect();
    all.extend(
        shares.iter().map(|sh| (format!("{}_s{}", sh.param, sh.student), sh.vals, if sh.membrane { vw } else { yw })),
    );
    let mut params = vec![];
    let mut in_rom = vec![];
    let mut lo = 0;
    for (name, vals, w) in all {
        let pv = if vals.len() > 1 {
            in_rom.push(RomParam { lo, width: w, vals });
            lo += w;
            ParamView { rom: true, lo: lo - w, width: w, konst: String::new() }
        } else {
            ParamView { rom: false, lo: 0, width: w, konst: lit(vals[0], w) }
        };
        params.push((name, pv));
    }
    let lane_bits = lo;
    debug_assert_eq!(lane_bits, param_lane_bits(plan, k), "param ROM layout matches the memory map");
    if lane_bits == 0 {
        return (params, None);
    }
    let file = format!("{ident}_params.hex");
    roms.push((file.clone(), param_image(l, &in_rom, lane_bits)));
    let logic = in_registers(plan, &format!("{}.params", l.name));
    (params, Some(ParamRom { file, lane_bits, logic }))
}

/// The view of layer `k` (its parameter and weight ROM images added to `roms`).
pub fn layer_view(
    plan: &Plan,
    k: usize,
    l: &Layer,
    namer: &mut Namer,
    roms: &mut Roms,
) -> Result<LayerView, EmitError> {
    let ident = namer.name(&l.name);
    let lanes = l.lanes;
    let vw = l.v_bits as usize;
    let (leak, leak_k) = leak_code(&l.leak);
    let (sleak, sleak_k) = l.syn_leak.as_ref().map_or((1, 1), leak_code);
    let (params, prom) = params(plan, k, l, &ident, roms);
    let [_, h, w] = l.shape;
    let (ecw, eyw, exw) = (abits(l.shape[0]), abits(h), abits(w));
    let ew = event_width(l);
    debug_assert_eq!(ew, ecw + eyw + exw + lanes * l.count_bits as usize + lanes);
    let mut projs = vec![];
    for (j, p) in l.projections.iter().enumerate() {
        projs.push(proj_view(plan, k, j, l, p, &ident, roms)?);
    }
    // Where each tile of lane groups starts (rows are lane group after lane group, each over
    // every position, so tile j is lane groups j G / n on, rows j R / n on).
    let n = l.tiles.max(1);
    let gpt = l.lane_groups() / n;
    let t_g0: Vec<usize> = (0..n).map(|j| j * gpt).collect();
    let t_row0: Vec<usize> = (0..n).map(|j| j * l.tile_rows()).collect();
    let t_cb0: Vec<usize> = t_g0.iter().map(|g| g % l.ncg).collect();
    let t_cg0: Vec<usize> = t_g0.iter().map(|g| g / l.ncg * l.group_size).collect();
    let t_c0: Vec<usize> = t_g0.iter().zip(&t_cg0).map(|(g, c)| c + g % l.ncg * lanes).collect();
    let pl = crate::hw::dense::Plane::of(l);
    let slots: Vec<(usize, usize)> = t_row0.iter().map(|&r| pl.slot(r)).collect();
    Ok(LayerView {
        k,
        name: label(&l.name),
        ident: ident.clone(),
        pre: format!("l{k}"),
        lanes,
        rows: l.tile_rows(),
        raw: abits(l.tile_rows()),
        vw,
        sw: (l.s_bits as usize).max(1),
        yw: (l.y_bits as usize).max(1),
        has_s: l.s_bits > 0,
        cuba: l.kind.cuba(),
        spiking: l.spiking(),
        sat: l.saturate,
        floor: !l.params.vmin.is_empty(),
        multi: l.multi,
        cb: if l.multi { l.count_bits as usize } else { 0 },
        leak,
        leak_k,
        sleak,
        sleak_k,
        params,
        shares: plan.stored_shares(k).iter().map(|sh| (sh.param.to_string(), sh.student)).collect(),
        has_prom: prom.is_some(),
        prom_depth: l.param_depth(),
        prom_aw: abits(l.param_depth()),
        prom_by_cgi: l.params_per_channel(),
        prom_file: prom.as_ref().map(|p| p.file.clone()).unwrap_or_default(),
        prom_bits: prom.as_ref().map_or(0, |p| p.lane_bits),
        prom_logic: prom.as_ref().is_some_and(|p| p.logic),
        gc: l.group_size,
        ncg: l.ncg,
        pos: l.positions(),
        h,
        w,
        ecw,
        eyw,
        exw,
        ew,
        lrows: crate::hw::dense::listed_rows(plan, k),
        reach: crate::hw::dense::event_reach(plan, k).map(|r| (reach_literal(&r.y, eyw), reach_literal(&r.x, exw))),
        is_out: k == plan.output.layer,
        out_logic: in_registers(plan, &format!("{}.out", l.name)),
        projs,
        x_sig: String::new(),
        s_sig: String::new(),
        y_sig: String::new(),
        x_lw: vw,
        s_lw: (l.s_bits as usize).max(1),
        y_lw: (l.y_bits as usize).max(1),
        gp: String::new(),
        gk: k,
        glw: 1,
        gvw: vw,
        plane: plane_view(plan, k, l),
        tiles: n,
        fused: None,
        tjw: super::common::tj_width(plan),
        t_g0,
        t_row0,
        t_cb0,
        t_c0,
        t_cg0,
        t_plwa: slots.iter().map(|s| s.0).collect(),
        t_ploh: slots.iter().map(|s| 1 << (s.1 / lanes)).collect(),
    })
}

/// A `2^width`-bit Verilog literal whose bit v is `kept[v]` (0 beyond its end).
fn reach_literal(kept: &[bool], width: usize) -> String {
    super::expr::bits_lit(1 << width, |v| kept.get(v).copied().unwrap_or(false))
}

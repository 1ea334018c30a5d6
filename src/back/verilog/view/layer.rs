//! One layer as the templates print it: widths, leak modes, the neuron parameters (constants
//! or slices of the parameter ROM), entry fields of its event list, and its projections.
//!
//! Invariants: the parameter ROM's lane slice holds the per-neuron parameters in
//! [`neuron_params`]' order, packed from bit 0 (the layout [`param_lane_bits`] sizes); the
//! fields that depend on the shared memories and datapaths (`*_sig`, `*_lw`, `g*`) hold the
//! layer's own values until [`super::banks`] and [`super::update`] fill them.

use super::expr::{abits, lit};
use super::proj::{ProjView, proj_view};
use super::rom::{RomParam, param_image};
use super::{EmitError, Roms};
use crate::back::common::{ParamClass, in_registers, neuron_params};
use crate::hw::memory::{event_width, param_lane_bits};
use crate::hw::{Layer, Plan};
use crate::names::{Namer, label};
use crate::quant::Leak;

/// One neuron parameter: a constant or a slice of the parameter ROM word of a lane.
pub struct ParamView {
    /// True when read from the ROM.
    pub rom: bool,
    /// Bit offset in the lane's slice.
    pub lo: usize,
    /// Width.
    pub width: usize,
    /// Constant literal (when not in ROM).
    pub konst: String,
}

/// One layer.
pub struct LayerView {
    /// Index.
    pub k: usize,
    /// Graph name (comment).
    pub name: String,
    /// Readable identifier from the namer (comments and ROM file names).
    pub ident: String,
    /// Prefix `l<k>`.
    pub pre: String,
    /// Lanes.
    pub lanes: usize,
    /// Rows.
    pub rows: usize,
    /// Row address width.
    pub raw: usize,
    /// Widths.
    pub vw: usize,
    /// S width (1 when absent).
    pub sw: usize,
    /// Y width (1 when absent).
    pub yw: usize,
    /// Has S.
    pub has_s: bool,
    /// Current-based.
    pub cuba: bool,
    /// Spiking.
    pub spiking: bool,
    /// Saturating.
    pub sat: bool,
    /// Has a membrane floor (VMIN).
    pub floor: bool,
    /// Multi-spike: its events and output words carry `cb`-bit counts.
    pub multi: bool,
    /// Count bits (0 unless multi-spike).
    pub cb: usize,
    /// Leak mode (0 zero, 1 one, 2 shift, 3 multiply) and shift k.
    pub leak: usize,
    /// Leak shift.
    pub leak_k: u32,
    /// Synaptic leak mode and k.
    pub sleak: usize,
    /// Synaptic leak shift.
    pub sleak_k: u32,
    /// Parameters: thr, bias, bias_late, vreset, syn_bias, syn_bias_late, beta_b, syn_b.
    pub params: Vec<(String, ParamView)>,
    /// Has a parameter ROM.
    pub has_prom: bool,
    /// Parameter ROM words (rows, or lane groups when per channel).
    pub prom_depth: usize,
    /// Parameter ROM address width.
    pub prom_aw: usize,
    /// Parameter ROM indexed by lane group.
    pub prom_by_cgi: bool,
    /// Parameter ROM file.
    pub prom_file: String,
    /// Parameter bits per lane.
    pub prom_bits: usize,
    /// Parameter ROM in logic.
    pub prom_logic: bool,
    /// Channel group bookkeeping for entries: channels per group, lane groups per group.
    pub gc: usize,
    /// Lane groups per channel group.
    pub ncg: usize,
    /// Positions H*W.
    pub pos: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// Entry field widths.
    pub ecw: usize,
    /// Entry y width.
    pub eyw: usize,
    /// Entry x width.
    pub exw: usize,
    /// Entry width.
    pub ew: usize,
    /// Output layer.
    pub is_out: bool,
    /// Output buffer style.
    pub out_logic: bool,
    /// Projections.
    pub projs: Vec<ProjView>,
    /// Read data of the banks holding X, S and Y (`bank_rdata`), and their lane strides.
    pub x_sig: String,
    /// S read data.
    pub s_sig: String,
    /// Y read data.
    pub y_sig: String,
    /// Lane strides of the X, S, Y banks.
    pub x_lw: usize,
    /// Signal prefix of the update datapath (and, pipelined, the sequencer) serving the
    /// layer: empty in the sequential schedule.
    pub gp: String,
    /// The layer's index among that datapath's layers, and that index's width.
    pub gk: usize,
    /// See `gk`.
    pub glw: usize,
    /// That datapath's membrane width.
    pub gvw: usize,
    /// S lane stride.
    pub s_lw: usize,
    /// The spike plane its dense readers read (docs/hardware.md 4c); None: no dense reader.
    pub plane: Option<PlaneView>,
    /// Y lane stride.
    pub y_lw: usize,
}

impl LayerView {
    /// `rows - k`, floored at zero (a compare that a short layer never reaches).
    pub fn rows_minus(&self, k: usize) -> usize {
        self.rows.saturating_sub(k)
    }
    /// The parameter named `n`.
    pub fn param(&self, n: &str) -> &ParamView {
        &self.params.iter().find(|(name, _)| name == n).expect("known parameter").1
    }
}

/// One memory of a spike plane: the sequential schedule's (its readers take turns) or, pipelined,
/// one reader layer's copy (two steps deep, the step parity on top of the address).
pub struct PlaneMemView {
    /// Memory prefix.
    pub pre: String,
    /// Words and address width.
    pub depth: usize,
    /// See `depth`.
    pub aw: usize,
    /// In logic.
    pub logic: bool,
    /// Write address.
    pub waddr: String,
    /// Readers: (projection prefix, read address).
    pub readers: Vec<(String, String)>,
}

/// A layer's spike plane ([`crate::hw::dense::Plane`]): what the update pass writes where.
pub struct PlaneView {
    /// Lane groups per word, positions and the position counter's width, word bits, address width.
    pub m: usize,
    /// See `m`.
    pub hw: usize,
    /// See `m`.
    pub hww: usize,
    /// See `m`.
    pub width: usize,
    /// See `m`.
    pub aw: usize,
    /// The memories.
    pub mems: Vec<PlaneMemView>,
}

/// The spike plane of layer `k`, when some projection reads it densely.
fn plane_view(plan: &Plan, k: usize, l: &Layer) -> Option<PlaneView> {
    use crate::hw::dense::{Mode, Plane, is, plane_readers};
    let readers = plane_readers(plan, k);
    if readers.is_empty() {
        return None;
    }
    let pl = Plane::of(l);
    let aw = abits(pl.depth());
    let pipelined = plan.schedule == crate::hw::Schedule::Pipelined;
    let units = |r: usize| -> Vec<String> {
        let lr = &plan.layers[r];
        (0..lr.projections.len())
            .filter(|&j| lr.projections[j].source == crate::quant::Source::Layer(k) && is(lr, j, Mode::Dense))
            .map(|j| format!("l{r}p{j}"))
            .collect()
    };
    let mems = if pipelined {
        readers
            .iter()
            .map(|&r| PlaneMemView {
                pre: format!("l{k}pl{r}"),
                depth: 1 << (aw + 1),
                aw: aw + 1,
                logic: in_registers(plan, &format!("{}.plane.{}", l.name, plan.layers[r].name)),
                waddr: format!("{{g{k}_t[0], l{k}_pl_wa}}"),
                readers: units(r).into_iter().map(|u| (u.clone(), format!("{{g{r}_t[0], {u}_pa_b}}"))).collect(),
            })
            .collect()
    } else {
        vec![PlaneMemView {
            pre: format!("l{k}_pl"),
            depth: pl.depth(),
            aw,
            logic: in_registers(plan, &format!("{}.plane", l.name)),
            waddr: format!("l{k}_pl_wa"),
            readers: readers.iter().flat_map(|&r| units(r)).map(|u| (u.clone(), format!("{u}_pa_b"))).collect(),
        }]
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
    let mut params = vec![];
    let mut in_rom = vec![];
    let mut lo = 0;
    for s in &specs {
        let w = match s.class {
            ParamClass::Membrane => vw,
            ParamClass::Synaptic => yw,
            ParamClass::Multiplier => pw,
        };
        let pv = if s.vals.len() > 1 {
            in_rom.push(RomParam { lo, width: w, vals: &s.vals });
            lo += w;
            ParamView { rom: true, lo: lo - w, width: w, konst: String::new() }
        } else {
            ParamView { rom: false, lo: 0, width: w, konst: lit(s.vals[0], w) }
        };
        params.push((s.name.to_string(), pv));
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
    Ok(LayerView {
        k,
        name: label(&l.name),
        ident: ident.clone(),
        pre: format!("l{k}"),
        lanes,
        rows: l.rows,
        raw: abits(l.rows),
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
    })
}

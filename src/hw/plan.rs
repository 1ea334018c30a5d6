//! The plan's data: a quantised network placed in lanes ([`Layer`]), its logical memories and
//! their mapping, and the projections' modes ([`Plan`]). Plain data: the layout, memory map and
//! datapath choice that fill it live in the other files of `hw`.

use std::ops::Deref;

use serde::Serialize;

use super::memmap::{Bank, Memory};
use super::mode::{Mode, ModeChoice};
use crate::quant::students::{Activity, MaskError, masked_params};
use crate::quant::{self, Network, ProjKind};
use crate::target::{ExternalMemory, Schedule};

/// A quantised layer placed in lanes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Layer {
    /// The layer's arithmetic (read through `Deref`; the layout never changes it).
    #[serde(flatten)]
    pub(super) q: quant::Layer,
    /// Neuron lanes: a power of two from every user entry (the CLI, `explore`, a target's
    /// default); the library takes others too (the hardware then divides by a constant where
    /// it would shift).
    pub lanes: usize,
    /// Lane groups per channel group: `ceil(Gc / L)`.
    pub ncg: usize,
    /// Rows: `C/Gc * ncg * H * W`.
    pub rows: usize,
    /// How each projection accumulates (one per projection; [`dense`]).
    pub modes: Vec<Mode>,
    /// Tiles of lane groups a streamed plan cuts the layer into (1: the whole layer, every
    /// other schedule). Tile j holds lane groups `j * G / tiles ..` (G the lane groups, which
    /// `tiles` divides): rows `j * rows / tiles ..`, and runs all T steps before tile j + 1
    /// (docs/hardware.md 4d).
    #[serde(skip_serializing_if = "is_one")]
    pub tiles: usize,
    /// The widest spike-plane word of this layer when a projection reads it densely
    /// (`--plane-bits`, [`super::dense::Plane`]).
    #[serde(skip_serializing_if = "is_default_plane")]
    pub plane_bits: usize,
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

/// The widest plane word by default (`--plane-bits`): lane groups of one position are packed
/// up to this many bits ([`super::dense::Plane`]).
pub const WORD_MAX: usize = 32;

fn is_default_plane(n: &usize) -> bool {
    *n == WORD_MAX
}

impl Deref for Layer {
    type Target = quant::Layer;
    fn deref(&self) -> &quant::Layer {
        &self.q
    }
}

impl Layer {
    /// Places `q` in `lanes` lanes (at most the next power of two of its group size), its
    /// spike plane's words at most `plane_bits` wide.
    pub fn place(q: quant::Layer, lanes: usize, plane_bits: usize) -> Layer {
        // Lanes a power of two make lane and row of a channel a mask and a shift.
        let lanes = lanes.max(1).min(q.group_size.next_power_of_two());
        let ncg = q.group_size.div_ceil(lanes);
        let rows = (q.shape[0] / q.group_size) * ncg * q.shape[1] * q.shape[2];
        let modes = vec![Mode::Event; q.projections.len()];
        Layer { q, lanes, ncg, rows, modes, tiles: 1, plane_bits }
    }

    /// (row, lane) of neuron (c, y, x).
    pub fn slot(&self, c: usize, y: usize, x: usize) -> (usize, usize) {
        let g = c / self.group_size;
        let local = c % self.group_size;
        let cgi = g * self.ncg + local / self.lanes;
        (cgi * self.positions() + y * self.shape[2] + x, local % self.lanes)
    }

    /// Channel of lane `l` in lane group `cgi` (may be >= C or outside the group: padding).
    pub fn channel_of(&self, cgi: usize, l: usize) -> Option<usize> {
        let g = cgi / self.ncg;
        let local = (cgi % self.ncg) * self.lanes + l;
        (local < self.group_size).then_some(g * self.group_size + local)
    }

    /// Rows of one tile ([`Layer::tiles`]): the rows a streamed plan's state memories hold of
    /// this layer at once.
    pub fn tile_rows(&self) -> usize {
        self.rows / self.tiles
    }

    /// Lane groups: rows per position (`C/Gc * ncg`).
    pub fn lane_groups(&self) -> usize {
        self.rows / self.positions()
    }

    /// Words of the parameter ROM: one per lane group when every parameter is per channel,
    /// else one per row.
    pub fn param_depth(&self) -> usize {
        if self.params_per_channel() { self.lane_groups() } else { self.rows }
    }

    /// Words of projection `proj`'s weight ROM in the event-driven layout (0: one constant
    /// weight): a dense row per input column and lane group, a conv kernel tap per input
    /// channel and lane group, a pooled or one-to-one weight per lane group (per channel) or
    /// per row.
    pub fn weight_depth(&self, proj: usize) -> usize {
        let p = &self.projections[proj];
        match &p.kind {
            ProjKind::Dense { cols } => cols * self.ncg,
            ProjKind::Conv { ci, kh, kw, .. } => ci * kh * kw * self.ncg,
            ProjKind::Pool(_) | ProjKind::OneToOne => {
                if p.weights.values.len() == 1 {
                    0
                } else if self.weights_per_channel(p) {
                    self.lane_groups()
                } else {
                    self.rows
                }
            }
        }
    }
}

/// The complete FPGA plan: the quantised network in lanes, its memories, the target clock.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    /// The network, its layers placed (read through `Deref`; the layout never changes it).
    #[serde(flatten)]
    pub(super) net: Network<Layer>,
    /// Target name.
    pub target: String,
    /// Clock in MHz the latency figures assume.
    pub clock_mhz: f64,
    /// Logical memories and their mapping.
    pub memories: Vec<Memory>,
    /// The RTL's shared state memories and event lists (each holding per-layer memories of
    /// `memories`).
    pub banks: Vec<Bank>,
    /// The target device's block RAMs (0: none). When the memory map fits them, the RTL holds
    /// synthesis to it (block ROMs stay in block RAM, not in logic).
    pub device_block_rams: u64,
    /// How the layers share the hardware in time.
    pub schedule: Schedule,
    /// The streamed schedule with the T steps of a row side by side (`--fuse-steps`): every
    /// layer [`Plan::fused`] names runs as one phase a tile ([`super::schedule::fused_cycles`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fuse_steps: bool,
    /// Why `--schedule auto` chose `schedule` (None: the schedule was asked for).
    pub schedule_note: Option<String>,
    /// How `--datapath auto` chose the projections' modes (None: the modes were asked for).
    pub datapath_note: Option<String>,
    /// `--datapath auto`'s figures for each projection that can run dense.
    pub mode_choices: Vec<ModeChoice>,
    /// The board memory the weights stream from (the streamed schedule on a board with one):
    /// every weight memory is then [`super::MemMap::External`], its words in schedule order,
    /// and the design runs it at the plan's clock. None: every weight on chip.
    #[serde(skip)]
    pub external: Option<ExternalMemory>,
    /// The students a board design runs from power-on (`compile --active-students`: the board
    /// wrapper ties the `act` port to them, and the report's raster runs them), one flag per
    /// student of a plan that takes a mask ([`Plan::takes_mask`]), always one [`Plan::masked`]
    /// accepts; None: every student.
    #[serde(skip)]
    pub power_on: Option<Vec<bool>>,
    /// The design runs the input-adaptive cascade (`--cascade`, docs/hardware.md section
    /// "The cascade"): its `casc` and `margin` ports, the decision phase and the stage
    /// registers, with this margin as the board wrapper's power-on default. Only set on a plan
    /// [`Plan::cascade_refusal`] accepts. None: no cascade hardware.
    #[serde(skip)]
    pub cascade: Option<Cascade>,
}

/// The input-adaptive cascade a design runs ([`Plan::cascade`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cascade {
    /// The board wrapper's margin (the `margin` port's power-on value).
    pub margin: u64,
    /// The order the students run in, one stage each (every student once): the design's
    /// priority of the next active student.
    pub order: Vec<usize>,
}

impl Plan {
    /// Layer `k` runs its rows with the T steps side by side (docs/streaming.md section 3): a
    /// streamed plan with [`Plan::fuse_steps`], every projection of the layer a dense gather,
    /// and not the output layer (whose rows go out step by step). Its state memories hold one
    /// block of rows, its sources' planes are read T steps a word.
    pub fn fused(&self, k: usize) -> bool {
        let l = &self.layers[k];
        self.fuse_steps
            && self.schedule == Schedule::Streamed
            && k != self.output.layer
            && !l.modes.is_empty()
            && l.modes.iter().all(|m| *m == Mode::Dense)
    }

    /// The quantised network this plan lays out, without its placement: what another layout
    /// of the same arithmetic starts from.
    pub fn quantised(&self) -> Network {
        self.net.clone().map_layers(|l| l.q)
    }

    /// The plan under a run-time student mask (`active`: one flag per student of its
    /// ensemble): the shared layers' constants less the inactive students' shares, and which
    /// layers and projections run ([`crate::quant::students`]). The design and its memories
    /// are the plan's own; only what the mask switches differs.
    pub fn masked(&self, active: &[bool]) -> Result<(Plan, Activity), MaskError> {
        let st = self.students.as_ref().ok_or(MaskError::NoEnsemble)?;
        let act = Activity::of(st, active)?;
        if self.schedule == Schedule::Pipelined {
            return Err(MaskError::Unsupported(
                "the pipelined schedule does not take a student mask yet; use --schedule sequential or streamed".into(),
            ));
        }
        if self.external.is_some() {
            return Err(MaskError::Unsupported(
                "a plan whose weights stream from external memory does not take a student mask yet".into(),
            ));
        }
        let out = self.output.layer;
        if let (false, Some(s)) = (act.layer[out], st.layer[out]) {
            return Err(MaskError::OutputInStudent {
                layer: self.layers[out].name.clone(),
                student: st.names[s].clone(),
            });
        }
        // Range analysis bounds every layer under every mask; a layer whose stored constants
        // were clamped to a capped width has no share to take away exactly.
        if let Some(sh) = st.shares.iter().find(|sh| self.layers[sh.layer].saturate) {
            return Err(MaskError::Saturated { layer: self.layers[sh.layer].name.clone() });
        }
        let mut p = self.clone();
        for (k, l) in p.net.layers.iter_mut().enumerate() {
            l.q.params = masked_params(&l.q.params, k, st, &act);
        }
        Ok((p, act))
    }

    /// The RTL takes this plan's student mask at run time (its `act` port, docs/hardware.md
    /// section "Student masks"): an ensemble's plan in the sequential or streamed schedule with every
    /// weight on chip, its output layer outside every student and no shared layer clamped to a
    /// capped width, so that every mask [`Plan::masked`] takes is one the design runs. Also
    /// left out: a layer storing one parameter word per channel whose shares are not per
    /// channel. With early exit, no state memory mixes students (`hw::memory`), so each
    /// student's memories keep an epoch of their own.
    pub fn takes_mask(&self) -> bool {
        self.mask_students().is_some()
    }

    /// Why the designs of this plan, an ensemble's, take no student mask (None: they do, or it
    /// has no ensemble): the first of [`Plan::takes_mask`]'s conditions it breaks.
    pub fn mask_refusal(&self) -> Option<String> {
        let st = self.students.as_ref()?;
        if self.mask_students().is_some() {
            return None;
        }
        let out = self.output.layer;
        Some(if !matches!(self.schedule, Schedule::Sequential | Schedule::Streamed) {
            format!(
                "{} schedule; the sequential and streamed schedules' designs take one: --schedule sequential",
                self.schedule.name()
            )
        } else if self.external.is_some() {
            "its weights stream from external memory".into()
        } else if let Some(s) = st.layer[out] {
            format!("its output layer '{}' belongs to student '{}'", self.layers[out].name, st.names[s])
        } else if let Some(sh) = st.shares.iter().find(|sh| self.layers[sh.layer].saturate) {
            format!("layer '{}', which holds students' shares, saturates", self.layers[sh.layer].name)
        } else {
            "a layer storing one parameter word per channel holds students' shares that differ within a channel".into()
        })
    }

    /// The students of a plan whose RTL takes a student mask ([`Plan::takes_mask`]): the width
    /// and meaning of its `act` port.
    pub fn mask_students(&self) -> Option<&quant::students::Students> {
        let st = self.students.as_ref()?;
        let takes = matches!(self.schedule, Schedule::Sequential | Schedule::Streamed)
            && self.external.is_none()
            && st.layer[self.output.layer].is_none()
            && !st.shares.iter().any(|sh| {
                let l = &self.layers[sh.layer];
                l.saturate
                    || (l.params_per_channel()
                        && ![&sh.bias, &sh.bias_late, &sh.syn_bias, &sh.syn_bias_late].iter().all(|v| l.channelwise(v)))
            });
        takes.then_some(st)
    }

    /// The students' shares of layer `k`'s constants that a design taking a mask stores beside
    /// the constants (none for any other design): each share that is not zero, by student, then
    /// in the order bias, bias_late, syn_bias, syn_bias_late. The design subtracts an inactive
    /// student's shares from the stored constants.
    pub fn stored_shares(&self, k: usize) -> Vec<StoredShare<'_>> {
        let Some(st) = self.mask_students() else { return vec![] };
        let mut out = vec![];
        for sh in st.shares.iter().filter(|sh| sh.layer == k) {
            for (param, vals, membrane) in [
                ("bias", &sh.bias, true),
                ("bias_late", &sh.bias_late, true),
                ("syn_bias", &sh.syn_bias, false),
                ("syn_bias_late", &sh.syn_bias_late, false),
            ] {
                if vals.iter().any(|&v| v != 0) {
                    out.push(StoredShare { student: sh.student, param, vals, membrane });
                }
            }
        }
        out
    }

    /// The layers each update datapath serves, by plan index: one datapath for every layer
    /// (the sequential and streamed schedules), or one per layer (pipelined). The RTL makes
    /// each as wide as the widest of its layers.
    pub fn update_groups(&self) -> Vec<Vec<usize>> {
        let n = self.layers.len();
        if self.schedule == Schedule::Pipelined { (0..n).map(|k| vec![k]).collect() } else { vec![(0..n).collect()] }
    }

    /// Why this plan's design cannot run the input-adaptive cascade (None: it can). The
    /// cascade runs the active students one at a time in plan order, each stage one student's
    /// layers (every step) and then the layers after every student (the tail, from step 0
    /// under the students run so far), and stops when the output's margin reaches the
    /// threshold. So it needs a design taking a student mask ([`Plan::takes_mask`]) in the
    /// streamed schedule (the layer-major order that finishes a student before the tail
    /// starts and keeps every student's output planes until the end), each student's layers
    /// one block, every other layer after the blocks, and a spiking output whose counts give
    /// the margin. The stages' order is the design's ([`Plan::cascade_order`]), not the
    /// blocks'.
    pub fn cascade_refusal(&self) -> Option<String> {
        let Some(st) = self.students.as_ref() else {
            return Some("the network has no ensemble of students".into());
        };
        if let Some(why) = self.mask_refusal() {
            return Some(format!("its design takes no student mask ({why})"));
        }
        if self.schedule != Schedule::Streamed {
            return Some(format!(
                "the {} schedule runs every layer at each step; the cascade runs in the streamed schedule's \
                 layer-major order: --schedule streamed",
                self.schedule.name()
            ));
        }
        if !self.output.spikes {
            return Some("its output is membrane values; the cascade's margin counts output spikes".into());
        }
        // Each student's layers one block, every block before the tail.
        let mut done = vec![false; st.names.len()];
        let mut cur: Option<usize> = None;
        let mut tail = false;
        for (k, l) in self.layers.iter().enumerate() {
            match st.layer[k] {
                Some(s) => {
                    if tail {
                        return Some(format!(
                            "layer '{}' of student '{}' comes after a shared layer; the cascade needs the shared \
                             layers after every student's",
                            l.name, st.names[s]
                        ));
                    }
                    if cur != Some(s) {
                        if done[s] {
                            return Some(format!(
                                "student '{}' has layers apart from each other (layer '{}'); the cascade runs each \
                                 student's layers together",
                                st.names[s], l.name
                            ));
                        }
                        if let Some(p) = cur {
                            done[p] = true;
                        }
                        cur = Some(s);
                    }
                }
                None => {
                    if cur.is_none() {
                        return Some(format!(
                            "layer '{}' runs before every student; the cascade needs the shared layers after them",
                            l.name
                        ));
                    }
                    tail = true;
                }
            }
        }
        None
    }

    /// The order of the cascade's stages: the plan's [`Cascade`] order, else the students'
    /// (an empty list without an ensemble).
    pub fn cascade_order(&self) -> Vec<usize> {
        match (&self.cascade, &self.students) {
            (Some(c), _) => c.order.clone(),
            (None, Some(st)) => (0..st.names.len()).collect(),
            (None, None) => vec![],
        }
    }

    /// The largest margin the cascade's `margin` port holds: one more than any margin an
    /// output can reach (T steps of the output layer's most spikes per step), so a larger
    /// threshold is the same as this one (never met).
    pub fn cascade_margin_cap(&self) -> u64 {
        self.timesteps as u64 * self.layers[self.output.layer].event_max() as u64 + 1
    }

    /// The same plan run to its last step: early exit off, the arithmetic unchanged.
    pub fn without_early_exit(&self) -> Plan {
        let mut p = self.clone();
        p.net.early_exit = false;
        p
    }

    /// The projections' modes, per layer.
    pub fn modes(&self) -> Vec<Vec<Mode>> {
        self.layers.iter().map(|l| l.modes.clone()).collect()
    }

    /// The tiles a streamed plan fetches from its external memory, in schedule order: per
    /// layer with weights, one per tile of lane groups ([`Layer::tiles`]), each holding that
    /// tile's slice of every weight memory of the layer as one contiguous request (empty when
    /// every weight is on chip).
    pub fn tiles(&self) -> Vec<Tile> {
        // Per layer: the first slice's address and the words of one tile (the layer's slices
        // are back to back, projection after projection, tile after tile).
        let mut first: Vec<Option<(u64, u64, usize)>> = vec![None; self.layers.len()];
        for m in &self.memories {
            let (super::MemMap::External { addr, words, slices, .. }, Some(layer)) = (&m.map, m.layer) else {
                continue;
            };
            let f = first[layer].get_or_insert((*addr, 0, *slices));
            f.1 += words;
        }
        let mut tiles = vec![];
        for (layer, f) in first.iter().enumerate() {
            let Some((addr, words, slices)) = *f else { continue };
            tiles.extend((0..slices).map(|j| Tile { layer, addr: addr + j as u64 * words, words }));
        }
        tiles.sort_by_key(|t| t.addr);
        tiles
    }
}

/// One request of a streamed plan's weights: a layer's, from its external memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Tile {
    /// The layer that reads it.
    pub layer: usize,
    /// First word address.
    pub addr: u64,
    /// Words.
    pub words: u64,
}

impl Deref for Plan {
    type Target = Network<Layer>;
    fn deref(&self) -> &Network<Layer> {
        &self.net
    }
}

/// One student's share of one of a shared layer's constants, as a design taking a student mask
/// stores it ([`Plan::stored_shares`]).
#[derive(Clone, Copy, Debug)]
pub struct StoredShare<'a> {
    /// The student.
    pub student: usize,
    /// The constant it is a share of: `bias`, `bias_late`, `syn_bias` or `syn_bias_late`.
    pub param: &'static str,
    /// Its values: one for every neuron, or one per neuron.
    pub vals: &'a [i64],
    /// A membrane constant (V bits wide), else a synaptic one (Y bits).
    pub membrane: bool,
}

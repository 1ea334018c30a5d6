//! Update datapaths: the neuron lanes and the position counters of the update pass, and each
//! layer's signals as a datapath sees them.
//!
//! The sequential schedule has one datapath serving every layer (signals unprefixed, `ul`
//! selects the layer); the pipelined one has one per layer (prefix `g<k>_`). Invariant: a
//! datapath is as wide as the widest of its layers; a narrower layer's lanes and values are
//! sign-extended into it (zero lanes above its own).

use super::expr::{abits, lit, mask_lit, sext_literal};
use super::types::{LayerView, ParamView};
use crate::hw::memory::param_lane_bits;
use crate::hw::{Layer, Plan, Schedule};

/// `hi:lo` of `w` bits from `lo`.
fn bit_range(lo: usize, w: usize) -> String {
    format!("{}:{lo}", lo + w - 1)
}

/// Widths of an update datapath (the largest of its layers).
#[derive(Clone)]
pub struct Shared {
    /// Lanes.
    pub ls: usize,
    /// Membrane width.
    pub vw: usize,
    /// Static accumulator width.
    pub sw: usize,
    /// Synaptic state width.
    pub yw: usize,
    /// Row address width.
    pub rw: usize,
    /// Leak multiplier bits (P + 1).
    pub pb: usize,
}

/// An update datapath and the layers it serves: every layer in the sequential schedule (its
/// signals unprefixed), one layer each in the pipelined one.
pub struct UGroupView {
    /// Signal prefix (`g<k>_`, or empty).
    pub p: String,
    /// The layers, by plan index; a layer's index in the group is its position here.
    pub ks: Vec<usize>,
    /// Datapath widths (the widest of its layers).
    pub sh: Shared,
    /// Width of a layer index in the group.
    pub lw: usize,
    /// Widths of the position counters (lane group, y, x) and the position in a channel.
    pub ucw: usize,
    /// See `ucw`.
    pub uyw: usize,
    /// See `ucw`.
    pub uxw: usize,
    /// See `ucw`.
    pub upw: usize,
    /// Some layer reads its parameter ROM per lane group, and the width of that address.
    pub any_prom_by_cgi: bool,
    /// See `any_prom_by_cgi`.
    pub pa_w: usize,
    /// Pipelined: the index of the layer's UPD phase in its unit's program.
    pub upd: usize,
}

/// The update datapaths of `plan`; sets each layer's datapath fields (`gp`, `gk`, `glw`,
/// `gvw`) and returns each layer's datapath widths too.
pub fn update_groups(plan: &Plan, layers: &mut [LayerView]) -> (Vec<UGroupView>, Vec<Shared>) {
    let pipelined = plan.schedule == Schedule::Pipelined;
    let gsets = plan.update_groups();
    let mut ugroups = vec![];
    let mut lsh: Vec<Option<Shared>> = vec![None; layers.len()];
    for ks in gsets {
        let pl = |f: &dyn Fn(&Layer) -> usize| ks.iter().map(|&k| f(&plan.layers[k])).max().unwrap_or(1);
        let gsh = Shared {
            ls: pl(&|l| l.lanes),
            vw: ks.iter().map(|&k| plan.layers[k].v_bits as usize).max().unwrap_or(2),
            sw: pl(&|l| (l.s_bits as usize).max(1)),
            yw: pl(&|l| (l.y_bits as usize).max(1)),
            // A layer in tiles of lane groups updates one tile's rows a pass.
            rw: pl(&|l| abits(l.tile_rows())),
            pb: plan.rules.leak_bits() as usize + 1,
        };
        let p = if pipelined { format!("g{}_", ks[0]) } else { String::new() };
        let glw = abits(ks.len());
        for (i, &k) in ks.iter().enumerate() {
            (layers[k].gp, layers[k].gk, layers[k].glw, layers[k].gvw) = (p.clone(), i, glw, gsh.vw);
            lsh[k] = Some(gsh.clone());
        }
        let prom = |k: &usize| plan.layers[*k].params_per_channel() && param_lane_bits(plan, *k) > 0;
        ugroups.push(UGroupView {
            p,
            lw: glw,
            ucw: pl(&|l| abits(l.ncg)),
            uyw: pl(&|l| abits(l.shape[1])),
            uxw: pl(&|l| abits(l.shape[2])),
            upw: pl(&|l| abits(l.positions())),
            any_prom_by_cgi: ks.iter().any(prom),
            pa_w: ks.iter().filter(|k| prom(k)).map(|&k| abits(plan.layers[k].param_depth())).max().unwrap_or(1),
            upd: plan.layers[ks[0]].projections.len(),
            sh: gsh,
            ks,
        });
    }
    let lsh = lsh.into_iter().map(|s| s.expect("every layer has a datapath")).collect();
    (ugroups, lsh)
}

impl LayerView {
    /// A multi-spike layer's counts at the write stage, `{lane lanes-1, ..., lane 0}` of `cb`
    /// bits each from its datapath's `u_cntm` (`qw` bits per lane); empty for other layers.
    pub fn count_bus(&self, qw: impl std::borrow::Borrow<usize>) -> String {
        let qw = *qw.borrow();
        if !self.multi {
            return String::new();
        }
        let parts: Vec<String> =
            (0..self.lanes).rev().map(|l| format!("{}u_cntm[{}]", self.gp, bit_range(l * qw, self.cb))).collect();
        format!("{{{}}}", parts.join(", "))
    }

    /// `{lane LS-1, ..., lane 0}` with lane l = `f(l)` for l < lanes and `pad` beyond.
    fn lanes_concat(&self, ls: usize, pad: &str, f: impl Fn(usize) -> String) -> String {
        let parts: Vec<String> = (0..ls).rev().map(|l| if l < self.lanes { f(l) } else { pad.to_string() }).collect();
        format!("{{{}}}", parts.join(", "))
    }

    /// Sign-extends `w`-bit slice `[lo +: w]` of `sig` to `to` bits.
    pub(super) fn sext(sig: &str, lo: usize, w: usize, to: usize) -> String {
        if to == w {
            format!("{sig}[{lo} +: {w}]")
        } else {
            format!("{{{{{}{{{sig}[{}]}}}}, {sig}[{lo} +: {w}]}}", to - w, lo + w - 1)
        }
    }

    /// The layer's X (or S, Y) read data, sign-extended to the shared widths, `ls` lanes.
    pub fn u_state(&self, which: &str, sh: &Shared) -> String {
        let (w, to, sig, lw) = match which {
            "s" => (self.sw, sh.sw, &self.s_sig, self.s_lw),
            "y" => (self.yw, sh.yw, &self.y_sig, self.y_lw),
            _ => (self.vw, sh.vw, &self.x_sig, self.x_lw),
        };
        let present = match which {
            "s" => self.has_s,
            "y" => self.cuba,
            _ => true,
        };
        let zero = format!("{to}'d0");
        if !present {
            return format!("{{{}{{{zero}}}}}", sh.ls);
        }
        self.lanes_concat(sh.ls, &zero, |l| Self::sext(sig, l * lw, w, to))
    }

    /// Parameter `n` for the shared lanes: a constant or ROM slices, sign-extended (beta_b and
    /// syn_b are unsigned multipliers and are zero-extended by width equality).
    pub fn u_param(&self, n: &str, sh: &Shared) -> String {
        let pbits = sh.pb;
        let p = self.param(n);
        let to = match n {
            "syn_bias" | "syn_bias_late" => sh.yw,
            "beta_b" | "syn_b" => pbits,
            _ => sh.vw,
        };
        let zero = format!("{to}'d0");
        let sig = format!("{}_prom", self.pre);
        let lb = self.prom_bits;
        // One lane's value of parameter `p`, sign-extended to `to` bits.
        let lane = |p: &ParamView, l: usize| {
            if p.rom { Self::sext(&sig, l * lb + p.lo, p.width, to) } else { sext_literal(&p.konst, p.width, to) }
        };
        let shares: Vec<usize> = self.shares.iter().filter(|(c, _)| c == n).map(|&(_, s)| s).collect();
        if !shares.is_empty() {
            // A design taking a student mask: the stored constant less each inactive student's
            // share (`act_r`, the inference's mask), lane by lane at `to` bits. Range analysis
            // bounds the layer under every mask, so the difference fits.
            return self.lanes_concat(sh.ls, &zero, |l| {
                let mut e = lane(p, l);
                for &s in &shares {
                    let q = self.param(&format!("{n}_s{s}"));
                    e = format!("{e} - ({{{to}{{!act_r[{s}]}}}} & {})", lane(q, l));
                }
                format!("({e})")
            });
        }
        if p.rom {
            self.lanes_concat(sh.ls, &zero, |l| Self::sext(&sig, l * lb + p.lo, p.width, to))
        } else {
            // Re-express the layer's constant at the shared width.
            let konst = sext_literal(&p.konst, p.width, to);
            format!("{{{}{{{konst}}}}}", sh.ls)
        }
    }

    /// The layer's saturation bound (V or Y, high or low) at the shared width.
    pub fn bound(&self, v: bool, hi: bool, sh: &Shared) -> String {
        let (w, to) = if v { (self.vw, sh.vw) } else { (self.yw, sh.yw) };
        let x = if hi { (1i64 << (w - 1)) - 1 } else { -(1i64 << (w - 1)) };
        lit(x, to)
    }

    /// The layer's lanes among the shared ones: `lanes` ones in the low bits.
    pub fn u_lanes(&self, sh: &Shared) -> String {
        mask_lit(sh.ls, self.lanes)
    }

    /// The last lane group's valid lanes, widened to the shared lanes.
    pub fn u_lastmask(&self, sh: &Shared) -> String {
        mask_lit(sh.ls, self.gc - (self.ncg - 1) * self.lanes)
    }

    /// The layer's datapath's result `sig` (`ls` lanes of `from` bits) truncated to this
    /// layer's lanes of `w`.
    pub fn u_trunc(&self, sig: &str, from: &usize, w: &usize) -> String {
        let gp = &self.gp;
        let parts: Vec<String> = (0..self.lanes).rev().map(|l| format!("{gp}{sig}[{} +: {w}]", l * from)).collect();
        format!("{{{}}}", parts.join(", "))
    }
}

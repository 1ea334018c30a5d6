//! The limits of the hardware back ends: a plan either passes [`check`] and every back end
//! (Verilog, HLS C++) emits it, or it is refused by all of them with the same message; beyond
//! it, each back end's own ([`check_verilog`], [`check_hls`]).

use crate::hw::Plan;
use crate::quant::ProjKind;

/// Widest state (V, S, Y) the back ends store; wider plans must cap with `--membrane-bits`.
pub const MAX_STATE_BITS: u32 = 56;

/// A plan beyond what the hardware back ends implement; each names the layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    /// A state (V, S or Y) wider than [`MAX_STATE_BITS`].
    #[error(
        "layer '{layer}' needs {bits} membrane bits; the hardware back ends support up to {MAX_STATE_BITS} \
         (cap with --membrane-bits)"
    )]
    StateBits {
        /// The layer.
        layer: String,
        /// Its widest state.
        bits: u32,
    },
    /// A grouped convolution beside element-wise projections in one layer.
    #[error("layer '{layer}' mixes a grouped convolution with element-wise projections; not supported in hardware")]
    GroupedWithElementwise {
        /// The layer.
        layer: String,
    },
    /// A grouped convolution whose input channels per group are not a power of two.
    #[error(
        "layer '{layer}': grouped convolution with {per_group} input channels per group; the hardware needs a power of two"
    )]
    GroupChannels {
        /// The layer.
        layer: String,
        /// Input channels per group.
        per_group: usize,
    },
    /// The streamed (layer-major) schedule in a back end that does not emit it yet.
    #[error("the streamed schedule: {0}")]
    Streamed(&'static str),
    /// The input-adaptive cascade where it cannot run, or in a back end that does not emit it.
    #[error("--cascade: {0}")]
    Cascade(String),
    /// The steps side by side (`--fuse-steps`) under the HLS back end, which does not emit them.
    #[error(
        "--fuse-steps: the steps side by side are modelled in the cycle engine and built by the Verilog back end, \
         not by the HLS back end yet (drop --fuse-steps to build the streamed design)"
    )]
    FusedSteps,
    /// A fused layer (`--fuse-steps`) the Verilog back end's fused datapath does not build yet.
    #[error(
        "layer '{layer}': --fuse-steps: {why}; the Verilog back end's fused datapath builds layers \
         in one tile, each projection a binary fully connected gather from a spiking layer read only by fused layers, \
         whose spikes only gathers read (drop --fuse-steps to build the streamed design)"
    )]
    FusedLayer {
        /// The fused layer.
        layer: String,
        /// What it has that the fused datapath does not build.
        why: String,
    },
    /// Spike-plane words wider than the HLS back end's 64-bit words.
    #[error(
        "layer '{layer}': a {bits}-bit spike-plane word; the HLS back end packs planes in 64-bit words (use --plane-bits 64 or less)"
    )]
    HlsPlaneWord {
        /// The layer whose plane is too wide.
        layer: String,
        /// Its plane word's bits.
        bits: usize,
    },
}

/// What the Verilog back end emits beyond [`check`]: weights streamed from external memory
/// only under the streamed schedule, from a memory of 16-bit words (the tile buffer's gearbox).
pub fn check_verilog(plan: &Plan) -> Result<(), Unsupported> {
    check(plan)?;
    check_fused(plan)?;
    check_cascade(plan)?;
    check_external(plan, "the tile buffer's gearbox takes 16-bit memory words; this board's memory has another width")
}

/// The fused layers of `plan` (`--fuse-steps`, [`Plan::fused`]) are ones the Verilog back
/// end's fused datapath builds: one tile (its rows in blocks,
/// [`crate::hw::schedule::FUSE_BLOCK`]), every projection a binary fully connected gather
/// from a spiking layer whose plane only fused layers read, its weights not in SPRAM, a layer
/// that spikes once a step into the membrane, with per-neuron (not per-channel) parameters,
/// whose spikes no event-driven projection reads.
fn check_fused(plan: &Plan) -> Result<(), Unsupported> {
    use crate::hw::dense::{Gather, geometry, has_event_readers, plane_readers};
    use crate::quant::Source;
    if !plan.fuse_steps {
        return Ok(());
    }
    for (k, l) in plan.layers.iter().enumerate() {
        // Under --fuse-steps any dense gather may read bit planes (multi-bit weights, the
        // input's values), which no unit builds yet.
        for j in 0..l.projections.len() {
            if crate::hw::dense::is(l, j, crate::hw::dense::Mode::Dense)
                && geometry(plan, k, j).is_ok_and(|d| d.bit_planes() > 1)
            {
                return Err(Unsupported::FusedLayer {
                    layer: l.name.clone(),
                    why: format!("projection {j} gathers bit planes (multi-bit weights or the input's values)"),
                });
            }
        }
        if !plan.fused(k) {
            continue;
        }
        let refuse = |why: String| Err(Unsupported::FusedLayer { layer: l.name.clone(), why });
        if l.tiles > 1 {
            return refuse(format!("it is in {} tiles of lane groups", l.tiles));
        }
        if l.kind.cuba() || l.multi || l.params_per_channel() {
            return refuse("it is current-based, multi-spike or has per-channel parameters".into());
        }
        if has_event_readers(plan, k) {
            return refuse("an event-driven projection reads its spikes".into());
        }
        if let Some(st) = plan.mask_students()
            && st.projection[k].iter().any(|s| s.is_some() && *s != st.layer[k])
        {
            return refuse("a student mask leaves some of its projections out".into());
        }
        for (j, p) in l.projections.iter().enumerate() {
            let Source::Layer(s) = p.source else {
                return refuse(format!("projection {j} reads the input"));
            };
            match geometry(plan, k, j) {
                Ok(d) if matches!(d.gather, Gather::Matrix) && d.bit_planes() == 1 => {}
                _ => return refuse(format!("projection {j} is not a binary fully connected gather")),
            }
            // The fused unit reads its weights from block RAM, logic or the tile buffer.
            let rom = format!("{}.w{j}", l.name);
            if plan.memories.iter().any(|m| m.name == rom && matches!(m.map, crate::hw::MemMap::LargeRam { .. })) {
                return refuse(format!("projection {j}'s weights are placed in the large RAMs (SPRAM)"));
            }
            if let Some(&r) = plane_readers(plan, s).iter().find(|&&r| !plan.fused(r)) {
                let other = &plan.layers[r].name;
                return refuse(format!(
                    "'{}''s spikes are read by the unfused layer '{other}' too",
                    plan.layers[s].name
                ));
            }
        }
    }
    Ok(())
}

/// A plan given the cascade (`Plan::cascade`) must be one that can run it, over at most 64
/// students (the HLS C++ keeps the stages' students in a 64-bit word).
fn check_cascade(plan: &Plan) -> Result<(), Unsupported> {
    if plan.cascade.is_none() {
        return Ok(());
    }
    if let Some(why) = plan.cascade_refusal() {
        return Err(Unsupported::Cascade(format!("this plan's design cannot run the cascade: {why}")));
    }
    let n = plan.students.as_ref().map_or(0, |st| st.names.len());
    if n > 64 {
        return Err(Unsupported::Cascade(format!("{n} students; the back ends run the cascade over at most 64")));
    }
    Ok(())
}

/// Weights in external memory: only under the streamed schedule, from 16-bit words (`width`
/// says why the back end needs them).
fn check_external(plan: &Plan, width: &'static str) -> Result<(), Unsupported> {
    if let Some(mem) = &plan.external {
        if plan.schedule != crate::hw::Schedule::Streamed {
            return Err(Unsupported::Streamed(
                "weights in external memory are emitted under the streamed schedule only (--schedule streamed)",
            ));
        }
        if mem.geometry.width != 16 {
            return Err(Unsupported::Streamed(width));
        }
    }
    Ok(())
}

/// What the HLS back end emits beyond [`check`]: weights in external memory (an `m_axi`
/// port of 16-bit words) only under the streamed schedule, and plane words of at most 64 bits.
pub fn check_hls(plan: &Plan) -> Result<(), Unsupported> {
    if plan.fuse_steps {
        return Err(Unsupported::FusedSteps);
    }
    check(plan)?;
    check_cascade(plan)?;
    check_external(plan, "the HLS m_axi weight port reads 16-bit memory words; this board's memory has another width")?;
    // The C++ holds a plane word in a uint64_t.
    for (k, l) in plan.layers.iter().enumerate() {
        let bits = crate::hw::dense::Plane::of(l).width();
        if bits > 64 && !crate::hw::dense::plane_readers(plan, k).is_empty() {
            return Err(Unsupported::HlsPlaneWord { layer: l.name.clone(), bits });
        }
    }
    Ok(())
}

/// Checks that `plan` is within what every back end implements; the error names the layer.
pub fn check(plan: &Plan) -> Result<(), Unsupported> {
    for l in &plan.layers {
        if l.v_bits > MAX_STATE_BITS || l.s_bits > MAX_STATE_BITS || l.y_bits > MAX_STATE_BITS {
            return Err(Unsupported::StateBits { layer: l.name.clone(), bits: l.v_bits.max(l.s_bits).max(l.y_bits) });
        }
        if l.group_size != l.shape[0]
            && l.projections.iter().any(|p| matches!(p.kind, ProjKind::Pool(_) | ProjKind::OneToOne))
        {
            return Err(Unsupported::GroupedWithElementwise { layer: l.name.clone() });
        }
        for p in &l.projections {
            if let ProjKind::Conv { ci, groups, .. } = p.kind
                && groups > 1
                && !(ci / groups).is_power_of_two()
            {
                return Err(Unsupported::GroupChannels { layer: l.name.clone(), per_group: ci / groups });
            }
        }
    }
    Ok(())
}

//! The limits every hardware back end shares: a plan either passes [`check`] and every back
//! end (Verilog, HLS C++) emits it, or it is refused by all of them with the same message.

use crate::hw::Plan;
use crate::quant::ProjKind;

/// Widest state (V, S, Y) the back ends store; wider plans must cap with `--membrane-bits`.
pub const MAX_STATE_BITS: u32 = 56;

/// A plan beyond what the hardware back ends implement; the message names the layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub String);

/// Checks that `plan` is within what the back ends implement; the error names the layer.
pub fn check(plan: &Plan) -> Result<(), Unsupported> {
    for l in &plan.layers {
        if l.v_bits > MAX_STATE_BITS || l.s_bits > MAX_STATE_BITS || l.y_bits > MAX_STATE_BITS {
            return Err(Unsupported(format!(
                "layer '{}' needs {} membrane bits; the hardware back ends support up to {MAX_STATE_BITS} \
                 (cap with --membrane-bits)",
                l.name,
                l.v_bits.max(l.s_bits).max(l.y_bits)
            )));
        }
        if l.group_size != l.shape[0]
            && l.projections.iter().any(|p| matches!(p.kind, ProjKind::Pool(_) | ProjKind::OneToOne))
        {
            return Err(Unsupported(format!(
                "layer '{}' mixes a grouped convolution with element-wise projections; not supported in hardware",
                l.name
            )));
        }
        for p in &l.projections {
            if let ProjKind::Conv { ci, groups, .. } = p.kind
                && groups > 1
                && !(ci / groups).is_power_of_two()
            {
                return Err(Unsupported(format!(
                    "layer '{}': grouped convolution with {} input channels per group; the hardware needs a power of two",
                    l.name,
                    ci / groups
                )));
            }
        }
    }
    Ok(())
}

//! Chip legalisation: rewrites that turn pooling, parallel branches and shortcuts into one
//! chain of weighted ops and neuron layers, for chips whose layers form a chain (netx),
//! computing the same function.
//!
//! Rules, applied until none matches (each removes a node or an edge, so this ends):
//! - **Pool into dense.** Sum or average pooling, Flatten, then a dense op become Flatten and
//!   one dense op over the unpooled positions.
//! - **Pool into conv.** Sum or average pooling that feeds a 2-d convolution alone becomes part
//!   of its kernel (larger, strided), where padding reads zeros either way.
//! - **Absorb.** A shortcut from S into T around one weighted op W (fed only by S) becomes +1
//!   on W's identity (diagonal, or centre taps).
//! - **Carry.** A shortcut from S into T around W1 -> L1 -> W2 (a neuron layer between) rides
//!   relay neurons added to L1, so both paths cross the same number of neuron layers; the
//!   shortcut's own 1x1 convolution or dense op moves into W2. Relays are exact only under a
//!   zero reset (what the chip does, given to the pass), for LIF and IF layers.
//! - **Lengthen.** A path into a layer that crosses fewer neuron layers than another path into
//!   it (a shallow ensemble student) gets a relay layer after the spiking layer it leaves, fed
//!   through the identity, until the paths are as long (same conditions as Carry).
//! - **Join.** Dense weighted ops fed by the same source and summed into the same node (an
//!   ensemble's readout slices) become one whose weights and biases are their sums.
//! - **Stack.** Dense weighted ops (Affine, Linear) fed by the same source, each into a neuron
//!   of the same model that only it feeds, become one weighted op whose rows are theirs in
//!   order, into one neuron layer whose per-neuron parameters are theirs in order. Every
//!   consumer of those neurons must be a dense weighted op that reads only them; it reads the
//!   merged layer through its old columns, zeros elsewhere (a block of a block-diagonal
//!   matrix once its siblings stack in turn). Convolutions (groups 1) that slide alike stack
//!   the same way along their output channels; their readers (convolutions, dense ops, or a
//!   Flatten into dense ops, which merges with its siblings) read through zeros elsewhere.
//!
//! Rows stack and zero columns add nothing, so Stack is exact; Join is exact where the summed
//! matrices are zero outside their own columns (what Stack leaves), and otherwise moves
//! floating-point rounding by an ulp; the folds and Absorb sum in another order (exact in real
//! arithmetic). Only Carry and Lengthen add neurons; each change says what it cost.

mod absorb;
mod carry;
mod graph;
mod join;
mod lengthen;
mod neurons;
mod pool_conv;
mod pool_dense;
mod rewrite;
mod stack;
mod stack_conv;
#[cfg(test)]
mod testkit;

use super::pass::{Context, Pass, Refusal};
use crate::ir::Graph;
use crate::valid::{self, GraphInfo};
use absorb::find_absorb;
use carry::find_carry;
use join::find_join;
use lengthen::find_lengthen;
use pool_conv::find_pool_conv;
use pool_dense::find_pool_fold;
use rewrite::apply;
use stack::find_stack;
use stack_conv::find_stack_conv;

/// The branch-merging pass (Pool folds, Absorb, Carry, Lengthen, Join, Stack).
pub struct MergeBranches {
    /// The reset the legalised model will run with, when not the model's own (a chip's): relay
    /// neurons are built only under a zero reset.
    pub reset: Option<crate::ir::ResetMode>,
}

impl Pass for MergeBranches {
    fn name(&self) -> String {
        "merge-branches".into()
    }

    fn run(&self, g: &Graph, info: &GraphInfo, _cx: &Context) -> Result<(Graph, Vec<String>), Refusal> {
        let mut g = g.clone();
        let mut info = info.clone();
        let mut changes = vec![];
        // Each rewrite removes at least one node or edge, so this ends.
        while let Some(r) = find_pool_fold(&g, &info)
            .or_else(|| find_pool_conv(&g, &info))
            .or_else(|| find_absorb(&g, &info))
            .or_else(|| find_carry(&g, &info, self.reset.unwrap_or(g.dialect.reset)))
            .or_else(|| find_lengthen(&g, &info, self.reset.unwrap_or(g.dialect.reset)))
            .or_else(|| find_join(&g, &info))
            .or_else(|| find_stack(&g, &info))
            .or_else(|| find_stack_conv(&g, &info))
        {
            let ng = apply(&g, &r);
            info = valid::validate(&ng).map_err(|err| Refusal::Invalid { after: format!("'{}'", r.what), err })?;
            g = ng;
            changes.push(r.what);
        }
        Ok((g, changes))
    }
}

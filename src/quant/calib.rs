//! Calibration: the statistics of the calibration inputs ([`InputStats`]), the options every
//! quantiser reads ([`QuantOptions`]: the rules, a given input scale or those statistics), and
//! the input plan they fix for a target that quantises real-valued inputs ([`input_plan`]).
//! The chip quantisers ([`super::xylo`], [`super::loihi`]) read the same statistics for their
//! integer inputs.

use super::network::{InputPlan, Rules};
use super::{QuantError, perr};

/// Range of the calibration inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputStats {
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Every value is an integer.
    pub integers: bool,
    /// The coarsest step g found such that every value is an integer multiple of g (exactly
    /// for power-of-two steps, to 1e-9 relative otherwise), when the data lies on a grid.
    pub grid: Option<f64>,
    /// Inputs are per-step (N x T x ...).
    pub per_step: bool,
}

impl InputStats {
    /// Statistics of a batch.
    pub fn of(b: &crate::data::InputBatch) -> InputStats {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut integers = true;
        for &v in &b.data {
            min = min.min(v);
            max = max.max(v);
            integers &= v.fract() == 0.0;
        }
        let grid = if integers { Some(1.0) } else { grid_of(&b.data) };
        InputStats { min, max, integers, grid, per_step: matches!(b.encoding, crate::data::Encoding::PerStep(_)) }
    }
}

/// The step of the grid `data` lies on (see [`InputStats::grid`]).
fn grid_of(data: &[f64]) -> Option<f64> {
    // A power-of-two step: the finest 2^-e any value needs, exact in floating point.
    let mut e_max = 0;
    let pow2 = data.iter().all(|&v| {
        let mut e = 0;
        while (v * f64::powi(2.0, e)).fract() != 0.0 {
            e += 1;
            if e > 24 {
                return false;
            }
        }
        e_max = e_max.max(e);
        true
    });
    if pow2 {
        return Some(f64::powi(2.0, -e_max));
    }
    // Another step (k/10, k/255...): the smallest gap between distinct values of a sample,
    // checked against every value.
    let mut sample: Vec<f64> = data.iter().take(1 << 20).copied().collect();
    sample.sort_by(f64::total_cmp);
    sample.dedup();
    let g = sample.windows(2).map(|w| w[1] - w[0]).fold(f64::INFINITY, f64::min);
    if !(g.is_finite() && g > 0.0) {
        return None;
    }
    let on_grid = |v: f64| {
        let k = v / g;
        (k - k.round()).abs() <= 1e-9 * k.abs().max(1.0)
    };
    data.iter().all(|&v| on_grid(v)).then_some(g)
}

/// Quantisation options: the rules and what the data and the user fix.
#[derive(Clone, Debug)]
pub struct QuantOptions {
    /// The target's arithmetic.
    pub rules: Rules,
    /// Real value of one input LSB (else derived from `input_stats`).
    pub input_scale: Option<f64>,
    /// Calibration input range.
    pub input_stats: Option<InputStats>,
    /// Timesteps.
    pub timesteps: usize,
    /// Output node name (when the model has several).
    pub output: Option<String>,
    /// Stop an inference once the output class cannot change.
    pub early_exit: bool,
    /// Most spikes a multi-spike neuron carries per step, saturating beyond (a chip's rules
    /// that bound a count read it; [`quantise`](fn@super::quantise) refuses it).
    pub spike_cap: Option<u32>,
}

/// How the input is quantised (bits, sign, scale) under `o`.
pub fn input_plan(name: &str, shape: [usize; 3], o: &QuantOptions) -> Result<InputPlan, QuantError> {
    let bits_unsigned = |max: f64| (64 - (max as u64).leading_zeros()).max(1);
    let (bits, signed, scale) = match (o.input_scale, o.input_stats) {
        (Some(s), stats) => {
            if !(s.is_finite() && s > 0.0) {
                return Err(perr(name, format!("input scale must be positive, got {s}")));
            }
            (o.rules.input_bits, stats.is_some_and(|st| st.min < 0.0), s)
        }
        (None, Some(st)) => {
            let signed = st.min < 0.0;
            let amax = st.min.abs().max(st.max.abs());
            let fits = if signed {
                amax < (1u64 << (o.rules.input_bits - 1)) as f64
            } else {
                amax < (1u64 << o.rules.input_bits) as f64
            };
            // Data on a grid (integers, k/16 pixels...) whose codes fit: exact, with just the
            // bits it needs.
            let on_grid = st.grid.map(|g| (g, (amax / g).round())).filter(|&(_, codes)| {
                if signed {
                    codes < (1u64 << (o.rules.input_bits - 1)) as f64
                } else {
                    codes < (1u64 << o.rules.input_bits) as f64
                }
            });
            if st.integers && fits {
                let b = bits_unsigned(amax) + u32::from(signed);
                (b.max(1), signed, 1.0)
            } else if let Some((g, codes)) = on_grid {
                let b = bits_unsigned(codes) + u32::from(signed);
                (b.max(1), signed, g)
            } else {
                let codes =
                    if signed { (1u64 << (o.rules.input_bits - 1)) - 1 } else { (1u64 << o.rules.input_bits) - 1 }
                        as f64;
                (o.rules.input_bits, signed, if amax > 0.0 { amax / codes } else { 1.0 })
            }
        }
        (None, None) => {
            return Err(perr(
                name,
                "the input range is unknown: give calibration inputs (--inputs/--calib) or --input-scale",
            ));
        }
    };
    if !(1..=16).contains(&bits) {
        return Err(perr(name, format!("input bits must be 1..=16, got {bits}")));
    }
    Ok(InputPlan {
        node: name.to_string(),
        shape,
        bits,
        signed,
        scale,
        per_step: o.input_stats.is_some_and(|s| s.per_step),
    })
}

#[cfg(test)]
mod tests {
    use super::{InputStats, grid_of, input_plan};
    use crate::quant::Rules;
    use crate::quant::testing::{integers, options};

    fn plan(stats: Option<InputStats>, scale: Option<f64>, input_bits: u32) -> Result<(u32, bool, f64), String> {
        let mut o = options(Rules::fpga(8, input_bits, 6, 16, None), integers(0.0, 1.0));
        (o.input_stats, o.input_scale) = (stats, scale);
        input_plan("in", [4, 1, 1], &o).map(|p| (p.bits, p.signed, p.scale)).map_err(|e| e.to_string())
    }

    fn reals(min: f64, max: f64, grid: Option<f64>) -> Option<InputStats> {
        Some(InputStats { min, max, integers: false, grid, per_step: false })
    }

    #[test]
    fn integer_inputs_that_fit_are_exact_with_the_bits_they_need() {
        // The digits pixels 0..16: 5-bit unsigned integers, scale 1.
        assert_eq!(plan(Some(integers(0.0, 16.0)), None, 8), Ok((5, false, 1.0)));
        assert_eq!(plan(Some(integers(0.0, 15.0)), None, 8), Ok((4, false, 1.0)));
        // Signed: |x| <= 5 takes 3 bits and a sign.
        assert_eq!(plan(Some(integers(-3.0, 5.0)), None, 8), Ok((4, true, 1.0)));
        assert_eq!(plan(Some(integers(0.0, 0.0)), None, 8), Ok((1, false, 1.0)));
        // Data on a 1/16 grid up to 1: codes 0..16.
        assert_eq!(plan(reals(0.0, 1.0, Some(0.0625)), None, 8), Ok((5, false, 0.0625)));
    }

    #[test]
    fn other_inputs_get_input_bits_levels_over_their_range() {
        assert_eq!(plan(reals(0.0, 2.5, None), None, 8), Ok((8, false, 2.5 / 255.0)));
        assert_eq!(plan(reals(-2.0, 1.0, None), None, 8), Ok((8, true, 2.0 / 127.0)));
        // Integers beyond the input bits: levels too.
        assert_eq!(plan(Some(integers(0.0, 1000.0)), None, 8), Ok((8, false, 1000.0 / 255.0)));
        assert_eq!(plan(Some(integers(0.0, 255.0)), None, 8), Ok((8, false, 1.0)));
        assert_eq!(plan(Some(integers(0.0, 256.0)), None, 8), Ok((8, false, 256.0 / 255.0)));
        // A given scale: input_bits, signed when the data is.
        assert_eq!(plan(reals(-1.0, 3.0, None), Some(0.5), 6), Ok((6, true, 0.5)));
        assert_eq!(plan(None, Some(0.5), 6), Ok((6, false, 0.5)));
    }

    #[test]
    fn impossible_input_plans_are_refused() {
        let e = plan(None, Some(0.0), 8).unwrap_err();
        assert_eq!(e, "hardware plan: node 'in': input scale must be positive, got 0");
        assert!(plan(None, None, 8).unwrap_err().contains("the input range is unknown"));
        assert!(plan(reals(0.0, 2.5, None), None, 17).unwrap_err().contains("input bits must be 1..=16, got 17"));
    }

    #[test]
    fn the_grid_is_the_coarsest_step_every_value_is_a_multiple_of() {
        assert_eq!(grid_of(&[0.0, 0.25, 0.75, 1.5]), Some(0.25));
        assert_eq!(grid_of(&[3.0, 0.5]), Some(0.5));
        assert_eq!(grid_of(&[0.0, 0.1, 0.3]), Some(0.1));
        // The smallest gap (0.2) does not divide 0.1: no grid.
        assert_eq!(grid_of(&[0.1, 0.3, 0.7]), None);
        assert_eq!(grid_of(&[1.0 / 3.0]), None);
    }
}

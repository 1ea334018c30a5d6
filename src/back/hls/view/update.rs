//! The neuron update: the parameters it reads (a literal when uniform, else the lane's entry
//! of a parameter table), the C++ expressions of its terms for the current lane, and the
//! update function's arguments and parameters.
//!
//! Invariants: the terms are computed in `int64_t` and follow the cycle engine's update
//! ([`crate::sim::cycle`]): reset, floor, then leak; the template writes each result through
//! the layer's width (wrapping, or saturating when the plan caps it).

use std::fmt::Write as _;

use super::common::{PlaneView, at_step, bytes_width, ev_type};
use super::memory::{Init, RomView, int, storage, table};
use crate::back::common::{ParamClass, neuron_at, neuron_params, out_word_bits};
use crate::hw::{Layer, Plan};
use crate::ir::ResetMode;
use crate::quant::Leak;

/// The C++ of the leak `lk` applied to `x` (`p`, `w`: `sf::leak_mul`'s P and W), reading the
/// lane's multiplier from `b_name` when it is per neuron.
fn leak_expr(lk: &Leak, x: &str, p: u32, w: u32, b_name: &str) -> String {
    match lk {
        Leak::Zero => "0".into(),
        Leak::One => x.into(),
        Leak::Shift { k } => format!("sf::leak_shift({x}, {k})"),
        Leak::Mul { b } if b.len() == 1 => format!("sf::leak_mul<{p}, {w}>({x}, {})", b[0]),
        Leak::Mul { .. } => format!("sf::leak_mul<{p}, {w}>({x}, {b_name})"),
    }
}

/// A parameter the update may read: its name, the line defining it for the current lane, and
/// its tables (the value's when it is per neuron, and any per-neuron student share's).
pub struct ParamDef {
    pub name: &'static str,
    pub line: String,
    pub roms: Vec<RomView>,
}

/// The parameters the update reads (a literal when uniform, else the lane's table entry),
/// and the names the expressions use for thr, bias, bias_late, vreset, syn_bias,
/// syn_bias_late and vmin (None: not read, or zero).
///
/// In a design taking a student mask, a constant with students' shares
/// ([`Plan::stored_shares`]) is the stored sum less the share of each student `act` leaves
/// out, each share a literal or its own table (`<param>_s<student>_rom`): the constants of
/// [`Plan::masked`], so a constant whose sum is zero is still read when it has shares.
pub fn param_defs(plan: &Plan, k: usize, l: &Layer) -> (Vec<ParamDef>, [Option<String>; 7]) {
    let (spiking, cuba) = (l.spiking(), l.kind.cuba());
    let p_bits = plan.rules.leak_bits();
    let per_ch = l.params_per_channel();
    let (depth, lanes) = (l.param_depth(), l.lanes);
    let addr = if per_ch { "cgi" } else { "r" };
    let needed = |n: &str| -> bool {
        match n {
            "thr" => spiking,
            "vreset" => spiking && plan.reset == ResetMode::Zero,
            "syn_bias" | "syn_bias_late" => cuba,
            "beta_b" => matches!(&l.leak, Leak::Mul { b } if b.len() > 1),
            "syn_b" => matches!(&l.syn_leak, Some(Leak::Mul { b }) if b.len() > 1),
            "vmin" => !l.params.vmin.is_empty(),
            _ => true,
        }
    };
    // A uniform value is a literal, a per-neuron one the lane's entry of table `name`.
    let value = |name: String, ty: &str, vals: &[i64], roms: &mut Vec<RomView>| -> String {
        if vals.len() == 1 {
            return vals[0].to_string();
        }
        let init = table(depth * lanes, lanes, |i, out| {
            int(out, neuron_at(l, per_ch, i / lanes, i % lanes).map_or(0, |n| vals[n]));
        });
        roms.push(RomView {
            decl: format!("static const {ty} {name}[{depth}][{lanes}]"),
            init: Init::Text(init),
            ext: None,
            pragmas: vec![
                format!("ARRAY_PARTITION variable={name} type=complete dim=2"),
                format!("BIND_STORAGE variable={name} {}", storage(plan, &format!("{}.params", l.name), true)),
            ],
        });
        format!("{name}[{addr}][l]")
    };
    let shares = plan.stored_shares(k);
    let mut defs = vec![];
    let mut terms = vec![];
    for s in neuron_params(l) {
        let ty = |class: ParamClass| match class {
            ParamClass::Membrane => format!("sf::int_t<{}>", l.v_bits),
            ParamClass::Synaptic => format!("sf::int_t<{}>", l.y_bits.max(1)),
            ParamClass::Multiplier => format!("sf::int_t<{}>", p_bits + 2),
        };
        let own: Vec<_> = shares.iter().filter(|sh| sh.param == s.name).collect();
        let zero = s.vals.len() == 1 && s.vals[0] == 0 && own.is_empty();
        if !needed(s.name) || (zero && !matches!(s.name, "thr" | "vreset")) {
            terms.push(None);
            continue;
        }
        let mut roms = vec![];
        let mut expr = value(format!("{}_rom", s.name), &ty(s.class), &s.vals, &mut roms);
        for sh in own {
            let class = if sh.membrane { ParamClass::Membrane } else { ParamClass::Synaptic };
            let v = value(format!("{}_s{}_rom", s.name, sh.student), &ty(class), sh.vals, &mut roms);
            // Student `sh.student` left out: its share is taken away.
            let _ =
                write!(expr, " - (sf::field(act, {}, 1) != 0 ? int64_t(0) : static_cast<int64_t>({v}))", sh.student);
        }
        defs.push(ParamDef { name: s.name, line: format!("const int64_t {} = {expr};", s.name), roms });
        terms.push(Some(s.name.to_string()));
    }
    let [thr, bias, bias_late, vreset, syn_bias, syn_bias_late, _, _, vmin] =
        <[Option<String>; 9]>::try_from(terms).expect("nine parameters");
    (defs, [thr, bias, bias_late, vreset, syn_bias, syn_bias_late, vmin])
}

/// The terms of a layer's neuron update for the current lane (see [`LayerView`]).
pub struct Update {
    pub cur_expr: String,
    pub syn_next: String,
    pub v_expr: String,
    pub use_v: bool,
    pub spike_expr: String,
    pub vhat_expr: Option<String>,
    pub next_expr: String,
    pub out_w: u32,
    pub out_value: String,
    /// A multi-spike layer's spike count this step (`count`).
    pub count_expr: Option<String>,
}

impl Update {
    /// The identifiers the emitted update reads.
    pub fn reads(&self, cuba: bool, is_out: bool) -> Vec<String> {
        let mut read = String::new();
        if cuba {
            let _ = write!(read, "{} {} ", self.cur_expr, self.syn_next);
        }
        if self.use_v {
            let _ = write!(read, "{} {} {} ", self.v_expr, self.spike_expr, self.count_expr.as_deref().unwrap_or(""));
        }
        let _ = write!(read, "{} {}", self.vhat_expr.as_deref().unwrap_or(""), self.next_expr);
        if is_out {
            let _ = write!(read, " {}", self.out_value);
        }
        read.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map(str::to_string).collect()
    }
}

/// The neuron update of `l` (the output layer when `is_out`) from its parameter terms
/// ([`param_defs`]).
pub fn update(plan: &Plan, l: &Layer, is_out: bool, terms: &[Option<String>; 7]) -> Update {
    let [thr, bias, bias_late, vreset, syn_bias, syn_bias_late, vmin] = terms;
    let (spiking, cuba) = (l.spiking(), l.kind.cuba());
    let p_bits = plan.rules.leak_bits();
    let sum = |base: &str, extra: &[&Option<String>], late: &Option<String>| -> String {
        let mut e = base.to_string();
        for x in extra.iter().copied().flatten() {
            let _ = write!(e, " + {x}");
        }
        if let Some(x) = late {
            let _ = write!(e, " + (late ? {x} : 0)");
        }
        e
    };
    let s_term = (l.s_bits > 0).then(|| "static_cast<int64_t>(s[r][l])".to_string());
    let cur_expr = sum("static_cast<int64_t>(y[r][l])", &[&s_term, syn_bias], syn_bias_late);
    let v_expr = if cuba {
        sum("static_cast<int64_t>(x[r][l]) + cur", &[bias], bias_late)
    } else {
        sum("static_cast<int64_t>(x[r][l])", &[&s_term, bias], bias_late)
    };
    let thr_s = thr.clone().unwrap_or_else(|| "0".into());
    let spike_expr = if !spiking {
        "false".to_string()
    } else if plan.fire_on_equal {
        format!("v >= {thr_s}")
    } else {
        format!("v > {thr_s}")
    };
    // A multi-spike layer's count (its THR is positive: v >= THR when it fires), else 1.
    let multi = spiking && l.multi;
    let nthr = if multi { format!("count * {thr_s}") } else { thr_s.clone() };
    let vhat = match plan.reset {
        _ if !spiking => "v".to_string(),
        ResetMode::Zero => format!("spike ? {} : v", vreset.clone().unwrap_or_else(|| "0".into())),
        ResetMode::Subtract => format!("spike ? v - {nthr} : v"),
        ResetMode::SubtractUndecayed => "v".to_string(),
    };
    let vhat = match vmin {
        Some(m) if !l.params.vmin.is_empty() => format!("std::max<int64_t>({vhat}, {m})"),
        _ => vhat,
    };
    let leak = leak_expr(&l.leak, "vhat", p_bits, l.v_bits + 1, "beta_b");
    let vhat_expr = (l.leak != Leak::Zero).then_some(vhat);
    let undecayed = spiking && plan.reset == ResetMode::SubtractUndecayed;
    Update {
        cur_expr,
        syn_next: match &l.syn_leak {
            Some(sl) => leak_expr(sl, "cur", p_bits, l.y_bits + 1, "syn_b"),
            None => "0".into(),
        },
        v_expr,
        use_v: spiking || is_out || vhat_expr.is_some(),
        spike_expr,
        vhat_expr,
        next_expr: if undecayed { format!("{leak} - (spike ? {nthr} : 0)") } else { leak },
        out_w: if plan.output.spikes { l.event_bits() } else { l.v_bits },
        out_value: match (plan.output.spikes, multi) {
            (true, true) => "count".to_string(),
            (true, false) => "spike ? 1 : 0".to_string(),
            _ => "v".to_string(),
        },
        count_expr: multi.then(|| format!("spike ? v / {thr_s} : 0")),
    }
}

/// The update function's arguments and parameters: (late,) last, x, [s], [y], [ev, nev]
/// (`ev_rows` entries, when the layer keeps an event list), [plane], [obuf], [counts], [act]
/// (`act_bits`: the student mask's width, when the layer's constants have students' shares;
/// `late` and `last` are printed by the template).
#[allow(clippy::too_many_arguments)]
pub fn update_call(
    plan: &Plan,
    l: &Layer,
    id: &str,
    is_out: bool,
    ev_rows: Option<usize>,
    plane: Option<&PlaneView>,
    counts: bool,
    act_bits: Option<usize>,
) -> (String, String) {
    let (lanes, rows) = (l.lanes, l.rows);
    let mut args = vec![format!("{id}_x")];
    let mut prm = vec![format!("sf::int_t<{}> x[{rows}][{lanes}]", l.v_bits)];
    if l.s_bits > 0 {
        args.push(format!("{id}_s"));
        prm.push(format!("sf::int_t<{}> s[{rows}][{lanes}]", l.s_bits));
    }
    if l.kind.cuba() {
        args.push(format!("{id}_y"));
        prm.push(format!("sf::int_t<{}> y[{rows}][{lanes}]", l.y_bits));
    }
    let t = at_step(plan);
    if let Some(ev_rows) = ev_rows {
        args.push(format!("{id}_ev{t}"));
        args.push(format!("{id}_nev{t}"));
        prm.push(format!("{} ev[{ev_rows}]", ev_type(l)));
        prm.push("int& nev".into());
    }
    if let Some(pv) = plane {
        args.push(format!("{}{t}", pv.var));
        prm.push(format!("sf::uint_t<{}> plane[{}]", pv.width, pv.depth));
    }
    if is_out {
        args.push("sf_obuf".into());
        prm.push(format!("sf::bits<{}> obuf[{rows}]", bytes_width(out_word_bits(plan))));
    }
    if counts {
        args.push("sf_counts".into());
        prm.push(format!("int64_t counts[{}]", l.neurons()));
    }
    if let Some(n) = act_bits {
        args.push(if plan.cascade.is_some() { "sf_cumb" } else { "act" }.into());
        prm.push(format!("const sf::bits<{n}>& act"));
    }
    (args.join(", "), prm.join(", "))
}

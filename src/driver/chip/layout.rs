//! A chip's placement as the reports show it: one variant per chip family, each family's
//! layout type beside it.

use serde::Serialize;

use crate::chip::xylo::Place;

/// A chip's placement as the reports show it: one variant per chip family.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "family", rename_all = "lowercase")]
pub enum ChipLayout {
    /// Xylo's hidden population and readout.
    Xylo(XyloLayout),
    /// Loihi's netx layers.
    Loihi(LoihiLayout),
}

impl ChipLayout {
    /// The placement as text lines (`plan`, `compile`).
    pub fn lines(&self) -> Vec<String> {
        match self {
            ChipLayout::Xylo(x) => x.lines(),
            ChipLayout::Loihi(l) => l.lines(),
        }
    }
}

/// What was placed where on Xylo.
#[derive(Clone, Debug, Serialize)]
pub struct XyloLayout {
    /// rockpool's chip module (`syns63300` Xylo IMU, `syns61201` Xylo Audio 2, `syns65302` Xylo
    /// Audio 3).
    pub chip: String,
    /// Hidden neurons used.
    pub hidden_neurons: usize,
    /// Hidden neurons that take input (the first ones).
    pub input_neurons: usize,
    /// Hidden neurons that drive the outputs (the last ones).
    pub output_source_neurons: usize,
    /// Output neurons.
    pub outputs: usize,
    /// Steps the output runs behind the model.
    pub lag: usize,
    /// Left shifts of the input, recurrent and output weights.
    pub weight_shifts: [i8; 3],
    /// Each layer's place.
    pub places: Vec<Place>,
}

impl XyloLayout {
    /// The placement as text.
    pub fn lines(&self) -> Vec<String> {
        let [a, b, c] = self.weight_shifts;
        let mut v = vec![format!(
            "Xylo ({}): {} hidden neurons ({} take input, {} drive the {} outputs), weight shifts in/rec/out \
             {a}/{b}/{c}; outputs {} step(s) behind the model",
            self.chip, self.hidden_neurons, self.input_neurons, self.output_source_neurons, self.outputs, self.lag
        )];
        for p in &self.places {
            v.push(format!(
                "  '{}': {} {}..{} ({} steps behind)",
                p.layer,
                p.population,
                p.first,
                p.first + p.neurons,
                p.delay
            ));
        }
        v
    }
}

/// Loihi's netx layers on cores and chips.
#[derive(Clone, Debug, Serialize)]
pub struct LoihiLayout {
    /// Layers (each its own netx layer of CUBA neurons).
    pub layers: Vec<NetxLayerSummary>,
    /// Steps the output runs behind the model (one per layer).
    pub lag: usize,
    /// Bits of the input spikes' payload (1: unary).
    pub input_bits: u32,
    /// Cores used.
    pub cores: usize,
    /// Chips used.
    pub chips: usize,
    /// Chips the target has.
    pub system_chips: usize,
    /// Cores per chip.
    pub cores_per_chip: usize,
    /// Neurons per core at most.
    pub neurons_per_core: usize,
    /// Synapses of dense layers per chip at most, when the target states it.
    pub synapses_per_chip: Option<u64>,
}

/// One netx layer in the report.
#[derive(Clone, Debug, Serialize)]
pub struct NetxLayerSummary {
    /// Name (safe label).
    pub name: String,
    /// `dense` or `conv`.
    pub kind: &'static str,
    /// Neurons.
    pub neurons: usize,
    /// Cores.
    pub cores: usize,
    /// First and last chip of its cores (0-based).
    pub chips: [usize; 2],
    /// Synapses (connections with a non-zero weight).
    pub synapses: u64,
    /// iDecay, vDecay (of 4096).
    pub decays: [i64; 2],
    /// Threshold mantissa.
    pub vth: i64,
    /// Exponent netx gives the weights.
    pub weight_exp: i32,
}

impl LoihiLayout {
    /// The layout as text.
    pub fn lines(&self) -> Vec<String> {
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        let syn = self.synapses_per_chip.map_or(String::new(), |s| format!(", up to {s} synapses of dense layers"));
        let mut v = vec![
            format!(
                "Loihi (netx): {} on {} of {} ({} per chip, up to {} neurons per core{syn}); input spikes of {} bit(s)",
                plural(self.layers.len(), "layer"),
                plural(self.cores, "core"),
                plural(self.chips, "chip"),
                self.cores_per_chip,
                self.neurons_per_core,
                self.input_bits
            ),
            format!(
                "  the system has {}; outputs {} step(s) behind the model (each layer adds one), samples one after \
                 another every T steps",
                plural(self.system_chips, "chip"),
                self.lag
            ),
        ];
        for l in &self.layers {
            let chips = if l.chips[0] == l.chips[1] {
                format!("chip {}", l.chips[0])
            } else {
                format!("chips {}-{}", l.chips[0], l.chips[1])
            };
            v.push(format!(
                "  '{}': {} {} neurons on {} ({chips}), {} synapses, iDecay {} vDecay {}, vThMant {}, weight exponent {}",
                l.name,
                l.kind,
                l.neurons,
                plural(l.cores, "core"),
                l.synapses,
                l.decays[0],
                l.decays[1],
                l.vth,
                l.weight_exp
            ));
        }
        v
    }
}

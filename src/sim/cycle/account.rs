//! One sample's account: the one place where the cycle engine counts cycles and counters.
//!
//! Both paths report every phase of a sample to its [`Account`], and count nothing
//! themselves: the general path ([`Engine::sample`]) one sample at a time, the fast path
//! ([`super::pass`]) for each sample of a pass. A report says only what varies between
//! samples: an input load's non-zero values, an ACC phase's events and beats and what its
//! kernel did ([`AccPhase`]), an update's spikes and event entries ([`UpdPhase`]), the output
//! row of a step. The account advances the sample's clock (the sequential schedule's running
//! cycle, or the pipelined schedule's units, [`schedule::Clock`]), keeps per-projection and
//! per-layer tallies, decides an early exit, and [`Account::result`] derives every field of
//! [`Counters`] from the tallies and the steps the sample ran.

use crate::hw::{schedule, sdram};
use crate::quant::{AccTarget, Source};

use super::report::{Counters, LayerCounters, MemoryCommands, ProjCounts, SampleResult};
use super::types::Engine;

/// What a kernel did in one sample's ACC phase.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Synapses {
    /// Synaptic accumulates: (event, target neuron) pairs added.
    pub(super) ops: u64,
    /// State rows read, each also written.
    pub(super) rows: u64,
    /// Writes that saturated.
    pub(super) sat: u64,
}

/// One sample's ACC phase of a projection.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct AccPhase {
    /// Source events delivered, and the beats they took.
    pub(super) events: u64,
    pub(super) beats: u64,
    /// Event entries of the source layer read (0 from the input).
    pub(super) reads: u64,
    pub(super) syn: Synapses,
    /// Values of the target state outside its width after the phase.
    pub(super) ovf: u64,
}

/// One sample's update pass of a layer.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct UpdPhase {
    pub(super) spikes: u64,
    /// Event entries written (rows with a spike).
    pub(super) entries: u64,
    /// Values outside their width (synaptic current, V, next state) and saturated writes.
    pub(super) ovf: u64,
    pub(super) sat: u64,
}

/// A projection's ACC phases of one sample, summed.
#[derive(Clone, Copy, Debug, Default)]
struct ProjTally {
    events: u64,
    /// Phases without events.
    empty: u64,
    syn: u64,
    rows: u64,
    beats: u64,
}

/// A layer's tallies over one sample's steps.
#[derive(Clone, Copy, Debug, Default)]
struct LayerTally {
    spikes: u64,
    /// Event entries written, and read by consumers.
    writes: u64,
    reads: u64,
    ovf: u64,
    sat: u64,
}

/// A sample's clock.
enum Time<'e> {
    /// Sequential schedule: cycles from start.
    Sequential(u64),
    /// Pipelined schedule: every unit's.
    Pipelined(schedule::Clock<'e>),
    /// Streamed schedule: cycles from start. Phases are reported in layer-major order, each
    /// costing what it costs in the sequential schedule; a layer's first phase waits for its
    /// weights when they come from external memory ([`Fetch`]).
    Streamed(u64),
}

/// A streamed plan's weight fetches from its external memory, beside its clock: a layer (or a
/// tile of one) starts no earlier than the cycle its tile is ready ([`sdram::TileFetch`]).
struct Fetch {
    tiles: Vec<crate::hw::Tile>,
    /// The fetches at the inference's start, and as far as they have run.
    start: sdram::TileFetch,
    fetch: sdram::TileFetch,
    /// Per layer: its first tile (a layer in n tiles has n in a row).
    first_tile: Vec<Option<usize>>,
    /// Per tile: the cycle its reader ended (once the next has started).
    ends: Vec<Option<u64>>,
    /// The layer running, and its tile.
    running: Option<(usize, Option<usize>)>,
    /// Cycles layers waited for their tiles, and per layer (summing to `stalls`).
    stalls: u64,
    waits: Vec<u64>,
}

impl Fetch {
    fn new(plan: &crate::hw::Plan) -> Option<Fetch> {
        let mem = plan.external.as_ref()?;
        let tiles = plan.tiles();
        let timing = mem.timing.at(plan.clock_mhz);
        // Lowering refuses a timing the controller cannot serve (`hw::lower`).
        let start = sdram::TileFetch::new(mem.geometry, timing, &tiles).expect("lowering checked the timing");
        let mut first_tile = vec![None; plan.layers.len()];
        for (j, t) in tiles.iter().enumerate().rev() {
            first_tile[t.layer] = Some(j);
        }
        let ends = vec![None; tiles.len()];
        let waits = vec![0; plan.layers.len()];
        Some(Fetch { tiles, fetch: start.clone(), start, first_tile, ends, running: None, stalls: 0, waits })
    }

    fn reset(&mut self) {
        self.fetch.clone_from(&self.start);
        self.ends.fill(None);
        self.running = None;
        self.stalls = 0;
        self.waits.fill(0);
    }

    /// Layer `k` reports a phase of its tile `j` (0 for a layer in one tile) at cycle `cyc`:
    /// when it is the tile's first, the tile before has ended and this one waits to be ready.
    /// Returns the cycle the phase goes.
    fn enter(&mut self, k: usize, j: usize, cyc: u64) -> u64 {
        let tile = self.first_tile[k].map(|f| f + j);
        if self.running == Some((k, tile)) {
            return cyc;
        }
        if let Some((_, Some(p))) = self.running {
            self.ends[p] = Some(cyc);
        }
        self.running = Some((k, tile));
        let Some(i) = tile else { return cyc };
        debug_assert_eq!(self.tiles[i].layer, k);
        let ends = &self.ends;
        let ready = self.fetch.ready(i, |i| if i < 2 { Some(0) } else { ends[i - 2] });
        let wait = ready.saturating_sub(cyc);
        self.stalls += wait;
        self.waits[k] += wait;
        ready.max(cyc)
    }
}

/// A phase of a layer in tiles (streamed), kept until the layer's last step: its tiles then
/// run in turn, each every step ([`Account::layer_done`]).
#[derive(Clone, Copy, Debug)]
enum Deferred {
    /// An ACC phase: its events and beats over the whole layer, or a dense gather.
    Acc { events: u64, beats: u64, dense: Option<usize> },
    /// The update pass of step `t`.
    Upd { t: usize },
}

/// One sample's clock, tallies and outputs.
pub(super) struct Account<'e> {
    eng: &'e Engine<'e>,
    /// A streamed plan's weight fetches (None: its weights are on chip).
    fetch: Option<Fetch>,
    /// Steps the run asks for (at most the plan's T).
    steps: usize,
    time: Time<'e>,
    /// Control cycles so far: START, early-exit checks, the clear.
    ctrl: u64,
    steps_run: u64,
    input_events: u64,
    /// Per projection (global index, [`Engine::proj_base`]).
    proj: Vec<ProjTally>,
    layers: Vec<LayerTally>,
    /// Pipelined schedule: per projection that follows a direct input's load, the
    /// [`schedule::follow_late`] of the input (set at the load).
    follow_late: Vec<u64>,
    /// The output row of every step (`steps` rows), output spikes so far per neuron (early
    /// exit), and the cycle each step ran ended.
    raw: Vec<i64>,
    counts: Vec<i64>,
    step_end: Vec<u64>,
    /// The running layer's phases while it is in tiles, and the update passes' go cycles of
    /// the last layer in tiles that ran (tile-major: `j * steps + t`).
    deferred: Vec<Deferred>,
    tile_go: Vec<u64>,
    /// Steps in `tile_go` per tile.
    tile_steps: usize,
    /// The last fused layer that ran ([`crate::hw::Plan::fused`]): per tile and block, its
    /// update's start and one pass's cycles ([`schedule::fused_cycles`]); blocks per tile.
    fuse_blocks: Vec<(u64, u64)>,
    fuse_per_tile: usize,
}

impl<'e> Account<'e> {
    /// An account at the start of an inference of `steps` steps (at most the plan's T).
    pub(super) fn new(eng: &'e Engine<'e>, steps: usize) -> Self {
        let plan = eng.plan;
        let steps = steps.min(plan.timesteps);
        let out_n = plan.layers[plan.output.layer].neurons();
        let time = match (&eng.pipe, plan.schedule) {
            (Some(pipe), _) => Time::Pipelined(schedule::Clock::new(pipe)),
            (None, schedule::Schedule::Streamed) => Time::Streamed(0),
            (None, _) => Time::Sequential(0),
        };
        let fetch = if matches!(time, Time::Streamed(_)) { Fetch::new(plan) } else { None };

        let mut a = Account {
            eng,
            fetch,
            steps,
            time,
            ctrl: 0,
            steps_run: 0,
            input_events: 0,
            proj: vec![ProjTally::default(); eng.nproj],
            layers: vec![LayerTally::default(); plan.layers.len()],
            follow_late: vec![0; eng.nproj],
            raw: vec![0; steps * out_n],
            counts: vec![0; out_n],
            step_end: Vec::with_capacity(steps),
            deferred: vec![],
            tile_go: vec![],
            tile_steps: 0,
            fuse_blocks: vec![],
            fuse_per_tile: 0,
        };
        a.reset();
        a
    }

    /// Back to the start of an inference.
    pub(super) fn reset(&mut self) {
        match &mut self.time {
            Time::Sequential(cyc) | Time::Streamed(cyc) => *cyc = schedule::START,
            Time::Pipelined(ck) => ck.reset(),
        }
        if let Some(f) = &mut self.fetch {
            f.reset();
        }
        self.ctrl = schedule::START;
        self.steps_run = 0;
        self.input_events = 0;
        self.proj.fill(ProjTally::default());
        self.layers.fill(LayerTally::default());
        self.follow_late.fill(0);
        self.raw.fill(0);
        self.counts.fill(0);
        self.step_end.clear();
        self.deferred.clear();
        self.tile_go.clear();
        self.fuse_blocks.clear();
    }

    /// Steps the inference runs at most.
    pub(super) fn steps(&self) -> usize {
        self.steps
    }

    /// The input load of step `t`: `q` the quantised values, `events` the non-zero ones.
    pub(super) fn load(&mut self, t: usize, q: &[i64], events: u64) {
        let eng = self.eng;
        let c = schedule::load_cycles(eng.plan);
        match &mut self.time {
            Time::Sequential(cyc) | Time::Streamed(cyc) => *cyc += c,
            Time::Pipelined(ck) => {
                ck.load(t, c);
                for (k, l) in eng.plan.layers.iter().enumerate() {
                    for pi in (0..l.projections.len()).filter(|&pi| ck.follows(k, pi)) {
                        self.follow_late[eng.proj_base[k] + pi] =
                            schedule::follow_late(q, |x| eng.input_beats(k, pi, x));
                    }
                }
            }
        }
        self.input_events += events;
    }

    /// A streamed plan with external weights: tile `j` of layer `k` waits for its weights at
    /// its first phase.
    #[inline]
    fn wait_tile(&mut self, k: usize, j: usize) {
        if let (Some(f), Time::Streamed(cyc)) = (&mut self.fetch, &mut self.time) {
            *cyc = f.enter(k, j, *cyc);
        }
    }

    /// Tiles of layer `k` (1 but in a streamed plan that cuts it, [`crate::hw::Layer::tiles`]).
    #[inline]
    fn tiles(&self, k: usize) -> usize {
        self.eng.plan.layers[k].tiles
    }

    /// Layer `k`'s phases are counted once every step is known ([`Account::layer_done`]): it is
    /// in tiles, or fused.
    #[inline]
    pub(super) fn defers(&self, k: usize) -> bool {
        self.tiles(k) > 1 || self.eng.fused[k]
    }

    /// Words a row of fused layer `k` gathers over its projections that run.
    fn fused_words(&self, k: usize) -> usize {
        let eng = self.eng;
        (0..eng.plan.layers[k].projections.len())
            .filter(|&pi| eng.runs_proj[k][pi])
            .filter_map(|pi| eng.dense[k][pi].map(|d| d.0))
            .sum()
    }

    /// Layer `k` has reported every step. A layer in tiles runs them now: tile after tile,
    /// each waiting for its weights and then running every step's phases over its rows (an
    /// event-driven phase re-reads its sources' events and takes its lane groups' share of
    /// the beats, every event reaching each lane group alike, [`crate::hw::memory::tileable`]).
    pub(super) fn layer_done(&mut self, k: usize) {
        if !self.defers(k) {
            return;
        }
        let n = self.tiles(k);
        let plan = self.eng.plan;
        let l = &plan.layers[k];
        let rows = l.tile_rows();
        if self.eng.fused[k] {
            // One phase a tile: every row's T steps side by side.
            let steps = self.deferred.iter().filter(|d| matches!(d, Deferred::Upd { .. })).count();
            let words = self.fused_words(k);
            self.fuse_blocks.clear();
            for j in 0..n {
                self.wait_tile(k, j);
                let Time::Streamed(cyc) = &mut self.time else { unreachable!("only a streamed plan fuses") };
                let go = *cyc;
                let blocks = &mut self.fuse_blocks;
                *cyc += schedule::fused_cycles(plan, rows, words, steps, |_, us, pass| blocks.push((go + us, pass)));
            }
            self.fuse_per_tile = rows.div_ceil(schedule::FUSE_BLOCK);
            self.deferred.clear();
            return;
        }
        let groups = l.lane_groups() as u64;
        let upd = schedule::tile_upd_cycles(plan, l);
        let steps = self.deferred.iter().filter(|d| matches!(d, Deferred::Upd { .. })).count();
        self.tile_go.clear();
        self.tile_go.resize(n * steps, 0);
        self.tile_steps = steps;
        let deferred = std::mem::take(&mut self.deferred);
        for j in 0..n {
            self.wait_tile(k, j);
            let Time::Streamed(cyc) = &mut self.time else { unreachable!("only a streamed plan has tiles") };
            for d in &deferred {
                *cyc += match *d {
                    Deferred::Acc { dense: Some(words), .. } => schedule::dense_acc_cycles(rows, words),
                    Deferred::Acc { events, beats, dense: None } => {
                        debug_assert_eq!(beats % groups, 0, "every event takes a beat per lane group");
                        schedule::acc_cycles(events, beats / n as u64)
                    }
                    Deferred::Upd { t } => {
                        self.tile_go[j * steps + t] = *cyc;
                        upd
                    }
                };
            }
        }
        self.deferred = deferred;
        self.deferred.clear();
    }

    /// The go cycle of tile `j`'s update pass at step `t` in the last layer in tiles that
    /// [`Account::layer_done`] ran.
    pub(super) fn tile_go(&self, j: usize, t: usize) -> u64 {
        self.tile_go[j * self.tile_steps + t]
    }

    /// The cycle the last fused layer that ran reads row `r` of its tile `j` at step `t`
    /// ([`schedule::fused_cycles`]).
    pub(super) fn fused_read(&self, j: usize, r: usize, t: usize) -> u64 {
        let (b, i) = (r / schedule::FUSE_BLOCK, r % schedule::FUSE_BLOCK);
        let (us, pass) = self.fuse_blocks[j * self.fuse_per_tile + b];
        us + t as u64 * pass + i as u64
    }

    /// The ACC phase of projection `pi` into layer `k` at step `t`.
    #[inline]
    pub(super) fn acc(&mut self, k: usize, pi: usize, t: usize, ph: AccPhase) {
        let n = self.tiles(k);
        let defers = self.defers(k);
        if !defers {
            self.wait_tile(k, 0);
        }
        let gp = self.eng.proj_base[k] + pi;
        // A dense phase gathers every row's words whatever the spikes, reads no event entry
        // and writes each row once.
        let dense = self.eng.dense[k][pi];
        let ph = match dense {
            Some((words, rows)) => {
                AccPhase { beats: (rows * words) as u64, reads: 0, syn: Synapses { rows: rows as u64, ..ph.syn }, ..ph }
            }
            None => ph,
        };
        let dur = match dense {
            Some((words, rows)) => schedule::dense_acc_cycles(rows, words),
            None => schedule::acc_cycles(ph.events, ph.beats),
        };
        match &mut self.time {
            // A layer in tiles runs its phases tile by tile once every step is known.
            Time::Streamed(_) if defers => {
                self.deferred.push(Deferred::Acc { events: ph.events, beats: ph.beats, dense: dense.map(|d| d.0) })
            }
            Time::Sequential(cyc) | Time::Streamed(cyc) => *cyc += dur,
            Time::Pipelined(ck) if ck.follows(k, pi) => ck.acc_follow(k, pi, ph.events, ph.beats, self.follow_late[gp]),
            Time::Pipelined(ck) => ck.acc(k, pi, t, dur),
        }
        // Each tile delivers the phase's events again (reading its sources' entries again);
        // the beats, synapses and rows are shared out between the tiles.
        let pt = &mut self.proj[gp];
        let n64 = n as u64;
        pt.events += ph.events * n64;
        pt.empty += u64::from(ph.events == 0 && dense.is_none()) * n64;
        pt.syn += ph.syn.ops;
        pt.rows += ph.syn.rows;
        pt.beats += ph.beats;
        if let Source::Layer(src) = self.eng.plan.layers[k].projections[pi].source {
            self.layers[src].reads += ph.reads * n64;
        }
        let ly = &mut self.layers[k];
        ly.ovf += ph.ovf;
        ly.sat += ph.syn.sat;
    }

    /// The start of layer `k`'s update pass at step `t`; returns its go cycle.
    #[inline]
    /// A layer in tiles has no single go: it returns 0, and [`Account::tile_go`] gives each
    /// tile's once [`Account::layer_done`] has run them.
    pub(super) fn upd(&mut self, k: usize, t: usize) -> u64 {
        let plan = self.eng.plan;
        if self.defers(k) {
            self.deferred.push(Deferred::Upd { t });
            return 0;
        }
        self.wait_tile(k, 0);
        let c = schedule::upd_cycles(plan, &plan.layers[k]);
        match &mut self.time {
            Time::Sequential(cyc) | Time::Streamed(cyc) => {
                *cyc += c;
                *cyc - c
            }
            Time::Pipelined(ck) => ck.upd(k, t, c),
        }
    }

    /// What layer `k`'s update pass did.
    #[inline]
    pub(super) fn updated(&mut self, k: usize, u: UpdPhase) {
        let ly = &mut self.layers[k];
        ly.spikes += u.spikes;
        if self.eng.event_list[k] {
            ly.writes += u.entries;
        }
        ly.ovf += u.ovf;
        ly.sat += u.sat;
    }

    /// The output row of step `t` (the output layer's spikes or V, flat neuron order).
    #[inline]
    pub(super) fn row(&mut self, t: usize) -> &mut [i64] {
        let n = self.counts.len();
        &mut self.raw[t * n..(t + 1) * n]
    }

    /// The OUT phase of step `t` (its row written), then with early exit and another step to
    /// go, the decision. Returns the cycle the step ended and whether the sample exited (the
    /// RTL then clears every state memory before done).
    pub(super) fn out(&mut self, t: usize) -> (u64, bool) {
        let plan = self.eng.plan;
        let c = schedule::out_cycles(plan);
        let mut end = match &mut self.time {
            // Streamed, the OUT phase of step t follows the output layer's update pass of t.
            Time::Sequential(cyc) | Time::Streamed(cyc) => {
                *cyc += c;
                *cyc
            }
            Time::Pipelined(ck) => ck.out(t, c),
        };
        self.steps_run += 1;
        let mut exited = false;
        if plan.early_exit && t + 1 < self.steps {
            let x = schedule::exit_cycles();
            self.control(x);
            end += x;
            let n = self.counts.len();
            for (c, v) in self.counts.iter_mut().zip(&self.raw[t * n..(t + 1) * n]) {
                *c += v;
            }
            // A class gains at most one spike per step, or a multi-spike output's largest count.
            let per_step = plan.layers[plan.output.layer].event_max();
            exited = decided(&self.counts, (self.steps - 1 - t) as i64 * per_step);
        }
        self.step_end.push(end);
        if exited {
            self.control(schedule::clear_cycles(plan));
        }
        (end, exited)
    }

    /// Control cycles on the sequential clock (the pipelined clock runs on the units').
    fn control(&mut self, c: u64) {
        self.ctrl += c;
        if let Time::Sequential(cyc) | Time::Streamed(cyc) = &mut self.time {
            *cyc += c;
        }
    }

    /// Out-of-width values so far (a narrow pass with any is run again wide).
    pub(super) fn overflows(&self) -> u64 {
        self.layers.iter().map(|l| l.ovf).sum()
    }

    /// The inference's result: its outputs, step ends and every counter.
    pub(super) fn result(&self) -> SampleResult {
        let plan = self.eng.plan;
        let run = self.steps_run;
        let loads = if run == 0 {
            0
        } else if plan.input.per_step {
            run
        } else {
            1
        };
        let (cycles, control_cycles, stall_cycles) = match &self.time {
            Time::Sequential(cyc) => (cyc + schedule::DONE, self.ctrl + schedule::DONE, 0),
            Time::Streamed(cyc) => {
                let stalls = self.fetch.as_ref().map_or(0, |f| f.stalls);
                // A design with the cascade decides after its one stage too (its `casc` low).
                let dec = if plan.cascade.is_some() { schedule::decide_cycles() } else { 0 };
                (cyc + dec + schedule::DONE, self.ctrl + dec + schedule::DONE, stalls)
            }
            Time::Pipelined(ck) => (ck.total(), self.ctrl + schedule::PIPE_DONE, ck.stalls),
        };
        // The controller's commands up to done (it goes on refreshing after the last tile).
        let external = match &self.fetch {
            Some(f) => {
                let mut tf = f.fetch.clone();
                tf.finish(cycles);
                let [activates, reads, refreshes] = tf.counts();
                MemoryCommands { activates, reads, refreshes }
            }
            None => MemoryCommands::default(),
        };
        let mut layers: Vec<LayerCounters> = (0..plan.layers.len()).map(|k| self.layer(k)).collect();
        if let (Time::Streamed(_), Some(f)) = (&self.time, &self.fetch) {
            for (l, &w) in layers.iter_mut().zip(&f.waits) {
                l.weight_waits = w;
            }
        }
        let out_cycles = run * schedule::out_cycles(plan);
        let counters = Counters {
            cycles,
            load_cycles: loads * schedule::load_cycles(plan),
            out_cycles,
            control_cycles,
            input_values: loads * plan.input.numel() as u64,
            input_events: self.input_events,
            output_words: run * plan.layers[plan.output.layer].rows as u64,
            steps_run: run,
            empty_acc_phases: layers.iter().map(|l| l.empty_acc_phases).sum(),
            stall_cycles,
            external,
            layers,
        };
        SampleResult {
            raw: self.raw[..run as usize * self.counts.len()].to_vec(),
            counters,
            step_end_cycles: self.step_end.clone(),
            stage_raw: vec![],
        }
    }

    /// Layer `k`'s counters: the tallies, and what every step run adds alike (one update
    /// pass, every neuron updated, every row read and written, static projections' phase at
    /// the first step only).
    fn layer(&self, k: usize) -> LayerCounters {
        let eng = self.eng;
        let l = &eng.plan.layers[k];
        // A layer the run's mask leaves out runs no step.
        let run = if eng.runs(k) { self.steps_run } else { 0 };
        let ly = &self.layers[k];
        // Per-projection counters exist once a phase has run (every projection runs at the
        // first step).
        let np = if run > 0 { l.projections.len() } else { 0 };
        // A layer in tiles runs every phase once per tile, over the tile's rows.
        let n = l.tiles as u64;
        let fused = eng.fused[k];
        let upd_cycles = match n {
            // A layer a student mask leaves out runs no phase.
            _ if fused && run == 0 => 0,
            _ if fused => {
                let rows = l.tile_rows();
                n * schedule::fused_cycles(eng.plan, rows, self.fused_words(k), run as usize, |_, _, _| ())
            }
            1 => run * schedule::upd_cycles(eng.plan, l),
            _ => run * n * schedule::tile_upd_cycles(eng.plan, l),
        };
        let mut lc = LayerCounters {
            spikes: ly.spikes,
            event_writes: ly.writes,
            event_reads: ly.reads,
            overflows: ly.ovf,
            saturations: ly.sat,
            update_passes: run,
            neuron_updates: run * l.neurons() as u64,
            state_reads: run * l.rows as u64,
            param_reads: if eng.prep[k].param_rom { run * l.rows as u64 } else { 0 },
            cycles: upd_cycles,
            proj_synaptic_ops: ProjCounts::from_elem(0, np),
            proj_weight_reads: ProjCounts::from_elem(0, np),
            ..Default::default()
        };
        for (pi, p) in l.projections.iter().enumerate().take(np) {
            let pt = &self.proj[eng.proj_base[k] + pi];
            let phases = match (eng.runs_proj[k][pi], p.target) {
                (false, _) => 0,
                (true, AccTarget::Static) => n,
                (true, AccTarget::Dynamic) => n * run,
            };
            let dense = eng.dense[k][pi];
            // A fused layer reads each weight word, and each T-step plane word, once for all
            // its steps, holding a weight word while a multi-bit source's planes pass it and a
            // plane word while the weights' planes pass it; its phase's cycles are counted with
            // the update's above.
            let (wp, sp) = eng.planes[k][pi];
            let (weight_reads, plane_reads) = match dense {
                Some(_) if fused => (pt.beats / run.max(1) / sp, pt.beats / run.max(1) / wp),
                Some(_) => (pt.beats, pt.beats),
                None if eng.beats[k][pi].1 => (pt.beats, 0),
                None => (0, 0),
            };
            lc.acc_phases += phases;
            lc.empty_acc_phases += pt.empty;
            lc.cycles += match dense {
                _ if fused => 0,
                Some((words, rows)) => phases * schedule::dense_acc_cycles(rows / n as usize, words),
                None => schedule::acc_cycles_total(phases, pt.empty, pt.beats),
            };
            lc.plane_reads += plane_reads;
            lc.events_in += pt.events;
            lc.beats += pt.beats;
            lc.weight_reads += weight_reads;
            lc.proj_weight_reads[pi] = weight_reads;
            lc.synaptic_ops += pt.syn;
            lc.proj_synaptic_ops[pi] = pt.syn;
            // A fused gather's sums go to the sum buffer, not to the state.
            if !fused {
                lc.state_reads += pt.rows;
            }
        }
        lc.state_writes = lc.state_reads;
        lc.plane_writes = eng.plane_copies[k] * run * l.rows as u64;
        lc
    }
}

/// Early-exit decision: the leader's count exceeds every other class's count plus the
/// spikes that class can still emit (`remaining`: one per remaining step, or the output
/// layer's largest count per remaining step when it is multi-spike).
pub fn decided(counts: &[i64], remaining: i64) -> bool {
    let Some((lead, &best)) = counts.iter().enumerate().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0))) else {
        return true;
    };
    counts.iter().enumerate().all(|(c, &v)| c == lead || best > v + remaining || (best == v + remaining && lead < c))
}

"""The Python package against the command line: same numbers, same messages, typed reports.
Needs only numpy and the files in this checkout (no torch)."""

import json
import os
import subprocess
import warnings

import numpy as np
import pytest

import spikefab

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MLP = os.path.join(ROOT, "models", "mlp_bw", "mlp_bw.nir")
X = np.load(os.path.join(ROOT, "models", "digits_test_x.npy"))
Y = np.load(os.path.join(ROOT, "models", "digits_test_y.npy"))
CLI = os.environ.get("SPIKEFAB_BIN")


def cli_json(*args):
    """`spikefab ARGS --json` when the test driver names the binary."""
    if not CLI:
        pytest.skip("SPIKEFAB_BIN names no spikefab binary")
    out = subprocess.run([CLI, *args, "--json"], capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def mlp():
    return spikefab.load(MLP, from_="snntorch", timesteps=8)


def test_load_dialect_and_shape(mlp):
    assert mlp.input_shape == [64]
    d = json.loads(mlp.dialect_json())
    assert d["timesteps"] == 8
    assert "snntorch" in mlp.dialect_text


def test_simulate_matches_expected_outputs(mlp):
    out = spikefab.simulate(mlp, X[:40])
    assert out.shape == (40, 8, 10) and out.dtype == np.float64
    assert set(np.unique(out)) <= {0.0, 1.0}
    # The bundled golden spikes, computed by snnTorch itself.
    expected = np.load(os.path.join(ROOT, "models", "mlp_bw", "expected.npy"))
    np.testing.assert_array_equal(out, expected[:40].reshape(out.shape))


def test_simulate_summary_is_the_cli_json(mlp, tmp_path):
    inputs = tmp_path / "x.npy"
    np.save(inputs, X[:30])
    out, s = spikefab.simulate(mlp, X[:30], labels=Y[:30], summary=True, engine="cycle")
    assert s.samples == 30 and s.engine == "cycle"
    assert s.classes == list(np.argmax(out.sum(axis=1), axis=1))
    labels = tmp_path / "y.npy"
    np.save(labels, Y[:30])
    cli = cli_json("simulate", MLP, "--from", "snntorch", "-T", "8", "--inputs", str(inputs), "--labels", str(labels),
                   "--engine", "cycle")
    cli["model"] = s.model
    assert cli == s.to_dict()


def test_active_students_mask_one_design(tmp_path):
    ens_path = os.path.join(ROOT, "models", "ensemble_bw", "ensemble_bw.nir")
    ens = spikefab.load(ens_path, timesteps=8, reset="zero")
    opts = dict(engine="cycle", schedule="sequential")
    _, full = spikefab.simulate(ens, X[:24], summary=True, **opts)
    out, s = spikefab.simulate(ens, X[:24], summary=True, active_students=["s0", "s2"], **opts)
    assert out.shape == (24, 8, 10)
    assert s.active_students == ["s0", "s2"] and full.active_students == []
    assert s.cycles_per_inference < full.cycles_per_inference
    inputs = tmp_path / "x.npy"
    np.save(inputs, X[:24])
    cli = cli_json("simulate", ens_path, "-T", "8", "--reset", "zero", "--inputs", str(inputs), "--engine", "cycle", "--schedule",
                   "sequential", "--active-students", "s0,s2")
    cli["model"] = s.model
    assert cli == s.to_dict()
    with pytest.raises(spikefab.SpikefabError, match="no student 's9'") as e:
        spikefab.simulate(ens, X[:4], active_students=["s9"], **opts)
    assert e.value.exit_code == 2


def test_cascade_on_one_design(tmp_path):
    ens_path = os.path.join(ROOT, "models", "ensemble_bw", "ensemble_bw.nir")
    ens = spikefab.load(ens_path, timesteps=8, reset="zero")
    opts = dict(engine="cycle", schedule="streamed")
    _, full = spikefab.simulate(ens, X[:24], summary=True, **opts)
    out, s = spikefab.simulate(ens, X[:24], summary=True, cascade=2, cascade_order=["s2", "s0", "s1", "s3"], **opts)
    assert out.shape == (24, 8, 10)
    assert s.cascade == 2 and s.cascade_order == ["s2", "s0", "s1", "s3"]
    assert 1.0 <= s.students_per_inference < 4.0
    assert s.cycles_per_inference < full.cycles_per_inference
    inputs = tmp_path / "x.npy"
    np.save(inputs, X[:24])
    cli = cli_json("simulate", ens_path, "-T", "8", "--reset", "zero", "--inputs", str(inputs), "--engine", "cycle", "--schedule",
                   "streamed", "--cascade", "2", "--cascade-order", "s2,s0,s1,s3")
    cli["model"] = s.model
    assert cli == s.to_dict()
    with pytest.raises(spikefab.SpikefabError, match="--schedule streamed") as e:
        spikefab.simulate(ens, X[:4], cascade=2, engine="cycle", schedule="sequential")
    assert e.value.exit_code == 2
    # verify runs the same cascade against the reference's pruned prefixes.
    v = spikefab.verify(ens, X[:24], schedule="streamed", cascade=2, cascade_order=["s2", "s0", "s1", "s3"])
    assert v.cascade["order"] == ["s2", "s0", "s1", "s3"]
    assert v.cascade["stages_mean"] == s.students_per_inference


def test_inputs_accept_other_dtypes_and_layouts(mlp):
    a = spikefab.simulate(mlp, X[:10])
    b = spikefab.simulate(mlp, np.asfortranarray(X[:10].astype(np.float32)))
    np.testing.assert_array_equal(a, b)
    # Per-step inputs: N x T x 64.
    c = spikefab.simulate(mlp, np.repeat(X[:10, None, :], 8, axis=1))
    np.testing.assert_array_equal(a, c)


def test_verify_is_the_cli_verify(mlp, tmp_path):
    v = spikefab.verify(mlp, X[:60], labels=Y[:60])
    assert v.passed and v.failure is None
    assert v.samples == 60 and 0.99 <= v.class_agreement <= 1.0
    np.save(tmp_path / "x.npy", X[:60])
    np.save(tmp_path / "y.npy", Y[:60])
    cli = cli_json("verify", MLP, "--from", "snntorch", "-T", "8", "--inputs", str(tmp_path / "x.npy"),
                   "--labels", str(tmp_path / "y.npy"))
    assert cli == v.to_dict()


def test_verify_failure_is_a_result_not_an_exception(mlp):
    v = spikefab.verify(mlp, X[:20], weight_bits=1, input_bits=1, min_agreement=1.0)
    assert v.passed == (v.failure is None)
    if not v.passed:
        assert "below --min-agreement" in v.failure or "early exit" in v.failure


def test_compile_report_is_report_json(mlp, tmp_path):
    r = spikefab.compile(mlp, target="ice40-up5k", out_dir=tmp_path / "build", inputs=X[:32], labels=Y[:32],
                         cosim_samples=0)
    assert isinstance(r, spikefab.CompileReport)
    assert r.ok and r.kind == "rtl" and r.top == "sf_mlp_bw" and r.timesteps == 8
    assert r.verify.class_agreement >= 0.99
    with open(tmp_path / "build" / "report.json") as f:
        on_disk = json.load(f)
    assert on_disk == r.to_dict() and set(dir(r)) == set(on_disk)
    assert (tmp_path / "build" / "sf_mlp_bw.v").exists()


TARGETS = sorted(f[:-5] for f in os.listdir(os.path.join(ROOT, "targets")) if f.endswith(".toml"))


@pytest.mark.parametrize("target", TARGETS)
def test_compile_for_every_target(mlp, target, tmp_path):
    """Every target in targets/ compiles from Python (or is refused with the reason), and its
    report is report.json, whatever sections the target's back end writes."""
    xylo = target.startswith("xylo")
    if xylo:  # the Xylo-shaped student: 16 input channels
        model = spikefab.load(os.path.join(ROOT, "models", "xylo_q8", "xylo_q8.json"))
        x = np.load(os.path.join(ROOT, "models", "xylo_q8", "digits16_test_x.npy"))[:16]
    else:
        model, x = mlp, X[:16]
    out = tmp_path / target
    try:
        r = spikefab.compile(model, target=target, out_dir=out, inputs=x, labels=Y[:16], cosim_samples=0,
                             csim_samples=0, min_agreement=0.0)
    except spikefab.SpikefabError as e:
        # Chips spikefab only prices are refused naming the targets that compile; a model
        # beyond a chip's limits is refused naming the limit and the figure.
        refused = {"loihi": (2, "no back end"), "truenorth": (2, "no back end"),
                   "xylo-audio2": (1, "10 output neurons; xylo-audio2 has 8")}
        assert target in refused, f"{target}: {e}"
        code, why = refused[target]
        assert e.exit_code == code and why in str(e), f"{target}: {e}"
        return
    assert r.target == target and r.kind in ("rtl", "chip")
    with open(out / "report.json") as f:
        assert json.load(f) == r.to_dict()
    if r.kind == "chip":
        assert r.verify.samples == 16 and r.export.files and r.layout.family in ("xylo", "loihi")
        assert "vendor_check" in r
    else:
        assert r.plan.target == target and r.verify.samples == 16


def test_package_namespace_is_its_api():
    public = {n for n in dir(spikefab) if not n.startswith("_")}
    assert public <= set(spikefab.__all__), public - set(spikefab.__all__)
    assert "weight_bits" in spikefab.options("compile") and "from_" in spikefab.options("load")


def test_schedule_option(mlp, tmp_path):
    seq = spikefab.simulate(mlp, X[:16], engine="cycle", schedule="sequential")
    pipe = spikefab.simulate(mlp, X[:16], engine="cycle", schedule="pipelined")
    np.testing.assert_array_equal(seq, pipe)
    r = spikefab.compile(mlp, target="ice40-up5k", out_dir=tmp_path / "p", inputs=X[:8], cosim_samples=0,
                         schedule="pipelined")
    assert r.kind == "rtl"
    assert r.plan["schedule"] == "pipelined" and "schedule_note" not in r.plan
    # The iCE40 default is "auto": pipelined where the memories fit, with the reason.
    r = spikefab.compile(mlp, target="ice40-up5k", out_dir=tmp_path / "a", inputs=X[:8], cosim_samples=0)
    assert r.plan["schedule"] == "pipelined" and r.plan["schedule_note"].startswith("auto: pipelined")
    with pytest.raises(spikefab.SpikefabError, match="early exit needs the sequential schedule"):
        spikefab.simulate(mlp, X[:3], engine="cycle", schedule="pipelined", early_exit=True)
    with pytest.raises(spikefab.SpikefabError, match="schedule"):
        spikefab.simulate(mlp, X[:3], engine="cycle", schedule="overlapped")


def test_compile_hls_backend(mlp, tmp_path):
    r = spikefab.compile(mlp, target="xc7a35t", out_dir=tmp_path / "b", backend="hls", inputs=X[:8], csim_samples=0,
                         cosim_samples=0)
    assert r.hls.top and r.top is None


def test_plan_is_the_cli_plan(mlp, tmp_path):
    """`plan` from Python is `plan --json`, for an FPGA plan, a chip's placement and a priced chip."""
    inputs = tmp_path / "x.npy"
    np.save(inputs, X[:16])
    for target in ("ice40-up5k", "ulx3s-85f", "loihi2", "truenorth"):
        p = spikefab.plan(mlp, X[:16], target=target)
        cli = cli_json("plan", MLP, "--from", "snntorch", "-T", "8", "--inputs", str(inputs), "--target", target)
        assert p.to_dict() == cli, target
        assert p.passed and p.failure is None
    # The logic model's prediction beside the device's cells (iCE40 and ECP5 models, none for 7-series).
    logic = spikefab.plan(mlp, X[:16], target="ice40-up5k").to_dict()["logic"]
    assert logic["predicted"]["lut4"] > 0 and logic["device_luts"] == 5280 and 0 < logic["error"] < 0.5
    assert logic["features"]["layers"] == 2
    assert spikefab.plan(mlp, X[:16], target="ulx3s-85f").to_dict()["logic"]["device_luts"] == 83640
    assert spikefab.plan(mlp, X[:16], target="xc7a35t").to_dict()["logic"] is None
    # --logic-margin by name: a word or a number; a margin out of range is refused.
    for margin, limit in (("stated", "4447"), (0.1, "4752"), ("0.3", "3696")):
        p = spikefab.plan(mlp, X[:16], target="ice40-up5k", logic_margin=margin).to_dict()
        assert p["schedule"] == "pipelined" and f"within the {limit} a design is kept to" in p["schedule_note"], margin
    # A margin that leaves less than the pipelined design takes: sequential; off: pipelined.
    p = spikefab.plan(mlp, X[:16], target="ice40-up5k", logic_margin=0.9).to_dict()
    assert p["schedule"] == "sequential" and "the logic model predicts" in p["schedule_note"]
    assert spikefab.plan(mlp, X[:16], target="ice40-up5k", logic_margin="off").to_dict()["schedule"] == "pipelined"
    with pytest.raises(spikefab.SpikefabError, match="no logic margin"):
        spikefab.plan(mlp, X[:16], logic_margin=1.5)
    # On a board with external memory, the weights' transfer set against the measured compute.
    b = spikefab.plan(mlp, X[:16], target="ulx3s-85f").to_dict()["external_memory"]["balance"]
    assert 0 < b["fraction_of_bound"] <= 1 and b["compute_s"] > 0 and b["transfer_s"] > 0
    assert not b["measured"]
    # The streamed schedule keeps the weights in the SDRAM: the balance is then measured.
    p = spikefab.plan(mlp, X[:16], target="ulx3s-85f", schedule="streamed", clock_mhz=50.0)
    cli = cli_json(
        "plan", MLP, "--from", "snntorch", "-T", "8", "--inputs", str(inputs), "--target", "ulx3s-85f",
        "--schedule", "streamed", "--clock-mhz", "50",
    )
    assert p.to_dict() == cli
    b = cli["external_memory"]["balance"]
    assert b["measured"] and b["stall_cycles"] > 0 and 0 < b["fraction_of_bound"] <= 1
    # The waits by layer, longest first, add up to the waits.
    waits = [w["cycles"] for w in b["waits_by_layer"]]
    assert waits and waits == sorted(waits, reverse=True) and all(w > 0 for w in waits)
    assert sum(waits) == pytest.approx(b["stall_cycles"])
    assert any(m["map"]["kind"] == "external" for m in cli["memories"])
    # Without inputs the input range is the option's.
    assert spikefab.plan(mlp, target="ice40-up5k", input_scale=1.0).target == "ice40-up5k"
    with pytest.raises(spikefab.SpikefabError, match="--lanes") as e:
        spikefab.plan(mlp, X[:4], target="loihi2", lanes=4)
    assert e.value.exit_code == 2


def test_cosim_and_csim(mlp, tmp_path):
    """The RTL and the HLS C++ against the cycle engine from Python: exact, as the CLI says."""
    import shutil

    if shutil.which("iverilog") is None and shutil.which("verilator") is None:
        if os.environ.get("CI"):
            pytest.fail("CI has no iverilog or Verilator")
        pytest.skip("no iverilog or Verilator")
    r = spikefab.cosim(mlp, X[:4], out_dir=tmp_path / "cosim", samples=4, simulator="iverilog")
    assert r.passed and r.samples == 4 and r.word_mismatches == 0 and r.cycle_mismatches == 0
    c = spikefab.csim(mlp, X[:4], out_dir=tmp_path / "csim")
    assert c.passed and c.samples == 4 and c.mismatches == 0 and c.step_mismatches == 0
    # A chip has no RTL to co-simulate: refused with the reason, as bad usage.
    with pytest.raises(spikefab.SpikefabError, match="co-simulates the RTL") as e:
        spikefab.cosim(mlp, X[:4], out_dir=tmp_path / "chip", target="loihi2")
    assert e.value.exit_code == 2


def test_cosim_takes_active_students(tmp_path):
    """The sequential and streamed RTL of an ensemble run the students given, exactly, as the
    CLI's --active-students; the pipelined schedule, whose RTL takes no mask, is refused as bad
    usage."""
    import shutil

    if shutil.which("iverilog") is None:
        if os.environ.get("CI"):
            pytest.fail("CI has no iverilog")
        pytest.skip("no iverilog")
    ens = spikefab.load(os.path.join(ROOT, "models", "ensemble_bw", "ensemble_bw.nir"), timesteps=8, reset="zero")
    opts = dict(samples=2, simulator="iverilog", schedule="sequential")
    r = spikefab.cosim(ens, X[:2], out_dir=tmp_path / "mask", active_students=["s1", "s3"], **opts)
    assert r.passed and r.samples == 2 and r.word_mismatches == 0 and r.cycle_mismatches == 0
    assert (tmp_path / "mask" / "act.hex").read_text() == "a\na\n"
    r = spikefab.cosim(ens, X[:2], out_dir=tmp_path / "streamed", active_students=["s1"],
                       **dict(opts, schedule="streamed"))
    assert r.passed and r.word_mismatches == 0 and r.cycle_mismatches == 0
    with pytest.raises(spikefab.SpikefabError, match="takes no student mask") as e:
        spikefab.cosim(ens, X[:2], out_dir=tmp_path / "pipelined", active_students=["s1"],
                       **dict(opts, schedule="pipelined"))
    assert e.value.exit_code == 2


def test_csim_takes_active_students(tmp_path):
    """The HLS C++ of an ensemble runs the students given, exactly, as the CLI's
    --active-students, in the sequential and streamed schedules; the pipelined schedule, whose
    design takes no mask, is refused as bad usage."""
    import shutil

    if shutil.which("g++") is None:
        if os.environ.get("CI"):
            pytest.fail("CI has no g++")
        pytest.skip("no g++")
    ens = spikefab.load(os.path.join(ROOT, "models", "ensemble_bw", "ensemble_bw.nir"), timesteps=8, reset="zero")
    r = spikefab.csim(ens, X[:2], out_dir=tmp_path / "mask", active_students=["s0", "s2"], schedule="sequential")
    assert r.passed and r.samples == 2 and r.mismatches == 0 and r.step_mismatches == 0
    assert (tmp_path / "mask" / "act.hex").read_text() == "5\n5\n"
    r = spikefab.csim(ens, X[:2], out_dir=tmp_path / "streamed", active_students=["s0"], schedule="streamed")
    assert r.passed and r.mismatches == 0
    with pytest.raises(spikefab.SpikefabError, match="takes no student mask") as e:
        spikefab.csim(ens, X[:2], out_dir=tmp_path / "pipelined", active_students=["s0"], schedule="pipelined")
    assert e.value.exit_code == 2


def test_verify_and_compare_take_active_students():
    """verify and compare run the one design under the students given (the reference runs the
    model pruned to them); a chip, whose students are fixed at compile time, is a refused row."""
    ens = spikefab.load(os.path.join(ROOT, "models", "ensemble_bw", "ensemble_bw.nir"), timesteps=8, reset="zero")
    v = spikefab.verify(ens, X[:32], labels=Y[:32], schedule="sequential", active_students=["s0", "s2"])
    d = v.to_dict()
    assert d["active_students"] == ["s0", "s2"] and d["pass"]
    _, s = spikefab.simulate(ens, X[:32], labels=Y[:32], summary=True, engine="cycle", schedule="sequential",
                             active_students=["s0", "s2"])
    assert d["cycle_accuracy"] == s.to_dict()["accuracy"]
    c = spikefab.compare(ens, X[:32], labels=Y[:32], schedule="sequential", targets=["ice40-up5k", "loihi2"],
                         active_students=["s0", "s2"]).to_dict()
    assert c["active_students"] == ["s0", "s2"]
    up5k, loihi2 = c["rows"]
    assert up5k["fits"] and up5k["accuracy"] == d["cycle_accuracy"]
    assert not loihi2["fits"] and "cannot switch students at run time" in loihi2["why_not"][0]


def test_compile_sets_the_power_on_students(tmp_path):
    """compile's active_students: the board's power-on students, the checks run under them."""
    ens = spikefab.load(os.path.join(ROOT, "models", "ensemble_bw", "ensemble_bw.nir"), timesteps=8, reset="zero")
    r = spikefab.compile(ens, out_dir=tmp_path / "c", inputs=X[:8], labels=Y[:8], cosim_samples=0,
                         schedule="sequential", active_students=["s1", "s3"])
    assert r.ok and r.active_students == ["s1", "s3"] and r.verify.class_agreement == 1.0
    assert ".act(4'b1010)" in (tmp_path / "c" / "sf_ensemble_bw_board.v").read_text()


def test_energy_and_explore(mlp):
    e = spikefab.energy(mlp, X[:20], compare=["loihi"])
    assert e.energy_per_inference_j > 0 and len(e.compare) == 1 and e.compare[0].target == "loihi"
    x = spikefab.explore(mlp, X[:40], labels=Y[:40])
    front = [c for c, p in zip(x.exploration.configurations, x.exploration.pareto) if p]
    assert front and all(c.energy_j > 0 for c in front)


def test_dialect_options_reach_the_model():
    a = spikefab.load(MLP, from_="snntorch", timesteps=4)
    b = spikefab.load(MLP, from_="snntorch", timesteps=4, reset="zero")
    assert json.loads(a.dialect_json())["reset"] != json.loads(b.dialect_json())["reset"]
    assert spikefab.simulate(MLP, X[:5], from_="snntorch", timesteps=4).shape == (5, 4, 10)


def test_load_errors_carry_the_cli_message(tmp_path):
    with pytest.raises(spikefab.SpikefabError) as e:
        spikefab.load(tmp_path / "missing.nir")
    assert e.value.exit_code == 2
    assert str(e.value) == f"{tmp_path / 'missing.nir'}: no such file"
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(spikefab.SpikefabError):
        spikefab.load(bad)
    with pytest.raises(spikefab.SpikefabError, match="option from_: unknown variant `keras`"):
        spikefab.load(MLP, from_="keras")


@pytest.mark.parametrize("path", sorted(
    os.path.join(ROOT, "tests", "data", "broken", f) for f in os.listdir(os.path.join(ROOT, "tests", "data", "broken"))
))
def test_broken_models_raise_not_crash(path):
    try:
        m = spikefab.load(path, timesteps=4, dt=1e-3)
    except spikefab.SpikefabError as e:
        assert e.exit_code in (1, 2) and str(e)
        return
    if m.input_shape is not None:
        try:
            spikefab.simulate(m, np.zeros([2] + m.input_shape))
        except spikefab.SpikefabError as e:
            assert "internal error" not in str(e)


def test_hostile_arguments(mlp):
    with pytest.raises(spikefab.SpikefabError, match="does not fit the model input"):
        spikefab.simulate(mlp, np.zeros((3, 5)))
    with pytest.raises(spikefab.SpikefabError, match="not finite"):
        spikefab.simulate(mlp, np.full((2, 64), np.nan))
    with pytest.raises(spikefab.SpikefabError, match="class index"):
        spikefab.simulate(mlp, X[:3], labels=np.array([1, -1, 2]))
    with pytest.raises(TypeError, match="integer"):
        spikefab.simulate(mlp, X[:3], labels=np.array([1.5, 1, 2]))
    with pytest.raises(TypeError, match="numeric"):
        spikefab.simulate(mlp, np.array([["a"] * 64]))
    with pytest.raises(TypeError, match="unexpected option"):
        spikefab.simulate(mlp, X[:3], bogus=1)
    with pytest.raises(TypeError, match="go to load"):
        spikefab.simulate(mlp, X[:3], dt=1e-3)
    with pytest.raises(spikefab.SpikefabError, match="engine"):
        spikefab.simulate(mlp, X[:3], engine="gpu")
    with pytest.raises(spikefab.SpikefabError, match="target"):
        spikefab.compile(mlp, target="no-such-chip", out_dir="/nonexistent/x")
    with pytest.raises(spikefab.SpikefabError):
        spikefab.simulate(mlp, X[:3], lanes=3, engine="cycle")


def test_nir_graph_in_memory():
    nir = pytest.importorskip("nir")
    g = nir.read(MLP)
    m = spikefab.load(g, name="mem", from_="snntorch", timesteps=8)
    assert m.path == "mem.nir"
    np.testing.assert_array_equal(spikefab.simulate(m, X[:10]), spikefab.simulate(MLP, X[:10], from_="snntorch",
                                                                                  timesteps=8))


def test_loader_warnings_are_python_warnings():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        spikefab.load(MLP, timesteps=8)
    # A plain NIR file without --from: the loader says which defaults it applied.
    assert all(isinstance(x.message, UserWarning) for x in w)


def test_pass_calibration_inputs_are_the_cli_calib(mlp, tmp_path):
    np.save(tmp_path / "x.npy", X[:40])
    np.save(tmp_path / "c.npy", X[100:300])
    np.save(tmp_path / "cy.npy", Y[100:300])
    v = spikefab.verify(mlp, X[:40], auto_timesteps=True, calib=X[100:300], calib_labels=Y[100:300],
                        max_accuracy_drop=0.05)
    assert v.timesteps < 8
    cli = cli_json("verify", MLP, "--from", "snntorch", "-T", "8", "--inputs", str(tmp_path / "x.npy"),
                   "--auto-timesteps", "--calib", str(tmp_path / "c.npy"), "--calib-labels", str(tmp_path / "cy.npy"),
                   "--max-accuracy-drop", "0.05")
    assert cli == v.to_dict()
    with pytest.raises(spikefab.SpikefabError, match="calib_labels needs calib"):
        spikefab.verify(mlp, X[:10], calib_labels=Y[:10])


def test_membrane_floor_option_matches_sinabs_importer():
    """`v_min` is the `--v-min` option: a number, "-threshold", "sinabs" or "none"; the Sinabs
    CNN's committed importer output needs the floor `--from sinabs` sets."""
    d = os.path.join(ROOT, "tests", "data", "frameworks", "importers", "sinabs_cnn")
    x = np.load(os.path.join(d, "inputs.npy")).astype(np.float32)
    want = np.load(os.path.join(d, "expected.npy")).astype(np.float64)
    model = os.path.join(d, "model.nir")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        m = spikefab.load(model, from_="sinabs", timesteps=10)
    assert any("membrane floor" in str(x.message) for x in w)
    out = spikefab.simulate(m, x)
    np.testing.assert_array_equal(out.reshape(want.shape), want)
    none = spikefab.simulate(model, x, from_="sinabs", timesteps=10, v_min="none")
    assert (none.reshape(want.shape) != want).any()
    same = spikefab.simulate(model, x, from_="sinabs", timesteps=10, v_min="-threshold")
    np.testing.assert_array_equal(same.reshape(want.shape), want)
    with pytest.raises(Exception, match="not a membrane floor"):
        spikefab.load(model, from_="sinabs", v_min="lowest")

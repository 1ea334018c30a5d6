//! `compare`: one student on every target, a row per target; a target that refuses the model is a
//! row that says why, never a failed table; shards merge to the single run; `energy --compare`
//! behaves the same way; a plan beyond its device says so.

use crate::common;

use common::{root, scratch, spikefab};

fn mlp(extra: &[&str]) -> Vec<String> {
    let r = root();
    let mut v: Vec<String> = vec![
        "compare".into(),
        r.join("models/mlp_bw/mlp_bw.nir").display().to_string(),
        "--from".into(),
        "snntorch".into(),
        "-T".into(),
        "8".into(),
        "--inputs".into(),
        r.join("models/digits_test_x.npy").display().to_string(),
        "--labels".into(),
        r.join("models/digits_test_y.npy").display().to_string(),
        "--samples".into(),
        "60".into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run(args: &[String]) -> (i32, String, String) {
    spikefab(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn a_refusing_target_is_a_row_that_says_why() {
    let targets = "ice40-up5k,ecp5-25k,generic-45nm,loihi2,xylo-imu,xylo-audio3,truenorth,no-such-target";
    let (code, out, err) = run(&mlp(&["--targets", targets, "--json"]));
    assert_eq!(code, 0, "{err}");
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = c["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["target"].as_str().unwrap()).collect();
    assert_eq!(names, targets.split(',').collect::<Vec<_>>(), "one row per target, in order");
    let row = |t: &str| rows.iter().find(|r| r["target"] == t).unwrap();
    // The FPGAs and the chips with a back end run their own exact models on the same inputs.
    for t in ["ice40-up5k", "ecp5-25k", "generic-45nm", "loihi2"] {
        let r = row(t);
        assert_eq!(r["fits"], true, "{t}: {r}");
        assert!(r["accuracy"].as_f64().unwrap() > 0.8, "{t}: {r}");
        assert!(r["agreement"].as_f64().unwrap() > 0.8, "{t}: {r}");
        assert!(r["energy_j"]["value"].as_f64().unwrap() > 0.0, "{t}: {r}");
        assert!(!r["energy_j"]["source"].as_str().unwrap().is_empty(), "{t}: {r}");
    }
    // FPGA latency: cycles over the planned clock, saying so.
    let up5k = row("ice40-up5k");
    assert!(up5k["latency_us"]["source"].as_str().unwrap().contains("planned 12 MHz clock"), "{up5k}");
    assert!(up5k["notes"].to_string().contains("logic unchecked"), "{up5k}");
    // Loihi 2 publishes no step time: no latency, and its cores are counted.
    let l = row("loihi2");
    assert!(l["latency_us"].is_null(), "{l}");
    assert!(l["resources"].to_string().contains("cores"), "{l}");
    // Xylo IMU takes 16 input channels: the student's 64 are refused, with the figure.
    let x = row("xylo-imu");
    assert_eq!(x["fits"], false, "{x}");
    assert!(x["why_not"].to_string().contains("64"), "{x}");
    // So does Xylo Audio 3.
    let x3 = row("xylo-audio3");
    assert_eq!(x3["fits"], false, "{x3}");
    assert!(x3["why_not"].to_string().contains("64 input channels; xylo-audio3 has 16"), "{x3}");
    // TrueNorth has no back end: its generic mapping decides the fit.
    let tn = row("truenorth");
    assert_eq!(tn["fits"], true, "{tn}");
    assert!(tn["notes"].to_string().contains("no chip model"), "{tn}");
    assert_eq!(row("no-such-target")["fits"], false);
    assert!(row("no-such-target")["why_not"].to_string().contains("unknown target"));
    // Text and the HTML report with its charts.
    let html = scratch("compare-report").join("compare.html");
    let (code, text, err) = run(&mlp(&["--targets", "ice40-up5k,xylo-imu,loihi2", "--report", html.to_str().unwrap()]));
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("xylo-imu") && text.contains("does not fit"), "{text}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("Accuracy against energy"), "the report draws the charts");
}

/// The compare report reads at a glance: the charts come before the table, every fitting
/// target's point carries its name, the legend is whole, an energy axis spanning decades is
/// logarithmic, and each row's notes are folded under it; Chromium renders it.
#[test]
fn compare_report_labels_its_points_and_folds_the_notes() {
    let html = scratch("compare-report-glance").join("compare.html");
    let targets = "ice40-up5k,ecp5-85k,generic-45nm,loihi2,truenorth,xylo-imu";
    let (code, _, err) = run(&mlp(&["--targets", targets, "--report", html.to_str().unwrap()]));
    assert_eq!(code, 0, "{err}");
    let page = std::fs::read_to_string(&html).unwrap();
    let chart = page.find("<svg").expect("a chart");
    assert!(chart < page.find("<table").expect("the table"), "charts first");
    let svg = &page[chart..page.rfind("</svg>").unwrap()];
    for t in ["ice40-up5k", "ecp5-85k", "generic-45nm", "loihi2", "truenorth"] {
        assert!(svg.contains(&format!(">{t}</text>")), "the point of {t} carries its name");
    }
    assert!(!svg.contains(">xylo-imu</text>"), "a target that does not fit has no point");
    for legend in [">fpga</text>", ">asic</text>", ">neuromorphic</text>"] {
        assert!(svg.contains(legend), "legend entry {legend}");
    }
    assert!(svg.contains("nJ per inference (log scale)"), "the energy axis spans decades: logarithmic");
    assert!(page.matches("<details>").count() >= 5, "each row's notes fold under it");
    if !common::tool_or_skip("chromium", "compare_report_labels_its_points_and_folds_the_notes") {
        return;
    }
    let url = format!("file://{}", html.canonicalize().unwrap().display());
    let headless = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"];
    let dom = std::process::Command::new("chromium").args(headless).arg("--dump-dom").arg(&url).output().unwrap();
    assert!(dom.status.success(), "chromium --dump-dom: {}", String::from_utf8_lossy(&dom.stderr));
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains(">neuromorphic</text>") && dom.contains(">truenorth</text>"), "the browser keeps the labels");
    let png = html.with_extension("png");
    let shot = std::process::Command::new("chromium")
        .args(headless)
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,1000")
        .arg(&url)
        .output()
        .unwrap();
    assert!(shot.status.success(), "chromium --screenshot: {}", String::from_utf8_lossy(&shot.stderr));
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 30_000, "a screenshot of {} bytes looks blank", bytes.len());
}

#[test]
fn no_target_fitting_is_exit_1() {
    let (code, out, err) = run(&mlp(&["--targets", "xylo-imu,xylo-audio2,xylo-audio3"]));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("no target fits"), "{err}");
}

#[test]
fn compare_shards_merge_to_the_single_run() {
    let dir = scratch("compare-shards");
    let targets = ["--targets", "ice40-up5k,generic-45nm,xylo-imu,truenorth,loihi2"];
    let (code, single, err) = run(&mlp(&[&targets[..], &["--json"]].concat()));
    assert_eq!(code, 0, "{err}");
    let mut parts = vec![];
    for i in 0..2 {
        let spec = format!("{i}/2");
        let (code, out, err) = run(&mlp(&[&targets[..], &["--shard", &spec]].concat()));
        assert_eq!(code, 0, "{err}");
        assert!(!out.trim().is_empty());
        let p = dir.join(format!("part{i}.json"));
        std::fs::write(&p, out).unwrap();
        parts.push(p.display().to_string());
    }
    let (code, merged, err) = spikefab(&["merge", &parts[1], &parts[0], "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(single, merged);
}

#[test]
fn energy_compare_lists_a_refusing_target() {
    let r = root();
    let (code, out, err) = spikefab(&[
        "energy",
        r.join("models/mlp_bw/mlp_bw.nir").to_str().unwrap(),
        "--from",
        "snntorch",
        "-T",
        "8",
        "--inputs",
        r.join("models/digits_test_x.npy").to_str().unwrap(),
        "--samples",
        "20",
        "--compare",
        "loihi2,xylo-imu,truenorth",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let compared: Vec<&str> = v["compare"].as_array().unwrap().iter().map(|e| e["target"].as_str().unwrap()).collect();
    assert_eq!(compared, ["loihi2", "truenorth"]);
    assert_eq!(v["refused"][0]["target"], "xylo-imu");
    assert!(v["refused"][0]["why"].as_str().unwrap().contains("64"), "{}", v["refused"]);
}

/// A plan whose memories exceed its device (conv_bw pipelined at 16 lanes: 99 block RAMs on the
/// UP5K's 30) is a row that does not fit, with the figures, and `plan` warns with them, its
/// input range calibrated by `--calib` alone; the ECP5-85F holds the same plan.
#[test]
fn a_plan_beyond_its_device_does_not_fit() {
    let r = root();
    let model = r.join("models/conv_bw/conv_bw.nir");
    let x = r.join("models/digits_test_x.npy");
    let common = ["--dt", "1e-4", "-T", "8", "--schedule", "pipelined", "--lanes", "16"];
    let mut args = vec!["compare", model.to_str().unwrap()];
    args.extend(common);
    args.extend(["--inputs", x.to_str().unwrap(), "--samples", "10", "--targets", "ice40-up5k,ecp5-85k", "--json"]);
    let (code, out, err) = spikefab(&args);
    assert_eq!(code, 0, "{err}");
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (up5k, ecp5) = (&c["rows"][0], &c["rows"][1]);
    assert_eq!(up5k["fits"], false, "{up5k}");
    assert!(up5k["why_not"].to_string().contains("block RAMs, the device has 30"), "{up5k}");
    // Its logic too, as the logic model predicts it (no build to judge it); the ECP5's fits.
    assert!(up5k["why_not"].to_string().contains("the logic model predicts"), "{up5k}");
    assert_eq!(ecp5["fits"], true, "{ecp5}");
    let mut args = vec!["plan", model.to_str().unwrap()];
    args.extend(common);
    args.extend(["--target", "ice40-up5k", "--calib", x.to_str().unwrap()]);
    let (code, out, err) = spikefab(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("warning: the plan does not fit the ice40-up5k: its memories need"), "{out}");
}

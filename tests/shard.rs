//! `--shard I/N` and `spikefab merge`: N shards run one by one here, merged, print exactly
//! what one run prints (explore and bench: apart from their wall times).

use crate::common;

use common::{root, scratch, spikefab};

fn model_args(model: &str, t: &str) -> Vec<String> {
    let r = root();
    vec![r.join(model).display().to_string(), "--from".into(), "snntorch".into(), "-T".into(), t.into()]
}

fn data(name: &str) -> String {
    root().join("models").join(name).display().to_string()
}

/// Runs `args` once, then as `shards` shards saved under `dir`, and merges them (text and
/// JSON); returns (single text, merged text, single JSON, merged JSON).
fn single_and_merged(dir: &std::path::Path, args: &[String], shards: usize) -> (String, String, String, String) {
    // Every run must succeed and print something: a test that ignored failing runs would pass
    // on two empty outputs.
    let run = |a: &[&str]| {
        let (code, out, err) = spikefab(a);
        assert_eq!(code, 0, "{a:?}: {err}");
        assert!(!out.trim().is_empty(), "{a:?} printed nothing: {err}");
        out
    };
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let single = run(&a);
    let mut j = a.clone();
    j.push("--json");
    let single_json = run(&j);
    serde_json::from_str::<serde_json::Value>(&single_json).expect("--json prints JSON");
    let mut parts = vec![];
    for i in (0..shards).rev() {
        let spec = format!("{i}/{shards}");
        let mut s = a.clone();
        s.extend(["--shard", &spec]);
        let out = run(&s);
        let p = dir.join(format!("part{i}.json"));
        std::fs::write(&p, out).unwrap();
        parts.push(p.display().to_string());
    }
    let mut m: Vec<&str> = vec!["merge"];
    m.extend(parts.iter().map(String::as_str));
    let merged = run(&m);
    m.push("--json");
    let merged_json = run(&m);
    (single, merged, single_json, merged_json)
}

#[test]
fn verify_shards_merge_to_the_single_run_byte_for_byte() {
    let dir = scratch("shard-verify");
    let mut args = vec!["verify".to_string()];
    args.extend(model_args("models/mlp_bw/mlp_bw.nir", "8"));
    args.extend(["--inputs".into(), data("digits_test_x.npy"), "--labels".into(), data("digits_test_y.npy")]);
    args.push("--early-exit".into());
    let (single, merged, single_json, merged_json) = single_and_merged(&dir, &args, 3);
    assert!(single.contains("class agreement: 1.0000") && single.contains("early exit:"), "{single}");
    assert_eq!(single, merged);
    assert_eq!(single_json, merged_json);
}

#[test]
fn explore_shards_merge_to_the_single_run() {
    let dir = scratch("shard-explore");
    let mut args = vec!["explore".to_string()];
    args.extend(model_args("models/ensemble_bw/ensemble_bw.nir", "3"));
    args.extend(["--calib".into(), data("digits_test_x.npy"), "--labels".into(), data("digits_test_y.npy")]);
    args.extend(["--lanes-sweep".into(), "1,4".into(), "--all".into()]);
    let (single, merged, single_json, merged_json) = single_and_merged(&dir, &args, 3);
    // Wall time is the one figure that differs: the merged run reports the shards' sum.
    let untimed = |s: &str| {
        let (head, rest) = s.split_once(" s; ranked").expect("timed header");
        format!("{} s; ranked{rest}", head.rsplit_once(" in ").unwrap().0)
    };
    assert_eq!(untimed(&single), untimed(&merged));
    let untimed_json = |s: &str| {
        let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
        v["seconds"] = serde_json::json!(0);
        serde_json::to_string_pretty(&v).unwrap()
    };
    assert_eq!(untimed_json(&single_json), untimed_json(&merged_json));
    let v: serde_json::Value = serde_json::from_str(&merged_json).unwrap();
    assert!(v["exploration"]["configurations"].as_array().unwrap().len() > 20);
}

#[test]
fn bench_shards_merge_their_counts() {
    let dir = scratch("shard-bench");
    let mut args = vec!["bench".to_string()];
    args.extend(model_args("models/mlp_bw/mlp_bw.nir", "8"));
    args.extend(["--inputs".into(), data("digits_test_x.npy"), "--repeat".into(), "1".into()]);
    let (_, merged, single_json, merged_json) = single_and_merged(&dir, &args, 2);
    assert!(merged.contains("450 samples, T = 8"), "{merged}");
    let (a, b): (serde_json::Value, serde_json::Value) =
        (serde_json::from_str(&single_json).unwrap(), serde_json::from_str(&merged_json).unwrap());
    for k in ["model", "samples", "timesteps", "threads"] {
        assert_eq!(a[k], b[k], "{k}");
    }
    for k in ["synaptic_events_per_sample", "cycles_per_inference_mean"] {
        assert_eq!(a["cycle_engine"][k], b["cycle_engine"][k], "{k}");
    }
}

#[test]
fn bad_shards_and_parts_are_input_errors() {
    let dir = scratch("shard-bad");
    let mut base: Vec<String> = vec!["verify".into()];
    base.extend(model_args("models/mlp_bw/mlp_bw.nir", "8"));
    base.extend(["--inputs".into(), data("digits_test_x.npy"), "--samples".into(), "4".into()]);
    for (spec, want) in [
        ("3/3", "not below the shard count 3"),
        ("x/3", "is not a shard index"),
        ("1/0", "shard count must be"),
        ("5", "expected I/N"),
        ("0/5", "5 shards for 4 samples"),
    ] {
        let mut a: Vec<&str> = base.iter().map(String::as_str).collect();
        a.extend(["--shard", spec]);
        let (code, _, err) = spikefab(&a);
        assert_eq!(code, 2, "{spec}: {err}");
        assert!(err.contains(want), "{spec}: {err}");
    }
    let mut a: Vec<&str> = base.iter().map(String::as_str).collect();
    a.extend(["--shard", "0/2"]);
    let (code, part, err) = spikefab(&a);
    assert_eq!(code, 0, "{err}");
    let p0 = dir.join("p0.json");
    std::fs::write(&p0, &part).unwrap();
    let p0 = p0.display().to_string();
    let (code, _, err) = spikefab(&["merge", &p0]);
    assert_eq!(code, 2);
    assert!(err.contains("shard 1/2 is missing"), "{err}");
    let (code, _, err) = spikefab(&["merge", &p0, &p0]);
    assert_eq!(code, 2);
    assert!(err.contains("twice"), "{err}");
    // Every missing index is named: they are the tasks to rerun.
    let mut four = vec![];
    for i in [0, 3] {
        let spec = format!("{i}/4");
        let mut a: Vec<&str> = base.iter().map(String::as_str).collect();
        a.extend(["--shard", &spec]);
        let (code, part, err) = spikefab(&a);
        assert_eq!(code, 0, "{err}");
        let p = dir.join(format!("q{i}.json"));
        std::fs::write(&p, &part).unwrap();
        four.push(p.display().to_string());
    }
    let (code, _, err) = spikefab(&["merge", &four[1], &four[0]]);
    assert_eq!(code, 2);
    assert!(err.contains("shard 1/4 is missing; shard 2/4 is missing"), "{err}");
    let junk = dir.join("junk.json");
    std::fs::write(&junk, "{\"spikefab_partial\": 1, \"command\": \"verify\"}").unwrap();
    let (code, _, err) = spikefab(&["merge", &junk.display().to_string()]);
    assert_eq!(code, 2);
    assert!(err.contains("malformed partial result"), "{err}");
    std::fs::write(&junk, "not json").unwrap();
    let (code, _, err) = spikefab(&["merge", &junk.display().to_string()]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid JSON"), "{err}");
}

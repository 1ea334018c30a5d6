//! docs/deploy/spikefab-sweep.yaml against the Kubernetes API schema, with the real validator
//! `kubernetes-validate` (PyPI; offline, its schemas bundled) that SPIKEFAB_KUBE_VALIDATE names.
//! No cluster runs it here: this checks the manifest, not the Jobs. Skips outside CI without the
//! validator; never in CI.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{root, scratch};

const MANIFEST: &str = "docs/deploy/spikefab-sweep.yaml";

/// The Kubernetes versions checked: the first with `backoffLimitPerIndex` generally available,
/// and the newest the validator bundles.
const VERSIONS: [&str; 2] = ["1.33.0", "1.37.0"];

fn validator(test: &str) -> Option<String> {
    let found = match std::env::var("SPIKEFAB_KUBE_VALIDATE") {
        Ok(v) if Path::new(&v).is_file() => Ok(v),
        _ => Err("SPIKEFAB_KUBE_VALIDATE names no kubernetes-validate (pip install kubernetes-validate)".to_string()),
    };
    common::require(found, test)
}

/// (passed, output) of `kubernetes-validate --strict` (unknown fields are errors) on `file`.
fn validate(tool: &str, version: &str, file: &Path) -> (bool, String) {
    let out = Command::new(tool).args(["--strict", "--kubernetes-version", version]).arg(file).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn indexed_job_manifest_passes_the_kubernetes_schema() {
    let Some(tool) = validator("indexed_job_manifest_passes_the_kubernetes_schema") else { return };
    let manifest = root().join(MANIFEST);
    for v in VERSIONS {
        let (ok, out) = validate(&tool, v, &manifest);
        assert!(ok, "{MANIFEST} against Kubernetes {v}:\n{out}");
        for job in ["job/spikefab-shards", "job/spikefab-merge"] {
            assert!(out.contains(&format!("passed for resource {job}")), "{v}: {job} not validated:\n{out}");
        }
    }
    // The validator rejects what the API server would: a misspelt field, a string count.
    let text = std::fs::read_to_string(&manifest).unwrap();
    let dir = scratch("kubernetes");
    for (from, to, why) in [
        ("backoffLimitPerIndex:", "backofLimitPerIndex:", "was unexpected"),
        ("completions: 8", "completions: eight", "is not of type"),
    ] {
        assert!(text.contains(from), "{MANIFEST} has no {from}");
        let bad = dir.join("bad.yaml");
        std::fs::write(&bad, text.replacen(from, to, 1)).unwrap();
        let (ok, out) = validate(&tool, VERSIONS[1], &bad);
        assert!(!ok && out.contains(why), "{to}: {out}");
    }
}

#[test]
fn manifest_shard_counts_agree() {
    // N appears as completions and parallelism of the Indexed Job and as SHARDS in both Jobs.
    let text = std::fs::read_to_string(root().join(MANIFEST)).unwrap();
    let n = text.lines().find_map(|l| l.trim().strip_prefix("completions: ")).expect("completions");
    let n = n.split_whitespace().next().unwrap();
    assert!(text.contains(&format!("parallelism: {n}")), "parallelism is not {n}");
    assert_eq!(text.matches(&format!("value: \"{n}\"")).count(), 2, "SHARDS is not {n} in both Jobs");
    assert!(text.contains("completionMode: Indexed"));
}

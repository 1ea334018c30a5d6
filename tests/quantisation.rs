//! Input quantisation as a user meets it: calibration inputs choose the input scale.

use crate::common;

use common::{root, scratch, spikefab};

/// Inputs on an exact grid (k/16, as digits pixels often are) are quantised with that grid,
/// not 1/255: the plan and its agreement equal those with --input-scale 0.0625.
#[test]
fn inputs_on_a_grid_are_quantised_exactly() {
    let dir = scratch("newcomer-grid");
    // The digits inputs are integers 0..16; as floats k/16 they lie on a 1/16 grid.
    let a = spikefab::data::read_npy(&root().join("models/digits_test_x.npy")).unwrap();
    let x: Vec<f32> = a.data.iter().map(|&v| (v / 16.0) as f32).collect();
    let path = dir.join("x16.npy");
    {
        use npyz::WriterBuilder;
        let f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let shape: Vec<u64> = a.shape.iter().map(|&d| d as u64).collect();
        let mut w = npyz::WriteOptions::<f32>::new().default_dtype().shape(&shape).writer(f).begin_nd().unwrap();
        w.extend(x.iter().copied()).unwrap();
        w.finish().unwrap();
    }
    let plan = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["plan", "models/conv_bw/conv_bw.nir", "--dt", "1e-4", "-T", "8", "--json"];
        args.extend(["--inputs", path.to_str().unwrap()]);
        args.extend(extra);
        let (code, out, err) = spikefab(&args);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let auto = plan(&[]);
    assert_eq!(auto["input"]["scale"].as_f64(), Some(0.0625), "{}", auto["input"]);
    assert_eq!(auto["input"]["bits"].as_u64(), Some(5), "{}", auto["input"]);
    let given = plan(&["--input-scale", "0.0625", "--input-bits", "5"]);
    assert_eq!(auto["layers"], given["layers"]);
    let agreement = |extra: &[&str]| -> f64 {
        let mut args = vec!["verify", "models/conv_bw/conv_bw.nir", "--dt", "1e-4", "-T", "8", "--json"];
        args.extend(["--inputs", path.to_str().unwrap(), "--min-agreement", "0"]);
        args.extend(extra);
        let (code, out, err) = spikefab(&args);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["class_agreement"].as_f64().unwrap()
    };
    // The same agreement as the exact scale given by hand, and no worse than the old 1/255.
    let auto = agreement(&[]);
    assert_eq!(auto, agreement(&["--input-scale", "0.0625", "--input-bits", "5"]));
    assert!(auto >= agreement(&["--input-scale", "0.00392156862745098"]), "{auto}");
}

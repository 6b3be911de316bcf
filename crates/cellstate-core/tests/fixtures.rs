//! Parity with PyTorch: every `lstm` case in `../shared/fixtures/torch-lstm/` (float64 references made by
//! `torch.nn.LSTM`), forward outputs and every gradient, within `atol + rtol·|ref|`.

use cellstate_core::{BackwardInput, Batch, ForwardInput, Lstm, LstmConfig, Model, ModelConfig};
use serde_json::Value;
use std::path::PathBuf;

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("CELLSTATE_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/torch-lstm")
        }
    }
}

fn tensor(v: &Value) -> Vec<f32> {
    v["data"]
        .as_array()
        .expect("tensor data")
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// Compares with `|a − b| ≤ atol + rtol·|ref|`; on failure names the worst index and shows values.
fn assert_close(what: &str, got: &[f32], want: &[f32], rtol: f32, atol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = (0usize, 0f32);
    let mut bad = None;
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        let err = (a - b).abs();
        if err > worst.1 {
            worst = (i, err);
        }
        if err > atol + rtol * b.abs() && bad.is_none() {
            bad = Some(i);
        }
    }
    if let Some(i) = bad {
        let lo = i.saturating_sub(2);
        let hi = (i + 3).min(got.len());
        panic!(
            "{what}: first bad index {i}: got {} want {}; max |err| {} at {}; got[{lo}..{hi}] = {:?}, want = {:?}",
            got[i], want[i], worst.1, worst.0, &got[lo..hi], &want[lo..hi]
        );
    }
}

#[test]
fn lstm_cases_match_pytorch() {
    let dir = fixtures_dir();
    let mut cases = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixtures not found at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    for path in entries {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if case["kind"] != "lstm" {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let cfg = &case["config"];
        let get = |k: &str| cfg[k].as_u64().unwrap() as usize;
        let config = LstmConfig {
            input_size: get("inputSize"),
            hidden_size: get("hiddenSize"),
            num_layers: get("numLayers"),
            bidirectional: cfg["bidirectional"].as_bool().unwrap(),
        };
        let (b, t) = (get("batch"), get("seqLen"));
        // PyTorch's float32 agrees with its float64 to ~1e-6 here; long sequences accumulate more.
        let rtol = if name == "long-sequence" { 1e-3 } else { 1e-4 };
        let atol = 1e-6;
        let mut lstm = Lstm::new(config, 0).unwrap();
        let table = lstm.param_table().to_vec();
        for e in &table {
            let src = tensor(&case["params"][&e.name]);
            lstm.params_mut()[e.offset..e.offset + e.len()].copy_from_slice(&src);
        }
        let x = tensor(&case["inputs"]["x"]);
        let h0 = case["inputs"].get("h0").map(tensor);
        let c0 = case["inputs"].get("c0").map(tensor);
        let lengths: Option<Vec<u32>> = cfg["lengths"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_u64().unwrap() as u32).collect());
        lstm.forward(&ForwardInput {
            x: &x,
            batch: b,
            steps: t,
            batch_first: true,
            h0: h0.as_deref(),
            c0: c0.as_deref(),
            lengths: lengths.as_deref(),
            tokens: None,
        })
        .unwrap();
        let mut out = vec![0.0; lstm.layer().output_len()];
        lstm.layer().read_output(&mut out).unwrap();
        let o = &case["outputs"];
        assert_close(
            &format!("{name} output"),
            &out,
            &tensor(&o["output"]),
            rtol,
            atol,
        );
        assert_close(
            &format!("{name} h_n"),
            lstm.layer().h_n(),
            &tensor(&o["h_n"]),
            rtol,
            atol,
        );
        assert_close(
            &format!("{name} c_n"),
            lstm.layer().c_n(),
            &tensor(&o["c_n"]),
            rtol,
            atol,
        );

        let u = &case["upstream"];
        let (gy, gh, gc) = (tensor(&u["output"]), tensor(&u["h_n"]), tensor(&u["c_n"]));
        lstm.zero_grad();
        lstm.backward(&BackwardInput {
            d_output: Some(&gy),
            d_h_n: Some(&gh),
            d_c_n: Some(&gc),
        })
        .unwrap();
        let g = &case["grads"];
        let mut dx = vec![0.0; x.len()];
        lstm.layer().read_d_x(&mut dx).unwrap();
        assert_close(&format!("{name} dx"), &dx, &tensor(&g["x"]), rtol, atol);
        if let Some(v) = g.get("h0") {
            assert_close(
                &format!("{name} dh0"),
                lstm.layer().d_h0(),
                &tensor(v),
                rtol,
                atol,
            );
            assert_close(
                &format!("{name} dc0"),
                lstm.layer().d_c0(),
                &tensor(&g["c0"]),
                rtol,
                atol,
            );
        }
        for e in &table {
            let got = &lstm.grads()[e.offset..e.offset + e.len()];
            assert_close(
                &format!("{name} d{}", e.name),
                got,
                &tensor(&g[&e.name]),
                rtol,
                atol,
            );
        }
        cases += 1;
    }
    // The fixture set has eight `lstm` cases (README of ../shared/fixtures/torch-lstm).
    assert_eq!(cases, 8, "expected 8 lstm fixture cases");
}

#[test]
fn sentiment_cases_match_pytorch() {
    let dir = fixtures_dir();
    let mut cases = 0;
    for name in ["seed-sentiment-onehot", "sentiment-embedding-packed"] {
        let case: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let cfg = &case["config"];
        let get = |k: &str| cfg[k].as_u64().unwrap() as usize;
        let input = if cfg["input"] == "one-hot" {
            format!(r#"{{"kind":"one-hot","vocabSize":{}}}"#, get("vocabSize"))
        } else {
            format!(
                r#"{{"kind":"embedding","vocabSize":{},"dim":{},"paddingIdx":0}}"#,
                get("vocabSize"),
                get("embeddingDim")
            )
        };
        let json = format!(
            r#"{{"input":{input},"lstm":{{"hiddenSize":{}}},"pooling":"last","units":1,"loss":"bce"}}"#,
            get("hiddenSize")
        );
        let mut model = Model::new(ModelConfig::from_json(&json).unwrap()).unwrap();
        let mut flat = model.params().to_vec();
        for e in model.param_table() {
            flat[e.offset..e.offset + e.len()].copy_from_slice(&tensor(&case["params"][&e.name]));
        }
        model.set_params(&flat).unwrap();
        let tokens: Vec<i32> = tensor(&case["inputs"]["tokens"])
            .iter()
            .map(|&v| v as i32)
            .collect();
        let labels = tensor(&case["inputs"]["labels"]);
        let lengths: Option<Vec<u32>> = cfg["lengths"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_u64().unwrap() as u32).collect());
        let batch = Batch {
            tokens: Some(&tokens),
            batch: get("batch"),
            steps: get("seqLen"),
            lengths: lengths.as_deref(),
            targets: Some(&labels),
            ..Default::default()
        };
        let stats = model.forward_backward(&batch).unwrap();
        let (rtol, atol) = (1e-4, 1e-6);
        assert_close(
            &format!("{name} logits"),
            &model.logits(),
            &tensor(&case["outputs"]["logits"]),
            rtol,
            atol,
        );
        let want = case["outputs"]["loss"].as_f64().unwrap();
        assert!(
            (stats.loss - want).abs() <= 1e-5 * want.abs(),
            "{name} loss {} vs {want}",
            stats.loss
        );
        for e in model.param_table() {
            let got = &model.grads()[e.offset..e.offset + e.len()];
            assert_close(
                &format!("{name} d{}", e.name),
                got,
                &tensor(&case["grads"][&e.name]),
                rtol,
                atol,
            );
        }
        cases += 1;
    }
    assert_eq!(cases, 2);
}

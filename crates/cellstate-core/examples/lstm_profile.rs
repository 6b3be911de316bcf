//! Times the benchmark tiers (seed, medium, large) in the core alone, for `perf record` and quick
//! side-by-side comparisons: `cargo run -p cellstate-core --release --example lstm_profile -- [tier]
//! [mode] [threads] [seconds]` (tier: seed|medium|large|all, or `B,T,F,H` for a dense shape of one's
//! own; mode: train|infer|both). Prints the median samples/s of the repeats; it measures, it asserts
//! nothing.

use cellstate_core::kernels;
use cellstate_core::{Batch, ForwardInput, Lstm, LstmConfig, Model, ModelConfig};
use std::time::Instant;

/// (name, B, T, F, H, one-hot): bench/lib/configs.mjs's tiers.
const TIERS: [(&str, usize, usize, usize, usize, bool); 3] = [
    ("seed", 64, 100, 300, 16, true),
    ("medium", 64, 100, 128, 128, false),
    ("large", 32, 200, 256, 512, false),
];

fn median_rate(seconds: f64, samples: usize, mut step: impl FnMut()) -> f64 {
    step();
    let mut rates = Vec::new();
    let start = Instant::now();
    while rates.len() < 3 || start.elapsed().as_secs_f64() < seconds {
        let s = Instant::now();
        step();
        rates.push(samples as f64 / s.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let tier = args.get(1).map_or("all", String::as_str);
    let mode = args.get(2).map_or("both", String::as_str);
    let threads: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let seconds: f64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    kernels::set_threads(threads).unwrap();
    let custom: Vec<usize> = tier.split(',').filter_map(|s| s.parse().ok()).collect();
    let tiers: Vec<_> = match custom[..] {
        [b, t, f, h] => vec![("custom", b, t, f, h, false)],
        _ => TIERS
            .into_iter()
            .filter(|&(name, ..)| tier == "all" || tier == name)
            .collect(),
    };
    for (name, b, t, f, h, one_hot) in tiers {
        let x: Vec<f32> = (0..b * t * f)
            .map(|i| ((i * 7919) % 2003) as f32 / 1001.5 - 1.0)
            .collect();
        let ids: Vec<i32> = (0..b * t).map(|i| ((i * 7919) % f) as i32).collect();
        let y: Vec<f32> = (0..b).map(|i| (i % 2) as f32).collect();
        if mode != "infer" {
            let input = if one_hot {
                format!(r#"{{"kind":"one-hot","vocabSize":{f}}}"#)
            } else {
                format!(r#"{{"kind":"dense","features":{f}}}"#)
            };
            let json = format!(
                r#"{{"input":{input},"lstm":{{"hiddenSize":{h}}},"units":1,"loss":"bce","seed":1}}"#
            );
            let mut model = Model::new(ModelConfig::from_json(&json).unwrap()).unwrap();
            let batch = Batch {
                tokens: one_hot.then_some(&ids[..]),
                x: (!one_hot).then_some(&x[..]),
                batch: b,
                steps: t,
                lengths: None,
                targets: Some(&y),
            };
            let rate = median_rate(seconds, b, || {
                model.train_batch(&batch).unwrap();
            });
            println!(
                "{name:<7} train {threads}t {:<9} {rate:10.1} samples/s",
                kernels::active().name()
            );
        }
        if mode != "train" {
            let config = LstmConfig {
                input_size: f,
                hidden_size: h,
                num_layers: 1,
                bidirectional: false,
            };
            let mut lstm = Lstm::<f32>::new(config, 1).unwrap();
            let input = ForwardInput {
                x: &x,
                batch: b,
                steps: t,
                batch_first: true,
                ..Default::default()
            };
            // The inference forward (no caches), as the benchmark's infer rows (`forward(x, { grad: false })`).
            let rate = median_rate(seconds, b, || lstm.forward_inference(&input).unwrap());
            let gflops = 2.0 * (t * 4 * h * (f + h)) as f64 * rate / 1e9;
            println!(
                "{name:<7} infer {threads}t {:<9} {rate:10.1} samples/s {gflops:6.1} GFLOP/s",
                kernels::active().name()
            );
        }
    }
}

//! Whole-model throughput of the bench tiers (bench/lib/configs.mjs) in the core, without Node: the
//! training step (`train_batch`: LSTM, Dense(1) head on h_n, BCE, backward, Adam) and the LSTM's
//! inference forward, at 1 thread and at every core. Run with
//! `cargo test -p cellstate-core --release --lib model::bench -- --ignored --nocapture`;
//! `CELLSTATE_BENCH_TIERS=medium,large` picks tiers, `CELLSTATE_BENCH_THREADS=1,2` thread counts,
//! `CELLSTATE_BENCH_SAMPLES` the samples per median, `CELLSTATE_BENCH_MODES=train,infer` the passes.
//! Ignored by default: it measures, it does not
//! assert speed (STYLE rule 13); the result is checked across thread counts before it is timed.

use super::{Batch, Model, ModelConfig};
use crate::kernels;
use crate::lstm::ForwardInput;
use std::time::Instant;

/// (tier, B, T, F, H), dense input as the benchmark feeds every peer.
const TIERS: [(&str, usize, usize, usize, usize); 3] = [
    ("seed", 64, 100, 300, 16),
    ("medium", 64, 100, 128, 128),
    ("large", 32, 200, 256, 512),
];

fn env_list(name: &str) -> Option<Vec<String>> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
}

/// Deterministic inputs in [-1, 1).
fn fill(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919 + seed * 104729) % 2003) as f32 / 1001.5 - 1.0)
        .collect()
}

/// CPU time of the calling thread in seconds (`/proc/thread-self/schedstat`, first field: ns on a
/// CPU), or 0 where it cannot be read. On a shared machine it measures one thread's work without the
/// time other processes held the core: the 1-thread comparisons use it beside the wall time.
fn thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns * 1e-9)
}

/// Median of `v` (sorted in place).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Wall-time median, min and max, and the median CPU time of the calling thread, in seconds per
/// call, of `samples` samples after two warm-up calls. Each sample repeats the call for at least
/// 100 ms: the CPU time advances in scheduler ticks (4 ms here), longer than one seed-tier call.
fn time(samples: usize, mut f: impl FnMut()) -> (f64, f64, f64, f64) {
    f();
    let start = Instant::now();
    f();
    let calls = ((0.1 / start.elapsed().as_secs_f64().max(1e-9)) as usize).clamp(1, 10_000);
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        let (s, c) = (Instant::now(), thread_cpu());
        for _ in 0..calls {
            f();
        }
        cpu.push((thread_cpu() - c) / calls as f64);
        wall.push(s.elapsed().as_secs_f64() / calls as f64);
    }
    let med = median(&mut wall);
    (med, wall[0], wall[samples - 1], median(&mut cpu))
}

#[test]
#[ignore = "benchmark: run explicitly with --ignored --nocapture"]
fn bench_model() {
    let tiers = env_list("CELLSTATE_BENCH_TIERS");
    let threads: Vec<usize> = env_list("CELLSTATE_BENCH_THREADS")
        .map(|v| v.iter().map(|s| s.parse().unwrap()).collect())
        .unwrap_or_else(|| vec![1, kernels::threads()]);
    let samples: usize = std::env::var("CELLSTATE_BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let modes =
        env_list("CELLSTATE_BENCH_MODES").unwrap_or_else(|| vec!["train".into(), "infer".into()]);
    println!(
        "kernels {}, {samples} samples, median [min, max] samples/s",
        kernels::active().name()
    );
    for (tier, b, t, f, h) in TIERS {
        if tiers.as_ref().is_some_and(|l| !l.iter().any(|n| n == tier)) {
            continue;
        }
        let x = fill(b * t * f, 1);
        let y: Vec<f32> = (0..b).map(|j| (j % 2) as f32).collect();
        let json = format!(
            r#"{{"input":{{"kind":"dense","features":{f}}},"lstm":{{"hiddenSize":{h}}},"units":1,"loss":"bce","seed":1}}"#
        );
        let batch = Batch {
            x: Some(&x),
            batch: b,
            steps: t,
            targets: Some(&y),
            ..Default::default()
        };
        for mode in &modes {
            let mut reference: Option<Vec<u32>> = None;
            for &n in &threads {
                kernels::set_threads(n).unwrap();
                let mut model = Model::new(ModelConfig::from_json(&json).unwrap()).unwrap();
                // The result must not depend on the thread count (bitwise).
                let bits: Vec<u32> = if mode == "train" {
                    model.forward_backward(&batch).unwrap();
                    model.grads().iter().map(|v| v.to_bits()).collect()
                } else {
                    let p = model.params()[model.lstm_range.clone()].to_vec();
                    let input = ForwardInput {
                        x: &x,
                        batch: b,
                        steps: t,
                        batch_first: true,
                        ..Default::default()
                    };
                    model.lstm.sequence_forward_inference(&p, &input).unwrap();
                    model.lstm.h_n().iter().map(|v| v.to_bits()).collect()
                };
                match &reference {
                    None => reference = Some(bits),
                    Some(r) => assert!(r == &bits, "{tier} {mode}: {n} threads changed bits"),
                }
                let (med, lo, hi, cpu) = if mode == "train" {
                    time(samples, || {
                        model.train_batch(&batch).unwrap();
                    })
                } else {
                    let p = model.params()[model.lstm_range.clone()].to_vec();
                    let input = ForwardInput {
                        x: &x,
                        batch: b,
                        steps: t,
                        batch_first: true,
                        ..Default::default()
                    };
                    time(samples, || {
                        model.lstm.sequence_forward_inference(&p, &input).unwrap()
                    })
                };
                let s = b as f64;
                println!(
                    "{tier:<6} {mode:<5} {n}t {:9.1} [{:.1}, {:.1}]  calling thread's CPU time: {:.1}",
                    s / med,
                    s / hi,
                    s / lo,
                    s / cpu
                );
            }
        }
    }
}

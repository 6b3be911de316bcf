//! GEMM and activation throughput of every available set on the shapes the LSTM issues; run with
//! `cargo test -p cellstate-core --release --lib kernels::bench -- --ignored --nocapture`.
//! Ignored by default: it measures, it does not assert speed (STYLE rule 13).

use super::*;
use std::time::Instant;

/// (tier, ta, tb, m, n, k): the sentiment config (B = 64, H = 16, G = 64, F = 300) and the large
/// one (B = 32, H = 512, G = 2048, F = 256 in bench/lib/configs.mjs, 512 in the older rows), forward
/// step, hoisted input product (whole, and one batch row's as the inference forward runs it) and
/// backward products (dh = dG·W is NN, dW = dGᵀ·X is TN).
const SHAPES: [(&str, Trans, Trans, usize, usize, usize); 12] = [
    ("sentiment step h·Whhᵀ", Trans::N, Trans::T, 64, 64, 16),
    ("sentiment step dG·Whh", Trans::N, Trans::N, 64, 16, 64),
    ("sentiment x·Wihᵀ", Trans::N, Trans::T, 64, 64, 300),
    ("sentiment dWih = dGᵀ·X", Trans::T, Trans::N, 64, 300, 3200),
    ("mid (T·B)·Wᵀ", Trans::N, Trans::T, 6400, 512, 128),
    ("medium dWhh = dGᵀ·H", Trans::T, Trans::N, 512, 128, 6400),
    ("large step h·Whhᵀ", Trans::N, Trans::T, 32, 2048, 512),
    ("large (T·B)·Wihᵀ", Trans::N, Trans::T, 6400, 2048, 256),
    ("large row x_j·Wihᵀ", Trans::N, Trans::T, 200, 2048, 256),
    ("large step dG·Whh", Trans::N, Trans::N, 32, 512, 2048),
    ("large dWhh = dGᵀ·H", Trans::T, Trans::N, 2048, 512, 1600),
    ("large dX = dG·Wih", Trans::N, Trans::N, 1600, 512, 2048),
];

/// CPU time of the calling thread in seconds (`/proc/thread-self/schedstat`), 0 where unreadable:
/// on a shared machine it leaves out the time other processes held the core.
fn thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns * 1e-9)
}

/// Median and spread (min, max) in seconds of `samples` timings, and the median CPU time, each
/// averaged over enough calls to last about 100 ms (the CPU time advances in 4 ms ticks).
fn time(samples: usize, mut f: impl FnMut()) -> (f64, f64, f64, f64) {
    let start = Instant::now();
    f(); // warm-up, also sizes the scratch buffers
    let once = start.elapsed().as_secs_f64().max(1e-9);
    let calls = ((0.1 / once) as usize).clamp(1, 100_000);
    let (mut t, mut cpu): (Vec<f64>, Vec<f64>) = (0..samples)
        .map(|_| {
            let (s, c) = (Instant::now(), thread_cpu());
            for _ in 0..calls {
                f();
            }
            (
                s.elapsed().as_secs_f64() / calls as f64,
                (thread_cpu() - c) / calls as f64,
            )
        })
        .unzip();
    t.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    (t[samples / 2], t[0], t[samples - 1], cpu[samples / 2])
}

fn machine() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

#[test]
#[ignore = "benchmark: run explicitly with --ignored --nocapture"]
fn bench_kernels() {
    let samples = 7;
    // The header says 1 thread: products above the size threshold would otherwise split.
    set_threads(1).unwrap();
    // CELLSTATE_BENCH_SETS=avx512 (comma-separated) measures only those sets.
    let sets: Vec<&str> = match std::env::var("CELLSTATE_BENCH_SETS") {
        Ok(v) => available()
            .into_iter()
            .filter(|n| v.split(',').any(|w| w == *n))
            .collect(),
        Err(_) => available(),
    };
    println!(
        "machine: {}, 1 thread, {samples} samples, median [min, max]",
        machine()
    );
    for (tier, ta, tb, m, n, k) in SHAPES {
        let (ar, ac) = if ta == Trans::N { (m, k) } else { (k, m) };
        let (br, bc) = if tb == Trans::N { (k, n) } else { (n, k) };
        // Deterministic inputs in [-1, 1).
        let fill = |len: usize, seed: usize| -> Vec<f32> {
            (0..len)
                .map(|i| ((i * 7919 + seed * 104729) % 2003) as f32 / 1001.5 - 1.0)
                .collect()
        };
        let (a, b) = (fill(ar * ac, 1), fill(br * bc, 2));
        let mut want = vec![0.0; m * n];
        Scalar.gemm(ta, tb, m, n, k, &a, ac, &b, bc, &mut want, n, false);
        let flops = 2.0 * (m * n * k) as f64;
        for &name in &sets {
            let set = by_name(name).unwrap();
            let mut c = vec![f32::NAN; m * n];
            set.gemm(ta, tb, m, n, k, &a, ac, &b, bc, &mut c, n, false);
            let err = c
                .iter()
                .zip(&want)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(err <= 1e-5 * k as f32, "{name} {tier}: max error {err}");
            let (med, lo, hi, cpu) = time(samples, || {
                set.gemm(ta, tb, m, n, k, &a, ac, &b, bc, &mut c, n, false)
            });
            println!(
                "gemm {tier:<24} {ta:?}{tb:?} m={m:<5} n={n:<5} k={k:<5} {name:<9} {:7.2} GFLOP/s [{:.2}, {:.2}] CPU time {:7.2}",
                flops / med / 1e9,
                flops / hi / 1e9,
                flops / lo / 1e9,
                flops / cpu / 1e9
            );
            if tb == Trans::T && k >= 256 {
                // The recurrent product's form: B packed once, reused every call.
                let mut packed = PackedB::new();
                set.pack_b(tb, k, n, &b, bc, &mut packed);
                let (med, _, _, cpu) = time(samples, || {
                    set.gemm_packed_b(ta, m, n, k, &a, ac, &packed, &mut c, n, false)
                });
                println!(
                    "gemm {tier:<24} B packed once            {name:<9} {:7.2} GFLOP/s CPU time {:7.2}",
                    flops / med / 1e9,
                    flops / cpu / 1e9
                );
            }
        }
    }
    let x: Vec<f32> = (0..64 * 64 * 4)
        .map(|i| (i % 4001) as f32 / 100.0 - 20.0)
        .collect();
    for &name in &sets {
        let set = by_name(name).unwrap();
        let acts: [(&str, selftest::Apply); 2] =
            [("sigmoid", |s, y| s.sigmoid(y)), ("tanh", |s, y| s.tanh(y))];
        for (act, f) in acts {
            let mut y = x.clone();
            let (med, _, _, _) = time(samples, || {
                y.copy_from_slice(&x);
                f(set, &mut y)
            });
            println!(
                "{act:<7} {} floats {name:<9} {:7.3} ns/float (copy included)",
                x.len(),
                med * 1e9 / x.len() as f64
            );
        }
    }
}

//! Test helpers for the f64 reference path (STYLE 11): central differences and deterministic data.

use crate::rng::Rng;

/// Step of the central differences: in f64 the truncation error (~h²·f‴) and the rounding error
/// (~1e-16/h) are both far below 1e-8 at this size for the O(1) values used here.
pub(crate) const STEP: f64 = 1e-5;

/// Largest accepted `|analytic − numeric| / max(|analytic|, |numeric|, 1e-3)`. 1e-6 is the brief's
/// f64 budget; a wrong term in a backward pass is off by O(1).
pub(crate) const RTOL: f64 = 1e-6;

/// Uniform values in [-1, 1) from `seed`.
pub(crate) fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.uniform(-1.0, 1.0) as f64).collect()
}

/// `Σ w·x`: a scalar loss whose gradient with respect to `x` is `w`.
pub(crate) fn dot(w: &[f64], x: &[f64]) -> f64 {
    w.iter().zip(x).map(|(a, b)| a * b).sum()
}

/// Checks `analytic[i] ≈ (f(x + h·e_i) − f(x − h·e_i)) / 2h` for every i; `x` is restored after.
pub(crate) fn check_gradient(
    what: &str,
    x: &mut [f64],
    analytic: &[f64],
    mut f: impl FnMut(&[f64]) -> f64,
) {
    assert_eq!(x.len(), analytic.len(), "{what}: gradient length");
    let mut worst = (0.0f64, 0usize);
    for i in 0..x.len() {
        let x0 = x[i];
        x[i] = x0 + STEP;
        let up = f(x);
        x[i] = x0 - STEP;
        let down = f(x);
        x[i] = x0;
        let numeric = (up - down) / (2.0 * STEP);
        let err = (analytic[i] - numeric).abs() / analytic[i].abs().max(numeric.abs()).max(1e-3);
        if err > worst.0 {
            worst = (err, i);
        }
        assert!(
            err <= RTOL,
            "{what}[{i}]: analytic {} vs central difference {numeric} (relative error {err:.2e})",
            analytic[i]
        );
    }
    assert!(worst.0.is_finite(), "{what}: non-finite error");
}

/// `|a − b| ≤ atol + rtol·|b|` elementwise, f32 production against the f64 reference.
pub(crate) fn assert_agrees(what: &str, got: &[f32], reference: &[f64], rtol: f64, atol: f64) {
    assert_eq!(got.len(), reference.len(), "{what}: length");
    for (i, (&a, &b)) in got.iter().zip(reference).enumerate() {
        assert!(
            (a as f64 - b).abs() <= atol + rtol * b.abs(),
            "{what}[{i}]: f32 {a} vs f64 {b}"
        );
    }
}

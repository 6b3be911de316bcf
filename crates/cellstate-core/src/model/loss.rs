//! Losses over the logits and their gradients, and the matching prediction transform: BCE with
//! logits, softmax cross-entropy, MSE (PyTorch's `BCEWithLogitsLoss`, `CrossEntropyLoss`, `MSELoss`,
//! all with mean reduction).
//!
//! Shapes: R logit rows (B, or T·B time-major per step), U units. Targets arrive batch-first: (B, U)
//! or (B) class ids, per step (B, T, U) or (B, T). Per-step rows past a sequence's length are not
//! counted.

use super::config::LossKind;
use super::BatchStats;
use crate::float::{sigmoid, softmax_in_place, softmax_terms, Float};

/// Which logit rows there are and which of them count.
#[derive(Clone, Copy, Debug)]
pub struct LossDims<'a> {
    /// B.
    pub batch: usize,
    /// T.
    pub steps: usize,
    /// U.
    pub units: usize,
    /// Whether there is a row per step (time-major, row r = step r / B, sequence r % B).
    pub per_step: bool,
    /// True lengths, or empty when every step is real.
    pub lengths: &'a [u32],
}

impl LossDims<'_> {
    /// The target row of logit row `r`: batch-first targets, time-major logits.
    fn target_row(&self, r: usize) -> usize {
        if self.per_step {
            (r % self.batch) * self.steps + r / self.batch
        } else {
            r
        }
    }

    /// Whether logit row `r` counts (a real step).
    fn real(&self, r: usize) -> bool {
        !self.per_step
            || self.lengths.is_empty()
            || (r / self.batch) < self.lengths[r % self.batch] as usize
    }
}

/// The mean loss and accuracy counts of logits `z` (R, U) against targets `y`; with `d_z`, also
/// dL/dz (R, U) (zero on rows that do not count).
pub fn loss_forward_backward<T: Float>(
    d_z: Option<&mut Vec<T>>,
    kind: LossKind,
    z: &[T],
    y: &[f32],
    dims: LossDims<'_>,
) -> BatchStats {
    let u = dims.units;
    let rows = z.len() / u;
    let counted = (0..rows).filter(|&r| dims.real(r)).count().max(1);
    let mut stats = BatchStats::default();
    let mut d_z = d_z;
    if let Some(g) = d_z.as_deref_mut() {
        g.clear();
        g.resize(z.len(), T::ZERO);
    }
    let mut total = 0f64;
    match kind {
        LossKind::Bce => {
            let denom = T::from_usize(counted * u);
            for r in (0..rows).filter(|&r| dims.real(r)) {
                let tr = dims.target_row(r);
                for k in 0..u {
                    let (zv, yv) = (z[r * u + k], T::from_f32(y[tr * u + k]));
                    // max(z, 0) − z·y + log(1 + e^{−|z|}): stable for large |z|.
                    total += (zv.max(T::ZERO) - zv * yv + (-zv.abs()).exp().ln_1p()).to_f64();
                    if let Some(g) = d_z.as_deref_mut() {
                        g[r * u + k] = (sigmoid(zv) - yv) / denom;
                    }
                    stats.correct += ((zv > T::ZERO) == (y[tr * u + k] > 0.5)) as u8 as f64;
                    stats.count += 1.0;
                }
            }
            stats.loss = total / (counted * u) as f64;
            stats.terms = (counted * u) as f64;
        }
        LossKind::CrossEntropy => {
            let denom = T::from_usize(counted);
            for r in (0..rows).filter(|&r| dims.real(r)) {
                let row = &z[r * u..(r + 1) * u];
                let cls = y[dims.target_row(r)] as usize;
                let (max, sum) = softmax_terms(row);
                total += ((sum.ln() + max) - row[cls]).to_f64();
                let arg = row
                    .iter()
                    .enumerate()
                    .fold(0, |best, (i, &v)| if v > row[best] { i } else { best });
                stats.correct += (arg == cls) as u8 as f64;
                stats.count += 1.0;
                if let Some(g) = d_z.as_deref_mut() {
                    let d = &mut g[r * u..(r + 1) * u];
                    for (k, (g, &zk)) in d.iter_mut().zip(row).enumerate() {
                        let onehot = if k == cls { T::ONE } else { T::ZERO };
                        *g = ((zk - max).exp() / sum - onehot) / denom;
                    }
                }
            }
            stats.loss = total / counted as f64;
            stats.terms = counted as f64;
        }
        LossKind::Mse => {
            let denom = T::from_usize(counted * u);
            for r in (0..rows).filter(|&r| dims.real(r)) {
                let tr = dims.target_row(r);
                for k in 0..u {
                    let diff = z[r * u + k] - T::from_f32(y[tr * u + k]);
                    total += (diff * diff).to_f64();
                    if let Some(g) = d_z.as_deref_mut() {
                        g[r * u + k] = T::from_f32(2.0) * diff / denom;
                    }
                }
            }
            stats.loss = total / (counted * u) as f64;
            stats.terms = (counted * u) as f64;
        }
    }
    stats
}

/// What `predict` returns from logits rows of width `u`, in place: σ(z) for BCE, softmax(z) for
/// cross-entropy, z for MSE.
pub fn predictions_in_place<T: Float>(kind: LossKind, z: &mut [T], u: usize) {
    match kind {
        LossKind::Bce => z.iter_mut().for_each(|v| *v = sigmoid(*v)),
        LossKind::CrossEntropy => z.chunks_exact_mut(u).for_each(softmax_in_place),
        LossKind::Mse => {}
    }
}

//! Pooling: how the LSTM's outputs become the head's input, forward and backward.
//!
//! Shapes: B batch, T steps, H hidden, D directions, L layers, P = D·H pooled width. The LSTM's output
//! `y` is time-major `(T, B, P)`, its final state `h_n` is `(L·D, B, H)`; pooled rows are `(B, P)`, or
//! `(B, 2P)` for max-mean (the maximum, then the mean: both views of the whole sequence).
//! Padding steps (t ≥ len(b)) have zero output and are skipped by mean and max.

use super::config::Pooling;
use crate::float::Float;

/// The sizes pooling works over.
#[derive(Clone, Copy, Debug)]
pub struct PoolDims {
    /// B.
    pub batch: usize,
    /// T.
    pub steps: usize,
    /// H.
    pub hidden: usize,
    /// D.
    pub directions: usize,
    /// L.
    pub num_layers: usize,
}

impl PoolDims {
    /// P = D·H.
    pub fn width(&self) -> usize {
        self.directions * self.hidden
    }

    /// Offset in `h_n` of direction `d`'s block of the last layer.
    fn last_layer_state(&self, d: usize) -> usize {
        ((self.num_layers - 1) * self.directions + d) * self.batch * self.hidden
    }

    /// Real steps of sequence `j`: its length, or T when `lengths` is empty.
    fn len(&self, lengths: &[u32], j: usize) -> usize {
        if lengths.is_empty() {
            self.steps
        } else {
            lengths[j] as usize
        }
    }
}

/// `pooled = pool(y, h_n)`: `(B, P)` (`(B, 2P)` for max-mean), or a copy of `y` `(T·B, P)` for [`Pooling::Sequence`].
/// `max_arg` `(B, P)` receives the step each maximum came from (max pooling only); `lengths` is
/// empty when every step is real.
pub fn pool_forward<T: Float>(
    pooled: &mut Vec<T>,
    max_arg: &mut Vec<u32>,
    pooling: Pooling,
    y: &[T],
    h_n: &[T],
    lengths: &[u32],
    dims: PoolDims,
) {
    let (n, h, p) = (dims.batch, dims.hidden, dims.width());
    match pooling {
        Pooling::Sequence => {
            pooled.clear();
            pooled.extend_from_slice(y);
        }
        Pooling::Last => {
            pooled.resize(n * p, T::ZERO);
            for d in 0..dims.directions {
                let state = dims.last_layer_state(d);
                for j in 0..n {
                    pooled[j * p + d * h..j * p + (d + 1) * h]
                        .copy_from_slice(&h_n[state + j * h..state + (j + 1) * h]);
                }
            }
        }
        Pooling::Mean => {
            pooled.clear();
            pooled.resize(n * p, T::ZERO);
            mean_forward(pooled, p, 0, y, lengths, dims);
        }
        Pooling::Max => {
            pooled.clear();
            pooled.resize(n * p, T::ZERO);
            max_forward(pooled, max_arg, p, 0, y, lengths, dims);
        }
        Pooling::MaxMean => {
            pooled.clear();
            pooled.resize(n * 2 * p, T::ZERO);
            max_forward(pooled, max_arg, 2 * p, 0, y, lengths, dims);
            mean_forward(pooled, 2 * p, p, y, lengths, dims);
        }
    }
}

/// Columns `off..off + P` of each `pooled` row (row stride `stride`) = the mean of `y` over real steps.
fn mean_forward<T: Float>(
    pooled: &mut [T],
    stride: usize,
    off: usize,
    y: &[T],
    lengths: &[u32],
    dims: PoolDims,
) {
    let (n, p) = (dims.batch, dims.width());
    // Padding outputs are zero, so summing every step sums the real ones.
    for s in 0..dims.steps {
        for j in 0..n {
            let row = j * stride + off;
            for (acc, &v) in pooled[row..row + p]
                .iter_mut()
                .zip(&y[(s * n + j) * p..(s * n + j + 1) * p])
            {
                *acc += v;
            }
        }
    }
    for j in 0..n {
        let len = T::from_usize(dims.len(lengths, j));
        let row = j * stride + off;
        pooled[row..row + p].iter_mut().for_each(|v| *v /= len);
    }
}

/// Columns `off..off + P` of each `pooled` row = the maximum of `y` over real steps; `max_arg` (B, P)
/// receives the step each came from.
fn max_forward<T: Float>(
    pooled: &mut [T],
    max_arg: &mut Vec<u32>,
    stride: usize,
    off: usize,
    y: &[T],
    lengths: &[u32],
    dims: PoolDims,
) {
    let (n, p) = (dims.batch, dims.width());
    for j in 0..n {
        pooled[j * stride + off..j * stride + off + p].fill(T::NEG_INFINITY);
    }
    max_arg.clear();
    max_arg.resize(n * p, 0);
    for s in 0..dims.steps {
        for j in (0..n).filter(|&j| s < dims.len(lengths, j)) {
            for u in 0..p {
                let v = y[(s * n + j) * p + u];
                let best = &mut pooled[j * stride + off + u];
                if v > *best {
                    *best = v;
                    max_arg[j * p + u] = s as u32;
                }
            }
        }
    }
}

/// Where [`pool_backward`] put the LSTM's upstream gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolGrad {
    /// dL/dy is `d_pooled` itself (per-step outputs: pooling was the identity).
    Pooled,
    /// dL/dy `(T, B, P)` is in `d_y`.
    Outputs,
    /// dL/dh_n `(L·D, B, H)` is in `d_h_n` (zero outside the last layer).
    FinalState,
}

/// dL/dy or dL/dh_n from `d_pooled` `(B, P)`, reading only the forward's `max_arg` and `lengths`.
pub fn pool_backward<T: Float>(
    d_y: &mut Vec<T>,
    d_h_n: &mut Vec<T>,
    pooling: Pooling,
    d_pooled: &[T],
    max_arg: &[u32],
    lengths: &[u32],
    dims: PoolDims,
) -> PoolGrad {
    let (n, t, h, p) = (dims.batch, dims.steps, dims.hidden, dims.width());
    match pooling {
        Pooling::Sequence => PoolGrad::Pooled,
        Pooling::Last => {
            d_h_n.clear();
            d_h_n.resize(dims.num_layers * dims.directions * n * h, T::ZERO);
            for d in 0..dims.directions {
                let state = dims.last_layer_state(d);
                for j in 0..n {
                    d_h_n[state + j * h..state + (j + 1) * h]
                        .copy_from_slice(&d_pooled[j * p + d * h..j * p + (d + 1) * h]);
                }
            }
            PoolGrad::FinalState
        }
        Pooling::Mean | Pooling::Max | Pooling::MaxMean => {
            d_y.clear();
            d_y.resize(t * n * p, T::ZERO);
            let stride = pooling.pooled_width(p);
            if pooling != Pooling::Mean {
                for j in 0..n {
                    for u in 0..p {
                        let s = max_arg[j * p + u] as usize;
                        d_y[(s * n + j) * p + u] += d_pooled[j * stride + u];
                    }
                }
            }
            if pooling != Pooling::Max {
                let off = stride - p;
                for s in 0..t {
                    for j in (0..n).filter(|&j| s < dims.len(lengths, j)) {
                        let len = T::from_usize(dims.len(lengths, j));
                        for u in 0..p {
                            d_y[(s * n + j) * p + u] += d_pooled[j * stride + off + u] / len;
                        }
                    }
                }
            }
            PoolGrad::Outputs
        }
    }
}

//! The dense head: `head.{i}` hidden layers and the output layer `fc`, each `out = act(in · Wᵀ + b)`
//! as PyTorch's `nn.Linear` followed by its activation, forward and backward.
//!
//! Shapes: R rows (B pooled, or T·B per step), I a layer's input width, U its units; W `(U, I)`, b `(U)`
//! inside the model's flat parameter buffer.

use super::config::DenseActivation;
use crate::float::Float;
use crate::kernels::{Kernels, Trans};

/// One dense layer: where its parameters sit in the flat buffer, its widths and activation.
#[derive(Clone, Copy, Debug)]
pub struct DenseLayer {
    /// Offset of W `(U, I)`.
    pub w: usize,
    /// Offset of b `(U)`; it follows W.
    pub b: usize,
    /// I.
    pub n_in: usize,
    /// U.
    pub n_out: usize,
    /// The activation after the affine map.
    pub act: DenseActivation,
}

/// `out (R, U) = act(input (R, I) · Wᵀ + b)`.
pub fn dense_forward<T: Float>(
    ks: &dyn Kernels,
    out: &mut Vec<T>,
    input: &[T],
    params: &[T],
    layer: &DenseLayer,
    rows: usize,
) {
    let (n_in, n_out) = (layer.n_in, layer.n_out);
    out.resize(rows * n_out, T::ZERO);
    for row in out.chunks_exact_mut(n_out) {
        row.copy_from_slice(&params[layer.b..layer.b + n_out]);
    }
    let w = &params[layer.w..layer.w + n_out * n_in];
    T::gemm(
        ks,
        Trans::N,
        Trans::T,
        rows,
        n_out,
        n_in,
        input,
        n_in,
        w,
        n_in,
        out,
        n_out,
        true,
    );
    match layer.act {
        DenseActivation::Relu => out.iter_mut().for_each(|v| *v = v.max(T::ZERO)),
        DenseActivation::Tanh => T::tanh_in_place(ks, out),
        DenseActivation::Linear => {}
    }
}

/// From `d_out` (R, U), dL/d(this layer's output), overwritten with dL/d(pre-activation): dW and db
/// accumulate into `grads`, and `d_input` (R, I) receives dL/d`input`. Reads the forward's `input`
/// and `out` only.
pub fn dense_backward<T: Float>(
    ks: &dyn Kernels,
    d_input: &mut Vec<T>,
    grads: &mut [T],
    d_out: &mut [T],
    out: &[T],
    input: &[T],
    params: &[T],
    layer: &DenseLayer,
    rows: usize,
) {
    let (n_in, n_out) = (layer.n_in, layer.n_out);
    // Both derivatives are written in terms of the output: relu' = [out > 0], tanh' = 1 − out².
    match layer.act {
        DenseActivation::Relu => d_out.iter_mut().zip(out).for_each(|(g, &o)| {
            *g *= if o > T::ZERO { T::ONE } else { T::ZERO };
        }),
        DenseActivation::Tanh => d_out
            .iter_mut()
            .zip(out)
            .for_each(|(g, &o)| *g *= T::ONE - o * o),
        DenseActivation::Linear => {}
    }
    let (gw, gb) = grads[layer.w..layer.b + n_out].split_at_mut(n_out * n_in);
    T::gemm(
        ks,
        Trans::T,
        Trans::N,
        n_out,
        n_in,
        rows,
        d_out,
        n_out,
        input,
        n_in,
        gw,
        n_in,
        true,
    );
    for row in d_out.chunks_exact(n_out) {
        gb.iter_mut().zip(row).for_each(|(g, &v)| *g += v);
    }
    d_input.resize(rows * n_in, T::ZERO);
    let w = &params[layer.w..layer.w + n_out * n_in];
    T::gemm(
        ks,
        Trans::N,
        Trans::N,
        rows,
        n_in,
        n_out,
        d_out,
        n_out,
        w,
        n_in,
        d_input,
        n_in,
        false,
    );
}

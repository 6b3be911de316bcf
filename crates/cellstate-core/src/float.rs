//! The float type every layer is written over: `f32` in production, where products and activations
//! run on the chosen SIMD [`Kernels`], and `f64` for the reference path that the finite-difference
//! tests check (STYLE 11), where they run as plain loops. One generic copy of each layer serves both,
//! so the reference cannot drift from the code it checks.

use crate::kernels::{self, Kernels, PackedB, Trans};
use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A float the layers compute in, with the matrix products and activations they need.
///
/// The kernel methods take the kernel set `ks` that the caller chose once for the whole pass (a
/// packed B must be read by the set that packed it); `f64` ignores it and runs the scalar loops.
pub trait Float:
    Copy
    + Default
    + PartialOrd
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// −∞, the start of a running maximum.
    const NEG_INFINITY: Self;

    /// `v` rounded to this type.
    fn from_f32(v: f32) -> Self;
    /// `v` rounded to this type.
    fn from_f64(v: f64) -> Self;
    /// `n` rounded to this type (a count used as a divisor).
    fn from_usize(n: usize) -> Self;
    /// Widened to f64 (losses are summed in f64).
    fn to_f64(self) -> f64;
    /// e^x.
    fn exp(self) -> Self;
    /// ln x.
    fn ln(self) -> Self;
    /// ln(1 + x).
    fn ln_1p(self) -> Self;
    /// tanh x.
    fn tanh(self) -> Self;
    /// |x|.
    fn abs(self) -> Self;
    /// The larger of two (the other one when either is NaN, as `f32::max`).
    fn max(self, o: Self) -> Self;
    /// Neither infinite nor NaN.
    fn is_finite(self) -> bool;

    /// `C = op(A) · op(B) (+ C)`, as [`Kernels::gemm`].
    fn gemm(
        ks: &dyn Kernels,
        ta: Trans,
        tb: Trans,
        m: usize,
        n: usize,
        k: usize,
        a: &[Self],
        lda: usize,
        b: &[Self],
        ldb: usize,
        c: &mut [Self],
        ldc: usize,
        accumulate: bool,
    );
    /// Packs `op(B)` for repeated products, as [`Kernels::pack_b`].
    fn pack_b(
        ks: &dyn Kernels,
        tb: Trans,
        k: usize,
        n: usize,
        b: &[Self],
        ldb: usize,
        out: &mut PackedB<Self>,
    );
    /// `C = op(A) · B̂ (+ C)` with B̂ from [`Float::pack_b`], as [`Kernels::gemm_packed_b`].
    fn gemm_packed_b(
        ks: &dyn Kernels,
        ta: Trans,
        m: usize,
        n: usize,
        k: usize,
        a: &[Self],
        lda: usize,
        packed: &PackedB<Self>,
        c: &mut [Self],
        ldc: usize,
        accumulate: bool,
    );
    /// `x = σ(x)` in place.
    fn sigmoid_in_place(ks: &dyn Kernels, x: &mut [Self]);
    /// `x = tanh(x)` in place.
    fn tanh_in_place(ks: &dyn Kernels, x: &mut [Self]);
    /// [`Kernels::cell_forward`] on this float: the set's fused kernel for f32, the scalar reference
    /// loop for f64.
    fn cell_forward(
        ks: &dyn Kernels,
        gates: &mut [Self],
        c: &mut [Self],
        h: &mut [Self],
        tanh_c: Option<&mut [Self]>,
    );
    /// [`Kernels::cell_backward`] on this float, likewise.
    #[allow(clippy::too_many_arguments)]
    fn cell_backward(
        ks: &dyn Kernels,
        d_gates: &mut [Self],
        d_c: &mut [Self],
        acts: &[Self],
        tanh_c: &[Self],
        c_prev: &[Self],
        d_y: &[Self],
        d_h: &[Self],
        tiny: f32,
    );
}

/// The constants and elementwise methods of [`Float`] that forward to the std inherent ones of `$t`.
macro_rules! std_float_methods {
    ($t:ident) => {
        const ZERO: Self = 0.0;
        const ONE: Self = 1.0;
        const NEG_INFINITY: Self = $t::NEG_INFINITY;

        fn exp(self) -> Self {
            $t::exp(self)
        }
        fn ln(self) -> Self {
            $t::ln(self)
        }
        fn ln_1p(self) -> Self {
            $t::ln_1p(self)
        }
        fn tanh(self) -> Self {
            $t::tanh(self)
        }
        fn abs(self) -> Self {
            $t::abs(self)
        }
        fn max(self, o: Self) -> Self {
            $t::max(self, o)
        }
        fn is_finite(self) -> bool {
            $t::is_finite(self)
        }
    };
}

// Deliberate repeat: the f32 and f64 impls spell the trait's kernel signatures; their bodies differ.
impl Float for f32 {
    std_float_methods!(f32);

    fn from_f32(v: f32) -> Self {
        v
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn from_usize(n: usize) -> Self {
        n as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }

    fn gemm(
        ks: &dyn Kernels,
        ta: Trans,
        tb: Trans,
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        b: &[f32],
        ldb: usize,
        c: &mut [f32],
        ldc: usize,
        accumulate: bool,
    ) {
        ks.gemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate)
    }
    fn pack_b(
        ks: &dyn Kernels,
        tb: Trans,
        k: usize,
        n: usize,
        b: &[f32],
        ldb: usize,
        out: &mut PackedB,
    ) {
        ks.pack_b(tb, k, n, b, ldb, out)
    }
    fn gemm_packed_b(
        ks: &dyn Kernels,
        ta: Trans,
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        packed: &PackedB,
        c: &mut [f32],
        ldc: usize,
        accumulate: bool,
    ) {
        ks.gemm_packed_b(ta, m, n, k, a, lda, packed, c, ldc, accumulate)
    }
    fn sigmoid_in_place(ks: &dyn Kernels, x: &mut [f32]) {
        ks.sigmoid(x)
    }
    fn tanh_in_place(ks: &dyn Kernels, x: &mut [f32]) {
        ks.tanh(x)
    }
    fn cell_forward(
        ks: &dyn Kernels,
        gates: &mut [f32],
        c: &mut [f32],
        h: &mut [f32],
        tanh_c: Option<&mut [f32]>,
    ) {
        ks.cell_forward(gates, c, h, tanh_c)
    }
    fn cell_backward(
        ks: &dyn Kernels,
        d_gates: &mut [f32],
        d_c: &mut [f32],
        acts: &[f32],
        tanh_c: &[f32],
        c_prev: &[f32],
        d_y: &[f32],
        d_h: &[f32],
        tiny: f32,
    ) {
        ks.cell_backward(d_gates, d_c, acts, tanh_c, c_prev, d_y, d_h, tiny)
    }
}

// The reference path: the scalar kernels' own loops, instantiated in f64.
impl Float for f64 {
    std_float_methods!(f64);

    fn from_f32(v: f32) -> Self {
        v as f64
    }
    fn from_f64(v: f64) -> Self {
        v
    }
    fn from_usize(n: usize) -> Self {
        n as f64
    }
    fn to_f64(self) -> f64 {
        self
    }

    fn gemm(
        _: &dyn Kernels,
        ta: Trans,
        tb: Trans,
        m: usize,
        n: usize,
        k: usize,
        a: &[f64],
        lda: usize,
        b: &[f64],
        ldb: usize,
        c: &mut [f64],
        ldc: usize,
        accumulate: bool,
    ) {
        kernels::gemm_reference(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate)
    }
    fn pack_b(
        _: &dyn Kernels,
        tb: Trans,
        k: usize,
        n: usize,
        b: &[f64],
        ldb: usize,
        out: &mut PackedB<f64>,
    ) {
        out.pack_plain(tb, k, n, b, ldb)
    }
    fn gemm_packed_b(
        _: &dyn Kernels,
        ta: Trans,
        m: usize,
        n: usize,
        k: usize,
        a: &[f64],
        lda: usize,
        packed: &PackedB<f64>,
        c: &mut [f64],
        ldc: usize,
        accumulate: bool,
    ) {
        let b = packed.expect(k, n, 0);
        kernels::gemm_reference(ta, Trans::N, m, n, k, a, lda, b, n, c, ldc, accumulate)
    }
    fn sigmoid_in_place(_: &dyn Kernels, x: &mut [f64]) {
        x.iter_mut().for_each(|v| *v = sigmoid(*v));
    }
    fn tanh_in_place(_: &dyn Kernels, x: &mut [f64]) {
        x.iter_mut().for_each(|v| *v = v.tanh());
    }
    fn cell_forward(
        _: &dyn Kernels,
        gates: &mut [f64],
        c: &mut [f64],
        h: &mut [f64],
        tanh_c: Option<&mut [f64]>,
    ) {
        kernels::cell_forward_reference(gates, c, h, tanh_c)
    }
    fn cell_backward(
        _: &dyn Kernels,
        d_gates: &mut [f64],
        d_c: &mut [f64],
        acts: &[f64],
        tanh_c: &[f64],
        c_prev: &[f64],
        d_y: &[f64],
        d_h: &[f64],
        tiny: f32,
    ) {
        kernels::cell_backward_reference(d_gates, d_c, acts, tanh_c, c_prev, d_y, d_h, tiny)
    }
}

/// σ(x) = 1 / (1 + e^−x): the scalar kernels' sigmoid and the losses' (true sigmoid, STYLE 8).
#[inline]
pub fn sigmoid<T: Float>(x: T) -> T {
    T::ONE / (T::ONE + (-x).exp())
}

/// The row's maximum and `Σ e^(v − max)`: what a stable softmax and log-sum-exp both need.
pub fn softmax_terms<T: Float>(row: &[T]) -> (T, T) {
    let max = row.iter().copied().fold(T::NEG_INFINITY, T::max);
    let sum = row.iter().map(|&v| (v - max).exp()).sum();
    (max, sum)
}

/// softmax in place: `e^(v − max) / Σ e^(v − max)`.
pub fn softmax_in_place<T: Float>(row: &mut [T]) {
    let (max, sum) = softmax_terms(row);
    row.iter_mut().for_each(|v| *v = (*v - max).exp() / sum);
}

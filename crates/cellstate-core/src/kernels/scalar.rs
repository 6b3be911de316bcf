//! The scalar reference kernels: plain loops, the definition every SIMD set is tested against. The
//! loops are generic so the f64 reference path of the layers runs the very same ones.

use super::{Kernels, Trans};
use crate::float::{sigmoid, Float};

/// Plain Rust loops, no explicit SIMD.
pub struct Scalar;

/// `C = op(A) · op(B) + (accumulate ? C : 0)` as plain loops, in any [`Float`]; arguments as
/// [`Kernels::gemm`].
pub fn gemm_reference<T: Float>(
    ta: Trans,
    tb: Trans,
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    lda: usize,
    b: &[T],
    ldb: usize,
    c: &mut [T],
    ldc: usize,
    accumulate: bool,
) {
    for i in 0..m {
        let row = &mut c[i * ldc..i * ldc + n];
        if !accumulate {
            row.fill(T::ZERO);
        }
        for p in 0..k {
            let aip = match ta {
                Trans::N => a[i * lda + p],
                Trans::T => a[p * lda + i],
            };
            match tb {
                Trans::N => {
                    let brow = &b[p * ldb..p * ldb + n];
                    for (cj, &bj) in row.iter_mut().zip(brow) {
                        *cj += aip * bj;
                    }
                }
                Trans::T => {
                    for (j, cj) in row.iter_mut().enumerate() {
                        *cj += aip * b[j * ldb + p];
                    }
                }
            }
        }
    }
}

/// One LSTM row's fused pointwise forward in any [`Float`], arguments as [`Kernels::cell_forward`]:
/// `gates` (4H, pre-activation i, f, g, o), `c` (H) replaced by c' = f ⊙ c + i ⊙ g, `h` (H) receives
/// o ⊙ tanh(c'); with `tanh_c` the activations overwrite `gates` and `tanh_c` receives tanh(c').
pub fn cell_forward_reference<T: Float>(
    gates: &mut [T],
    c: &mut [T],
    h: &mut [T],
    mut tanh_c: Option<&mut [T]>,
) {
    let hid = c.len();
    assert!(gates.len() == 4 * hid && h.len() == hid);
    for u in 0..hid {
        let i = sigmoid(gates[u]);
        let f = sigmoid(gates[hid + u]);
        let g = gates[2 * hid + u].tanh();
        let o = sigmoid(gates[3 * hid + u]);
        let cn = f * c[u] + i * g;
        let tc = cn.tanh();
        c[u] = cn;
        h[u] = o * tc;
        if let Some(t) = tanh_c.as_deref_mut() {
            (
                gates[u],
                gates[hid + u],
                gates[2 * hid + u],
                gates[3 * hid + u],
            ) = (i, f, g, o);
            t[u] = tc;
        }
    }
}

// Deliberate repeat: the Kernels method's parameter list, spelled by the trait, every impl and the generic driver it forwards to (an argument struct would change the API the layers call).
/// One LSTM row's fused pointwise backward in any [`Float`], arguments as [`Kernels::cell_backward`].
pub fn cell_backward_reference<T: Float>(
    d_gates: &mut [T],
    d_c: &mut [T],
    acts: &[T],
    tanh_c: &[T],
    c_prev: &[T],
    d_y: &[T],
    d_h: &[T],
    tiny: f32,
) {
    let hid = d_c.len();
    assert!(d_gates.len() == 4 * hid && acts.len() == 4 * hid);
    let tiny = T::from_f32(tiny);
    let flush = |v: T| if v.abs() < tiny { T::ZERO } else { v };
    for u in 0..hid {
        let (i, f, g, o) = (acts[u], acts[hid + u], acts[2 * hid + u], acts[3 * hid + u]);
        let tc = tanh_c[u];
        let dh = d_h[u] + d_y[u];
        let dc = d_c[u] + dh * o * (T::ONE - tc * tc);
        d_c[u] = flush(dc * f);
        d_gates[u] = flush(dc * g * i * (T::ONE - i));
        d_gates[hid + u] = flush(dc * c_prev[u] * f * (T::ONE - f));
        d_gates[2 * hid + u] = flush(dc * i * (T::ONE - g * g));
        d_gates[3 * hid + u] = flush(dh * tc * o * (T::ONE - o));
    }
}

// Deliberate repeat: the Kernels method's parameter list, spelled by the trait, every impl and the generic driver it forwards to (an argument struct would change the API the layers call).
impl Kernels for Scalar {
    fn name(&self) -> &'static str {
        "scalar"
    }

    fn gemm(
        &self,
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
        gemm_reference(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate)
    }

    fn sigmoid(&self, x: &mut [f32]) {
        x.iter_mut().for_each(|v| *v = sigmoid(*v));
    }

    fn tanh(&self, x: &mut [f32]) {
        x.iter_mut().for_each(|v| *v = v.tanh());
    }
}

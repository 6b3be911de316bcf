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

//! The scalar reference kernels: plain loops, the definition every SIMD set is tested against.

use super::{Kernels, Trans};

/// Plain Rust loops, no explicit SIMD.
pub struct Scalar;

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
        for i in 0..m {
            let row = &mut c[i * ldc..i * ldc + n];
            if !accumulate {
                row.fill(0.0);
            }
            for p in 0..k {
                let aip = match ta {
                    Trans::N => a[i * lda + p],
                    Trans::T => a[p * lda + i],
                };
                match tb {
                    Trans::N => {
                        let brow = &b[p * ldb..p * ldb + n];
                        for (cj, bj) in row.iter_mut().zip(brow) {
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

    fn sigmoid(&self, x: &mut [f32]) {
        for v in x {
            *v = 1.0 / (1.0 + (-*v).exp());
        }
    }

    fn tanh(&self, x: &mut [f32]) {
        for v in x {
            *v = v.tanh();
        }
    }
}

//! Kernels: matrix products and gate activations, one file per instruction set.
//!
//! Every kernel set implements [`Kernels`]; one set is chosen once per process (runtime detection on
//! x86_64, `cfg` on wasm32) and the environment variable `CELLSTATE_KERNELS=scalar` forces the scalar
//! reference. All matrices are row-major with an explicit leading dimension (row stride).

mod scalar;

pub use scalar::Scalar;

/// Whether an operand is read as stored (`N`) or transposed (`T`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trans {
    /// Use the matrix as stored.
    N,
    /// Use the transpose of the stored matrix.
    T,
}

/// The operations the layers need from an instruction set.
pub trait Kernels: Sync {
    /// Name of the kernel set, reported by `init()` and the benchmarks.
    fn name(&self) -> &'static str;

    /// `C = op(A) · op(B) + (accumulate ? C : 0)` with op(A) m×k, op(B) k×n, C m×n.
    ///
    /// `A` is stored m×k (`ta = N`, row stride `lda`) or k×m (`ta = T`); likewise `B` is k×n or n×k.
    /// When `accumulate` is false `C` is overwritten, so it may hold garbage (NaN included).
    #[allow(clippy::too_many_arguments)]
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
    );

    /// `x = 1 / (1 + exp(-x))` in place.
    fn sigmoid(&self, x: &mut [f32]);

    /// `x = tanh(x)` in place.
    fn tanh(&self, x: &mut [f32]);
}

/// The kernel set chosen for this process.
pub fn active() -> &'static dyn Kernels {
    &Scalar
}

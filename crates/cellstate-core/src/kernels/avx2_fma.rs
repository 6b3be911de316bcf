//! AVX2 + FMA kernels for x86_64: a 6 × 16 micro-kernel (12 ymm accumulators, two FMA ports kept
//! busy through the 4-cycle latency) and 8-lane polynomial sigmoid/tanh from [`super::poly`].

use super::pack::{self, MicroKernel};
use super::poly;
use core::arch::x86_64::*;
use std::ops::Range;

/// AVX2 + FMA, 8 floats per vector. The private field keeps it unconstructible outside this module:
/// `mod.rs` hands out [`INSTANCE`] only after [`supported`] returned true.
pub struct Avx2Fma(());

/// The one instance, reachable only through the detecting table in `mod.rs`.
pub(super) static INSTANCE: Avx2Fma = Avx2Fma(());

/// True when this CPU can run [`Avx2Fma`].
pub fn supported() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

// Deliberately parallel to avx512.rs: the same tile loop at another register width and intrinsics.
struct Tile6x16;

impl MicroKernel for Tile6x16 {
    const MR: usize = 6;
    const NR: usize = 16;

    #[inline(always)]
    unsafe fn tile(
        k: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
    ) {
        tile_6x16(k, a, b, c, ldc, accumulate)
    }
}

#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile_6x16(
    k: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    let mut acc = [[_mm256_setzero_ps(); 2]; 6];
    for p in 0..k {
        // SAFETY: p < k and the packed panels hold k·16 (B) and k·6 (A) floats (MicroKernel contract).
        let (b0, b1) = (
            _mm256_loadu_ps(b.add(p * 16)),
            _mm256_loadu_ps(b.add(p * 16 + 8)),
        );
        for (r, row) in acc.iter_mut().enumerate() {
            let ar = _mm256_set1_ps(*a.add(p * 6 + r));
            row[0] = _mm256_fmadd_ps(ar, b0, row[0]);
            row[1] = _mm256_fmadd_ps(ar, b1, row[1]);
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (h, &v) in row.iter().enumerate() {
            // SAFETY: row r < 6, columns h·8..h·8+8 < 16 lie in the caller's tile of C.
            let cp = c.add(r * ldc + h * 8);
            let v = if accumulate {
                _mm256_add_ps(_mm256_loadu_ps(cp), v)
            } else {
                v
            };
            _mm256_storeu_ps(cp, v);
        }
    }
}

/// The blocked loops compiled for this instruction set (every task of a product runs this).
#[target_feature(enable = "avx2,fma")]
unsafe fn block_avx2(job: &pack::Job<'_>, rows: Range<usize>, cols: Range<usize>) {
    pack::block::<Tile6x16>(job, rows, cols)
}

/// The 8-lane vector type the shared polynomial code is written against.
#[derive(Clone, Copy)]
struct V(__m256);

// Every method carries the target feature so it inlines into `activation`; callers uphold detection.
impl poly::Lanes for V {
    const WIDTH: usize = 8;
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn load(p: *const f32) -> Self {
        V(_mm256_loadu_ps(p))
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn store(self, p: *mut f32) {
        _mm256_storeu_ps(p, self.0)
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn splat(x: f32) -> Self {
        V(_mm256_set1_ps(x))
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn add(self, o: Self) -> Self {
        V(_mm256_add_ps(self.0, o.0))
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn sub(self, o: Self) -> Self {
        V(_mm256_sub_ps(self.0, o.0))
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn mul(self, o: Self) -> Self {
        V(_mm256_mul_ps(self.0, o.0))
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn mul_add(self, m: Self, a: Self) -> Self {
        V(_mm256_fmadd_ps(self.0, m.0, a.0))
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn div(self, o: Self) -> Self {
        V(_mm256_div_ps(self.0, o.0))
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn max(self, o: Self) -> Self {
        V(_mm256_max_ps(self.0, o.0))
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn abs(self) -> Self {
        V(_mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0))
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn sign_of(self, src: Self) -> Self {
        let sign = _mm256_and_ps(_mm256_set1_ps(-0.0), src.0);
        V(_mm256_or_ps(
            _mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0),
            sign,
        ))
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn select_lt(x: Self, limit: Self, if_lt: Self, otherwise: Self) -> Self {
        V(_mm256_blendv_ps(
            otherwise.0,
            if_lt.0,
            _mm256_cmp_ps::<_CMP_LT_OQ>(x.0, limit.0),
        ))
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn nan_from(self, src: Self) -> Self {
        V(_mm256_blendv_ps(
            self.0,
            src.0,
            _mm256_cmp_ps::<_CMP_UNORD_Q>(src.0, src.0),
        ))
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn round(self) -> Self {
        V(_mm256_round_ps::<
            { _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC },
        >(self.0))
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn pow2i(self) -> Self {
        let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_cvtps_epi32(self.0),
            _mm256_set1_epi32(127),
        ));
        V(_mm256_castsi256_ps(bits))
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn activation(x: &mut [f32], f: poly::Activation) {
    poly::apply::<V>(x, f)
}

// `Avx2Fma(())` is built only as `INSTANCE`, which `mod.rs` hands out after `supported()`.
#[target_feature(enable = "avx2,fma")]
unsafe fn cell_forward(
    gates: &mut [f32],
    c: &mut [f32],
    h: &mut [f32],
    tanh_c: Option<&mut [f32]>,
) {
    poly::cell_forward::<V>(gates, c, h, tanh_c)
}

#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn cell_backward(
    d_gates: &mut [f32],
    d_c: &mut [f32],
    acts: &[f32],
    tanh_c: &[f32],
    c_prev: &[f32],
    d_y: &[f32],
    d_h: &[f32],
    tiny: f32,
) {
    poly::cell_backward::<V>(d_gates, d_c, acts, tanh_c, c_prev, d_y, d_h, tiny)
}

simd_kernels!(
    Avx2Fma,
    "avx2_fma",
    Tile6x16,
    block_avx2,
    activation,
    cell = (cell_forward, cell_backward)
);

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

x86_tile!(
    Tile6x16,
    "avx2,fma",
    mr = 6,
    w = 8,
    rows = [2, 4],
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_add_ps,
    _mm256_storeu_ps
);

/// The 8-lane vector type the shared polynomial code is written against.
#[derive(Clone, Copy)]
struct V(__m256);

// Every method carries the target feature so it inlines into `activation`; callers uphold detection.
// Deliberate repeat: the same Lanes op list as avx512.rs and simd128.rs, each op in this set's own intrinsics.
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

x86_entry_points!("avx2,fma", Tile6x16, V);

simd_kernels!(
    Avx2Fma,
    "avx2_fma",
    Tile6x16,
    block,
    activation,
    cell = (cell_forward, cell_backward)
);

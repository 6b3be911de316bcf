//! AVX-512F kernels for x86_64: a 12 × 32 micro-kernel (24 zmm accumulators of the 32 registers,
//! 24 FMAs for 2 loads and 12 broadcasts; in L1, a C loop of each ran 1.09× the former 8 × 32 tile
//! on this Xeon), 8- and 4-row tiles for a block's last rows (64 rows run as 4 × 12 + 2 × 8, 32 as
//! 2 × 12 + 8), and 16-lane sigmoid/tanh from [`super::poly`].
//! Only AVX-512F instructions are used (no DQ/BW/VL), so every AVX-512 CPU qualifies.
//! AVX-512 intrinsics and `target_feature = "avx512f"` are stable since Rust 1.89: the workspace's
//! `rust-version` must be at least that (`mod.rs` tells clippy so until it is raised).

use super::pack::{self, MicroKernel};
use super::poly;
use core::arch::x86_64::*;
use std::ops::Range;

/// AVX-512F, 16 floats per vector. The private field keeps it unconstructible outside this module:
/// `mod.rs` hands out [`INSTANCE`] only after [`supported`] returned true.
pub struct Avx512(());

/// The one instance, reachable only through the detecting table in `mod.rs`.
pub(super) static INSTANCE: Avx512 = Avx512(());

/// True when this CPU can run [`Avx512`].
pub fn supported() -> bool {
    is_x86_feature_detected!("avx512f")
}

x86_tile!(
    Tile12x32,
    "avx512f",
    mr = 12,
    w = 16,
    rows = [4, 8],
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_add_ps,
    _mm512_storeu_ps
);

/// The 16-lane vector type the shared polynomial code is written against.
#[derive(Clone, Copy)]
struct V(__m512);

/// The sign bit of every lane, as integers (AVX-512F has no float `and`/`or`; those are DQ).
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn sign_mask() -> __m512i {
    _mm512_set1_epi32(i32::MIN)
}

// Every method carries the target feature so it inlines into `activation`; callers uphold detection.
// Deliberate repeat: the same Lanes op list as avx2_fma.rs and simd128.rs, each op in this set's own intrinsics.
impl poly::Lanes for V {
    const WIDTH: usize = 16;
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn load(p: *const f32) -> Self {
        V(_mm512_loadu_ps(p))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn store(self, p: *mut f32) {
        _mm512_storeu_ps(p, self.0)
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn splat(x: f32) -> Self {
        V(_mm512_set1_ps(x))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn add(self, o: Self) -> Self {
        V(_mm512_add_ps(self.0, o.0))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn sub(self, o: Self) -> Self {
        V(_mm512_sub_ps(self.0, o.0))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn mul(self, o: Self) -> Self {
        V(_mm512_mul_ps(self.0, o.0))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn mul_add(self, m: Self, a: Self) -> Self {
        V(_mm512_fmadd_ps(self.0, m.0, a.0))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn div(self, o: Self) -> Self {
        V(_mm512_div_ps(self.0, o.0))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn max(self, o: Self) -> Self {
        V(_mm512_max_ps(self.0, o.0))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn abs(self) -> Self {
        V(_mm512_abs_ps(self.0))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn sign_of(self, src: Self) -> Self {
        let mag = _mm512_andnot_si512(sign_mask(), _mm512_castps_si512(self.0));
        let sign = _mm512_and_si512(sign_mask(), _mm512_castps_si512(src.0));
        V(_mm512_castsi512_ps(_mm512_or_si512(mag, sign)))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn select_lt(x: Self, limit: Self, if_lt: Self, otherwise: Self) -> Self {
        let lt = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x.0, limit.0);
        V(_mm512_mask_blend_ps(lt, otherwise.0, if_lt.0))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn nan_from(self, src: Self) -> Self {
        let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(src.0, src.0);
        V(_mm512_mask_blend_ps(nan, self.0, src.0))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn round(self) -> Self {
        V(_mm512_roundscale_ps::<
            { _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC },
        >(self.0))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn pow2i(self) -> Self {
        let e = _mm512_add_epi32(_mm512_cvtps_epi32(self.0), _mm512_set1_epi32(127));
        V(_mm512_castsi512_ps(_mm512_slli_epi32::<23>(e)))
    }
}

x86_entry_points!("avx512f", Tile12x32, V);

simd_kernels!(
    Avx512,
    "avx512",
    Tile12x32,
    block,
    activation,
    cell = (cell_forward, cell_backward)
);

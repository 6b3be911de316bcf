//! WebAssembly SIMD128 kernels: a 4 × 8 micro-kernel (8 f32x4 accumulators: fuller tiles measured
//! slower, see [`Simd128Tile`]) and 4-lane
//! sigmoid/tanh from [`super::poly`]. SIMD128 has no fused multiply-add, so products and sums are
//! separate instructions; the tile and lanes are generic over [`MulAdd`] so `relaxed_simd.rs` reuses
//! them with `f32x4.relaxed_madd`. Compiled only with `+simd128`, which every engine
//! that loads the module then guarantees; there is no runtime detection inside wasm.

use super::pack::{self, MicroKernel};
use super::poly;
use core::arch::wasm32::*;
use std::marker::PhantomData;
use std::ops::Range;

/// SIMD128, 4 floats per vector.
pub struct Simd128(());

/// The one instance, listed in the table in `mod.rs`.
pub(super) static INSTANCE: Simd128 = Simd128(());

/// How a set computes `a·b + c` on four lanes: the one place SIMD128 and relaxed SIMD differ.
pub(super) trait MulAdd {
    /// `a·b + c`, rounded once or twice as the set allows.
    ///
    /// # Safety
    /// The engine supports the instructions used (a compile-time `cfg` for every impl).
    unsafe fn mul_add(a: v128, b: v128, c: v128) -> v128;
}

/// SIMD128: a multiply then an add, two roundings.
pub(super) struct Separate;

impl MulAdd for Separate {
    #[inline(always)]
    unsafe fn mul_add(a: v128, b: v128, c: v128) -> v128 {
        f32x4_add(f32x4_mul(a, b), c)
    }
}

/// An `MR × 4·NV` register tile: `MR·NV` f32x4 accumulators, `NV` B vectors and one A splat live
/// at once, so MR·NV + NV + 1 (+ 1 product temporary without FMA) must stay within the 16 xmm
/// registers a JIT has on x86-64, or it spills inside the k loop. Deliberately parallel to the
/// x86 tiles: the same loop in wasm's 4-lane intrinsics.
pub(super) struct Tile<M, const MR: usize, const NV: usize>(PhantomData<M>);

// Deliberate repeat: the MicroKernel signatures (tile, tile_direct; pack.rs) and the x86 tiles' loop, in wasm intrinsics.
impl<M: MulAdd, const MR: usize, const NV: usize> MicroKernel for Tile<M, MR, NV> {
    const MR: usize = MR;
    const NR: usize = 4 * NV;

    #[inline(always)]
    unsafe fn tile(
        k: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
    ) {
        Self::run::<false>(k, a, 0, b, c, ldc, accumulate)
    }

    const DIRECT: bool = true;

    #[inline(always)]
    unsafe fn tile_direct(
        rows: usize,
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
    ) {
        debug_assert_eq!(rows, MR);
        Self::run::<true>(k, a, lda, b, c, ldc, accumulate)
    }
}

impl<M: MulAdd, const MR: usize, const NV: usize> Tile<M, MR, NV> {
    /// The tile over a packed A panel `[k][MR]`, or with `DIRECT` over A in place (row r at
    /// `a + r·lda`).
    #[inline(always)]
    unsafe fn run<const DIRECT: bool>(
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
    ) {
        let nr = 4 * NV;
        let mut acc = [[f32x4_splat(0.0); NV]; MR];
        for p in 0..k {
            let mut bv = [f32x4_splat(0.0); NV];
            for (h, v) in bv.iter_mut().enumerate() {
                // SAFETY: p < k and the packed panels hold k·NR (B) and k·MR (A) floats
                // (MicroKernel contract).
                *v = v128_load(b.add(p * nr + h * 4) as *const v128);
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let at = if DIRECT { r * lda + p } else { p * MR + r };
                let ar = f32x4_splat(*a.add(at));
                for (h, v) in row.iter_mut().enumerate() {
                    *v = M::mul_add(ar, bv[h], *v);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (h, &v) in row.iter().enumerate() {
                // SAFETY: row r < MR, columns h·4..h·4+4 < NR lie in the caller's tile of C.
                let cp = c.add(r * ldc + h * 4) as *mut v128;
                let v = if accumulate {
                    f32x4_add(v128_load(cp), v)
                } else {
                    v
                };
                v128_store(cp, v);
            }
        }
    }
}

/// SIMD128's tile: 8 accumulators + 2 B + 1 splat + 1 product temporary = 12 registers. Measured in
/// Node 20 on the bench's LSTM shapes (2-core EPYC, medians of 3 interleaved runs, samples/s), 4×8 /
/// 6×8 / 4×12 / 8×8: large infer 52 / 42 / 42 / 27, medium infer 842 / 653 / 737 / 583, medium train
/// 264 / 221 / 242 / 225. V8's allocator spills the fuller tiles, and 4 rows divide B = 32 and 64.
pub(super) type Simd128Tile = Tile<Separate, 4, 2>;

/// The 4-lane vector type the shared polynomial code is written against, with `M`'s multiply-add.
pub(super) struct V<M>(v128, PhantomData<M>);

// Derived Clone/Copy would require `M: Copy`; the marker is zero-sized.
impl<M> Clone for V<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for V<M> {}

impl<M> V<M> {
    #[inline(always)]
    fn new(v: v128) -> Self {
        V(v, PhantomData)
    }
}

// Deliberate repeat: the same Lanes op list as avx2_fma.rs and avx512.rs, each op in this set's own intrinsics.
impl<M: MulAdd> poly::Lanes for V<M> {
    const WIDTH: usize = 4;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        V::new(v128_load(p as *const v128))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        v128_store(p as *mut v128, self.0)
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        V::new(f32x4_splat(x))
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        V::new(f32x4_add(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        V::new(f32x4_sub(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        V::new(f32x4_mul(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn mul_add(self, m: Self, a: Self) -> Self {
        V::new(M::mul_add(self.0, m.0, a.0))
    }
    #[inline(always)]
    unsafe fn div(self, o: Self) -> Self {
        V::new(f32x4_div(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn max(self, o: Self) -> Self {
        V::new(f32x4_max(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        V::new(f32x4_abs(self.0))
    }
    #[inline(always)]
    unsafe fn sign_of(self, src: Self) -> Self {
        let sign = f32x4_splat(-0.0);
        V::new(v128_bitselect(src.0, self.0, sign))
    }
    #[inline(always)]
    unsafe fn select_lt(x: Self, limit: Self, if_lt: Self, otherwise: Self) -> Self {
        V::new(v128_bitselect(if_lt.0, otherwise.0, f32x4_lt(x.0, limit.0)))
    }
    #[inline(always)]
    unsafe fn nan_from(self, src: Self) -> Self {
        V::new(v128_bitselect(src.0, self.0, f32x4_ne(src.0, src.0)))
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        V::new(f32x4_nearest(self.0))
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        let e = i32x4_add(i32x4_trunc_sat_f32x4(self.0), i32x4_splat(127));
        V::new(i32x4_shl(e, 23))
    }
}

/// The blocked loops for this set (simd128 is on for the whole module, so no target_feature here).
unsafe fn block_simd128(job: &pack::Job<'_>, rows: Range<usize>, cols: Range<usize>) {
    pack::block::<Simd128Tile>(job, rows, cols)
}

/// The polynomials for this set (simd128 is on for the whole module, so no target_feature here).
unsafe fn activation(x: &mut [f32], f: poly::Activation) {
    poly::apply::<V<Separate>>(x, f)
}

// Deliberate repeat: the Kernels cell signatures (mod.rs), as every set's entry points spell them.
/// The fused LSTM cell forward on four lanes (the shared `poly::cell_forward`).
pub(super) unsafe fn cell_forward<M: MulAdd>(
    gates: &mut [f32],
    c: &mut [f32],
    h: &mut [f32],
    tanh_c: Option<&mut [f32]>,
) {
    poly::cell_forward::<V<M>>(gates, c, h, tanh_c)
}

/// The fused LSTM cell backward on four lanes (the shared `poly::cell_backward`).
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn cell_backward<M: MulAdd>(
    d_gates: &mut [f32],
    d_c: &mut [f32],
    acts: &[f32],
    tanh_c: &[f32],
    c_prev: &[f32],
    d_y: &[f32],
    d_h: &[f32],
    tiny: f32,
) {
    poly::cell_backward::<V<M>>(d_gates, d_c, acts, tanh_c, c_prev, d_y, d_h, tiny)
}

// This module is compiled only with `+simd128`, so every engine that loads it runs these instructions.
simd_kernels!(
    Simd128,
    "simd128",
    Simd128Tile,
    block_simd128,
    activation,
    cell = (cell_forward::<Separate>, cell_backward::<Separate>)
);

//! WebAssembly SIMD128 kernels: a 6 × 8 micro-kernel (12 f32x4 accumulators, the count that keeps a
//! JIT's multiply and add pipelines full without spilling its 16 xmm registers) and 4-lane
//! sigmoid/tanh from [`super::poly`]. SIMD128 has no fused multiply-add (that is relaxed-simd), so
//! products and sums are separate instructions. Compiled only with `+simd128`, which every engine
//! that loads the module then guarantees; there is no runtime detection inside wasm.

use super::pack::{self, MicroKernel};
use super::poly;
use core::arch::wasm32::*;
use std::ops::Range;

/// SIMD128, 4 floats per vector.
pub struct Simd128(());

/// The one instance, listed in the table in `mod.rs`.
pub(super) static INSTANCE: Simd128 = Simd128(());

// Deliberately parallel to the x86 tiles: the same loop in wasm's 4-lane intrinsics.
struct Tile6x8;

impl MicroKernel for Tile6x8 {
    const MR: usize = 6;
    const NR: usize = 8;

    #[inline(always)]
    unsafe fn tile(
        k: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
    ) {
        let mut acc = [[f32x4_splat(0.0); 2]; 6];
        for p in 0..k {
            // SAFETY: p < k and the packed panels hold k·8 (B) and k·6 (A) floats (MicroKernel contract).
            let b0 = v128_load(b.add(p * 8) as *const v128);
            let b1 = v128_load(b.add(p * 8 + 4) as *const v128);
            for (r, row) in acc.iter_mut().enumerate() {
                let ar = f32x4_splat(*a.add(p * 6 + r));
                row[0] = f32x4_add(row[0], f32x4_mul(ar, b0));
                row[1] = f32x4_add(row[1], f32x4_mul(ar, b1));
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (h, &v) in row.iter().enumerate() {
                // SAFETY: row r < 6, columns h·4..h·4+4 < 8 lie in the caller's tile of C.
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

/// The 4-lane vector type the shared polynomial code is written against.
#[derive(Clone, Copy)]
struct V(v128);

impl poly::Lanes for V {
    const WIDTH: usize = 4;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        V(v128_load(p as *const v128))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        v128_store(p as *mut v128, self.0)
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        V(f32x4_splat(x))
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        V(f32x4_add(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        V(f32x4_sub(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        V(f32x4_mul(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn mul_add(self, m: Self, a: Self) -> Self {
        V(f32x4_add(f32x4_mul(self.0, m.0), a.0))
    }
    #[inline(always)]
    unsafe fn div(self, o: Self) -> Self {
        V(f32x4_div(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn max(self, o: Self) -> Self {
        V(f32x4_max(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        V(f32x4_abs(self.0))
    }
    #[inline(always)]
    unsafe fn sign_of(self, src: Self) -> Self {
        let sign = f32x4_splat(-0.0);
        V(v128_bitselect(src.0, self.0, sign))
    }
    #[inline(always)]
    unsafe fn select_lt(x: Self, limit: Self, if_lt: Self, otherwise: Self) -> Self {
        V(v128_bitselect(if_lt.0, otherwise.0, f32x4_lt(x.0, limit.0)))
    }
    #[inline(always)]
    unsafe fn nan_from(self, src: Self) -> Self {
        V(v128_bitselect(src.0, self.0, f32x4_ne(src.0, src.0)))
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        V(f32x4_nearest(self.0))
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        let e = i32x4_add(i32x4_trunc_sat_f32x4(self.0), i32x4_splat(127));
        V(i32x4_shl(e, 23))
    }
}

/// The blocked loops for this set (simd128 is on for the whole module, so no target_feature here).
unsafe fn block_simd128(job: &pack::Job<'_>, rows: Range<usize>, cols: Range<usize>) {
    pack::block::<Tile6x8>(job, rows, cols)
}

/// The polynomials for this set (simd128 is on for the whole module, so no target_feature here).
unsafe fn activation(x: &mut [f32], f: poly::Activation) {
    poly::apply::<V>(x, f)
}

// This module is compiled only with `+simd128`, so every engine that loads it runs these instructions.
simd_kernels!(Simd128, "simd128", Tile6x8, block_simd128, activation);

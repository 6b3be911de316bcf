//! WebAssembly relaxed-SIMD kernels: SIMD128's tile and lanes (`simd128.rs`) with every multiply-add
//! as one `f32x4.relaxed_madd`, which engines lower to a fused multiply-add where the CPU has one
//! (x86-64 FMA3, AArch64 FMLA) and to a multiply and an add otherwise. Either rounding is within
//! the self-test's tolerances, and an engine picks one lowering per module, so results are
//! deterministic for a given engine and CPU. Compiled only into the `+relaxed-simd` build, which
//! the JavaScript loader instantiates after `WebAssembly.validate` of a relaxed-SIMD instruction.

use super::pack;
use super::poly;
use super::simd128::{cell_backward, cell_forward, MulAdd, Tile, V};
use core::arch::wasm32::*;
use std::ops::Range;

/// Relaxed SIMD, 4 floats per vector, fused multiply-add.
pub struct RelaxedSimd(());

/// The one instance, listed in the table in `mod.rs`.
pub(super) static INSTANCE: RelaxedSimd = RelaxedSimd(());

/// `f32x4.relaxed_madd`: one instruction, fused where the CPU has FMA.
pub(super) struct Relaxed;

impl MulAdd for Relaxed {
    #[inline(always)]
    unsafe fn mul_add(a: v128, b: v128, c: v128) -> v128 {
        f32x4_relaxed_madd(a, b, c)
    }
}

/// 8 accumulators + 2 B + 1 splat. Measured as for `Simd128Tile` (samples/s), 4×8 / 6×8 / 4×12 / 8×8:
/// large infer 62 / 44 / 37 / 32, medium infer 976 / 715 / 807 / 697, medium train 312 / 275 / 290 / 379
/// (the last one noisy; 8×8 lost everywhere else).
type RelaxedTile = Tile<Relaxed, 4, 2>;

/// The blocked loops for this set (relaxed-simd is on for the whole module).
unsafe fn block_relaxed(job: &pack::Job<'_>, rows: Range<usize>, cols: Range<usize>) {
    pack::block::<RelaxedTile>(job, rows, cols)
}

/// The polynomials for this set, their Horner steps fused.
unsafe fn activation(x: &mut [f32], f: poly::Activation) {
    poly::apply::<V<Relaxed>>(x, f)
}

// This module is compiled only with `+relaxed-simd`, so every engine that loads it runs these instructions.
simd_kernels!(
    RelaxedSimd,
    "relaxed_simd",
    RelaxedTile,
    block_relaxed,
    activation,
    cell = (cell_forward::<Relaxed>, cell_backward::<Relaxed>)
);

//! The blocked GEMM driver shared by every SIMD set, after BLIS and bluss/matrixmultiply.
//!
//! `op(B)` is packed into `kc × NR` column panels and `op(A)` into `MR × kc` row panels, zero-padded to
//! whole panels, so all four transposition cases run the same register-blocked micro-kernel on
//! contiguous, unit-stride data. Loops, outermost first: `jc` over NC columns, `pc` over KC of the
//! inner dimension (B block stays in L2), `ic` over MC rows (A block in L1/L2), then `jr`/`ir` over
//! micro-tiles. Packing buffers are thread-local and only grow, so steady-state calls do not allocate.

use super::Trans;
use std::cell::RefCell;

/// A register-blocked micro-kernel over packed panels: `C[MR×NR] = Â·B̂ (+ C if accumulate)`.
pub(crate) trait MicroKernel {
    /// Rows of the register tile.
    const MR: usize;
    /// Columns of the register tile (a multiple of the vector width).
    const NR: usize;

    /// One full tile.
    ///
    /// # Safety
    /// `a` points at `k·MR` readable floats laid out `[k][MR]`, `b` at `k·NR` laid out `[k][NR]`,
    /// `c` at `MR` rows of `NR` writable floats with row stride `ldc`, and the CPU supports the
    /// kernel's instruction set.
    unsafe fn tile(
        k: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
    );
}

/// Inner-dimension block: a `KC × NR` B panel (8 KiB at NR = 16, 16 KiB at 32) stays in L1 across
/// the `ir` loop. Measured on this Xeon (48 KiB L1d, 2 MiB L2): KC = 128 with MC = 96 ran the
/// k = 1600..2048 backward products about 2× faster than KC = 256 (A block spilling out of L1).
const KC: usize = 128;
/// Row block, rounded down to a multiple of MR: a `MC × KC` A block (48 KiB) is reused from L1/L2
/// by every B panel.
const MC: usize = 96;
/// Column block: a `KC × NC` B block (2 MiB) fits this generation's L2.
const NC: usize = 2048;
/// Largest `MR × NR` any kernel uses (AVX-512's 8 × 32); sizes the edge-tile buffer on the stack.
const TILE_MAX: usize = 256;
/// Packed panels start on a 64-byte boundary so full-width loads never split a cache line.
const ALIGN_FLOATS: usize = 16;

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Smallest slice length that holds a `rows × cols` matrix with row stride `ld`.
fn extent(rows: usize, cols: usize, ld: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * ld + cols
    }
}

/// Panics unless every element `gemm` may touch lies inside the slices; the unchecked accesses
/// below rely on this.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_operands(
    ta: Trans,
    tb: Trans,
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &[f32],
    ldc: usize,
) {
    let (ar, ac) = if ta == Trans::N { (m, k) } else { (k, m) };
    let (br, bc) = if tb == Trans::N { (k, n) } else { (n, k) };
    assert!(
        a.len() >= extent(ar, ac, lda),
        "gemm: A too short for {ar}x{ac}, lda {lda}"
    );
    assert!(
        b.len() >= extent(br, bc, ldb),
        "gemm: B too short for {br}x{bc}, ldb {ldb}"
    );
    assert!(
        c.len() >= extent(m, n, ldc),
        "gemm: C too short for {m}x{n}, ldc {ldc}"
    );
    assert!(
        m <= 1 || ldc >= n,
        "gemm: ldc {ldc} < n {n} would alias rows of C"
    );
}

/// `C = op(A)·op(B) (+ C)` through packing and the micro-kernel `K`.
///
/// # Safety
/// The CPU supports `K`'s instruction set. Callers mark their entry point with the same
/// `#[target_feature]` so this body and the kernel inline into it.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm<K: MicroKernel>(
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
    const { assert!(K::MR * K::NR <= TILE_MAX && MC >= K::MR) };
    check_operands(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                c[i * ldc..i * ldc + n].fill(0.0);
            }
        }
        return;
    }
    let mc_max = (MC / K::MR) * K::MR;
    let (kc_max, nc_max) = (k.min(KC), n.min(NC));
    let b_len = kc_max * nc_max.next_multiple_of(K::NR);
    let a_len = kc_max * m.min(mc_max).next_multiple_of(K::MR);
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let need = b_len + a_len + ALIGN_FLOATS;
        if scratch.len() < need {
            scratch.resize(need, 0.0);
        }
        let skip = scratch
            .as_ptr()
            .align_offset(ALIGN_FLOATS * 4)
            .min(ALIGN_FLOATS);
        let (bpack, apack) = scratch[skip..skip + b_len + a_len].split_at_mut(b_len);
        let c = c.as_mut_ptr();
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                // Later k-blocks add onto what the first one wrote.
                let acc = accumulate || pc > 0;
                pack_b::<K>(tb, b, ldb, pc, jc, kc, nc, bpack);
                for ic in (0..m).step_by(mc_max) {
                    let mc = mc_max.min(m - ic);
                    pack_a::<K>(ta, a, lda, ic, pc, mc, kc, apack);
                    for jr in (0..nc).step_by(K::NR) {
                        let nr = K::NR.min(nc - jr);
                        // Panel jr/NR starts at (jr/NR)·kc·NR = jr·kc.
                        let bp = bpack.as_ptr().add(jr * kc);
                        for ir in (0..mc).step_by(K::MR) {
                            let mr = K::MR.min(mc - ir);
                            let ap = apack.as_ptr().add(ir * kc);
                            // SAFETY: (ic+ir, jc+jr) is inside C by check_operands; a full tile
                            // writes rows ic+ir..+MR, columns jc+jr..+NR, all inside m × n.
                            let cp = c.add((ic + ir) * ldc + jc + jr);
                            if mr == K::MR && nr == K::NR {
                                K::tile(kc, ap, bp, cp, ldc, acc);
                            } else {
                                edge_tile::<K>(kc, ap, bp, cp, ldc, acc, mr, nr);
                            }
                        }
                    }
                }
            }
        }
    });
}

/// A partial tile: run the full kernel into a stack buffer, then copy its `mr × nr` corner.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn edge_tile<K: MicroKernel>(
    kc: usize,
    ap: *const f32,
    bp: *const f32,
    cp: *mut f32,
    ldc: usize,
    accumulate: bool,
    mr: usize,
    nr: usize,
) {
    let mut tmp = [0.0f32; TILE_MAX];
    K::tile(kc, ap, bp, tmp.as_mut_ptr(), K::NR, false);
    for r in 0..mr {
        for j in 0..nr {
            // SAFETY: r < mr and j < nr keep the element inside the caller's m × n tile of C.
            let dst = &mut *cp.add(r * ldc + j);
            let v = tmp[r * K::NR + j];
            *dst = if accumulate { *dst + v } else { v };
        }
    }
}

/// Packs `op(B)[pc..pc+kc, jc..jc+nc]` into `[nc/NR][kc][NR]`, zero-padding the last panel.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pack_b<K: MicroKernel>(
    tb: Trans,
    b: &[f32],
    ldb: usize,
    pc: usize,
    jc: usize,
    kc: usize,
    nc: usize,
    dst: &mut [f32],
) {
    for (panel, j0) in (0..nc).step_by(K::NR).enumerate() {
        let w = K::NR.min(nc - j0);
        let out = &mut dst[panel * kc * K::NR..(panel + 1) * kc * K::NR];
        match tb {
            // Stored k × n: each packed row is a contiguous slice of a B row.
            Trans::N => {
                for (p, row) in out.chunks_exact_mut(K::NR).enumerate() {
                    let src = (pc + p) * ldb + jc + j0;
                    row[..w].copy_from_slice(&b[src..src + w]);
                    row[w..].fill(0.0);
                }
            }
            // Stored n × k: read each B row contiguously, scatter it down a packed column.
            Trans::T => {
                for j in 0..K::NR {
                    if j < w {
                        let src = (jc + j0 + j) * ldb + pc;
                        for (p, &v) in b[src..src + kc].iter().enumerate() {
                            out[p * K::NR + j] = v;
                        }
                    } else {
                        for p in 0..kc {
                            out[p * K::NR + j] = 0.0;
                        }
                    }
                }
            }
        }
    }
}

/// Packs `op(A)[ic..ic+mc, pc..pc+kc]` into `[mc/MR][kc][MR]`, zero-padding the last panel.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pack_a<K: MicroKernel>(
    ta: Trans,
    a: &[f32],
    lda: usize,
    ic: usize,
    pc: usize,
    mc: usize,
    kc: usize,
    dst: &mut [f32],
) {
    for (panel, i0) in (0..mc).step_by(K::MR).enumerate() {
        let h = K::MR.min(mc - i0);
        let out = &mut dst[panel * kc * K::MR..(panel + 1) * kc * K::MR];
        match ta {
            // Stored m × k: read each A row contiguously, scatter it down a packed column.
            Trans::N => {
                for r in 0..K::MR {
                    if r < h {
                        let src = (ic + i0 + r) * lda + pc;
                        for (p, &v) in a[src..src + kc].iter().enumerate() {
                            out[p * K::MR + r] = v;
                        }
                    } else {
                        for p in 0..kc {
                            out[p * K::MR + r] = 0.0;
                        }
                    }
                }
            }
            // Stored k × m: each packed row is a contiguous slice of an A row.
            Trans::T => {
                for (p, row) in out.chunks_exact_mut(K::MR).enumerate() {
                    let src = (pc + p) * lda + ic + i0;
                    row[..h].copy_from_slice(&a[src..src + h]);
                    row[h..].fill(0.0);
                }
            }
        }
    }
}

//! The blocked GEMM driver shared by every SIMD set, after BLIS and bluss/matrixmultiply.
//!
//! `op(B)` is packed into `kc × NR` column panels and `op(A)` into `MR × kc` row panels, zero-padded to
//! whole panels, so all four transposition cases run the same register-blocked micro-kernel on
//! contiguous, unit-stride data. Loops, outermost first: `jc` over NC columns, `pc` over KC of the
//! inner dimension or all of it up to `KC_WHOLE` (B block stays in L2), `ic` over MC rows (A block
//! in L1/L2), then `jr`/`ir` over micro-tiles. Packing buffers are thread-local and only grow, so
//! steady-state calls do not allocate. Large products are cut into rectangles of whole micro-tiles
//! run on the pool of `threads.rs`; a B used many times (the recurrent weights) can be packed once
//! up front (`pack_b_whole`).

use super::{threads, PackedB, Trans};
use std::cell::RefCell;
use std::ops::Range;

// Deliberate repeat: the parameter lists of `tile`, `tile_rows` and `tile_direct`, spelled again by every set's tiles (x86_tile!, simd128.rs).
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

    /// Whether [`tile_direct`](Self::tile_direct) exists: the tiles can read an A stored m × k
    /// (`Trans::N`) in place, so the driver skips packing it in blocks up to [`DIRECT_MAX_N`] wide.
    /// Packing A (a transpose into `[k][MR]` panels) costs about as much as the product when n is
    /// small: 28% of the seed tier's inference products (n = 64) in perf.
    const DIRECT: bool = false;

    /// As [`tile`](Self::tile) or [`tile_rows`](Self::tile_rows) (`rows` = MR or one of ROWS), with
    /// A read in place: row r of the tile at `a + r·lda`, its k values contiguous.
    ///
    /// # Safety
    /// As for [`tile`](Self::tile), with `a + r·lda` holding k readable floats for each r < rows.
    #[allow(clippy::too_many_arguments)]
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
        let _ = (k, a, lda, b, c, ldc, accumulate);
        unreachable!("no direct {rows}-row tile in this set");
    }

    /// Register tiles of fewer rows than MR this set also has, ascending (none by default): a
    /// block's rows left over after whole MR panels go to the smallest that covers them (see
    /// [`row_panels`]).
    const ROWS: &'static [usize] = &[];

    /// A full-width tile of `rows` rows, `rows` one of [`ROWS`](Self::ROWS), over an A panel
    /// laid out `[k][rows]`. Each element is the same sum as in the MR-row tile, so the bits do not
    /// depend on which tile ran.
    ///
    /// # Safety
    /// As for [`tile`](Self::tile), with `a` holding `k·rows` floats and `c` `rows` rows.
    unsafe fn tile_rows(
        rows: usize,
        k: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
    ) {
        let _ = (k, a, b, c, ldc, accumulate);
        unreachable!("no {rows}-row tile in this set");
    }

    /// Whether [`tile_half`](Self::tile_half) exists: tiles of NR/2 columns (one vector a row)
    /// for a last column panel of at most NR/2 columns, which a full tile would compute twice over
    /// and then copy out of a buffer (AVX-512's n = 16 products, the seed tier's backward, ran at
    /// a quarter of AVX2's rate on a Zen 4 EPYC).
    const HALF: bool = false;

    /// The left NR/2 columns of a tile of `rows` rows (MR or one of [`ROWS`](Self::ROWS)): B's
    /// panel is still `[k][NR]` (its right half is not read), A a packed `[k][rows]` panel or, with
    /// `direct`, read in place as for [`tile_direct`](Self::tile_direct). Each element is the same
    /// sum as in the full tile, so the bits do not depend on which ran.
    ///
    /// # Safety
    /// As for [`tile`](Self::tile) or [`tile_direct`](Self::tile_direct), with `c` holding NR/2
    /// writable columns a row.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile_half(
        rows: usize,
        direct: bool,
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
    ) {
        let _ = (direct, k, a, lda, b, c, ldc, accumulate);
        unreachable!("no half {rows}-row tile in this set");
    }
}

/// The row panels of an `mc`-row block: `(first row, rows, packed width)`, the width MR or one of
/// `K::ROWS` (a panel of fewer rows than its width is zero-padded and run through a buffer). Whole
/// MR panels first; a remainder r goes to the smallest tile that covers it, except that when MR + r
/// fits two tiles of the largest smaller size, the last MR panel and r become those two (AVX-512's
/// 64 rows: four 12-row tiles and two of 8, rather than five and a 4-row tile that leaves FMA
/// latency uncovered).
pub(crate) fn row_panels<K: MicroKernel>(mc: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    let (full, rest) = (mc / K::MR, mc % K::MR);
    let cover = |r: usize| K::ROWS.iter().copied().find(|&t| t >= r).unwrap_or(K::MR);
    let small = K::ROWS.last().copied();
    let split = match small {
        Some(t) if rest > 0 && full > 0 && K::MR + rest <= 2 * t => Some(t),
        _ => None,
    };
    let whole = if split.is_some() { full - 1 } else { full };
    let tail: [Option<usize>; 2] = match split {
        Some(t) => [Some(t), Some(K::MR + rest - t)],
        None => [(rest > 0).then_some(rest), None],
    };
    let mut at = whole * K::MR;
    (0..whole)
        .map(|i| (i * K::MR, K::MR, K::MR))
        .chain(tail.into_iter().flatten().map(move |r| {
            let start = at;
            at += r;
            (start, r, cover(r))
        }))
}

/// Inner-dimension block: a `KC × NR` B panel (8 KiB at NR = 16, 16 KiB at 32) stays in L1 across
/// the `ir` loop. Measured on this Xeon (48 KiB L1d, 2 MiB L2): KC = 128 with MC = 96 ran the
/// k = 1600..2048 backward products about 2× faster than KC = 256 (A block spilling out of L1).
const KC: usize = 128;
/// Deepest product run as one k-block: each tile then sums the whole inner dimension in its
/// registers and writes C once, where KC-deep blocks stored and reloaded it `k / KC` times and
/// walked every B panel that often. The column block narrows to keep the B block at `KC × NC`
/// floats. Up to 512 covers the LSTM's recurrent products (k = H) and the input products and dX
/// (k = F, 4H) of the benchmark's and the presets' models. Call-interleaved in one process on a
/// Zen 4 EPYC (32 KiB L1d, 1 MiB L2; a 512 × 32 B panel no longer fits L1 and still wins): large
/// inference 1.08× (1 thread) / 1.12× (2), AVX2 1.10× / 1.13×; large training 1.02-1.03×; the
/// `strong` preset's shape training 1.10× / 1.08×; seed inference (k = 300) 1.08×; medium
/// (k = 128) unchanged. It changes the rounding of products with 128 < k ≤ 512 (one sum instead of
/// a sum of block sums), the same for every set, split and thread count.
const KC_WHOLE: usize = 4 * KC;
/// Row block, rounded down to a multiple of MR: a `MC × KC` A block (48 KiB) is reused from L1/L2
/// by every B panel.
const MC: usize = 96;
/// Column block at KC deep: a `KC × NC` B block (1 MiB) fits this generation's L2.
const NC: usize = 2048;
/// Widest block whose A is read in place rather than packed. Packing costs one pass over the A block,
/// shared by the block's `nc / NR` column panels: at the seed tier's n = 64 it was 28% of the
/// products. Wider, A's rows read in place cost more than the packing: they are a power of two of
/// floats apart in the LSTM (H = 128, 512; 4H), so an MC-row block falls into a few sets of the L1
/// and evicts itself and the B panel. Step-interleaved in `lstm_profile`'s tiers on a 2-core EPYC
/// (AVX2; 32 KiB 8-way L1d), packing above n = 64 against reading in place at every n: medium infer
/// 1.08× (1 thread) / 1.06× (2), train 1.05× / 1.02×, large infer 1.02-1.12× / 1.05×, train 1.07× /
/// 1.04×, seed unchanged; 256 instead of 64 gave up large training's 1.05× (its dX product, n = 256).
const DIRECT_MAX_N: usize = 64;
/// Largest `MR × NR` any kernel uses (AVX-512's 12 × 32); sizes the edge-tile buffer on the stack.
const TILE_MAX: usize = 384;
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

/// Where `op(B)` comes from: the caller's matrix, packed block by block as the loops reach it, or a
/// copy packed once by [`pack_b_whole`] (the recurrent weights, reused for every time step).
pub(crate) enum BSource<'a> {
    /// Stored k × n (`N`) or n × k (`T`) with row stride `ldb`.
    Raw { tb: Trans, b: &'a [f32], ldb: usize },
    /// Panels laid out `[ceil(n/NR)][k][NR]`, zero-padded, from [`pack_b_whole`] with the same `NR`.
    Packed(&'a [f32]),
}

/// One product, shared by the tasks that each compute a rectangle of `C`.
pub(crate) struct Job<'a> {
    ta: Trans,
    a: &'a [f32],
    lda: usize,
    b: BSource<'a>,
    k: usize,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
}

// SAFETY: tasks only read `a` and `b`, and write disjoint rectangles of `C` through `c` (the split in
// `dispatch` hands each output tile to exactly one task); the caller's `&mut` to C outlives them all.
unsafe impl Sync for Job<'_> {}

/// A kernel set's entry into [`block`]: the same function under its `#[target_feature]`.
pub(crate) type BlockFn = unsafe fn(&Job<'_>, Range<usize>, Range<usize>);

// Deliberate repeat: the Kernels method's parameter list, spelled by the trait, every impl and the generic driver it forwards to (an argument struct would change the API the layers call).
/// `C = op(A)·op(B) (+ C)` through packing and the micro-kernel `K`, split over threads when large.
///
/// # Safety
/// The CPU supports `K`'s instruction set, and `block` is `K`'s [`block`] entry.
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
    block: BlockFn,
) {
    check_operands(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
    let b = BSource::Raw { tb, b, ldb };
    dispatch::<K>(ta, m, n, k, a, lda, b, c, ldc, accumulate, block);
}

/// As [`gemm`] with `op(B)` from [`pack_b_whole`] (`packed` holds `k × n` packed for `K`).
///
/// # Safety
/// As for [`gemm`]; `packed` came from [`pack_b_whole::<K>`] with these `k` and `n`.
pub(crate) unsafe fn gemm_packed_b<K: MicroKernel>(
    ta: Trans,
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    packed: &[f32],
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    block: BlockFn,
) {
    let empty: [f32; 0] = [];
    // B is checked by its packed length instead of a stride.
    check_operands(ta, Trans::N, m, n, 0, a, lda, &empty, n, c, ldc);
    let (ar, ac) = if ta == Trans::N { (m, k) } else { (k, m) };
    assert!(
        a.len() >= extent(ar, ac, lda),
        "gemm: A too short for {ar}x{ac}, lda {lda}"
    );
    assert!(
        packed.len() >= n.div_ceil(K::NR) * K::NR * k,
        "gemm: packed B too short for {k}x{n}"
    );
    dispatch::<K>(
        ta,
        m,
        n,
        k,
        a,
        lda,
        BSource::Packed(packed),
        c,
        ldc,
        accumulate,
        block,
    );
}

/// Handles empty shapes, then runs `block` over the whole of C or over tiles of it on the pool.
/// Only C is divided (along its longer side, in whole micro-tiles), never k, so every element is
/// summed in the same order whatever the thread count.
unsafe fn dispatch<K: MicroKernel>(
    ta: Trans,
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: BSource<'_>,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    block: BlockFn,
) {
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
    let job = Job {
        ta,
        a,
        lda,
        b,
        k,
        c: c.as_mut_ptr(),
        ldc,
        accumulate,
    };
    let by_cols = n >= m;
    let (len, unit) = if by_cols { (n, K::NR) } else { (m, K::MR) };
    let units = len.div_ceil(unit);
    let tasks = threads::tasks_for(2 * m * n * k, units);
    if tasks <= 1 {
        block(&job, 0..m, 0..n);
        return;
    }
    // Whole micro-tiles per task, so a packed B's panels start on a task boundary.
    let per = units.div_ceil(tasks) * unit;
    let count = len.div_ceil(per);
    threads::for_each(count, &|i| {
        let part = i * per..len.min((i + 1) * per);
        let (rows, cols) = if by_cols { (0..m, part) } else { (part, 0..n) };
        // SAFETY: the parts are disjoint and inside m × n, checked by the caller.
        unsafe { block(&job, rows, cols) }
    });
}

/// The blocked loops over the rectangle `rows × cols` of C, on the calling thread.
///
/// # Safety
/// The CPU supports `K`'s instruction set; the rectangle lies inside C and no other thread writes
/// it; `cols.start` is a multiple of `K::NR` when B is packed. Callers mark their entry point with
/// the same `#[target_feature]` so this body and the kernel inline into it.
#[inline(always)]
pub(crate) unsafe fn block<K: MicroKernel>(job: &Job<'_>, rows: Range<usize>, cols: Range<usize>) {
    const { assert!(K::MR * K::NR <= TILE_MAX && MC >= K::MR) };
    let (m, n, k) = (rows.len(), cols.len(), job.k);
    let (ldc, c) = (job.ldc, job.c);
    let mc_max = (MC / K::MR) * K::MR;
    let kc_step = if k <= KC_WHOLE { k.max(1) } else { KC };
    // A multiple of NR (packed B's panels start there), at least 512 columns. The column block
    // bounds the B block that every row block re-reads; with B packed up front and one row block
    // (the recurrent step) nothing re-reads it, so the block spans all columns and A is packed once
    // per k-block instead of once per 512 columns (large inference, m = 32, n = 2048, k = 512:
    // 1.08× at 1 thread on a Zen 3 EPYC, 10 alternating 2 s runs of `lstm_profile`; same bits).
    let nc_step = match job.b {
        BSource::Packed(_) if m <= mc_max => n.next_multiple_of(K::NR),
        _ => (NC * KC / kc_step.max(KC)) / K::NR * K::NR,
    };
    let (kc_max, nc_max) = (kc_step.min(k), n.min(nc_step));
    let b_len = match job.b {
        BSource::Raw { .. } => kc_max * nc_max.next_multiple_of(K::NR),
        BSource::Packed(_) => 0,
    };
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
        for jc in (cols.start..cols.end).step_by(nc_step) {
            let nc = nc_step.min(cols.end - jc);
            for pc in (0..k).step_by(kc_step) {
                let kc = kc_step.min(k - pc);
                // Later k-blocks add onto what the first one wrote.
                let acc = job.accumulate || pc > 0;
                // Panel p of this block starts at `base + p·stride`.
                let (base, stride) = match job.b {
                    BSource::Raw { tb, b, ldb } => {
                        pack_b::<K>(tb, b, ldb, pc, jc, kc, nc, bpack);
                        (bpack.as_ptr(), kc * K::NR)
                    }
                    BSource::Packed(p) => {
                        // Whole panels [k][NR]: this k-block is rows pc.. of panel jc/NR onwards.
                        (
                            p.as_ptr().add((jc / K::NR) * k * K::NR + pc * K::NR),
                            k * K::NR,
                        )
                    }
                };
                // A read in place where the set can and every tile of this block is full width;
                // panels of fewer rows than their tile are still packed (zero-padded).
                let half_cols = K::NR / 2;
                let direct = K::DIRECT
                    && job.ta == Trans::N
                    && (nc.is_multiple_of(K::NR) || (K::HALF && nc % K::NR == half_cols))
                    && nc <= DIRECT_MAX_N;
                for ic in (rows.start..rows.end).step_by(mc_max) {
                    let mc = mc_max.min(rows.end - ic);
                    pack_a::<K>(job.ta, job.a, job.lda, ic, pc, mc, kc, apack, direct);
                    for jr in (0..nc).step_by(K::NR) {
                        let nr = K::NR.min(nc - jr);
                        let bp = base.add((jr / K::NR) * stride);
                        for (ir, mr, width) in row_panels::<K>(mc) {
                            // Panels before row ir hold ir rows of kc each, whatever their widths.
                            let ap = apack.as_ptr().add(ir * kc);
                            // SAFETY: (ic+ir, jc+jr) is inside this task's rectangle of C; a full
                            // tile writes rows ic+ir..+mr, columns jc+jr..+NR, all inside it.
                            let cp = c.add((ic + ir) * ldc + jc + jr);
                            let half = K::HALF && nr <= half_cols;
                            if half && nr == half_cols && mr == width {
                                let a = if direct {
                                    // SAFETY: as for tile_direct below.
                                    job.a.as_ptr().add((ic + ir) * job.lda + pc)
                                } else {
                                    ap
                                };
                                K::tile_half(width, direct, kc, a, job.lda, bp, cp, ldc, acc);
                            } else if nr < K::NR || mr < width {
                                edge_tile::<K>(kc, ap, bp, cp, ldc, acc, mr, nr, width, half);
                            } else if direct {
                                // SAFETY: rows ic+ir..+mr of A exist (mr == width here), each
                                // with columns pc..pc+kc (checked by the caller).
                                let a = job.a.as_ptr().add((ic + ir) * job.lda + pc);
                                K::tile_direct(width, kc, a, job.lda, bp, cp, ldc, acc);
                            } else if width == K::MR {
                                K::tile(kc, ap, bp, cp, ldc, acc);
                            } else {
                                K::tile_rows(width, kc, ap, bp, cp, ldc, acc);
                            }
                        }
                    }
                }
            }
        }
    });
}

/// Packs all of `op(B)` (k × n) into `[ceil(n/NR)][k][NR]` panels, zero-padding the last one, for
/// [`gemm_packed_b`]: the layout [`pack_b`] produces per block, with each panel holding every k.
/// The buffer of `out` is reused; its data starts on a 64-byte boundary.
pub(crate) fn pack_b_whole<K: MicroKernel>(
    tb: Trans,
    k: usize,
    n: usize,
    b: &[f32],
    ldb: usize,
    out: &mut PackedB,
) {
    let (br, bc) = if tb == Trans::N { (k, n) } else { (n, k) };
    assert!(
        b.len() >= extent(br, bc, ldb),
        "pack_b: B too short for {br}x{bc}, ldb {ldb}"
    );
    let len = n.div_ceil(K::NR) * K::NR * k;
    out.data.clear();
    out.data.resize(len + ALIGN_FLOATS, 0.0);
    let skip = out
        .data
        .as_ptr()
        .align_offset(ALIGN_FLOATS * 4)
        .min(ALIGN_FLOATS);
    if len > 0 {
        // One k-block as tall as k: pack_b's per-block layout is then the whole-matrix layout.
        pack_b::<K>(tb, b, ldb, 0, 0, k, n, &mut out.data[skip..skip + len]);
    }
    (out.offset, out.k, out.n, out.panel) = (skip, k, n, K::NR);
}

/// A partial tile: run the `width`-row kernel (MR or one of `K::ROWS`; with `half`, its NR/2-column
/// version, `nr` ≤ NR/2) into a stack buffer, then copy its `mr × nr` corner.
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
    width: usize,
    half: bool,
) {
    let mut tmp = [0.0f32; TILE_MAX];
    if half {
        K::tile_half(width, false, kc, ap, 0, bp, tmp.as_mut_ptr(), K::NR, false);
    } else if width == K::MR {
        K::tile(kc, ap, bp, tmp.as_mut_ptr(), K::NR, false);
    } else {
        K::tile_rows(width, kc, ap, bp, tmp.as_mut_ptr(), K::NR, false);
    }
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
    // Stored k × n (`N`): a packed row is a slice of a B row.
    pack_panels(tb == Trans::N, K::NR, b, ldb, pc, jc, kc, nc, dst)
}

/// Packs `op(A)[ic..ic+mc, pc..pc+kc]` into the panels of [`row_panels`]: each `[kc][width]`,
/// zero-padded past its rows, one after the other (panel of first row r at `r·kc`). With
/// `partial_only`, only the panels of fewer rows than their width (the rest is read in place).
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
    partial_only: bool,
) {
    // Stored k × m (`T`): a packed row is a slice of an A row.
    let k_major = ta == Trans::T;
    for (r, rows, width) in row_panels::<K>(mc) {
        if partial_only && rows == width {
            continue;
        }
        let out = &mut dst[r * kc..(r + width) * kc];
        let j0 = ic + r;
        // One call per width, so each copy has a constant length once inlined (every set has at
        // most two smaller tiles).
        let rows_at = |i: usize| K::ROWS.get(i).copied();
        if width == K::MR {
            pack_panels(k_major, K::MR, a, lda, pc, j0, kc, rows, out)
        } else if rows_at(0) == Some(width) {
            pack_panels(k_major, K::ROWS[0], a, lda, pc, j0, kc, rows, out)
        } else if rows_at(1) == Some(width) {
            pack_panels(k_major, K::ROWS[1], a, lda, pc, j0, kc, rows, out)
        } else {
            pack_panels(k_major, width, a, lda, pc, j0, kc, rows, out)
        }
    }
}

/// The packing both operands share: the block `x[p0..p0+kc][j0..j0+nc]` of a k-major view of `src`
/// into `[nc/width][kc][width]` panels, the last one zero-padded. `k_major` says `src` is stored with
/// k along its rows (`x[p][j] = src[p·ld + j]`), else transposed (`x[p][j] = src[j·ld + p]`). `width`
/// is the tile's NR (for B) or MR (for A), a constant once inlined into `pack_b`/`pack_a`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pack_panels(
    k_major: bool,
    width: usize,
    src: &[f32],
    ld: usize,
    p0: usize,
    j0: usize,
    kc: usize,
    nc: usize,
    dst: &mut [f32],
) {
    for (panel, jp) in (0..nc).step_by(width).enumerate() {
        let w = width.min(nc - jp);
        let out = &mut dst[panel * kc * width..(panel + 1) * kc * width];
        if k_major {
            // Each packed row is a contiguous slice of a source row.
            for (p, row) in out.chunks_exact_mut(width).enumerate() {
                let s = (p0 + p) * ld + j0 + jp;
                if w == width {
                    // A copy of constant length (width is a constant here) compiles to a few vector
                    // moves; the variable-length one below was a call to memcpy per packed row,
                    // 18% of a medium training step in `perf record` (8 floats per call for A).
                    row.copy_from_slice(&src[s..s + width]);
                } else {
                    row[..w].copy_from_slice(&src[s..s + w]);
                    row[w..].fill(0.0);
                }
            }
        } else {
            // Read each source row contiguously, scatter it down a packed column.
            for j in 0..width {
                if j < w {
                    let s = (j0 + jp + j) * ld + p0;
                    for (p, &v) in src[s..s + kc].iter().enumerate() {
                        out[p * width + j] = v;
                    }
                } else {
                    for p in 0..kc {
                        out[p * width + j] = 0.0;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! plan_kernel {
        ($name:ident, $mr:literal, $rows:expr) => {
            struct $name;
            impl MicroKernel for $name {
                const MR: usize = $mr;
                const NR: usize = 16;
                const ROWS: &'static [usize] = $rows;
                unsafe fn tile(
                    _: usize,
                    _: *const f32,
                    _: *const f32,
                    _: *mut f32,
                    _: usize,
                    _: bool,
                ) {
                }
            }
        };
    }
    plan_kernel!(Twelve, 12, &[4, 8]);
    plan_kernel!(Six, 6, &[2, 4]);
    plan_kernel!(Plain, 8, &[]);

    fn plan<K: MicroKernel>(mc: usize) -> Vec<(usize, usize, usize)> {
        row_panels::<K>(mc).collect()
    }

    /// The panels tile the block's rows in order, each width MR or one of ROWS and at least its
    /// rows; 64 and 32 rows run without a padded tile on AVX-512's plan.
    #[test]
    fn row_panels_cover_every_row_once() {
        fn check<K: MicroKernel>() {
            for mc in 0..=200 {
                let mut next = 0;
                for (start, rows, width) in row_panels::<K>(mc) {
                    assert_eq!(start, next, "mc {mc}");
                    assert!(rows >= 1 && rows <= width, "mc {mc}");
                    assert!(width == K::MR || K::ROWS.contains(&width), "mc {mc}");
                    next += rows;
                }
                assert_eq!(next, mc);
            }
        }
        check::<Twelve>();
        check::<Six>();
        check::<Plain>();
        assert_eq!(
            plan::<Twelve>(64),
            [
                (0, 12, 12),
                (12, 12, 12),
                (24, 12, 12),
                (36, 12, 12),
                (48, 8, 8),
                (56, 8, 8)
            ]
        );
        assert_eq!(plan::<Twelve>(32), [(0, 12, 12), (12, 12, 12), (24, 8, 8)]);
        assert_eq!(plan::<Twelve>(5), [(0, 5, 8)]);
        assert_eq!(plan::<Six>(64).last(), Some(&(60, 4, 4)));
        assert_eq!(plan::<Plain>(13), [(0, 8, 8), (8, 5, 8)]);
    }
}

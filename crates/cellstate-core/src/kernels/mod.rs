//! Kernels: matrix products and gate activations, one file per instruction set.
//!
//! Every kernel set implements [`Kernels`]; one set is chosen once per process (runtime detection on
//! x86_64, `cfg` on wasm32) and the environment variable `CELLSTATE_KERNELS=scalar` (or any name from
//! [`available`]) forces a set. All matrices are row-major with an explicit leading dimension (row
//! stride). The SIMD sets share one packing driver (`pack.rs`) and one activation polynomial
//! (`poly.rs`); each file below holds only its instruction set's micro-kernel and vector ops.

/// Implements [`Kernels`] for a SIMD set: every set runs the shared packing driver (`pack.rs`) with its
/// own micro-kernel and the shared polynomials (`poly.rs`) with its own lanes, so only these five names
/// differ. `$set` is the set's type, `$name` the name [`available`] reports, `$tile` its
/// [`pack::MicroKernel`], `$block` its `pack::block::<$tile>` compiled under its `#[target_feature]`,
/// `$activation` its `poly::apply` likewise.
///
/// Contract: a value of `$set` exists only where its instruction set runs (a private constructor
/// behind the detecting [`TABLE`], or a compile-time `cfg`); the generated `unsafe` calls rely on it.
/// An optional sixth argument `cell = $cell` names a module-level `$cell_forward`/`$cell_backward`
/// pair (`poly::cell_forward`/`poly::cell_backward` under the set's `#[target_feature]`) that overrides
/// the fused LSTM cell defaults; a set without it keeps the scalar reference cells.
macro_rules! simd_kernels {
    ($set:ty, $name:literal, $tile:ty, $block:path, $activation:path
        $(, cell = ($cell_forward:path, $cell_backward:path))?) => {
        // Deliberate repeat: the Kernels method's parameter list, spelled by the trait, every impl and the generic driver it forwards to (an argument struct would change the API the layers call).
        impl $crate::kernels::Kernels for $set {
            fn name(&self) -> &'static str {
                $name
            }

            fn gemm(
                &self,
                ta: $crate::kernels::Trans,
                tb: $crate::kernels::Trans,
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
                // SAFETY: a `$set` exists only where its instruction set runs (the macro's contract).
                unsafe {
                    $crate::kernels::pack::gemm::<$tile>(
                        ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate, $block,
                    )
                }
            }

            fn pack_b(
                &self,
                tb: $crate::kernels::Trans,
                k: usize,
                n: usize,
                b: &[f32],
                ldb: usize,
                out: &mut $crate::kernels::PackedB,
            ) {
                $crate::kernels::pack::pack_b_whole::<$tile>(tb, k, n, b, ldb, out)
            }

            fn gemm_packed_b(
                &self,
                ta: $crate::kernels::Trans,
                m: usize,
                n: usize,
                k: usize,
                a: &[f32],
                lda: usize,
                packed: &$crate::kernels::PackedB,
                c: &mut [f32],
                ldc: usize,
                accumulate: bool,
            ) {
                let b = packed.expect(k, n, <$tile as $crate::kernels::pack::MicroKernel>::NR);
                // SAFETY: as for gemm; `expect` checked that B was packed for this tile's layout and
                // shape.
                unsafe {
                    $crate::kernels::pack::gemm_packed_b::<$tile>(
                        ta, m, n, k, a, lda, b, c, ldc, accumulate, $block,
                    )
                }
            }

            fn sigmoid(&self, x: &mut [f32]) {
                // SAFETY: as for gemm.
                unsafe { $activation(x, $crate::kernels::poly::Activation::Sigmoid) }
            }

            fn tanh(&self, x: &mut [f32]) {
                // SAFETY: as for gemm.
                unsafe { $activation(x, $crate::kernels::poly::Activation::Tanh) }
            }
            $(
            fn cell_forward(
                &self,
                gates: &mut [f32],
                c: &mut [f32],
                h: &mut [f32],
                tanh_c: Option<&mut [f32]>,
            ) {
                // SAFETY: as for gemm.
                unsafe { $cell_forward(gates, c, h, tanh_c) }
            }

            fn cell_backward(
                &self,
                d_gates: &mut [f32],
                d_c: &mut [f32],
                acts: &[f32],
                tanh_c: &[f32],
                c_prev: &[f32],
                d_y: &[f32],
                d_h: &[f32],
                tiny: f32,
            ) {
                // SAFETY: as for gemm.
                unsafe { $cell_backward(d_gates, d_c, acts, tanh_c, c_prev, d_y, d_h, tiny) }
            }
            )?
        }
    };
}

/// The x86 register tile `$mr × 2·$w` (two `$w`-lane vectors a row): the one loop AVX2 and AVX-512
/// share, spelled in each set's intrinsics (`$zero`, `$load`, `$splat`, `$fmadd`, `$add`, `$store`)
/// under its `#[target_feature]`, with tiles of `rows` rows (fewer than `$mr`) for a block's last
/// rows. Expands to a unit struct `$tile` implementing [`pack::MicroKernel`] and the module-level
/// `tile::<R>` it forwards to; the constants are literals, so the code is the same as the loop
/// written out per set.
#[cfg(target_arch = "x86_64")]
macro_rules! x86_tile {
    ($tile:ident, $feature:literal, mr = $mr:literal, w = $w:literal, rows = [$($rows:literal),*],
        $zero:ident, $load:ident, $splat:ident, $fmadd:ident, $add:ident, $store:ident) => {
        struct $tile;

        // Deliberate repeat: the MicroKernel signatures (pack.rs), each forwarding to `tile::<R, A>`.
        impl MicroKernel for $tile {
            const MR: usize = $mr;
            const NR: usize = 2 * $w;

            #[inline(always)]
            unsafe fn tile(
                k: usize,
                a: *const f32,
                b: *const f32,
                c: *mut f32,
                ldc: usize,
                accumulate: bool,
            ) {
                tile::<$mr, false, false>(k, a, 0, b, c, ldc, accumulate)
            }

            const ROWS: &'static [usize] = &[$($rows),*];
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
                match rows {
                    $mr => tile::<$mr, true, false>(k, a, lda, b, c, ldc, accumulate),
                    $($rows => tile::<$rows, true, false>(k, a, lda, b, c, ldc, accumulate),)*
                    _ => unreachable!("no {rows}-row tile in this set"),
                }
            }

            #[inline(always)]
            unsafe fn tile_rows(
                rows: usize,
                k: usize,
                a: *const f32,
                b: *const f32,
                c: *mut f32,
                ldc: usize,
                accumulate: bool,
            ) {
                match rows {
                    $($rows => tile::<$rows, false, false>(k, a, 0, b, c, ldc, accumulate),)*
                    _ => unreachable!("no {rows}-row tile in this set"),
                }
            }

            const HALF: bool = true;

            #[inline(always)]
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
                match (rows, direct) {
                    ($mr, false) => tile::<$mr, false, true>(k, a, lda, b, c, ldc, accumulate),
                    ($mr, true) => tile::<$mr, true, true>(k, a, lda, b, c, ldc, accumulate),
                    $(
                    ($rows, false) => tile::<$rows, false, true>(k, a, lda, b, c, ldc, accumulate),
                    ($rows, true) => tile::<$rows, true, true>(k, a, lda, b, c, ldc, accumulate),
                    )*
                    _ => unreachable!("no {rows}-row tile in this set"),
                }
            }
        }

        /// `R` rows of the register tile (`R` = MR or one of `rows`), over an A panel `[k][R]`,
        /// or with `DIRECT` over A in place (row r at `a + r·lda`); with `HALF` only its left `$w`
        /// columns (one vector a row, B's right half not read).
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn tile<const R: usize, const DIRECT: bool, const HALF: bool>(
            k: usize,
            a: *const f32,
            lda: usize,
            b: *const f32,
            c: *mut f32,
            ldc: usize,
            accumulate: bool,
        ) {
            if accumulate {
                // The C tile is read only after the k loop: fetch its lines now, so the loads at
                // the end do not wait on L3 (the recurrence adds onto gate rows the input product
                // wrote long before, 52 MB earlier at the large tier).
                for r in 0..R {
                    _mm_prefetch::<_MM_HINT_T0>(c.add(r * ldc) as *const i8);
                    if !HALF {
                        _mm_prefetch::<_MM_HINT_T0>(c.add(r * ldc + $w) as *const i8);
                    }
                }
            }
            let mut acc = [[$zero(); 2]; R];
            for p in 0..k {
                // SAFETY: p < k and the packed panels hold k·NR (B) and k·MR (A) floats (MicroKernel
                // contract).
                let b0 = $load(b.add(p * 2 * $w));
                let b1 = if HALF { b0 } else { $load(b.add(p * 2 * $w + $w)) };
                for (r, row) in acc.iter_mut().enumerate() {
                    let at = if DIRECT { r * lda + p } else { p * R + r };
                    let ar = $splat(*a.add(at));
                    row[0] = $fmadd(ar, b0, row[0]);
                    if !HALF {
                        row[1] = $fmadd(ar, b1, row[1]);
                    }
                }
            }
            for (r, row) in acc.iter().enumerate() {
                for (h, &v) in row.iter().enumerate().take(if HALF { 1 } else { 2 }) {
                    // SAFETY: row r < R, columns h·w..h·w+w < NR lie in the caller's tile of C.
                    let cp = c.add(r * ldc + h * $w);
                    let v = if accumulate { $add($load(cp), v) } else { v };
                    $store(cp, v);
                }
            }
        }
    };
}

/// The entry points of an x86 set compiled under its `#[target_feature]`: `block` (the packing
/// driver over `$tile`), `activation` and the fused `cell_forward`/`cell_backward`, each the shared
/// generic code from `pack.rs`/`poly.rs` instantiated on `$tile` and the lanes `$v`. Callers uphold
/// detection: `mod.rs` hands out the set's value only after its `supported()` returned true.
#[cfg(target_arch = "x86_64")]
macro_rules! x86_entry_points {
    ($feature:literal, $tile:ty, $v:ty) => {
        /// The blocked loops compiled for this instruction set (every task of a product runs this).
        #[target_feature(enable = $feature)]
        unsafe fn block(job: &pack::Job<'_>, rows: Range<usize>, cols: Range<usize>) {
            pack::block::<$tile>(job, rows, cols)
        }

        #[target_feature(enable = $feature)]
        unsafe fn activation(x: &mut [f32], f: poly::Activation) {
            poly::apply::<$v>(x, f)
        }

        #[target_feature(enable = $feature)]
        unsafe fn cell_forward(
            gates: &mut [f32],
            c: &mut [f32],
            h: &mut [f32],
            tanh_c: Option<&mut [f32]>,
        ) {
            poly::cell_forward::<$v>(gates, c, h, tanh_c)
        }

        #[target_feature(enable = $feature)]
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
            poly::cell_backward::<$v>(d_gates, d_c, acts, tanh_c, c_prev, d_y, d_h, tiny)
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod avx2_fma;
#[cfg(test)]
mod bench;
// AVX-512 intrinsics are stable since 1.89, above the workspace's declared rust-version.
#[cfg(target_arch = "x86_64")]
#[clippy::msrv = "1.89"]
mod avx512;
#[allow(dead_code)] // unused on targets with no SIMD set (then only self_test's checks remain)
mod pack;
#[allow(dead_code)]
mod poly;
#[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
mod relaxed_simd;
mod scalar;
mod selftest;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;
#[cfg(test)]
mod tests;
mod threads;

pub use scalar::{cell_backward_reference, cell_forward_reference, gemm_reference, Scalar};
pub use selftest::self_test;
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub use threads::worker_main;
pub(crate) use threads::{
    for_each, for_ranges, hold, recurrence_split, serial, team, Barrier, Split,
};
pub use threads::{set_threads, threads, workers};
#[cfg(test)]
pub(crate) use threads::{with_forced_tasks, with_forced_team};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Whether an operand is read as stored (`N`) or transposed (`T`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trans {
    /// Use the matrix as stored.
    N,
    /// Use the transpose of the stored matrix.
    T,
}

/// `op(B)` (k × n) laid out once for repeated products with different `A` (the recurrent weights,
/// used for every time step). Made by [`Kernels::pack_b`], read by [`Kernels::gemm_packed_b`] of the
/// same kernel set; the buffer is reused when packed again, so a layer keeps one per shape.
#[derive(Clone, Debug)]
pub struct PackedB<T = f32> {
    data: Vec<T>,
    /// Where the (aligned) packed data starts in `data`.
    offset: usize,
    k: usize,
    n: usize,
    /// Panel width of the layout: 0 for a plain row-major k × n copy (the default methods), else the
    /// micro-kernel's NR.
    panel: usize,
}

impl<T> Default for PackedB<T> {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            offset: 0,
            k: 0,
            n: 0,
            panel: 0,
        }
    }
}

impl<T: Copy + Default> PackedB<T> {
    /// An empty packing, to be filled by [`Kernels::pack_b`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Rows of `op(B)` (the inner dimension).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns of `op(B)`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Keeps `op(B)` as a plain row-major k × n copy (panel width 0): the layout of the default
    /// [`Kernels::pack_b`] and of the f64 reference path.
    pub(crate) fn pack_plain(&mut self, tb: Trans, k: usize, n: usize, b: &[T], ldb: usize) {
        self.data.clear();
        self.data.resize(k * n, T::default());
        for p in 0..k {
            for j in 0..n {
                self.data[p * n + j] = match tb {
                    Trans::N => b[p * ldb + j],
                    Trans::T => b[j * ldb + p],
                };
            }
        }
        (self.offset, self.k, self.n, self.panel) = (0, k, n, 0);
    }

    /// The packed floats, after checking that they hold `k × n` in the layout of panel width `panel`.
    pub(crate) fn expect(&self, k: usize, n: usize, panel: usize) -> &[T] {
        assert!(
            self.k == k && self.n == n,
            "gemm_packed_b: B was packed as {}x{}, the product needs {k}x{n}",
            self.k,
            self.n
        );
        assert!(
            self.panel == panel,
            "gemm_packed_b: B was packed for panels of {} columns by another kernel set, this one uses {panel}",
            self.panel
        );
        &self.data[self.offset..]
    }
}

// Deliberate repeat: the Kernels method's parameter list, spelled by the trait, every impl and the generic driver it forwards to (an argument struct would change the API the layers call).
/// The operations the layers need from an instruction set.
pub trait Kernels: Sync {
    /// Name of the kernel set, reported by `init()` and the benchmarks.
    fn name(&self) -> &'static str;

    /// `C = op(A) · op(B) + (accumulate ? C : 0)` with op(A) m×k, op(B) k×n, C m×n.
    ///
    /// `A` is stored m×k (`ta = N`, row stride `lda`) or k×m (`ta = T`); likewise `B` is k×n or n×k.
    /// When `accumulate` is false `C` is overwritten, so it may hold garbage (NaN included).
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

    /// Packs `op(B)` (k × n; stored k × n for `tb = N`, n × k for `T`, row stride `ldb`) into `out`
    /// for [`gemm_packed_b`](Kernels::gemm_packed_b). The default keeps a plain row-major copy.
    fn pack_b(&self, tb: Trans, k: usize, n: usize, b: &[f32], ldb: usize, out: &mut PackedB) {
        out.pack_plain(tb, k, n, b, ldb)
    }

    /// As [`gemm`](Kernels::gemm) with `op(B)` from this set's [`pack_b`](Kernels::pack_b); bitwise
    /// the same result as `gemm` on the unpacked B. The default runs `gemm` on the plain copy.
    ///
    /// # Panics
    /// When `packed` does not hold k × n, or was packed by a set with another layout.
    fn gemm_packed_b(
        &self,
        ta: Trans,
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        packed: &PackedB,
        c: &mut [f32],
        ldc: usize,
        accumulate: bool,
    ) {
        let b = packed.expect(k, n, 0);
        self.gemm(ta, Trans::N, m, n, k, a, lda, b, n, c, ldc, accumulate);
    }

    /// `x = 1 / (1 + exp(-x))` in place.
    fn sigmoid(&self, x: &mut [f32]);

    /// `x = tanh(x)` in place.
    fn tanh(&self, x: &mut [f32]);

    /// One LSTM row's pointwise forward in one pass: `gates` (4H) holds the pre-activations i, f, g, o
    /// (both biases and both products added), `c` (H) the previous cell state, replaced by
    /// `c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)`, and `h` (H) receives `σ(o) ⊙ tanh(c')`. With `tanh_c`
    /// (training) the activations overwrite `gates` and `tanh_c` (H) receives `tanh(c')`, the cache the
    /// backward pass reads; without it (inference) `gates` is left as scratch and nothing is cached.
    /// The default is the scalar reference.
    fn cell_forward(
        &self,
        gates: &mut [f32],
        c: &mut [f32],
        h: &mut [f32],
        tanh_c: Option<&mut [f32]>,
    ) {
        cell_forward_reference(gates, c, h, tanh_c)
    }

    /// One LSTM row's pointwise backward in one pass, from the forward's cache: activations `acts`
    /// (4H), `tanh_c` (H), the previous cell state `c_prev` (H); this step's output gradient `d_y` (H)
    /// and recurrent gradient `d_h` (H, dL/dh' from the next step). Writes the pre-activation gate
    /// gradients `d_gates` (4H) and replaces `d_c` (H, dL/dc' from the next step) by dL/dc. Results
    /// below `tiny` in magnitude become zero. The default is the scalar reference.
    #[allow(clippy::too_many_arguments)]
    fn cell_backward(
        &self,
        d_gates: &mut [f32],
        d_c: &mut [f32],
        acts: &[f32],
        tanh_c: &[f32],
        c_prev: &[f32],
        d_y: &[f32],
        d_h: &[f32],
        tiny: f32,
    ) {
        cell_backward_reference(d_gates, d_c, acts, tanh_c, c_prev, d_y, d_h, tiny)
    }
}

/// One row of the kernel table: a set and whether this CPU can run it.
struct Entry {
    set: &'static dyn Kernels,
    supported: fn() -> bool,
}

fn always() -> bool {
    true
}

/// Every set compiled into this build, in increasing order of preference.
static TABLE: &[Entry] = &[
    Entry {
        set: &Scalar,
        supported: always,
    },
    #[cfg(target_arch = "x86_64")]
    Entry {
        set: &avx2_fma::INSTANCE,
        supported: avx2_fma::supported,
    },
    #[cfg(target_arch = "x86_64")]
    Entry {
        set: &avx512::INSTANCE,
        supported: avx512::supported,
    },
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    Entry {
        set: &simd128::INSTANCE,
        supported: always,
    },
    // Only in the `+relaxed-simd` build, which the loader instantiates after validating the feature.
    #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
    Entry {
        set: &relaxed_simd::INSTANCE,
        supported: always,
    },
];

/// Index into [`TABLE`] of the active set; `UNSET` until first use.
static ACTIVE: AtomicUsize = AtomicUsize::new(UNSET);
const UNSET: usize = usize::MAX;
/// The process default, computed once: the environment override, else the best supported set.
static DEFAULT: OnceLock<(usize, Option<String>)> = OnceLock::new();

fn index_of(name: &str) -> Option<usize> {
    TABLE
        .iter()
        .position(|e| e.set.name() == name && (e.supported)())
}

fn default_choice() -> &'static (usize, Option<String>) {
    DEFAULT.get_or_init(|| {
        let best = TABLE.iter().rposition(|e| (e.supported)()).unwrap_or(0);
        // wasm32-unknown-unknown has no environment; the JS side calls `select` instead.
        #[cfg(not(target_arch = "wasm32"))]
        if let Ok(name) = std::env::var("CELLSTATE_KERNELS") {
            return match index_of(&name) {
                Some(i) => (i, None),
                None => {
                    let note = format!(
                        "CELLSTATE_KERNELS={name} is not available here (available: {}); using {}",
                        available().join(", "),
                        TABLE[best].set.name()
                    );
                    eprintln!("cellstate: {note}");
                    (best, Some(note))
                }
            };
        }
        (best, None)
    })
}

/// Runs [`self_test`] on the set called `name`: `Ok` when it agrees with the scalar reference.
///
/// # Errors
/// The first disagreement, or that no such set exists on this machine.
pub fn self_test_by_name(name: &str) -> Result<(), String> {
    match by_name(name) {
        Some(set) => self_test(set),
        None => Err(format!(
            "no kernel set named {name:?} here; available: {}",
            available().join(", ")
        )),
    }
}

/// The kernel set chosen for this process: one relaxed atomic load after the first call.
pub fn active() -> &'static dyn Kernels {
    let mut i = ACTIVE.load(Ordering::Relaxed);
    if i == UNSET {
        let chosen = default_choice().0;
        // A concurrent `select` wins over the default.
        i = match ACTIVE.compare_exchange(UNSET, chosen, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => chosen,
            Err(current) => current,
        };
    }
    TABLE[i].set
}

/// Why the environment override was ignored, if it was (also printed once to stderr), so `init()`
/// can report it rather than degrade silently.
pub fn override_note() -> Option<&'static str> {
    default_choice().1.as_deref()
}

/// The set called `name`, if it is compiled in and this CPU supports it.
pub fn by_name(name: &str) -> Option<&'static dyn Kernels> {
    index_of(name).map(|i| TABLE[i].set)
}

/// Names of the sets this build and CPU can run, scalar first, best last.
pub fn available() -> Vec<&'static str> {
    TABLE
        .iter()
        .filter(|e| (e.supported)())
        .map(|e| e.set.name())
        .collect()
}

/// Makes `name` the active set for the rest of the process (tests and benchmarks; on wasm the only
/// way to force the scalar reference).
///
/// # Errors
/// When `name` is not in [`available`].
pub fn select(name: &str) -> Result<(), String> {
    let i = index_of(name).ok_or_else(|| {
        format!(
            "kernel set {name:?} is not available (available: {})",
            available().join(", ")
        )
    })?;
    ACTIVE.store(i, Ordering::Relaxed);
    Ok(())
}

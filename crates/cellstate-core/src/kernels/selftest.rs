//! The sweep that checks a kernel set against [`Scalar`]: shipped in the library (not `#[cfg(test)]`)
//! so the wasm build runs the very same check inside wasm from JavaScript. Deterministic inputs, no
//! external crates, no timing.

use super::threads::with_forced_tasks;
use super::{Kernels, PackedB, Scalar, Trans};

/// Inner dimensions up to 12 cover every remainder of the 6/12-row and 8/16/32-column tiles; the
/// larger sizes cross the 96-row block, WIDE the column block (2048 columns at k ≤ 128, 992 or 1000
/// at k = 261), SPLIT's k > 512 the 128-deep blocks (up to 512 a product is one k-block), and
/// SPLIT's row counts leave 1-4 rows past whole 6- or 12-row panels (the last panel and the rest
/// then run as two smaller tiles where a set has them; 64 and 32 are the benchmark's batch and half
/// of it), and its widths that are whole 32-column panels let a set read A in place
/// (`MicroKernel::DIRECT`, up to 64 columns; 96 and 128 pack it), over full and partial row panels
/// and one or several k-blocks; widths
/// that end half a panel in (40 for 16-column sets, 16 and 48 for 32-column ones) take the
/// half-width tiles (`MicroKernel::HALF`), packed and in place.
const SMALL: std::ops::RangeInclusive<usize> = 0..=12;
const LARGE: [usize; 8] = [1, 5, 12, 17, 31, 33, 65, 257];
const WIDE: [(usize, usize, usize); 2] = [(5, 2049, 3), (13, 4099, 261)];
const SPLIT: [(usize, usize, usize); 16] = [
    (16, 40, 20),
    (28, 33, 130),
    (64, 96, 17),
    (32, 64, 9),
    (100, 35, 3),
    (14, 31, 7),
    (1, 32, 5),
    (13, 64, 129),
    (24, 32, 300),
    (65, 128, 7),
    (5, 96, 257),
    (101, 2080, 2),
    (64, 16, 64),
    (24, 48, 130),
    (24, 32, 640),
    (13, 48, 529),
];
/// Tasks the split variant is cut into: 3 leaves an uneven last part on most tile grids.
const SPLIT_TASKS: usize = 3;

/// Checks `set` against the scalar reference: GEMM over every m, n, k in 0..=12, a cross-product of
/// 1..=257, and two shapes wider than a column block, for all four transposition cases, accumulating
/// and overwriting (C pre-filled with NaN), with leading dimensions both tight and padded; then
/// sigmoid and tanh against f32 std over special values and a dense sweep. Calls `set` directly, so a
/// SIMD set is exercised even where a caller might pick another path by size.
///
/// Every GEMM case is also run split into [`SPLIT_TASKS`] tasks whatever its size (on the pool when
/// [`threads`](super::threads) > 1), and through [`Kernels::pack_b`] + [`Kernels::gemm_packed_b`],
/// split and not: each must equal the plain call bit for bit, since only output tiles are divided.
///
/// # Errors
/// A description of the first mismatch.
pub fn self_test(set: &dyn Kernels) -> Result<(), String> {
    let mut shapes = Vec::new();
    for m in SMALL {
        for n in SMALL {
            for k in SMALL {
                shapes.push((m, n, k));
            }
        }
    }
    for m in LARGE {
        for n in LARGE {
            for k in LARGE {
                shapes.push((m, n, k));
            }
        }
    }
    shapes.extend(WIDE);
    shapes.extend(SPLIT);
    let mut case = 0usize;
    for &(m, n, k) in &shapes {
        for ta in [Trans::N, Trans::T] {
            for tb in [Trans::N, Trans::T] {
                for accumulate in [false, true] {
                    case += 1;
                    // Padding cycles through 0..=3 so tight and loose strides both appear.
                    let pad = case % 4;
                    check_gemm(
                        set,
                        ta,
                        tb,
                        (m, n, k),
                        pad,
                        accumulate,
                        Values::Integers,
                        case,
                    )?;
                    if k > 0 {
                        check_gemm(
                            set,
                            ta,
                            tb,
                            (m, n, k),
                            pad,
                            accumulate,
                            Values::Uniform,
                            case,
                        )?;
                    }
                }
            }
        }
    }
    check_activations(set)?;
    check_cells(set)
}

/// The fused LSTM cells against the scalar reference, at every H in 0..=12, 17, 31, 33, 65, 257
/// (every vector tail of 4, 8 and 16 lanes), 3 rows each, training (caches written) and inference.
/// Forward: h, c', activations and tanh(c') within 2e-6·(1 + |ref|) (the polynomial activations are
/// within 1e-6 relative of std, kernels/poly.rs; c' and h each add one rounding of an O(1) product);
/// inference must give bitwise the training pass's h and c'. Backward, on the same inputs, runs the
/// very operations of the reference in the same order, so it must match it bit for bit.
fn check_cells(set: &dyn Kernels) -> Result<(), String> {
    let mut rng = Lcg(11);
    let mut hiddens: Vec<usize> = (0..=12).collect();
    hiddens.extend([17, 31, 33, 65, 257]);
    for h in hiddens {
        for row in 0..3 {
            // Pre-activations in [-4, 4) cover both branches of tanh's polynomial; states in [-1, 1).
            let mut gates = vec![0.0; 4 * h];
            rng.fill(&mut gates, Values::Uniform);
            gates.iter_mut().for_each(|v| *v *= 4.0);
            let mut c = vec![0.0; h];
            rng.fill(&mut c, Values::Uniform);
            let c_prev = c.clone();
            let (mut want_g, mut want_c, mut want_h, mut want_t) =
                (gates.clone(), c.clone(), vec![0.0; h], vec![0.0; h]);
            Scalar.cell_forward(&mut want_g, &mut want_c, &mut want_h, Some(&mut want_t));
            let (mut got_g, mut got_c, mut got_h, mut got_t) = (
                gates.clone(),
                c.clone(),
                vec![f32::NAN; h],
                vec![f32::NAN; h],
            );
            set.cell_forward(&mut got_g, &mut got_c, &mut got_h, Some(&mut got_t));
            let near = |what: &str, got: &[f32], want: &[f32]| -> Result<(), String> {
                match got
                    .iter()
                    .zip(want)
                    .position(|(g, w)| (g - w).abs() > 2e-6 * (1.0 + w.abs()))
                {
                    Some(u) => Err(format!(
                        "{} cell_forward H={h} row {row}: {what}[{u}] = {:e}, scalar gives {:e}",
                        set.name(),
                        got[u],
                        want[u]
                    )),
                    None => Ok(()),
                }
            };
            near("h", &got_h, &want_h)?;
            near("c", &got_c, &want_c)?;
            near("acts", &got_g, &want_g)?;
            near("tanh_c", &got_t, &want_t)?;
            let (mut inf_g, mut inf_c, mut inf_h) = (gates.clone(), c.clone(), vec![f32::NAN; h]);
            set.cell_forward(&mut inf_g, &mut inf_c, &mut inf_h, None);
            let same =
                |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
            if !same(&inf_h, &got_h) || !same(&inf_c, &got_c) {
                return Err(format!(
                    "{} cell_forward H={h}: inference differs from training",
                    set.name()
                ));
            }

            // Backward from the scalar forward's cache; one value below the flush threshold.
            let (mut d_y, mut d_h, mut d_c) = (vec![0.0; h], vec![0.0; h], vec![0.0; h]);
            rng.fill(&mut d_y, Values::Uniform);
            rng.fill(&mut d_h, Values::Uniform);
            rng.fill(&mut d_c, Values::Uniform);
            if h > 0 {
                d_y[0] = 0.0;
                d_h[0] = 1e-32;
                d_c[0] = 0.0;
            }
            let tiny = 1e-30;
            let backward = |ks: &dyn Kernels| {
                let (mut dg, mut dc) = (vec![f32::NAN; 4 * h], d_c.clone());
                ks.cell_backward(
                    &mut dg, &mut dc, &want_g, &want_t, &c_prev, &d_y, &d_h, tiny,
                );
                (dg, dc)
            };
            let (want_dg, want_dc) = backward(&Scalar);
            let (got_dg, got_dc) = backward(set);
            if !same(&got_dg, &want_dg) || !same(&got_dc, &want_dc) {
                return Err(format!(
                    "{} cell_backward H={h} row {row}: d_gates {:?} / d_c {:?}, scalar gives {:?} / {:?}",
                    set.name(),
                    &got_dg[..4.min(4 * h)],
                    &got_dc[..1.min(h)],
                    &want_dg[..4.min(4 * h)],
                    &want_dc[..1.min(h)]
                ));
            }
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Values {
    /// Integers in -4..=4: every product and sum up to k = 4099 is exact in f32, so any correct
    /// summation order must match the reference bit for bit.
    Integers,
    /// Uniform in [-1, 1): compared within a rounding-error bound.
    Uniform,
}

/// A 64-bit LCG (Knuth's MMIX constants); the high bits are plenty for test data.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }

    fn fill(&mut self, v: &mut [f32], values: Values) {
        for x in v {
            *x = match values {
                Values::Integers => (self.next() % 9) as f32 - 4.0,
                Values::Uniform => (self.next() >> 7) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0,
            };
        }
    }
}

/// Stored size of a `rows × cols` operand with row stride `ld`, plus one spare element at the
/// start so the data is not 16-byte aligned.
fn stored(rows: usize, cols: usize, ld: usize) -> usize {
    1 + if rows == 0 { 0 } else { (rows - 1) * ld + cols }
}

fn check_gemm(
    set: &dyn Kernels,
    ta: Trans,
    tb: Trans,
    (m, n, k): (usize, usize, usize),
    pad: usize,
    accumulate: bool,
    values: Values,
    case: usize,
) -> Result<(), String> {
    let (ar, ac) = if ta == Trans::N { (m, k) } else { (k, m) };
    let (br, bc) = if tb == Trans::N { (k, n) } else { (n, k) };
    let (lda, ldb, ldc) = (ac + pad, bc + (pad + 1) % 4, n + (pad + 2) % 4);
    let mut rng = Lcg(case as u64 * 2 + (values == Values::Uniform) as u64);
    let mut a = vec![0.0; stored(ar, ac, lda)];
    let mut b = vec![0.0; stored(br, bc, ldb)];
    let mut c0 = vec![0.0; stored(m, n, ldc)];
    rng.fill(&mut a, values);
    rng.fill(&mut b, values);
    if accumulate {
        rng.fill(&mut c0, values);
    } else {
        c0.fill(f32::NAN);
    }
    let (a, b) = (&a[1..], &b[1..]);
    let mut want = c0.clone();
    Scalar.gemm(
        ta,
        tb,
        m,
        n,
        k,
        a,
        lda,
        b,
        ldb,
        &mut want[1..],
        ldc,
        accumulate,
    );
    let mut got = c0.clone();
    set.gemm(
        ta,
        tb,
        m,
        n,
        k,
        a,
        lda,
        b,
        ldb,
        &mut got[1..],
        ldc,
        accumulate,
    );

    // The same product split over tasks, and with B packed once: bitwise equal to the plain call.
    let variants: [Variant<'_>; 3] = [
        ("split", &|out| {
            with_forced_tasks(SPLIT_TASKS, || {
                set.gemm(ta, tb, m, n, k, a, lda, b, ldb, out, ldc, accumulate)
            })
        }),
        ("packed B", &|out| {
            let mut packed = PackedB::new();
            set.pack_b(tb, k, n, b, ldb, &mut packed);
            set.gemm_packed_b(ta, m, n, k, a, lda, &packed, out, ldc, accumulate)
        }),
        ("packed B split", &|out| {
            let mut packed = PackedB::new();
            set.pack_b(tb, k, n, b, ldb, &mut packed);
            with_forced_tasks(SPLIT_TASKS, || {
                set.gemm_packed_b(ta, m, n, k, a, lda, &packed, out, ldc, accumulate)
            })
        }),
    ];
    for (what, run) in variants {
        let mut other = c0.clone();
        run(&mut other[1..]);
        if let Some(idx) = (0..got.len()).find(|&i| other[i].to_bits() != got[i].to_bits()) {
            return Err(format!(
                "{} gemm {ta:?}{tb:?} m={m} n={n} k={k} accumulate={accumulate}: {what} differs from the plain call at storage index {}: {} vs {}",
                set.name(),
                idx as isize - 1,
                other[idx],
                got[idx]
            ));
        }
    }

    // Rounding bound per element: (k + 2)·eps·(Σ|a||b| + |c|), the reference's own error included.
    let bound = (values == Values::Uniform).then(|| {
        let abs = |v: &[f32]| v.iter().map(|x| x.abs()).collect::<Vec<_>>();
        let mut s = abs(&c0);
        let c_init = if accumulate {
            true
        } else {
            s.fill(0.0);
            false
        };
        Scalar.gemm(
            ta,
            tb,
            m,
            n,
            k,
            &abs(a),
            lda,
            &abs(b),
            ldb,
            &mut s[1..],
            ldc,
            c_init,
        );
        s
    });
    let describe = || {
        format!(
            "{} gemm {ta:?}{tb:?} m={m} n={n} k={k} lda={lda} ldb={ldb} ldc={ldc} accumulate={accumulate} {}",
            set.name(),
            if values == Values::Integers { "integer inputs" } else { "uniform inputs" }
        )
    };
    for (idx, (&g, &w)) in got.iter().zip(&want).enumerate() {
        let inside = idx >= 1 && (idx - 1) % ldc < n && (idx - 1) / ldc < m;
        if !inside {
            if g.to_bits() != c0[idx].to_bits() {
                return Err(format!(
                    "{}: wrote outside C at storage index {}",
                    describe(),
                    idx - 1
                ));
            }
            continue;
        }
        let ok = match &bound {
            None => g == w,
            Some(s) => (g - w).abs() <= (k as f32 + 2.0) * f32::EPSILON * s[idx],
        };
        if !ok {
            let (i, j) = ((idx - 1) / ldc, (idx - 1) % ldc);
            return Err(format!("{}: C[{i}][{j}] = {g}, scalar {w}", describe()));
        }
    }
    Ok(())
}

/// Another way of computing the same product into C: its name and the call.
type Variant<'a> = (&'a str, &'a dyn Fn(&mut [f32]));

/// Runs one activation of a kernel set in place.
pub(super) type Apply = fn(&dyn Kernels, &mut [f32]);
/// The f32 std formula it is checked against.
type Reference = fn(f32) -> f32;

/// Sigmoid and tanh against f32 std: relative error at most 1e-6, absolute at most f32::MIN_POSITIVE
/// (results below the normal range may flush to zero), NaN in → NaN out, and the sign of tanh(±0).
fn check_activations(set: &dyn Kernels) -> Result<(), String> {
    let special = [
        0.0,
        1e-30,
        1e-8,
        1e-3,
        0.1,
        0.5,
        0.624,
        0.625,
        0.626,
        1.0,
        2.0,
        5.0,
        9.0,
        9.1,
        10.0,
        15.0,
        17.0,
        20.0,
        44.0,
        50.0,
        87.0,
        87.5,
        88.0,
        88.8,
        89.0,
        100.0,
        1e30,
        f32::MAX,
        f32::INFINITY,
    ];
    let mut xs: Vec<f32> = special.iter().flat_map(|&v| [v, -v]).collect();
    xs.push(f32::NAN);
    xs.push(-f32::NAN);
    // Dense sweep over [-30, 30] in steps of 1/128 (exact in f32), then off-grid points.
    xs.extend((-3840..=3840).map(|i| i as f32 / 128.0));
    let mut rng = Lcg(7);
    xs.extend((0..4001).map(|_| (rng.next() >> 8) as f32 / (1u32 << 24) as f32 * 40.0 - 20.0));
    let activations: [(&str, Apply, Reference); 2] = [
        ("sigmoid", |s, x| s.sigmoid(x), |v| 1.0 / (1.0 + (-v).exp())),
        ("tanh", |s, x| s.tanh(x), f32::tanh),
    ];
    for (name, run, reference) in activations {
        // Every length up to 33 exercises each vector tail; then the whole sweep at once.
        let mut lengths: Vec<usize> = (0..=33).collect();
        lengths.push(xs.len());
        for len in lengths {
            for start in (0..xs.len())
                .step_by(len.max(1))
                .take(if len == xs.len() { 1 } else { 8 })
            {
                let input = &xs[start..(start + len).min(xs.len())];
                let mut got = input.to_vec();
                run(set, &mut got);
                for (&x, &g) in input.iter().zip(&got) {
                    let w = reference(x);
                    let ok = if w.is_nan() {
                        g.is_nan()
                    } else if w == 0.0 && name == "tanh" {
                        g.to_bits() == w.to_bits()
                    } else {
                        (g - w).abs() <= 1e-6 * w.abs() + f32::MIN_POSITIVE
                    };
                    if !ok {
                        return Err(format!(
                            "{} {name}({x:e}) = {g:e}, std gives {w:e}",
                            set.name()
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

//! Vectorised sigmoid and tanh, written once against [`Lanes`] and instantiated per instruction set.
//!
//! `exp` is Cephes `expf`: `x = n·ln2 + r` with `|r| ≤ ln2/2` (ln2 split in two so `n·ln2_hi` is exact),
//! a degree-5 minimax polynomial for `e^r`, and `2^n` built in the exponent bits. It is only evaluated
//! on `x ≤ 0`, clamped at -88, where `n = -127` builds exactly `0.0`: results below f32's normal range
//! (`e^-87.3 ≈ 1.2e-38`) flush to zero instead of going subnormal. Measured error against f32 std in
//! `self_test`: a few ulp, under 1e-6 relative.
//!
//! - `sigmoid(x)`: with `e = exp(-|x|) ∈ (0, 1]`, `1/(1+e)` for `x ≥ 0` and `e/(1+e)` for `x < 0`; no
//!   overflow anywhere and full relative accuracy in the left tail.
//! - `tanh(x)`: Cephes `tanhf`'s odd polynomial for `|x| < 0.625` (avoids the cancellation in `1 - e`
//!   near 0), else `(1-e)/(1+e)` with `e = exp(-2|x|)`; the sign is copied from `x`, so `tanh(-0) = -0`.
//!
//! NaN inputs are passed through unchanged at the end rather than trusting each instruction set's
//! min/max NaN rules.

/// The vector operations the polynomials need; every method is `unsafe` because an implementation
/// may require a CPU feature that the caller must have detected.
pub(crate) trait Lanes: Copy {
    /// Floats per vector (at most 16).
    const WIDTH: usize;
    unsafe fn load(p: *const f32) -> Self;
    unsafe fn store(self, p: *mut f32);
    unsafe fn splat(x: f32) -> Self;
    unsafe fn add(self, o: Self) -> Self;
    unsafe fn sub(self, o: Self) -> Self;
    unsafe fn mul(self, o: Self) -> Self;
    /// `self · m + a`, fused where the instruction set has it.
    unsafe fn mul_add(self, m: Self, a: Self) -> Self;
    unsafe fn div(self, o: Self) -> Self;
    unsafe fn max(self, o: Self) -> Self;
    unsafe fn abs(self) -> Self;
    /// `|self|` with the sign bit of `src`.
    unsafe fn sign_of(self, src: Self) -> Self;
    /// Per lane: `if x < limit { if_lt } else { otherwise }`.
    unsafe fn select_lt(x: Self, limit: Self, if_lt: Self, otherwise: Self) -> Self;
    /// Per lane: `src` where `src` is NaN, else `self`.
    unsafe fn nan_from(self, src: Self) -> Self;
    /// Round to nearest, ties to even.
    unsafe fn round(self) -> Self;
    /// `2^self` for integral `self` in [-127, 127], exactly `0.0` at -127.
    unsafe fn pow2i(self) -> Self;
}

/// Which activation [`apply`] computes.
#[derive(Clone, Copy)]
pub(crate) enum Activation {
    Sigmoid,
    Tanh,
}

/// `e^t` for `t ≤ 0` (see the module notes for the clamp and flush to zero).
#[inline(always)]
unsafe fn exp_nonpositive<V: Lanes>(t: V) -> V {
    let t = t.max(V::splat(-88.0));
    let n = t.mul(V::splat(std::f32::consts::LOG2_E)).round();
    // Cephes: ln2 = 0.693359375 - 2.12194440e-4, the first part exact in 9 bits. Coefficients are
    // Cephes expf's, written at f32 precision.
    let r = n.mul_add(V::splat(-0.693_359_4), t);
    let r = n.mul_add(V::splat(2.121_944_4e-4), r);
    let mut p = V::splat(1.987_569_1e-4);
    p = p.mul_add(r, V::splat(1.398_199_9e-3));
    p = p.mul_add(r, V::splat(8.333_452e-3));
    p = p.mul_add(r, V::splat(4.166_579_6e-2));
    p = p.mul_add(r, V::splat(1.666_666_5e-1));
    p = p.mul_add(r, V::splat(0.5));
    let y = p.mul(r.mul(r)).add(r).add(V::splat(1.0));
    y.mul(n.pow2i())
}

#[inline(always)]
unsafe fn sigmoid<V: Lanes>(x: V) -> V {
    let one = V::splat(1.0);
    let e = exp_nonpositive(V::splat(0.0).sub(x.abs()));
    let d = one.div(one.add(e));
    V::select_lt(x, V::splat(0.0), e.mul(d), d).nan_from(x)
}

#[inline(always)]
unsafe fn tanh<V: Lanes>(x: V) -> V {
    let one = V::splat(1.0);
    let ax = x.abs();
    // Cephes tanhf, |x| < 0.625: x + x·z·P(z), z = x².
    let z = ax.mul(ax);
    let mut p = V::splat(-5.704_988_7e-3);
    p = p.mul_add(z, V::splat(2.063_909e-2));
    p = p.mul_add(z, V::splat(-5.373_971_6e-2));
    p = p.mul_add(z, V::splat(1.333_144_2e-1));
    p = p.mul_add(z, V::splat(-3.333_328e-1));
    let small = p.mul(z).mul_add(ax, ax);
    let e = exp_nonpositive(ax.mul(V::splat(-2.0)));
    let large = one.sub(e).div(one.add(e));
    V::select_lt(ax, V::splat(0.625), small, large)
        .sign_of(x)
        .nan_from(x)
}

/// Applies `f` in place, full vectors first, then the tail through a zero-padded stack buffer.
#[inline(always)]
pub(crate) unsafe fn apply<V: Lanes>(x: &mut [f32], f: Activation) {
    let eval = |v: V| match f {
        Activation::Sigmoid => sigmoid(v),
        Activation::Tanh => tanh(v),
    };
    let mut chunks = x.chunks_exact_mut(V::WIDTH);
    for chunk in &mut chunks {
        eval(V::load(chunk.as_ptr())).store(chunk.as_mut_ptr());
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let mut buf = [0.0f32; 16];
        buf[..rest.len()].copy_from_slice(rest);
        eval(V::load(buf.as_ptr())).store(buf.as_mut_ptr());
        rest.copy_from_slice(&buf[..rest.len()]);
    }
}

/// One LSTM row's pointwise forward, fused: `gates` (4H, pre-activation i, f, g, o with both biases
/// and both products added), `c` (H) the previous cell state, replaced by the new one; `h` (H)
/// receives `o ⊙ tanh(c')`. With `tanh_c` (training), `gates` is overwritten by the activations and
/// `tanh_c` receives `tanh(c')`, the cache the backward pass reads; without it (inference) `gates` is
/// left as scratch. One pass over the row, H/WIDTH vectors per gate, the tail zero-padded.
#[inline(always)]
pub(crate) unsafe fn cell_forward<V: Lanes>(
    gates: &mut [f32],
    c: &mut [f32],
    h: &mut [f32],
    tanh_c: Option<&mut [f32]>,
) {
    let hid = c.len();
    assert!(gates.len() == 4 * hid && h.len() == hid);
    assert!(tanh_c.as_ref().is_none_or(|t| t.len() == hid));
    let (gp, cp, hp) = (gates.as_mut_ptr(), c.as_mut_ptr(), h.as_mut_ptr());
    let tp = tanh_c.map(|t| t.as_mut_ptr());
    // Full vectors read and write the caller's rows; the tail goes through 7 × 16 floats on the stack.
    // A nested fn, not a closure: closures do not inherit the caller's target features, so the
    // lane operations would not inline.
    #[inline(always)]
    unsafe fn step<V: Lanes>(
        g: *mut f32,
        gs: usize,
        c: *mut f32,
        h: *mut f32,
        t: Option<*mut f32>,
    ) {
        let i = sigmoid(V::load(g));
        let f = sigmoid(V::load(g.add(gs)));
        let gg = tanh(V::load(g.add(2 * gs)));
        let o = sigmoid(V::load(g.add(3 * gs)));
        // c' = f ⊙ c + i ⊙ g, in the scalar reference's order of operations (no fused rounding).
        let cn = f.mul(V::load(c)).add(i.mul(gg));
        let tc = tanh(cn);
        cn.store(c);
        o.mul(tc).store(h);
        if let Some(t) = t {
            i.store(g);
            f.store(g.add(gs));
            gg.store(g.add(2 * gs));
            o.store(g.add(3 * gs));
            tc.store(t);
        }
    }
    let full = hid / V::WIDTH * V::WIDTH;
    for u in (0..full).step_by(V::WIDTH) {
        // SAFETY: u + WIDTH ≤ H, so every gate's vector lies inside `gates`, `c`, `h`, `tanh_c`.
        step::<V>(gp.add(u), hid, cp.add(u), hp.add(u), tp.map(|t| t.add(u)));
    }
    let rest = hid - full;
    if rest > 0 {
        let mut buf = [0.0f32; 7 * 16];
        let b = buf.as_mut_ptr();
        for q in 0..4 {
            std::ptr::copy_nonoverlapping(gp.add(q * hid + full), b.add(q * 16), rest);
        }
        std::ptr::copy_nonoverlapping(cp.add(full), b.add(64), rest);
        step::<V>(b, 16, b.add(64), b.add(80), tp.map(|_| b.add(96)));
        std::ptr::copy_nonoverlapping(b.add(64), cp.add(full), rest);
        std::ptr::copy_nonoverlapping(b.add(80), hp.add(full), rest);
        if let Some(t) = tp {
            for q in 0..4 {
                std::ptr::copy_nonoverlapping(b.add(q * 16), gp.add(q * hid + full), rest);
            }
            std::ptr::copy_nonoverlapping(b.add(96), t.add(full), rest);
        }
    }
}

// Deliberate repeat: the Kernels method's parameter list, spelled by the trait, every impl and the generic driver it forwards to (an argument struct would change the API the layers call).
/// One LSTM row's pointwise backward, fused (the inverse of [`cell_forward`] with its cache): from
/// the activations `acts` (4H), `tanh_c` (H), the previous cell state `c_prev` (H), this step's output
/// gradient `d_y` (H) and the recurrent `d_h` (H), writes the gate gradients `d_gates` (4H) and
/// replaces `d_c` (H, dL/dc') by dL/dc. Every result below `tiny` in magnitude is flushed to zero,
/// as in the scalar reference (lstm.rs's `TINY`: subnormals are ~100× slower).
#[inline(always)]
pub(crate) unsafe fn cell_backward<V: Lanes>(
    d_gates: &mut [f32],
    d_c: &mut [f32],
    acts: &[f32],
    tanh_c: &[f32],
    c_prev: &[f32],
    d_y: &[f32],
    d_h: &[f32],
    tiny: f32,
) {
    let hid = d_c.len();
    assert!(d_gates.len() == 4 * hid && acts.len() == 4 * hid);
    assert!(tanh_c.len() == hid && c_prev.len() == hid && d_y.len() == hid && d_h.len() == hid);
    // Pointers: [0] d_gates, [1] d_c, [2] acts, [3] tanh_c, [4] c_prev, [5] d_y, [6] d_h; gate stride
    // gs. A nested fn for the reason given in cell_forward.
    #[inline(always)]
    unsafe fn step<V: Lanes>(p: [*mut f32; 7], gs: usize, tiny: f32) {
        let one = V::splat(1.0);
        let (zero, tiny) = (V::splat(0.0), V::splat(tiny));
        #[inline(always)]
        unsafe fn flush<V: Lanes>(v: V, tiny: V, zero: V) -> V {
            V::select_lt(v.abs(), tiny, zero, v)
        }
        let (dg, dcp, a) = (p[0], p[1], p[2]);
        let (i, f) = (V::load(a), V::load(a.add(gs)));
        let (g, o) = (V::load(a.add(2 * gs)), V::load(a.add(3 * gs)));
        let tc = V::load(p[3]);
        let dh = V::load(p[6]).add(V::load(p[5]));
        let dc = V::load(dcp).add(dh.mul(o).mul(one.sub(tc.mul(tc))));
        flush(dc.mul(f), tiny, zero).store(dcp);
        flush(dc.mul(g).mul(i).mul(one.sub(i)), tiny, zero).store(dg);
        flush(dc.mul(V::load(p[4])).mul(f).mul(one.sub(f)), tiny, zero).store(dg.add(gs));
        flush(dc.mul(i).mul(one.sub(g.mul(g))), tiny, zero).store(dg.add(2 * gs));
        flush(dh.mul(tc).mul(o).mul(one.sub(o)), tiny, zero).store(dg.add(3 * gs));
    }
    let ptrs = [
        d_gates.as_mut_ptr(),
        d_c.as_mut_ptr(),
        acts.as_ptr().cast_mut(),
        tanh_c.as_ptr().cast_mut(),
        c_prev.as_ptr().cast_mut(),
        d_y.as_ptr().cast_mut(),
        d_h.as_ptr().cast_mut(),
    ];
    let full = hid / V::WIDTH * V::WIDTH;
    for u in (0..full).step_by(V::WIDTH) {
        // SAFETY: u + WIDTH ≤ H; only d_gates and d_c (pointers 0 and 1) are written.
        step::<V>(ptrs.map(|q| q.add(u)), hid, tiny);
    }
    let rest = hid - full;
    if rest > 0 {
        // Tail: [0..64) d_gates, [64..128) acts, then d_c, tanh_c, c_prev, d_y, d_h, 16 each.
        let mut buf = [0.0f32; 13 * 16];
        let b = buf.as_mut_ptr();
        for q in 0..4 {
            std::ptr::copy_nonoverlapping(ptrs[2].add(q * hid + full), b.add(64 + q * 16), rest);
        }
        for (slot, src) in [(1, 128), (3, 144), (4, 160), (5, 176), (6, 192)] {
            std::ptr::copy_nonoverlapping(ptrs[slot].add(full), b.add(src), rest);
        }
        step::<V>(
            [
                b,
                b.add(128),
                b.add(64),
                b.add(144),
                b.add(160),
                b.add(176),
                b.add(192),
            ],
            16,
            tiny,
        );
        for q in 0..4 {
            std::ptr::copy_nonoverlapping(b.add(q * 16), ptrs[0].add(q * hid + full), rest);
        }
        std::ptr::copy_nonoverlapping(b.add(128), ptrs[1].add(full), rest);
    }
}

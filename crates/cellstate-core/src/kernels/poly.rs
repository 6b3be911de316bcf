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

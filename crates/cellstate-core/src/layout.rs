//! The one re-layout of the crate: batch-first `(B, T, ..)` ↔ time-major `(T, B, ..)` (STYLE 8).
//! Every layer computes time-major; inputs and outputs are converted here and nowhere else.

/// Copies `(a, b, c)` to `(b, a, c)`: with `(a, b) = (B, T)` batch-first → time-major, with
/// `(T, B)` back. `c` is the width of one row (F, D·H, U, or 1 for ids).
pub fn swap_leading<V: Copy>(src: &[V], dst: &mut [V], a: usize, b: usize, c: usize) {
    swap_leading_map(src, dst, a, b, c, |v| v)
}

/// [`swap_leading`] converting each element on the way (token ids `i32` → `u32`).
pub fn swap_leading_map<S: Copy, D>(
    src: &[S],
    dst: &mut [D],
    a: usize,
    b: usize,
    c: usize,
    convert: impl Fn(S) -> D,
) {
    for i in 0..a {
        for j in 0..b {
            let s = (i * b + j) * c;
            let d = (j * a + i) * c;
            for (o, &v) in dst[d..d + c].iter_mut().zip(&src[s..s + c]) {
                *o = convert(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::swap_leading;

    #[test]
    fn swap_leading_round_trips_and_moves_rows() {
        let (b, t, f) = (3, 5, 2);
        let x: Vec<u32> = (0..(b * t * f) as u32).collect();
        let mut tm = vec![0; x.len()];
        swap_leading(&x, &mut tm, b, t, f);
        // Row (step s, sequence j) of the time-major copy is row (j, s) of the batch-first input.
        assert_eq!(&tm[(4 * b + 2) * f..][..f], &x[(2 * t + 4) * f..][..f]);
        let mut back = vec![0; x.len()];
        swap_leading(&tm, &mut back, t, b, f);
        assert_eq!(back, x);
    }
}

//! The input layers: token ids laid out for the LSTM (with the mask token's packing), the embedding
//! gather and its scatter-add backward. One-hot input needs no layer of its own: the LSTM gathers
//! `weight_ih_l0`'s columns for it (`ForwardInput::tokens`). Dense features only change layout.
//!
//! Shapes: B batch, T steps, V vocabulary, E embedding width; ids batch-first (B, T) in, time-major
//! (T, B) out; the table `embedding.weight` is (V, E).

use crate::float::Float;
use crate::layout::swap_leading_map;

/// Token ids `ids` (B, T) → time-major `tokens` (T, B). With `mask_token` (and no explicit lengths)
/// each sequence's real ids move to the front in order, the rest is padding, and `lengths` receives
/// each sequence's real count (at least 1: packed sequences need a step).
pub fn tokens_time_major(
    tokens: &mut Vec<u32>,
    lengths: &mut Vec<u32>,
    ids: &[i32],
    batch: usize,
    steps: usize,
    mask_token: Option<u32>,
) {
    let (n, t) = (batch, steps);
    tokens.resize(n * t, 0);
    let Some(pad) = mask_token else {
        swap_leading_map(ids, tokens, n, t, 1, |v| v as u32);
        return;
    };
    for j in 0..n {
        let row = &ids[j * t..(j + 1) * t];
        let mut len = 0;
        for &v in row.iter().filter(|&&v| v as u32 != pad) {
            tokens[len * n + j] = v as u32;
            len += 1;
        }
        for s in len..t {
            tokens[s * n + j] = pad;
        }
        lengths.push(len.max(1) as u32);
    }
}

/// `out (R, E)`: row r is row `tokens[r]` of `table (V, E)`.
pub fn embedding_forward<T: Float>(out: &mut Vec<T>, tokens: &[u32], table: &[T], dim: usize) {
    out.resize(tokens.len() * dim, T::ZERO);
    for (r, &v) in tokens.iter().enumerate() {
        let v = v as usize;
        out[r * dim..(r + 1) * dim].copy_from_slice(&table[v * dim..(v + 1) * dim]);
    }
}

/// `d_table[tokens[r]] += d_out[r]`, except for the padding row, which stays zero and untrained.
pub fn embedding_backward<T: Float>(
    d_table: &mut [T],
    d_out: &[T],
    tokens: &[u32],
    dim: usize,
    padding_idx: Option<u32>,
) {
    for (r, &v) in tokens.iter().enumerate() {
        if Some(v) == padding_idx {
            continue;
        }
        let v = v as usize;
        d_table[v * dim..(v + 1) * dim]
            .iter_mut()
            .zip(&d_out[r * dim..(r + 1) * dim])
            .for_each(|(a, &b)| *a += b);
    }
}

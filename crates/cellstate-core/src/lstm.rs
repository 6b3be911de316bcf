//! The LSTM layer: `sequence_forward` and `sequence_backward` through time, PyTorch's `nn.LSTM` semantics.
//!
//! Shapes: B batch, T steps, F input features, H hidden, G = 4H gates packed i, f, g, o (PyTorch order),
//! D directions, L layers, I_k the input width of layer k (F for k = 0, D·H after).
//! Reference: https://pytorch.org/docs/stable/generated/torch.nn.LSTM.html
//!
//! ```text
//! i = σ(W_ii x + b_ii + W_hi h + b_hi)   f = σ(W_if x + b_if + W_hf h + b_hf)
//! g = tanh(W_ig x + b_ig + W_hg h + b_hg) o = σ(W_io x + b_io + W_ho h + b_ho)
//! c' = f ⊙ c + i ⊙ g                      h' = o ⊙ tanh(c')
//! ```
//!
//! Parameters live in one flat buffer in PyTorch's own layout and order (`weight_ih_l0` (G, I_0),
//! `weight_hh_l0` (G, H), `bias_ih_l0`, `bias_hh_l0`, then `_reverse`, then layer 1, ...), so a state dict
//! needs no re-layout. Internally activations are time-major `[T][B][..]`; batch-first input and output
//! are transposed once at the boundary.
//!
//! Lengths follow `pack_padded_sequence(..., enforce_sorted=False)`: at steps t ≥ len(b) the state of
//! sequence b is carried unchanged and its output is zero; the reverse direction therefore starts at
//! step len(b) − 1 from h0.

use crate::dropout::{dropout_backward, dropout_forward};
use crate::error::{check_finite, check_len};
use crate::float::Float;
use crate::kernels::{self, Kernels, PackedB, Trans};
use crate::layout::swap_leading;
use crate::rng::Rng;
use crate::{Error, Result};
use serde::Serialize;

/// The shape of an LSTM: PyTorch's constructor arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LstmConfig {
    /// F: features per step of the input.
    pub input_size: usize,
    /// H: hidden units per direction.
    pub hidden_size: usize,
    /// L: stacked layers.
    pub num_layers: usize,
    /// Whether each layer also runs right to left (D = 2).
    pub bidirectional: bool,
}

/// One named parameter inside the flat buffer; serialises as `{"name", "offset", "shape"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParamEntry {
    /// PyTorch's state-dict name, e.g. `weight_hh_l1_reverse`.
    pub name: String,
    /// Offset in elements into the flat parameter buffer.
    pub offset: usize,
    /// PyTorch's shape, e.g. `[4H, I]`.
    pub shape: Vec<usize>,
}

impl ParamEntry {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the parameter has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Largest size accepted for any one dimension (crate::limits owns it).
const MAX_DIM: usize = crate::limits::MAX_SIZE;

impl LstmConfig {
    /// Checks that every size is usable.
    ///
    /// # Errors
    /// `Error::Value` naming the field when a size is zero or absurdly large.
    pub fn validate(&self) -> Result<()> {
        // The limits and their messages belong to crate::limits (one owner for every backend).
        crate::limits::check_lstm(self, 2)
    }

    /// D: 2 when bidirectional, else 1.
    pub fn directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// I_k: the input width of layer k.
    pub fn layer_input(&self, k: usize) -> usize {
        if k == 0 {
            self.input_size
        } else {
            self.directions() * self.hidden_size
        }
    }

    /// Forward FLOPs of a call on `batch` sequences of `steps` steps, `2·B·T·4H·(I_k + H)` over layers
    /// and directions (token input counted as dense): what [`kernels::hold`] weighs a call by.
    pub(crate) fn forward_flop(&self, batch: usize, steps: usize) -> usize {
        let g = 4 * self.hidden_size;
        (0..self.num_layers)
            .map(|k| {
                self.directions() * 2 * batch * steps * g * (self.layer_input(k) + self.hidden_size)
            })
            .sum()
    }

    /// Total number of parameters.
    pub fn param_count(&self) -> usize {
        let g = 4 * self.hidden_size;
        (0..self.num_layers)
            .map(|k| self.directions() * (g * self.layer_input(k) + g * self.hidden_size + 2 * g))
            .sum()
    }

    /// The parameter table in PyTorch's state-dict order.
    pub fn param_table(&self) -> Vec<ParamEntry> {
        let (h, g) = (self.hidden_size, 4 * self.hidden_size);
        let mut table = Vec::new();
        let mut offset = 0;
        for k in 0..self.num_layers {
            for d in 0..self.directions() {
                let suffix = if d == 1 { "_reverse" } else { "" };
                for (kind, shape) in [
                    ("weight_ih", vec![g, self.layer_input(k)]),
                    ("weight_hh", vec![g, h]),
                    ("bias_ih", vec![g]),
                    ("bias_hh", vec![g]),
                ] {
                    let entry = ParamEntry {
                        name: format!("{kind}_l{k}{suffix}"),
                        offset,
                        shape,
                    };
                    offset += entry.len();
                    table.push(entry);
                }
            }
        }
        table
    }

    /// PyTorch's initialisation: every parameter uniform in ±1/√H, drawn from `rng` in table order.
    pub fn init_params(&self, rng: &mut Rng, out: &mut [f32]) {
        let bound = 1.0 / (self.hidden_size as f32).sqrt();
        for v in out {
            *v = rng.uniform(-bound, bound);
        }
    }
}

/// Offsets of one (layer, direction)'s four parameters in the flat buffer, and its input width.
#[derive(Clone, Copy, Debug)]
struct ParamOffsets {
    w_ih: usize,
    w_hh: usize,
    b_ih: usize,
    b_hh: usize,
    input: usize,
}

/// What the forward pass keeps for the backward pass, for one (B, T); reused while the shape holds.
#[derive(Default)]
struct Cache<T> {
    batch: usize,
    steps: usize,
    /// `xs[k]`: input of layer k, `[T][B][I_k]`; `xs[L]` is the last layer's output `[T][B][D·H]`.
    /// With token input `xs[0]` stays empty and `tokens` holds the ids `[T][B]`.
    xs: Vec<Vec<T>>,
    tokens: Vec<u32>,
    /// Dropout scale factors (0 or 1/(1 − p)) applied to `xs[k]`, k ≥ 1; empty when dropout was off.
    drop: Vec<Vec<T>>,
    /// Per (layer, direction): gates after activation `[T][B][G]`.
    acts: Vec<Vec<T>>,
    /// Per (layer, direction): the state each step started from, `[T][B][H]`.
    h_prev: Vec<Vec<T>>,
    c_prev: Vec<Vec<T>>,
    /// Per (layer, direction): tanh of the new cell state, `[T][B][H]`.
    tanh_c: Vec<Vec<T>>,
    /// `[T][B]`: 1 at real steps, 0 at padding.
    mask: Vec<u8>,
    /// Whether any step is padding (lets the common case skip mask checks).
    masked: bool,
    /// `[L·D][B][H]` initial and final states.
    h0: Vec<T>,
    c0: Vec<T>,
    h_n: Vec<T>,
    c_n: Vec<T>,
    /// Whether a forward pass has filled this cache since the last backward shape change.
    ready: bool,
    /// Whether that pass kept what the backward pass reads (acts, h_prev, c_prev, tanh_c): false
    /// after [`LstmLayer::sequence_forward_inference`].
    cached: bool,
}

/// Scratch for the backward pass, sized for the cache's (B, T).
#[derive(Default)]
struct BackwardScratch<T> {
    d_gates: Vec<T>,
    d_y: Vec<T>,
    d_x: Vec<T>,
    d_h: Vec<T>,
    d_c: Vec<T>,
    d_h_next: Vec<T>,
    d_h0: Vec<T>,
    d_c0: Vec<T>,
}

/// Inputs of a forward pass.
#[derive(Clone, Copy, Debug, Default)]
pub struct ForwardInput<'a, T = f32> {
    /// The input, `(B, T, F)` when `batch_first`, else `(T, B, F)`; empty when `tokens` is given.
    pub x: &'a [T],
    /// One-hot input as token ids `(B, T)` / `(T, B)`, each below F: layer 0's input product becomes a
    /// column gather of `weight_ih_l0`, the same numbers as `one_hot(ids) @ W_ihᵀ` without the product.
    pub tokens: Option<&'a [u32]>,
    /// B.
    pub batch: usize,
    /// T.
    pub steps: usize,
    /// Layout of `x` and of the output.
    pub batch_first: bool,
    /// Initial hidden state `(L·D, B, H)`, zeros when absent.
    pub h0: Option<&'a [T]>,
    /// Initial cell state `(L·D, B, H)`, zeros when absent.
    pub c0: Option<&'a [T]>,
    /// True length of each sequence, each in 1..=T.
    pub lengths: Option<&'a [u32]>,
}

/// Upstream gradients of a backward pass; absent ones are zero.
#[derive(Clone, Copy, Debug, Default)]
pub struct BackwardInput<'a, T = f32> {
    /// dL/d output, laid out as the forward output was.
    pub d_output: Option<&'a [T]>,
    /// dL/d h_n, `(L·D, B, H)`.
    pub d_h_n: Option<&'a [T]>,
    /// dL/d c_n, `(L·D, B, H)`.
    pub d_c_n: Option<&'a [T]>,
}

/// The LSTM computation over parameters it does not own: shape, caches and scratch. [`Lstm`] pairs it
/// with its own parameters; a model keeps it beside its other layers over one flat parameter buffer.
pub struct LstmLayer<T: Float = f32> {
    config: LstmConfig,
    table: Vec<ParamEntry>,
    cache: Cache<T>,
    scratch: BackwardScratch<T>,
    /// W_hh of the direction being run, packed once for its T recurrent products (`op = W_hhᵀ`,
    /// H × G, forward; `W_hh`, G × H, backward). Packing per step re-read 4 MB per step at H = 512.
    packed_w_hh: PackedB<T>,
    /// A recurrence on a team ([`kernels::Split::Team`]): each member's share of W_hh packed once
    /// per call (forward: its rows of all four gates, transposed, H × 4·n_u; backward: its columns,
    /// G × n_u), the rows gathered for it, and the members' scratch (see [`TeamScratch`]).
    team_packed: Vec<PackedB<T>>,
    /// `weight_ih_l0`ᵀ packed for the inference forward on batch-first input (one product per
    /// batch row against it).
    packed_w_ih: PackedB<T>,
    team_rows: Vec<T>,
    team_scratch: Vec<T>,
    /// The second buffer of the running h (`[B][H]`) a team publishes each step into.
    team_h: Vec<T>,
    /// One-hot input only: `weight_ih_l0` transposed, (V, G), so the gather of a token's column reads
    /// one contiguous row instead of G floats V apart; in the backward pass, dW_ihᵀ likewise.
    w_ih_t: Vec<T>,
    /// b_ih + b_hh of the (layer, direction) being run: G.
    bias_sum: Vec<T>,
    /// A chunk of steps of batch-first input gathered time-major (`[S][B][F]`), for the chunked
    /// input product.
    x_chunk: Vec<T>,
    batch_first: bool,
    /// Dropout on the outputs of every layer but the last (PyTorch's `nn.LSTM(dropout=p)`).
    dropout: f32,
    training: bool,
    /// Whether the backward pass computes dL/dx of layer 0 (off when nothing reads it).
    input_gradient: bool,
    rng: Rng,
}

/// `out (cols, rows) = inᵀ` for `input (rows, cols)`, row-major; `out` is resized.
fn transpose<T: Float>(input: &[T], out: &mut Vec<T>, rows: usize, cols: usize) {
    out.clear();
    out.resize(rows * cols, T::ZERO);
    for (r, row) in input.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
}

/// A buffer that the parts of a split recurrence ([`kernels::recurrence_split`]) write in disjoint ranges
/// of rows: each part takes its own rows of every step, so no two parts ever touch one element.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T, usize);

// SAFETY: only `rows` hands out access, and its callers give each part disjoint ranges.
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: as for Sync; the buffer outlives the parts (they end before the call returns).
unsafe impl<T: Send> Send for Shared<T> {}

impl<T> Shared<T> {
    fn new(v: &mut [T]) -> Self {
        Self(v.as_mut_ptr(), v.len())
    }

    /// The whole buffer, read-only.
    ///
    /// # Safety
    /// No part writes the buffer while the slice lives (a team reads the h all members published
    /// only between the barriers that bracket the writes).
    unsafe fn all(&self) -> &[T] {
        // SAFETY: the buffer itself; no writer while it lives, by the caller's contract.
        unsafe { std::slice::from_raw_parts(self.0, self.1) }
    }

    /// `len` elements from `start`.
    ///
    /// # Safety
    /// No other live slice from this buffer overlaps them (the parts' row ranges are disjoint).
    #[allow(clippy::mut_from_ref)]
    unsafe fn rows(&self, start: usize, len: usize) -> &mut [T] {
        assert!(start + len <= self.1, "Shared::rows out of bounds");
        // SAFETY: inside the buffer (checked), exclusive by the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}

/// One direction's recurrence, shared by the parts that each run some batch rows through every
/// step. `acts`/`h_prev`/`c_prev`/`tanh_c` are the cache `[T][B][..]` of this (layer, direction).
struct Recurrence<'a, T: Float> {
    ks: &'a dyn Kernels,
    /// `op(B)` of the recurrent product: W_hhᵀ (H × G) forward, W_hh (G × H) backward.
    packed: &'a PackedB<T>,
    /// (B, T, H, direction, D·H the row width of the layer output).
    dims: (usize, usize, usize, usize, usize),
    /// Whether any step is padding, and the `[T][B]` mask.
    mask: (bool, &'a [u8]),
    acts: Shared<T>,
    h_prev: Shared<T>,
    c_prev: Shared<T>,
    tanh_c: Shared<T>,
    /// Backward only: dL/d(layer output) `[T][B][D·H]`, and the running (d_h, d_h_next, d_c), `[B][H]`.
    d_y: &'a [T],
    d_state: [Shared<T>; 3],
    /// Set when the recurrence runs on a team.
    team: Option<Team<'a, T>>,
    /// Forward over batch rows on token input: each part gathers its own rows of `acts` just before
    /// their step's product (see direction_forward), instead of one serial pass over all of them.
    gather: Option<Gather<'a, T>>,
    /// Over batch rows on dense input: each part computes its rows' input product step by step
    /// (see direction_forward), instead of reading `[T][B][G]` rows that one hoisted product wrote.
    input: Option<StepInput<'a, T>>,
}

/// Dense input read per step by [`Recurrence::forward_rows`]: row `j` of step `s` is
/// `x[s·step_stride + j·row_stride..][..F]`, so batch-first input (`row_stride = T·F`, `step_stride =
/// F`) and time-major input (`F`, `B·F`) are read in place.
struct StepInput<'a, T: Float> {
    x: &'a [T],
    features: usize,
    row_stride: usize,
    step_stride: usize,
    /// W_ihᵀ `(F, G)`, packed once per call.
    packed: &'a PackedB<T>,
    /// `b_ih + b_hh`, `(G)`.
    bias: &'a [T],
}

/// Token input's `acts` rows, `b_ih + b_hh + W_ih[:, v]`, written by the part that reads them.
struct Gather<'a, T: Float> {
    /// W_ihᵀ `(V, G)`: row v is the column of token v.
    w_ih_t: &'a [T],
    /// `b_ih + b_hh`, `(G)`.
    bias: &'a [T],
    /// Token ids `[T][B]`.
    tokens: &'a [u32],
}

/// What the members of a team share: the chunks of hidden units (each member owns a run of them),
/// their packed shares of W_hh, the claim counters, the members' scratch, the second h buffer and
/// the barrier.
struct Team<'a, T: Float> {
    /// Every chunk's units, in order; member m owns chunks `owned[m]`.
    chunks: &'a [std::ops::Range<usize>],
    owned: &'a [std::ops::Range<usize>],
    packed: &'a [PackedB<T>],
    /// Per member: how many of its chunks have been claimed since the call began (see `claim`).
    claimed: &'a [std::sync::atomic::AtomicUsize],
    scratch: Shared<T>,
    h_alt: Shared<T>,
    barrier: &'a kernels::Barrier,
}

/// Hidden units per chunk of a team: 64 keeps each chunk's product at 4·64 = 256 columns (8 AVX-512
/// panels), and gives a member several chunks, so one whose core another process holds can be
/// relieved of some.
const TEAM_CHUNK: usize = 64;

/// Above this many bytes of W_ih and W_hh together, a recurrence over batch rows does not run its
/// input product per step (each step would stream W_ih from L3 for B rows of A) but over chunks
/// of steps, as a team always does. Tests lower it so that their small shapes take both paths
/// (input size 5 per step, 150 chunked; see `row_split_and_inference_forward_change_no_bit`).
const STEP_INPUT_MAX_WEIGHT_BYTES: usize = if cfg!(test) { 32 << 10 } else { 1 << 20 };

/// Rows (B × steps) of a chunk of the input product: enough rows for the product to reuse each
/// W_ih panel well, few enough that the chunk's gate rows (8 MiB at G = 2048) are still in L3
/// when its steps read them. Tests use one step per chunk, so that every chunk boundary is crossed.
const CHUNK_ROWS: usize = if cfg!(test) { 1 } else { 2048 };

impl<T: Float> Team<'_, T> {
    /// The next unclaimed chunk of phase `round` (a step, or a step's half in the backward pass),
    /// taking member `me`'s own chunks first, then any other member's: a member whose core is taken
    /// by another process would otherwise hold every step up at the barrier. Who computes a chunk
    /// does not change its numbers, so the result is the same either way. Every chunk of a round is
    /// claimed before its barrier, so member m's counter is `(round + 1)·|owned[m]|` after it.
    fn claim(&self, me: usize, round: usize) -> Option<usize> {
        use std::sync::atomic::Ordering;
        let members = self.owned.len();
        for o in (0..members).map(|i| (me + i) % members) {
            let (own, counter) = (&self.owned[o], &self.claimed[o]);
            let end = (round + 1) * own.len();
            let mut v = counter.load(Ordering::Relaxed);
            while v < end {
                match counter.compare_exchange_weak(v, v + 1, Ordering::Relaxed, Ordering::Relaxed)
                {
                    Ok(_) => return Some(own.start + v - round * own.len()),
                    Err(now) => v = now,
                }
            }
        }
        None
    }
}

/// Floats of one member's scratch for `b` rows and chunks of up to `nu` units: two `[B][4·n_u]` gate
/// buffers and one `[B][n_u]` state.
fn team_scratch_len(b: usize, nu: usize) -> usize {
    b * (8 * nu + nu)
}

impl<T: Copy> Shared<T> {
    /// Copies the four gate columns `u0..u0 + n_u` of the `[G]` row starting at `row` into a compact
    /// `[4][n_u]` row (`compact.len() = 4·n_u`).
    ///
    /// # Safety
    /// No part writes those columns meanwhile (a team member owns its columns).
    unsafe fn gather_gates(&self, row: usize, h: usize, u0: usize, compact: &mut [T]) {
        let nu = compact.len() / 4;
        for (q, dst) in compact.chunks_exact_mut(nu).enumerate() {
            // SAFETY: the caller's columns, not written by another part.
            dst.copy_from_slice(unsafe { self.rows(row + q * h + u0, nu) });
        }
    }

    /// The reverse of [`gather_gates`](Self::gather_gates).
    ///
    /// # Safety
    /// No other part reads or writes those columns meanwhile.
    unsafe fn scatter_gates(&self, row: usize, h: usize, u0: usize, compact: &[T]) {
        let nu = compact.len() / 4;
        for (q, src) in compact.chunks_exact(nu).enumerate() {
            // SAFETY: the caller's columns, exclusive by its contract.
            unsafe { self.rows(row + q * h + u0, nu) }.copy_from_slice(src);
        }
    }

    /// `len` elements from `start`, read-only.
    ///
    /// # Safety
    /// No part writes them while the slice lives.
    unsafe fn read(&self, start: usize, len: usize) -> &[T] {
        assert!(start + len <= self.1, "Shared::read out of bounds");
        // SAFETY: inside the buffer (checked), no writer by the caller's contract.
        unsafe { std::slice::from_raw_parts(self.0.add(start), len) }
    }
}

impl<T: Float> Recurrence<'_, T> {
    /// Step index of the s-th step run: forward in time for direction 0, backward for 1.
    fn step(&self, s: usize, forward: bool) -> usize {
        let (_, t, _, d, _) = self.dims;
        if (d == 0) == forward {
            s
        } else {
            t - 1 - s
        }
    }

    fn padding(&self, step: usize, j: usize) -> bool {
        self.mask.0 && self.mask.1[step * self.dims.0 + j] == 0
    }

    /// The forward recurrence for batch rows `rows`: per step, `gates += h · W_hhᵀ` for these rows
    /// (the input product and biases are already in `acts`), then the fused cell per row, which
    /// updates the running state `h_n`/`c_n` (`[B][H]`) and writes the output rows of `y`.
    ///
    /// # Safety
    /// No other part runs rows that overlap `rows` at the same time.
    unsafe fn forward_rows(
        &self,
        rows: std::ops::Range<usize>,
        steps: std::ops::Range<usize>,
        keep_cache: bool,
        y: Shared<T>,
        h_n: Shared<T>,
        c_n: Shared<T>,
    ) {
        let (b, _, h, d, dh) = self.dims;
        let g = 4 * h;
        let (j0, nb) = (rows.start, rows.len());
        // SAFETY: only this part's rows of the state.
        let (hn, cn) = unsafe { (h_n.rows(j0 * h, nb * h), c_n.rows(j0 * h, nb * h)) };
        for s in steps {
            let step = self.step(s, true);
            let at = step * b + j0;
            // Per-step input in inference: every step's gates go to the step-0 rows of this part
            // (its own rows, kept in cache from one step to the next); else this step's rows of
            // `acts` (training keeps them: the cell leaves the activations there).
            let slot = if self.input.is_some() && !keep_cache {
                j0
            } else {
                at
            };
            // SAFETY: only this part's rows j0..j0+nb of a step or of the state.
            let gates = unsafe { self.acts.rows(slot * g, nb * g) };
            if let Some(input) = &self.input {
                // The same sums as the hoisted product: the bias, then x·W_ihᵀ added in one call.
                for row in gates.chunks_exact_mut(g) {
                    row.copy_from_slice(input.bias);
                }
                let lda = input.row_stride;
                T::gemm_packed_b(
                    self.ks,
                    Trans::N,
                    nb,
                    g,
                    input.features,
                    &input.x[step * input.step_stride + j0 * lda..],
                    lda,
                    input.packed,
                    gates,
                    g,
                    true,
                );
            }
            if let Some(gather) = &self.gather {
                for (row, &v) in gates.chunks_exact_mut(g).zip(&gather.tokens[at..at + nb]) {
                    let col = &gather.w_ih_t[v as usize * g..(v as usize + 1) * g];
                    for ((a, bb), w) in row.iter_mut().zip(gather.bias).zip(col) {
                        *a = *bb + *w;
                    }
                }
            }
            if keep_cache {
                // SAFETY: only this part's rows j0..j0+nb of a step or of the state.
                unsafe { self.h_prev.rows(at * h, nb * h) }.copy_from_slice(hn);
                // SAFETY: only this part's rows j0..j0+nb of a step or of the state.
                unsafe { self.c_prev.rows(at * h, nb * h) }.copy_from_slice(cn);
            }
            T::gemm_packed_b(
                self.ks,
                Trans::N,
                nb,
                g,
                h,
                hn,
                h,
                self.packed,
                gates,
                g,
                true,
            );
            for jj in 0..nb {
                let j = j0 + jj;
                // SAFETY: only this part's rows j0..j0+nb of a step or of the state.
                let out = unsafe { y.rows((step * b + j) * dh + d * h, h) };
                if self.padding(step, j) {
                    // Padding: the state passes through unchanged and the output is zero.
                    out.fill(T::ZERO);
                    continue;
                }
                // SAFETY: only this part's rows j0..j0+nb of a step or of the state.
                let tc = keep_cache.then(|| unsafe { self.tanh_c.rows((at + jj) * h, h) });
                let hr = &mut hn[jj * h..(jj + 1) * h];
                T::cell_forward(
                    self.ks,
                    &mut gates[jj * g..(jj + 1) * g],
                    &mut cn[jj * h..(jj + 1) * h],
                    hr,
                    tc,
                );
                out.copy_from_slice(hr);
            }
        }
    }

    /// The forward recurrence on a team, as member `me`: per step, for each chunk it claims (its own
    /// first), the chunk's gate columns `[B][4·n_u]` += h · (its rows of W_hh)ᵀ, then its cell
    /// update, publishing its units of the new h into the other h buffer; then a barrier. Each
    /// element is summed as in the one-part product (only output columns are divided), so the
    /// result is bitwise that of one thread.
    ///
    /// # Safety
    /// Every member of the team runs this at the same time with its own `me`.
    unsafe fn forward_team(
        &self,
        me: usize,
        steps: std::ops::Range<usize>,
        keep_cache: bool,
        y: Shared<T>,
        h_n: Shared<T>,
        c_n: Shared<T>,
    ) {
        let team = self.team.as_ref().expect("forward_team without a team");
        let (b, t, h, d, dh) = self.dims;
        let g = 4 * h;
        let stride = team_scratch_len(b, TEAM_CHUNK);
        // SAFETY: each member's scratch region is its own.
        let mine = unsafe { team.scratch.rows(me * stride, stride) };
        let last = steps.end == t;
        for s in steps {
            let step = self.step(s, true);
            let at = step * b;
            // h of the previous step is read whole; this step's goes into the other buffer.
            let (cur, next) = if s % 2 == 0 {
                (h_n, team.h_alt)
            } else {
                (team.h_alt, h_n)
            };
            // SAFETY: no member writes `cur` during this step (writes go to `next`, and the
            // barrier ending the previous step ordered the writes to `cur` before this read).
            let h_cur = unsafe { cur.all() };
            while let Some(chunk) = team.claim(me, s) {
                let u = team.chunks[chunk].clone();
                let (u0, nu) = (u.start, u.len());
                let gates = &mut mine[..b * 4 * nu];
                for (j, compact) in gates.chunks_exact_mut(4 * nu).enumerate() {
                    // SAFETY: the claimed chunk's gate columns of the step's rows.
                    unsafe { self.acts.gather_gates((at + j) * g, h, u0, compact) };
                }
                T::gemm_packed_b(
                    self.ks,
                    Trans::N,
                    b,
                    4 * nu,
                    h,
                    h_cur,
                    h,
                    &team.packed[chunk],
                    gates,
                    4 * nu,
                    true,
                );
                for j in 0..b {
                    let hc = &h_cur[j * h + u0..j * h + u0 + nu];
                    // SAFETY: the claimed chunk's units of row j (of the state, the step's cache
                    // rows, the output, the next h).
                    let cr = unsafe { c_n.rows(j * h + u0, nu) };
                    if keep_cache {
                        // SAFETY: as above.
                        unsafe { self.h_prev.rows((at + j) * h + u0, nu) }.copy_from_slice(hc);
                        // SAFETY: as above.
                        unsafe { self.c_prev.rows((at + j) * h + u0, nu) }.copy_from_slice(cr);
                    }
                    // SAFETY: as above.
                    let hr = unsafe { next.rows(j * h + u0, nu) };
                    // SAFETY: as above.
                    let out = unsafe { y.rows((at + j) * dh + d * h + u0, nu) };
                    if self.padding(step, j) {
                        // Padding: the state passes through unchanged and the output is zero.
                        hr.copy_from_slice(hc);
                        out.fill(T::ZERO);
                        continue;
                    }
                    let compact = &mut gates[j * 4 * nu..(j + 1) * 4 * nu];
                    // SAFETY: as above.
                    let tc = keep_cache.then(|| unsafe { self.tanh_c.rows((at + j) * h + u0, nu) });
                    T::cell_forward(self.ks, compact, cr, hr, tc);
                    out.copy_from_slice(hr);
                    if keep_cache {
                        // SAFETY: as above.
                        unsafe { self.acts.scatter_gates((at + j) * g, h, u0, compact) };
                    }
                }
            }
            team.barrier.wait();
        }
        if last && t % 2 == 1 {
            // The last step wrote the other buffer: the final h goes back into h_n, each member
            // copying the units it owns (every member is past the last barrier).
            for chunk in team.owned[me].clone() {
                let u = team.chunks[chunk].clone();
                for j in 0..b {
                    // SAFETY: this member's own units of row j; no one else touches them now.
                    let last = unsafe { team.h_alt.read(j * h + u.start, u.len()) };
                    // SAFETY: as above.
                    unsafe { h_n.rows(j * h + u.start, u.len()) }.copy_from_slice(last);
                }
            }
        }
    }

    /// The backward recurrence on a team, as member `me`, steps in the reverse of the forward order,
    /// in T + 1 rounds each ending at the barrier. In round r, for each chunk it claims: first that
    /// chunk's units of `d_h = dG · W_hh` for the step of round r − 1 (from the whole dG rows that
    /// the previous barrier completed), then the chunk's cell backward for the step of round r, which
    /// reads only those units, into its columns of `d_gates` and units of d_c. So one barrier per
    /// step, and d_h is updated in place per chunk. dL/dh0 and dL/dc0 are left in `d_state[0]` and
    /// `d_state[2]`.
    ///
    /// # Safety
    /// As for [`forward_team`](Self::forward_team).
    unsafe fn backward_team(&self, me: usize, d_gates: Shared<T>) {
        let team = self.team.as_ref().expect("backward_team without a team");
        let (b, t, h, d, dh) = self.dims;
        let g = 4 * h;
        let stride = team_scratch_len(b, TEAM_CHUNK);
        // SAFETY: each member's scratch region is its own.
        let mine = unsafe { team.scratch.rows(me * stride, stride) };
        let (a_buf, rest) = mine.split_at_mut(b * 4 * TEAM_CHUNK);
        let (dg_buf, d_h_buf) = rest.split_at_mut(b * 4 * TEAM_CHUNK);
        let (d_h, d_c) = (self.d_state[0], self.d_state[2]);
        for r in 0..=t {
            while let Some(chunk) = team.claim(me, r) {
                let u = team.chunks[chunk].clone();
                let (u0, nu) = (u.start, u.len());
                if r > 0 {
                    let prev = self.step(r - 1, false);
                    // SAFETY: every chunk's columns of that step's dG were written before the
                    // barrier that ended round r − 1, and no member writes those rows again.
                    let dg_all = unsafe { d_gates.read(prev * b * g, b * g) };
                    let out = &mut d_h_buf[..b * nu];
                    T::gemm_packed_b(
                        self.ks,
                        Trans::N,
                        b,
                        nu,
                        g,
                        dg_all,
                        g,
                        &team.packed[chunk],
                        out,
                        nu,
                        false,
                    );
                    for (j, src) in out.chunks_exact(nu).enumerate() {
                        // Padding rows pass their gradient through (d_h keeps its value).
                        if !self.padding(prev, j) {
                            // SAFETY: the claimed chunk's units of row j.
                            let dst = unsafe { d_h.rows(j * h + u0, nu) };
                            for (o, v) in dst.iter_mut().zip(src) {
                                *o = flush_tiny(*v);
                            }
                        }
                    }
                }
                if r == t {
                    continue;
                }
                let step = self.step(r, false);
                let at = step * b;
                for j in 0..b {
                    let row = (at + j) * g;
                    let compact = &mut dg_buf[j * 4 * nu..(j + 1) * 4 * nu];
                    if self.padding(step, j) {
                        compact.fill(T::ZERO);
                        // SAFETY: the claimed chunk's gate columns of the step's rows (the barrier
                        // ending this round orders these writes before any member reads the rows).
                        unsafe { d_gates.scatter_gates(row, h, u0, compact) };
                        continue;
                    }
                    let a = &mut a_buf[j * 4 * nu..(j + 1) * 4 * nu];
                    // SAFETY: the cache is read-only in the backward pass.
                    unsafe { self.acts.gather_gates(row, h, u0, a) };
                    let cell = (at + j) * h + u0;
                    // SAFETY: as above.
                    let (tanh_c, c_prev) =
                        unsafe { (self.tanh_c.read(cell, nu), self.c_prev.read(cell, nu)) };
                    // SAFETY: the claimed chunk's units of row j, last written by this chunk's
                    // claimer in this round or before the previous barrier.
                    let (dc, dhr) = unsafe { (d_c.rows(j * h + u0, nu), d_h.read(j * h + u0, nu)) };
                    T::cell_backward(
                        self.ks,
                        compact,
                        dc,
                        a,
                        tanh_c,
                        c_prev,
                        &self.d_y[(at + j) * dh + d * h + u0..][..nu],
                        dhr,
                        TINY,
                    );
                    // SAFETY: as for the padding rows above.
                    unsafe { d_gates.scatter_gates(row, h, u0, compact) };
                }
            }
            team.barrier.wait();
        }
    }

    /// The backward recurrence for batch rows `rows`, steps in the reverse of the forward order:
    /// the fused cell backward per row into `d_gates` (`[T][B][G]`), then `d_h = dG · W_hh` for
    /// these rows. Leaves dL/dh0 and dL/dc0 of these rows in `d_state[0]` and `d_state[2]`.
    ///
    /// # Safety
    /// As for [`forward_rows`](Self::forward_rows).
    unsafe fn backward_rows(&self, rows: std::ops::Range<usize>, d_gates: Shared<T>) {
        let (b, t, h, d, dh) = self.dims;
        let g = 4 * h;
        let (j0, nb) = (rows.start, rows.len());
        // SAFETY: only this part's rows of the state.
        let (mut d_h, mut d_h_next, d_c) = unsafe {
            (
                self.d_state[0].rows(j0 * h, nb * h),
                self.d_state[1].rows(j0 * h, nb * h),
                self.d_state[2].rows(j0 * h, nb * h),
            )
        };
        // Whether the current d_h lives in d_state[1] (the two swap every step).
        let mut swapped = false;
        for s in 0..t {
            let step = self.step(s, false);
            let at = step * b + j0;
            // SAFETY: only this part's rows j0..j0+nb of a step or of the state.
            let dg = unsafe { d_gates.rows(at * g, nb * g) };
            // SAFETY: only this part's rows j0..j0+nb of a step or of the state.
            let (acts, tanh_c, c_prev) = unsafe {
                (
                    self.acts.rows(at * g, nb * g),
                    self.tanh_c.rows(at * h, nb * h),
                    self.c_prev.rows(at * h, nb * h),
                )
            };
            for jj in 0..nb {
                let dg_row = &mut dg[jj * g..(jj + 1) * g];
                if self.padding(step, j0 + jj) {
                    dg_row.fill(T::ZERO);
                    continue;
                }
                let u = jj * h..(jj + 1) * h;
                T::cell_backward(
                    self.ks,
                    dg_row,
                    &mut d_c[u.clone()],
                    &acts[jj * g..(jj + 1) * g],
                    &tanh_c[u.clone()],
                    &c_prev[u.clone()],
                    &self.d_y[(at + jj) * dh + d * h..][..h],
                    &d_h[u],
                    TINY,
                );
            }
            // dL/dh_prev = dG_t · W_hh for real rows; padding rows pass their gradient through.
            T::gemm_packed_b(
                self.ks,
                Trans::N,
                nb,
                h,
                g,
                dg,
                g,
                self.packed,
                d_h_next,
                h,
                false,
            );
            d_h_next.iter_mut().for_each(|v| *v = flush_tiny(*v));
            if self.mask.0 {
                for jj in 0..nb {
                    if self.padding(step, j0 + jj) {
                        d_h_next[jj * h..(jj + 1) * h].copy_from_slice(&d_h[jj * h..(jj + 1) * h]);
                    }
                }
            }
            std::mem::swap(&mut d_h, &mut d_h_next);
            swapped = !swapped;
        }
        if swapped {
            // The last swap left dL/dh0 in d_state[1]'s rows; d_h_next now names d_state[0]'s.
            d_h_next.copy_from_slice(d_h);
        }
    }
}

/// A multi-layer, optionally bidirectional LSTM with its parameters, gradients and caches.
pub struct Lstm<T: Float = f32> {
    layer: LstmLayer<T>,
    params: Vec<T>,
    grads: Vec<T>,
}

/// Gradients below this magnitude are set to zero in the backward recurrence.
///
/// A gradient that vanishes through a long recurrence (the large benchmark config: T 200, H 512) decays
/// into subnormal floats, which x86 cores (and wasm engines on them) process about 100× slower: the
/// backward pass took 13 s instead of 0.3 s. 1e-30 is far below what any float32 loss of order 1 can
/// resolve, and every backend flushes the same values, so the backends still agree.
const TINY: f32 = 1e-30;

#[inline(always)]
fn flush_tiny<T: Float>(v: T) -> T {
    if v.abs() < T::from_f32(TINY) {
        T::ZERO
    } else {
        v
    }
}

impl<T: Float> Lstm<T> {
    /// A new LSTM with PyTorch's initialisation, drawn from `seed` (in f32, whatever `T`, so an f64
    /// reference starts from the very weights of the f32 model with the same seed).
    ///
    /// # Errors
    /// `Error::Value` when the config is unusable.
    pub fn new(config: LstmConfig, seed: u64) -> Result<Self> {
        let layer = LstmLayer::new(config)?;
        let n = config.param_count();
        let mut params = vec![0.0; n];
        config.init_params(&mut Rng::new(seed), &mut params);
        Ok(Self {
            layer,
            params: params.into_iter().map(T::from_f32).collect(),
            grads: vec![T::ZERO; n],
        })
    }

    /// The computation: shape, caches and the last pass's outputs and input gradients.
    pub fn layer(&self) -> &LstmLayer<T> {
        &self.layer
    }

    /// The shape this LSTM was built with.
    pub fn config(&self) -> &LstmConfig {
        &self.layer.config
    }

    /// Names, offsets and shapes of the parameters, in PyTorch's order.
    pub fn param_table(&self) -> &[ParamEntry] {
        &self.layer.table
    }

    /// The flat parameter buffer.
    pub fn params(&self) -> &[T] {
        &self.params
    }

    /// The flat parameter buffer, for loading and optimiser steps. Invalidates the forward cache.
    pub fn params_mut(&mut self) -> &mut [T] {
        self.layer.invalidate();
        &mut self.params
    }

    /// Replaces every parameter from a flat buffer in the table's layout. Invalidates the forward cache.
    ///
    /// # Errors
    /// `Error::Shape` when the length is wrong, `Error::Value` on a non-finite value; nothing changes then.
    pub fn set_params(&mut self, data: &[T]) -> Result<()> {
        check_len(
            "LSTM parameters",
            data.len(),
            self.params.len(),
            "(the flat parameter table)",
        )?;
        check_finite("LSTM parameters", data)?;
        self.params_mut().copy_from_slice(data);
        Ok(())
    }

    /// The flat gradient buffer (same layout as the parameters).
    pub fn grads(&self) -> &[T] {
        &self.grads
    }

    /// Sets every parameter gradient to zero.
    pub fn zero_grad(&mut self) {
        self.grads.fill(T::ZERO);
    }

    /// Runs the LSTM over a batch with its own parameters: [`LstmLayer::sequence_forward`].
    ///
    /// # Errors
    /// `Error::Shape` / `Error::Value` on bad input; nothing is changed then.
    pub fn forward(&mut self, input: &ForwardInput<'_, T>) -> Result<()> {
        crate::limits::check_lstm_call(&self.layer.config, input.batch, input.steps)?;
        let flop = self.layer.config.forward_flop(input.batch, input.steps);
        kernels::hold(flop, || self.layer.sequence_forward(&self.params, input))
    }

    /// Runs the inference forward pass with its own parameters
    /// ([`LstmLayer::sequence_forward_inference`]): the same outputs as [`Lstm::forward`], bit for bit,
    /// without the caches a backward pass needs (a backward after it is a state error).
    ///
    /// # Errors
    /// As [`Lstm::forward`].
    pub fn forward_inference(&mut self, input: &ForwardInput<'_, T>) -> Result<()> {
        crate::limits::check_lstm_inference_call(&self.layer.config, input.batch, input.steps)?;
        let flop = self.layer.config.forward_flop(input.batch, input.steps);
        kernels::hold(flop, || {
            self.layer.sequence_forward_inference(&self.params, input)
        })
    }

    /// Back-propagates through time with its own parameters ([`LstmLayer::sequence_backward`]);
    /// parameter gradients accumulate into [`Lstm::grads`].
    ///
    /// # Errors
    /// As [`LstmLayer::sequence_backward`].
    pub fn backward(&mut self, up: &BackwardInput<'_, T>) -> Result<()> {
        let (b, t) = self.layer.last_shape();
        // Backward is about twice the forward's products.
        let flop = 2 * self.layer.config.forward_flop(b, t);
        kernels::hold(flop, || {
            self.layer
                .sequence_backward(&self.params, &mut self.grads, up)
        })
    }
}

/// A parameter table as JSON: `[{"name": .., "offset": .., "shape": [..]}, ..]`.
pub fn table_json(table: &[ParamEntry]) -> String {
    serde_json::to_string(table).unwrap_or_default()
}

/// The buffers a team recurrence needs, borrowed from the layer.
struct TeamBuffers<'a, T> {
    packed: &'a mut Vec<PackedB<T>>,
    rows: &'a mut Vec<T>,
    scratch: &'a mut Vec<T>,
    h_alt: &'a mut Vec<T>,
}

/// The chunks of [`TEAM_CHUNK`] units of each member's range, in order, each member's run of chunk
/// indices, and one claim counter per member; all empty for a split over batch rows.
type TeamChunks = (
    Vec<std::ops::Range<usize>>,
    Vec<std::ops::Range<usize>>,
    Vec<std::sync::atomic::AtomicUsize>,
);

fn team_chunks(split: &kernels::Split) -> TeamChunks {
    let (mut chunks, mut owned) = (Vec::new(), Vec::new());
    if let kernels::Split::Team(units) = split {
        for u in units {
            let first = chunks.len();
            chunks.extend(
                (u.start..u.end)
                    .step_by(TEAM_CHUNK)
                    .map(|c| c..u.end.min(c + TEAM_CHUNK)),
            );
            owned.push(first..chunks.len());
        }
    }
    let claimed = owned
        .iter()
        .map(|_| std::sync::atomic::AtomicUsize::new(0))
        .collect();
    (chunks, owned, claimed)
}

impl<'a, T: Float> TeamBuffers<'a, T> {
    /// The team of a [`kernels::Split::Team`] call over these buffers (packed by `prepare`), or `None`
    /// for a split over batch rows: the one place forward and backward assemble it.
    fn team<'b>(
        self,
        split: &kernels::Split,
        (chunks, owned): (&'b [std::ops::Range<usize>], &'b [std::ops::Range<usize>]),
        claimed: &'b [std::sync::atomic::AtomicUsize],
        barrier: &'b kernels::Barrier,
    ) -> Option<Team<'b, T>>
    where
        'a: 'b,
    {
        match split {
            kernels::Split::Team(_) => Some(Team {
                chunks,
                owned,
                claimed,
                packed: self.packed,
                scratch: Shared::new(self.scratch),
                h_alt: Shared::new(self.h_alt),
                barrier,
            }),
            kernels::Split::Rows(_) => None,
        }
    }

    /// Packs each chunk's share of `w_hh` (G × H) for the products of its units: forward, its rows
    /// of the four gates, gathered and transposed (H × 4·n_u); backward, its columns (G × n_u). Sizes
    /// the scratch for `members` and the second h buffer for `b` rows. Once per call, not per step.
    fn prepare(
        &mut self,
        ks: &dyn Kernels,
        w_hh: &[T],
        (b, h): (usize, usize),
        (chunks, members): (&[std::ops::Range<usize>], usize),
        forward: bool,
    ) {
        self.packed.resize_with(chunks.len(), PackedB::new);
        for (u, packed) in chunks.iter().zip(self.packed.iter_mut()) {
            let nu = u.len();
            if forward {
                self.rows.clear();
                for q in 0..4 {
                    self.rows
                        .extend_from_slice(&w_hh[(q * h + u.start) * h..(q * h + u.end) * h]);
                }
                T::pack_b(ks, Trans::T, h, 4 * nu, self.rows, h, packed);
            } else {
                T::pack_b(ks, Trans::N, 4 * h, nu, &w_hh[u.start..], h, packed);
            }
        }
        let need = members * team_scratch_len(b, TEAM_CHUNK);
        if self.scratch.len() < need {
            self.scratch.resize(need, T::ZERO);
        }
        self.h_alt.resize(b * h, T::ZERO);
    }
}

impl<T: Float> LstmLayer<T> {
    /// The computation for `config`, with empty caches.
    ///
    /// # Errors
    /// `Error::Value` when the config is unusable.
    pub fn new(config: LstmConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            table: config.param_table(),
            config,
            cache: Cache::default(),
            scratch: BackwardScratch::default(),
            packed_w_hh: PackedB::new(),
            team_packed: Vec::new(),
            packed_w_ih: PackedB::new(),
            team_rows: Vec::new(),
            team_scratch: Vec::new(),
            team_h: Vec::new(),
            w_ih_t: Vec::new(),
            bias_sum: Vec::new(),
            x_chunk: Vec::new(),
            batch_first: true,
            dropout: 0.0,
            training: false,
            input_gradient: true,
            rng: Rng::new(0),
        })
    }

    /// The shape of this layer.
    pub fn config(&self) -> &LstmConfig {
        &self.config
    }

    /// Names, offsets (relative to this layer's block) and shapes of the parameters.
    pub fn param_table(&self) -> &[ParamEntry] {
        &self.table
    }

    /// Sets dropout between stacked layers (probability `p` in [0, 1)), active only while `training`.
    pub fn set_dropout(&mut self, p: f32, training: bool, seed: u64) {
        self.dropout = p;
        self.training = training;
        self.rng = Rng::new(seed);
    }

    /// The dropout stream's state.
    pub fn rng(&self) -> &Rng {
        &self.rng
    }

    /// Continues the dropout stream from a saved state.
    pub fn set_rng(&mut self, rng: Rng) {
        self.rng = rng;
    }

    /// Sets whether dropout is active, keeping its random stream.
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    /// Sets whether [`sequence_backward`](Self::sequence_backward) computes dL/dx of the first layer
    /// (on by default). A model whose input is a dense feature tensor or one-hot ids reads no such
    /// gradient and turns it off, saving the `(T·B, G) × (G, F)` product; [`read_d_x`](Self::read_d_x)
    /// then fails.
    pub fn set_input_gradient(&mut self, on: bool) {
        self.input_gradient = on;
    }

    /// Forgets the forward cache (after the parameters changed).
    pub fn invalidate(&mut self) {
        self.cache.ready = false;
    }

    /// Whether a forward pass has run whose cache a backward pass can use.
    pub fn has_forward(&self) -> bool {
        self.cache.ready
    }

    /// (B, T) of the last forward pass.
    pub fn last_shape(&self) -> (usize, usize) {
        (self.cache.batch, self.cache.steps)
    }

    fn offsets(&self, k: usize, d: usize) -> ParamOffsets {
        let e = &self.table[(k * self.config.directions() + d) * 4..];
        ParamOffsets {
            w_ih: e[0].offset,
            w_hh: e[1].offset,
            b_ih: e[2].offset,
            b_hh: e[3].offset,
            input: self.config.layer_input(k),
        }
    }

    fn state_len(&self, batch: usize) -> usize {
        self.config.num_layers * self.config.directions() * batch * self.config.hidden_size
    }

    /// Sizes the cache for (B, T); buffers are reallocated only when the shape changes.
    fn shape_cache(&mut self, batch: usize, steps: usize) {
        let c = &self.config;
        let (h, g, layer_dirs) = (
            c.hidden_size,
            4 * c.hidden_size,
            c.num_layers * c.directions(),
        );
        let cache = &mut self.cache;
        if cache.batch == batch && cache.steps == steps && cache.xs.len() == c.num_layers + 1 {
            return;
        }
        let tb = batch * steps;
        cache.batch = batch;
        cache.steps = steps;
        // xs[0] is sized by the forward pass: it stays empty for token input.
        cache.xs = (0..=c.num_layers)
            .map(|k| vec![T::ZERO; if k == 0 { 0 } else { tb * c.directions() * h }])
            .collect();
        cache.drop = vec![Vec::new(); c.num_layers];
        cache.acts = (0..layer_dirs).map(|_| vec![T::ZERO; tb * g]).collect();
        // What only training reads (the backward's caches and its large scratch) is sized by
        // `shape_training`, so an inference-only layer never allocates it: 60% of the cache at one
        // layer (h_prev, c_prev, tanh_c, d_gates, d_y, d_x against acts and the output).
        for v in [&mut cache.h_prev, &mut cache.c_prev, &mut cache.tanh_c] {
            *v = vec![Vec::new(); layer_dirs];
        }
        cache.mask = vec![1; tb];
        let state = layer_dirs * batch * h;
        for v in [&mut cache.h0, &mut cache.c0, &mut cache.h_n, &mut cache.c_n] {
            *v = vec![T::ZERO; state];
        }
        let s = &mut self.scratch;
        for v in [&mut s.d_gates, &mut s.d_y, &mut s.d_x] {
            *v = Vec::new();
        }
        for v in [&mut s.d_h, &mut s.d_c, &mut s.d_h_next] {
            *v = vec![T::ZERO; batch * h];
        }
        s.d_h0 = vec![T::ZERO; state];
        s.d_c0 = vec![T::ZERO; state];
    }

    /// Sizes what a training forward and its backward pass need beyond `shape_cache`, once per shape.
    fn shape_training(&mut self) {
        let (h, g) = (self.config.hidden_size, 4 * self.config.hidden_size);
        let tb = self.cache.batch * self.cache.steps;
        let cache = &mut self.cache;
        if cache.tanh_c.first().is_some_and(|v| v.len() == tb * h) {
            return;
        }
        for v in [&mut cache.h_prev, &mut cache.c_prev, &mut cache.tanh_c] {
            for layer in v.iter_mut() {
                *layer = vec![T::ZERO; tb * h];
            }
        }
        // d_y and d_x swap roles per layer; the backward pass grows them for a dense layer-0 input.
        let s = &mut self.scratch;
        s.d_gates = vec![T::ZERO; tb * g];
        let wide = tb * self.config.directions() * h;
        s.d_y = vec![T::ZERO; wide];
        s.d_x = vec![T::ZERO; wide];
    }

    /// Checks a forward input without touching any state.
    fn validate_forward(&self, params: &[T], input: &ForwardInput<'_, T>) -> Result<()> {
        let c = &self.config;
        check_len(
            "LSTM parameter block",
            params.len(),
            c.param_count(),
            "(the flat parameter table)",
        )?;
        let (b, t, f) = (input.batch, input.steps, c.input_size);
        if b == 0 || t == 0 || b > MAX_DIM || t > MAX_DIM || b.saturating_mul(t) > MAX_DIM * 16 {
            return Err(Error::Shape(format!(
                "LSTM input must have batch ≥ 1 and steps ≥ 1 (and B·T ≤ {}); got batch {b}, steps {t}",
                MAX_DIM * 16
            )));
        }
        let (bt, shape) = if input.batch_first {
            (
                "(batch, steps)",
                format!("(batch {b}, steps {t}, inputSize {f})"),
            )
        } else {
            (
                "(steps, batch)",
                format!("(steps {t}, batch {b}, inputSize {f})"),
            )
        };
        match input.tokens {
            Some(ids) => {
                check_len("token ids", ids.len(), b * t, &format!("{bt} = ({b}, {t})"))?;
                if let Some(i) = ids.iter().position(|&v| v as usize >= f) {
                    return Err(Error::Value(format!(
                        "token id {} at flat index {i} is out of range; one-hot input takes ids in 0..{f}",
                        ids[i]
                    )));
                }
            }
            None => {
                check_len("LSTM input x", input.x.len(), b * t * f, &shape)?;
                check_finite("LSTM input x", input.x)?;
            }
        }
        let state_shape = format!(
            "(numLayers·directions {}, batch {b}, hiddenSize {})",
            c.num_layers * c.directions(),
            c.hidden_size
        );
        for (name, s) in [("h0", input.h0), ("c0", input.c0)] {
            if let Some(s) = s {
                check_len(name, s.len(), self.state_len(b), &state_shape)?;
                check_finite(name, s)?;
            }
        }
        if let Some(lengths) = input.lengths {
            if lengths.len() != b {
                return Err(Error::Shape(format!(
                    "lengths has {} entries; expected one per sequence (batch {b})",
                    lengths.len()
                )));
            }
            if let Some(i) = lengths.iter().position(|&l| l == 0 || l as usize > t) {
                return Err(Error::Value(format!(
                    "lengths[{i}] = {} is out of range; each length must be in 1..={t} (the number of steps)",
                    lengths[i]
                )));
            }
        }
        Ok(())
    }

    /// Runs the LSTM over a batch of sequences with the parameters `params` (this layer's block, in
    /// table order) and keeps what the backward pass needs.
    ///
    /// # Errors
    /// `Error::Shape` / `Error::Value` on bad input; nothing is changed then.
    pub fn sequence_forward(&mut self, params: &[T], input: &ForwardInput<'_, T>) -> Result<()> {
        self.forward_pass(params, input, true)
    }

    /// As [`sequence_forward`](Self::sequence_forward) for inference: the outputs and final states
    /// only, none of the backward pass's caches (no activations, previous states or tanh(c) are
    /// stored), so a [`sequence_backward`](Self::sequence_backward) after it is refused.
    ///
    /// # Errors
    /// As [`sequence_forward`](Self::sequence_forward).
    pub fn sequence_forward_inference(
        &mut self,
        params: &[T],
        input: &ForwardInput<'_, T>,
    ) -> Result<()> {
        self.forward_pass(params, input, false)
    }

    fn forward_pass(
        &mut self,
        params: &[T],
        input: &ForwardInput<'_, T>,
        keep_cache: bool,
    ) -> Result<()> {
        self.validate_forward(params, input)?;
        let (b, t) = (input.batch, input.steps);
        let f = self.config.input_size;
        self.shape_cache(b, t);
        if keep_cache {
            self.shape_training();
        }
        self.batch_first = input.batch_first;
        let cache = &mut self.cache;
        match input.tokens {
            Some(ids) => {
                cache.xs[0].clear();
                cache.tokens.resize(b * t, 0);
                if input.batch_first {
                    for (j, row) in ids.chunks_exact(t).enumerate() {
                        for (s, &v) in row.iter().enumerate() {
                            cache.tokens[s * b + j] = v;
                        }
                    }
                } else {
                    cache.tokens.copy_from_slice(ids);
                }
            }
            None => {
                cache.tokens.clear();
                cache.xs[0].resize(b * t * f, T::ZERO);
                if input.batch_first && !keep_cache {
                    // Inference reads batch-first x in place (see direction_forward): only the
                    // backward pass needs the time-major copy (7.7 MB at the seed tier, 12% of
                    // its inference forward in perf).
                } else if input.batch_first {
                    swap_leading(input.x, &mut cache.xs[0], b, t, f);
                } else {
                    cache.xs[0].copy_from_slice(input.x);
                }
            }
        }
        match input.h0 {
            Some(h0) => cache.h0.copy_from_slice(h0),
            None => cache.h0.fill(T::ZERO),
        }
        match input.c0 {
            Some(c0) => cache.c0.copy_from_slice(c0),
            None => cache.c0.fill(T::ZERO),
        }
        cache.masked = false;
        match input.lengths {
            Some(lengths) => {
                for s in 0..t {
                    for (j, &l) in lengths.iter().enumerate() {
                        let real = s < l as usize;
                        cache.mask[s * b + j] = real as u8;
                        cache.masked |= !real;
                    }
                }
            }
            None => cache.mask.fill(1),
        }
        let ks = kernels::active();
        let dropping = self.training && self.dropout > 0.0;
        for k in 0..self.config.num_layers {
            for d in 0..self.config.directions() {
                let x_batch_first =
                    (k == 0 && input.tokens.is_none() && input.batch_first && !keep_cache)
                        .then_some(input.x);
                self.direction_forward(ks, params, k, d, keep_cache, x_batch_first);
            }
            // Dropout on this layer's output, the next layer's input (not after the last layer).
            let next = k + 1;
            if next < self.config.num_layers {
                let drop = &mut self.cache.drop[next];
                if dropping {
                    dropout_forward(&mut self.rng, self.dropout, &mut self.cache.xs[next], drop);
                } else {
                    drop.clear();
                }
            }
        }
        self.cache.ready = true;
        self.cache.cached = keep_cache;
        Ok(())
    }

    /// One direction of one layer: input product hoisted out of the loop, then T recurrent steps.
    /// `x_batch_first`: layer 0's input `(B, T, F)` as given, read in place instead of `xs[0]`.
    fn direction_forward(
        &mut self,
        ks: &dyn Kernels,
        p: &[T],
        k: usize,
        d: usize,
        keep_cache: bool,
        x_batch_first: Option<&[T]>,
    ) {
        let off = self.offsets(k, d);
        let dirs = self.config.directions();
        let (h, g) = (self.config.hidden_size, 4 * self.config.hidden_size);
        let cache = &mut self.cache;
        let (b, t) = (cache.batch, cache.steps);
        // Index of this (layer, direction) among the L·D: its cache and its rows of the states.
        let layer_dir = k * dirs + d;
        let (xs_in, xs_out) = cache.xs.split_at_mut(k + 1);
        let x = &xs_in[k];
        let y = &mut xs_out[0];
        let acts = &mut cache.acts[layer_dir];

        // acts = X · W_ihᵀ + (b_ih + b_hh): one (T·B, I) × (I, G) product for all steps, or for token
        // input a gather of W_ih's columns (the product with a one-hot row picks one column). Each
        // path writes the bias just before its product reads it back (the gather in the same pass,
        // the per-row products one batch row at a time, while those rows are in L2): a separate pass
        // over acts (13 MB at the medium tier) was 8% of medium inference in perf.
        let (b_ih, b_hh) = (&p[off.b_ih..off.b_ih + g], &p[off.b_hh..off.b_hh + g]);
        let bias = &mut self.bias_sum;
        bias.clear();
        bias.extend(b_ih.iter().zip(b_hh).map(|(a, b)| *a + *b));
        let bias = &*bias;
        let w_ih = &p[off.w_ih..off.w_ih + g * off.input];
        let split = kernels::recurrence_split(b, h, 2 * t * b * g * h, g * h * size_of::<T>());
        let tokens = k == 0 && !cache.tokens.is_empty();
        // Over batch rows, each part gathers its own rows as it reaches their step (the rows it then
        // reads are in its cache, and the pass is split over the threads): the serial gather
        // (6400 rows at the seed tier) was the largest serial stretch of a 2-thread seed step.
        let gather_in_parts = tokens && matches!(split, kernels::Split::Rows(_));
        if tokens {
            // W_ihᵀ (V, G) once per call: each step's gather then reads one contiguous row.
            transpose(w_ih, &mut self.w_ih_t, g, off.input);
        }
        // Over batch rows on dense input, the input product runs per step in forward_rows, so the
        // step's gate rows are still in cache for the recurrent product and the cell. Hoisted, it
        // wrote `[T][B][G]` (13 MB at the medium tier) that they then read back from memory:
        // medium inference ran 1.09-1.12× faster, training 1.035-1.04×. Inference reuses
        // one block of rows for every step; training writes each step's rows of `acts` (its cache).
        // That holds while W_ih and W_hh stay in cache from step to step; larger ones would be
        // streamed from L3 every step for only B rows of A, so the product runs over chunks of
        // steps instead (CHUNK_ROWS), each just before its steps, as on a team. At the large tier
        // (2 + 4 MiB of weights), one thread, the two alternating call by call in one process on a
        // 2-core Zen 3 EPYC: inference 1.18-1.22× (whole T·B rows 1.18-1.19×, chunks of 512 rows
        // 1.10×), training 1.03×; on the team (2 threads) level with the whole one, 1.01-1.02×.
        let small = g * (off.input + h) * size_of::<T>() <= STEP_INPUT_MAX_WEIGHT_BYTES;
        let per_step = !tokens && matches!(split, kernels::Split::Rows(_)) && small;
        let chunked = !tokens && !per_step;
        if per_step || chunked {
            T::pack_b(
                ks,
                Trans::T,
                off.input,
                g,
                w_ih,
                off.input,
                &mut self.packed_w_ih,
            );
        }
        if tokens && !gather_in_parts {
            let wt = &self.w_ih_t;
            for (row, &v) in acts.chunks_exact_mut(g).zip(&cache.tokens) {
                let col = &wt[v as usize * g..(v as usize + 1) * g];
                for ((a, bb), w) in row.iter_mut().zip(bias).zip(col) {
                    *a = *bb + *w;
                }
            }
        }
        let w_hh = &p[off.w_hh..off.w_hh + g * h];
        let x_chunk = &mut self.x_chunk;
        let (chunks, owned, claimed) = team_chunks(&split);
        let mut team_buffers = TeamBuffers {
            packed: &mut self.team_packed,
            rows: &mut self.team_rows,
            scratch: &mut self.team_scratch,
            h_alt: &mut self.team_h,
        };
        let packed = &mut self.packed_w_hh;
        match &split {
            kernels::Split::Team(_) => {
                team_buffers.prepare(ks, w_hh, (b, h), (&chunks, owned.len()), true)
            }
            kernels::Split::Rows(_) => T::pack_b(ks, Trans::T, h, g, w_hh, h, packed),
        }
        let state = layer_dir * b * h..(layer_dir + 1) * b * h;
        // h_n / c_n hold the running state during the loop and the final state after it.
        cache.h_n[state.clone()].copy_from_slice(&cache.h0[state.clone()]);
        cache.c_n[state.clone()].copy_from_slice(&cache.c0[state.clone()]);
        let barrier = kernels::Barrier::new(owned.len().max(1));
        let team = team_buffers.team(&split, (&chunks, &owned), &claimed, &barrier);
        let run = Recurrence {
            ks,
            packed,
            dims: (b, t, h, d, dirs * h),
            mask: (cache.masked, &cache.mask),
            acts: Shared::new(acts),
            h_prev: Shared::new(&mut cache.h_prev[layer_dir]),
            c_prev: Shared::new(&mut cache.c_prev[layer_dir]),
            tanh_c: Shared::new(&mut cache.tanh_c[layer_dir]),
            d_y: &[],
            d_state: [
                Shared::new(&mut []),
                Shared::new(&mut []),
                Shared::new(&mut []),
            ],
            team,
            gather: gather_in_parts.then_some(Gather {
                w_ih_t: &self.w_ih_t,
                bias,
                tokens: &cache.tokens,
            }),
            input: per_step.then(|| {
                let f = off.input;
                let (x, row_stride, step_stride) = match x_batch_first {
                    Some(x) => (x, t * f, f),
                    None => (&x[..], f, b * f),
                };
                StepInput {
                    x,
                    features: f,
                    row_stride,
                    step_stride,
                    packed: &self.packed_w_ih,
                    bias,
                }
            }),
        };
        let (y, h_n, c_n) = (
            Shared::new(y),
            Shared::new(&mut cache.h_n[state.clone()]),
            Shared::new(&mut cache.c_n[state]),
        );
        let chunk = if chunked {
            (CHUNK_ROWS / b).clamp(1, t)
        } else {
            t
        };
        let f = off.input;
        for s0 in (0..t).step_by(chunk) {
            let steps = s0..t.min(s0 + chunk);
            if chunked {
                // The steps' input product, acts = bias + x · W_ihᵀ over their B·S rows at once
                // (time order: the reverse direction's steps are the mirrored range).
                let (lo, hi) = if d == 0 {
                    (steps.start, steps.end)
                } else {
                    (t - steps.end, t - steps.start)
                };
                let n = (hi - lo) * b;
                // The fill is split over rows (a serial pass was 3% of a medium train step).
                kernels::for_ranges(n, n * g, &|r| {
                    // SAFETY: the ranges of for_ranges are disjoint rows of this chunk's rows
                    // lo·B..hi·B of acts, and no recurrence runs meanwhile.
                    let part = unsafe { run.acts.rows((lo * b + r.start) * g, r.len() * g) };
                    for row in part.chunks_exact_mut(g) {
                        row.copy_from_slice(bias);
                    }
                });
                // SAFETY: as above, all of the chunk's rows, filled.
                let rows = unsafe { run.acts.rows(lo * b * g, n * g) };
                let a = match x_batch_first {
                    // Batch-first input: the steps' rows gathered time-major, so one product
                    // serves all B·S rows (per batch row, W_ih would be read B times).
                    Some(xb) => {
                        x_chunk.clear();
                        for s in lo..hi {
                            for j in 0..b {
                                x_chunk
                                    .extend_from_slice(&xb[(j * t + s) * f..(j * t + s + 1) * f]);
                            }
                        }
                        &x_chunk[..]
                    }
                    None => &x[lo * b * f..hi * b * f],
                };
                T::gemm_packed_b(
                    ks,
                    Trans::N,
                    n,
                    g,
                    f,
                    a,
                    f,
                    &self.packed_w_ih,
                    rows,
                    g,
                    true,
                );
            }
            match &split {
                // W_hh too large for every core to stream it whole each step: a team whose members
                // each own some hidden units (see forward_team).
                kernels::Split::Team(units) => kernels::team(units.len(), &|me| {
                    let steps = steps.clone();
                    // SAFETY: every member runs at once (kernels::team), each with its own `me`.
                    kernels::serial(|| unsafe {
                        run.forward_team(me, steps, keep_cache, y, h_n, c_n)
                    })
                }),
                // Every batch row is independent through the recurrence: each part runs its rows
                // through the steps (product and cell), with no join between steps. A row's numbers
                // do not depend on which part ran it, so the result is the same for every thread
                // count.
                kernels::Split::Rows(parts) => kernels::for_each(parts.len(), &|i| {
                    let (rows, steps) = (parts[i].clone(), steps.clone());
                    // SAFETY: the parts' row ranges are disjoint.
                    let go = || unsafe { run.forward_rows(rows, steps, keep_cache, y, h_n, c_n) };
                    // One part: its per-step products may still split over output columns.
                    if parts.len() > 1 {
                        kernels::serial(go)
                    } else {
                        go()
                    }
                }),
            }
        }
    }

    /// Number of elements of the output: B·T·D·H.
    pub fn output_len(&self) -> usize {
        self.cache.batch * self.cache.steps * self.config.directions() * self.config.hidden_size
    }

    /// Copies the last forward output into `out`, laid out as that forward's input was.
    ///
    /// # Errors
    /// `Error::State` before any forward pass, `Error::Shape` when `out` has the wrong length.
    pub fn read_output(&self, out: &mut [T]) -> Result<()> {
        self.require_forward("reading the output")?;
        check_len("output buffer", out.len(), self.output_len(), "(B, T, D·H)")?;
        let (b, t) = (self.cache.batch, self.cache.steps);
        let y = &self.cache.xs[self.config.num_layers];
        if self.batch_first {
            swap_leading(
                y,
                out,
                t,
                b,
                self.config.directions() * self.config.hidden_size,
            );
        } else {
            out.copy_from_slice(y);
        }
        Ok(())
    }

    /// The last layer's output of the last forward pass, time-major `(T, B, D·H)`, whatever the layout
    /// of the input was.
    pub fn output_time_major(&self) -> &[T] {
        &self.cache.xs[self.config.num_layers]
    }

    /// h_n of the last forward pass, `(L·D, B, H)`.
    pub fn h_n(&self) -> &[T] {
        &self.cache.h_n
    }

    /// c_n of the last forward pass, `(L·D, B, H)`.
    pub fn c_n(&self) -> &[T] {
        &self.cache.c_n
    }

    fn require_forward(&self, action: &str) -> Result<()> {
        if !self.cache.ready {
            return Err(Error::State(format!(
                "{action} needs a forward pass first (none has run since the parameters last changed)"
            )));
        }
        Ok(())
    }

    /// Back-propagates through time from the upstream gradients of the last forward pass.
    ///
    /// Parameter gradients accumulate into `grads` (this layer's block; zero it once per step);
    /// dL/dx, dL/dh0 and dL/dc0 are read with [`LstmLayer::read_d_x`], [`LstmLayer::d_h0`],
    /// [`LstmLayer::d_c0`] (no dL/dx for token input).
    ///
    /// # Errors
    /// `Error::State` before a forward pass; `Error::Shape` / `Error::Value` on bad gradients, with
    /// nothing changed.
    pub fn sequence_backward(
        &mut self,
        params: &[T],
        grads: &mut [T],
        up: &BackwardInput<'_, T>,
    ) -> Result<()> {
        self.require_forward("backward")?;
        if !self.cache.cached {
            return Err(Error::State(
                "backward needs a training forward pass; the last one ran for inference and kept no caches"
                    .into(),
            ));
        }
        let c = self.config;
        check_len(
            "LSTM gradient block",
            grads.len(),
            c.param_count(),
            "(the flat parameter table)",
        )?;
        check_len(
            "LSTM parameter block",
            params.len(),
            c.param_count(),
            "(the flat parameter table)",
        )?;
        let (b, t) = (self.cache.batch, self.cache.steps);
        let (h, dirs) = (c.hidden_size, c.directions());
        let state_shape = format!(
            "(numLayers·directions {}, batch {b}, hiddenSize {h})",
            c.num_layers * dirs
        );
        if let Some(dy) = up.d_output {
            let shape = if self.batch_first {
                format!("(batch {b}, steps {t}, directions·hiddenSize {})", dirs * h)
            } else {
                format!("(steps {t}, batch {b}, directions·hiddenSize {})", dirs * h)
            };
            check_len("output gradient", dy.len(), self.output_len(), &shape)?;
            check_finite("output gradient", dy)?;
        }
        for (name, g) in [("h_n gradient", up.d_h_n), ("c_n gradient", up.d_c_n)] {
            if let Some(g) = g {
                check_len(name, g.len(), self.state_len(b), &state_shape)?;
                check_finite(name, g)?;
            }
        }
        let tb = t * b;
        let wide = dirs * h;
        let tokens = !self.cache.tokens.is_empty();
        let need = tb * if tokens { wide } else { wide.max(c.input_size) };
        for v in [&mut self.scratch.d_y, &mut self.scratch.d_x] {
            if v.len() < need {
                v.resize(need, T::ZERO);
            }
        }
        match up.d_output {
            Some(dy) if self.batch_first => {
                swap_leading(dy, &mut self.scratch.d_y[..tb * wide], b, t, wide)
            }
            Some(dy) => self.scratch.d_y[..tb * wide].copy_from_slice(dy),
            None => self.scratch.d_y[..tb * wide].fill(T::ZERO),
        }
        let ks = kernels::active();
        for k in (0..c.num_layers).rev() {
            let n_in = c.layer_input(k);
            let d_x_needed = k > 0 || (!tokens && self.input_gradient);
            if d_x_needed {
                self.scratch.d_x[..tb * n_in].fill(T::ZERO);
            }
            for d in 0..dirs {
                self.direction_backward(ks, params, grads, k, d, up);
            }
            // Through the dropout between layer k − 1 and k: the same mask scales the gradient.
            // (Empty for layer 0 and when dropout was off; then token input has no d_x to slice.)
            let drop = &self.cache.drop[k];
            if !drop.is_empty() {
                dropout_backward(&mut self.scratch.d_x[..tb * n_in], drop);
            }
            std::mem::swap(&mut self.scratch.d_y, &mut self.scratch.d_x);
        }
        // The loop's last swap left dL/dX0 in d_y; keep it in d_x where read_d_x looks.
        std::mem::swap(&mut self.scratch.d_y, &mut self.scratch.d_x);
        Ok(())
    }

    /// One direction of one layer, steps in the reverse of the forward order, then the weight
    /// gradients as products over all steps.
    fn direction_backward(
        &mut self,
        ks: &dyn Kernels,
        params: &[T],
        grads: &mut [T],
        k: usize,
        d: usize,
        up: &BackwardInput<'_, T>,
    ) {
        let off = self.offsets(k, d);
        let dirs = self.config.directions();
        let (h, g) = (self.config.hidden_size, 4 * self.config.hidden_size);
        let (b, t) = (self.cache.batch, self.cache.steps);
        // Index of this (layer, direction) among the L·D: its cache and its rows of the states.
        let layer_dir = k * dirs + d;
        let state = layer_dir * b * h..(layer_dir + 1) * b * h;
        let wide = dirs * h;
        let Self {
            cache,
            scratch: s,
            packed_w_hh: packed,
            team_packed,
            team_rows,
            team_scratch,
            team_h,
            input_gradient,
            ..
        } = self;
        match up.d_h_n {
            Some(v) => s.d_h.copy_from_slice(&v[state.clone()]),
            None => s.d_h.fill(T::ZERO),
        }
        match up.d_c_n {
            Some(v) => s.d_c.copy_from_slice(&v[state.clone()]),
            None => s.d_c.fill(T::ZERO),
        }
        let w_hh = &params[off.w_hh..off.w_hh + g * h];
        let split = kernels::recurrence_split(b, h, 2 * t * b * g * h, g * h * size_of::<T>());
        let (chunks, owned, claimed) = team_chunks(&split);
        let mut team_buffers = TeamBuffers {
            packed: team_packed,
            rows: team_rows,
            scratch: team_scratch,
            h_alt: team_h,
        };
        match &split {
            kernels::Split::Team(_) => {
                team_buffers.prepare(ks, w_hh, (b, h), (&chunks, owned.len()), false)
            }
            kernels::Split::Rows(_) => T::pack_b(ks, Trans::N, g, h, w_hh, h, packed),
        }
        let packed = &*packed;
        let barrier = kernels::Barrier::new(owned.len().max(1));
        let team = team_buffers.team(&split, (&chunks, &owned), &claimed, &barrier);
        let run = Recurrence {
            ks,
            packed,
            dims: (b, t, h, d, wide),
            mask: (cache.masked, &cache.mask),
            acts: Shared::new(&mut cache.acts[layer_dir]),
            h_prev: Shared::new(&mut []),
            c_prev: Shared::new(&mut cache.c_prev[layer_dir]),
            tanh_c: Shared::new(&mut cache.tanh_c[layer_dir]),
            d_y: &s.d_y,
            d_state: [
                Shared::new(&mut s.d_h),
                Shared::new(&mut s.d_h_next),
                Shared::new(&mut s.d_c),
            ],
            team,
            gather: None,
            input: None,
        };
        let d_gates = Shared::new(&mut s.d_gates);
        match &split {
            // See direction_forward: a team over hidden units when W_hh is large.
            kernels::Split::Team(units) => kernels::team(units.len(), &|me| {
                // SAFETY: every member runs at once (kernels::team), each with its own `me`.
                kernels::serial(|| unsafe { run.backward_team(me, d_gates) })
            }),
            // Batch rows are independent through the recurrence (see direction_forward).
            kernels::Split::Rows(parts) => kernels::for_each(parts.len(), &|i| {
                let rows = parts[i].clone();
                // SAFETY: the parts' row ranges are disjoint.
                let go = || unsafe { run.backward_rows(rows, d_gates) };
                if parts.len() > 1 {
                    kernels::serial(go)
                } else {
                    go()
                }
            }),
        }
        s.d_h0[state.clone()].copy_from_slice(&s.d_h);
        s.d_c0[state].copy_from_slice(&s.d_c);

        let tb = t * b;
        let n_in = off.input;
        let d_g = &s.d_gates[..tb * g];
        let tokens = k == 0 && !cache.tokens.is_empty();
        if tokens {
            // One-hot input: dW_ih[:, v] += dG row, a scatter into the columns the forward gathered,
            // summed in dW_ihᵀ (V, G) rows (contiguous) and added back transposed once.
            // Split over ranges of the G columns (each element still summed over the rows in order,
            // so the bits do not depend on the split), each range summed in a buffer of its own
            // (ranges of one row share cache lines), then added to dW_ih: the serial scatter was the
            // largest serial pass of a 2-thread seed step's backward.
            let dw = Shared::new(&mut grads[off.w_ih..off.w_ih + g * n_in]);
            let tokens = &cache.tokens;
            kernels::for_ranges(g, tb * g, &|cols| {
                let w = cols.len();
                let mut dwt = vec![T::ZERO; n_in * w];
                for (row, &v) in d_g.chunks_exact(g).zip(tokens) {
                    let dst = &mut dwt[v as usize * w..(v as usize + 1) * w];
                    dst.iter_mut()
                        .zip(&row[cols.clone()])
                        .for_each(|(a, gv)| *a += *gv);
                }
                for (i, u) in cols.enumerate() {
                    // SAFETY: the column ranges of for_ranges are disjoint, so are these rows of dW_ih.
                    let dw_row = unsafe { dw.rows(u * n_in, n_in) };
                    for (v, a) in dw_row.iter_mut().enumerate() {
                        *a += dwt[v * w + i];
                    }
                }
            });
        } else {
            T::gemm(
                ks,
                Trans::T,
                Trans::N,
                g,
                n_in,
                tb,
                d_g,
                g,
                &cache.xs[k],
                n_in,
                &mut grads[off.w_ih..off.w_ih + g * n_in],
                n_in,
                true,
            );
        }
        T::gemm(
            ks,
            Trans::T,
            Trans::N,
            g,
            h,
            tb,
            d_g,
            g,
            &cache.h_prev[layer_dir],
            h,
            &mut grads[off.w_hh..off.w_hh + g * h],
            h,
            true,
        );
        // Both biases enter the gates the same way, so both receive the column sums of dG. Split
        // over columns (each still summed over the rows in order, so the bits do not depend on the
        // split): 13 MB of dG at the medium tier, a serial pass worth 2% of a step.
        debug_assert_eq!(
            off.b_hh,
            off.b_ih + g,
            "bias_hh follows bias_ih in the table"
        );
        let (d_b_ih, d_b_hh) = grads[off.b_ih..off.b_hh + g].split_at_mut(g);
        let (d_b_ih, d_b_hh) = (Shared::new(d_b_ih), Shared::new(d_b_hh));
        kernels::for_ranges(g, tb * g, &|cols| {
            // SAFETY: the column ranges of for_ranges are disjoint.
            let (bi, bh) = unsafe {
                (
                    d_b_ih.rows(cols.start, cols.len()),
                    d_b_hh.rows(cols.start, cols.len()),
                )
            };
            // Summed in a local copy, written back once: the parts' column ranges can share a
            // cache line of `grads` (at G = 64 the split falls inside one), and adding in place
            // bounced that line between the cores on every row (8× this pass's serial time at the
            // seed tier, 2 threads). The same additions in the same order, so the same bits.
            let mut sums: Vec<T> = bi.iter().chain(bh.iter()).copied().collect();
            let (si, sh) = sums.split_at_mut(cols.len());
            for row in d_g.chunks_exact(g) {
                for ((a, c), v) in si.iter_mut().zip(sh.iter_mut()).zip(&row[cols.clone()]) {
                    *a += *v;
                    *c += *v;
                }
            }
            bi.copy_from_slice(si);
            bh.copy_from_slice(sh);
        });
        if !tokens && (k > 0 || *input_gradient) {
            let w_ih = &params[off.w_ih..off.w_ih + g * n_in];
            T::gemm(
                ks,
                Trans::N,
                Trans::N,
                tb,
                n_in,
                g,
                d_g,
                g,
                w_ih,
                n_in,
                &mut s.d_x[..tb * n_in],
                n_in,
                true,
            );
        }
    }

    /// Copies dL/dx of the last backward pass into `out`, laid out as the forward input was.
    ///
    /// # Errors
    /// `Error::Shape` when `out` has the wrong length.
    pub fn read_d_x(&self, out: &mut [T]) -> Result<()> {
        if !self.cache.tokens.is_empty() {
            return Err(Error::State("token input has no input gradient".into()));
        }
        if !self.input_gradient {
            return Err(Error::State(
                "the input gradient was turned off for this layer (set_input_gradient)".into(),
            ));
        }
        let (b, t, f) = (self.cache.batch, self.cache.steps, self.config.input_size);
        check_len("input-gradient buffer", out.len(), b * t * f, "(B, T, F)")?;
        let dx = &self.scratch.d_x[..b * t * f];
        if self.batch_first {
            swap_leading(dx, out, t, b, f);
        } else {
            out.copy_from_slice(dx);
        }
        Ok(())
    }

    /// dL/dh0 of the last backward pass, `(L·D, B, H)`.
    pub fn d_h0(&self) -> &[T] {
        &self.scratch.d_h0
    }

    /// dL/dc0 of the last backward pass, `(L·D, B, H)`.
    pub fn d_c0(&self) -> &[T] {
        &self.scratch.d_c0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{assert_agrees, check_gradient, dot, values};

    /// A stacked bidirectional LSTM over uneven lengths with initial states: every path of the
    /// recurrence (both directions, the layer hand-over, padding steps carrying state).
    const CONFIG: LstmConfig = LstmConfig {
        input_size: 3,
        hidden_size: 4,
        num_layers: 2,
        bidirectional: true,
    };
    const B: usize = 2;
    const T: usize = 4;
    const LENGTHS: [u32; 2] = [4, 2];

    /// Inputs and upstream weights: x (B, T, F), h0 = c0 (L·D, B, H), and the loss
    /// `Σ w_y·y + Σ w_h·h_n + Σ w_c·c_n`, whose upstream gradients are the weights.
    struct Case {
        x: Vec<f64>,
        h0: Vec<f64>,
        c0: Vec<f64>,
        w_y: Vec<f64>,
        w_h: Vec<f64>,
        w_c: Vec<f64>,
    }

    fn case() -> Case {
        let (l, d, h) = (CONFIG.num_layers, CONFIG.directions(), CONFIG.hidden_size);
        let state = l * d * B * h;
        Case {
            x: values(B * T * CONFIG.input_size, 1),
            h0: values(state, 2),
            c0: values(state, 3),
            w_y: values(B * T * d * h, 4),
            w_h: values(state, 5),
            w_c: values(state, 6),
        }
    }

    fn run<F: Float>(lstm: &mut Lstm<F>, x: &[F], h0: &[F], c0: &[F]) {
        lstm.forward(&ForwardInput {
            x,
            batch: B,
            steps: T,
            batch_first: true,
            h0: Some(h0),
            c0: Some(c0),
            lengths: Some(&LENGTHS),
            tokens: None,
        })
        .unwrap();
    }

    fn loss(lstm: &Lstm<f64>, c: &Case) -> f64 {
        let mut y = vec![0.0; lstm.layer().output_len()];
        lstm.layer().read_output(&mut y).unwrap();
        dot(&c.w_y, &y) + dot(&c.w_h, lstm.layer().h_n()) + dot(&c.w_c, lstm.layer().c_n())
    }

    fn backward<F: Float>(lstm: &mut Lstm<F>, w_y: &[F], w_h: &[F], w_c: &[F]) {
        lstm.zero_grad();
        lstm.backward(&BackwardInput {
            d_output: Some(w_y),
            d_h_n: Some(w_h),
            d_c_n: Some(w_c),
        })
        .unwrap();
    }

    #[test]
    fn sequence_backward_matches_central_differences_in_f64() {
        let c = case();
        let mut lstm = Lstm::<f64>::new(CONFIG, 7).unwrap();
        run(&mut lstm, &c.x, &c.h0, &c.c0);
        backward(&mut lstm, &c.w_y, &c.w_h, &c.w_c);
        let d_params = lstm.grads().to_vec();
        let mut d_x = vec![0.0; c.x.len()];
        lstm.layer().read_d_x(&mut d_x).unwrap();
        let (d_h0, d_c0) = (lstm.layer().d_h0().to_vec(), lstm.layer().d_c0().to_vec());

        let mut params = lstm.params().to_vec();
        check_gradient("d params", &mut params, &d_params, |p| {
            lstm.set_params(p).unwrap();
            run(&mut lstm, &c.x, &c.h0, &c.c0);
            loss(&lstm, &c)
        });
        lstm.set_params(&params).unwrap();
        let (h0, c0) = (c.h0.clone(), c.c0.clone());
        let mut x = c.x.clone();
        check_gradient("dx", &mut x, &d_x, |x| {
            run(&mut lstm, x, &h0, &c0);
            loss(&lstm, &c)
        });
        let mut h0 = c.h0.clone();
        check_gradient("dh0", &mut h0, &d_h0, |h0| {
            run(&mut lstm, &c.x, h0, &c.c0);
            loss(&lstm, &c)
        });
        check_gradient("dc0", &mut c.c0.clone(), &d_c0, |c0| {
            run(&mut lstm, &c.x, &c.h0, c0);
            loss(&lstm, &c)
        });
    }

    /// One-hot input through the column gather (layer 0 has no dense input product).
    #[test]
    fn token_input_backward_matches_central_differences_in_f64() {
        let config = LstmConfig {
            input_size: 5,
            hidden_size: 3,
            num_layers: 1,
            bidirectional: true,
        };
        let tokens: Vec<u32> = vec![0, 4, 2, 2, 1, 3, 4, 0];
        let w_y = values(B * T * 2 * 3, 8);
        let mut lstm = Lstm::<f64>::new(config, 9).unwrap();
        let forward = |lstm: &mut Lstm<f64>| {
            lstm.forward(&ForwardInput {
                tokens: Some(&tokens),
                batch: B,
                steps: T,
                batch_first: true,
                lengths: Some(&LENGTHS),
                ..Default::default()
            })
            .unwrap();
            let mut y = vec![0.0; lstm.layer().output_len()];
            lstm.layer().read_output(&mut y).unwrap();
            dot(&w_y, &y)
        };
        forward(&mut lstm);
        lstm.backward(&BackwardInput {
            d_output: Some(&w_y),
            ..Default::default()
        })
        .unwrap();
        let d_params = lstm.grads().to_vec();
        let mut params = lstm.params().to_vec();
        check_gradient("d params (tokens)", &mut params, &d_params, |p| {
            lstm.set_params(p).unwrap();
            forward(&mut lstm)
        });
    }

    /// The production path (f32 on the active SIMD kernels) against the f64 reference on the same
    /// weights. 1e-4 relative: f32 rounding over T = 4 steps and 2 layers, plus the polynomial
    /// sigmoid/tanh (under 1e-6 relative each, kernels/poly.rs).
    #[test]
    fn f32_kernels_agree_with_the_f64_reference() {
        let c = case();
        let narrow = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        let mut fast = Lstm::<f32>::new(CONFIG, 7).unwrap();
        let mut reference = Lstm::<f64>::new(CONFIG, 7).unwrap();
        // The same weights: f32's, widened exactly.
        let p: Vec<f64> = fast.params().iter().map(|&v| v as f64).collect();
        reference.set_params(&p).unwrap();
        let (x, h0, c0) = (narrow(&c.x), narrow(&c.h0), narrow(&c.c0));
        let widen = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
        run(&mut fast, &x, &h0, &c0);
        run(&mut reference, &widen(&x), &widen(&h0), &widen(&c0));
        let (wy, wh, wc) = (narrow(&c.w_y), narrow(&c.w_h), narrow(&c.w_c));
        backward(&mut fast, &wy, &wh, &wc);
        backward(&mut reference, &widen(&wy), &widen(&wh), &widen(&wc));
        let (rtol, atol) = (1e-4, 1e-6);
        let mut y32 = vec![0.0; fast.layer().output_len()];
        let mut y64 = vec![0.0; reference.layer().output_len()];
        fast.layer().read_output(&mut y32).unwrap();
        reference.layer().read_output(&mut y64).unwrap();
        assert_agrees("output", &y32, &y64, rtol, atol);
        let mut dx32 = vec![0.0; x.len()];
        let mut dx64 = vec![0.0; x.len()];
        fast.layer().read_d_x(&mut dx32).unwrap();
        reference.layer().read_d_x(&mut dx64).unwrap();
        assert_agrees("dx", &dx32, &dx64, rtol, atol);
        let (f, r) = (fast.layer(), reference.layer());
        for (name, got, want) in [
            ("h_n", f.h_n(), r.h_n()),
            ("c_n", f.c_n(), r.c_n()),
            ("grads", fast.grads(), reference.grads()),
            ("dh0", f.d_h0(), r.d_h0()),
        ] {
            assert_agrees(name, got, want, rtol, atol);
        }
    }

    /// The recurrence split over batch rows (1, 2, 3 and 5 parts, forced whatever the size, on a pool
    /// of two threads) gives bitwise the single-part result: every row runs the same operations
    /// whichever part holds it. So does a team of two over hidden units (16 and 3 of the 19: a
    /// vector tail in the second member), training and inference. Also: the inference forward gives
    /// bitwise the training forward's outputs (inference reads batch-first x in place, training a
    /// time-major copy), and refuses a backward pass after it. Input sizes 5 (the input product per
    /// step over rows) and 600 (over five of the GEMM's 128-deep k-blocks, and above the tests'
    /// per-step weight limit: the input product over chunks of steps, one step each, as on a team).
    #[test]
    fn row_split_and_inference_forward_change_no_bit() {
        for features in [5, 600] {
            split_and_inference_bits(features);
        }
    }

    fn split_and_inference_bits(features: usize) {
        let config = LstmConfig {
            input_size: features,
            hidden_size: 19,
            num_layers: 2,
            bidirectional: true,
        };
        let (b, t) = (11, 6);
        let lengths: Vec<u32> = (0..b as u32).map(|j| 1 + (j * 5) % t as u32).collect();
        let x: Vec<f32> = values(b * t * features, 3)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let dy: Vec<f32> = values(b * t * 2 * 19, 4)
            .iter()
            .map(|&v| v as f32)
            .collect();
        // parts 0: a team of two instead of a row split.
        let run = |parts: usize, inference: bool| {
            type Run = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);
            let forced = |f: &dyn Fn() -> Run| {
                if parts == 0 {
                    kernels::with_forced_team(2, f)
                } else {
                    kernels::with_forced_tasks(parts, f)
                }
            };
            forced(&|| {
                let mut lstm = Lstm::<f32>::new(config, 5).unwrap();
                let input = ForwardInput {
                    x: &x,
                    batch: b,
                    steps: t,
                    batch_first: true,
                    lengths: Some(&lengths),
                    ..Default::default()
                };
                let mut y = vec![0.0; b * t * 2 * 19];
                if inference {
                    let params = lstm.params().to_vec();
                    lstm.layer
                        .sequence_forward_inference(&params, &input)
                        .unwrap();
                    lstm.layer().read_output(&mut y).unwrap();
                    let refused = lstm.backward(&BackwardInput {
                        d_output: Some(&dy),
                        ..Default::default()
                    });
                    assert!(matches!(refused, Err(Error::State(_))));
                    return (y, lstm.layer().h_n().to_vec(), Vec::new(), Vec::new());
                }
                lstm.forward(&input).unwrap();
                lstm.layer().read_output(&mut y).unwrap();
                lstm.backward(&BackwardInput {
                    d_output: Some(&dy),
                    ..Default::default()
                })
                .unwrap();
                let mut dx = vec![0.0; x.len()];
                lstm.layer().read_d_x(&mut dx).unwrap();
                (y, lstm.layer().h_n().to_vec(), lstm.grads().to_vec(), dx)
            })
        };
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let before = kernels::threads();
        kernels::set_threads(2).unwrap();
        let one = run(1, false);
        let mut others: Vec<_> = [2, 3, 5, 0]
            .iter()
            .map(|&p| (format!("{p} parts"), run(p, false)))
            .collect();
        let inference = [
            ("inference, 1 part", run(1, true)),
            ("inference, 3 parts", run(3, true)),
            ("inference, team", run(0, true)),
        ];
        kernels::set_threads(before).unwrap();
        for (what, other) in inference {
            others.push((what.to_string(), other));
        }
        for (what, other) in others {
            assert_eq!(bits(&one.0), bits(&other.0), "output, {what}, F {features}");
            assert_eq!(bits(&one.1), bits(&other.1), "h_n, {what}, F {features}");
            if !what.starts_with("inference") {
                assert_eq!(bits(&one.2), bits(&other.2), "grads, {what}");
                assert_eq!(bits(&one.3), bits(&other.3), "dx, {what}");
            }
        }
    }

    /// An inference-only layer allocates none of the training caches. A training forward afterwards,
    /// of the same or another shape, sizes them and gives bitwise a fresh layer's gradients, and a
    /// backward after an inference pass of a new shape is still refused.
    #[test]
    fn inference_allocates_no_training_cache() {
        let config = LstmConfig {
            input_size: 3,
            hidden_size: 5,
            num_layers: 2,
            bidirectional: true,
        };
        let xa: Vec<f32> = values(2 * 4 * 3, 1).iter().map(|&v| v as f32).collect();
        let xb: Vec<f32> = values(3 * 6 * 3, 2).iter().map(|&v| v as f32).collect();
        let dy: Vec<f32> = values(3 * 6 * 10, 3).iter().map(|&v| v as f32).collect();
        fn fwd(x: &[f32], batch: usize, steps: usize) -> ForwardInput<'_, f32> {
            ForwardInput {
                x,
                batch,
                steps,
                batch_first: true,
                ..Default::default()
            }
        }
        let up = BackwardInput {
            d_output: Some(&dy),
            ..Default::default()
        };
        let trained = |lstm: &mut Lstm<f32>| {
            lstm.zero_grad();
            lstm.forward(&fwd(&xb, 3, 6)).unwrap();
            lstm.backward(&up).unwrap();
            lstm.grads().iter().map(|g| g.to_bits()).collect::<Vec<_>>()
        };
        let fresh = trained(&mut Lstm::<f32>::new(config, 4).unwrap());
        let mut lstm = Lstm::<f32>::new(config, 4).unwrap();
        lstm.forward_inference(&fwd(&xa, 2, 4)).unwrap();
        let layer = &lstm.layer;
        assert!(layer
            .cache
            .tanh_c
            .iter()
            .chain(&layer.cache.h_prev)
            .all(Vec::is_empty));
        assert!(layer.scratch.d_gates.is_empty() && layer.scratch.d_x.is_empty());
        assert_eq!(
            trained(&mut lstm),
            fresh,
            "training after inference, new shape"
        );
        lstm.forward_inference(&fwd(&xb, 3, 6)).unwrap();
        assert_eq!(
            trained(&mut lstm),
            fresh,
            "training after inference, same shape"
        );
        lstm.forward_inference(&fwd(&xa, 2, 4)).unwrap();
        assert!(matches!(lstm.backward(&up), Err(Error::State(_))));
        assert_eq!(
            trained(&mut lstm),
            fresh,
            "training after a refused backward"
        );
    }

    /// Token input split over batch rows (each part gathers its own rows of the input product) and
    /// on a team (one serial gather): outputs and gradients bit for bit those of one part.
    #[test]
    fn token_input_results_do_not_depend_on_the_split() {
        let config = LstmConfig {
            input_size: 23,
            // Two 16-unit quanta, so that a forced team has two members.
            hidden_size: 32,
            num_layers: 2,
            bidirectional: true,
        };
        let (b, t) = (11, 7);
        let tokens: Vec<u32> = (0..b * t).map(|i| ((i * 7919) % 23) as u32).collect();
        let lengths: Vec<u32> = (0..b).map(|j| (t - j % 4) as u32).collect();
        let dy: Vec<f32> = values(b * t * 2 * 32, 21)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let run = |parts: usize| {
            let go = || {
                let mut lstm = Lstm::<f32>::new(config, 4).unwrap();
                lstm.forward(&ForwardInput {
                    tokens: Some(&tokens),
                    batch: b,
                    steps: t,
                    batch_first: true,
                    lengths: Some(&lengths),
                    ..Default::default()
                })
                .unwrap();
                let mut y = vec![0.0; lstm.layer().output_len()];
                lstm.layer().read_output(&mut y).unwrap();
                lstm.backward(&BackwardInput {
                    d_output: Some(&dy),
                    ..Default::default()
                })
                .unwrap();
                (y, lstm.grads().to_vec())
            };
            if parts == 0 {
                kernels::with_forced_team(2, go)
            } else {
                kernels::with_forced_tasks(parts, go)
            }
        };
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let before = kernels::threads();
        kernels::set_threads(2).unwrap();
        let one = run(1);
        let others: Vec<_> = [2, 3, 5, 0].iter().map(|&p| (p, run(p))).collect();
        kernels::set_threads(before).unwrap();
        for (parts, other) in others {
            assert_eq!(
                bits(&one.0),
                bits(&other.0),
                "output, {parts} parts (0: team)"
            );
            assert_eq!(
                bits(&one.1),
                bits(&other.1),
                "grads, {parts} parts (0: team)"
            );
        }
    }

    #[test]
    fn param_table_json_lists_names_offsets_and_shapes() {
        let lstm = Lstm::<f32>::new(CONFIG, 0).unwrap();
        let json = table_json(lstm.param_table());
        assert!(json.starts_with(r#"[{"name":"weight_ih_l0","offset":0,"shape":[16,3]},"#));
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.len(), 16);
        assert_eq!(parsed[15]["name"], "bias_hh_l1_reverse");
    }
}

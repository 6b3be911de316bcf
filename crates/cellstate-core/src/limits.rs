//! The one owner of every numeric limit: sizes of a config, layers, and the memory a model or one
//! batch call may need. Both bindings and the TypeScript layer defer to these checks, so a config is
//! accepted or refused with the same message on every backend.
//!
//! Every product here is computed in `u128` before anything is allocated: on wasm32 `usize` is 32 bits,
//! and a product that wrapped there once let a config through that native refused, which then trapped.

use crate::lstm::LstmConfig;
use crate::{Error, Result};

/// Largest value of any one size: a vocabulary, a width, a batch or a step count (2^24, so a size and
/// a product of two stay exact in f32 and in JavaScript numbers).
pub const MAX_SIZE: usize = 1 << 24;

/// Most stacked LSTM layers. Per-layer caches and states are kept for every layer, and stacks deeper
/// than a few layers do not train without residual connections; 64 leaves ample room.
pub const MAX_LAYERS: usize = 64;

/// Bytes a model's (or a layer's) persistent buffers may take: parameters, gradients and optimiser
/// moments. 2 GiB, the same on every backend, so that a model fits in wasm's 4 GiB with room for a batch.
pub const MAX_MODEL_BYTES: u128 = 1 << 31;

/// Bytes of working memory (activation caches and their gradients) one batch call may need: 2 GiB.
pub const MAX_CALL_BYTES: u128 = 1 << 31;

/// Working memory a chunked evaluation or prediction aims at per call ([`crate::model::Model::max_batch`]):
/// a quarter of [`MAX_CALL_BYTES`], so that the wasm backend, whose memory grows and stays grown, can
/// still have it beside the model.
pub const CHUNK_BYTES: u128 = 1 << 29;

/// Below this a batch call's working memory is not probed (cheap calls stay cheap).
const PROBE_FROM: u128 = 64 << 20;

/// Checks an LSTM's sizes and that its parameters, with `buffers` f32 copies each, fit in memory.
///
/// # Errors
/// `Error::Value` naming the first field out of range, or the memory needed.
pub fn check_lstm(c: &LstmConfig, buffers: u128) -> Result<()> {
    for (name, v) in [("inputSize", c.input_size), ("hiddenSize", c.hidden_size)] {
        if v == 0 {
            check_size(&format!("LSTM {name}"), v, MAX_SIZE)?;
        }
    }
    check_size("LSTM numLayers", c.num_layers, MAX_LAYERS)?;
    // Memory before the per-field maxima, so a huge size reports what it would have cost.
    let params = lstm_param_count(c.input_size, c.hidden_size, c.num_layers, c.bidirectional);
    check_model_memory("LSTM", params, buffers)?;
    check_size("LSTM inputSize", c.input_size, MAX_SIZE)?;
    check_size("LSTM hiddenSize", c.hidden_size, MAX_SIZE)
}

/// f32 values an LSTM keeps per (sequence, step) for one forward and backward: per layer and direction
/// the gates (4H), c, tanh(c) and h (3H), and their gradients, plus the input and its gradient.
pub fn lstm_floats_per_step(c: &LstmConfig) -> u128 {
    let (f, h, l, d) = sizes(c);
    2 * (l * d * 7 * h + f.max(d * h))
}

/// (input size, hidden size, layers, directions) as u128, for the estimates.
fn sizes(c: &LstmConfig) -> (u128, u128, u128, u128) {
    let d = if c.bidirectional { 2 } else { 1 };
    let (f, h, l) = (c.input_size, c.hidden_size, c.num_layers);
    (f as u128, h as u128, l as u128, d)
}

/// f32 values an LSTM's inference forward keeps per (sequence, step): per layer and direction the
/// gates (4H) and the output (H), plus the input; it allocates none of the backward's caches.
pub fn lstm_inference_floats_per_step(c: &LstmConfig) -> u128 {
    let (f, h, l, d) = sizes(c);
    l * d * 5 * h + f
}

/// [`check_call`] for one inference forward of an LSTM: with its own, smaller estimate, so the
/// memory probe does not grow a wasm memory to what training would need.
///
/// # Errors
/// As [`check_call`].
pub fn check_lstm_inference_call(c: &LstmConfig, batch: usize, steps: usize) -> Result<()> {
    check_call(
        "LSTM input",
        batch,
        steps,
        lstm_inference_floats_per_step(c),
    )
}

/// [`check_call`] for one forward (and backward) of an LSTM on a (batch, steps) input.
///
/// # Errors
/// As [`check_call`].
pub fn check_lstm_call(c: &LstmConfig, batch: usize, steps: usize) -> Result<()> {
    check_call("LSTM input", batch, steps, lstm_floats_per_step(c))
}

/// A byte count as people read it: `3.2 GB (3221225472 bytes)`.
pub fn human_bytes(n: u128) -> String {
    const UNITS: [&str; 6] = ["bytes", "KB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {} ({n} bytes)", UNITS[u])
    }
}

/// `Error::Value` unless `v` is in 1..=`max`: "`what` must be a positive integer, got v (at most max)".
pub fn check_size(what: &str, v: usize, max: usize) -> Result<()> {
    if v == 0 || v > max {
        return Err(Error::Value(format!(
            "{what} must be a positive integer, got {v} (at most {max})"
        )));
    }
    Ok(())
}

/// Parameters of an LSTM, exactly (no overflow whatever the sizes).
pub fn lstm_param_count(input: usize, hidden: usize, layers: usize, bidirectional: bool) -> u128 {
    let (f, h, l) = (input as u128, hidden as u128, layers as u128);
    let d: u128 = if bidirectional { 2 } else { 1 };
    let g = 4 * h;
    let per_layer = |i: u128| d * (g * i + g * h + 2 * g);
    if l == 0 {
        0
    } else {
        per_layer(f) + (l - 1) * per_layer(d * h)
    }
}

/// `Error::Value` unless `params` parameters, each with `buffers` f32 copies (weights, gradients,
/// optimiser moments), fit in [`MAX_MODEL_BYTES`]; the message says how much memory was needed.
pub fn check_model_memory(what: &str, params: u128, buffers: u128) -> Result<()> {
    let bytes = params * buffers * 4;
    if bytes > MAX_MODEL_BYTES {
        return Err(Error::Value(format!(
            "{what} would not fit: {params} parameters need {} ({buffers} float32 copies: weights, gradients{}); at most {} is allowed",
            human_bytes(bytes),
            if buffers > 2 { ", optimiser moments" } else { "" },
            human_bytes(MAX_MODEL_BYTES)
        )));
    }
    Ok(())
}

/// Checks a batch shape and the working memory of one call, before anything is allocated.
/// `floats_per_step` is the f32 values the call keeps per (sequence, step) across every layer, forward
/// and backward; the estimate errs high. Above 64 MB the memory is also probed with `try_reserve`, so a
/// backend that cannot grow (wasm at 4 GiB) reports an error instead of aborting.
///
/// # Errors
/// `Error::Shape` on a zero or oversized batch or step count; `Error::Value` when the call would need
/// more than [`MAX_CALL_BYTES`] or the memory cannot be had, with the amount in the message.
pub fn check_call(what: &str, batch: usize, steps: usize, floats_per_step: u128) -> Result<()> {
    if batch == 0 || steps == 0 || batch > MAX_SIZE || steps > MAX_SIZE {
        return Err(Error::Shape(format!(
            "{what} needs at least one sequence of at least one step (each at most {MAX_SIZE}); got batch {batch}, steps {steps}"
        )));
    }
    let bytes = batch as u128 * steps as u128 * floats_per_step * 4;
    if bytes > MAX_CALL_BYTES {
        return Err(Error::Value(format!(
            "{what} of batch {batch} × steps {steps} would not fit: it needs about {} of working memory; at most {} is allowed per call (use smaller batches or shorter sequences)",
            human_bytes(bytes),
            human_bytes(MAX_CALL_BYTES)
        )));
    }
    if bytes >= PROBE_FROM && !probe(bytes) {
        return Err(Error::Value(format!(
            "{what} of batch {batch} × steps {steps} needs about {} of working memory, which this backend could not allocate",
            human_bytes(bytes)
        )));
    }
    Ok(())
}

/// Whether the allocator can give `bytes` now (they are given back at once). On wasm the memory grows
/// and stays grown for the allocations that follow; natively the pages are never touched.
pub fn probe(bytes: u128) -> bool {
    let Ok(n) = usize::try_from(bytes) else {
        return false;
    };
    let mut v: Vec<u8> = Vec::new();
    v.try_reserve_exact(n).is_ok()
}

/// `Error::Value` when a model's persistent buffers of `bytes` cannot be allocated now.
pub fn reserve_model(what: &str, bytes: u128) -> Result<()> {
    if probe(bytes) {
        Ok(())
    } else {
        Err(Error::Value(format!(
            "{what} needs {} for its buffers, which this backend could not allocate",
            human_bytes(bytes)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_count_matches_the_table_formula_and_never_overflows() {
        // 1 layer, F = 3, H = 2: 4H·F + 4H·H + 2·4H = 24 + 16 + 16.
        assert_eq!(lstm_param_count(3, 2, 1, false), 56);
        let huge = lstm_param_count(MAX_SIZE, MAX_SIZE, MAX_LAYERS, true);
        assert!(huge > 1 << 50);
        assert!(check_model_memory("LSTM", huge, 2)
            .unwrap_err()
            .message()
            .contains("would not fit"));
    }

    #[test]
    fn call_limits_name_the_memory() {
        let e = check_call("batch", 1 << 20, 1 << 10, 1 << 10).unwrap_err();
        assert!(e.message().contains("4.4 TB"), "{}", e.message());
        assert_eq!(check_call("batch", 0, 1, 1).unwrap_err().kind(), "shape");
        assert!(check_call("batch", 4, 5, 100).is_ok());
    }

    /// The inference estimate leaves out the backward's caches and gradients: a call that training
    /// could not make (2 GiB per call) is accepted for inference, and the estimate still covers
    /// what the inference forward keeps (gates, output and input per step).
    #[test]
    fn inference_calls_are_sized_without_the_backward() {
        let c = LstmConfig {
            input_size: 256,
            hidden_size: 512,
            num_layers: 2,
            bidirectional: true,
        };
        let per_step = lstm_inference_floats_per_step(&c);
        assert_eq!(per_step, 2 * 2 * (4 + 1) * 512 + 256);
        assert!(per_step * 2 < lstm_floats_per_step(&c));
        let (batch, steps) = (64, 512);
        assert_eq!(
            check_lstm_call(&c, batch, steps).unwrap_err().kind(),
            "value"
        );
        assert!(check_lstm_inference_call(&c, batch, steps).is_ok());
        assert_eq!(
            check_lstm_inference_call(&c, 0, steps).unwrap_err().kind(),
            "shape"
        );
    }
}

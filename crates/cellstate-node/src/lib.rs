//! napi-rs exports of cellstate-core: argument conversion and error mapping only.
//! The surface matches `cellstate-wasm` name for name (checked by test/surface.test.ts).

use cellstate_core::lstm::table_json;
use cellstate_core::{
    kernels, BackwardInput, Batch, BatchStats, Error, ForwardInput, Lstm, LstmConfig, Model,
    ModelConfig, OptimizerConfig,
};
use napi::bindgen_prelude::{Float32Array, Float64Array, Int32Array, Uint32Array};
use napi_derive::napi;

/// Errors cross as `Error("[kind] message")`; the TypeScript layer maps `kind` to a typed error class.
fn js_err(e: Error) -> napi::Error {
    napi::Error::from_reason(format!("[{}] {}", e.kind(), e.message()))
}

fn f32s(v: Vec<f32>) -> Float32Array {
    Float32Array::new(v)
}

/// An LSTM living in the addon's memory; JavaScript holds it as a handle.
#[napi]
pub struct LstmHandle {
    inner: Lstm,
}

#[napi]
impl LstmHandle {
    /// A new LSTM initialised from `seed`.
    #[napi(constructor)]
    pub fn new(
        input_size: u32,
        hidden_size: u32,
        num_layers: u32,
        bidirectional: bool,
        seed: f64,
    ) -> napi::Result<Self> {
        let config = LstmConfig {
            input_size: input_size as usize,
            hidden_size: hidden_size as usize,
            num_layers: num_layers as usize,
            bidirectional,
        };
        Lstm::new(config, seed as u64)
            .map(|inner| LstmHandle { inner })
            .map_err(js_err)
    }

    /// Releases the LSTM's memory now (wasm-bindgen's `free` under the same name): the state is
    /// swapped for the smallest valid one. The TypeScript wrapper refuses any later use.
    #[napi]
    pub fn free(&mut self) {
        let tiny = LstmConfig {
            input_size: 1,
            hidden_size: 1,
            num_layers: 1,
            bidirectional: false,
        };
        if let Ok(inner) = Lstm::new(tiny, 0) {
            self.inner = inner;
        }
    }

    /// The parameter table as JSON.
    #[napi]
    pub fn param_table(&self) -> String {
        table_json(self.inner.param_table())
    }

    /// A copy of the flat parameters.
    #[napi]
    pub fn params(&self) -> Float32Array {
        f32s(self.inner.params().to_vec())
    }

    /// Replaces the flat parameters.
    #[napi]
    pub fn set_params(&mut self, data: Float32Array) -> napi::Result<()> {
        self.inner.set_params(&data).map_err(js_err)
    }

    /// A copy of the flat gradients.
    #[napi]
    pub fn grads(&self) -> Float32Array {
        f32s(self.inner.grads().to_vec())
    }

    /// Zeroes the gradients.
    #[napi]
    pub fn zero_grad(&mut self) {
        self.inner.zero_grad();
    }

    /// Runs the forward pass.
    #[napi]
    pub fn forward(
        &mut self,
        x: Float32Array,
        batch: u32,
        steps: u32,
        batch_first: bool,
        h0: Option<Float32Array>,
        c0: Option<Float32Array>,
        lengths: Option<Uint32Array>,
        grad: bool,
    ) -> napi::Result<()> {
        let input = ForwardInput {
            x: &x,
            batch: batch as usize,
            steps: steps as usize,
            batch_first,
            h0: h0.as_deref(),
            c0: c0.as_deref(),
            lengths: lengths.as_deref(),
            tokens: None,
        };
        // grad = false: the inference forward, no caches (a later backward is a state error).
        if grad {
            self.inner.forward(&input)
        } else {
            self.inner.forward_inference(&input)
        }
        .map_err(js_err)
    }

    /// A copy of the last output.
    #[napi]
    pub fn output(&self) -> napi::Result<Float32Array> {
        let mut out = vec![0.0; self.inner.layer().output_len()];
        self.inner.layer().read_output(&mut out).map_err(js_err)?;
        Ok(f32s(out))
    }

    /// A copy of h_n.
    #[napi(js_name = "hN")]
    pub fn h_n(&self) -> Float32Array {
        f32s(self.inner.layer().h_n().to_vec())
    }

    /// A copy of c_n.
    #[napi(js_name = "cN")]
    pub fn c_n(&self) -> Float32Array {
        f32s(self.inner.layer().c_n().to_vec())
    }

    /// Whether a forward pass is cached.
    #[napi]
    pub fn has_forward(&self) -> bool {
        self.inner.layer().has_forward()
    }

    /// Runs the backward pass from upstream gradients (absent ones are zero).
    #[napi]
    pub fn backward(
        &mut self,
        d_output: Option<Float32Array>,
        d_h_n: Option<Float32Array>,
        d_c_n: Option<Float32Array>,
    ) -> napi::Result<()> {
        self.inner
            .backward(&BackwardInput {
                d_output: d_output.as_deref(),
                d_h_n: d_h_n.as_deref(),
                d_c_n: d_c_n.as_deref(),
            })
            .map_err(js_err)
    }

    /// A copy of dL/dx.
    #[napi(js_name = "dX")]
    pub fn d_x(&self) -> napi::Result<Float32Array> {
        let (b, t) = self.inner.layer().last_shape();
        let mut out = vec![0.0; b * t * self.inner.config().input_size];
        self.inner.layer().read_d_x(&mut out).map_err(js_err)?;
        Ok(f32s(out))
    }

    /// A copy of dL/dh0.
    #[napi(js_name = "dH0")]
    pub fn d_h0(&self) -> Float32Array {
        f32s(self.inner.layer().d_h0().to_vec())
    }

    /// A copy of dL/dc0.
    #[napi(js_name = "dC0")]
    pub fn d_c0(&self) -> Float32Array {
        f32s(self.inner.layer().d_c0().to_vec())
    }
}

/// Name of the active kernel set.
#[napi]
pub fn kernel_name() -> String {
    kernels::active().name().to_string()
}

/// Names of the kernel sets this build can run, scalar first.
#[napi]
pub fn available_kernels() -> Vec<String> {
    kernels::available().into_iter().map(String::from).collect()
}

/// Makes `name` the active kernel set for this process.
#[napi]
pub fn select_kernels(name: String) -> napi::Result<()> {
    kernels::select(&name).map_err(|m| js_err(Error::Value(m)))
}

/// Checks kernel set `name` against the scalar reference over the awkward-size sweep; "" when it agrees.
#[napi]
pub fn kernel_self_test(name: String) -> String {
    kernels::self_test_by_name(&name).err().unwrap_or_default()
}

/// Why `CELLSTATE_KERNELS` was not honoured, or "".
#[napi]
pub fn kernel_note() -> String {
    kernels::override_note().unwrap_or_default().to_string()
}

/// A sequence model living in the addon's memory.
#[napi]
pub struct ModelHandle {
    inner: Model,
}

fn stats(s: BatchStats) -> Float64Array {
    Float64Array::new(vec![s.loss, s.correct, s.count, s.terms])
}

fn batch<'a>(
    tokens: &'a Option<Int32Array>,
    x: &'a Option<Float32Array>,
    batch: u32,
    steps: u32,
    lengths: &'a Option<Uint32Array>,
    targets: Option<&'a [f32]>,
) -> Batch<'a> {
    Batch {
        tokens: tokens.as_deref(),
        x: x.as_deref(),
        batch: batch as usize,
        steps: steps as usize,
        lengths: lengths.as_deref(),
        targets,
    }
}

#[napi]
impl ModelHandle {
    /// A model from its JSON config.
    #[napi(constructor)]
    pub fn new(config: String) -> napi::Result<Self> {
        let config = ModelConfig::from_json(&config).map_err(js_err)?;
        Model::new(config)
            .map(|inner| ModelHandle { inner })
            .map_err(js_err)
    }

    /// Releases the model's memory now (wasm-bindgen's `free` under the same name): the state is
    /// swapped for the smallest valid model. The TypeScript wrapper refuses any later use.
    #[napi]
    pub fn free(&mut self) {
        let tiny = r#"{"input":{"kind":"dense","features":1},"lstm":{"hiddenSize":1},"units":1,"loss":"mse"}"#;
        if let Ok(inner) = ModelConfig::from_json(tiny).and_then(Model::new) {
            self.inner = inner;
        }
    }

    /// The config with defaults filled in, as JSON.
    #[napi]
    pub fn config_json(&self) -> String {
        self.inner.config_json()
    }

    /// The parameter table as JSON.
    #[napi]
    pub fn param_table(&self) -> String {
        table_json(self.inner.param_table())
    }

    /// A copy of the flat parameters.
    #[napi]
    pub fn params(&self) -> Float32Array {
        f32s(self.inner.params().to_vec())
    }

    /// Replaces the flat parameters.
    #[napi]
    pub fn set_params(&mut self, data: Float32Array) -> napi::Result<()> {
        self.inner.set_params(&data).map_err(js_err)
    }

    /// A copy of the flat gradients.
    #[napi]
    pub fn grads(&self) -> Float32Array {
        f32s(self.inner.grads().to_vec())
    }

    /// Replaces the optimiser (JSON config) and the clipping norm (0 for none).
    #[napi]
    pub fn set_optimizer(&mut self, config: String, clip_norm: f64) -> napi::Result<()> {
        let config = OptimizerConfig::from_json(&config).map_err(js_err)?;
        let clip = (clip_norm != 0.0).then_some(clip_norm as f32);
        self.inner.set_optimizer(config, clip).map_err(js_err)
    }

    /// Sequences of `steps` steps per chunk of a chunked evaluation (the core's working-memory budget).
    #[napi]
    pub fn max_batch(&self, steps: f64) -> f64 {
        self.inner
            .max_batch(steps.clamp(0.0, u32::MAX as f64) as usize) as f64
    }

    /// Sets the learning rate.
    #[napi]
    pub fn set_lr(&mut self, lr: f64) -> napi::Result<()> {
        self.inner.set_lr(lr as f32).map_err(js_err)
    }

    /// Optimiser steps taken.
    #[napi]
    pub fn optimizer_step(&self) -> f64 {
        self.inner.optimizer().step as f64
    }

    /// A copy of the optimiser's first moment.
    #[napi(js_name = "optimizerM")]
    pub fn optimizer_m(&self) -> Float32Array {
        f32s(self.inner.optimizer().m.clone())
    }

    /// A copy of the optimiser's second moment (empty for SGD).
    #[napi(js_name = "optimizerV")]
    pub fn optimizer_v(&self) -> Float32Array {
        f32s(self.inner.optimizer().v.clone())
    }

    /// Restores the optimiser's step count and moments.
    #[napi]
    pub fn set_optimizer_state(
        &mut self,
        step: f64,
        m: Float32Array,
        v: Float32Array,
    ) -> napi::Result<()> {
        self.inner
            .set_optimizer_state(step as u64, &m, &v)
            .map_err(js_err)
    }

    /// The dropout streams' state (8 words).
    #[napi]
    pub fn rng_state(&self) -> Uint32Array {
        Uint32Array::new(self.inner.rng_state().to_vec())
    }

    /// Restores the dropout streams' state.
    #[napi]
    pub fn set_rng_state(&mut self, state: Uint32Array) -> napi::Result<()> {
        self.inner.set_rng_state(&state).map_err(js_err)
    }

    // The batch methods repeat one argument list on purpose: each is its own JS export.
    /// One training step; returns [loss, correct, count, terms].
    #[napi]
    pub fn train_batch(
        &mut self,
        tokens: Option<Int32Array>,
        x: Option<Float32Array>,
        batch_size: u32,
        steps: u32,
        lengths: Option<Uint32Array>,
        targets: Float32Array,
    ) -> napi::Result<Float64Array> {
        let b = batch(&tokens, &x, batch_size, steps, &lengths, Some(&targets));
        self.inner.train_batch(&b).map(stats).map_err(js_err)
    }

    /// Clips and applies `grads` (flat) with the optimiser, as `trainBatch` does after its backward.
    #[napi]
    pub fn apply_gradients(&mut self, grads: Float32Array) -> napi::Result<()> {
        self.inner.apply_gradients(&grads).map_err(js_err)
    }

    /// Forward, loss and backward without an update; returns [loss, correct, count, terms].
    #[napi]
    pub fn forward_backward(
        &mut self,
        tokens: Option<Int32Array>,
        x: Option<Float32Array>,
        batch_size: u32,
        steps: u32,
        lengths: Option<Uint32Array>,
        targets: Float32Array,
    ) -> napi::Result<Float64Array> {
        let b = batch(&tokens, &x, batch_size, steps, &lengths, Some(&targets));
        self.inner.forward_backward(&b).map(stats).map_err(js_err)
    }

    /// Loss and accuracy counts without updates; returns [loss, correct, count, terms].
    #[napi]
    pub fn evaluate_batch(
        &mut self,
        tokens: Option<Int32Array>,
        x: Option<Float32Array>,
        batch_size: u32,
        steps: u32,
        lengths: Option<Uint32Array>,
        targets: Float32Array,
    ) -> napi::Result<Float64Array> {
        let b = batch(&tokens, &x, batch_size, steps, &lengths, Some(&targets));
        self.inner.evaluate_batch(&b).map(stats).map_err(js_err)
    }

    /// Checks a batch (and its targets, when given) without running it.
    #[napi]
    pub fn check_batch(
        &self,
        tokens: Option<Int32Array>,
        x: Option<Float32Array>,
        batch_size: u32,
        steps: u32,
        lengths: Option<Uint32Array>,
        targets: Option<Float32Array>,
    ) -> napi::Result<()> {
        let b = batch(&tokens, &x, batch_size, steps, &lengths, targets.as_deref());
        self.inner.check_batch(&b).map_err(js_err)
    }

    /// Outputs (probabilities for BCE / cross-entropy), batch-first.
    #[napi]
    pub fn predict_batch(
        &mut self,
        tokens: Option<Int32Array>,
        x: Option<Float32Array>,
        batch_size: u32,
        steps: u32,
        lengths: Option<Uint32Array>,
    ) -> napi::Result<Float32Array> {
        let b = batch(&tokens, &x, batch_size, steps, &lengths, None);
        self.inner.predict_batch(&b).map(f32s).map_err(js_err)
    }

    /// The last forward's logits, batch-first.
    #[napi]
    pub fn logits(&self) -> Float32Array {
        f32s(self.inner.logits())
    }
}

/// Sets how many threads (the caller included) large matrix products use, for the whole process.
/// Results are bitwise the same for every count.
#[napi]
pub fn set_threads(n: u32) -> napi::Result<()> {
    kernels::set_threads(n as usize).map_err(|m| js_err(Error::Value(m)))
}

/// How many threads large matrix products use.
#[napi]
pub fn threads() -> u32 {
    kernels::threads() as u32
}

/// Workers of the wasm threads build's pool: always 0 here (the native pool is rayon's), for one surface
/// with the wasm glue.
#[napi]
pub fn workers() -> u32 {
    kernels::workers() as u32
}

//! wasm-bindgen exports of cellstate-core: argument conversion and error mapping only.
//! The surface matches `cellstate-node` name for name (checked by test/surface.test.ts).

use cellstate_core::lstm::table_json;
use cellstate_core::{
    kernels, BackwardInput, Batch, BatchStats, Error, ForwardInput, Lstm, LstmConfig, Model,
    ModelConfig, OptimizerConfig,
};
use wasm_bindgen::prelude::*;

/// Errors cross as `Error("[kind] message")`; the TypeScript layer maps `kind` to a typed error class.
fn js_err(e: Error) -> JsValue {
    js_sys::Error::new(&format!("[{}] {}", e.kind(), e.message())).into()
}

/// An LSTM living in wasm memory; JavaScript holds it as a handle.
#[wasm_bindgen(js_name = LstmHandle)]
pub struct LstmHandle {
    inner: Lstm,
}

#[wasm_bindgen(js_class = LstmHandle)]
impl LstmHandle {
    /// A new LSTM initialised from `seed`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        input_size: u32,
        hidden_size: u32,
        num_layers: u32,
        bidirectional: bool,
        seed: f64,
    ) -> Result<LstmHandle, JsValue> {
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

    /// The parameter table as JSON.
    #[wasm_bindgen(js_name = paramTable)]
    pub fn param_table(&self) -> String {
        table_json(self.inner.param_table())
    }

    /// A copy of the flat parameters.
    pub fn params(&self) -> Vec<f32> {
        self.inner.params().to_vec()
    }

    /// Replaces the flat parameters.
    #[wasm_bindgen(js_name = setParams)]
    pub fn set_params(&mut self, data: &[f32]) -> Result<(), JsValue> {
        self.inner.set_params(data).map_err(js_err)
    }

    /// A copy of the flat gradients.
    pub fn grads(&self) -> Vec<f32> {
        self.inner.grads().to_vec()
    }

    /// Zeroes the gradients.
    #[wasm_bindgen(js_name = zeroGrad)]
    pub fn zero_grad(&mut self) {
        self.inner.zero_grad();
    }

    /// Runs the forward pass.
    pub fn forward(
        &mut self,
        x: &[f32],
        batch: u32,
        steps: u32,
        batch_first: bool,
        h0: Option<Vec<f32>>,
        c0: Option<Vec<f32>>,
        lengths: Option<Vec<u32>>,
        grad: bool,
    ) -> Result<(), JsValue> {
        let input = ForwardInput {
            x,
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
    pub fn output(&self) -> Result<Vec<f32>, JsValue> {
        let mut out = vec![0.0; self.inner.layer().output_len()];
        self.inner.layer().read_output(&mut out).map_err(js_err)?;
        Ok(out)
    }

    /// A copy of h_n.
    #[wasm_bindgen(js_name = hN)]
    pub fn h_n(&self) -> Vec<f32> {
        self.inner.layer().h_n().to_vec()
    }

    /// A copy of c_n.
    #[wasm_bindgen(js_name = cN)]
    pub fn c_n(&self) -> Vec<f32> {
        self.inner.layer().c_n().to_vec()
    }

    /// Whether a forward pass is cached.
    #[wasm_bindgen(js_name = hasForward)]
    pub fn has_forward(&self) -> bool {
        self.inner.layer().has_forward()
    }

    /// Runs the backward pass from upstream gradients (absent ones are zero).
    pub fn backward(
        &mut self,
        d_output: Option<Vec<f32>>,
        d_h_n: Option<Vec<f32>>,
        d_c_n: Option<Vec<f32>>,
    ) -> Result<(), JsValue> {
        self.inner
            .backward(&BackwardInput {
                d_output: d_output.as_deref(),
                d_h_n: d_h_n.as_deref(),
                d_c_n: d_c_n.as_deref(),
            })
            .map_err(js_err)
    }

    /// A copy of dL/dx.
    #[wasm_bindgen(js_name = dX)]
    pub fn d_x(&self) -> Result<Vec<f32>, JsValue> {
        let (b, t) = self.inner.layer().last_shape();
        let mut out = vec![0.0; b * t * self.inner.config().input_size];
        self.inner.layer().read_d_x(&mut out).map_err(js_err)?;
        Ok(out)
    }

    /// A copy of dL/dh0.
    #[wasm_bindgen(js_name = dH0)]
    pub fn d_h0(&self) -> Vec<f32> {
        self.inner.layer().d_h0().to_vec()
    }

    /// A copy of dL/dc0.
    #[wasm_bindgen(js_name = dC0)]
    pub fn d_c0(&self) -> Vec<f32> {
        self.inner.layer().d_c0().to_vec()
    }
}

/// Name of the active kernel set.
#[wasm_bindgen(js_name = kernelName)]
pub fn kernel_name() -> String {
    kernels::active().name().to_string()
}

/// Names of the kernel sets this build can run, scalar first.
#[wasm_bindgen(js_name = availableKernels)]
pub fn available_kernels() -> Vec<String> {
    kernels::available().into_iter().map(String::from).collect()
}

/// Makes `name` the active kernel set for this module.
#[wasm_bindgen(js_name = selectKernels)]
pub fn select_kernels(name: &str) -> Result<(), JsValue> {
    kernels::select(name).map_err(|m| js_err(Error::Value(m)))
}

/// Checks kernel set `name` against the scalar reference over the awkward-size sweep; "" when it agrees.
#[wasm_bindgen(js_name = kernelSelfTest)]
pub fn kernel_self_test(name: &str) -> String {
    kernels::self_test_by_name(name).err().unwrap_or_default()
}

/// Why `CELLSTATE_KERNELS` was not honoured, or "".
#[wasm_bindgen(js_name = kernelNote)]
pub fn kernel_note() -> String {
    kernels::override_note().unwrap_or_default().to_string()
}

/// A sequence model living in wasm memory.
#[wasm_bindgen(js_name = ModelHandle)]
pub struct ModelHandle {
    inner: Model,
}

fn make_batch<'a>(
    tokens: &'a Option<Vec<i32>>,
    x: &'a Option<Vec<f32>>,
    batch: u32,
    steps: u32,
    lengths: &'a Option<Vec<u32>>,
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

fn stats(s: BatchStats) -> Vec<f64> {
    vec![s.loss, s.correct, s.count, s.terms]
}

#[wasm_bindgen(js_class = ModelHandle)]
impl ModelHandle {
    /// A model from its JSON config.
    #[wasm_bindgen(constructor)]
    pub fn new(config: &str) -> Result<ModelHandle, JsValue> {
        let config = ModelConfig::from_json(config).map_err(js_err)?;
        Model::new(config)
            .map(|inner| ModelHandle { inner })
            .map_err(js_err)
    }

    /// The config with defaults filled in, as JSON.
    #[wasm_bindgen(js_name = configJson)]
    pub fn config_json(&self) -> String {
        self.inner.config_json()
    }

    /// The parameter table as JSON.
    #[wasm_bindgen(js_name = paramTable)]
    pub fn param_table(&self) -> String {
        table_json(self.inner.param_table())
    }

    /// A copy of the flat parameters.
    pub fn params(&self) -> Vec<f32> {
        self.inner.params().to_vec()
    }

    /// Replaces the flat parameters.
    #[wasm_bindgen(js_name = setParams)]
    pub fn set_params(&mut self, data: &[f32]) -> Result<(), JsValue> {
        self.inner.set_params(data).map_err(js_err)
    }

    /// A copy of the flat gradients.
    pub fn grads(&self) -> Vec<f32> {
        self.inner.grads().to_vec()
    }

    /// Replaces the optimiser (JSON config) and the clipping norm (0 for none).
    #[wasm_bindgen(js_name = setOptimizer)]
    pub fn set_optimizer(&mut self, config: &str, clip_norm: f64) -> Result<(), JsValue> {
        let config = OptimizerConfig::from_json(config).map_err(js_err)?;
        let clip = (clip_norm != 0.0).then_some(clip_norm as f32);
        self.inner.set_optimizer(config, clip).map_err(js_err)
    }

    /// Sequences of `steps` steps per chunk of a chunked evaluation (the core's working-memory budget).
    #[wasm_bindgen(js_name = maxBatch)]
    pub fn max_batch(&self, steps: f64) -> f64 {
        self.inner
            .max_batch(steps.clamp(0.0, u32::MAX as f64) as usize) as f64
    }

    /// Sets the learning rate.
    #[wasm_bindgen(js_name = setLr)]
    pub fn set_lr(&mut self, lr: f64) -> Result<(), JsValue> {
        self.inner.set_lr(lr as f32).map_err(js_err)
    }

    /// Optimiser steps taken.
    #[wasm_bindgen(js_name = optimizerStep)]
    pub fn optimizer_step(&self) -> f64 {
        self.inner.optimizer().step as f64
    }

    /// A copy of the optimiser's first moment.
    #[wasm_bindgen(js_name = optimizerM)]
    pub fn optimizer_m(&self) -> Vec<f32> {
        self.inner.optimizer().m.clone()
    }

    /// A copy of the optimiser's second moment (empty for SGD).
    #[wasm_bindgen(js_name = optimizerV)]
    pub fn optimizer_v(&self) -> Vec<f32> {
        self.inner.optimizer().v.clone()
    }

    /// Restores the optimiser's step count and moments.
    #[wasm_bindgen(js_name = setOptimizerState)]
    pub fn set_optimizer_state(&mut self, step: f64, m: &[f32], v: &[f32]) -> Result<(), JsValue> {
        self.inner
            .set_optimizer_state(step as u64, m, v)
            .map_err(js_err)
    }

    /// The dropout streams' state (8 words).
    #[wasm_bindgen(js_name = rngState)]
    pub fn rng_state(&self) -> Vec<u32> {
        self.inner.rng_state().to_vec()
    }

    /// Restores the dropout streams' state.
    #[wasm_bindgen(js_name = setRngState)]
    pub fn set_rng_state(&mut self, state: &[u32]) -> Result<(), JsValue> {
        self.inner.set_rng_state(state).map_err(js_err)
    }

    // The batch methods repeat one argument list on purpose: each is its own JS export.
    /// One training step; returns [loss, correct, count, terms].
    #[wasm_bindgen(js_name = trainBatch)]
    pub fn train_batch(
        &mut self,
        tokens: Option<Vec<i32>>,
        x: Option<Vec<f32>>,
        batch: u32,
        steps: u32,
        lengths: Option<Vec<u32>>,
        targets: &[f32],
    ) -> Result<Vec<f64>, JsValue> {
        let b = make_batch(&tokens, &x, batch, steps, &lengths, Some(targets));
        self.inner.train_batch(&b).map(stats).map_err(js_err)
    }

    /// Clips and applies `grads` (flat) with the optimiser, as `trainBatch` does after its backward.
    #[wasm_bindgen(js_name = applyGradients)]
    pub fn apply_gradients(&mut self, grads: &[f32]) -> Result<(), JsValue> {
        self.inner.apply_gradients(grads).map_err(js_err)
    }

    /// Forward, loss and backward without an update; returns [loss, correct, count, terms].
    #[wasm_bindgen(js_name = forwardBackward)]
    pub fn forward_backward(
        &mut self,
        tokens: Option<Vec<i32>>,
        x: Option<Vec<f32>>,
        batch: u32,
        steps: u32,
        lengths: Option<Vec<u32>>,
        targets: &[f32],
    ) -> Result<Vec<f64>, JsValue> {
        let b = make_batch(&tokens, &x, batch, steps, &lengths, Some(targets));
        self.inner.forward_backward(&b).map(stats).map_err(js_err)
    }

    /// Loss and accuracy counts without updates; returns [loss, correct, count, terms].
    #[wasm_bindgen(js_name = evaluateBatch)]
    pub fn evaluate_batch(
        &mut self,
        tokens: Option<Vec<i32>>,
        x: Option<Vec<f32>>,
        batch: u32,
        steps: u32,
        lengths: Option<Vec<u32>>,
        targets: &[f32],
    ) -> Result<Vec<f64>, JsValue> {
        let b = make_batch(&tokens, &x, batch, steps, &lengths, Some(targets));
        self.inner.evaluate_batch(&b).map(stats).map_err(js_err)
    }

    /// Checks a batch (and its targets, when given) without running it.
    #[wasm_bindgen(js_name = checkBatch)]
    pub fn check_batch(
        &self,
        tokens: Option<Vec<i32>>,
        x: Option<Vec<f32>>,
        batch: u32,
        steps: u32,
        lengths: Option<Vec<u32>>,
        targets: Option<Vec<f32>>,
    ) -> Result<(), JsValue> {
        let b = make_batch(&tokens, &x, batch, steps, &lengths, targets.as_deref());
        self.inner.check_batch(&b).map_err(js_err)
    }

    /// Outputs (probabilities for BCE / cross-entropy), batch-first.
    #[wasm_bindgen(js_name = predictBatch)]
    pub fn predict_batch(
        &mut self,
        tokens: Option<Vec<i32>>,
        x: Option<Vec<f32>>,
        batch: u32,
        steps: u32,
        lengths: Option<Vec<u32>>,
    ) -> Result<Vec<f32>, JsValue> {
        let b = make_batch(&tokens, &x, batch, steps, &lengths, None);
        self.inner.predict_batch(&b).map_err(js_err)
    }

    /// The last forward's logits, batch-first.
    pub fn logits(&self) -> Vec<f32> {
        self.inner.logits()
    }
}

/// Thread count of matrix products and recurrences: 1, or in the threads build up to one more than
/// the workers that have entered [`worker_main`].
#[wasm_bindgen(js_name = setThreads)]
pub fn set_threads(n: u32) -> Result<(), JsValue> {
    kernels::set_threads(n as usize).map_err(|m| js_err(Error::Value(m)))
}

/// How many threads matrix products use: 1 unless the threads build was given more.
#[wasm_bindgen(js_name = threads)]
pub fn threads() -> u32 {
    kernels::threads() as u32
}

/// Workers that have entered [`worker_main`] (0 outside the threads build).
#[wasm_bindgen(js_name = workers)]
pub fn workers() -> u32 {
    kernels::workers() as u32
}

/// The threads build's worker loop: a worker that instantiated this module on the shared memory
/// calls it once; it never returns (the worker is ended by terminating it).
#[cfg(target_feature = "atomics")]
#[wasm_bindgen(js_name = workerMain)]
pub fn worker_main() {
    kernels::worker_main()
}

//! Sequence models: an input layer (one-hot, embedding or dense features), an LSTM, a pooling of its
//! outputs (or every step's output), a stack of dense layers and a loss, over one flat parameter buffer
//! with PyTorch's names. One call per batch runs forward, loss, backward, clipping and the optimiser.
//!
//! Shapes: B batch, T steps, V vocabulary, E embedding width, F features, H hidden, D directions,
//! L layers, P = D·H pooled width, U output units. Internally everything is time-major `[T][B][..]`.
//! Names follow a PyTorch module with attributes `embedding`, `lstm`, `head.{i}` and `fc`, so a state
//! dict saved from such a module loads as it is.
//!
//! One concept per file, forward beside backward: [`config`] (the JSON config), [`input`] (token
//! layout, embedding), [`pooling`], [`dense`] (the head), [`loss`], and `step.rs` (the passes through
//! the whole model and the training step). The pieces are generic over [`Float`](crate::float::Float)
//! so the tests run them in f64 against finite differences.

#[cfg(test)]
mod bench;
pub mod config;
pub mod dense;
pub mod input;
pub mod loss;
pub mod pooling;
mod step;
#[cfg(test)]
mod tests;

pub use config::{
    DenseActivation, DenseSpec, InputConfig, LossKind, LstmSpec, ModelConfig, Pooling,
};

use crate::error::{check_finite, check_len};
use crate::lstm::{LstmLayer, ParamEntry};
use crate::optim::{clip_grad_norm, Optimizer, OptimizerConfig};
use crate::rng::Rng;
use crate::{Error, Result};
use dense::DenseLayer;

/// One batch. Tokens for one-hot/embedding input, features for dense input, batch-first.
#[derive(Clone, Copy, Debug, Default)]
pub struct Batch<'a> {
    /// Token ids (B, T).
    pub tokens: Option<&'a [i32]>,
    /// Features (B, T, F).
    pub x: Option<&'a [f32]>,
    /// B.
    pub batch: usize,
    /// T.
    pub steps: usize,
    /// True lengths (each in 1..=T); overrides `maskToken`.
    pub lengths: Option<&'a [u32]>,
    /// Targets: (B, U) or (B) class ids; per step (B, T, U) or (B, T).
    pub targets: Option<&'a [f32]>,
}

/// Loss and accuracy counts of one batch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BatchStats {
    /// Mean loss over the batch.
    pub loss: f64,
    /// Correct predictions (0 for MSE).
    pub correct: f64,
    /// Predictions counted for accuracy (0 for MSE).
    pub count: f64,
    /// Terms the mean loss averages (its denominator): real rows × U for BCE and MSE, real rows for
    /// cross-entropy. Shards of one batch combine as `Σ terms_k · mean_k / Σ terms_k`, losses and
    /// gradients alike (the data-parallel engine's weights).
    pub terms: f64,
}

/// A sequence model with its parameters, gradients, optimiser state and caches.
pub struct Model {
    config: ModelConfig,
    table: Vec<ParamEntry>,
    params: Vec<f32>,
    grads: Vec<f32>,
    lstm: LstmLayer,
    lstm_range: std::ops::Range<usize>,
    embedding: Option<usize>,
    dense: Vec<DenseLayer>,
    optimizer: Optimizer,
    clip_norm: Option<f32>,
    rng: Rng,
    // Caches of the last forward pass, time-major.
    batch: usize,
    steps: usize,
    lengths: Vec<u32>,
    tokens: Vec<u32>,
    x: Vec<f32>,
    head_drop: Vec<f32>,
    embedding_drop: Vec<f32>,
    max_arg: Vec<u32>,
    /// Dense inputs/outputs: `acts[0]` is the head's input (after dropout), `acts[i + 1]` layer i's output.
    acts: Vec<Vec<f32>>,
    d_act: Vec<f32>,
    d_prev: Vec<f32>,
    d_y: Vec<f32>,
    d_h_n: Vec<f32>,
    d_x: Vec<f32>,
}

fn push(table: &mut Vec<ParamEntry>, name: String, shape: Vec<usize>) -> usize {
    let offset = table.last().map_or(0, |e| e.offset + e.len());
    table.push(ParamEntry {
        name,
        offset,
        shape,
    });
    offset
}

impl Model {
    /// A model initialised as PyTorch initialises these modules (embedding N(0, 1) with the padding
    /// row zeroed, LSTM and Linear uniform ±1/√fan), drawn from `config.seed` in table order, with
    /// Adam at PyTorch's defaults.
    ///
    /// # Errors
    /// `Error::Value` when the config is unusable.
    pub fn new(config: ModelConfig) -> Result<Self> {
        config.validate()?;
        let lc = config.lstm_config();
        let mut lstm = LstmLayer::new(lc)?;
        // Only an embedding reads dL/dx of the LSTM's input; dense features and one-hot ids do not.
        lstm.set_input_gradient(matches!(config.input, InputConfig::Embedding { .. }));
        let mut table = Vec::new();
        let embedding = match config.input {
            InputConfig::Embedding {
                vocab_size, dim, ..
            } => Some(push(
                &mut table,
                "embedding.weight".into(),
                vec![vocab_size, dim],
            )),
            _ => None,
        };
        let lstm_start = table.last().map_or(0, |e: &ParamEntry| e.offset + e.len());
        for e in lstm.param_table() {
            push(&mut table, format!("lstm.{}", e.name), e.shape.clone());
        }
        let lstm_range = lstm_start..lstm_start + lc.param_count();
        let mut dense = Vec::new();
        let mut width = config
            .pooling
            .pooled_width(lc.directions() * lc.hidden_size);
        let layers: Vec<(String, usize, DenseActivation)> = config
            .head
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("head.{i}"), d.units, d.activation))
            .chain(std::iter::once((
                "fc".to_string(),
                config.units,
                DenseActivation::Linear,
            )))
            .collect();
        for (name, units, act) in layers {
            let w = push(&mut table, format!("{name}.weight"), vec![units, width]);
            let b = push(&mut table, format!("{name}.bias"), vec![units]);
            dense.push(DenseLayer {
                w,
                b,
                n_in: width,
                n_out: units,
                act,
            });
            width = units;
        }
        let n = table.last().map_or(0, |e| e.offset + e.len());
        // validate() bounded the size; this asks for the memory before the four buffers are made.
        crate::limits::reserve_model("model", n as u128 * 16)?;
        let mut params = vec![0.0; n];
        let mut rng = Rng::new(config.seed);
        if let (
            Some(off),
            InputConfig::Embedding {
                vocab_size,
                dim,
                padding_idx,
                ..
            },
        ) = (embedding, &config.input)
        {
            let e = &mut params[off..off + vocab_size * dim];
            for v in e.iter_mut() {
                *v = rng.normal();
            }
            if let Some(p) = padding_idx {
                e[*p as usize * dim..(*p as usize + 1) * dim].fill(0.0);
            }
        }
        lc.init_params(&mut rng, &mut params[lstm_range.clone()]);
        for d in &dense {
            let bound = 1.0 / (d.n_in as f32).sqrt();
            for v in &mut params[d.w..d.b + d.n_out] {
                *v = rng.uniform(-bound, bound);
            }
        }

        lstm.set_dropout(config.lstm.dropout, false, config.seed ^ 0x5eed_d20b);
        Ok(Self {
            rng: Rng::new(config.seed ^ 0xd20b_5eed),
            optimizer: Optimizer::new(OptimizerConfig::default(), n)?,
            clip_norm: None,
            grads: vec![0.0; n],
            acts: vec![Vec::new(); dense.len() + 1],
            config,
            table,
            params,
            lstm,
            lstm_range,
            embedding,
            dense,
            batch: 0,
            steps: 0,
            lengths: Vec::new(),
            tokens: Vec::new(),
            x: Vec::new(),
            head_drop: Vec::new(),
            embedding_drop: Vec::new(),
            max_arg: Vec::new(),
            d_act: Vec::new(),
            d_prev: Vec::new(),
            d_y: Vec::new(),
            d_h_n: Vec::new(),
            d_x: Vec::new(),
        })
    }

    /// The config with every default filled in, as JSON.
    pub fn config_json(&self) -> String {
        serde_json::to_string(&self.config).unwrap_or_default()
    }

    /// The config this model was built from.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Names, offsets and shapes of every parameter.
    pub fn param_table(&self) -> &[ParamEntry] {
        &self.table
    }

    /// The flat parameters.
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// The flat gradients of the last `forward_backward` / `train_batch`.
    pub fn grads(&self) -> &[f32] {
        &self.grads
    }

    /// Replaces every parameter.
    ///
    /// # Errors
    /// `Error::Shape` on a wrong length, `Error::Value` on a non-finite value; nothing changes then.
    pub fn set_params(&mut self, data: &[f32]) -> Result<()> {
        check_len(
            "model parameters",
            data.len(),
            self.params.len(),
            "(the flat parameter table)",
        )?;
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::Value(format!(
                "model parameters hold a non-finite value at flat index {i}"
            )));
        }
        self.params.copy_from_slice(data);
        self.lstm.invalidate();
        Ok(())
    }

    /// Replaces the optimiser (fresh state) and the clipping norm.
    ///
    /// # Errors
    /// `Error::Value` on out-of-range hyper-parameters or clip norm; nothing changes then.
    pub fn set_optimizer(&mut self, config: OptimizerConfig, clip_norm: Option<f32>) -> Result<()> {
        if let Some(c) = clip_norm {
            if !(c.is_finite() && c > 0.0) {
                return Err(Error::Value(format!(
                    "clipNorm must be a finite number > 0, got {c}"
                )));
            }
        }
        self.optimizer = Optimizer::new(config, self.params.len())?;
        self.clip_norm = clip_norm;
        Ok(())
    }

    /// The optimiser's state.
    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }

    /// Restores the optimiser's step count and moments (from a saved model).
    ///
    /// # Errors
    /// `Error::Shape` when a moment buffer has the wrong length.
    pub fn set_optimizer_state(&mut self, step: u64, m: &[f32], v: &[f32]) -> Result<()> {
        check_len(
            "optimizer first moment",
            m.len(),
            self.optimizer.m.len(),
            "(the flat parameter table)",
        )?;
        check_len(
            "optimizer second moment",
            v.len(),
            self.optimizer.v.len(),
            "(the flat parameter table, or empty for SGD)",
        )?;
        // Refused before anything changes: a NaN, an infinite or a negative second moment would turn
        // every weight into NaN on the next step.
        check_finite("optimizer first moment", m)?;
        check_finite("optimizer second moment", v)?;
        if let Some(i) = v.iter().position(|&x| x < 0.0) {
            return Err(Error::Value(format!(
                "optimizer second moment holds a negative value ({}) at flat index {i}; it is a running mean of squares",
                v[i]
            )));
        }
        if step > 1 << 53 {
            return Err(Error::Value(format!(
                "optimizer step count {step} is not a plausible number of steps (at most 2^53)"
            )));
        }
        self.optimizer.step = step;
        self.optimizer.m.copy_from_slice(m);
        self.optimizer.v.copy_from_slice(v);
        Ok(())
    }

    /// The state of both dropout streams (head, then between LSTM layers), so training resumes exactly.
    pub fn rng_state(&self) -> [u32; 8] {
        let (a, b) = (self.rng.state(), self.lstm.rng().state());
        [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
    }

    /// Restores the dropout streams saved by [`Model::rng_state`].
    ///
    /// # Errors
    /// `Error::Shape` unless `state` has 8 words.
    pub fn set_rng_state(&mut self, state: &[u32]) -> Result<()> {
        check_len("random state", state.len(), 8, "(8 words)")?;
        self.rng = Rng::from_state([state[0], state[1], state[2], state[3]]);
        self.lstm
            .set_rng(Rng::from_state([state[4], state[5], state[6], state[7]]));
        Ok(())
    }

    /// The step half of [`Model::train_batch`] on given gradients: replaces [`Model::grads`] with
    /// `grads` (the flat table's layout), then clips and updates exactly as `train_batch` does after
    /// its backward. With `grads` the `terms`-weighted sum of shards' [`Model::forward_backward`]
    /// gradients, the step equals a `train_batch` on the whole batch up to summation order.
    ///
    /// # Errors
    /// `Error::Shape` on a wrong length, `Error::Value` on a non-finite gradient; nothing changes then.
    pub fn apply_gradients(&mut self, grads: &[f32]) -> Result<()> {
        check_len(
            "gradients",
            grads.len(),
            self.grads.len(),
            "(the flat parameter table)",
        )?;
        if let Some(i) = grads.iter().position(|g| !g.is_finite()) {
            return Err(Error::Value(format!(
                "training diverged: the gradient at flat index {i} is not finite; parameters were not updated (lower the learning rate or clip gradients)"
            )));
        }
        self.grads.copy_from_slice(grads);
        if let Some(max) = self.clip_norm {
            clip_grad_norm(&mut self.grads, max);
        }
        self.optimizer.update(&mut self.params, &self.grads);
        self.lstm.invalidate();
        Ok(())
    }

    /// Sets the learning rate for the next steps (schedules call this between batches).
    ///
    /// # Errors
    /// `Error::Value` when `lr` is negative or not finite.
    pub fn set_lr(&mut self, lr: f32) -> Result<()> {
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(Error::Value(format!(
                "learning rate must be a finite number ≥ 0, got {lr}"
            )));
        }
        self.optimizer.lr = lr;
        Ok(())
    }

    /// Width of one output row: U.
    pub fn units(&self) -> usize {
        self.config.units
    }

    /// How many sequences of `steps` steps one chunk of a chunked evaluation or prediction should hold:
    /// as many as fit [`crate::limits::CHUNK_BYTES`] of working memory, at least 1 (a single sequence
    /// that needs more is the call's own error). So a long test pass is never refused after training.
    pub fn max_batch(&self, steps: usize) -> usize {
        let per_sequence = steps.max(1) as u128 * self.config.floats_per_step() * 4;
        (crate::limits::CHUNK_BYTES / per_sequence.max(1)).clamp(1, crate::limits::MAX_SIZE as u128)
            as usize
    }

    /// Checks a batch as the batch calls do, changing nothing: `fit` runs it over every batch before
    /// its first step, so bad data is refused before any weight moves.
    ///
    /// # Errors
    /// As the batch calls: `Error::Shape` / `Error::Value` naming the first bad element.
    pub fn check_batch(&self, b: &Batch<'_>) -> Result<()> {
        self.validate_batch(b, false)
    }

    fn validate_batch(&self, b: &Batch<'_>, need_targets: bool) -> Result<()> {
        let (n, t) = (b.batch, b.steps);
        // Shape and working memory first: every product below is then known to fit a usize.
        crate::limits::check_call("a batch call", n, t, self.config.floats_per_step())?;
        match (&self.config.input, b.tokens, b.x) {
            (InputConfig::Dense { features }, None, Some(x)) => {
                check_len(
                    "input x",
                    x.len(),
                    n * t * features,
                    &format!("(batch {n}, steps {t}, features {features})"),
                )?;
                check_finite("input x", x)?;
            }
            (
                InputConfig::OneHot { vocab_size } | InputConfig::Embedding { vocab_size, .. },
                Some(ids),
                None,
            ) => {
                check_len(
                    "token ids",
                    ids.len(),
                    n * t,
                    &format!("(batch {n}, steps {t})"),
                )?;
                if let Some(i) = ids.iter().position(|&v| v < 0 || v as usize >= *vocab_size) {
                    return Err(Error::Value(format!(
                        "token id {} at flat index {i} (sequence {}, step {}) is out of range; ids must be in 0..{vocab_size} (vocabSize)",
                        ids[i],
                        i / t,
                        i % t
                    )));
                }
            }
            (InputConfig::Dense { .. }, _, _) => {
                return Err(Error::Value(
                    "this model takes float features x (batch, steps, features), not token ids"
                        .into(),
                ))
            }
            _ => {
                return Err(Error::Value(
                    "this model takes token ids (batch, steps), not float features".into(),
                ))
            }
        }
        if let Some(l) = b.lengths {
            check_len("lengths", l.len(), n, &format!("(batch {n})"))?;
            if let Some(i) = l.iter().position(|&v| v == 0 || v as usize > t) {
                return Err(Error::Value(format!(
                    "lengths[{i}] = {} is out of range; each length must be in 1..={t}",
                    l[i]
                )));
            }
        }
        match (b.targets, need_targets) {
            (None, true) => {
                return Err(Error::Value("training and evaluation need targets".into()))
            }
            (Some(y), _) => self.validate_targets(y, n, t)?,
            _ => {}
        }
        Ok(())
    }

    fn validate_targets(&self, y: &[f32], n: usize, t: usize) -> Result<()> {
        let u = self.config.units;
        let rows = if self.config.pooling == Pooling::Sequence {
            n * t
        } else {
            n
        };
        let per_step = if self.config.pooling == Pooling::Sequence {
            format!("batch {n}, steps {t}")
        } else {
            format!("batch {n}")
        };
        match self.config.loss {
            LossKind::CrossEntropy => {
                check_len(
                    "targets",
                    y.len(),
                    rows,
                    &format!("({per_step}) of class ids"),
                )?;
                if let Some(i) = y
                    .iter()
                    .position(|&v| !(v.fract() == 0.0 && v >= 0.0 && (v as usize) < u))
                {
                    return Err(Error::Value(format!(
                        "target {} at index {i} is not a class id in 0..{u}",
                        y[i]
                    )));
                }
            }
            LossKind::Bce => {
                check_len(
                    "labels",
                    y.len(),
                    rows * u,
                    &format!("({per_step}, units {u})"),
                )?;
                if let Some(i) = y.iter().position(|&v| v != 0.0 && v != 1.0) {
                    return Err(Error::Value(format!(
                        "label {} at index {i} is not 0 or 1; binary cross-entropy with a sigmoid output takes 0/1 labels",
                        y[i]
                    )));
                }
            }
            LossKind::Mse => {
                check_len(
                    "targets",
                    y.len(),
                    rows * u,
                    &format!("({per_step}, units {u})"),
                )?;
                if let Some(i) = y.iter().position(|v| !v.is_finite()) {
                    return Err(Error::Value(format!(
                        "target at index {i} is not finite ({})",
                        y[i]
                    )));
                }
            }
        }
        Ok(())
    }
}

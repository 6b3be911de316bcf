//! Sequence models: an input layer (one-hot, embedding or dense features), an LSTM, a pooling of its
//! outputs (or every step's output), a stack of dense layers and a loss, over one flat parameter buffer
//! with PyTorch's names. One call per batch runs forward, loss, backward, clipping and the optimiser.
//!
//! Shapes: B batch, T steps, V vocabulary, E embedding width, F features, H hidden, D directions,
//! P = D·H pooled width, U output units. Internally everything is time-major `[T][B][..]`.
//! Names follow a PyTorch module with attributes `embedding`, `lstm`, `head.{i}` and `fc`, so a state
//! dict saved from such a module loads as it is.

use crate::kernels::{self, Trans};
use crate::lstm::{BackwardInput, ForwardInput, LstmConfig, LstmLayer, ParamEntry};
use crate::optim::{clip_grad_norm, Optimizer, OptimizerConfig};
use crate::rng::Rng;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// How tokens or features enter the LSTM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum InputConfig {
    /// Token ids as one-hot vectors of width V (computed as a gather of `weight_ih_l0`'s columns).
    OneHot {
        /// V.
        #[serde(rename = "vocabSize")]
        vocab_size: usize,
    },
    /// Token ids through `embedding.weight` (V, E).
    Embedding {
        /// V.
        #[serde(rename = "vocabSize")]
        vocab_size: usize,
        /// E.
        dim: usize,
        /// The row kept at zero and never updated (PyTorch's `padding_idx`; default 0, null for none).
        #[serde(rename = "paddingIdx", default = "default_padding")]
        padding_idx: Option<u32>,
    },
    /// Float features (B, T, F).
    Dense {
        /// F.
        features: usize,
    },
}

fn default_padding() -> Option<u32> {
    Some(0)
}

/// The recurrent part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LstmSpec {
    /// H.
    #[serde(rename = "hiddenSize")]
    pub hidden_size: usize,
    /// L (default 1).
    #[serde(rename = "numLayers", default = "one")]
    pub num_layers: usize,
    /// D = 2 when true (default false).
    #[serde(default)]
    pub bidirectional: bool,
    /// Dropout between stacked layers (default 0).
    #[serde(default)]
    pub dropout: f32,
}

fn one() -> usize {
    1
}

/// How the LSTM's outputs become the head's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The last layer's h_n: each direction's state after its last real step (P = D·H).
    Last,
    /// The mean of the outputs over real steps.
    Mean,
    /// The elementwise maximum of the outputs over real steps.
    Max,
    /// No pooling: the head runs on every step (tagging, language modelling).
    Sequence,
}

/// A dense layer's nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(0, x).
    Relu,
    /// tanh(x).
    Tanh,
    /// x.
    Linear,
}

/// One hidden dense layer of the head.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseSpec {
    /// Output width.
    pub units: usize,
    /// Nonlinearity (default relu).
    #[serde(default = "relu")]
    pub activation: Activation,
}

fn relu() -> Activation {
    Activation::Relu
}

/// The training objective; it also fixes what `predict` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// Binary cross-entropy with logits, mean over elements; targets 0 or 1; predict gives σ(z).
    Bce,
    /// Softmax cross-entropy with class ids, mean over rows; predict gives softmax(z).
    CrossEntropy,
    /// Mean squared error, mean over elements; predict gives z.
    Mse,
}

/// A whole model, as the TypeScript config serialises it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Input layer.
    pub input: InputConfig,
    /// The LSTM.
    pub lstm: LstmSpec,
    /// Pooling (default last).
    #[serde(default = "last")]
    pub pooling: Pooling,
    /// Hidden dense layers before the output layer (default none).
    #[serde(default)]
    pub head: Vec<DenseSpec>,
    /// Dropout on the head's input (default 0).
    #[serde(rename = "headDropout", default)]
    pub head_dropout: f32,
    /// U: width of the output layer `fc`.
    pub units: usize,
    /// The loss.
    pub loss: LossKind,
    /// Token id treated as padding: such steps are skipped as packed sequences skip them, wherever they
    /// stand (the real tokens are moved to the front, in order). None: every step is real unless
    /// lengths are given.
    #[serde(rename = "maskToken", default)]
    pub mask_token: Option<u32>,
    /// Seed of initialisation and dropout.
    #[serde(default)]
    pub seed: u64,
}

fn last() -> Pooling {
    Pooling::Last
}

const MAX_SIZE: usize = 1 << 24;

impl ModelConfig {
    /// Parses and checks a JSON config.
    ///
    /// # Errors
    /// `Error::Value` naming the field that is missing, unknown or out of range.
    pub fn from_json(json: &str) -> Result<Self> {
        let c: ModelConfig =
            serde_json::from_str(json).map_err(|e| Error::Value(format!("model config: {e}")))?;
        c.validate()?;
        Ok(c)
    }

    /// Checks every field's range.
    ///
    /// # Errors
    /// `Error::Value` naming the field.
    pub fn validate(&self) -> Result<()> {
        let size = |name: &str, v: usize| {
            if v == 0 || v > MAX_SIZE {
                Err(Error::Value(format!(
                    "model {name} must be an integer in 1..={MAX_SIZE}, got {v}"
                )))
            } else {
                Ok(())
            }
        };
        let prob = |name: &str, p: f32| {
            if !(0.0..1.0).contains(&p) {
                Err(Error::Value(format!(
                    "model {name} must be in [0, 1), got {p}"
                )))
            } else {
                Ok(())
            }
        };
        match self.input {
            InputConfig::OneHot { vocab_size } => size("vocabSize", vocab_size)?,
            InputConfig::Embedding {
                vocab_size,
                dim,
                padding_idx,
            } => {
                size("vocabSize", vocab_size)?;
                size("embedding dim", dim)?;
                if let Some(p) = padding_idx {
                    if p as usize >= vocab_size {
                        return Err(Error::Value(format!(
                            "paddingIdx {p} must be below vocabSize {vocab_size}"
                        )));
                    }
                }
            }
            InputConfig::Dense { features } => size("features", features)?,
        }
        size("lstm.hiddenSize", self.lstm.hidden_size)?;
        size("lstm.numLayers", self.lstm.num_layers)?;
        prob("lstm.dropout", self.lstm.dropout)?;
        prob("headDropout", self.head_dropout)?;
        for (i, d) in self.head.iter().enumerate() {
            size(&format!("head[{i}].units"), d.units)?;
        }
        size("units", self.units)?;
        if self.loss == LossKind::CrossEntropy && self.units < 2 {
            return Err(Error::Value(format!(
                "cross-entropy needs at least 2 output units (classes), got {}",
                self.units
            )));
        }
        if self.mask_token.is_some() && matches!(self.input, InputConfig::Dense { .. }) {
            return Err(Error::Value(
                "maskToken needs token input (one-hot or embedding); pass lengths for dense input"
                    .into(),
            ));
        }
        if self.mask_token.is_some() && self.pooling == Pooling::Sequence {
            return Err(Error::Value(
                "maskToken cannot be used with per-step outputs (it moves tokens); pass lengths with 'post' padding".into(),
            ));
        }
        self.lstm_config().validate()
    }

    fn lstm_config(&self) -> LstmConfig {
        LstmConfig {
            input_size: match self.input {
                InputConfig::OneHot { vocab_size } => vocab_size,
                InputConfig::Embedding { dim, .. } => dim,
                InputConfig::Dense { features } => features,
            },
            hidden_size: self.lstm.hidden_size,
            num_layers: self.lstm.num_layers,
            bidirectional: self.lstm.bidirectional,
        }
    }
}

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
}

/// Offsets of a dense layer.
#[derive(Clone, Copy, Debug)]
struct DenseSlot {
    w: usize,
    b: usize,
    n_in: usize,
    n_out: usize,
    act: Activation,
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
    dense: Vec<DenseSlot>,
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

fn check_len(what: &str, got: usize, want: usize, shape: &str) -> Result<()> {
    if got != want {
        return Err(Error::Shape(format!(
            "{what} has {got} elements; expected {want} for shape {shape}"
        )));
    }
    Ok(())
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
        let lstm = LstmLayer::new(lc)?;
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
        let mut width = lc.directions() * lc.hidden_size;
        let layers: Vec<(String, usize, Activation)> = config
            .head
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("head.{i}"), d.units, d.activation))
            .chain(std::iter::once((
                "fc".to_string(),
                config.units,
                Activation::Linear,
            )))
            .collect();
        for (name, units, act) in layers {
            let w = push(&mut table, format!("{name}.weight"), vec![units, width]);
            let b = push(&mut table, format!("{name}.bias"), vec![units]);
            dense.push(DenseSlot {
                w,
                b,
                n_in: width,
                n_out: units,
                act,
            });
            width = units;
        }
        let n = table.last().map_or(0, |e| e.offset + e.len());
        if n > 1 << 28 {
            return Err(Error::Value(format!(
                "model has {n} parameters; at most {} are supported",
                1 << 28
            )));
        }
        let mut params = vec![0.0; n];
        let mut rng = Rng::new(config.seed);
        if let (
            Some(off),
            InputConfig::Embedding {
                vocab_size,
                dim,
                padding_idx,
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
        let mut lstm = lstm;
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

    fn validate_batch(&self, b: &Batch<'_>, need_targets: bool) -> Result<()> {
        let (n, t) = (b.batch, b.steps);
        if n == 0 || t == 0 || n > MAX_SIZE || t > MAX_SIZE || n.saturating_mul(t) > MAX_SIZE {
            return Err(Error::Shape(format!("a batch needs at least one sequence of at least one step; got batch {n}, steps {t}")));
        }
        match (&self.config.input, b.tokens, b.x) {
            (InputConfig::Dense { features }, None, Some(x)) => {
                check_len(
                    "input x",
                    x.len(),
                    n * t * features,
                    &format!("(batch {n}, steps {t}, features {features})"),
                )?;
                if let Some(i) = x.iter().position(|v| !v.is_finite()) {
                    return Err(Error::Value(format!(
                        "input x holds a non-finite value ({}) at flat index {i}",
                        x[i]
                    )));
                }
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

    /// Forward pass through every layer, filling the caches; `training` turns dropout on.
    fn forward(&mut self, b: &Batch<'_>, training: bool) -> Result<()> {
        let (n, t) = (b.batch, b.steps);
        self.batch = n;
        self.steps = t;
        // Lengths: explicit, else from the mask token (real tokens moved to the front), else none.
        self.lengths.clear();
        self.tokens.clear();
        if let Some(ids) = b.tokens {
            self.tokens.resize(n * t, 0);
            match (b.lengths, self.config.mask_token) {
                (None, Some(pad)) => {
                    for j in 0..n {
                        let row = &ids[j * t..(j + 1) * t];
                        let mut len = 0;
                        for &v in row.iter().filter(|&&v| v as u32 != pad) {
                            self.tokens[len * n + j] = v as u32;
                            len += 1;
                        }
                        // A sequence of padding only still takes one step (packed sequences need ≥ 1).
                        let real = len.max(1);
                        for s in len..t {
                            self.tokens[s * n + j] = pad;
                        }
                        self.lengths.push(real as u32);
                    }
                }
                _ => {
                    for j in 0..n {
                        for s in 0..t {
                            self.tokens[s * n + j] = ids[j * t + s] as u32;
                        }
                    }
                }
            }
        }
        if let Some(l) = b.lengths {
            self.lengths.extend_from_slice(l);
        }
        let lengths = if self.lengths.is_empty() {
            None
        } else {
            Some(&self.lengths[..])
        };
        let lp = &self.params[self.lstm_range.clone()];
        self.lstm.set_training(training);
        match (&self.config.input, b.x) {
            (InputConfig::Dense { features }, Some(x)) => {
                let f = *features;
                self.x.resize(n * t * f, 0.0);
                for j in 0..n {
                    for s in 0..t {
                        self.x[(s * n + j) * f..(s * n + j + 1) * f]
                            .copy_from_slice(&x[(j * t + s) * f..(j * t + s + 1) * f]);
                    }
                }
                let input = ForwardInput {
                    x: &self.x,
                    batch: n,
                    steps: t,
                    lengths,
                    ..Default::default()
                };
                self.lstm.sequence_forward(lp, &input)?;
            }
            (InputConfig::Embedding { dim, .. }, _) => {
                let (e, off) = (*dim, self.embedding.unwrap_or(0));
                self.x.resize(n * t * e, 0.0);
                for (r, &v) in self.tokens.iter().enumerate() {
                    self.x[r * e..(r + 1) * e].copy_from_slice(
                        &self.params[off + v as usize * e..off + (v as usize + 1) * e],
                    );
                }
                let input = ForwardInput {
                    x: &self.x,
                    batch: n,
                    steps: t,
                    lengths,
                    ..Default::default()
                };
                self.lstm.sequence_forward(lp, &input)?;
            }
            _ => {
                let input = ForwardInput {
                    tokens: Some(&self.tokens),
                    batch: n,
                    steps: t,
                    lengths,
                    ..Default::default()
                };
                self.lstm.sequence_forward(lp, &input)?;
            }
        }
        self.pool();
        // Dropout on the head's input.
        let p = self.config.head_dropout;
        self.head_drop.clear();
        if training && p > 0.0 {
            let keep = 1.0 - p;
            let a = &mut self.acts[0];
            self.head_drop.resize(a.len(), 0.0);
            for (m, v) in self.head_drop.iter_mut().zip(a.iter_mut()) {
                *m = if self.rng.next_f32() < keep {
                    1.0 / keep
                } else {
                    0.0
                };
                *v *= *m;
            }
        }
        // Dense layers: out = act(in · Wᵀ + b).
        let ks = kernels::active();
        let rows = self.rows();
        for (i, d) in self.dense.iter().enumerate() {
            let (inp, out) = self.acts.split_at_mut(i + 1);
            let (inp, out) = (&inp[i], &mut out[0]);
            out.resize(rows * d.n_out, 0.0);
            for row in out.chunks_exact_mut(d.n_out) {
                row.copy_from_slice(&self.params[d.b..d.b + d.n_out]);
            }
            let w = &self.params[d.w..d.w + d.n_out * d.n_in];
            ks.gemm(
                Trans::N,
                Trans::T,
                rows,
                d.n_out,
                d.n_in,
                inp,
                d.n_in,
                w,
                d.n_in,
                out,
                d.n_out,
                true,
            );
            match d.act {
                Activation::Relu => out.iter_mut().for_each(|v| *v = v.max(0.0)),
                Activation::Tanh => ks.tanh(out),
                Activation::Linear => {}
            }
        }
        Ok(())
    }

    /// Rows the head runs on: B, or T·B for per-step outputs.
    fn rows(&self) -> usize {
        if self.config.pooling == Pooling::Sequence {
            self.batch * self.steps
        } else {
            self.batch
        }
    }

    /// Whether step `s` of sequence `j` is real.
    fn real(&self, s: usize, j: usize) -> bool {
        self.lengths.is_empty() || s < self.lengths[j] as usize
    }

    /// The head's input from the LSTM: pooled (B, P) or every step (T·B, P).
    fn pool(&mut self) {
        let lc = *self.lstm.config();
        let (n, t, h, dirs) = (self.batch, self.steps, lc.hidden_size, lc.directions());
        let p = dirs * h;
        let y = self.lstm.output_time_major();
        let a = &mut self.acts[0];
        match self.config.pooling {
            Pooling::Sequence => {
                a.clear();
                a.extend_from_slice(y);
            }
            Pooling::Last => {
                a.resize(n * p, 0.0);
                let hn = self.lstm.h_n();
                for d in 0..dirs {
                    let slot = ((lc.num_layers - 1) * dirs + d) * n * h;
                    for j in 0..n {
                        a[j * p + d * h..j * p + (d + 1) * h]
                            .copy_from_slice(&hn[slot + j * h..slot + (j + 1) * h]);
                    }
                }
            }
            Pooling::Mean => {
                a.clear();
                a.resize(n * p, 0.0);
                // Padding outputs are zero, so summing every step sums the real ones.
                for s in 0..t {
                    for j in 0..n {
                        for (acc, v) in a[j * p..(j + 1) * p]
                            .iter_mut()
                            .zip(&y[(s * n + j) * p..(s * n + j + 1) * p])
                        {
                            *acc += v;
                        }
                    }
                }
                for j in 0..n {
                    let len = if self.lengths.is_empty() {
                        t
                    } else {
                        self.lengths[j] as usize
                    };
                    a[j * p..(j + 1) * p]
                        .iter_mut()
                        .for_each(|v| *v /= len as f32);
                }
            }
            Pooling::Max => {
                a.clear();
                a.resize(n * p, f32::NEG_INFINITY);
                self.max_arg.clear();
                self.max_arg.resize(n * p, 0);
                for s in 0..t {
                    for j in 0..n {
                        if !(self.lengths.is_empty() || s < self.lengths[j] as usize) {
                            continue;
                        }
                        for u in 0..p {
                            let v = y[(s * n + j) * p + u];
                            if v > a[j * p + u] {
                                a[j * p + u] = v;
                                self.max_arg[j * p + u] = s as u32;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Loss over the last forward's logits; writes dL/dlogits into `d_act` when `grad`.
    fn loss(&mut self, y: &[f32], grad: bool) -> BatchStats {
        let u = self.config.units;
        let (n, t) = (self.batch, self.steps);
        let seq = self.config.pooling == Pooling::Sequence;
        let z = &self.acts[self.dense.len()];
        let rows = z.len() / u;
        // Target row of logits row r: batch-first targets, time-major logits.
        let target_row = |r: usize| if seq { (r % n) * t + r / n } else { r };
        let real =
            |r: usize| !seq || self.lengths.is_empty() || (r / n) < self.lengths[r % n] as usize;
        let counted = (0..rows).filter(|&r| real(r)).count().max(1);
        let mut stats = BatchStats::default();
        if grad {
            self.d_act.clear();
            self.d_act.resize(z.len(), 0.0);
        }
        let mut total = 0f64;
        match self.config.loss {
            LossKind::Bce => {
                let denom = (counted * u) as f32;
                for r in (0..rows).filter(|&r| real(r)) {
                    let tr = target_row(r);
                    for k in 0..u {
                        let (zv, yv) = (z[r * u + k], y[tr * u + k]);
                        // max(z, 0) − z·y + log(1 + e^{−|z|}): stable for large |z|.
                        total += (zv.max(0.0) - zv * yv + (-zv.abs()).exp().ln_1p()) as f64;
                        if grad {
                            self.d_act[r * u + k] = (sigmoid(zv) - yv) / denom;
                        }
                        stats.correct += ((zv > 0.0) == (yv > 0.5)) as u8 as f64;
                        stats.count += 1.0;
                    }
                }
                stats.loss = total / (counted * u) as f64;
            }
            LossKind::CrossEntropy => {
                let denom = counted as f32;
                for r in (0..rows).filter(|&r| real(r)) {
                    let row = &z[r * u..(r + 1) * u];
                    let cls = y[target_row(r)] as usize;
                    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
                    total += ((sum.ln() + max) - row[cls]) as f64;
                    let arg = row
                        .iter()
                        .enumerate()
                        .fold(0, |best, (i, &v)| if v > row[best] { i } else { best });
                    stats.correct += (arg == cls) as u8 as f64;
                    stats.count += 1.0;
                    if grad {
                        let d = &mut self.d_act[r * u..(r + 1) * u];
                        for (k, (g, &zk)) in d.iter_mut().zip(row).enumerate() {
                            *g = ((zk - max).exp() / sum - (k == cls) as u8 as f32) / denom;
                        }
                    }
                }
                stats.loss = total / counted as f64;
            }
            LossKind::Mse => {
                let denom = (counted * u) as f32;
                for r in (0..rows).filter(|&r| real(r)) {
                    let tr = target_row(r);
                    for k in 0..u {
                        let diff = z[r * u + k] - y[tr * u + k];
                        total += (diff * diff) as f64;
                        if grad {
                            self.d_act[r * u + k] = 2.0 * diff / denom;
                        }
                    }
                }
                stats.loss = total / (counted * u) as f64;
            }
        }
        stats
    }

    /// Backward from `d_act` (dL/dlogits) through the head, pooling, LSTM and embedding into `grads`.
    fn backward(&mut self) -> Result<()> {
        let ks = kernels::active();
        let rows = self.rows();
        self.grads.fill(0.0);
        for i in (0..self.dense.len()).rev() {
            let d = self.dense[i];
            let out = &self.acts[i + 1];
            match d.act {
                Activation::Relu => self
                    .d_act
                    .iter_mut()
                    .zip(out)
                    .for_each(|(g, &o)| *g *= (o > 0.0) as u8 as f32),
                Activation::Tanh => self
                    .d_act
                    .iter_mut()
                    .zip(out)
                    .for_each(|(g, &o)| *g *= 1.0 - o * o),
                Activation::Linear => {}
            }
            let inp = &self.acts[i];
            let (gw, gb) = self.grads[d.w..d.b + d.n_out].split_at_mut(d.n_out * d.n_in);
            ks.gemm(
                Trans::T,
                Trans::N,
                d.n_out,
                d.n_in,
                rows,
                &self.d_act,
                d.n_out,
                inp,
                d.n_in,
                gw,
                d.n_in,
                true,
            );
            for row in self.d_act.chunks_exact(d.n_out) {
                gb.iter_mut().zip(row).for_each(|(g, v)| *g += v);
            }
            self.d_prev.resize(rows * d.n_in, 0.0);
            let w = &self.params[d.w..d.w + d.n_out * d.n_in];
            ks.gemm(
                Trans::N,
                Trans::N,
                rows,
                d.n_in,
                d.n_out,
                &self.d_act,
                d.n_out,
                w,
                d.n_in,
                &mut self.d_prev,
                d.n_in,
                false,
            );
            std::mem::swap(&mut self.d_act, &mut self.d_prev);
        }
        // d_act now holds dL/d(head input); undo the head dropout.
        if !self.head_drop.is_empty() {
            self.d_act
                .iter_mut()
                .zip(&self.head_drop)
                .for_each(|(g, m)| *g *= m);
        }
        let lc = *self.lstm.config();
        let (n, t, h, dirs) = (self.batch, self.steps, lc.hidden_size, lc.directions());
        let p = dirs * h;
        let mut d_output = None;
        let mut d_h_n = None;
        match self.config.pooling {
            Pooling::Sequence => d_output = Some(&self.d_act[..]),
            Pooling::Last => {
                self.d_h_n.clear();
                self.d_h_n.resize(lc.num_layers * dirs * n * h, 0.0);
                for d in 0..dirs {
                    let slot = ((lc.num_layers - 1) * dirs + d) * n * h;
                    for j in 0..n {
                        self.d_h_n[slot + j * h..slot + (j + 1) * h]
                            .copy_from_slice(&self.d_act[j * p + d * h..j * p + (d + 1) * h]);
                    }
                }
                d_h_n = Some(&self.d_h_n[..]);
            }
            Pooling::Mean => {
                self.d_y.clear();
                self.d_y.resize(t * n * p, 0.0);
                for s in 0..t {
                    for j in 0..n {
                        if !self.real(s, j) {
                            continue;
                        }
                        let len = if self.lengths.is_empty() {
                            t
                        } else {
                            self.lengths[j] as usize
                        };
                        for u in 0..p {
                            self.d_y[(s * n + j) * p + u] = self.d_act[j * p + u] / len as f32;
                        }
                    }
                }
                d_output = Some(&self.d_y[..]);
            }
            Pooling::Max => {
                self.d_y.clear();
                self.d_y.resize(t * n * p, 0.0);
                for j in 0..n {
                    for u in 0..p {
                        let s = self.max_arg[j * p + u] as usize;
                        self.d_y[(s * n + j) * p + u] += self.d_act[j * p + u];
                    }
                }
                d_output = Some(&self.d_y[..]);
            }
        }
        let (lp, lg) = (
            &self.params[self.lstm_range.clone()],
            &mut self.grads[self.lstm_range.clone()],
        );
        self.lstm.sequence_backward(
            lp,
            lg,
            &BackwardInput {
                d_output,
                d_h_n,
                d_c_n: None,
            },
        )?;
        if let (
            Some(off),
            InputConfig::Embedding {
                dim, padding_idx, ..
            },
        ) = (self.embedding, &self.config.input)
        {
            let e = *dim;
            self.d_x.resize(t * n * e, 0.0);
            self.lstm.read_d_x(&mut self.d_x)?;
            for (r, &v) in self.tokens.iter().enumerate() {
                if Some(v) == *padding_idx {
                    continue;
                }
                let g = &mut self.grads[off + v as usize * e..off + (v as usize + 1) * e];
                g.iter_mut()
                    .zip(&self.d_x[r * e..(r + 1) * e])
                    .for_each(|(a, b)| *a += b);
            }
        }
        Ok(())
    }

    /// Forward, loss and backward without an optimiser step: fills [`Model::grads`].
    ///
    /// # Errors
    /// `Error::Shape` / `Error::Value` on a bad batch; nothing changes then.
    pub fn forward_backward(&mut self, b: &Batch<'_>) -> Result<BatchStats> {
        self.validate_batch(b, true)?;
        self.forward(b, true)?;
        let stats = self.loss(b.targets.unwrap_or_default(), true);
        self.backward()?;
        Ok(stats)
    }

    /// One training step: forward with dropout, loss, backward, clipping, optimiser update.
    ///
    /// # Errors
    /// `Error::Shape` / `Error::Value` on a bad batch (nothing changes then); `Error::Value` when the
    /// loss or gradients become non-finite (parameters are left as they were before the step).
    pub fn train_batch(&mut self, b: &Batch<'_>) -> Result<BatchStats> {
        let stats = self.forward_backward(b)?;
        if !stats.loss.is_finite() || self.grads.iter().any(|g| !g.is_finite()) {
            return Err(Error::Value(format!(
                "training diverged: loss {} or gradients are not finite; parameters were not updated (lower the learning rate or clip gradients)",
                stats.loss
            )));
        }
        if let Some(max) = self.clip_norm {
            clip_grad_norm(&mut self.grads, max);
        }
        self.optimizer.update(&mut self.params, &self.grads);
        self.lstm.invalidate();
        Ok(stats)
    }

    /// Loss and accuracy without dropout or updates.
    ///
    /// # Errors
    /// `Error::Shape` / `Error::Value` on a bad batch.
    pub fn evaluate_batch(&mut self, b: &Batch<'_>) -> Result<BatchStats> {
        self.validate_batch(b, true)?;
        self.forward(b, false)?;
        Ok(self.loss(b.targets.unwrap_or_default(), false))
    }

    /// Outputs without dropout: σ(z) for BCE, softmax(z) for cross-entropy, z for MSE; (B, U) or
    /// batch-first (B, T, U) for per-step outputs.
    ///
    /// # Errors
    /// `Error::Shape` / `Error::Value` on a bad batch.
    pub fn predict_batch(&mut self, b: &Batch<'_>) -> Result<Vec<f32>> {
        self.validate_batch(
            &Batch {
                targets: None,
                ..*b
            },
            false,
        )?;
        self.forward(b, false)?;
        let mut out = self.logits();
        let u = self.config.units;
        match self.config.loss {
            LossKind::Bce => out.iter_mut().for_each(|v| *v = sigmoid(*v)),
            LossKind::CrossEntropy => {
                for row in out.chunks_exact_mut(u) {
                    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
                    row.iter_mut().for_each(|v| *v = (*v - max).exp() / sum);
                }
            }
            LossKind::Mse => {}
        }
        Ok(out)
    }

    /// The last forward's logits, batch-first: (B, U) or (B, T, U).
    pub fn logits(&self) -> Vec<f32> {
        let z = &self.acts[self.dense.len()];
        let u = self.config.units;
        if self.config.pooling != Pooling::Sequence {
            return z.clone();
        }
        let (n, t) = (self.batch, self.steps);
        let mut out = vec![0.0; z.len()];
        for s in 0..t {
            for j in 0..n {
                out[(j * t + s) * u..(j * t + s + 1) * u]
                    .copy_from_slice(&z[(s * n + j) * u..(s * n + j + 1) * u]);
            }
        }
        out
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

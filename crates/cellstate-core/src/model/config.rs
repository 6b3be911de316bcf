//! A model's configuration as the TypeScript side serialises it (camelCase JSON), its defaults and
//! its range checks.

use crate::limits::{self, MAX_LAYERS, MAX_SIZE};
use crate::lstm::LstmConfig;
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
        #[serde(rename = "paddingIdx", default = "default_padding_idx")]
        padding_idx: Option<u32>,
        /// Dropout on the embedding's output while training, one draw per element (default 0).
        #[serde(default)]
        dropout: f32,
    },
    /// Float features (B, T, F).
    Dense {
        /// F.
        features: usize,
    },
}

fn default_padding_idx() -> Option<u32> {
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
    #[serde(rename = "numLayers", default = "default_num_layers")]
    pub num_layers: usize,
    /// D = 2 when true (default false).
    #[serde(default)]
    pub bidirectional: bool,
    /// Dropout between stacked layers (default 0).
    #[serde(default)]
    pub dropout: f32,
}

fn default_num_layers() -> usize {
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
    /// The maximum and the mean, concatenated (2P wide).
    #[serde(rename = "max-mean")]
    MaxMean,
    /// No pooling: the head runs on every step (tagging, language modelling).
    Sequence,
}

/// A dense layer's nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DenseActivation {
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
    #[serde(default = "default_activation")]
    pub activation: DenseActivation,
}

fn default_activation() -> DenseActivation {
    DenseActivation::Relu
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
    #[serde(default = "default_pooling")]
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

impl Pooling {
    /// Width of a pooled row given the LSTM's output width P.
    pub fn pooled_width(self, p: usize) -> usize {
        if self == Pooling::MaxMean {
            2 * p
        } else {
            p
        }
    }
}

fn default_pooling() -> Pooling {
    Pooling::Last
}

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

    /// The vocabulary size of token input.
    fn vocab(&self) -> Option<usize> {
        match self.input {
            InputConfig::OneHot { vocab_size } | InputConfig::Embedding { vocab_size, .. } => {
                Some(vocab_size)
            }
            InputConfig::Dense { .. } => None,
        }
    }

    /// Every parameter of the model, exactly (no overflow whatever the sizes).
    pub fn param_count(&self) -> u128 {
        let lc = self.lstm_config();
        let mut n = limits::lstm_param_count(
            lc.input_size,
            lc.hidden_size,
            lc.num_layers,
            lc.bidirectional,
        );
        if let InputConfig::Embedding {
            vocab_size, dim, ..
        } = self.input
        {
            n += vocab_size as u128 * dim as u128;
        }
        let p = lc.directions() as u128 * lc.hidden_size as u128;
        let mut width = if self.pooling == Pooling::MaxMean {
            2 * p
        } else {
            p
        };
        for units in self.head.iter().map(|d| d.units).chain([self.units]) {
            n += units as u128 * (width + 1);
            width = units as u128;
        }
        n
    }

    /// f32 values one batch call keeps per (sequence, step): the LSTM's, the input layer's output and
    /// its gradient, and the head's activations when it runs on every step. One-hot input counts as
    /// one value: it is a gather of W_ih's columns, so no (T, B, V) input or gradient ever exists.
    pub(crate) fn floats_per_step(&self) -> u128 {
        let mut lc = self.lstm_config();
        if let InputConfig::OneHot { .. } = self.input {
            lc.input_size = 1;
        }
        let head: u128 =
            self.head.iter().map(|d| d.units as u128).sum::<u128>() + self.units as u128;
        let pooled = lc.directions() as u128 * lc.hidden_size as u128;
        let per_step_head = if self.pooling == Pooling::Sequence {
            2 * (pooled + head)
        } else {
            0
        };
        limits::lstm_floats_per_step(&lc) + 2 * lc.input_size as u128 + per_step_head
    }

    /// Checks every field's range, then that the model's buffers fit in memory, before anything is
    /// allocated. The limits are [`crate::limits`]'; field names are the TypeScript config's.
    ///
    /// # Errors
    /// `Error::Value` naming the field, or the memory the model would need.
    pub fn validate(&self) -> Result<()> {
        let prob = |name: &str, p: f32| {
            if !(0.0..1.0).contains(&p) {
                Err(Error::Value(format!(
                    "{name} must be a number in [0, 1), got {p}"
                )))
            } else {
                Ok(())
            }
        };
        let mut sizes: Vec<(String, usize)> = Vec::new();
        match self.input {
            InputConfig::OneHot { vocab_size } => sizes.push(("vocabSize".into(), vocab_size)),
            InputConfig::Embedding {
                vocab_size, dim, ..
            } => {
                sizes.push(("vocabSize".into(), vocab_size));
                sizes.push(("input.embedding".into(), dim));
            }
            InputConfig::Dense { features } => sizes.push(("input.features".into(), features)),
        }
        sizes.push(("lstm.hiddenSize".into(), self.lstm.hidden_size));
        for (i, d) in self.head.iter().enumerate() {
            sizes.push((format!("head[{i}].units"), d.units));
        }
        sizes.push(("output.units".into(), self.units));
        // Zeros first, then the memory (so a huge size says what it would cost), then each maximum.
        for (name, v) in &sizes {
            if *v == 0 {
                limits::check_size(name, *v, MAX_SIZE)?;
            }
        }
        limits::check_size("lstm.numLayers", self.lstm.num_layers, MAX_LAYERS)?;
        limits::check_model_memory("model", self.param_count(), 4)?;
        for (name, v) in &sizes {
            limits::check_size(name, *v, MAX_SIZE)?;
        }
        prob("lstm.dropout", self.lstm.dropout)?;
        prob("dropout", self.head_dropout)?;
        if let InputConfig::Embedding { dropout, .. } = self.input {
            prob("input.dropout", dropout)?;
        }
        if let InputConfig::Embedding {
            vocab_size,
            padding_idx: Some(p),
            ..
        } = self.input
        {
            if p as usize >= vocab_size {
                return Err(Error::Value(format!(
                    "input.paddingIdx must be null or an id below vocabSize {vocab_size}, got {p}"
                )));
            }
        }
        if self.loss == LossKind::CrossEntropy && self.units < 2 {
            return Err(Error::Value(format!(
                "a softmax output (cross-entropy) needs at least 2 units (classes), got {}",
                self.units
            )));
        }
        if let Some(m) = self.mask_token {
            let Some(v) = self.vocab() else {
                return Err(Error::Value(
                    "mask needs token input (one-hot or embedding); pass lengths for float features"
                        .into(),
                ));
            };
            if m as usize >= v {
                return Err(Error::Value(format!(
                    "mask must be true, false or a token id below vocabSize {v}, got {m}"
                )));
            }
            if self.pooling == Pooling::Sequence {
                return Err(Error::Value(
                    "mask cannot be combined with pooling 'sequence' (it moves tokens); pass lengths with 'post' padding".into(),
                ));
            }
        }
        self.lstm_config().validate()
    }

    /// The LSTM's constructor arguments: its input width follows from the input layer.
    pub(crate) fn lstm_config(&self) -> LstmConfig {
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

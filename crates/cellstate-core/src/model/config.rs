//! A model's configuration as the TypeScript side serialises it (camelCase JSON), its defaults and
//! its range checks.

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

fn default_pooling() -> Pooling {
    Pooling::Last
}

/// Largest size accepted for a config field or a batch dimension.
pub(crate) const MAX_SIZE: usize = 1 << 24;

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

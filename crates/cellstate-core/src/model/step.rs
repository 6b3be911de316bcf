//! The passes through the whole model, each one call per batch: forward (input → embedding dropout →
//! LSTM → pooling → head dropout → dense head), loss, backward in the reverse order, and the training step (clipping,
//! optimiser). Every layer's own forward and backward live in its file; this one only wires them.
//!
//! Shapes: B batch, T steps, P = D·H pooled width, U units, R head rows (B, or T·B per step).

use super::dense::{dense_backward, dense_forward};
use super::input::{embedding_backward, embedding_forward, tokens_time_major};
use super::loss::{loss_forward_backward, predictions_in_place, LossDims};
use super::pooling::{pool_backward, pool_forward, PoolDims, PoolGrad};
use super::{Batch, BatchStats, InputConfig, Model, Pooling};
use crate::dropout::{dropout_backward, dropout_forward};
use crate::kernels;
use crate::layout::swap_leading;
use crate::lstm::{BackwardInput, ForwardInput};
use crate::optim::clip_grad_norm;
use crate::{Error, Result};

impl Model {
    /// Forward pass through every layer, filling the caches; `training` turns dropout on.
    fn forward(&mut self, b: &Batch<'_>, training: bool) -> Result<()> {
        let (n, t) = (b.batch, b.steps);
        self.batch = n;
        self.steps = t;
        // Lengths: explicit, else from the mask token (real tokens moved to the front), else none.
        self.lengths.clear();
        self.tokens.clear();
        if let Some(ids) = b.tokens {
            let mask_token = if b.lengths.is_none() {
                self.config.mask_token
            } else {
                None
            };
            tokens_time_major(&mut self.tokens, &mut self.lengths, ids, n, t, mask_token);
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
        let input = match (&self.config.input, b.x) {
            // Evaluation and prediction hand the LSTM the batch-first input as it is: its inference
            // forward reads it in place (the same bits). Wasm relaxed, seed tier (dense one-hot
            // input, 7.7 MB a batch of 64): predict 13.8 ms with the time-major copy, against 8.8 ms
            // for the LSTM layer's own forward, which already read it in place.
            (InputConfig::Dense { .. }, Some(x)) if !training => ForwardInput {
                x,
                batch_first: true,
                ..Default::default()
            },
            (InputConfig::Dense { features }, Some(x)) => {
                self.x.resize(n * t * features, 0.0);
                swap_leading(x, &mut self.x, n, t, *features);
                ForwardInput {
                    x: &self.x,
                    ..Default::default()
                }
            }
            (
                InputConfig::Embedding {
                    vocab_size,
                    dim,
                    dropout,
                    ..
                },
                _,
            ) => {
                let off = self.embedding.unwrap_or(0);
                let table = &self.params[off..off + vocab_size * dim];
                embedding_forward(&mut self.x, &self.tokens, table, *dim);
                // Dropout on the embedded rows, drawn from the head's stream before the head's mask
                // (no draws at p = 0, so models without it keep their streams).
                self.embedding_drop.clear();
                if training && *dropout > 0.0 {
                    dropout_forward(
                        &mut self.rng,
                        *dropout,
                        &mut self.x,
                        &mut self.embedding_drop,
                    );
                }
                ForwardInput {
                    x: &self.x,
                    ..Default::default()
                }
            }
            _ => ForwardInput {
                tokens: Some(&self.tokens),
                ..Default::default()
            },
        };
        let input = ForwardInput {
            batch: n,
            steps: t,
            lengths,
            ..input
        };
        // Evaluation and prediction run no backward pass: the LSTM keeps no caches for them.
        if training {
            self.lstm.sequence_forward(lp, &input)?;
        } else {
            self.lstm.sequence_forward_inference(lp, &input)?;
        }
        let dims = self.pool_dims();
        pool_forward(
            &mut self.acts[0],
            &mut self.max_arg,
            self.config.pooling,
            self.lstm.output_time_major(),
            self.lstm.h_n(),
            &self.lengths,
            dims,
        );
        // Dropout on the head's input.
        let p = self.config.head_dropout;
        self.head_drop.clear();
        if training && p > 0.0 {
            dropout_forward(&mut self.rng, p, &mut self.acts[0], &mut self.head_drop);
        }
        let ks = kernels::active();
        let rows = self.rows();
        for (i, d) in self.dense.iter().enumerate() {
            let (inp, out) = self.acts.split_at_mut(i + 1);
            dense_forward(ks, &mut out[0], &inp[i], &self.params, d, rows);
        }
        Ok(())
    }

    /// The LSTM's forward FLOPs on this batch, what [`kernels::hold`] weighs a call by.
    fn call_flop(&self, b: &Batch<'_>) -> usize {
        self.lstm.config().forward_flop(b.batch, b.steps)
    }

    /// Rows the head runs on: B, or T·B for per-step outputs.
    fn rows(&self) -> usize {
        if self.config.pooling == Pooling::Sequence {
            self.batch * self.steps
        } else {
            self.batch
        }
    }

    fn pool_dims(&self) -> PoolDims {
        let lc = self.lstm.config();
        PoolDims {
            batch: self.batch,
            steps: self.steps,
            hidden: lc.hidden_size,
            directions: lc.directions(),
            num_layers: lc.num_layers,
        }
    }

    /// Loss over the last forward's logits; writes dL/dlogits into `d_act` when `grad`.
    fn loss(&mut self, y: &[f32], grad: bool) -> BatchStats {
        let dims = LossDims {
            batch: self.batch,
            steps: self.steps,
            units: self.config.units,
            per_step: self.config.pooling == Pooling::Sequence,
            lengths: &self.lengths,
        };
        let d_z = grad.then_some(&mut self.d_act);
        loss_forward_backward(d_z, self.config.loss, &self.acts[self.dense.len()], y, dims)
    }

    /// Backward from `d_act` (dL/dlogits) through the head, pooling, LSTM and embedding into `grads`.
    fn backward(&mut self) -> Result<()> {
        let ks = kernels::active();
        let rows = self.rows();
        self.grads.fill(0.0);
        for i in (0..self.dense.len()).rev() {
            dense_backward(
                ks,
                &mut self.d_prev,
                &mut self.grads,
                &mut self.d_act,
                &self.acts[i + 1],
                &self.acts[i],
                &self.params,
                &self.dense[i],
                rows,
            );
            std::mem::swap(&mut self.d_act, &mut self.d_prev);
        }
        // d_act now holds dL/d(head input); undo the head dropout.
        if !self.head_drop.is_empty() {
            dropout_backward(&mut self.d_act, &self.head_drop);
        }
        let dims = self.pool_dims();
        let pooled = pool_backward(
            &mut self.d_y,
            &mut self.d_h_n,
            self.config.pooling,
            &self.d_act,
            &self.max_arg,
            &self.lengths,
            dims,
        );
        let (d_output, d_h_n) = match pooled {
            PoolGrad::Pooled => (Some(&self.d_act[..]), None),
            PoolGrad::Outputs => (Some(&self.d_y[..]), None),
            PoolGrad::FinalState => (None, Some(&self.d_h_n[..])),
        };
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
                vocab_size,
                dim,
                padding_idx,
                ..
            },
        ) = (self.embedding, &self.config.input)
        {
            self.d_x.resize(self.batch * self.steps * dim, 0.0);
            self.lstm.read_d_x(&mut self.d_x)?;
            if !self.embedding_drop.is_empty() {
                dropout_backward(&mut self.d_x, &self.embedding_drop);
            }
            let d_table = &mut self.grads[off..off + vocab_size * dim];
            embedding_backward(d_table, &self.d_x, &self.tokens, *dim, *padding_idx);
        }
        Ok(())
    }

    /// Forward, loss and backward without an optimiser step: fills [`Model::grads`].
    ///
    /// # Errors
    /// `Error::Shape` / `Error::Value` on a bad batch; nothing changes then.
    pub fn forward_backward(&mut self, b: &Batch<'_>) -> Result<BatchStats> {
        // The pool's workers stay held through the step's passes (kernels::hold).
        kernels::hold(self.call_flop(b), || {
            self.validate_batch(b, true)?;
            self.forward(b, true)?;
            let stats = self.loss(b.targets.unwrap_or_default(), true);
            self.backward()?;
            Ok(stats)
        })
    }

    /// One training step: forward with dropout, loss, backward, clipping, optimiser update.
    ///
    /// # Errors
    /// `Error::Shape` / `Error::Value` on a bad batch (nothing changes then); `Error::Value` when the
    /// loss or gradients become non-finite (parameters are left as they were before the step).
    pub fn train_batch(&mut self, b: &Batch<'_>) -> Result<BatchStats> {
        kernels::hold(self.call_flop(b), || self.train_step(b))
    }

    fn train_step(&mut self, b: &Batch<'_>) -> Result<BatchStats> {
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
        kernels::hold(self.call_flop(b), || {
            self.validate_batch(b, true)?;
            self.forward(b, false)
        })?;
        Ok(self.loss(b.targets.unwrap_or_default(), false))
    }

    /// Outputs without dropout: σ(z) for BCE, softmax(z) for cross-entropy, z for MSE; (B, U) or
    /// batch-first (B, T, U) for per-step outputs.
    ///
    /// # Errors
    /// `Error::Shape` / `Error::Value` on a bad batch.
    pub fn predict_batch(&mut self, b: &Batch<'_>) -> Result<Vec<f32>> {
        kernels::hold(self.call_flop(b), || {
            self.validate_batch(
                &Batch {
                    targets: None,
                    ..*b
                },
                false,
            )?;
            self.forward(b, false)
        })?;
        let mut out = self.logits();
        predictions_in_place(self.config.loss, &mut out, self.config.units);
        Ok(out)
    }

    /// The last forward's logits, batch-first: (B, U) or (B, T, U).
    pub fn logits(&self) -> Vec<f32> {
        let z = &self.acts[self.dense.len()];
        let u = self.config.units;
        if self.config.pooling != Pooling::Sequence {
            return z.clone();
        }
        let mut out = vec![0.0; z.len()];
        swap_leading(z, &mut out, self.steps, self.batch, u);
        out
    }
}

//! Optimisers over one flat parameter buffer (PyTorch's update rules and defaults), and clipping by
//! global norm. Each is one loop over the buffer.
//! References: https://pytorch.org/docs/stable/generated/torch.optim.Adam.html, `AdamW`, `SGD`,
//! `torch.nn.utils.clip_grad_norm_`.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Which update rule, with its hyper-parameters (PyTorch's defaults when omitted from JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// `torch.optim.SGD`: momentum buffer `b = μ·b + g` (b = g on the first step), step `lr·b`
    /// (or `lr·(g + μ·b)` with Nesterov); L2 weight decay adds `wd·p` to `g`.
    Sgd {
        /// Learning rate.
        lr: f32,
        /// Momentum μ (default 0).
        #[serde(default)]
        momentum: f32,
        /// Nesterov momentum (default false).
        #[serde(default)]
        nesterov: bool,
        /// L2 penalty added to the gradient (default 0).
        #[serde(default, rename = "weightDecay")]
        weight_decay: f32,
    },
    /// `torch.optim.Adam` (L2 weight decay added to the gradient).
    Adam {
        /// Learning rate (default 1e-3).
        #[serde(default = "default_lr")]
        lr: f32,
        /// β1 (default 0.9).
        #[serde(default = "default_beta1")]
        beta1: f32,
        /// β2 (default 0.999).
        #[serde(default = "default_beta2")]
        beta2: f32,
        /// ε (default 1e-8).
        #[serde(default = "default_eps")]
        eps: f32,
        /// L2 penalty (default 0).
        #[serde(default, rename = "weightDecay")]
        weight_decay: f32,
    },
    /// `torch.optim.AdamW` (decoupled weight decay `p ← p·(1 − lr·wd)`).
    Adamw {
        /// Learning rate (default 1e-3).
        #[serde(default = "default_lr")]
        lr: f32,
        /// β1 (default 0.9).
        #[serde(default = "default_beta1")]
        beta1: f32,
        /// β2 (default 0.999).
        #[serde(default = "default_beta2")]
        beta2: f32,
        /// ε (default 1e-8).
        #[serde(default = "default_eps")]
        eps: f32,
        /// Decoupled weight decay (default 1e-2).
        #[serde(default = "default_wd", rename = "weightDecay")]
        weight_decay: f32,
    },
}

fn default_lr() -> f32 {
    1e-3
}
fn default_beta1() -> f32 {
    0.9
}
fn default_beta2() -> f32 {
    0.999
}
fn default_eps() -> f32 {
    1e-8
}
fn default_wd() -> f32 {
    1e-2
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig::Adam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

impl OptimizerConfig {
    /// Parses and checks a JSON config such as `{"type":"adam","lr":0.001}`.
    ///
    /// # Errors
    /// `Error::Value` naming the unknown type, field or out-of-range value.
    pub fn from_json(json: &str) -> Result<Self> {
        let c: OptimizerConfig = serde_json::from_str(json)
            .map_err(|e| Error::Value(format!("optimizer config: {e}")))?;
        c.validate()?;
        Ok(c)
    }

    /// The configured learning rate.
    pub fn lr(&self) -> f32 {
        match *self {
            OptimizerConfig::Sgd { lr, .. }
            | OptimizerConfig::Adam { lr, .. }
            | OptimizerConfig::Adamw { lr, .. } => lr,
        }
    }

    /// Checks every hyper-parameter's range.
    ///
    /// # Errors
    /// `Error::Value` naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &str, v: f32, range: &str| {
            Error::Value(format!("optimizer {name} must be {range}, got {v}"))
        };
        let lr = self.lr();
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(bad("lr", lr, "a finite number ≥ 0"));
        }
        match *self {
            OptimizerConfig::Sgd {
                momentum,
                weight_decay,
                nesterov,
                ..
            } => {
                if !(0.0..1.0).contains(&momentum) && momentum != 0.0 {
                    return Err(bad("momentum", momentum, "in [0, 1)"));
                }
                if nesterov && momentum == 0.0 {
                    return Err(Error::Value("optimizer nesterov needs momentum > 0".into()));
                }
                if !(weight_decay.is_finite() && weight_decay >= 0.0) {
                    return Err(bad("weightDecay", weight_decay, "≥ 0"));
                }
            }
            // Deliberate repeat: validation and the step bind the same Adam/AdamW fields.
            OptimizerConfig::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            }
            | OptimizerConfig::Adamw {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                for (n, v) in [("beta1", beta1), ("beta2", beta2)] {
                    if !(0.0..1.0).contains(&v) {
                        return Err(bad(n, v, "in [0, 1)"));
                    }
                }
                if !(eps.is_finite() && eps > 0.0) {
                    return Err(bad("eps", eps, "> 0"));
                }
                if !(weight_decay.is_finite() && weight_decay >= 0.0) {
                    return Err(bad("weightDecay", weight_decay, "≥ 0"));
                }
            }
        }
        Ok(())
    }
}

/// An optimiser's state: step count and one or two moment buffers shaped as the parameters.
#[derive(Clone, Debug)]
pub struct Optimizer {
    /// The update rule.
    pub config: OptimizerConfig,
    /// Learning rate in force (a schedule changes it between steps).
    pub lr: f32,
    /// Steps taken.
    pub step: u64,
    /// First moment (Adam) or momentum buffer (SGD).
    pub m: Vec<f32>,
    /// Second moment (Adam); empty for SGD.
    pub v: Vec<f32>,
}

impl Optimizer {
    /// Fresh state for `n` parameters.
    ///
    /// # Errors
    /// `Error::Value` when a hyper-parameter is out of range.
    pub fn new(config: OptimizerConfig, n: usize) -> Result<Self> {
        config.validate()?;
        let v = match config {
            OptimizerConfig::Sgd { .. } => Vec::new(),
            _ => vec![0.0; n],
        };
        Ok(Self {
            lr: config.lr(),
            config,
            step: 0,
            m: vec![0.0; n],
            v,
        })
    }

    /// One update of `params` from `grads`.
    pub fn update(&mut self, params: &mut [f32], grads: &[f32]) {
        self.step += 1;
        let lr = self.lr;
        match self.config {
            OptimizerConfig::Sgd {
                momentum,
                nesterov,
                weight_decay,
                ..
            } => {
                let first = self.step == 1;
                for ((p, &g0), b) in params.iter_mut().zip(grads).zip(self.m.iter_mut()) {
                    let g = g0 + weight_decay * *p;
                    if momentum == 0.0 {
                        *p -= lr * g;
                        continue;
                    }
                    *b = if first { g } else { momentum * *b + g };
                    *p -= lr * if nesterov { g + momentum * *b } else { *b };
                }
            }
            // Deliberate repeat: validation and the step bind the same Adam/AdamW fields.
            OptimizerConfig::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            }
            | OptimizerConfig::Adamw {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                let decoupled = matches!(self.config, OptimizerConfig::Adamw { .. });
                let t = self.step as i32;
                // Bias corrections in f64: 1 − β^t loses precision in f32 for β2 = 0.999.
                let bc1 = 1.0 - (beta1 as f64).powi(t);
                let bc2 = 1.0 - (beta2 as f64).powi(t);
                let step_size = (lr as f64 / bc1) as f32;
                let bc2_sqrt = bc2.sqrt() as f32;
                // Flush to zero: a term whose product would be subnormal is taken as 0 (skipped,
                // in the step). Once a parameter's gradient has all but vanished (a model that
                // fits its data: the benchmark's repeated seed batch), its moments decay through
                // subnormals every step, which x86 cores (and wasm engines on them) handle ~100×
                // slower: this loop was 12% of a seed train step (perf, 1 thread), ~0 with
                // MXCSR's flush-to-zero set. Only values below f32::MIN_POSITIVE (1.2e-38) change,
                // as under torch.set_flush_denormal(True); everything else is the same operations
                // in the same order. Thresholds: |x| below `tiny / c` makes `c · x` subnormal.
                let tiny = f32::MIN_POSITIVE;
                let (m_min, v_min) = (tiny / beta1, tiny / beta2);
                let g_m_min = tiny / (1.0 - beta1);
                // (1 − β2)·g·g is subnormal for |g| below √(tiny / (1 − β2)) (3.4e-18 at β2 0.999).
                let g_v_min = (tiny / (1.0 - beta2)).sqrt();
                let m_step_min = tiny / step_size;
                let flush = |x: f32, min: f32| if x.abs() < min { 0.0 } else { x };
                for (((p, &g0), m), v) in params
                    .iter_mut()
                    .zip(grads)
                    .zip(self.m.iter_mut())
                    .zip(self.v.iter_mut())
                {
                    let g = if decoupled {
                        *p *= 1.0 - lr * weight_decay;
                        g0
                    } else {
                        g0 + weight_decay * *p
                    };
                    *m = beta1 * flush(*m, m_min) + (1.0 - beta1) * flush(g, g_m_min);
                    let g_v = flush(g, g_v_min);
                    *v = beta2 * flush(*v, v_min) + (1.0 - beta2) * g_v * g_v;
                    // PyTorch: p -= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps)
                    // A select, not a branch, so the loop stays vectorised (p − 0 is p, −0 included).
                    let step = step_size * flush(*m, m_step_min) / (v.sqrt() / bc2_sqrt + eps);
                    *p -= step;
                }
            }
        }
    }
}

/// Scales `grads` so their global L2 norm is at most `max_norm` (as `clip_grad_norm_`: factor
/// `max_norm / (norm + 1e-6)` when that is below 1). Returns the norm before clipping.
pub fn clip_grad_norm(grads: &mut [f32], max_norm: f32) -> f32 {
    let norm = grads
        .iter()
        .map(|&g| (g as f64) * (g as f64))
        .sum::<f64>()
        .sqrt() as f32;
    let scale = max_norm / (norm + 1e-6);
    if scale < 1.0 {
        for g in grads.iter_mut() {
            *g *= scale;
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_first_steps_follow_the_formula() {
        // Hand-computed with PyTorch's rule: step 1 moves each parameter by −lr·sign(g) (m̂/√v̂ = ±1).
        let mut p = vec![1.0f32, -2.0];
        let mut opt = Optimizer::new(OptimizerConfig::default(), 2).unwrap();
        opt.update(&mut p, &[0.5, -3.0]);
        assert!((p[0] - (1.0 - 1e-3)).abs() < 1e-7);
        assert!((p[1] - (-2.0 + 1e-3)).abs() < 1e-7);
    }

    /// The unflushed rule, for comparison: the loop before flush-to-zero was added.
    fn adam_reference(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], t: i32) {
        let (lr, b1, b2, eps) = (1e-3f32, 0.9f32, 0.999f32, 1e-8f32);
        let step_size = (lr as f64 / (1.0 - (b1 as f64).powi(t))) as f32;
        let bc2_sqrt = (1.0 - (b2 as f64).powi(t)).sqrt() as f32;
        for i in 0..p.len() {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            p[i] -= step_size * m[i] / (v[i].sqrt() / bc2_sqrt + eps);
        }
    }

    /// Gradients that shrink from 1 to 1e-30 and then vanish: the moments must never hold a
    /// subnormal (flush-to-zero, the slow path on x86), and the parameters must be the unflushed
    /// rule's bit for bit (at this scale a flushed term moves no parameter). Before the flush is
    /// reached the moments are the same bits too.
    #[test]
    fn adam_moments_flush_to_zero_instead_of_going_subnormal() {
        let n = 6;
        let start: Vec<f32> = (0..n).map(|i| 0.5 - i as f32 * 0.2).collect();
        let (mut p, mut p_ref) = (start.clone(), start);
        let (mut m_ref, mut v_ref) = (vec![0.0f32; n], vec![0.0f32; n]);
        let mut opt = Optimizer::new(OptimizerConfig::default(), n).unwrap();
        let mut saw_subnormal_in_reference = false;
        for t in 1..=3000i32 {
            // Each parameter's gradient falls at its own rate, then is 0 from step 200 on.
            let g: Vec<f32> = (0..n)
                .map(|i| {
                    if t >= 200 {
                        0.0
                    } else {
                        let sign = if (t as usize + i).is_multiple_of(3) {
                            -1.0
                        } else {
                            1.0
                        };
                        sign * 10f32.powf(-(t as f32) * (i as f32 + 1.0) / 40.0).max(1e-30)
                    }
                })
                .collect();
            opt.update(&mut p, &g);
            adam_reference(&mut p_ref, &mut m_ref, &mut v_ref, &g, t);
            saw_subnormal_in_reference |= m_ref.iter().chain(&v_ref).any(|x| x.is_subnormal());
            assert!(
                !opt.m.iter().chain(&opt.v).any(|x| x.is_subnormal()),
                "a subnormal moment at step {t}: m {:?} v {:?}",
                opt.m,
                opt.v
            );
            if t < 20 {
                assert_eq!(opt.m, m_ref, "m at step {t}");
                assert_eq!(opt.v, v_ref, "v at step {t}");
            }
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&p), bits(&p_ref), "parameters at step {t}");
        }
        // The case is one that goes subnormal without the flush.
        assert!(saw_subnormal_in_reference);
    }

    #[test]
    fn sgd_momentum_starts_from_the_gradient() {
        let cfg = OptimizerConfig::Sgd {
            lr: 0.1,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        };
        let mut opt = Optimizer::new(cfg, 1).unwrap();
        let mut p = vec![0.0f32];
        opt.update(&mut p, &[1.0]);
        assert!((p[0] + 0.1).abs() < 1e-7);
        opt.update(&mut p, &[1.0]);
        assert!((p[0] + 0.1 + 0.19).abs() < 1e-6);
    }

    #[test]
    fn clipping_scales_to_the_max_norm() {
        let mut g = vec![3.0f32, 4.0];
        assert_eq!(clip_grad_norm(&mut g, 1.0), 5.0);
        assert!((g[0] - 0.6).abs() < 1e-5 && (g[1] - 0.8).abs() < 1e-5);
        let mut small = vec![0.1f32];
        clip_grad_norm(&mut small, 1.0);
        assert_eq!(small[0], 0.1);
    }

    #[test]
    fn bad_hyper_parameters_are_rejected() {
        let cfg: std::result::Result<OptimizerConfig, _> =
            serde_json::from_str(r#"{"type":"adam","beta1":1.5}"#);
        assert!(Optimizer::new(cfg.unwrap(), 1).is_err());
        let unknown: std::result::Result<OptimizerConfig, _> =
            serde_json::from_str(r#"{"type":"rmsprop"}"#);
        assert!(unknown.is_err());
    }
}

//! Each model piece's backward against central differences of its forward in f64 (STYLE 11), and
//! the f32 production path against the f64 reference. Losses are `Σ w·out` with fixed random `w`,
//! so the upstream gradient is `w`.

use super::config::{DenseActivation, LossKind, Pooling};
use super::dense::{dense_backward, dense_forward, DenseLayer};
use super::input::{embedding_backward, embedding_forward, tokens_time_major};
use super::loss::{loss_forward_backward, LossDims};
use super::pooling::{pool_backward, pool_forward, PoolDims, PoolGrad};
use crate::dropout::{dropout_backward, dropout_forward};
use crate::gradcheck::{assert_agrees, check_gradient, dot, values};
use crate::kernels;
use crate::rng::Rng;

const DIMS: PoolDims = PoolDims {
    batch: 3,
    steps: 4,
    hidden: 2,
    directions: 2,
    num_layers: 2,
};
/// Sequence 1 is shorter: padding steps must get no gradient from mean and max.
const LENGTHS: [u32; 3] = [4, 2, 3];

/// Zeroes the outputs at padding steps, as the LSTM leaves them (pooling relies on it).
fn zero_padding(y: &mut [f64]) {
    let (n, p) = (DIMS.batch, DIMS.width());
    for s in 0..DIMS.steps {
        for j in (0..n).filter(|&j| s >= LENGTHS[j] as usize) {
            y[(s * n + j) * p..(s * n + j + 1) * p].fill(0.0);
        }
    }
}

/// `Σ w·pool(y, h_n)` with `y` as the LSTM would give it (zero at padding, whatever `y` holds there).
fn pooled_loss(pooling: Pooling, y: &[f64], h_n: &[f64], w: &[f64]) -> f64 {
    let mut y = y.to_vec();
    zero_padding(&mut y);
    let (mut pooled, mut arg) = (Vec::new(), Vec::new());
    pool_forward(&mut pooled, &mut arg, pooling, &y, h_n, &LENGTHS, DIMS);
    dot(w, &pooled)
}

#[test]
fn pooling_backward_matches_central_differences() {
    let (n, t, p) = (DIMS.batch, DIMS.steps, DIMS.width());
    let state = DIMS.num_layers * DIMS.directions * n * DIMS.hidden;
    for pooling in [
        Pooling::Last,
        Pooling::Mean,
        Pooling::Max,
        Pooling::MaxMean,
        Pooling::Sequence,
    ] {
        let mut y = values(t * n * p, 11);
        zero_padding(&mut y);
        let mut h_n = values(state, 12);
        let rows = if pooling == Pooling::Sequence {
            t * n
        } else {
            n
        };
        let w = values(rows * pooling.pooled_width(p), 13);
        let (mut pooled, mut arg) = (Vec::new(), Vec::new());
        pool_forward(&mut pooled, &mut arg, pooling, &y, &h_n, &LENGTHS, DIMS);
        let (mut d_y, mut d_h_n) = (Vec::new(), Vec::new());
        let grad = pool_backward(&mut d_y, &mut d_h_n, pooling, &w, &arg, &LENGTHS, DIMS);
        let (d_y, d_h_n) = match grad {
            PoolGrad::Pooled => (w.clone(), vec![0.0; state]),
            PoolGrad::Outputs => (d_y, vec![0.0; state]),
            PoolGrad::FinalState => (vec![0.0; y.len()], d_h_n),
        };
        // The LSTM drops any gradient at padding steps (per-step outputs pass it through), so the
        // comparison is on real steps only.
        let mut d_y = d_y;
        zero_padding(&mut d_y);
        let h = h_n.clone();
        check_gradient(&format!("{pooling:?} dy"), &mut y.clone(), &d_y, |y| {
            pooled_loss(pooling, y, &h, &w)
        });
        check_gradient(&format!("{pooling:?} dh_n"), &mut h_n, &d_h_n, |h| {
            pooled_loss(pooling, &y, h, &w)
        });
    }
}

/// A head of two layers as the model builds it: one hidden layer, then the output layer.
fn head(act: DenseActivation) -> [DenseLayer; 2] {
    let (i, hidden, u) = (4, 3, 2);
    [
        DenseLayer {
            w: 0,
            b: hidden * i,
            n_in: i,
            n_out: hidden,
            act,
        },
        DenseLayer {
            w: hidden * i + hidden,
            b: hidden * i + hidden + u * hidden,
            n_in: hidden,
            n_out: u,
            act: DenseActivation::Linear,
        },
    ]
}

const HEAD_PARAMS: usize = 4 * 3 + 3 + 3 * 2 + 2;
const ROWS: usize = 5;

/// The head's output `(R, U)`; `acts` receives every layer's input and output.
fn head_forward<F: crate::float::Float>(
    layers: &[DenseLayer],
    params: &[F],
    x: &[F],
    acts: &mut Vec<Vec<F>>,
) {
    let ks = kernels::active();
    acts.clear();
    acts.push(x.to_vec());
    for d in layers {
        let mut out = Vec::new();
        dense_forward(ks, &mut out, acts.last().unwrap(), params, d, ROWS);
        acts.push(out);
    }
}

fn head_backward<F: crate::float::Float>(
    layers: &[DenseLayer],
    params: &[F],
    acts: &[Vec<F>],
    w: &[F],
) -> (Vec<F>, Vec<F>) {
    let ks = kernels::active();
    let mut grads = vec![F::ZERO; params.len()];
    let (mut d_act, mut d_prev) = (w.to_vec(), Vec::new());
    for i in (0..layers.len()).rev() {
        dense_backward(
            ks,
            &mut d_prev,
            &mut grads,
            &mut d_act,
            &acts[i + 1],
            &acts[i],
            params,
            &layers[i],
            ROWS,
        );
        std::mem::swap(&mut d_act, &mut d_prev);
    }
    (grads, d_act)
}

#[test]
fn dense_head_backward_matches_central_differences() {
    for act in [
        DenseActivation::Relu,
        DenseActivation::Tanh,
        DenseActivation::Linear,
    ] {
        let layers = head(act);
        let mut params = values(HEAD_PARAMS, 21);
        let mut x = values(ROWS * 4, 22);
        let w = values(ROWS * 2, 23);
        let mut acts = Vec::new();
        head_forward(&layers, &params, &x, &mut acts);
        let (d_params, d_x) = head_backward(&layers, &params, &acts, &w);
        let loss = |p: &[f64], x: &[f64]| {
            let mut acts = Vec::new();
            head_forward(&layers, p, x, &mut acts);
            dot(&w, &acts[2])
        };
        let x0 = x.clone();
        check_gradient(&format!("{act:?} d params"), &mut params, &d_params, |p| {
            loss(p, &x0)
        });
        let p0 = params.clone();
        check_gradient(&format!("{act:?} dx"), &mut x, &d_x, |x| loss(&p0, x));
    }
}

/// The head on the active SIMD kernels in f32 against the f64 reference.
#[test]
fn dense_head_f32_agrees_with_the_f64_reference() {
    let layers = head(DenseActivation::Tanh);
    let narrow = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let widen = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let (p32, x32, w32) = (
        narrow(&values(HEAD_PARAMS, 21)),
        narrow(&values(ROWS * 4, 22)),
        narrow(&values(ROWS * 2, 23)),
    );
    let (p64, x64, w64) = (widen(&p32), widen(&x32), widen(&w32));
    let (mut a32, mut a64) = (Vec::new(), Vec::new());
    head_forward(&layers, &p32, &x32, &mut a32);
    head_forward(&layers, &p64, &x64, &mut a64);
    // f32 rounding over two small layers and the polynomial tanh: well inside 1e-5.
    assert_agrees("head output", &a32[2], &a64[2], 1e-5, 1e-6);
    let (g32, dx32) = head_backward(&layers, &p32, &a32, &w32);
    let (g64, dx64) = head_backward(&layers, &p64, &a64, &w64);
    assert_agrees("head d params", &g32, &g64, 1e-5, 1e-6);
    assert_agrees("head dx", &dx32, &dx64, 1e-5, 1e-6);
}

#[test]
fn losses_backward_match_central_differences() {
    let (n, t, u) = (3, 4, 3);
    for (kind, per_step) in [
        (LossKind::Bce, false),
        (LossKind::Bce, true),
        (LossKind::CrossEntropy, false),
        (LossKind::CrossEntropy, true),
        (LossKind::Mse, false),
        (LossKind::Mse, true),
    ] {
        let rows = if per_step { t * n } else { n };
        let dims = LossDims {
            batch: n,
            steps: t,
            units: u,
            per_step,
            lengths: &LENGTHS,
        };
        let mut z: Vec<f64> = values(rows * u, 31).iter().map(|v| 3.0 * v).collect();
        let y: Vec<f32> = match kind {
            LossKind::CrossEntropy => (0..rows).map(|r| (r % u) as f32).collect(),
            LossKind::Bce => (0..rows * u).map(|i| (i % 2) as f32).collect(),
            LossKind::Mse => values(rows * u, 32).iter().map(|&v| v as f32).collect(),
        };
        let mut d_z = Vec::new();
        let stats = loss_forward_backward(Some(&mut d_z), kind, &z, &y, dims);
        assert!(stats.loss.is_finite() && stats.loss > 0.0);
        check_gradient(
            &format!("{kind:?} per_step={per_step} dz"),
            &mut z,
            &d_z,
            |z| loss_forward_backward::<f64>(None, kind, z, &y, dims).loss,
        );
        // The f32 loss of the same logits is the f64 one rounded (PyTorch's float32 vs float64).
        let z32: Vec<f32> = z.iter().map(|&v| v as f32).collect();
        let s32 = loss_forward_backward::<f32>(None, kind, &z32, &y, dims);
        assert!((s32.loss - stats.loss).abs() <= 1e-6 * stats.loss.abs().max(1.0));
        assert_eq!((s32.correct, s32.count), (stats.correct, stats.count));
    }
}

#[test]
fn embedding_backward_matches_central_differences_and_skips_padding() {
    let (v, e) = (5, 3);
    let tokens: Vec<u32> = vec![0, 3, 3, 1, 4, 0, 2];
    let w = values(tokens.len() * e, 41);
    let mut table = values(v * e, 42);
    let mut out = Vec::new();
    embedding_forward(&mut out, &tokens, &table, e);
    assert_eq!(&out[3..6], &table[9..12], "row 1 is token 3's row");
    // Without a padding row every row gets its exact gradient.
    let mut d_table = vec![0.0; v * e];
    embedding_backward(&mut d_table, &w, &tokens, e, None);
    check_gradient("embedding d table", &mut table, &d_table, |tab| {
        let mut out = Vec::new();
        embedding_forward(&mut out, &tokens, tab, e);
        dot(&w, &out)
    });
    // With padding_idx 0 that row stays untrained (PyTorch's `padding_idx`).
    let mut d_padded = vec![0.0; v * e];
    embedding_backward(&mut d_padded, &w, &tokens, e, Some(0));
    assert!(d_padded[..e].iter().all(|&g| g == 0.0));
    assert_eq!(&d_padded[e..], &d_table[e..]);
}

#[test]
fn mask_token_moves_real_tokens_to_the_front() {
    // (B 2, T 4) batch-first, 0 is the mask token.
    let ids = [0, 5, 0, 6, 0, 0, 0, 0];
    let (mut tokens, mut lengths) = (Vec::new(), Vec::new());
    tokens_time_major(&mut tokens, &mut lengths, &ids, 2, 4, Some(0));
    assert_eq!(tokens, [5, 0, 6, 0, 0, 0, 0, 0]);
    // A sequence of padding only still takes one step.
    assert_eq!(lengths, [2, 1]);
    let (mut plain, mut none) = (Vec::new(), Vec::new());
    tokens_time_major(&mut plain, &mut none, &ids, 2, 4, None);
    assert_eq!(plain, [0, 0, 5, 0, 0, 0, 6, 0]);
    assert!(none.is_empty());
}

#[test]
fn dropout_scales_kept_elements_and_backward_uses_the_same_mask() {
    let p = 0.25;
    let x = values(1000, 51);
    let (mut y, mut mask) = (x.clone(), Vec::new());
    dropout_forward(&mut Rng::new(3), p, &mut y, &mut mask);
    let kept = mask.iter().filter(|&&m| m != 0.0).count();
    // 750 expected; ±60 is over 4 standard deviations of Binomial(1000, 0.75).
    assert!((690..=810).contains(&kept), "kept {kept}");
    for ((&a, &b), &m) in y.iter().zip(&x).zip(&mask) {
        // The scale is computed in f32 (the production type), then widened.
        assert!(m == 0.0 || m == (1.0f32 / 0.75) as f64);
        assert_eq!(a, b * m);
    }
    // The map is linear, so its gradient is the mask itself.
    let mut g = vec![1.0; x.len()];
    dropout_backward(&mut g, &mask);
    assert_eq!(g, mask);
    // The same seed draws the same mask in f32 (the production type) as in f64.
    let (mut y32, mut mask32) = (vec![1.0f32; 1000], Vec::new());
    dropout_forward(&mut Rng::new(3), p, &mut y32, &mut mask32);
    assert!(mask32
        .iter()
        .zip(&mask)
        .all(|(&a, &b)| (a != 0.0) == (b != 0.0)));
}

#[test]
fn embedding_dropout_backward_matches_central_differences_under_the_same_mask() {
    use super::{Batch, Model, ModelConfig};
    // Mean pooling keeps the loss smooth, so a central difference of step 1e-2 crosses no kink.
    let config = |p: f32| {
        format!(
            r#"{{"input":{{"kind":"embedding","vocabSize":6,"dim":4,"dropout":{p}}},"lstm":{{"hiddenSize":3}},"pooling":"mean","units":1,"loss":"bce","seed":7}}"#
        )
    };
    let mut model = Model::new(ModelConfig::from_json(&config(0.5)).unwrap()).unwrap();
    // (B 2, T 6): token 0 is the padding row.
    let ids = [1, 2, 3, 4, 5, 1, 2, 2, 0, 0, 3, 5];
    let labels = [1.0, 0.0];
    let batch = Batch {
        tokens: Some(&ids),
        batch: 2,
        steps: 6,
        targets: Some(&labels),
        ..Default::default()
    };
    let state = model.rng_state();
    model.forward_backward(&batch).unwrap();
    let grads = model.grads().to_vec();
    let params = model.params().to_vec();
    let table = &model.param_table()[0];
    assert_eq!(table.name, "embedding.weight");
    let (off, len) = (table.offset, table.len());
    assert!(
        grads[off..off + 4].iter().all(|&g| g == 0.0),
        "padding row untrained"
    );
    // p = 0.5 over 48 embedded elements: some of a used row's gradient must be dropped, not all.
    let zeros = grads[off + 4..off + len]
        .iter()
        .filter(|&&g| g == 0.0)
        .count();
    assert!(
        zeros > 0 && zeros < len - 4,
        "{zeros} zero gradients of {}",
        len - 4
    );
    // The same stream state draws the same mask, so the loss is a function of the weights alone.
    let mut loss_at = |i: usize, v: f32| {
        let mut p = params.clone();
        p[i] = v;
        model.set_params(&p).unwrap();
        model.set_rng_state(&state).unwrap();
        model.forward_backward(&batch).unwrap().loss
    };
    let eps = 1e-2f32;
    for i in off + 4..off + len {
        let fd = (loss_at(i, params[i] + eps) - loss_at(i, params[i] - eps)) / (2.0 * eps as f64);
        let g = grads[i] as f64;
        assert!(
            (fd - g).abs() <= 1e-4 + 1e-2 * g.abs(),
            "embedding.weight[{}]: {fd} vs {g}",
            i - off
        );
    }
    // Dropout is training-only and p = 0 draws nothing: evaluation agrees with a model without it.
    let mut plain = Model::new(ModelConfig::from_json(&config(0.0)).unwrap()).unwrap();
    plain.set_params(&params).unwrap();
    model.set_params(&params).unwrap();
    assert_eq!(
        model.evaluate_batch(&batch).unwrap(),
        plain.evaluate_batch(&batch).unwrap()
    );
}

#[test]
fn embedding_dropout_out_of_range_is_refused() {
    let json = r#"{"input":{"kind":"embedding","vocabSize":6,"dim":4,"dropout":1.0},"lstm":{"hiddenSize":3},"units":1,"loss":"bce"}"#;
    let err = super::ModelConfig::from_json(json).unwrap_err().to_string();
    assert!(
        err.contains("input.dropout must be a number in [0, 1), got 1"),
        "{err}"
    );
}

/// Prediction and evaluation hand the LSTM dense batch-first input in place (no time-major copy);
/// the training forward copies it to time-major. Both must give the same logits bit for bit, for a
/// pooled head and a per-step one, with uneven lengths, on two stacked bidirectional layers.
#[test]
fn dense_prediction_in_place_equals_the_training_forward() {
    use super::{Batch, Model, ModelConfig};
    for pooling in ["last", "sequence"] {
        let json = format!(
            r#"{{"input":{{"kind":"dense","features":5}},"lstm":{{"hiddenSize":7,"numLayers":2,"bidirectional":true}},"pooling":"{pooling}","units":3,"loss":"mse","seed":3}}"#
        );
        let mut model = Model::new(ModelConfig::from_json(&json).unwrap()).unwrap();
        let (b, t) = (4, 6);
        let x: Vec<f32> = values(b * t * 5, 11).iter().map(|&v| v as f32).collect();
        let lengths = [6u32, 2, 5, 1];
        let per_step = pooling == "sequence";
        let y = vec![0.5f32; if per_step { b * t * 3 } else { b * 3 }];
        let batch = Batch {
            tokens: None,
            x: Some(&x),
            batch: b,
            steps: t,
            lengths: Some(&lengths),
            targets: Some(&y),
        };
        model.forward_backward(&batch).unwrap();
        let trained = model.logits();
        // predict_batch applies the identity for MSE: its outputs are the logits.
        let predicted = model.predict_batch(&batch).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&trained), bits(&predicted), "pooling {pooling}");
        model.evaluate_batch(&batch).unwrap();
        assert_eq!(bits(&trained), bits(&model.logits()), "pooling {pooling}");
    }
}

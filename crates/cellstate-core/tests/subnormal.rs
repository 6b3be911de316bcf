//! A gradient that vanishes through a long recurrence must not decay into subnormal floats (x86 runs
//! those about 100× slower); the backward pass flushes values below 1e-30 to zero.

use cellstate_core::{BackwardInput, ForwardInput, Lstm, LstmConfig};

#[test]
fn vanishing_gradients_never_go_subnormal() {
    let config = LstmConfig {
        input_size: 3,
        hidden_size: 8,
        num_layers: 1,
        bidirectional: false,
    };
    let mut lstm = Lstm::new(config, 1).unwrap();
    let (b, t) = (2, 300);
    let x: Vec<f32> = (0..b * t * 3).map(|i| (i as f32 * 0.37).sin()).collect();
    lstm.forward(&ForwardInput {
        x: &x,
        batch: b,
        steps: t,
        batch_first: true,
        ..Default::default()
    })
    .unwrap();
    // A tiny gradient on the last step only: it shrinks with every step back.
    let mut dy = vec![0.0f32; b * t * 8];
    for j in 0..b {
        for u in 0..8 {
            dy[(j * t + t - 1) * 8 + u] = 1e-20;
        }
    }
    lstm.zero_grad();
    // Deliberate repeat: the backward steps of lstm.rs's tests; an integration test cannot reach their helpers.
    lstm.backward(&BackwardInput {
        d_output: Some(&dy),
        ..Default::default()
    })
    .unwrap();
    let mut dx = vec![0.0; x.len()];
    lstm.layer().read_d_x(&mut dx).unwrap();
    let subnormal = |v: &f32| v.is_subnormal();
    assert!(!dx.iter().any(subnormal), "dx holds subnormal values");
    assert!(
        !lstm.grads().iter().any(subnormal),
        "parameter gradients hold subnormal values"
    );
    // The gradient near the end is still there (only the vanished part was flushed).
    assert!(dx[(t - 1) * 3..t * 3].iter().any(|v| *v != 0.0));
}

//! Inverted dropout (PyTorch's `nn.Dropout`): kept elements are scaled by 1/(1 − p) in training, so
//! nothing changes at inference. Used between stacked LSTM layers and on the head's input.

use crate::float::Float;
use crate::rng::Rng;

/// `x ⊙= mask` with a fresh mask: one draw per element, kept (scale 1/(1 − p)) when the draw is
/// below 1 − p, else 0. `mask` (resized to `x`) keeps the scale factors for [`dropout_backward`].
pub fn dropout_forward<T: Float>(rng: &mut Rng, p: f32, x: &mut [T], mask: &mut Vec<T>) {
    let keep = 1.0 - p;
    let scale = T::from_f32(1.0 / keep);
    mask.resize(x.len(), T::ZERO);
    for (m, v) in mask.iter_mut().zip(x.iter_mut()) {
        *m = if rng.next_f32() < keep {
            scale
        } else {
            T::ZERO
        };
        *v *= *m;
    }
}

/// `d_x ⊙= mask`: the gradient through the forward's mask (a no-op when `mask` is empty: dropout
/// was off).
pub fn dropout_backward<T: Float>(d_x: &mut [T], mask: &[T]) {
    d_x.iter_mut().zip(mask).for_each(|(g, &m)| *g *= m);
}

// Fixed, named size tiers. B batch, T steps, F input features, H hidden (batch-first everywhere).
// `oneHot` marks the seed job: F = vocabulary size, each step one token. cellstate's train step takes the
// token ids (the model's one-hot input, a row gather of W_ih); every peer, and every infer job, gets the
// dense one-hot (B, T, F) tensor.
export const CONFIGS = {
  seed: { name: 'seed', B: 64, T: 100, F: 300, H: 16, oneHot: true },
  medium: { name: 'medium', B: 64, T: 100, F: 128, H: 128, oneHot: false },
  large: { name: 'large', B: 32, T: 200, F: 256, H: 512, oneHot: false },
};

/** Forward FLOPs of one sample: per step, the 4H gate pre-activations are a (F + H)-long dot product each. */
export function forwardFlops({ T, F, H }) {
  return 2 * T * 4 * H * (F + H);
}

/**
 * FLOPs of one training sample: forward, plus backward counted as twice the forward (the gate gradients
 * times [W_ih W_hh]^T for dx and dh, and the weight gradients dW = dGates^T [x h]: two products of the
 * forward's size). Pointwise work, the Dense(1) head, the loss and the optimiser are not counted, for
 * every engine alike.
 */
export function trainFlops(cfg) {
  return 3 * forwardFlops(cfg);
}

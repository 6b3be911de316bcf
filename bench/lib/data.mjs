// Deterministic inputs, weights and targets shared by every engine, so all see the same numbers.

/**
 * mulberry32: a small, fast, seedable 32-bit generator (uniform in [0, 1)).
 * A deliberate copy of ts/data/rng.ts's `mulberry32`: the bench is plain .mjs run by Node against the
 * published dist/ (which does not export it), so it cannot import the TypeScript source.
 */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uniform(n, lo, hi, seed) {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/**
 * Inputs x (B, T, F) row-major, binary targets y (B), the upstream gradient on h_T used by the layer-only
 * fwd+bwd (B, H), and the token ids for one-hot configs (B, T).
 */
export function makeData(cfg, batch = cfg.B) {
  const { T, F, H } = cfg;
  const B = batch;
  let x;
  let ids = null;
  if (cfg.oneHot) {
    const r = rng(11);
    ids = new Int32Array(B * T);
    x = new Float32Array(B * T * F);
    for (let i = 0; i < B * T; i++) {
      ids[i] = Math.floor(r() * F);
      x[i * F + ids[i]] = 1;
    }
  } else {
    x = uniform(B * T * F, -1, 1, 11);
  }
  const r = rng(13);
  const y = new Float32Array(B);
  for (let i = 0; i < B; i++) y[i] = r() < 0.5 ? 0 : 1;
  const dHN = uniform(B * H, -0.1, 0.1, 17);
  return { B, T, F, H, x, ids, y, dHN };
}

/**
 * LSTM weights under PyTorch's names and layout: gates packed (i, f, g, o) in rows of 4H, uniform in
 * ±1/sqrt(H) as torch.nn.LSTM initialises them.
 */
export function makeWeights({ F, H }) {
  const k = 1 / Math.sqrt(H);
  return {
    weight_ih_l0: uniform(4 * H * F, -k, k, 101),
    weight_hh_l0: uniform(4 * H * H, -k, k, 102),
    bias_ih_l0: uniform(4 * H, -k, k, 103),
    bias_hh_l0: uniform(4 * H, -k, k, 104),
  };
}

/** The first `b` samples of a batch-first (B, ...) array with `per` values per sample. */
export function headRows(a, b, per) {
  return a.subarray(0, b * per);
}

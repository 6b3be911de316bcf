/**
 * A finite-difference check of every gradient on a random configuration the fixtures do not cover
 * (stacked, bidirectional, lengths, initial state), on every backend.
 */
import { describe, it } from 'vitest';
import { LSTM, type TensorLike } from '../ts/index';
import { backend, backendNames, expectClose, randomTensor, rng } from './helpers';

describe.each(backendNames)('finite differences on %s', (name) => {
  it('match the analytic gradients of a random stacked bidirectional LSTM with lengths', async () => {
    const r = rng(2024);
    const cfg = { inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true };
    const [B, T] = [3, 6];
    const lengths = [6, 2, 4];
    const lstm = new LSTM({ ...cfg, seed: 9, backend: await backend(name) });
    const x = randomTensor([B, T, 3], r);
    const h0 = randomTensor([4, B, 4], r, 0.5);
    const c0 = randomTensor([4, B, 4], r, 0.5);
    const gy = randomTensor([B, T, 8], r);
    const gh = randomTensor([4, B, 4], r);
    const gc = randomTensor([4, B, 4], r);
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);
    // L = Σ output·gy + Σ h_n·gh + Σ c_n·gc, summed in float64.
    const loss = (xx: TensorLike, hh: TensorLike, cc: TensorLike) => {
      const o = lstm.forward(xx, { h0: hh, c0: cc, lengths });
      return dot(o.output.data, gy.data) + dot(o.hN.data, gh.data) + dot(o.cN.data, gc.data);
    };
    loss(x, h0, c0);
    const g = lstm.backward({ output: gy, hN: gh, cN: gc });
    // Central differences in float32: eps 1e-2 keeps rounding (~1e-7·|L|/eps) and truncation (~eps²) near 1e-4.
    const eps = 1e-2;
    const tol = { rtol: 2e-2, atol: 2e-3 };
    const numeric = (t: { data: Float32Array }, f: () => number) =>
      Float32Array.from(t.data, (_, i) => {
        const v = t.data[i];
        t.data[i] = v + eps;
        const up = f();
        t.data[i] = v - eps;
        const down = f();
        t.data[i] = v;
        return (up - down) / (2 * eps);
      });
    const f = () => loss(x, h0, c0);
    expectClose('dx', g.x.data, numeric(x, f), tol);
    expectClose('dh0', g.h0.data, numeric(h0, f), tol);
    expectClose('dc0', g.c0.data, numeric(c0, f), tol);
    const params = lstm.stateDict();
    for (const [k, p] of Object.entries(params)) {
      const fd = numeric(p, () => {
        lstm.loadStateDict({ [k]: p }, { strict: false });
        return f();
      });
      lstm.loadStateDict({ [k]: p }, { strict: false });
      expectClose(`d${k}`, g.params[k].data, fd, tol);
    }
  });
});

/** Parity with PyTorch: every `lstm` fixture on every backend, outputs and all gradients. */
import { describe, expect, it } from 'vitest';
import { LSTM } from '../ts/index';
import { backend, backendNames, expectClose, f32, loadFixtures } from './helpers';

const cases = loadFixtures('lstm');

describe.each(backendNames)('LSTM parity with torch.nn.LSTM on %s', (name) => {
  it('finds the eight lstm fixture cases', () => {
    // ../shared/fixtures/torch-lstm/README.md lists eight lstm cases.
    expect(cases.map((c) => c.name).length).toBe(8);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const cfg = c.config as {
      inputSize: number;
      hiddenSize: number;
      numLayers: number;
      bidirectional: boolean;
      lengths: number[] | null;
    };
    // Long sequences accumulate float32 rounding over 60 steps (fixture README: 1e-3 for that case).
    const tol = { rtol: c.name === 'long-sequence' ? 1e-3 : 1e-4, atol: 1e-6 };
    const lstm = new LSTM({ ...cfg, backend: await backend(name) });
    lstm.loadStateDict(Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, f32(v)])));
    const { x, h0, c0 } = c.inputs;
    const out = lstm.forward(f32(x), {
      h0: h0 && f32(h0),
      c0: c0 && f32(c0),
      lengths: cfg.lengths ?? undefined,
    });
    const o = c.outputs as Record<string, { data: number[]; shape: number[] }>;
    for (const [k, got] of [
      ['output', out.output],
      ['h_n', out.hN],
      ['c_n', out.cN],
    ] as const) {
      expect(got.shape).toEqual(o[k].shape);
      expectClose(`${c.name} ${k}`, got.data, o[k].data, tol);
    }
    const u = c.upstream!;
    const g = lstm.backward({ output: f32(u.output), hN: f32(u.h_n), cN: f32(u.c_n) });
    expectClose(`${c.name} dx`, g.x.data, c.grads.x.data, tol);
    if (c.grads.h0) {
      expectClose(`${c.name} dh0`, g.h0.data, c.grads.h0.data, tol);
      expectClose(`${c.name} dc0`, g.c0.data, c.grads.c0.data, tol);
    }
    for (const p of lstm.parameterNames) {
      expect(g.params[p].shape).toEqual(c.grads[p].shape);
      expectClose(`${c.name} d${p}`, g.params[p].data, c.grads[p].data, tol);
    }
    lstm.dispose();
  });
});

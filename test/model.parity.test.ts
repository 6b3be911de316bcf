/** The seed notebook's model and an embedding model with lengths against PyTorch, on every backend. */
import { describe, expect, it } from 'vitest';
import { SequenceModel } from '../ts/index';
import { backend, backendNames, expectClose, f32, loadFixtures } from './helpers';

const cases = loadFixtures('sentiment');

describe.each(backendNames)('sentiment fixtures on %s', (name) => {
  it('finds both sentiment cases', () =>
    expect(cases.map((c) => c.name).sort()).toEqual(['seed-sentiment-onehot', 'sentiment-embedding-packed']));

  it.each(cases.map((c) => [c.name, c] as const))('%s: logits, loss and every gradient within 1e-4', async (_, c) => {
    const cfg = c.config as { vocabSize: number; embeddingDim: number | null; hiddenSize: number; input: string; lengths: number[] | null };
    const model = new SequenceModel(
      {
        input: cfg.input === 'one-hot' ? 'one-hot' : { embedding: cfg.embeddingDim!, paddingIdx: 0 },
        vocabSize: cfg.vocabSize,
        lstm: { hiddenSize: cfg.hiddenSize },
        output: { units: 1, activation: 'sigmoid' },
      },
      { backend: await backend(name) },
    );
    expect(model.parameterNames.sort()).toEqual(Object.keys(c.grads).sort());
    model.loadStateDict(Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, f32(v)])));
    const tokens = c.inputs.tokens;
    const x = { data: Int32Array.from(tokens.data), shape: tokens.shape, lengths: cfg.lengths ?? undefined };
    const { loss } = model.computeGradients(x, c.inputs.labels.data);
    const tol = { rtol: 1e-4, atol: 1e-6 };
    expectClose('logits', model.lastLogits(), (c.outputs.logits as { data: number[] }).data, tol);
    expectClose('loss', [loss], [c.outputs.loss as number], tol);
    const grads = model.gradients();
    for (const [k, g] of Object.entries(c.grads)) {
      expect(grads[k].shape).toEqual(g.shape);
      expectClose(`d${k}`, grads[k].data, g.data, tol);
    }
    // predict gives σ(logits).
    const p = model.predict(x);
    expectClose(
      'predict',
      p.data,
      (c.outputs.logits as { data: number[] }).data.map((z) => 1 / (1 + Math.exp(-z))),
      tol,
    );
    model.dispose();
  });
});

/**
 * Embedding dropout and max-mean pooling, on every backend: max-mean is max and mean side by side (checked
 * against two models that each see one half), embedding dropout acts in training only and is kept by save/load.
 */
import { describe, expect, it } from 'vitest';
import { modelFromArrayBuffer, SequenceModel, type SequenceModelConfig, ValueError } from '../ts/index';
import { backend, backendNames, rng } from './helpers';

const H = 4;
const base: SequenceModelConfig = {
  input: { embedding: 6 },
  vocabSize: 20,
  lstm: { hiddenSize: H, bidirectional: true },
  output: { units: 1, activation: 'sigmoid' },
  mask: true,
  seed: 9,
};

/** (B 6, T 7) token ids with some padding (token 0), and 0/1 labels. */
function data(seed: number) {
  const r = rng(seed);
  const ids = Int32Array.from({ length: 6 * 7 }, (_, i) => (i % 7 < 2 + (Math.floor(i / 7) % 5) ? 1 + Math.floor(r() * 19) : 0));
  const y = Float32Array.from({ length: 6 }, (_, i) => i % 2);
  return { x: { data: ids, shape: [6, 7] }, y };
}

describe.each(backendNames)('%s', (name) => {
  it('max-mean pooling is [max | mean]: a head on one half predicts as max or mean pooling does', async () => {
    const b = await backend(name);
    const both = new SequenceModel({ ...base, pooling: 'max-mean' }, { backend: b });
    const P = 2 * H;
    const dict = both.stateDict();
    expect(dict['fc.weight'].shape).toEqual([1, 2 * P]);
    const { x } = data(1);
    const w = dict['fc.weight'].data;
    for (const [pooling, half] of [
      ['max', 0],
      ['mean', 1],
    ] as const) {
      const one = new SequenceModel({ ...base, pooling }, { backend: b });
      // The other half's weights zeroed in the max-mean model, this half's copied into the single model.
      const masked = Float32Array.from(w, (v, i) => (Math.floor(i / P) === half ? v : 0));
      both.loadStateDict({ ...dict, 'fc.weight': { data: masked, shape: [1, 2 * P] } });
      one.loadStateDict({ ...dict, 'fc.weight': { data: w.slice(half * P, (half + 1) * P), shape: [1, P] } });
      const a = both.predict(x).data;
      const c = one.predict(x).data;
      for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(c[i], 6);
      one.dispose();
    }
    both.dispose();
  });

  it('max-mean trains: the loss falls on a learnable task', async () => {
    const b = await backend(name);
    const m = new SequenceModel({ ...base, pooling: 'max-mean' }, { backend: b });
    const { x, y } = data(2);
    const first = (await m.evaluate(x, y)).loss;
    await m.fit(x, y, { epochs: 60, batchSize: 6, optimizer: { type: 'adam', lr: 1e-2 } });
    // 6 samples, 60 Adam steps at 1e-2: a 20-word model memorises them (the loss starts near ln 2).
    expect((await m.evaluate(x, y)).loss).toBeLessThan(first * 0.5);
    m.dispose();
  });

  it('embedding dropout changes training only, and save/load keeps it', async () => {
    const b = await backend(name);
    const drop = new SequenceModel({ ...base, input: { embedding: 6, dropout: 0.4 } }, { backend: b });
    const plain = new SequenceModel(base, { backend: b });
    const { x, y } = data(3);
    // Same seed, same initial weights: inference agrees; a training step draws a mask and so differs.
    expect(Array.from(drop.predict(x).data)).toEqual(Array.from(plain.predict(x).data));
    expect((await drop.evaluate(x, y)).loss).toBe((await plain.evaluate(x, y)).loss);
    expect(drop.trainBatch(x, y).loss).not.toBe(plain.trainBatch(x, y).loss);
    // The same seed draws the same masks: a second model repeats the first's losses exactly.
    const again = new SequenceModel({ ...base, input: { embedding: 6, dropout: 0.4 } }, { backend: b });
    const twin = new SequenceModel({ ...base, input: { embedding: 6, dropout: 0.4 } }, { backend: b });
    for (let i = 0; i < 3; i++) expect(again.trainBatch(x, y).loss).toBe(twin.trainBatch(x, y).loss);
    const loaded = modelFromArrayBuffer(drop.toArrayBuffer(), { backend: b });
    expect(loaded.config.input).toEqual({ embedding: 6, dropout: 0.4 });
    expect(Array.from(loaded.predict(x).data)).toEqual(Array.from(drop.predict(x).data));
    for (const m of [drop, plain, again, twin, loaded]) m.dispose();
  });

  it('refuses an embedding dropout outside [0, 1) by name', async () => {
    const b = await backend(name);
    const make = (dropout: unknown) => () => new SequenceModel({ ...base, input: { embedding: 6, dropout } } as never, { backend: b });
    expect(make(1)).toThrow(/input\.dropout must be a number in \[0, 1\), got 1/);
    expect(make(-0.5)).toThrow(ValueError);
    expect(make(Number.NaN)).toThrow(/input\.dropout must be a number in \[0, 1\)/);
    expect(make('0.2')).toThrow(ValueError);
  });
});

describe.each(backendNames)('%s: chunks under the per-call memory limit', (name) => {
  it('predict and evaluate split batches the core would refuse, with the same results', async () => {
    const b = await backend(name);
    // An embedding 100,000 wide: the core budgets ~4·E floats per (sequence, step), 1.6 MB, so its 2 GiB
    // per-call limit admits ~1,340 one-step sequences: a batch of 1,500 is refused; chunks aim at 512 MiB
    // (~335 sequences, 134 MB of embedded rows each).
    const m = new SequenceModel(
      { input: { embedding: 100_000 }, vocabSize: 3, lstm: { hiddenSize: 1 }, output: { units: 1, activation: 'sigmoid' } },
      { backend: b },
    );
    const n = 1500;
    const x = { data: Int32Array.from({ length: n }, (_, i) => i % 3), shape: [n, 1] };
    const y = Float32Array.from({ length: n }, (_, i) => i % 2);
    expect(() => m.trainBatch(x, y)).toThrow(/would not fit: it needs about .* of working memory/);
    const all = m.predict(x, { batchSize: n }).data;
    const small = m.predict(x, { batchSize: 16 }).data;
    for (let i = 0; i < n; i++) expect(all[i]).toBeCloseTo(small[i], 6);
    const e = await m.evaluate(x, y, { batchSize: n });
    expect(e.loss).toBeCloseTo((await m.evaluate(x, y, { batchSize: 16 })).loss, 6);
    m.dispose();
  });

  it('budgets one-hot input as the gather it is: a 20,000-word one-hot BiLSTM takes batch 32 × 400 steps', async () => {
    const b = await backend(name);
    const m = new SequenceModel(
      {
        input: 'one-hot',
        vocabSize: 20_000,
        lstm: { hiddenSize: 4, bidirectional: true },
        pooling: 'max',
        mask: true,
        output: { units: 1, activation: 'sigmoid' },
      },
      { backend: b },
    );
    const x = { data: Int32Array.from({ length: 32 * 400 }, (_, i) => (i * 7919) % 20_000), shape: [32, 400] };
    expect(
      m.trainBatch(
        x,
        Float32Array.from({ length: 32 }, (_, i) => i % 2),
      ).loss,
    ).toBeGreaterThan(0);
    m.dispose();
  });
});

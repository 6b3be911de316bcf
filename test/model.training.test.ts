/** Training behaviour on small data: learning, Adam's update rule, masking, reproducibility, fit's options. */
import { describe, expect, it } from 'vitest';
import { sequenceClassifier, sequenceRegressor, SequenceModel, sequenceTagger } from '../ts/index';
import { backend, backendNames, rng } from './helpers';

/** Sequences of T floats in [-1, 1]; the label is whether their sum is positive. */
function signOfSum(n: number, t: number, seed: number) {
  const r = rng(seed);
  const x = new Float32Array(n * t);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < t; j++) s += x[i * t + j] = r() * 2 - 1;
    y[i] = s > 0 ? 1 : 0;
  }
  return { x: { data: x, shape: [n, t, 1] }, y };
}

describe.each(backendNames)('training on %s', (name) => {
  it('learns the sign of a sum to near-perfect accuracy', async () => {
    const b = await backend(name);
    const model = sequenceClassifier({ input: { features: 1 }, lstm: { hiddenSize: 16 }, seed: 1 }, { backend: b });
    const train = signOfSum(2000, 12, 1);
    const test = signOfSum(500, 12, 2);
    const h = await model.fit(train.x, train.y, { epochs: 12, batchSize: 32, optimizer: { type: 'adam', lr: 1e-2 } });
    expect(h.epochs).toHaveLength(12);
    expect(h.epochs[11].loss).toBeLessThan(h.epochs[0].loss);
    const e = await model.evaluate(test.x, test.y);
    expect(e.accuracy).toBeGreaterThan(0.95);
  });

  it('learns to recall a token seen 30 steps earlier (one-hot input, softmax over 4 classes)', async () => {
    const b = await backend(name);
    // Each sequence: a marker token (1..4) at step 0, then 30 random filler tokens 5..9; the class is the
    // marker's (0..3), so the LSTM must carry it across 30 steps. Chance is 25%.
    const [n, t, vocab] = [600, 31, 10];
    const r = rng(3);
    const ids = new Int32Array(n * t);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const cls = Math.floor(r() * 4);
      ids[i * t] = 1 + cls;
      for (let s = 1; s < t; s++) ids[i * t + s] = 5 + Math.floor(r() * 5);
      y[i] = cls;
    }
    const model = sequenceClassifier(
      { input: 'one-hot', vocabSize: vocab, lstm: { hiddenSize: 24 }, output: { units: 4, activation: 'softmax' }, seed: 4 },
      { backend: b },
    );
    await model.fit({ data: ids, shape: [n, t] }, y, { epochs: 30, batchSize: 32, optimizer: { type: 'adam', lr: 1e-2 }, clipNorm: 1 });
    const e = await model.evaluate({ data: ids, shape: [n, t] }, y);
    expect(e.accuracy).toBeGreaterThan(0.97);
  });

  it("takes Adam's first steps exactly as PyTorch's update rule says", async () => {
    const b = await backend(name);
    const model = sequenceClassifier({ input: 'one-hot', vocabSize: 20, lstm: { hiddenSize: 5 }, seed: 7 }, { backend: b });
    const [lr, b1, b2, eps] = [0.01, 0.9, 0.999, 1e-8];
    model.setOptimizer({ type: 'adam', lr });
    const x = { data: Int32Array.from({ length: 24 }, (_, i) => (i * 7) % 20), shape: [4, 6] };
    const y = [1, 0, 1, 0];
    const names = model.parameterNames;
    const p = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, Float64Array.from(v.data)]));
    const m = Object.fromEntries(names.map((k) => [k, new Float64Array(p[k].length)]));
    const v = Object.fromEntries(names.map((k) => [k, new Float64Array(p[k].length)]));
    for (let step = 1; step <= 3; step++) {
      model.computeGradients(x, y);
      const g = model.gradients();
      model.trainBatch(x, y);
      const got = model.stateDict();
      for (const k of names) {
        for (let i = 0; i < p[k].length; i++) {
          const gi = g[k].data[i];
          m[k][i] = b1 * m[k][i] + (1 - b1) * gi;
          v[k][i] = b2 * v[k][i] + (1 - b2) * gi * gi;
          const mHat = m[k][i] / (1 - b1 ** step);
          const vHat = v[k][i] / (1 - b2 ** step);
          p[k][i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
          expect(Math.abs(got[k].data[i] - p[k][i])).toBeLessThan(2e-6);
        }
        p[k] = Float64Array.from(got[k].data);
      }
    }
  });

  it("masks padding: 'pre', 'post' and no padding give the same prediction", async () => {
    const b = await backend(name);
    for (const pooling of ['last', 'mean', 'max'] as const) {
      for (const input of ['one-hot', { embedding: 4 }] as const) {
        const model = sequenceClassifier(
          { input, vocabSize: 12, lstm: { hiddenSize: 6, bidirectional: true, numLayers: 2 }, pooling, mask: true, seed: 2 },
          { backend: b },
        );
        const seq = [5, 7, 9, 3];
        const plain = model.predict([seq]).data[0];
        const pre = model.predict([[0, 0, 0, ...seq]]).data[0];
        const post = model.predict([[...seq, 0, 0, 0]]).data[0];
        const lengths = model.predict({ data: Int32Array.from([...seq, 0, 0, 0]), shape: [1, 7], lengths: [4] }).data[0];
        expect(Math.abs(pre - plain)).toBeLessThan(1e-6);
        expect(Math.abs(post - plain)).toBeLessThan(1e-6);
        expect(Math.abs(lengths - plain)).toBeLessThan(1e-6);
        // Without the mask, padding changes the result (so the test above can fail).
        const unmasked = sequenceClassifier(
          { input, vocabSize: 12, lstm: { hiddenSize: 6, bidirectional: true, numLayers: 2 }, pooling, seed: 2 },
          { backend: b },
        );
        expect(Math.abs(unmasked.predict([[0, 0, 0, ...seq]]).data[0] - unmasked.predict([seq]).data[0])).toBeGreaterThan(1e-6);
        model.dispose();
        unmasked.dispose();
      }
    }
  });

  it('gives the same losses run after run from the same seed (dropout and shuffling included)', async () => {
    const b = await backend(name);
    const data = signOfSum(300, 8, 5);
    const run = async () => {
      const model = sequenceClassifier(
        { input: { features: 1 }, lstm: { hiddenSize: 8, numLayers: 2, dropout: 0.3 }, dropout: 0.2, head: [{ units: 8 }], seed: 11 },
        { backend: b },
      );
      const h = await model.fit(data.x, data.y, { epochs: 3, batchSize: 16 });
      model.dispose();
      return h.epochs.map((e) => e.loss);
    };
    const [a, c] = [await run(), await run()];
    expect(a).toEqual(c);
    expect(new Set(a).size).toBe(3);
  });

  it('regresses float sequences with MSE and tags every step', async () => {
    const b = await backend(name);
    // Next value of a sine wave from the last 10.
    const [n, t] = [400, 10];
    const x = new Float32Array(n * t);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      for (let s = 0; s < t; s++) x[i * t + s] = Math.sin(0.3 * (i + s));
      y[i] = Math.sin(0.3 * (i + t));
    }
    const reg = sequenceRegressor({ input: { features: 1 }, lstm: { hiddenSize: 16 }, seed: 3 }, { backend: b });
    const h = await reg.fit({ data: x, shape: [n, t, 1] }, y, { epochs: 20, batchSize: 32, optimizer: { type: 'adam', lr: 1e-2 } });
    expect(h.epochs[19].loss).toBeLessThan(0.01);
    expect(h.epochs[19].accuracy).toBeUndefined();
    // Tagging: each step's class is its token's parity.
    const tagger = sequenceTagger(
      { input: { embedding: 8 }, vocabSize: 10, lstm: { hiddenSize: 8 }, output: { units: 2, activation: 'softmax' }, seed: 1 },
      { backend: b },
    );
    const ids = Int32Array.from({ length: 200 * 6 }, (_, i) => (i * 7 + (i >> 3)) % 10);
    const tags = Float32Array.from(ids, (v) => v % 2);
    await tagger.fit({ data: ids, shape: [200, 6] }, tags, { epochs: 15, batchSize: 20, optimizer: { type: 'adam', lr: 3e-2 } });
    const classes = tagger.predictClasses({ data: ids, shape: [200, 6] });
    expect(classes.length).toBe(1200);
    expect(classes.filter((c, i) => c === tags[i]).length / 1200).toBeGreaterThan(0.98);
  });

  it('stops early, stops on abort, holds out a validation split and reports per batch', async () => {
    const b = await backend(name);
    const data = signOfSum(200, 6, 9);
    const model = sequenceClassifier({ input: { features: 1 }, lstm: { hiddenSize: 4 }, seed: 1 }, { backend: b });
    const batches: number[] = [];
    const h = await model.fit(data.x, data.y, {
      epochs: 50,
      batchSize: 50,
      validationSplit: 0.25,
      optimizer: { type: 'sgd', lr: 0 },
      earlyStopping: { monitor: 'valLoss', patience: 2 },
      callbacks: { onBatchEnd: (l) => void batches.push(l.batch) },
    });
    // lr 0 never improves after the first epoch: epochs 0, 1, 2 and then the stop.
    expect(h.stopReason).toBe('early-stopping');
    expect(h.epochs).toHaveLength(3);
    expect(h.epochs[0].valLoss).toBeGreaterThan(0);
    expect(batches.slice(0, 3)).toEqual([0, 1, 2]);
    const ac = new AbortController();
    const h2 = await model.fit(data.x, data.y, {
      epochs: 5,
      batchSize: 10,
      signal: ac.signal,
      callbacks: { onBatchEnd: (l) => (l.batch === 3 ? ac.abort() : undefined) },
    });
    expect(h2.stopReason).toBe('aborted');
    expect(h2.epochs).toHaveLength(0);
  });
});

describe('schedules', () => {
  it('step and cosine schedules set the learning rate per batch', async () => {
    const b = await backend('wasm');
    const data = signOfSum(40, 4, 1);
    const model = sequenceClassifier({ input: { features: 1 }, lstm: { hiddenSize: 3 } }, { backend: b });
    const lrs: number[] = [];
    await model.fit(data.x, data.y, {
      epochs: 4,
      batchSize: 20,
      optimizer: { type: 'adam', lr: 0.1 },
      lrSchedule: { type: 'step', stepSize: 2, gamma: 0.5 },
      callbacks: { onBatchEnd: (l) => void lrs.push(l.lr) },
    });
    expect(lrs).toEqual([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05]);
    const cos: number[] = [];
    await model.fit(data.x, data.y, {
      epochs: 2,
      batchSize: 20,
      lrSchedule: { type: 'cosine' },
      callbacks: { onBatchEnd: (l) => void cos.push(l.lr) },
    });
    expect(cos[0]).toBeCloseTo(0.1, 10);
    expect(cos[2]).toBeCloseTo(0.05, 10);
    expect(cos[3]).toBeLessThan(cos[2]);
    expect(
      new SequenceModel({ input: { features: 1 }, lstm: { hiddenSize: 2 }, output: { units: 1, activation: 'linear' } }, { backend: b })
        .numParameters,
    ).toBe(
      // LSTM 4·2·(1 + 2) + 2·8 biases, fc 2 + 1.
      4 * 2 * 3 + 16 + 3,
    );
  });
});

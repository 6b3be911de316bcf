/**
 * `LSTM.forward(x, { grad: false })`, the inference forward (no caches for backward): the same outputs as the
 * training forward, bit for bit, on every backend and thread count, over the awkward cases (two layers,
 * bidirectional, lengths, h0/c0, both layouts); a backward after it is refused and changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { LSTM, StateError, ValueError } from '../ts/index';
import { backend, backendNames, randomTensor, rng } from './helpers';

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe.each(backendNames)('LSTM inference forward on %s', (name) => {
  const cases = [
    { label: 'one layer, batch-first', config: { inputSize: 5, hiddenSize: 7 }, batchFirst: true, lengths: false, state: false },
    {
      label: 'two layers, bidirectional, lengths, time-major',
      config: { inputSize: 6, hiddenSize: 9, numLayers: 2, bidirectional: true },
      batchFirst: false,
      lengths: true,
      state: true,
    },
    {
      // The last layer of a batch-first inference pass writes its output batch-first (no transpose after).
      label: 'two layers, bidirectional, lengths, batch-first',
      config: { inputSize: 6, hiddenSize: 9, numLayers: 2, bidirectional: true },
      batchFirst: true,
      lengths: true,
      state: true,
    },
    {
      label: 'wide, bidirectional, batch-first (a team writes both directions batch-first)',
      config: { inputSize: 4, hiddenSize: 300, bidirectional: true },
      batchFirst: true,
      lengths: true,
      state: false,
    },
    {
      label: 'wide (W_hh over the row-split limit), batch-first, lengths',
      config: { inputSize: 8, hiddenSize: 300 },
      batchFirst: true,
      lengths: true,
      state: false,
    },
  ];
  for (const c of cases) {
    it(`matches the training forward bit for bit: ${c.label}`, async () => {
      const b = await backend(name);
      for (const threads of name === 'native' ? [1, 2] : [1]) {
        b.setThreads(threads);
        const lstm = new LSTM({ ...c.config, batchFirst: c.batchFirst, seed: 3, backend: b });
        const r = rng(11);
        const [B, T] = [5, 9];
        const x = randomTensor(c.batchFirst ? [B, T, c.config.inputSize] : [T, B, c.config.inputSize], r);
        const layers = (c.config.numLayers ?? 1) * (c.config.bidirectional ? 2 : 1);
        const opts = {
          ...(c.lengths ? { lengths: [9, 1, 4, 9, 7] } : {}),
          ...(c.state
            ? { h0: randomTensor([layers, B, c.config.hiddenSize], r), c0: randomTensor([layers, B, c.config.hiddenSize], r) }
            : {}),
        };
        const train = lstm.forward(x, opts);
        const infer = lstm.forward(x, { ...opts, grad: false });
        expect(bits(infer.output.data), `output, ${threads} threads`).toEqual(bits(train.output.data));
        expect(bits(infer.hN.data)).toEqual(bits(train.hN.data));
        expect(bits(infer.cN.data)).toEqual(bits(train.cN.data));
        lstm.dispose();
      }
      b.setThreads(1);
    });
  }

  it('refuses a backward after an inference forward, and a grad that is not a boolean', async () => {
    const b = await backend(name);
    const lstm = new LSTM({ inputSize: 3, hiddenSize: 4, batchFirst: true, seed: 1, backend: b });
    const x = randomTensor([2, 3, 3], rng(2));
    lstm.forward(x);
    const before = lstm.backward().params;
    lstm.forward(x, { grad: false });
    expect(() => lstm.backward()).toThrow(StateError);
    expect(() => lstm.backward()).toThrow(/backward needs a training forward pass; the last one ran for inference/);
    expect(() => lstm.forward(x, { grad: 'no' as never })).toThrow(ValueError);
    expect(() => lstm.forward(x, { grad: 'no' as never })).toThrow(/grad must be a boolean, got/);
    // A training forward again makes backward work, with the same gradients as before.
    lstm.forward(x);
    expect(lstm.backward().params).toEqual(before);
    lstm.dispose();
  });

  it('leaves the output sequence out with output: false, the states bit for bit, backward unchanged', async () => {
    const b = await backend(name);
    const lstm = new LSTM({ inputSize: 4, hiddenSize: 6, numLayers: 2, bidirectional: true, batchFirst: true, seed: 5, backend: b });
    const r = rng(7);
    const x = randomTensor([3, 5, 4], r);
    const dOut = randomTensor([3, 5, 12], r);
    const full = lstm.forward(x, { lengths: [5, 2, 4] });
    const fullGrads = lstm.backward({ output: dOut });
    for (const grad of [true, false]) {
      const states = lstm.forward(x, { lengths: [5, 2, 4], grad, output: false });
      expect(Object.keys(states).sort()).toEqual(['cN', 'hN']);
      expect(bits(states.hN.data)).toEqual(bits(full.hN.data));
      expect(bits(states.cN.data)).toEqual(bits(full.cN.data));
      expect(states.hN.shape).toEqual(full.hN.shape);
    }
    // A training forward without its output returned still back-propagates an output gradient.
    lstm.forward(x, { lengths: [5, 2, 4], output: false });
    const grads = lstm.backward({ output: dOut });
    expect(bits(grads.x.data)).toEqual(bits(fullGrads.x.data));
    expect(grads.params).toEqual(fullGrads.params);
    // A bad flag is refused before anything runs: the training forward above is still the one cached.
    expect(() => lstm.forward(x, { grad: false, output: 'no' as never })).toThrow(ValueError);
    expect(() => lstm.forward(x, { output: 1 as never })).toThrow(/output must be a boolean, got/);
    expect(lstm.backward({ output: dOut }).params).toEqual(fullGrads.params);
    lstm.dispose();
  });
});

/** Models on the two backends agree, and model handles are freed. */
import { describe, expect, it } from 'vitest';
import { liveModelHandles, sequenceClassifier } from '../ts/index';
import { backend, expectClose, expectNoLeak, rng } from './helpers';

const config = {
  input: { embedding: 8 },
  vocabSize: 50,
  lstm: { hiddenSize: 12, numLayers: 2, bidirectional: true },
  pooling: 'max' as const,
  head: [{ units: 6 }],
  mask: true,
  seed: 5,
};

function data(n: number, t: number) {
  const r = rng(12);
  return {
    x: { data: Int32Array.from({ length: n * t }, () => Math.floor(r() * 50)), shape: [n, t] },
    y: Float32Array.from({ length: n }, () => (r() > 0.5 ? 1 : 0)),
  };
}

describe('models on native and wasm', () => {
  it('train to the same losses (1e-4) and predictions (1e-4) from the same seed', async () => {
    const { x, y } = data(48, 17);
    const run = async (name: 'native' | 'wasm') => {
      const m = sequenceClassifier(config, { backend: await backend(name) });
      const h = await m.fit(x, y, { epochs: 3, batchSize: 16, optimizer: { type: 'adam', lr: 1e-2 } });
      const p = m.predict(x).data;
      m.dispose();
      return { losses: h.epochs.map((e) => e.loss), p };
    };
    const [a, b] = [await run('native'), await run('wasm')];
    expectClose('losses', a.losses, b.losses, { rtol: 1e-4, atol: 1e-6 });
    expectClose('predictions', a.p, b.p, { rtol: 1e-4, atol: 1e-5 });
  });

  it.each(['native', 'wasm'] as const)('free model handles on dispose and keep wasm memory flat (%s)', async (name) => {
    const b = await backend(name);
    const base = liveModelHandles();
    const { x, y } = data(8, 9);
    const cycle = () => {
      const m = sequenceClassifier(config, { backend: b });
      m.trainBatch(x, y);
      m.predict(x);
      m.dispose();
    };
    expectNoLeak(b, liveModelHandles, base, cycle, 10, 150);
  });

  // predict hands each chunk's rows to the core as views into the caller's arrays (no copy) and the core reads dense
  // batch-first input in place: chunks of 3, 5 and all rows, with lengths, give the same bits, the input unchanged.
  it.each(['native', 'wasm'] as const)('predict the same bits in any chunk size, reading dense input in place (%s)', async (name) => {
    const m = sequenceClassifier(
      { input: { features: 5 }, lstm: { hiddenSize: 7, bidirectional: true }, pooling: 'mean', seed: 2 },
      { backend: await backend(name) },
    );
    const r = rng(4);
    const n = 11;
    const t = 6;
    const data = Float32Array.from({ length: n * t * 5 }, () => r() - 0.5);
    const lengths = Uint32Array.from({ length: n }, (_, i) => 1 + ((i * 5) % t));
    const x = { data, shape: [n, t, 5], lengths };
    const before = data.slice();
    const all = m.predict(x).data;
    for (const batchSize of [3, 5]) expect(m.predict(x, { batchSize }).data).toEqual(all);
    // One row alone, out of the middle of the batch.
    const one = m.predict({ data: data.subarray(4 * t * 5, 5 * t * 5), shape: [1, t, 5], lengths: lengths.subarray(4, 5) }).data;
    expect(Array.from(one)).toEqual(Array.from(all.subarray(4, 5)));
    expect(data).toEqual(before);
    m.dispose();
  });
});

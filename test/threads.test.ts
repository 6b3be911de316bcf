/**
 * The thread count of the matrix products: native splits large products over a pool and must give the
 * same bits as one thread; wasm has no shared memory and refuses more than one. No timing here: speed
 * belongs to the benchmarks.
 */
import { availableParallelism } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { LSTM, ValueError } from '../ts/index';
import { backend, expectSameBits, randomTensor, rng, trainFourSteps } from './helpers';

describe('threads on native', () => {
  afterAll(async () => (await backend('native')).setThreads(1));

  it('defaults to every core and validates the count', async () => {
    const b = await backend('native');
    // The core's default (kernels/threads.rs): std's available_parallelism, which is what Node's is.
    expect(b.threads).toBe(availableParallelism());
    b.setThreads(1);
    for (const bad of [0, -1, 1.5, Number.NaN, 1025]) expect(() => b.setThreads(bad), String(bad)).toThrow(ValueError);
    expect(b.threads).toBe(1);
    b.setThreads(2);
    expect(b.threads).toBe(2);
    b.setThreads(1);
    expect(b.threads).toBe(1);
  });

  it('an LSTM gives the same bits on 1 and 2 threads', async () => {
    const b = await backend('native');
    // B 32, H 128: each step's h·W_hhᵀ is 2·32·512·128 = 4.2 MFLOP, above the 4 MiFLOP split threshold
    // (kernels/threads.rs), and so are the input product and the weight gradients.
    const r = rng(11);
    const x = randomTensor([32, 12, 40], r);
    const gy = randomTensor([32, 12, 256], r);
    const lengths = Array.from({ length: 32 }, (_, i) => 12 - (i % 5));
    const run = (threads: number) => {
      b.setThreads(threads);
      const lstm = new LSTM({ inputSize: 40, hiddenSize: 128, numLayers: 2, bidirectional: true, seed: 3, backend: b });
      try {
        const f = lstm.forward(x, { lengths });
        const g = lstm.backward({ output: gy });
        const out: Record<string, Float32Array> = { output: f.output.data, hN: f.hN.data, cN: f.cN.data, dX: g.x.data };
        for (const [k, v] of Object.entries(g.params)) out[`d_${k}`] = v.data;
        return out;
      } finally {
        lstm.dispose();
      }
    };
    const one = run(1);
    const two = run(2);
    expect(Object.keys(two)).toEqual(Object.keys(one));
    for (const k of Object.keys(one)) expectSameBits(k, two[k], one[k]);
  });

  it('model training gives the same losses and weights on 1 and 2 threads', async () => {
    const b = await backend('native');
    const train = (threads: number) => {
      b.setThreads(threads);
      return trainFourSteps(b);
    };
    const one = train(1);
    const two = train(2);
    expectSameBits('losses', two.losses, one.losses);
    expectSameBits('lstm.weight_hh_l0 after 4 steps', two.weight, one.weight);
    // The losses moved, so the comparison covered real updates.
    expect(one.losses[3]).not.toBe(one.losses[0]);
  });
});

describe('threads on wasm', () => {
  it('is always one thread and refuses more with a ValueError', async () => {
    const b = await backend('wasm');
    expect(b.threads).toBe(1);
    expect(() => b.setThreads(2)).toThrow(ValueError);
    expect(() => b.setThreads(2)).toThrow(/shared memory/);
    b.setThreads(1);
    expect(b.threads).toBe(1);
  });
});

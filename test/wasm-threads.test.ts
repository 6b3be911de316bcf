/**
 * The wasm threads build (`loadBackend({ backend: 'wasm', wasmThreads: n })`): one instance on a shared memory, its
 * pool's workers (worker_threads here) splitting each call's products and recurrences as the native pool does. It
 * must give the same bits as one thread, refuse what it has no workers for, and never keep the process alive.
 * No timing here: speed belongs to the benchmarks.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { BackendError, LSTM, ValueError, loadBackend, sequenceClassifier, wasmThreadsUnsupported } from '../ts/index';
import { backend, expectSameBits, randomTensor, repoRoot, rng } from './helpers';

/** Forward and backward of one layer: every output and gradient. */
function lstmRun(b: Awaited<ReturnType<typeof loadBackend>>, shape: { B: number; T: number; F: number; H: number; layers?: number }) {
  const { B, T, F, H, layers = 1 } = shape;
  const r = rng(B * 1000 + H);
  const x = randomTensor([B, T, F], r);
  const lengths = Array.from({ length: B }, (_, i) => T - (i % 3));
  const lstm = new LSTM({ inputSize: F, hiddenSize: H, numLayers: layers, bidirectional: layers > 1, seed: 3, backend: b });
  try {
    const f = lstm.forward(x, { lengths });
    const gy = randomTensor(f.output.shape, r);
    const g = lstm.backward({ output: gy });
    const out: Record<string, Float32Array> = { output: f.output.data, hN: f.hN.data, cN: f.cN.data, dX: g.x.data };
    for (const [k, v] of Object.entries(g.params)) out[`d_${k}`] = v.data;
    const inference = lstm.forward(x, { lengths, grad: false, output: false });
    out.inferHN = inference.hN.data;
    return out;
  } finally {
    lstm.dispose();
  }
}

describe('the wasm threads build', () => {
  afterEach(() => vi.restoreAllMocks());
  afterAll(async () => (await loadBackend({ backend: 'wasm', wasmThreads: 2 })).setThreads(2));

  it('loads with its workers and reports the build, the kernels and the threads', async () => {
    expect(wasmThreadsUnsupported()).toBe('');
    const b = await loadBackend({ backend: 'wasm', wasmThreads: 2 });
    expect(b.name).toBe('wasm');
    expect(b.wasmBuild).toBe('relaxed_simd_threads');
    expect(b.kernels).toBe('relaxed_simd');
    expect(b.threads).toBe(2);
    expect(b.raw.workers!()).toBe(1);
    // Its own instance: the single-threaded relaxed build is a different one, still on one thread.
    const single = await backend('wasm-relaxed');
    expect(single).not.toBe(b);
    expect(single.threads).toBe(1);
    expect(b.kernelSelfTest('relaxed_simd')).toBe('');
    expect(b.kernelSelfTest('scalar')).toBe('');
  });

  // B 32, H 128: each step's products are above the pool's 4 MiFLOP split threshold (kernels/threads.rs), so the
  // recurrence runs as two parts of 16 rows; H 384 (W_hh 2.4 MB, over the 1 MiB row-split limit) runs on a team of
  // two members splitting the hidden units with a barrier per step; two bidirectional layers cover both directions.
  it.for([
    { B: 32, T: 12, F: 40, H: 128 },
    { B: 4, T: 5, F: 8, H: 384 },
    { B: 16, T: 6, F: 24, H: 128, layers: 2 },
  ])('an LSTM ($B x $T, F $F, H $H) gives the same bits on 2 threads as on 1 and as the single-threaded build', async (shape) => {
    const b = await loadBackend({ backend: 'wasm', wasmThreads: 2 });
    b.setThreads(1);
    const one = lstmRun(b, shape);
    b.setThreads(2);
    const two = lstmRun(b, shape);
    const single = lstmRun(await backend('wasm-relaxed'), shape);
    expect(Object.keys(two)).toEqual(Object.keys(one));
    for (const k of Object.keys(one)) {
      expectSameBits(`${k} (2 threads vs 1)`, two[k], one[k]);
      expectSameBits(`${k} (threads build vs relaxed build)`, two[k], single[k]);
    }
  });

  it('model training gives the same losses and weights on 2 threads as the single-threaded build', async () => {
    const r = rng(12);
    const x = randomTensor([32, 16, 64], r);
    const y = Float32Array.from({ length: 32 }, () => (r() < 0.5 ? 0 : 1));
    const train = (b: Awaited<ReturnType<typeof loadBackend>>) => {
      const model = sequenceClassifier({ input: { features: 64 }, lstm: { hiddenSize: 128 }, seed: 5 }, { backend: b });
      try {
        const losses = Float32Array.from({ length: 4 }, () => model.trainBatch(x, y).loss);
        return { losses, weight: model.stateDict()['lstm.weight_hh_l0'].data };
      } finally {
        model.dispose();
      }
    };
    const two = train(await loadBackend({ backend: 'wasm', wasmThreads: 2 }));
    const one = train(await backend('wasm-relaxed'));
    expectSameBits('losses', two.losses, one.losses);
    expectSameBits('lstm.weight_hh_l0 after 4 steps', two.weight, one.weight);
    expect(one.losses[3]).not.toBe(one.losses[0]);
  });

  it('refuses more threads than it has workers, leaving the count as it was', async () => {
    const b = await loadBackend({ backend: 'wasm', wasmThreads: 2 });
    expect(() => b.setThreads(3)).toThrow(ValueError);
    expect(() => b.setThreads(3)).toThrow(/at most 2 .*1 started.*wasmThreads: 3/);
    expect(b.threads).toBe(2);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => b.setThreads(bad), String(bad)).toThrow(ValueError);
    expect(b.threads).toBe(2);
  });

  it('rejects bad wasmThreads values and contradicting options with a ValueError before loading anything', async () => {
    for (const bad of [0, -2, 1.5, 65, Number.NaN, '2']) {
      await expect(loadBackend({ backend: 'wasm', wasmThreads: bad as number }), String(bad)).rejects.toThrow(ValueError);
    }
    await expect(loadBackend({ backend: 'wasm', wasmThreads: 2, wasmFeatures: 'simd128' })).rejects.toThrow(/contradicts wasmFeatures/);
  });

  it('is a BackendError naming the missing feature where the engine lacks relaxed SIMD', async () => {
    vi.spyOn(WebAssembly, 'validate').mockReturnValue(false);
    expect(wasmThreadsUnsupported()).toMatch(/relaxed SIMD/);
    await expect(loadBackend({ backend: 'wasm', wasmThreads: 2 })).rejects.toThrow(BackendError);
    await expect(loadBackend({ backend: 'wasm', wasmThreads: 2 })).rejects.toThrow(/--experimental-wasm-relaxed-simd/);
  });

  it('a later call with more threads starts the missing workers on the same instance', async () => {
    const two = await loadBackend({ backend: 'wasm', wasmThreads: 2 });
    const three = await loadBackend({ backend: 'wasm', wasmThreads: 3 });
    expect(three).toBe(two);
    expect(three.threads).toBe(3);
    expect(three.raw.workers!()).toBe(2);
    const shape = { B: 48, T: 6, F: 32, H: 128 };
    const out3 = lstmRun(three, shape);
    three.setThreads(1);
    const out1 = lstmRun(three, shape);
    for (const k of Object.keys(out1)) expectSameBits(`${k} (3 threads vs 1)`, out3[k], out1[k]);
  });

  it('idle workers do not keep Node from exiting', () => {
    // A script that loads the threads build, runs a split forward and ends without disposing anything.
    const script = `
      const cs = await import(${JSON.stringify(join(repoRoot, 'dist/index.js'))});
      const b = await cs.loadBackend({ backend: 'wasm', wasmThreads: 2 });
      const lstm = new cs.LSTM({ inputSize: 64, hiddenSize: 128, backend: b });
      const x = new Float32Array(64 * 32 * 10).fill(0.5);
      console.log(b.threads, lstm.forward({ data: x, shape: [10, 32, 64] }).hN.data.length);
    `;
    const out = execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(out.trim()).toBe('2 1280');
  });
});

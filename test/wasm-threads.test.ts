/**
 * The wasm threads build (`loadBackend({ backend: 'wasm', wasmThreads: n })`): one instance on a shared memory, its
 * pool's workers (worker_threads here) splitting each call's products and recurrences as the native pool does. It
 * must give the same bits as one thread, refuse what it has no workers for, and never keep the process alive.
 * No timing here: speed belongs to the benchmarks.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { BackendError, LSTM, ValueError, loadBackend, wasmThreadsUnsupported } from '../ts/index';
import { backend, expectSameBits, randomTensor, repoRoot, rng, trainFourSteps } from './helpers';

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
    const two = trainFourSteps(await loadBackend({ backend: 'wasm', wasmThreads: 2 }));
    const one = trainFourSteps(await backend('wasm-relaxed'));
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

  it('a worker that cannot start is a BackendError, and a later call on the same instance starts it once it can', () => {
    // A copy of dist/ whose worker script is first missing, then throws as it loads, then is the real one again; under
    // the repository's gitignored .cache/, so the bundle's own imports (fflate, protobufjs) resolve from node_modules.
    mkdirSync(join(repoRoot, '.cache'), { recursive: true });
    const dir = mkdtempSync(join(repoRoot, '.cache', 'wasm-thread-'));
    try {
      cpSync(join(repoRoot, 'dist'), dir, { recursive: true });
      const script = `
        const { copyFileSync, rmSync, writeFileSync } = await import('node:fs');
        const cs = await import(${JSON.stringify(join(dir, 'index.js'))});
        const worker = ${JSON.stringify(join(dir, 'wasm-thread.js'))};
        const attempt = async () => {
          try {
            const b = await cs.loadBackend({ backend: 'wasm', wasmThreads: 2 });
            const lstm = new cs.LSTM({ inputSize: 64, hiddenSize: 128, seed: 1, backend: b });
            const hN = lstm.forward({ data: new Float32Array(64 * 32 * 10).fill(0.5), shape: [10, 32, 64] }).hN.data;
            return { ok: true, threads: b.threads, workers: b.raw.workers(), hN: Array.from(hN.subarray(0, 4)) };
          } catch (e) {
            return { ok: false, name: e.name, message: e.message };
          }
        };
        rmSync(worker);
        const missing = await attempt();
        writeFileSync(worker, 'throw new Error("broken worker script");');
        const broken = await attempt();
        copyFileSync(${JSON.stringify(join(repoRoot, 'dist', 'wasm-thread.js'))}, worker);
        const fixed = await attempt();
        const single = await cs.loadBackend({ backend: 'wasm', wasmFeatures: 'relaxed_simd' });
        const lstm = new cs.LSTM({ inputSize: 64, hiddenSize: 128, seed: 1, backend: single });
        const hN = lstm.forward({ data: new Float32Array(64 * 32 * 10).fill(0.5), shape: [10, 32, 64] }).hN.data;
        console.log(JSON.stringify({ missing, broken, fixed, single: Array.from(hN.subarray(0, 4)) }));
      `;
      const out = execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      const { missing, broken, fixed, single } = JSON.parse(out);
      expect(missing).toMatchObject({ ok: false, name: 'BackendError' });
      expect(missing.message).toMatch(/could not start: wasm-thread\.js not found/);
      expect(broken).toMatchObject({ ok: false, name: 'BackendError' });
      expect(broken.message).toMatch(/a wasm thread worker failed: .*broken worker script/);
      // Neither failure left a worker counted or the instance unusable: the retry starts the one missing worker.
      expect(fixed).toMatchObject({ ok: true, threads: 2, workers: 1 });
      expect(fixed.hN).toEqual(single);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

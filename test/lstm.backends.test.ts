/** The two backends agree; seeds give the same weights everywhere; handles are freed (surface: test/surface.test.ts). */
import { describe, expect, it } from 'vitest';
import { init, LSTM, liveHandles, Tensor } from '../ts/index';
import { backend, expectClose, expectNoLeak, randomTensor, rng } from './helpers';

const config = { inputSize: 7, hiddenSize: 9, numLayers: 2, bidirectional: true };

describe('native and wasm', () => {
  it("init({ backend: 'auto' }) picks native in Node and reports it", async () => {
    const b = await init();
    expect(b.name).toBe('native');
    // x86_64 runtime detection must not silently fall back to the scalar kernels (STYLE rule 9): these
    // machines have at least AVX2 (this one AVX-512), and wasm is built with +simd128.
    expect(['avx2_fma', 'avx512']).toContain(b.kernels);
    // What init() reports is what the backend selected at start-up: the best set it has, with no override note.
    expect(b.kernels).toBe(b.availableKernels.at(-1));
    expect(b.kernelNote).toBe('');
    expect(b.availableKernels).toContain('scalar');
    // The suite runs with --experimental-wasm-relaxed-simd, so 'auto' finds relaxed SIMD.
    const w = await init({ backend: 'wasm' });
    expect(w.name).toBe('wasm');
    expect(w.kernels).toBe('relaxed_simd');
    expect(w.wasmBuild).toBe('relaxed_simd');
    expect(w.availableKernels).toEqual(['scalar', 'simd128', 'relaxed_simd']);
    expect(w.memoryBytes()).toBeGreaterThan(0);
    const plain = await init({ backend: 'wasm', wasmFeatures: 'simd128' });
    expect(plain.kernels).toBe('simd128');
    expect(plain.wasmBuild).toBe('simd128');
    expect(plain.availableKernels).toEqual(['scalar', 'simd128']);
  });

  it('initialise identical weights from the same seed', async () => {
    const [n, w] = [await backend('native'), await backend('wasm')];
    const a = new LSTM({ ...config, seed: 42, backend: n }).stateDict();
    const b = new LSTM({ ...config, seed: 42, backend: w }).stateDict();
    const c = new LSTM({ ...config, seed: 43, backend: w }).stateDict();
    for (const k of Object.keys(a)) expect(a[k].data).toEqual(b[k].data);
    expect(a.weight_ih_l0.data).not.toEqual(c.weight_ih_l0.data);
    // PyTorch's init: uniform in ±1/sqrt(H).
    const bound = 1 / Math.sqrt(config.hiddenSize);
    for (const t of Object.values(a)) for (const v of t.data) expect(Math.abs(v)).toBeLessThanOrEqual(bound);
  });

  it('give the same outputs and gradients to 1e-5 on the same inputs', async () => {
    const r = rng(11);
    const [B, T] = [5, 13];
    const x = randomTensor([B, T, config.inputSize], r);
    const h0 = randomTensor([4, B, config.hiddenSize], r);
    const c0 = randomTensor([4, B, config.hiddenSize], r);
    const gy = randomTensor([B, T, 2 * config.hiddenSize], r);
    const gh = randomTensor([4, B, config.hiddenSize], r);
    const lengths = [13, 1, 7, 12, 4];
    const run = async (name: 'native' | 'wasm') => {
      const lstm = new LSTM({ ...config, seed: 5, backend: await backend(name) });
      const out = lstm.forward(x, { h0, c0, lengths });
      const grads = lstm.backward({ output: gy, hN: gh });
      lstm.dispose();
      return { out, grads };
    };
    const [a, b] = [await run('native'), await run('wasm')];
    const tol = { rtol: 1e-5, atol: 1e-6 };
    expectClose('output', a.out.output.data, b.out.output.data, tol);
    expectClose('h_n', a.out.hN.data, b.out.hN.data, tol);
    expectClose('c_n', a.out.cN.data, b.out.cN.data, tol);
    expectClose('dx', a.grads.x.data, b.grads.x.data, tol);
    expectClose('dh0', a.grads.h0.data, b.grads.h0.data, tol);
    for (const k of Object.keys(a.grads.params)) expectClose(k, a.grads.params[k].data, b.grads.params[k].data, tol);
  });

  it.each(['native', 'wasm'] as const)('free handles on dispose and do not grow memory over many steps (%s)', async (name) => {
    const b = await backend(name);
    const base = liveHandles();
    const r = rng(3);
    const x = randomTensor([4, 20, config.inputSize], r);
    const gy = randomTensor([4, 20, 2 * config.hiddenSize], r);
    const cycle = () => {
      const lstm = new LSTM({ ...config, backend: b });
      lstm.forward(x, { lengths: [20, 3, 9, 1] });
      lstm.backward({ output: gy });
      lstm.dispose();
    };
    expectNoLeak(b, liveHandles, base, cycle, 20, 300);
    {
      using scoped = new LSTM({ ...config, backend: b });
      expect(liveHandles()).toBe(base + 1);
      expect(scoped.numParameters).toBeGreaterThan(0);
    }
    expect(liveHandles()).toBe(base);
  });

  it('accept time-major input with batchFirst: false', async () => {
    const b = await backend('wasm');
    const r = rng(8);
    const bf = new LSTM({ ...config, seed: 2, backend: b });
    const tm = new LSTM({ ...config, seed: 2, batchFirst: false, backend: b });
    const [B, T, F] = [3, 4, config.inputSize];
    const x = randomTensor([B, T, F], r);
    const xt = new Float32Array(B * T * F);
    for (let i = 0; i < B; i++) for (let t = 0; t < T; t++) xt.set(x.data.subarray((i * T + t) * F, (i * T + t + 1) * F), (t * B + i) * F);
    const a = bf.forward(x);
    const o = tm.forward(new Tensor(xt, [T, B, F]));
    expect(o.output.shape).toEqual([T, B, 2 * config.hiddenSize]);
    const W = 2 * config.hiddenSize;
    for (let i = 0; i < B; i++)
      for (let t = 0; t < T; t++)
        expect(o.output.data.subarray((t * B + i) * W, (t * B + i + 1) * W)).toEqual(
          a.output.data.subarray((i * T + t) * W, (i * T + t + 1) * W),
        );
    expect(o.hN.data).toEqual(a.hN.data);
  });
});

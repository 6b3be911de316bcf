/** The SIMD kernels inside each backend agree with the scalar reference; choosing a set works and is reported. */
import { describe, expect, it } from 'vitest';
import { LSTM, ValueError } from '../ts/index';
import { backend, backendNames, expectClose, randomTensor, rng } from './helpers';

describe.each(backendNames)('kernels on %s', (name) => {
  it('runs a SIMD set by default, never silently the scalar one', async () => {
    const b = await backend(name);
    // The wasm builds: +simd128, +relaxed-simd, and the threads build (relaxed); x86_64 machines have at least AVX2.
    const expected = {
      wasm: ['simd128'],
      'wasm-relaxed': ['relaxed_simd'],
      'wasm-threads': ['relaxed_simd'],
      native: ['avx2_fma', 'avx512'],
    }[name];
    expect(expected).toContain(b.kernels);
    expect(b.availableKernels[0]).toBe('scalar');
    expect(b.availableKernels.at(-1)).toBe(b.kernels);
    expect(b.kernelNote).toBe('');
  });

  it('every available set passes the sweep against scalar inside the backend', async () => {
    const b = await backend(name);
    for (const k of b.availableKernels) expect(b.kernelSelfTest(k), k).toBe('');
    expect(b.kernelSelfTest('sse9')).toMatch(/no kernel set named "sse9"/);
  });

  it('switching to the scalar reference gives the same LSTM numbers to 1e-5', async () => {
    const b = await backend(name);
    const best = b.kernels;
    const r = rng(4);
    const x = randomTensor([3, 9, 17], r);
    const gy = randomTensor([3, 9, 66], r);
    const run = () => {
      const lstm = new LSTM({ inputSize: 17, hiddenSize: 33, bidirectional: true, seed: 1, backend: b });
      const out = lstm.forward(x, { lengths: [9, 4, 1] }).output.data;
      const g = lstm.backward({ output: gy }).params.weight_hh_l0_reverse.data;
      lstm.dispose();
      return { out, g };
    };
    const fast = run();
    b.selectKernels('scalar');
    try {
      expect(b.kernels).toBe('scalar');
      const slow = run();
      expectClose('output', fast.out, slow.out, { rtol: 1e-5, atol: 1e-6 });
      expectClose('dW_hh', fast.g, slow.g, { rtol: 1e-5, atol: 1e-6 });
    } finally {
      b.selectKernels(best);
    }
    expect(() => b.selectKernels('sse9')).toThrow(ValueError);
  });
});

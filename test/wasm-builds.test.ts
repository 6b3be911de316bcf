/**
 * The wasm build is chosen by feature detection: `wasmFeatures: 'auto'` loads the relaxed-SIMD build exactly
 * when `WebAssembly.validate` accepts a relaxed-SIMD instruction, and `'simd128'` forces the plain build.
 * The suite runs with --experimental-wasm-relaxed-simd (vitest.config.ts), so the real probe says yes here.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackendError, ValueError, loadBackend, relaxedSimdSupported } from '../ts/index';

describe('wasm build selection', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('the probe validates under --experimental-wasm-relaxed-simd', () => {
    expect(relaxedSimdSupported()).toBe(true);
  });

  it("'auto' picks relaxed_simd when validate says yes", async () => {
    const validate = vi.spyOn(WebAssembly, 'validate').mockReturnValue(true);
    const b = await loadBackend({ backend: 'wasm' });
    expect(validate).toHaveBeenCalled();
    expect(b.wasmBuild).toBe('relaxed_simd');
    expect(b.kernels).toBe('relaxed_simd');
  });

  it("'auto' picks simd128 when validate says no, and 'relaxed_simd' is then refused", async () => {
    vi.spyOn(WebAssembly, 'validate').mockReturnValue(false);
    const b = await loadBackend({ backend: 'wasm' });
    expect(b.wasmBuild).toBe('simd128');
    expect(b.kernels).toBe('simd128');
    expect(b.availableKernels).toEqual(['scalar', 'simd128']);
    await expect(loadBackend({ backend: 'wasm', wasmFeatures: 'relaxed_simd' })).rejects.toThrow(BackendError);
  });

  it("wasmFeatures: 'simd128' forces the plain build where relaxed SIMD validates", async () => {
    const b = await loadBackend({ backend: 'wasm', wasmFeatures: 'simd128' });
    expect(b.wasmBuild).toBe('simd128');
    expect(b.kernels).toBe('simd128');
  });

  it('an unknown wasmFeatures value is a ValueError', async () => {
    await expect(loadBackend({ backend: 'wasm', wasmFeatures: 'sse9' as never })).rejects.toThrow(ValueError);
  });
});

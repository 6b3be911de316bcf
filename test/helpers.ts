/** Shared test helpers: fixtures, tolerant comparison, and the list of backends every suite runs on. */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { mulberry32 } from '../ts/data/rng';
import { type Backend, type InitOptions, loadBackend, sequenceClassifier } from '../ts/index';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** CI clones the repo with shared/ beside it; CELLSTATE_SHARED overrides. */
export const sharedDir = process.env.CELLSTATE_SHARED ?? resolve(repoRoot, '../shared');
export const fixturesDir = join(sharedDir, 'fixtures/torch-lstm');

/**
 * Every backend the suites run on: the native addon and the three wasm builds (`wasm` is the plain SIMD128 build,
 * forced; `wasm-relaxed` the relaxed-SIMD one, which Node 20 validates only with
 * --experimental-wasm-relaxed-simd, set in vitest.config.ts; `wasm-threads` the threads build on 2 threads, one
 * worker). All must load here: a missing one fails the suite, never skips it.
 */
export type TestBackend = 'native' | 'wasm' | 'wasm-relaxed' | 'wasm-threads';
export const backendNames: TestBackend[] = ['native', 'wasm', 'wasm-relaxed', 'wasm-threads'];
export const loadOptions: Record<TestBackend, InitOptions & { backend: 'native' | 'wasm' }> = {
  native: { backend: 'native' },
  wasm: { backend: 'wasm', wasmFeatures: 'simd128' },
  'wasm-relaxed': { backend: 'wasm', wasmFeatures: 'relaxed_simd' },
  'wasm-threads': { backend: 'wasm', wasmThreads: 2 },
};

const cache = new Map<TestBackend, Promise<Backend>>();
export function backend(name: TestBackend): Promise<Backend> {
  if (!cache.has(name)) cache.set(name, loadBackend(loadOptions[name]));
  return cache.get(name)!;
}

export interface FixtureTensor {
  shape: number[];
  data: number[];
}

export interface Fixture {
  name: string;
  kind: 'lstm' | 'sentiment';
  config: Record<string, unknown>;
  params: Record<string, FixtureTensor>;
  inputs: Record<string, FixtureTensor>;
  upstream?: Record<string, FixtureTensor>;
  outputs: Record<string, FixtureTensor | number>;
  grads: Record<string, FixtureTensor>;
}

export function loadFixtures(kind: 'lstm' | 'sentiment'): Fixture[] {
  return readdirSync(fixturesDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(fixturesDir, f), 'utf8')) as Fixture)
    .filter((c) => c.kind === kind);
}

export function f32(t: FixtureTensor): { data: Float32Array; shape: number[] } {
  return { data: Float32Array.from(t.data), shape: t.shape };
}

/**
 * Asserts `|a − b| ≤ atol + rtol·|ref|` elementwise; on failure reports the max error, the first bad index
 * and a few values side by side.
 */
export function expectClose(
  what: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  { rtol = 1e-4, atol = 1e-6 }: { rtol?: number; atol?: number } = {},
): void {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length}, expected ${want.length}`);
  let worst = 0;
  let worstAt = -1;
  let firstBad = -1;
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= atol + rtol * Math.abs(want[i])) && firstBad < 0) firstBad = i;
    if (!(err <= worst)) {
      worst = err;
      worstAt = i;
    }
  }
  if (firstBad >= 0) {
    const lo = Math.max(0, firstBad - 2);
    const hi = Math.min(got.length, firstBad + 3);
    const side = [];
    for (let i = lo; i < hi; i++) side.push(`[${i}] ${got[i]} vs ${want[i]}`);
    throw new Error(
      `${what}: first bad index ${firstBad}, max |err| ${worst} at ${worstAt} (rtol ${rtol}, atol ${atol}); ${side.join(', ')}`,
    );
  }
}

/** A deterministic generator for test data: the library's mulberry32. */
export const rng: (seed: number) => () => number = mulberry32;

/**
 * The leak check of every handle type: `warmUp` cycles (caches and the allocator settle), then `rounds`
 * more; afterwards `live()` must be back to `base` and wasm memory (which never shrinks, so a leak shows
 * as growth) exactly as after the warm-up. Native memory is not measured (`memoryBytes()` is null).
 */
export function expectNoLeak(b: Backend, live: () => number, base: number, cycle: () => void, warmUp: number, rounds: number): void {
  for (let i = 0; i < warmUp; i++) cycle();
  const warm = b.memoryBytes();
  for (let i = 0; i < rounds; i++) cycle();
  expect(live()).toBe(base);
  if (warm !== null) expect(b.memoryBytes()).toBe(warm);
}

/** The error `fn` throws, or undefined: for asserting several things about one error. */
export function thrown(fn: () => unknown): Error | undefined {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  return undefined;
}

export function randomTensor(shape: number[], r: () => number, scale = 1): { data: Float32Array; shape: number[] } {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (r() * 2 - 1) * scale;
  return { data, shape };
}

/** Bitwise equality of two float arrays, reporting the first differing index (`want` is the one-thread result). */
export function expectSameBits(what: string, got: Float32Array, want: Float32Array): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  const i = a.findIndex((v, j) => v !== b[j]);
  expect(i === -1 ? '' : `${what}[${i}] = ${got[i]}, one thread gave ${want[i]}`).toBe('');
}

/**
 * Four training steps of a features → LSTM(128) classifier on one fixed batch (32 × 16 × 64): the losses and the
 * trained W_hh, for comparing thread counts and builds bit for bit.
 */
export function trainFourSteps(b: Backend): { losses: Float32Array; weight: Float32Array } {
  const r = rng(12);
  const x = randomTensor([32, 16, 64], r);
  const y = Float32Array.from({ length: 32 }, () => (r() < 0.5 ? 0 : 1));
  const model = sequenceClassifier({ input: { features: 64 }, lstm: { hiddenSize: 128 }, seed: 5 }, { backend: b });
  try {
    const losses = Float32Array.from({ length: 4 }, () => model.trainBatch(x, y).loss);
    return { losses, weight: model.stateDict()['lstm.weight_hh_l0'].data };
  } finally {
    model.dispose();
  }
}

/** Helpers of the interop suites: ONNX Runtime (onnxruntime-node, a dev dependency) and max |a − b|. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const interopFixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

interface OrtTensor {
  data: Float32Array;
  dims: readonly number[];
}
interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface Ort {
  InferenceSession: { create(bytes: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: string, data: ArrayLike<number> | BigInt64Array, dims: readonly number[]) => unknown;
}

export const ort = createRequire(import.meta.url)('onnxruntime-node') as Ort;

/** Runs ONNX bytes once on ONNX Runtime's CPU provider; `feeds` maps input names to typed arrays and shapes. */
export async function runOnnx(
  bytes: Uint8Array,
  feeds: Record<string, { data: Float32Array | Int32Array | BigInt64Array; shape: readonly number[] }>,
): Promise<Record<string, OrtTensor>> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  try {
    const t: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(feeds)) {
      const type = v.data instanceof Float32Array ? 'float32' : v.data instanceof Int32Array ? 'int32' : 'int64';
      t[k] = new ort.Tensor(type, v.data, v.shape);
    }
    return await session.run(t);
  } finally {
    await session.release();
  }
}

/** max |a − b| over two equal-length arrays (Infinity when the lengths differ). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d;
  }
  return m;
}

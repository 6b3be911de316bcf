// The wasm float32 ceiling in this browser, with the Node bench's own module (bench/ceilings/wasm.mjs: 12
// independent f32x4 multiply-add chains, SIMD128 mul + add or one relaxed_madd) and its timing rule.
import { FLOPS_PER_ITER, moduleBytes } from '../../../bench/ceilings/wasm.mjs';

/** Whether this runtime validates the ceiling module of `kind` (the same instructions cellstate's builds use). */
export function supports(kind: 'simd128' | 'relaxed'): boolean {
  return WebAssembly.validate(moduleBytes(kind) as Uint8Array<ArrayBuffer>);
}

export async function ceiling(kind: 'simd128' | 'relaxed', seconds: number): Promise<Record<string, unknown>> {
  const bytes = moduleBytes(kind) as Uint8Array<ArrayBuffer>;
  if (!WebAssembly.validate(bytes)) {
    return { kind, status: 'skipped', why: kind === 'relaxed' ? 'this browser has no relaxed SIMD' : 'this browser has no SIMD128' };
  }
  const { instance } = await WebAssembly.instantiate(bytes);
  const run = instance.exports.run as (n: number) => number;
  run(100000);
  let n = 1 << 20;
  let best = 0;
  const rates: number[] = [];
  const t0 = performance.now();
  while ((performance.now() - t0) / 1000 < seconds || rates.length < 3) {
    const t = performance.now();
    run(n);
    const dt = (performance.now() - t) / 1000;
    if (dt < 0.05) {
      n *= 2;
      continue;
    }
    rates.push((n * FLOPS_PER_ITER) / dt / 1e9);
    best = Math.max(best, rates.at(-1)!);
  }
  rates.sort((a, b) => a - b);
  return { kind, status: 'ok', gflops: best, medianGflops: rates[rates.length >> 1], repeats: rates.length, accumulators: 12, threads: 1 };
}

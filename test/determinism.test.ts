/**
 * The same seed gives the same losses, bit for bit, in separate processes on the same backend and thread
 * count; and, measured here rather than promised, how far native and wasm and 1 vs 2 threads drift apart.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers';

/** 30 training steps of a seeded embedding BiLSTM with dropout; prints the losses as exact doubles. */
const SCRIPT = `
const cs = await import(${JSON.stringify(join(repoRoot, 'dist/index.js'))});
const [name, threads] = process.argv.slice(1);
const b = await cs.loadBackend({ backend: name });
if (name === 'native') b.setThreads(Number(threads));
const m = new cs.SequenceModel({ input: { embedding: 16 }, vocabSize: 300, lstm: { hiddenSize: 48, bidirectional: true, dropout: 0.2, numLayers: 2 }, dropout: 0.3, output: { units: 1, activation: 'sigmoid' }, seed: 5 }, { backend: b });
let s = 3;
const r = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
const x = { data: Int32Array.from({ length: 64 * 30 }, () => Math.floor(r() * 300)), shape: [64, 30] };
const y = Float32Array.from({ length: 64 }, () => (r() > 0.5 ? 1 : 0));
const losses = [];
for (let i = 0; i < 30; i++) losses.push(m.trainBatch(x, y).loss);
console.log(JSON.stringify(losses));
`;
const losses = (backend: string, threads = 1): number[] =>
  JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', SCRIPT, backend, String(threads)], { encoding: 'utf8' }),
  ) as number[];

describe('determinism across processes', () => {
  it('gives bitwise identical losses for the same seed, backend and thread count', { timeout: 120_000 }, () => {
    for (const b of ['native', 'wasm']) expect(losses(b), b).toEqual(losses(b));
    expect(losses('native', 2)).toEqual(losses('native', 2));
  });

  it('reports how far backends and thread counts differ (threads: not at all; backends: rounding only)', { timeout: 120_000 }, () => {
    const [n1, n2, w] = [losses('native', 1), losses('native', 2), losses('wasm')];
    // Only output tiles are divided among threads (ts/backend.ts setThreads), so 2 threads equal 1 exactly.
    expect(n2).toEqual(n1);
    const rel = Math.max(...n1.map((v, i) => Math.abs(v - w[i]) / Math.abs(v)));
    console.log(`native vs wasm, 30 steps: max relative loss difference ${rel.toExponential(2)}`);
    // Different kernels (AVX2/FMA vs SIMD128) round differently; 1e-4 after 30 Adam steps is float32 drift.
    expect(rel).toBeLessThan(1e-4);
  });
});

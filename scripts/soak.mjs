// scripts/soak: long-run memory on each backend. 10,000 training steps and 10,000 predict batches, then
// models created and disposed in a loop, then handles dropped without dispose() (the FinalizationRegistry
// path), sampling RSS, the wasm heap and live handles. Prints one JSON report; exits 1 when a figure drifts
// more than ±5% after warm-up (the first 10% of each phase) or handles are left live.
// Usage: node --expose-gc scripts/soak.mjs [--steps N] [--models N] [--backend native|wasm]
import { parseArgs } from 'node:util';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cs = await import(pathToFileURL(join(root, 'dist/index.js')).href);
const { values } = parseArgs({ options: { steps: { type: 'string', default: '10000' }, models: { type: 'string', default: '2000' }, backend: { type: 'string' } } });
const steps = Number(values.steps);
const models = Number(values.models);
const gc = globalThis.gc ?? (() => {});
const turn = () => new Promise((r) => setTimeout(r, 0));

const config = { input: { embedding: 16 }, vocabSize: 500, lstm: { hiddenSize: 32 }, output: { units: 1, activation: 'sigmoid' }, seed: 1 };
const B = 16;
const T = 20;
let s = 7;
const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
const batch = () => ({ data: Int32Array.from({ length: B * T }, () => Math.floor(rand() * 500)), shape: [B, T] });
const labels = () => Float32Array.from({ length: B }, () => (rand() > 0.5 ? 1 : 0));

async function sample(b) {
  gc();
  await turn();
  gc();
  return { rss: process.memoryUsage().rss, wasm: b.memoryBytes(), handles: cs.liveHandles() + cs.liveModelHandles() };
}
/** Runs `n` iterations of `body`, sampling 20 times; drift = change from the first sample after warm-up to the last. */
async function phase(name, b, n, body) {
  const samples = [];
  const every = Math.max(1, Math.floor(n / 20));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await body(i);
    if ((i + 1) % every === 0) samples.push(await sample(b));
  }
  const warm = samples[Math.max(0, Math.floor(samples.length / 10))];
  const last = samples[samples.length - 1];
  const drift = (k) => (warm[k] === null ? null : Number(((100 * (last[k] - warm[k])) / warm[k]).toFixed(2)));
  return {
    phase: name,
    iterations: n,
    seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    rssMB: [warm.rss, last.rss].map((v) => Number((v / 1e6).toFixed(1))),
    rssDriftPercent: drift('rss'),
    wasmMB: warm.wasm === null ? null : [warm.wasm, last.wasm].map((v) => Number((v / 1e6).toFixed(1))),
    wasmDriftPercent: drift('wasm'),
    liveHandlesAtEnd: last.handles,
  };
}

const report = [];
for (const name of values.backend ? [values.backend] : ['native', 'wasm']) {
  const b = await cs.loadBackend({ backend: name });
  const m = new cs.SequenceModel(config, { backend: b });
  const x = batch();
  const y = labels();
  report.push({ backend: name, ...(await phase('train steps', b, steps, () => m.trainBatch(x, y))) });
  report.push({ backend: name, ...(await phase('predict batches', b, steps, () => m.predict(x))) });
  m.dispose();
  report.push({ backend: name, ...(await phase('create + dispose', b, models, () => new cs.SequenceModel(config, { backend: b }).dispose())) });
  report.push({
    backend: name,
    ...(await phase('create, dropped without dispose', b, models, async (i) => {
      new cs.SequenceModel(config, { backend: b });
      if (i % 50 === 49) {
        gc();
        await turn();
      }
    })),
  });
}
process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
const bad = report.filter((r) => Math.abs(r.rssDriftPercent) > 5 || (r.wasmDriftPercent !== null && Math.abs(r.wasmDriftPercent) > 5) || r.liveHandlesAtEnd > 1);
if (bad.length) process.stderr.write(`drift beyond ±5% or live handles left: ${bad.map((r) => `${r.backend} ${r.phase}`).join(', ')}\n`);
process.exitCode = bad.length ? 1 : 0;

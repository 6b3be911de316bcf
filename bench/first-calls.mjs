// Time of each of the first calls on a fresh wasm worker pool and on a fresh main-thread model, each run in a new
// process (V8 shares compiled wasm code process-wide, so a second pool in one process is not fresh). Shows how
// long the slow start lasts (lazy compilation, Liftoff until tier-up, first-touch of grown memory) and what the
// pool's start costs. Runs alternate pool / main thread; medians per call index.
// Usage: node --experimental-wasm-relaxed-simd bench/first-calls.mjs [--config medium] [--workers 2]
//          [--calls 20] [--runs 5] [--features relaxed_simd|simd128] [--mode infer|train]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CONFIGS } from './lib/configs.mjs';
import { makeData, makeWeights } from './lib/data.mjs';
import { machineInfo } from './lib/machine.mjs';
import { summarize } from './lib/stats.mjs';

const { values: opts } = parseArgs({
  options: {
    config: { type: 'string', default: 'medium' },
    workers: { type: 'string', default: '2' },
    calls: { type: 'string', default: '20' },
    runs: { type: 'string', default: '5' },
    features: { type: 'string', default: 'relaxed_simd' },
    mode: { type: 'string', default: 'infer' },
    child: { type: 'string' },
  },
});
const cfg = CONFIGS[opts.config];
if (!cfg) throw new Error(`unknown config ${opts.config}; known: ${Object.keys(CONFIGS).join(', ')}`);
const calls = Number(opts.calls);

/** One fresh run in this process: 'pool' (createParallelModel) or 'main' (the model on this thread). */
async function child(where) {
  const cs = await import(new URL('../dist/index.js', import.meta.url).href);
  const data = makeData(cfg);
  const weights = makeWeights(cfg);
  const backend = await cs.loadBackend({ backend: 'wasm', wasmFeatures: opts.features });
  const ids = cfg.oneHot && opts.mode === 'train';
  const model = cs.sequenceClassifier(
    { input: ids ? 'one-hot' : { features: cfg.F }, vocabSize: ids ? cfg.F : undefined, lstm: { hiddenSize: cfg.H }, seed: 1 },
    { backend },
  );
  const sd = {};
  for (const [k, v] of Object.entries(weights)) {
    sd[`lstm.${k}`] = { data: v, shape: k.startsWith('bias') ? [4 * cfg.H] : [4 * cfg.H, k.includes('ih') ? cfg.F : cfg.H] };
  }
  model.loadStateDict(sd, { strict: false });
  model.setOptimizer({ type: 'adam', lr: 1e-3 });
  const x = ids ? { data: data.ids, shape: [cfg.B, cfg.T] } : { data: data.x, shape: [cfg.B, cfg.T, cfg.F] };
  let start = performance.now();
  const run =
    where === 'pool' ? await cs.createParallelModel(model, { workers: Number(opts.workers), wasmFeatures: opts.features }) : model;
  const startMs = performance.now() - start;
  const times = [];
  for (let i = 0; i < calls; i++) {
    start = performance.now();
    await (opts.mode === 'train' ? run.trainBatch(x, data.y) : run.predict(x));
    times.push(performance.now() - start);
  }
  if (where === 'pool') await run.dispose();
  process.stdout.write(`${JSON.stringify({ startMs, times, kernels: backend.kernels })}\n`);
  process.exit(0);
}

if (opts.child) {
  await child(opts.child);
} else {
  const self = fileURLToPath(import.meta.url);
  const rows = { pool: [], main: [] };
  for (let r = 0; r < Number(opts.runs); r++) {
    for (const where of ['pool', 'main']) {
      const args = [...process.execArgv, self, ...process.argv.slice(2), '--child', where];
      rows[where].push(JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' }).trim().split('\n').pop()));
    }
  }
  const m = machineInfo();
  const med = (v) => summarize(v).median;
  console.log(
    `${m.cpuModel}, ${m.cores} cores, node ${process.versions.node}, wasm ${rows.pool[0].kernels}; ${opts.config} ${opts.mode}, ` +
      `${opts.workers} workers against the main thread, ${opts.runs} fresh processes each, medians (ms)`,
  );
  for (const [where, rs] of Object.entries(rows)) {
    const per = Array.from({ length: calls }, (_, i) => med(rs.map((r) => r.times[i])));
    const start = where === 'pool' ? `pool start ${med(rs.map((r) => r.startMs)).toFixed(0)}, ` : '';
    const steady = med(per.slice(Math.floor(calls / 2)));
    console.log(
      `${where.padEnd(4)}: ${start}call 1 ${per[0].toFixed(0)} (${(per[0] / steady).toFixed(1)}x the second half's median ${steady.toFixed(1)}); ` +
        `calls ${per.map((t) => t.toFixed(0)).join(' ')}`,
    );
  }
}

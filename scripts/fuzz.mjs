// scripts/fuzz: runs the fuzz targets of test/fuzz/targets.ts, each in a worker thread with a memory limit
// and a watchdog, and saves every input that hangs, runs out of memory, traps or throws an untyped error as
// a reproducer in test/fuzz/corpus/<target>/ (replayed by test/fuzz/fuzz.test.ts as a regression test).
// Usage: scripts/fuzz [--target T[,T...]] [--inputs N | --seconds S] [--seed N] [--timeout-ms N] [--memory-mb N]
//   --inputs N   inputs per target (default 1000); --seconds S: a total time budget split across targets.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    inputs: { type: 'string' },
    seconds: { type: 'string' },
    seed: { type: 'string', default: String(Date.now() % 1e9) },
    'timeout-ms': { type: 'string', default: '10000' },
    'memory-mb': { type: 'string', default: '1024' },
  },
});
const seed = Number(values.seed);
const timeoutMs = Number(values['timeout-ms']);
const memoryMb = Number(values['memory-mb']);

// Bundle under node_modules/.cache so the bundle resolves fast-check and fflate from the repository.
const out = join(root, 'node_modules/.cache/cellstate-fuzz');
await build({
  entryPoints: { worker: join(root, 'test/fuzz/worker.ts'), targets: join(root, 'test/fuzz/targets.ts') },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: out,
  outExtension: { '.js': '.mjs' },
  packages: 'external',
  logLevel: 'error',
});
process.env.CELLSTATE_ROOT = root;
process.env.CELLSTATE_WASM_PATH ??= join(root, 'dist/cellstate_wasm_bg.wasm');
const { nativeFileName } = await import(pathToFileURL(join(root, 'dist/index.js')).href);
process.env.CELLSTATE_NATIVE_PATH ??= join(root, 'dist/native', nativeFileName());
const { targets, fuzzEnv } = await import(pathToFileURL(join(out, 'targets.mjs')).href);
const fc = (await import('fast-check')).default;

const chosen = values.target ? values.target.split(',') : targets.map((t) => t.name);
for (const n of chosen) if (!targets.some((t) => t.name === n)) throw new Error(`unknown target ${n}; targets: ${targets.map((t) => t.name).join(', ')}`);
const perTargetMs = values.seconds ? (Number(values.seconds) * 1000) / chosen.length : Infinity;
const inputs = values.inputs ? Number(values.inputs) : values.seconds ? Infinity : 1000;
const env = await fuzzEnv();

/** Saves input seed + k of target t as a reproducer; returns its path. */
function save(t, k, why) {
  const dir = join(root, 'test/fuzz/corpus', t.name);
  mkdirSync(dir, { recursive: true });
  const input = fc.sample(t.arbitrary(env), { seed: seed + k, numRuns: 1 })[0];
  const path = join(dir, `${why}-${seed}-${k}.txt`);
  writeFileSync(path, t.encode(input));
  return path;
}

/** Runs inputs [from, to) of a target in one worker; resolves with where it stopped and why. */
function runWorker(t, from, to, deadline, findings) {
  return new Promise((resolve) => {
    const progress = new SharedArrayBuffer(12);
    const slot = new Int32Array(progress);
    slot[0] = from;
    slot[2] = from;
    const w = new Worker(join(out, 'worker.mjs'), {
      workerData: { target: t.name, seed, from, to, deadline, progress },
      resourceLimits: { maxOldGenerationSizeMb: memoryMb },
      env: process.env,
    });
    let last = from;
    let since = Date.now();
    let settled = false;
    const finish = (r) => {
      if (settled) return;
      settled = true;
      clearInterval(dog);
      resolve(r);
    };
    const dog = setInterval(() => {
      const k = Atomics.load(slot, 0);
      if (k !== last) {
        last = k;
        since = Date.now();
      } else if (Date.now() - since > timeoutMs) {
        findings.push({ k, why: 'hang', path: save(t, k, 'hang') });
        void w.terminate();
        finish({ next: k + 1, reached: k + 1 });
      }
    }, 50);
    w.on('message', (m) => {
      if (m.kind === 'finding') findings.push({ k: m.k, why: 'untyped', error: m.error.split('\n')[0], path: save(t, m.k, 'untyped') });
      if (m.kind === 'done') finish({ next: Infinity, reached: Atomics.load(slot, 2) });
    });
    w.on('error', (e) => {
      const k = Atomics.load(slot, 0);
      findings.push({ k, why: 'crash', error: String(e.message), path: save(t, k, /memory/i.test(e.message) ? 'oom' : 'crash') });
      finish({ next: k + 1, reached: k + 1 });
    });
    w.on('exit', () => finish({ next: Atomics.load(slot, 1) ? Infinity : Atomics.load(slot, 0) + 1, reached: Atomics.load(slot, 0) + 1 }));
  });
}

const report = [];
for (const name of chosen) {
  const t = targets.find((x) => x.name === name);
  const start = Date.now();
  const deadline = start + perTargetMs;
  const findings = [];
  let k = 0;
  let ran = 0;
  while (k < inputs && Date.now() < deadline) {
    const r = await runWorker(t, k, inputs, deadline, findings);
    ran = r.reached;
    if (r.next === Infinity) break;
    k = r.next;
  }
  const seconds = (Date.now() - start) / 1000;
  const rate = ran / Math.max(seconds, 1e-9);
  report.push({ target: name, seed, inputs: ran, seconds: Number(seconds.toFixed(1)), inputsPerSecond: Math.round(rate), findings: findings.length, details: findings });
  process.stderr.write(`${name}: ${ran} inputs in ${seconds.toFixed(1)} s (${Math.round(rate)}/s), ${findings.length} findings\n`);
}
process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
process.exitCode = report.some((r) => r.findings > 0) ? 1 : 0;

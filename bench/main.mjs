// `npm run bench`: cellstate against its peers on fixed, named configurations, every job in its own
// process. See bench/README.md (usage) and bench/SCHEMA.md (the JSON written).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CONFIGS } from './lib/configs.mjs';
import { machineInfo, machineSlug } from './lib/machine.mjs';
import { report, markdownTable } from './lib/report.mjs';
import { chartSvg } from './lib/chart.mjs';
import { pairJobs, pairList, pairStats, pairsMarkdown, roundOrder } from './lib/pairs.mjs';

export const SCHEMA = 'cellstate-bench';
export const SCHEMA_VERSION = 1;

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

const { values: opts } = parseArgs({
  options: {
    config: { type: 'string', multiple: true },
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    'no-save': { type: 'boolean', default: false },
    'with-torch': { type: 'boolean', default: false },
    engines: { type: 'string' },
    pairs: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opts.help) {
  console.log(`usage: bench/run [--config seed|medium|large|imdb ...] [--quick] [--json FILE] [--no-save]
  --config   run only these configurations (repeat or comma-separate); default all
  --quick    seconds per job instead of a budget (for CI); default configs: seed, imdb (640 reviews)
  --json     also write the results (schema ${SCHEMA} v${SCHEMA_VERSION}, bench/SCHEMA.md) to FILE
  --no-save  do not write bench/results/ or the README table (full runs write both)
  --engines  only these engines (comma-separated: cellstate,onnxruntime,pytorch,tfjs,brain); default all
  --pairs    the goal ratios side by side instead of the table: every round times each job of a config
             once (order reversed every other round), a ratio is the median of the per-round ratios;
             writes bench/results/<date>_<machine>-pairs.{json,md}; default configs seed, medium, large
  --rounds   rounds of --pairs (default 5, --quick 1)
  --with-torch  include PyTorch from the venv ~/.cache/cellstate/torch-venv (bench/run creates it once:
             python3 -m venv DIR && DIR/bin/pip install torch numpy); or name a python in CELLSTATE_TORCH_PYTHON.
             Without either, a full run tries python3 and a --quick run skips PyTorch.`);
  process.exit(0);
}

const quick = opts.quick;
const ENGINES = ['cellstate', 'onnxruntime', 'pytorch', 'tfjs', 'brain'];
const engines = new Set(opts.engines ? opts.engines.split(',') : ENGINES);
for (const e of engines) {
  if (!ENGINES.includes(e)) {
    console.error(`unknown engine ${e}; known: ${ENGINES.join(', ')}`);
    process.exit(2);
  }
}
const pairsRun = opts.pairs;
const defaultConfigs = pairsRun ? ['seed', 'medium', 'large'] : quick ? ['seed', 'imdb'] : ['seed', 'medium', 'large', 'imdb'];
const wanted = (opts.config ?? defaultConfigs).flatMap((c) => c.split(','));
for (const c of wanted) {
  if (!CONFIGS[c] && c !== 'imdb') {
    console.error(`unknown config ${c}; known: ${[...Object.keys(CONFIGS), 'imdb'].join(', ')}`);
    process.exit(2);
  }
}
if (pairsRun && wanted.includes('imdb')) {
  console.error('--pairs runs the seed, medium and large configs; imdb is one epoch of the full run');
  process.exit(2);
}
const rounds = Number(opts.rounds ?? (quick ? 1 : 5));
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`--rounds must be a whole number ≥ 1, got ${opts.rounds}`);
  process.exit(2);
}
// --pairs: shorter jobs, as every job runs once a round.
const budgetS = quick ? 0.6 : pairsRun ? 2 : 5;
const repeats = quick ? 3 : pairsRun ? 5 : 7;
const jobTimeoutS = quick ? 60 : 300;
const machine = machineInfo();
const cores = machine.cores;
const startedAt = new Date();
const results = [];
const log = (s) => process.stderr.write(`${s}\n`);

/** Runs one child process and returns its `@@RESULT` objects (or one failure describing why). */
function runChild(cmd, args, { env = {}, timeoutS = jobTimeoutS, describe }) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutS * 1000);
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve([{ ...describe, status: 'failed', error: `could not start ${cmd}: ${e.message}` }]);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const found = out
        .split('\n')
        .filter((l) => l.startsWith('@@RESULT '))
        .map((l) => JSON.parse(l.slice(9)));
      if (found.length) return resolve(found);
      // The last lines of stderr that say something (tfjs prints a banner about tfjs-node there).
      const tail = err
        .trim()
        .split('\n')
        .filter((l) => l.trim() && !/^=+$|looks like you are running TensorFlow\.js in Node/.test(l.trim()))
        .slice(-4)
        .join(' | ')
        .slice(0, 600);
      const why = timedOut ? `timed out after ${timeoutS} s` : `exited with ${signal ?? `code ${code}`}`;
      resolve([{ ...describe, status: 'failed', error: `${why}${tail ? `: ${tail}` : ''}` }]);
    });
  });
}

async function job(spec, { env, nodeFlags = [] } = {}) {
  const full = { budgetS, repeats, quick, ...spec };
  const [r] = await runChild(process.execPath, [...nodeFlags, join(here, 'worker.mjs'), JSON.stringify(full)], { env, describe: full });
  const line = r.status === 'ok' ? `${r.samplesPerSecond.toFixed(1)} samples/s` : r.status === 'reference' ? 'stored' : `FAILED ${r.error}`;
  log(`  ${spec.config} ${spec.mode} ${spec.engine}/${spec.variant}${spec.threads ? ` ${spec.threads}t` : ''}: ${line}`);
  return r;
}

function skipped(spec, why) {
  log(`  ${spec.config} ${spec.mode} ${spec.engine}/${spec.variant}: skipped (${why})`);
  return { ...spec, status: 'skipped', why };
}

// --- optional peers, probed once ------------------------------------------------------------------
const peersDir = join(here, 'node_modules');
function peerInstalled(name) {
  return existsSync(join(peersDir, name, 'package.json'))
    ? null
    : `${name} is not installed in bench/node_modules (run bench/run, which runs npm ci)`;
}
// PyTorch: the python bench/run set up for --with-torch (or the one CELLSTATE_TORCH_PYTHON names), else
// python3 on full runs; CI's --quick runs stay torch-free unless asked.
const torchPython = process.env.CELLSTATE_TORCH_PYTHON || 'python3';
const torchWanted = opts['with-torch'] || Boolean(process.env.CELLSTATE_TORCH_PYTHON) || !quick;
const torchProbe = torchWanted ? spawnSync(torchPython, ['-c', 'import torch, sys; print(torch.__version__)'], { encoding: 'utf8' }) : null;
const torchWhy = !torchWanted
  ? 'quick run: PyTorch only with --with-torch or CELLSTATE_TORCH_PYTHON'
  : torchProbe.error
    ? `${torchPython} not found: ${torchProbe.error.message}`
    : torchProbe.status !== 0
      ? `${torchPython} cannot import torch: ${torchProbe.stderr.trim().split('\n').at(-1)}`
      : null;
const relaxedBuild = readdirSync(join(root, 'dist')).find((f) => /relaxed.*\.wasm$/.test(f));
const threadsBuild = readdirSync(join(root, 'dist')).includes('cellstate_wasm_threads_bg.wasm');

/** The scalar kernels' results for the check rows of one config, one file per mode (`undefined` on failure). */
async function references(name) {
  const refs = {};
  for (const mode of ['infer', 'train']) {
    const path = join(tmpdir(), `cellstate-bench-ref-${process.pid}-${name}-${mode}.bin`);
    const r = await job(
      { engine: 'cellstate', variant: 'reference', mode, config: name, reference: path },
      { env: { CELLSTATE_KERNELS: 'scalar' } },
    );
    refs[mode] = r.status === 'reference' ? path : undefined;
    if (!refs[mode]) results.push({ ...r, config: name, mode, engine: 'cellstate', variant: 'reference' });
  }
  return refs;
}

/** One PyTorch job (bench/torch_peer.py), or its skip when no python imports torch. */
async function torchJob(spec) {
  if (torchWhy) return skipped(spec, torchWhy);
  const [r] = await runChild(torchPython, [join(here, 'torch_peer.py'), JSON.stringify(spec)], { describe: spec });
  log(
    `  ${spec.config} ${spec.mode} pytorch ${spec.threads}t: ${r.status === 'ok' ? `${r.samplesPerSecond.toFixed(1)} samples/s` : `FAILED ${r.error}`}`,
  );
  return r;
}

async function runConfig(name) {
  const cfg = CONFIGS[name];
  log(`\n${name}: B ${cfg.B}, T ${cfg.T}, ${cfg.oneHot ? 'one-hot ' : 'F '}${cfg.F}, H ${cfg.H}`);
  const refs = await references(name);
  const modes = ['train', 'infer'];
  for (const mode of modes) {
    for (const [variant, threads] of [['native', 1], ...(cores > 1 ? [['native', cores]] : []), ['wasm', 1]]) {
      results.push(await job({ engine: 'cellstate', variant, mode, config: name, threads, referencePath: refs[mode] }));
    }
    const relaxedFlags = { nodeFlags: ['--experimental-wasm-relaxed-simd'] };
    if (relaxedBuild)
      results.push(
        await job(
          { engine: 'cellstate', variant: 'wasm-relaxed', mode, config: name, threads: 1, referencePath: refs[mode] },
          relaxedFlags,
        ),
      );
    else
      results.push(skipped({ engine: 'cellstate', variant: 'wasm-relaxed', mode, config: name }, 'dist/ has no relaxed-SIMD wasm build'));
    // Data-parallel wasm (engines/cellstate-parallel.mjs): one worker_thread per core, each its own wasm instance.
    if (cores > 1) {
      for (const variant of [`wasm-${cores}w`, ...(relaxedBuild ? [`wasm-relaxed-${cores}w`] : [])]) {
        results.push(await job({ engine: 'cellstate-parallel', variant, mode, config: name, threads: cores }, relaxedFlags));
      }
      // The threads build: one instance on a shared memory, its pool's workers splitting each call as native does.
      const spec = { engine: 'cellstate', variant: 'wasm-threads', mode, config: name, threads: cores, referencePath: refs[mode] };
      results.push(threadsBuild ? await job(spec, relaxedFlags) : skipped(spec, 'dist/ has no wasm threads build'));
    }
  }
  const tfWhy = peerInstalled('@tensorflow/tfjs');
  for (const mode of engines.has('tfjs') ? modes : []) {
    for (const variant of quick ? ['cpu', 'wasm'] : ['cpu', 'wasm', 'wasm-malloc']) {
      const spec = { engine: 'tfjs', variant, mode, config: name, threads: 1, referencePath: refs.infer };
      if (tfWhy || (variant !== 'cpu' && peerInstalled('@tensorflow/tfjs-backend-wasm'))) {
        results.push(skipped(spec, tfWhy ?? peerInstalled('@tensorflow/tfjs-backend-wasm')));
        continue;
      }
      // glibc malloc returns freed memory to the OS at once unless told otherwise; tfjs-backend-wasm then
      // spends its time in page faults. 'wasm' is what a user gets; 'wasm-malloc' raises both thresholds.
      const env = variant === 'wasm-malloc' ? { MALLOC_TRIM_THRESHOLD_: String(2 ** 30), MALLOC_TOP_PAD_: String(2 ** 30) } : {};
      let r = await job(spec, { env });
      if (r.status === 'failed' && variant !== 'cpu' && cfg.B > 8) {
        // tfjs-backend-wasm training at large shapes exhausts its 4 GB of wasm memory: record that, then B 8.
        results.push(r);
        r = await job({ ...spec, batch: 8 }, { env });
        r.notes = [...(r.notes ?? []), `batch ${cfg.B} failed (see the entry before); measured at batch 8`];
      }
      results.push(r);
    }
    results.push(
      skipped(
        { engine: 'tfjs', variant: 'node', mode, config: name },
        '@tensorflow/tfjs-node is unavailable: its install script downloads libtensorflow, which cannot be fetched here',
      ),
    );
  }
  for (const variant of engines.has('onnxruntime') ? ['node', 'web'] : []) {
    const pkg = `onnxruntime-${variant}`;
    for (const threads of [...new Set([1, cores])]) {
      const spec = { engine: 'onnxruntime', variant, mode: 'infer', config: name, threads, referencePath: refs.infer };
      results.push(peerInstalled(pkg) ? skipped(spec, peerInstalled(pkg)) : await job(spec));
    }
  }
  for (const mode of engines.has('brain') ? modes : []) {
    const spec = { engine: 'brain', variant: 'js', mode, config: name, threads: 1 };
    results.push(peerInstalled('brain.js') ? skipped(spec, peerInstalled('brain.js')) : await job(spec));
  }
  for (const mode of engines.has('pytorch') ? modes : []) {
    for (const threads of [...new Set([1, cores])]) {
      results.push(
        await torchJob({ engine: 'pytorch', variant: 'cpu', mode, config: name, threads, budgetS, repeats, referencePath: refs.infer }),
      );
    }
  }
}

/** Why a `pairJobs` job cannot run here, or null. */
function pairSkip(spec) {
  const engine = spec.engine === 'cellstate-parallel' ? 'cellstate' : spec.engine;
  if (!engines.has(engine)) return `--engines leaves out ${engine}`;
  if (spec.engine === 'onnxruntime') return peerInstalled(`onnxruntime-${spec.variant}`);
  if (spec.engine === 'pytorch') return torchWhy;
  if (/relaxed/.test(spec.variant) && !relaxedBuild) return 'dist/ has no relaxed-SIMD wasm build';
  if (spec.variant === 'wasm-threads' && !threadsBuild) return 'dist/ has no wasm threads build';
  return null;
}

/** `--pairs` on one config: `rounds` rounds of every job of each mode, then the per-round ratios. */
async function runPairs(name) {
  const cfg = CONFIGS[name];
  log(`\n${name} pairs: B ${cfg.B}, T ${cfg.T}, ${cfg.oneHot ? 'one-hot ' : 'F '}${cfg.F}, H ${cfg.H}, ${rounds} rounds`);
  const refs = await references(name);
  const relaxedFlags = { nodeFlags: ['--experimental-wasm-relaxed-simd'] };
  const out = [];
  for (const mode of ['infer', 'train']) {
    const jobs = pairJobs(mode, cores);
    const skips = {};
    for (const [key, j] of Object.entries(jobs)) {
      const why = pairSkip(j);
      if (why) {
        skips[key] = why;
        results.push(skipped({ ...j, mode, config: name }, why));
      }
    }
    const keys = Object.keys(jobs).filter((k) => !skips[k]);
    const rates = [];
    for (let round = 0; round < rounds; round++) {
      log(` round ${round + 1}/${rounds}, ${mode}`);
      const got = {};
      for (const key of roundOrder(keys, round)) {
        const spec = { ...jobs[key], mode, config: name, referencePath: refs[mode], round };
        const r =
          spec.engine === 'pytorch'
            ? await torchJob({ ...spec, budgetS, repeats, referencePath: refs.infer })
            : await job(spec, spec.engine === 'cellstate' && spec.variant === 'native' ? {} : relaxedFlags);
        results.push(r);
        if (r.status === 'ok') got[key] = r.samplesPerSecond;
      }
      rates.push(got);
    }
    for (const pair of pairList(mode, cores)) {
      if (!jobs[pair.a] || !jobs[pair.b]) continue;
      const p = { mode, ...pairStats(rates, pair, name) };
      out.push(p);
      const range = p.median == null ? 'not measured' : `${p.median.toFixed(2)}× [${p.min.toFixed(2)}, ${p.max.toFixed(2)}]`;
      log(`  ${name} ${mode} ${p.what}: ${range}${p.goal ? ` (goal ≥ ${p.goal}×)` : ''}`);
    }
  }
  return out;
}

async function runImdb() {
  const reviews = quick ? 640 : 15000;
  log(`\nimdb: one epoch of the seed job, ${reviews} reviews`);
  // wasm: SIMD128 and relaxed SIMD on the main thread, and over one wasm worker per core (createParallelModel).
  const wasm = [
    ['wasm', 1],
    ...(relaxedBuild ? [['wasm-relaxed', 1]] : []),
    ...(cores > 1 ? [[`wasm-${cores}w`, cores], ...(relaxedBuild ? [[`wasm-relaxed-${cores}w`, cores]] : [])] : []),
    ...(cores > 1 && threadsBuild ? [['wasm-threads', cores]] : []),
  ];
  for (const [variant, threads] of [['native', 1], ...(cores > 1 ? [['native', cores]] : []), ...wasm]) {
    const spec = { engine: 'cellstate', config: 'imdb', mode: 'train', variant, threads, reviews };
    const [r] = await runChild(
      process.execPath,
      [...(/relaxed|threads/.test(variant) ? ['--experimental-wasm-relaxed-simd'] : []), join(here, 'imdb.mjs'), JSON.stringify(spec)],
      {
        describe: spec,
        timeoutS: quick ? 60 : 600,
      },
    );
    log(
      `  imdb cellstate/${variant} ${threads}t: ${r.status === 'ok' ? `${r.seconds.toFixed(1)} s (${r.samplesPerSecond.toFixed(0)} reviews/s)` : `FAILED ${r.error}`}`,
    );
    results.push(r);
  }
}

async function runCeilings() {
  log('\nceilings (one thread)');
  const seconds = quick ? 0.3 : 2;
  const out = [];
  const wasmCeiling = join(here, 'ceilings', 'wasm.mjs');
  out.push(...(await runChild(process.execPath, [wasmCeiling, 'simd128', String(seconds)], { describe: { kind: 'simd128' } })));
  let [relaxed] = await runChild(process.execPath, [wasmCeiling, 'relaxed', String(seconds)], { describe: { kind: 'relaxed' } });
  if (relaxed.status !== 'ok') {
    const [flagged] = await runChild(process.execPath, ['--experimental-wasm-relaxed-simd', wasmCeiling, 'relaxed', String(seconds)], {
      describe: { kind: 'relaxed' },
    });
    if (flagged.status === 'ok') relaxed = { ...flagged, flags: '--experimental-wasm-relaxed-simd' };
  }
  out.push(relaxed);
  if (process.arch !== 'x64') {
    out.push({
      kind: 'native-fma',
      status: 'skipped',
      why: `the native ceiling is written for x86-64 (AVX2/AVX-512), this is ${process.arch}`,
    });
  } else {
    const exe = join(tmpdir(), `cellstate-bench-fma-${process.pid}`);
    const cc = spawnSync(process.env.CC ?? 'cc', ['-O3', '-o', exe, join(here, 'ceilings', 'fma.c')], { encoding: 'utf8' });
    if (cc.error || cc.status !== 0) {
      const why = cc.error
        ? `no C compiler (${process.env.CC ?? 'cc'}): ${cc.error.message}`
        : `cc failed: ${cc.stderr.trim().split('\n').slice(-2).join(' | ')}`;
      out.push({ kind: 'avx2-fma', status: 'skipped', why }, { kind: 'avx512-fma', status: 'skipped', why });
    } else {
      out.push(...(await runChild(exe, [String(seconds)], { describe: { kind: 'native-fma' } })));
    }
  }
  for (const c of out)
    log(
      `  ${c.kind}: ${c.status === 'ok' ? `${c.gflops.toFixed(1)} GFLOP/s${c.flags ? ` (${c.flags})` : ''}` : `${c.status}: ${c.why ?? c.error}`}`,
    );
  return out;
}

function gitCommit() {
  const r = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' });
  const d = spawnSync('git', ['status', '--porcelain', '--', 'crates', 'ts'], { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? { commit: r.stdout.trim(), dirty: d.stdout.trim().length > 0 } : { commit: null, dirty: null };
}

log(
  `cellstate bench (${quick ? 'quick' : 'full'}): ${machine.cpuModel}, ${cores} cores, [${machine.cpuFeatures.join(' ')}], node ${machine.node}`,
);
log('Note: timings on a shared or busy machine are noisy; medians are quoted, spreads are in the JSON.');
const ceilings = await runCeilings();
const pairs = [];
for (const c of wanted) {
  if (pairsRun) pairs.push(...(await runPairs(c)));
  else if (c === 'imdb') await runImdb();
  else await runConfig(c);
}
const finishedAt = new Date();
const doc = {
  schema: SCHEMA,
  schemaVersion: SCHEMA_VERSION,
  startedAt: startedAt.toISOString(),
  finishedAt: finishedAt.toISOString(),
  command: `bench/run ${process.argv.slice(2).join(' ')}`.trim(),
  quick,
  budgetSeconds: budgetS,
  machine,
  runtime: { name: 'node', version: process.versions.node, v8: process.versions.v8 },
  cellstate: { version: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version, ...gitCommit() },
  flops: {
    forward: '2*T*4H*(F+H) per sample (the gate products; pointwise work not counted)',
    train: '3 * forward per sample (backward = 2 * forward: dx/dh products and weight gradients); head, loss and optimiser not counted',
  },
  configs: Object.fromEntries(wanted.filter((c) => CONFIGS[c]).map((c) => [c, CONFIGS[c]])),
  ceilings,
  results,
  ...(pairsRun ? { rounds, pairs } : {}),
};
const text = pairsRun ? `\n${pairsMarkdown(doc)}\n` : report(doc);
process.stdout.write(text);
if (opts.json) writeFileSync(opts.json, `${JSON.stringify(doc, null, 2)}\n`);
if (pairsRun && !quick && !opts['no-save']) {
  const dir = join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const base = `${startedAt.toISOString().slice(0, 10)}_${machineSlug(machine)}-pairs`;
  writeFileSync(join(dir, `${base}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(join(dir, `${base}.md`), `${pairsMarkdown(doc)}\n`);
  log(`\nwrote bench/results/${base}.{json,md}`);
} else if (pairsRun) {
  log('\n(quick or --no-save: nothing written to bench/results/)');
} else if (!quick && !opts['no-save']) {
  const dir = join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const base = `${startedAt.toISOString().slice(0, 10)}_${machineSlug(machine)}`;
  writeFileSync(join(dir, `${base}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(join(dir, `${base}.svg`), chartSvg(doc));
  const md = markdownTable(doc, `results/${base}.svg`);
  writeFileSync(join(dir, `${base}.md`), md);
  const readme = join(here, 'README.md');
  if (existsSync(readme)) {
    const s = readFileSync(readme, 'utf8');
    const re = /<!-- results:start -->[\s\S]*<!-- results:end -->/;
    if (re.test(s)) writeFileSync(readme, s.replace(re, `<!-- results:start -->\n${md}\n<!-- results:end -->`));
  }
  log(`\nwrote bench/results/${base}.{json,svg,md}`);
} else if (quick) {
  log('\n(quick run: nothing written to bench/results/)');
}

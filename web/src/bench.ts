// The benchmark page: plans the jobs of bench/README.md for this browser, runs each in a fresh worker
// (bench-worker.ts), fills the table and chart as results arrive, and builds the cellstate-bench v1 document.
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import tfjsWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import tfjsSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import tfjsThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { CONFIGS } from '../../bench/lib/configs.mjs';
import { type BrowserEnv, browserEnv } from './bench-env';
import type { BenchResult, Job, Reference, Urls, WorkerMessage, WorkerRequest } from './bench/types';
import { Chart, barChartHeight, decades, frameUpdater, wrappedTicks } from './charts';
import { SCHEMA, SCHEMA_VERSION, type BenchDocument } from './schema';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const base = new URL('./', document.baseURI);
const abs = (u: string) => new URL(u, document.baseURI).href;

type ConfigName = Job['config'];
let env: BrowserEnv;
let wasmFiles: string[] = [];
let urls: Urls;
let current: Worker | null = null;
let stopped = false;
let doc: BenchDocument | null = null;
const results: BenchResult[] = [];
const probe = { done: false, doc: null as BenchDocument | null };
(window as unknown as { cellstateBench: typeof probe }).cellstateBench = probe;

/** Runs one request in a fresh worker; a job that outlives `timeoutS` is ended and reported as timed out. */
function inWorker(request: WorkerRequest, timeoutS: number): Promise<WorkerMessage> {
  return new Promise((resolve) => {
    const w = new Worker(new URL('./bench-worker.ts', import.meta.url), { type: 'module', name: `bench-${request.type}` });
    current = w;
    const end = (m: WorkerMessage) => {
      clearTimeout(timer);
      w.terminate();
      if (current === w) current = null;
      resolve(m);
    };
    const timer = setTimeout(() => end({ type: 'error', message: `timed out after ${timeoutS} s` }), timeoutS * 1000);
    w.onmessage = (e: MessageEvent<WorkerMessage>) => end(e.data);
    w.onerror = (e) => end({ type: 'error', message: e.message || 'the worker failed to start' });
    (w as Worker & { stop?: () => void }).stop = () => end({ type: 'error', message: 'stopped' });
    w.postMessage(request);
  });
}

// ---- environment ----------------------------------------------------------------------------------------

function showEnv(): void {
  const items: [string, string][] = [
    ['Browser', env.browser],
    ['CPU cores', env.cores === null ? 'unknown' : String(env.cores)],
    ['SIMD128', env.simd128 ? 'yes' : 'no'],
    ['Relaxed SIMD', env.relaxedSimd ? 'yes' : 'no'],
    ['Cross-origin isolated', env.crossOriginIsolated ? 'yes (threads allowed)' : 'no (one thread per engine)'],
    ['cellstate .wasm', wasmFiles.join(', ') || 'none found'],
  ];
  $('env').replaceChildren(
    ...items.map(([k, v]) => {
      const d = document.createElement('div');
      const dt = document.createElement('dt');
      const dd = document.createElement('dd');
      dt.textContent = k;
      dd.textContent = v;
      d.append(dt, dd);
      return d;
    }),
  );
}

// ---- plan -----------------------------------------------------------------------------------------------

type Planned = { job: Job } | { skipped: BenchResult };

function plan(quick: boolean, engines: Set<string>): { configs: ConfigName[]; items: Map<ConfigName, Planned[]> } {
  const configs: ConfigName[] = quick ? ['seed'] : ['seed', 'medium', 'large'];
  const budgetS = quick ? 0.6 : 5;
  const repeats = quick ? 3 : 7;
  const cores = env.cores ?? 1;
  const items = new Map<ConfigName, Planned[]>();
  for (const config of configs) {
    const list: Planned[] = [];
    const job = (j: Omit<Job, 'config' | 'budgetS' | 'repeats' | 'quick'>): Planned => ({ job: { config, budgetS, repeats, quick, ...j } });
    const skip = (mode: string, engine: string, variant: string, threads: number | null, why: string): Planned => ({
      skipped: { config, mode, engine, variant, threads, status: 'skipped', why },
    });
    for (const mode of ['train', 'infer'] as const) {
      if (engines.has('cellstate')) {
        const threadsFile = wasmFiles.find((f) => /threads/.test(f));
        for (const f of wasmFiles.filter((name) => name !== threadsFile)) {
          const relaxed = /relaxed/.test(f);
          if (relaxed && !env.relaxedSimd) list.push(skip(mode, 'cellstate', 'wasm-relaxed', 1, `${f}: this browser has no relaxed SIMD`));
          else list.push(job({ mode, engine: 'cellstate', variant: relaxed ? 'wasm-relaxed' : 'wasm', threads: 1, wasmFile: f }));
        }
        if (!wasmFiles.some((f) => /relaxed/.test(f))) {
          list.push(skip(mode, 'cellstate', 'wasm-relaxed', 1, 'this build has no relaxed-SIMD .wasm (cellstate_wasm_relaxed_bg.wasm)'));
        }
        // All cores: the data-parallel engine, one wasm worker per core, on the fastest build this browser runs.
        const best = wasmFiles.find((f) => /relaxed/.test(f) && env.relaxedSimd) ?? wasmFiles.find((f) => !/relaxed/.test(f));
        if (cores < 2) list.push(skip(mode, 'cellstate', 'all-cores', cores, 'one core'));
        else if (best) list.push(job({ mode, engine: 'cellstate', variant: 'all-cores', threads: cores, wasmFile: best }));
        // All cores on the threads build: one instance on a shared memory, its pool's workers splitting each call.
        const threadsWhy = !threadsFile
          ? 'this build has no threads .wasm (cellstate_wasm_threads_bg.wasm)'
          : cores < 2
            ? 'one core'
            : !env.crossOriginIsolated
              ? 'the page is not cross-origin isolated: no shared memory'
              : !env.relaxedSimd
                ? 'the threads build needs relaxed SIMD'
                : '';
        if (threadsWhy) list.push(skip(mode, 'cellstate', 'threads', cores, threadsWhy));
        else list.push(job({ mode, engine: 'cellstate', variant: 'threads', threads: cores, wasmFile: threadsFile }));
      }
      if (engines.has('tfjs')) {
        list.push(job({ mode, engine: 'tfjs', variant: 'cpu', threads: 1 }));
        list.push(job({ mode, engine: 'tfjs', variant: 'wasm', threads: 1 }));
      }
      if (engines.has('onnxruntime') && mode === 'infer') {
        list.push(job({ mode, engine: 'onnxruntime', variant: 'web', threads: 1 }));
        if (cores > 1 && env.crossOriginIsolated) list.push(job({ mode, engine: 'onnxruntime', variant: 'web', threads: cores }));
        else
          list.push(
            skip(mode, 'onnxruntime', 'web', cores, cores > 1 ? 'the page is not cross-origin isolated: no wasm threads' : 'one core'),
          );
      }
    }
    items.set(config, list);
  }
  return { configs, items };
}

// ---- table and chart ------------------------------------------------------------------------------------

const num = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en') : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const rowName = (r: BenchResult) =>
  r.engine === 'onnxruntime'
    ? `onnxruntime-web ${r.threads ?? '?'}t`
    : `${r.engine} ${r.engine === 'cellstate' ? `${r.variant}${r.kernels ? ` (${String(r.kernels)})` : ''}` : r.variant} ${r.threads ?? '?'}t`;

function cellstateRate(r: BenchResult): number | null {
  const cs = results.find(
    (x) => x.engine === 'cellstate' && x.variant === 'wasm' && x.config === r.config && x.mode === r.mode && x.status === 'ok',
  );
  return cs ? (cs.samplesPerSecond as number) : null;
}

const chart = new Chart<'bar', number[], string[]>($<HTMLCanvasElement>('chart'), {
  type: 'bar',
  data: { labels: [], datasets: [{ label: 'samples/s', data: [], backgroundColor: [] as string[] }] },
  options: {
    indexAxis: 'y',
    maintainAspectRatio: false,
    scales: {
      x: { type: 'logarithmic', title: { display: true, text: 'samples/s' }, ticks: { callback: decades } },
      y: { ticks: { autoSkip: false, font: { size: 11 }, callback: wrappedTicks } },
    },
    plugins: { legend: { display: false } },
  },
});
const redraw = frameUpdater(chart);
const colours: Record<string, string> = { cellstate: '#2f5bd3', tfjs: '#e8912d', onnxruntime: '#1a8f4c' };

function render(): void {
  const tbody = $('table').querySelector('tbody')!;
  tbody.replaceChildren(
    ...results.map((r) => {
      const tr = document.createElement('tr');
      tr.className = `status-${r.status}`;
      const ok = r.status === 'ok';
      const sps = ok ? (r.samplesPerSecond as number) : null;
      const cs = sps ? cellstateRate(r) : null;
      const check = r.check as { status?: string; maxAbs?: number } | undefined;
      const cells = [
        r.config,
        r.mode,
        rowName(r),
        sps ? num(sps) : r.status,
        ok ? (r.gflops as number).toFixed(2) : '',
        cs && r.engine !== 'cellstate' ? `${(cs / sps!).toFixed(cs / sps! >= 10 ? 0 : 2)}×` : '',
        check?.status === 'passed' ? `passed (max |Δ| ${(check.maxAbs ?? 0).toExponential(1)})` : (check?.status ?? ''),
        [r.cold ? 'single cold step' : '', String(r.why ?? r.error ?? '')].filter(Boolean).join('; '),
      ];
      cells.forEach((c, i) => {
        const td = tr.insertCell();
        td.textContent = c;
        if (i === 7) td.className = 'why';
        if (i === 2) td.className = 'name';
        if (i === 6 && check?.status) td.className = check.status === 'passed' ? 'ok' : 'bad';
      });
      return tr;
    }),
  );
  const ok = results.filter((r) => r.status === 'ok');
  chart.data.labels = ok.map((r) => [`${r.config} ${r.mode}`, rowName(r).replace(/ \(simd128\)/, '')]);
  chart.data.datasets[0].data = ok.map((r) => r.samplesPerSecond as number);
  chart.data.datasets[0].backgroundColor = ok.map((r) => colours[r.engine] ?? '#888');
  fitChart();
  redraw();
}

/** The chart's height for its rows and this width (labels wrap on a phone and need the room). */
function fitChart(): void {
  const box = $('chart').parentElement!;
  box.style.height = `${barChartHeight(chart.data.labels ?? [], 18, box.clientWidth)}px`;
}
addEventListener('resize', fitChart);

// ---- run ------------------------------------------------------------------------------------------------

function status(s: string): void {
  $('status').textContent = s;
}

async function run(): Promise<void> {
  const quick = $<HTMLSelectElement>('run-mode').value === 'quick';
  const engines = new Set([...$('engines').querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value));
  const { configs, items } = plan(quick, engines);
  const total = [...items.values()].reduce((n, l) => n + l.length, 0) + configs.length + 2;
  let done = 0;
  const tick = () => ($('bar').style.width = `${((100 * ++done) / total).toFixed(1)}%`);
  const jobTimeoutS = quick ? 60 : 300;
  stopped = false;
  results.length = 0;
  render();
  $<HTMLButtonElement>('run').disabled = true;
  $<HTMLButtonElement>('stop').disabled = false;
  $<HTMLButtonElement>('download').disabled = true;
  const startedAt = new Date();
  const ceilings: Record<string, unknown>[] = [];
  for (const kind of ['simd128', 'relaxed'] as const) {
    if (stopped) break;
    status(`Measuring the ${kind} ceiling…`);
    const m = await inWorker({ type: 'ceiling', kind, seconds: quick ? 0.3 : 1 }, 30);
    ceilings.push(m.type === 'ceiling' ? m.ceiling : { kind, status: 'failed', error: m.type === 'error' ? m.message : 'no answer' });
    tick();
  }
  for (const config of configs) {
    if (stopped) break;
    status(`${config}: computing the scalar reference…`);
    const refMsg = await inWorker({ type: 'reference', config, urls }, jobTimeoutS);
    tick();
    if (refMsg.type !== 'reference') {
      results.push({
        config,
        mode: '-',
        engine: 'cellstate',
        variant: 'reference',
        status: 'failed',
        error: refMsg.type === 'error' ? refMsg.message : '?',
      });
      render();
      continue;
    }
    const reference: Reference = refMsg.reference;
    for (const item of items.get(config)!) {
      if (stopped) break;
      if ('skipped' in item) {
        results.push(item.skipped);
      } else {
        const j = item.job;
        status(`${config} ${j.mode}: ${j.engine} ${j.variant} ${j.threads}t…`);
        const m = await inWorker({ type: 'job', job: j, urls, reference }, jobTimeoutS);
        results.push(m.type === 'result' ? m.result : { ...j, status: 'failed', error: m.type === 'error' ? m.message : 'no result' });
      }
      tick();
      render();
    }
  }
  doc = {
    schema: SCHEMA,
    schemaVersion: SCHEMA_VERSION,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `web/bench.html (${quick ? 'quick' : 'full'}${stopped ? ', stopped' : ''})`,
    quick,
    budgetSeconds: quick ? 0.6 : 5,
    machine: {
      hostname: null,
      os: env.userAgent,
      arch: null,
      cpuModel: null,
      cores: env.cores,
      cpuFeatures: [env.simd128 ? 'wasm-simd128' : null, env.relaxedSimd ? 'wasm-relaxed-simd' : null].filter(
        (x): x is string => x !== null,
      ),
      memoryBytes: env.memoryBytes,
      node: null,
      v8: null,
    },
    runtime: { name: 'browser', version: env.browser, v8: null, crossOriginIsolated: env.crossOriginIsolated },
    cellstate: { version: __CELLSTATE_VERSION__, commit: null, dirty: null },
    flops: {
      forward: '2*T*4H*(F+H) per sample (the gate products; pointwise work not counted)',
      train: '3 * forward per sample (backward = 2 * forward: dx/dh products and weight gradients); head, loss and optimiser not counted',
    },
    configs: Object.fromEntries(configs.map((c) => [c, CONFIGS[c]])),
    ceilings,
    results: [...results],
  };
  probe.doc = doc;
  probe.done = true;
  $('bar').style.width = '100%';
  status(
    `${stopped ? 'Stopped' : 'Done'}: ${results.filter((r) => r.status === 'ok').length} measured, ${results.filter((r) => r.status === 'failed').length} failed, ${results.filter((r) => r.status === 'skipped').length} not measured.`,
  );
  $<HTMLButtonElement>('run').disabled = false;
  $<HTMLButtonElement>('stop').disabled = true;
  $<HTMLButtonElement>('download').disabled = false;
}

$('run').addEventListener('click', () => void run());
$('stop').addEventListener('click', () => {
  stopped = true;
  (current as (Worker & { stop?: () => void }) | null)?.stop?.();
});
$('download').addEventListener('click', () => {
  if (!doc) return;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([`${JSON.stringify(doc, null, 2)}\n`], { type: 'application/json' }));
  a.download = `${doc.startedAt.slice(0, 10)}_browser-${env.browser.replace(/[^A-Za-z0-9.]+/g, '-').toLowerCase()}-${env.cores ?? 0}c.json`;
  a.click();
});

async function start(): Promise<void> {
  wasmFiles = (await (await fetch(new URL('cellstate/wasm.json', base))).json()) as string[];
  urls = {
    cellstate: Object.fromEntries(wasmFiles.map((f) => [f, new URL(`cellstate/${f}`, base).href])),
    ortWasm: abs(ortWasm),
    tfjsWasm: {
      'tfjs-backend-wasm.wasm': abs(tfjsWasm),
      'tfjs-backend-wasm-simd.wasm': abs(tfjsSimd),
      'tfjs-backend-wasm-threaded-simd.wasm': abs(tfjsThreaded),
    },
  };
  const p = await inWorker({ type: 'probe' }, 30);
  env = browserEnv(p.type === 'probe' ? p : { simd128: false, relaxed: false });
  showEnv();
  document.documentElement.dataset.ready = 'true';
  if (new URLSearchParams(location.search).has('run')) void run();
}
void start();

// Module worker of the benchmark page: one job per worker, as one process per job in the Node bench
// (bench/worker.mjs), so one engine's memory and threads never touch another's. Sets up the engine on the
// shared inputs and weights of bench/lib/data.mjs, checks its result, warms up, times repeats.
import { CONFIGS, forwardFlops, trainFlops } from '../../bench/lib/configs.mjs';
import { makeData, makeWeights } from '../../bench/lib/data.mjs';
import { summarize } from '../../bench/lib/stats.mjs';
import type { BenchResult, Check, Job, Prepared, Shared, WorkerMessage, WorkerRequest } from './bench/types';

const post = (m: WorkerMessage) => postMessage(m);

function shared(config: Job['config']): Shared {
  const cfg = CONFIGS[config];
  return { cfg, data: makeData(cfg), weights: makeWeights(cfg) } as Shared;
}

async function time(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

/** bench/worker.mjs's loop: check, warm up (≥ 1 step and 0.3 s, ≤ 3 steps), then repeats of ≥ 50 ms within the budget. */
async function measure(job: Job, s: Shared, run: Prepared): Promise<BenchResult> {
  const base = { ...job, batch: s.cfg.B, ...run.info } as unknown as BenchResult;
  let check: Check = { status: 'none', why: 'no check for this engine' };
  if (run.check) {
    check = await run.check();
    if (!check.ok) return { ...base, status: 'failed', error: `result check failed before timing: ${check.why}`, check };
  }
  let warm = 0;
  let warmSteps = 0;
  while (warmSteps < 3 && (warmSteps === 0 || warm < 0.3)) {
    const t = await time(run.step);
    warm += t;
    warmSteps++;
    if (t > job.budgetS) break;
  }
  const perStep = warm / warmSteps;
  let times: number[];
  let inner = 1;
  let cold = false;
  if (perStep > job.budgetS) {
    times = [perStep];
    cold = true;
  } else {
    inner = Math.max(1, Math.ceil(0.05 / perStep));
    const n = Math.max(1, Math.min(job.repeats, Math.floor(job.budgetS / (perStep * inner))));
    times = [];
    for (let r = 0; r < n; r++) {
      const t = await time(async () => {
        for (let i = 0; i < inner; i++) await run.step();
      });
      times.push(t / inner);
    }
  }
  const st = summarize(times);
  const flopsPerSample = job.mode === 'train' ? trainFlops(s.cfg) : forwardFlops(s.cfg);
  const result: BenchResult = {
    ...base,
    status: 'ok',
    check,
    samplesPerStep: run.samplesPerStep,
    secondsPerStep: st,
    repeats: st.n,
    innerSteps: inner,
    warmupSteps: warmSteps,
    cold,
    samplesPerSecond: run.samplesPerStep / st.median,
    gflops: (run.samplesPerStep * flopsPerSample) / st.median / 1e9,
    // A page cannot read its process's resident memory.
    peakRssBytes: null,
    wasmMemoryBytes: run.memoryBytes ? run.memoryBytes() : null,
  };
  await run.dispose?.();
  return result;
}

onmessage = async (e: MessageEvent<WorkerRequest>) => {
  const r = e.data;
  try {
    if (r.type === 'ceiling' || r.type === 'probe') {
      // bench/ceilings/wasm.mjs runs its main() only as Node's entry script and reads process.argv to know;
      // this worker runs nothing else, so the stand-in cannot mislead another library's environment check.
      (globalThis as { process?: unknown }).process ??= { argv: [] };
      const { ceiling, supports } = await import('./bench/ceiling');
      if (r.type === 'probe') post({ type: 'probe', simd128: supports('simd128'), relaxed: supports('relaxed') });
      else post({ type: 'ceiling', ceiling: await ceiling(r.kind, r.seconds) });
      return;
    }
    if (r.type === 'reference') {
      const cs = await import('./bench/cellstate');
      const simd = Object.keys(r.urls.cellstate).find((f) => !/relaxed/.test(f)) ?? Object.keys(r.urls.cellstate)[0];
      post({ type: 'reference', reference: await cs.reference(r.urls.cellstate[simd], shared(r.config)) });
      return;
    }
    const { job, urls, reference } = r;
    const s = shared(job.config);
    let run: Prepared;
    if (job.engine === 'cellstate' && job.variant === 'all-cores')
      run = await (await import('./bench/cellstate')).prepareParallel(job, urls.cellstate[job.wasmFile!], s);
    else if (job.engine === 'cellstate')
      run = await (await import('./bench/cellstate')).prepare(job, urls.cellstate[job.wasmFile!], s, reference);
    else if (job.engine === 'tfjs') run = await (await import('./bench/tfjs')).prepare(job, urls, s, reference);
    else run = await (await import('./bench/onnxruntime')).prepare(job, urls, s, reference);
    post({ type: 'result', result: await measure(job, s, run) });
  } catch (err) {
    const x = err as Error;
    post({ type: 'error', message: String(x?.stack ? x.stack.split('\n').slice(0, 3).join(' | ') : x) });
  }
};

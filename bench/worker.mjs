// One measurement in its own process (so peak memory, crashes and environment flags stay per job):
// set up the engine, check its result, warm up, time repeats, print one `@@RESULT {json}` line.
// Usage: node bench/worker.mjs '<job json>'
import { CONFIGS, forwardFlops, trainFlops } from './lib/configs.mjs';
import { makeData, makeWeights } from './lib/data.mjs';
import { summarize } from './lib/stats.mjs';

const job = JSON.parse(process.argv[2]);
const cfg = { ...CONFIGS[job.config], B: job.batch ?? CONFIGS[job.config].B };

function emit(result) {
  process.stdout.write(`@@RESULT ${JSON.stringify(result)}\n`);
}

async function time(fn) {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

async function main() {
  const engine = await import(`./engines/${job.engine}.mjs`);
  const data = makeData(cfg);
  const weights = makeWeights(cfg);
  const run = await engine.prepare({ job, cfg, data, weights });
  const base = { ...job, batch: cfg.B, ...run.info };
  if (job.reference) {
    // Only the reference job: compute and store the scalar results for the check rows.
    await run.writeReference(job.reference);
    emit({ ...base, status: 'reference' });
    return;
  }
  let check = { status: 'none', why: run.noCheckReason ?? 'no check for this engine' };
  if (run.check) {
    check = await run.check();
    if (!check.ok && run.mustCheck) {
      emit({ ...base, status: 'failed', error: `result check failed before timing: ${check.why}`, check });
      return;
    }
  }
  // Warm-up: at least one step and 0.3 s, at most 3 steps; an engine may ask for longer (run.warmupSeconds, at
  // most 100 steps), as the wasm workers do: each worker's instance tiers its hot code up on its own.
  const warmS = run.warmupSeconds ?? 0.3;
  const warmMax = run.warmupSeconds ? 100 : 3;
  let warm = 0;
  let warmSteps = 0;
  while (warmSteps < warmMax && (warmSteps === 0 || warm < warmS)) {
    const t = await time(run.step);
    warm += t;
    warmSteps++;
    if (t > job.budgetS) break;
  }
  const perStep = warm / warmSteps;
  let times;
  let inner = 1;
  let cold = false;
  if (perStep > job.budgetS) {
    // One step costs more than the whole budget: report the (only) step, marked cold.
    times = [perStep];
    cold = true;
  } else {
    // Each repeat runs `inner` steps and lasts at least ~50 ms; as many repeats as fit the budget.
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
  const s = summarize(times);
  const samples = run.samplesPerStep ?? cfg.B;
  const flopsPerSample = job.mode === 'train' ? trainFlops(cfg) : forwardFlops(cfg);
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  emit({
    ...base,
    status: 'ok',
    check,
    samplesPerStep: samples,
    secondsPerStep: s,
    repeats: s.n,
    innerSteps: inner,
    warmupSteps: warmSteps,
    cold,
    samplesPerSecond: samples / s.median,
    gflops: (samples * flopsPerSample) / s.median / 1e9,
    peakRssBytes,
    wasmMemoryBytes: run.memoryBytes ? run.memoryBytes() : null,
  });
  if (run.dispose) await run.dispose();
}

main().catch((e) => {
  emit({ ...job, status: 'failed', error: String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e) });
  process.exitCode = 1;
});

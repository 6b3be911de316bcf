// cellstate under the browser benchmark, the same two modes as bench/engines/cellstate.mjs: train is the full
// model step (`model.trainBatch`: the LSTM with the shared weights, Dense(1) on h_T, BCE with logits,
// backward, Adam; one-hot input as token ids), infer the LSTM layer's forward on the dense input. The check
// compares the first rows with the scalar kernels of the same module (bench/README.md). "all cores" runs the
// same shapes through the data-parallel engine (createParallelModel over one wasm worker per core).
import * as cs from 'cellstate';
import { compare } from '../../../bench/lib/stats.mjs';
import type { Job, Prepared, Reference, Shared } from './types';

export const TRAIN_LABEL = 'full train step: forward, Dense(1) head, BCE, backward, Adam (model.trainBatch)';
export const CHECK_ROWS = 2;
// Float32 SIMD against the scalar reference (bench/engines/cellstate.mjs): another summation order, T ≤ 200.
const ATOL = 2e-4;
const RTOL = 2e-3;

type Cfg = Shared['cfg'];

function layerDict(cfg: Cfg, weights: Shared['weights'], prefix = ''): Record<string, cs.TensorLike> {
  const sd: Record<string, cs.TensorLike> = {};
  for (const [k, v] of Object.entries(weights)) {
    sd[prefix + k] = { data: v, shape: k.startsWith('bias') ? [4 * cfg.H] : [4 * cfg.H, k.includes('ih') ? cfg.F : cfg.H] };
  }
  return sd;
}

function build(backend: cs.Backend, mode: Job['mode'], { cfg, weights }: Shared): cs.LSTM | cs.SequenceModel {
  if (mode === 'infer') {
    const lstm = new cs.LSTM({ inputSize: cfg.F, hiddenSize: cfg.H, batchFirst: true, seed: 1, backend });
    lstm.loadStateDict(layerDict(cfg, weights));
    return lstm;
  }
  const model = cs.sequenceClassifier(
    {
      input: cfg.oneHot ? 'one-hot' : { features: cfg.F },
      vocabSize: cfg.oneHot ? cfg.F : undefined,
      lstm: { hiddenSize: cfg.H },
      seed: 1,
      output: { units: 1, activation: 'sigmoid' },
    },
    { backend },
  );
  model.loadStateDict(layerDict(cfg, weights, 'lstm.'), { strict: false });
  model.setOptimizer({ type: 'adam', lr: 1e-3 });
  return model;
}

function modelInput({ cfg, data }: Shared, b: number): cs.SequenceBatchInput {
  return cfg.oneHot
    ? { data: data.ids!.subarray(0, b * cfg.T), shape: [b, cfg.T] }
    : { data: data.x.subarray(0, b * cfg.T * cfg.F), shape: [b, cfg.T, cfg.F] };
}

function outputs(run: cs.LSTM | cs.SequenceModel, mode: Job['mode'], s: Shared, b: number): Record<string, Float32Array> {
  const { cfg, data } = s;
  if (mode === 'infer') {
    return {
      hN: (run as cs.LSTM).forward(
        { data: data.x.subarray(0, b * cfg.T * cfg.F), shape: [b, cfg.T, cfg.F] },
        { grad: false, output: false },
      ).hN.data,
    };
  }
  const m = run as cs.SequenceModel;
  m.computeGradients(modelInput(s, b), data.y.subarray(0, b));
  const out: Record<string, Float32Array> = { logits: m.lastLogits() };
  for (const [k, v] of Object.entries(m.gradients())) out[`d_${k}`] = v.data;
  return out;
}

/** The scalar outputs of the check rows, for cellstate's own check and h_T for the peers'. */
export async function reference(wasm: string, s: Shared): Promise<Reference> {
  const backend = await cs.loadBackend({ backend: 'wasm', wasm });
  backend.selectKernels('scalar');
  const b = Math.min(CHECK_ROWS, s.cfg.B);
  const result = {} as Reference;
  for (const mode of ['infer', 'train'] as const) {
    const run = build(backend, mode, s);
    const out = outputs(run, mode, s, b);
    run.dispose();
    if (mode === 'infer') result.infer = { hN: out.hN };
    else result.train = out;
  }
  return result;
}

export async function prepare(job: Job, wasm: string, s: Shared, ref: Reference): Promise<Prepared> {
  // 'threads': the threads build with job.threads threads (its workers start here, in this bench worker).
  const backend = await cs.loadBackend(
    job.variant === 'threads' ? { backend: 'wasm', wasm, wasmThreads: job.threads } : { backend: 'wasm', wasm },
  );
  const run = build(backend, job.mode, s);
  const b = s.cfg.B;
  const want = job.mode === 'infer' ? ref.infer : ref.train;
  return {
    info: {
      engine: 'cellstate',
      backend: backend.name,
      kernels: backend.kernels,
      threads: backend.threads,
      label: job.mode === 'train' ? TRAIN_LABEL : 'LSTM forward (h_T; no caches, no output sequence)',
      input: s.cfg.oneHot ? (job.mode === 'train' ? 'token ids (one-hot as a row gather)' : 'dense one-hot (B, T, F) tensor') : 'dense',
      runtime: `browser, ${job.wasmFile}${backend.threads > 1 ? `, ${backend.threads} threads on a shared memory` : ''}`,
    },
    mustCheck: true,
    check: async () => {
      const got = outputs(run, job.mode, s, Math.min(CHECK_ROWS, b));
      let maxAbs = 0;
      for (const k of Object.keys(want)) {
        const c = compare(got[k], (want as Record<string, Float32Array>)[k], ATOL, RTOL);
        if (!c.ok) return { ok: false, status: 'failed', why: `${k}: ${c.why}` };
        maxAbs = Math.max(maxAbs, c.maxAbs ?? 0);
      }
      return {
        ok: true,
        status: 'passed',
        against: 'scalar reference',
        rows: Math.min(CHECK_ROWS, b),
        compared: Object.keys(want),
        atol: ATOL,
        rtol: RTOL,
        maxAbs,
      };
    },
    samplesPerStep: b,
    memoryBytes: () => backend.memoryBytes(),
    step:
      job.mode === 'train'
        ? () => (run as cs.SequenceModel).trainBatch(modelInput(s, b), s.data.y.subarray(0, b))
        : () => (run as cs.LSTM).forward({ data: s.data.x, shape: [b, s.cfg.T, s.cfg.F] }, { grad: false, output: false }),
    dispose: () => run.dispose(),
  };
}

/** A sequence model over the infer config's LSTM: dense input, Dense(1) head (for the parallel engine, which runs models). */
function inferModel(backend: cs.Backend, { cfg, weights }: Shared): cs.SequenceModel {
  const model = cs.sequenceClassifier({ input: { features: cfg.F }, lstm: { hiddenSize: cfg.H }, seed: 1 }, { backend });
  model.loadStateDict(layerDict(cfg, weights, 'lstm.'), { strict: false });
  return model;
}

const PARALLEL_TOL = { atol: 1e-5, rtol: 1e-4 };

/**
 * All cores: train is `ParallelModel.trainBatch` (shard gradients over `job.threads` workers, summed and applied
 * here), infer `ParallelModel.predict` over the rows. Checked against the same step on this thread before timing:
 * train's loss and weights after one step against `trainBatch`'s, infer's outputs against `predict`'s.
 */
export async function prepareParallel(job: Job, wasm: string, s: Shared): Promise<Prepared> {
  const backend = await cs.loadBackend({ backend: 'wasm', wasm });
  const b = s.cfg.B;
  const model = job.mode === 'train' ? (build(backend, 'train', s) as cs.SequenceModel) : inferModel(backend, s);
  const parallel = await cs.createParallelModel(model, { workers: job.threads, wasm });
  if (parallel.kernels !== backend.kernels) throw new Error(`the workers run ${parallel.kernels}, this worker ${backend.kernels}`);
  const x = job.mode === 'train' ? modelInput(s, b) : { data: s.data.x.subarray(0, b * s.cfg.T * s.cfg.F), shape: [b, s.cfg.T, s.cfg.F] };
  const y = s.data.y.subarray(0, b);
  return {
    info: {
      engine: 'cellstate',
      backend: backend.name,
      kernels: backend.kernels,
      threads: job.threads,
      label:
        job.mode === 'train'
          ? `data-parallel train step over ${job.threads} workers (ParallelModel.trainBatch; model.trainBatch's work)`
          : `data-parallel predict over ${job.threads} workers (LSTM forward + Dense(1) head)`,
      input: s.cfg.oneHot && job.mode === 'train' ? 'token ids (one-hot as a row gather)' : 'dense',
      runtime: `browser, ${job.wasmFile}, ${job.threads} module workers`,
    },
    mustCheck: true,
    check: async () => {
      let got: Record<string, Float32Array>;
      let want: Record<string, Float32Array>;
      if (job.mode === 'train') {
        const alone = build(backend, 'train', s) as cs.SequenceModel;
        const one = alone.trainBatch(x, y);
        const many = await parallel.trainBatch(x, y);
        const [wa, wb] = [alone.stateDict(), model.stateDict()];
        want = { loss: Float32Array.of(one.loss), ...Object.fromEntries(Object.entries(wa).map(([k, t]) => [k, t.data])) };
        got = { loss: Float32Array.of(many.loss), ...Object.fromEntries(Object.entries(wb).map(([k, t]) => [k, t.data])) };
        alone.dispose();
      } else {
        want = { output: model.predict(x).data };
        got = { output: (await parallel.predict(x)).data };
      }
      let maxAbs = 0;
      for (const k of Object.keys(want)) {
        const c = compare(got[k], want[k], PARALLEL_TOL.atol, PARALLEL_TOL.rtol);
        if (!c.ok) return { ok: false, status: 'failed', why: `${k}: ${c.why}` };
        maxAbs = Math.max(maxAbs, c.maxAbs ?? 0);
      }
      return {
        ok: true,
        status: 'passed',
        against: job.mode === 'train' ? 'one trainBatch on one thread' : 'model.predict on one thread',
        rows: b,
        compared: Object.keys(want),
        atol: PARALLEL_TOL.atol,
        rtol: PARALLEL_TOL.rtol,
        maxAbs,
      };
    },
    samplesPerStep: b,
    memoryBytes: () => backend.memoryBytes(),
    step: job.mode === 'train' ? () => parallel.trainBatch(x, y) : () => parallel.predict(x, { batchSize: b }),
    dispose: async () => {
      await parallel.dispose();
      model.dispose();
    },
  };
}

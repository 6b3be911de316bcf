// cellstate under the browser benchmark, the same two modes as bench/engines/cellstate.mjs: train is the full
// model step (`model.trainBatch`: the LSTM with the shared weights, Dense(1) on h_T, BCE with logits,
// backward, Adam; one-hot input as token ids), infer the LSTM layer's forward on the dense input. The check
// compares the first rows with the scalar kernels of the same module (bench/README.md).
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
    return { hN: (run as cs.LSTM).forward({ data: data.x.subarray(0, b * cfg.T * cfg.F), shape: [b, cfg.T, cfg.F] }).hN.data };
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
  const backend = await cs.loadBackend({ backend: 'wasm', wasm });
  const run = build(backend, job.mode, s);
  const b = s.cfg.B;
  const want = job.mode === 'infer' ? ref.infer : ref.train;
  return {
    info: {
      engine: 'cellstate',
      backend: backend.name,
      kernels: backend.kernels,
      threads: 1,
      label: job.mode === 'train' ? TRAIN_LABEL : 'LSTM forward',
      input: s.cfg.oneHot ? (job.mode === 'train' ? 'token ids (one-hot as a row gather)' : 'dense one-hot (B, T, F) tensor') : 'dense',
      runtime: `browser, ${job.wasmFile}`,
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
        : () => (run as cs.LSTM).forward({ data: s.data.x, shape: [b, s.cfg.T, s.cfg.F] }),
    dispose: () => run.dispose(),
  };
}

// cellstate under the benchmark: one adapter per mode.
// train: a full training step in the core, one call per batch (`model.trainBatch`): the LSTM (a row gather
//   of W_ih for one-hot input), a Dense(1) head on the last hidden state, BCE with logits, backward, Adam.
// infer: the LSTM layer's forward pass.
import { readFileSync, writeFileSync } from 'node:fs';
import { serialize, deserialize } from 'node:v8';
import { compare } from '../lib/stats.mjs';

const dist = new URL('../../dist/index.js', import.meta.url);
export const TRAIN_LABEL = 'full train step: forward, Dense(1) head, BCE, backward, Adam (model.trainBatch)';
export const CHECK_ROWS = 2;
// Float32 SIMD against the scalar reference: sums in another order, T up to 200 steps of recurrence.
const ATOL = 2e-4;
const RTOL = 2e-3;

function layerDict(cfg, weights, prefix = '') {
  const sd = {};
  for (const [k, v] of Object.entries(weights)) {
    sd[prefix + k] = { data: v, shape: k.startsWith('bias') ? [4 * cfg.H] : [4 * cfg.H, k.includes('ih') ? cfg.F : cfg.H] };
  }
  return sd;
}

function newLayer(cs, backend, cfg, weights) {
  const lstm = new cs.LSTM({ inputSize: cfg.F, hiddenSize: cfg.H, batchFirst: true, seed: 1, backend });
  lstm.loadStateDict(layerDict(cfg, weights));
  return lstm;
}

/** The notebook's model for the config: one-hot token ids for seed, float features otherwise. */
export function newModel(cs, backend, cfg, weights) {
  const model = cs.sequenceClassifier(
    {
      input: cfg.oneHot ? 'one-hot' : { features: cfg.F },
      vocabSize: cfg.oneHot ? cfg.F : undefined,
      lstm: { hiddenSize: cfg.H },
      seed: 1,
    },
    { backend },
  );
  // The same LSTM weights as every peer; the head keeps the model's seeded initialisation.
  model.loadStateDict(layerDict(cfg, weights, 'lstm.'), { strict: false });
  model.setOptimizer({ type: 'adam', lr: 1e-3 });
  return model;
}

function modelInput(cfg, data, b) {
  return cfg.oneHot
    ? { data: data.ids.subarray(0, b * cfg.T), shape: [b, cfg.T] }
    : { data: data.x.subarray(0, b * cfg.T * cfg.F), shape: [b, cfg.T, cfg.F] };
}

function inferStep(lstm, cfg, x, b) {
  // Inference: no caches for a backward pass, and h_T/c_T out without the output sequence (as ONNX Runtime's
  // model, which returns h_n only).
  return lstm.forward({ data: x, shape: [b, cfg.T, cfg.F] }, { grad: false, output: false });
}

/** What the check compares: h_T for infer; for train the logits and every parameter gradient of one batch. */
function outputs(run, cfg, data, mode, b) {
  if (mode === 'infer') return { hN: inferStep(run, cfg, data.x.subarray(0, b * cfg.T * cfg.F), b).hN.data };
  run.computeGradients(modelInput(cfg, data, b), data.y.subarray(0, b));
  const out = { logits: run.lastLogits() };
  for (const [k, v] of Object.entries(run.gradients())) out[`d_${k}`] = v.data;
  return out;
}

export async function prepare({ job, cfg, data, weights }) {
  const cs = await import(dist.href);
  const wanted = job.variant === 'reference' ? 'native' : job.variant;
  // 'wasm' is the SIMD128 build, 'wasm-relaxed' the relaxed-SIMD one (run with --experimental-wasm-relaxed-simd),
  // 'wasm-threads' the relaxed threads build with job.threads threads on one shared memory.
  const threads = job.threads ?? 1;
  const wasmFeatures = { wasm: 'simd128', 'wasm-relaxed': 'relaxed_simd' }[wanted];
  const backend = await cs.loadBackend(
    wanted === 'wasm-threads'
      ? { backend: 'wasm', wasmThreads: threads }
      : wasmFeatures
        ? { backend: 'wasm', wasmFeatures }
        : { backend: wanted },
  );
  if (threads !== backend.threads) backend.setThreads(threads);
  const run = job.mode === 'train' ? newModel(cs, backend, cfg, weights) : newLayer(cs, backend, cfg, weights);
  const b = cfg.B;
  const info = {
    engine: 'cellstate',
    backend: backend.name,
    kernels: backend.kernels,
    threads: backend.threads,
    label: job.mode === 'train' ? TRAIN_LABEL : 'LSTM forward (h_T; no caches, no output sequence)',
    input: cfg.oneHot ? (job.mode === 'train' ? 'token ids (one-hot as a row gather)' : 'dense one-hot (B, T, F) tensor') : 'dense',
    runtime: `node ${process.versions.node}`,
  };
  if (job.variant === 'reference' && backend.kernels !== 'scalar') {
    throw new Error(`reference wanted scalar kernels, the backend chose ${backend.kernels}`);
  }
  return {
    info,
    mustCheck: true,
    // The threads build's workers tier their share of the code up on their own, as the data-parallel workers do
    // (engines/cellstate-parallel.mjs): with the default 0.3 s the first timings of a seed step ran cold.
    ...(wanted === 'wasm-threads' ? { warmupSeconds: 1.5 } : {}),
    samplesPerStep: b,
    memoryBytes: () => backend.memoryBytes(),
    async writeReference(path) {
      const out = outputs(run, cfg, data, job.mode, Math.min(CHECK_ROWS, b));
      writeFileSync(path, serialize(out));
      // Raw little-endian float32 h_T as well, for the Python peer.
      if (out.hN) writeFileSync(`${path}.hN.f32`, new Uint8Array(out.hN.buffer, out.hN.byteOffset, out.hN.byteLength));
    },
    check: job.referencePath
      ? async () => {
          const ref = deserialize(readFileSync(job.referencePath));
          const got = outputs(run, cfg, data, job.mode, Math.min(CHECK_ROWS, b));
          for (const k of Object.keys(ref)) {
            const c = compare(got[k], ref[k], ATOL, RTOL);
            if (!c.ok) return { ok: false, status: 'failed', why: `${k}: ${c.why}` };
          }
          return {
            ok: true,
            status: 'passed',
            against: 'scalar reference',
            rows: Math.min(CHECK_ROWS, b),
            compared: Object.keys(ref),
            atol: ATOL,
            rtol: RTOL,
          };
        }
      : undefined,
    noCheckReason: 'no scalar reference available',
    step:
      job.mode === 'train'
        ? () => {
            run.trainBatch(modelInput(cfg, data, b), data.y.subarray(0, b));
          }
        : () => {
            inferStep(run, cfg, data.x, b);
          },
    dispose: () => run.dispose(),
  };
}

/** The IMDB job's trainer: the same model as the timed train mode, on padded token ids. */
export async function imdbTrainer(cs, variant, cfg, weights, threads = 1) {
  // 'native' / 'wasm' (the build init picks) / 'wasm-relaxed', or 'wasm[-relaxed]-<N>w': N wasm workers, or
  // 'wasm-threads': the threads build with `threads` threads.
  const m = /^wasm(-relaxed)?(?:-(\d+)w)?$/.exec(variant);
  const wasmFeatures = m ? (m[1] ? 'relaxed_simd' : m[2] ? 'simd128' : 'auto') : undefined;
  const backend = await cs.loadBackend(
    variant === 'wasm-threads' ? { backend: 'wasm', wasmThreads: threads } : m ? { backend: 'wasm', wasmFeatures } : { backend: variant },
  );
  if (!m && threads !== backend.threads) backend.setThreads(threads);
  const model = newModel(cs, backend, cfg, weights);
  if (m?.[2]) {
    const parallel = await cs.createParallelModel(model, { workers: Number(m[2]), wasmFeatures });
    return {
      backend: backend.name,
      kernels: parallel.kernels,
      threads: Number(m[2]),
      step: (ids, y, b) => parallel.trainBatch({ data: ids, shape: [b, cfg.T] }, y),
      dispose: async () => {
        await parallel.dispose();
        model.dispose();
      },
    };
  }
  return {
    backend: backend.name,
    kernels: backend.kernels,
    threads: backend.threads,
    step: (ids, y, b) => model.trainBatch({ data: ids, shape: [b, cfg.T] }, y),
    dispose: () => model.dispose(),
  };
}

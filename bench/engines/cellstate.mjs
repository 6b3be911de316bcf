// cellstate under the benchmark: one adapter per mode.
// TRAIN IS A STAND-IN until the model API lands: `trainStep` runs the LSTM layer's forward and backward
// with a fixed upstream gradient on h_T (no Dense head, no loss, no optimiser step) and results are
// labelled `layer fwd+bwd`. Switch `trainStep` (and `TRAIN_LABEL`) to `model.trainBatch(...)` then.
import { readFileSync, writeFileSync } from 'node:fs';
import { serialize, deserialize } from 'node:v8';
import { compare } from '../lib/stats.mjs';

const dist = new URL('../../dist/index.js', import.meta.url);
export const TRAIN_LABEL = 'layer fwd+bwd (not a full train step: no head, loss or Adam)';
export const CHECK_ROWS = 2;
// Float32 SIMD against the scalar reference: sums in another order, T up to 200 steps of recurrence.
const ATOL = 2e-4;
const RTOL = 2e-3;

function newLayer(cs, backend, cfg, weights) {
  const lstm = new cs.LSTM({ inputSize: cfg.F, hiddenSize: cfg.H, batchFirst: true, seed: 1, backend });
  const sd = {};
  for (const [k, v] of Object.entries(weights)) {
    sd[k] = { data: v, shape: k.startsWith('bias') ? [4 * cfg.H] : [4 * cfg.H, k.includes('ih') ? cfg.F : cfg.H] };
  }
  lstm.loadStateDict(sd);
  return lstm;
}

/** One training step of `b` rows (see the note at the top: layer fwd+bwd for now). */
function trainStep(lstm, cfg, x, dHN, b) {
  lstm.forward({ data: x, shape: [b, cfg.T, cfg.F] });
  return lstm.backward({ hN: { data: dHN, shape: [1, b, cfg.H] } });
}

function inferStep(lstm, cfg, x, b) {
  return lstm.forward({ data: x, shape: [b, cfg.T, cfg.F] });
}

/** What the check compares: h_T, and for train also dx and every parameter gradient. */
function outputs(lstm, cfg, data, mode, b) {
  const x = data.x.subarray(0, b * cfg.T * cfg.F);
  const dHN = data.dHN.subarray(0, b * cfg.H);
  if (mode === 'infer') return { hN: inferStep(lstm, cfg, x, b).hN.data };
  const fwd = lstm.forward({ data: x, shape: [b, cfg.T, cfg.F] });
  const g = lstm.backward({ hN: { data: dHN, shape: [1, b, cfg.H] } });
  const out = { hN: fwd.hN.data, dX: g.x.data };
  for (const [k, v] of Object.entries(g.params)) out[`d_${k}`] = v.data;
  return out;
}

export async function prepare({ job, cfg, data, weights }) {
  const cs = await import(dist.href);
  const wanted = job.variant === 'reference' ? 'native' : job.variant;
  const backend = await cs.loadBackend({ backend: wanted });
  const lstm = newLayer(cs, backend, cfg, weights);
  const b = cfg.B;
  const info = {
    engine: 'cellstate',
    backend: backend.name,
    kernels: backend.kernels,
    threads: 1,
    label: job.mode === 'train' ? TRAIN_LABEL : 'LSTM forward',
    input: cfg.oneHot ? 'dense one-hot (B, T, F) tensor (the model API will gather token ids)' : 'dense',
    runtime: `node ${process.versions.node}`,
  };
  if (job.variant === 'reference' && backend.kernels !== 'scalar') {
    throw new Error(`reference wanted scalar kernels, the backend chose ${backend.kernels}`);
  }
  return {
    info,
    mustCheck: true,
    samplesPerStep: b,
    memoryBytes: () => backend.memoryBytes(),
    async writeReference(path) {
      const out = outputs(lstm, cfg, data, job.mode, Math.min(CHECK_ROWS, b));
      writeFileSync(path, serialize(out));
      // Raw little-endian float32 h_T as well, for the Python peer.
      writeFileSync(`${path}.hN.f32`, new Uint8Array(out.hN.buffer, out.hN.byteOffset, out.hN.byteLength));
    },
    check: job.referencePath
      ? async () => {
          const ref = deserialize(readFileSync(job.referencePath));
          const got = outputs(lstm, cfg, data, job.mode, Math.min(CHECK_ROWS, b));
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
            trainStep(lstm, cfg, data.x, data.dHN, b);
          }
        : () => {
            inferStep(lstm, cfg, data.x, b);
          },
    dispose: () => lstm.dispose(),
  };
}

/** The IMDB job's trainer: the same adapter as the timed train mode, on batches the caller fills. */
export async function imdbTrainer(cs, variant, cfg, weights) {
  const backend = await cs.loadBackend({ backend: variant });
  const lstm = newLayer(cs, backend, cfg, weights);
  const dHN = new Float32Array(cfg.B * cfg.H).fill(0.01);
  return {
    backend: backend.name,
    kernels: backend.kernels,
    step: (x, _y, b) => trainStep(lstm, cfg, x, dHN.subarray(0, b * cfg.H), b),
    dispose: () => lstm.dispose(),
  };
}

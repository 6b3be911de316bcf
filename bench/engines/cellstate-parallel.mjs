// cellstate's data-parallel wasm engine (ts/parallel): `createParallelModel(model, { workers })`, each worker a
// worker_thread with its own wasm instance. Variants `wasm-<N>w` (SIMD128) and `wasm-relaxed-<N>w` (relaxed SIMD).
// train: the same model and step as engines/cellstate.mjs's train (trainBatch), sharded over the workers.
// infer: the model's predict on the dense input (the LSTM forward plus the Dense(1) head on h_T), rows sharded.
// Checked before timing against the same model on one main-thread wasm instance of the same build.
import { newModel } from './cellstate.mjs';
import { compare } from '../lib/stats.mjs';

const dist = new URL('../../dist/index.js', import.meta.url);
// Shard sums in another order than the whole batch: float32 rounding only.
const ATOL = 1e-5;
const RTOL = 1e-4;

export async function prepare({ job, cfg, data, weights }) {
  const cs = await import(dist.href);
  const m = /^wasm(-relaxed)?-(\d+)w$/.exec(job.variant);
  if (!m) throw new Error(`unknown variant ${job.variant}`);
  const wasmFeatures = m[1] ? 'relaxed_simd' : 'simd128';
  const workers = Number(m[2]);
  const backend = await cs.loadBackend({ backend: 'wasm', wasmFeatures });
  const b = cfg.B;
  const make = () => {
    if (job.mode === 'train') return newModel(cs, backend, cfg, weights);
    const model = cs.sequenceClassifier({ input: { features: cfg.F }, lstm: { hiddenSize: cfg.H }, seed: 1 }, { backend });
    const sd = {};
    for (const [k, v] of Object.entries(weights)) {
      sd[`lstm.${k}`] = { data: v, shape: k.startsWith('bias') ? [4 * cfg.H] : [4 * cfg.H, k.includes('ih') ? cfg.F : cfg.H] };
    }
    model.loadStateDict(sd, { strict: false });
    return model;
  };
  const local = make();
  const main = make();
  const parallel = await cs.createParallelModel(main, { workers, wasmFeatures });
  const x =
    job.mode === 'train' && cfg.oneHot
      ? { data: data.ids.subarray(0, b * cfg.T), shape: [b, cfg.T] }
      : { data: data.x.subarray(0, b * cfg.T * cfg.F), shape: [b, cfg.T, cfg.F] };
  const y = data.y.subarray(0, b);
  return {
    info: {
      engine: 'cellstate',
      backend: 'wasm',
      kernels: parallel.kernels,
      threads: workers,
      label:
        job.mode === 'train'
          ? `full train step over ${workers} wasm workers (createParallelModel, trainBatch)`
          : `model predict over ${workers} wasm workers`,
      input:
        job.mode === 'train' && cfg.oneHot
          ? 'token ids (one-hot as a row gather)'
          : cfg.oneHot
            ? 'dense one-hot (B, T, F) tensor'
            : 'dense',
      runtime: `node ${process.versions.node}`,
    },
    mustCheck: true,
    // A fresh pool's first call runs ~3-4x its later ones (medium infer: V8 runs the kernels in Liftoff until they
    // tier up, and the workers' memory grows), from the second call on it is steady (measured call by call, 20
    // calls, Node 20). The workers share one compiled module, so the tier-up is not per worker. An earlier run saw
    // 1.0x one thread after 3 warm-up calls and 2.1x after 10 more; not reproduced. 1.5 s is a margin.
    warmupSeconds: 1.5,
    samplesPerStep: b,
    memoryBytes: () => backend.memoryBytes(),
    async check() {
      let got;
      let want;
      if (job.mode === 'train') {
        // One step each from the same weights; then both models are back in step for timing.
        got = [(await parallel.trainBatch(x, y)).loss];
        want = [local.trainBatch(x, y).loss];
      } else {
        got = (await parallel.predict(x)).data;
        want = local.predict(x).data;
      }
      const c = compare(got, want, ATOL, RTOL);
      if (!c.ok) return { ok: false, status: 'failed', why: c.why };
      return {
        ok: true,
        status: 'passed',
        against: `one wasm instance (${backend.kernels})`,
        rows: b,
        compared: [job.mode === 'train' ? 'loss' : 'predictions'],
        atol: ATOL,
        rtol: RTOL,
      };
    },
    step: job.mode === 'train' ? () => parallel.trainBatch(x, y) : () => parallel.predict(x),
    dispose: async () => {
      await parallel.dispose();
      main.dispose();
      local.dispose();
    },
  };
}

// ONNX Runtime, inference only: onnxruntime-node (native CPU provider) and onnxruntime-web (its wasm
// build, run in Node). The model is cellstate's own ONNX export of the LSTM layer (exportOnnx): a
// Transpose to time-major inside the graph, one LSTM op, output h_n (1, B, H).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { deserialize } from 'node:v8';
import { compare } from '../lib/stats.mjs';

const dist = new URL('../../dist/index.js', import.meta.url);

const require = createRequire(import.meta.url);

export async function prepare({ job, cfg, data, weights }) {
  if (job.mode !== 'infer') throw new Error('ONNX Runtime is inference only here');
  const web = job.variant === 'web';
  const ort = require(web ? 'onnxruntime-web' : 'onnxruntime-node');
  const { B, T, F, H } = cfg;
  const options = { graphOptimizationLevel: 'all' };
  if (web) {
    ort.env.wasm.numThreads = job.threads;
    ort.env.wasm.proxy = false;
    options.executionProviders = ['wasm'];
  } else {
    options.intraOpNumThreads = job.threads;
    options.interOpNumThreads = 1;
    options.executionProviders = ['cpu'];
  }
  const { exportOnnx } = await import(dist.href);
  const stateDict = {
    weight_ih_l0: { data: weights.weight_ih_l0, shape: [4 * H, F] },
    weight_hh_l0: { data: weights.weight_hh_l0, shape: [4 * H, H] },
    bias_ih_l0: { data: weights.bias_ih_l0, shape: [4 * H] },
    bias_hh_l0: { data: weights.bias_hh_l0, shape: [4 * H] },
  };
  const bytes = exportOnnx({ lstm: { inputSize: F, hiddenSize: H }, stateDict }, { layerOutputs: ['h_n'], steps: T });
  const session = await ort.InferenceSession.create(bytes, options);
  const x = new ort.Tensor('float32', data.x, [B, T, F]);
  const check = job.referencePath
    ? async () => {
        const ref = deserialize(readFileSync(job.referencePath));
        const b = ref.hN.length / H;
        const out = await session.run({ x: new ort.Tensor('float32', data.x.slice(0, b * T * F), [b, T, F]) });
        const c = compare(out.h_n.data, ref.hN, 1e-3, 1e-2);
        return c.ok
          ? { ok: true, status: 'passed', against: 'cellstate scalar reference (h_T, same weights)', rows: b, maxAbs: c.maxAbs }
          : { ok: false, status: 'failed', why: `h_T: ${c.why}` };
      }
    : undefined;
  return {
    info: {
      engine: 'onnxruntime',
      backend: web ? 'onnxruntime-web (wasm)' : 'onnxruntime-node (native CPU)',
      kernels: web ? (ort.env.wasm.simd === false ? 'wasm' : 'wasm SIMD') : 'MLAS',
      threads: job.threads,
      label: 'LSTM forward (h_T); Transpose to time-major inside the graph',
      input: cfg.oneHot ? 'dense one-hot (B, T, F) tensor' : 'dense',
      runtime:
        `node ${process.versions.node}, ${web ? 'onnxruntime-web' : 'onnxruntime-node'} ${ort.env.versions?.[web ? 'web' : 'node'] ?? ''}`.trim(),
    },
    check,
    samplesPerStep: B,
    step: async () => {
      await session.run({ x });
    },
    dispose: () => session.release(),
  };
}

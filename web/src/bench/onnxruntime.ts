// onnxruntime-web (its wasm build) in the browser, inference only, as bench/engines/onnxruntime.mjs: the model
// is cellstate's own ONNX export of the LSTM layer (a Transpose to time-major inside the graph, one LSTM op,
// output h_n (1, B, H)), on the same weights and dense input as every engine.
import { exportOnnx } from 'cellstate';
import * as ort from 'onnxruntime-web/wasm';
import { compare } from '../../../bench/lib/stats.mjs';
import type { Job, Prepared, Reference, Shared, Urls } from './types';

export async function prepare(job: Job, urls: Urls, { cfg, data, weights }: Shared, ref: Reference): Promise<Prepared> {
  if (job.mode !== 'infer') throw new Error('ONNX Runtime is inference only here');
  const { B, T, F, H } = cfg;
  ort.env.wasm.wasmPaths = { wasm: urls.ortWasm };
  ort.env.wasm.numThreads = job.threads;
  ort.env.wasm.proxy = false;
  const stateDict = {
    weight_ih_l0: { data: weights.weight_ih_l0, shape: [4 * H, F] },
    weight_hh_l0: { data: weights.weight_hh_l0, shape: [4 * H, H] },
    bias_ih_l0: { data: weights.bias_ih_l0, shape: [4 * H] },
    bias_hh_l0: { data: weights.bias_hh_l0, shape: [4 * H] },
  };
  const bytes = exportOnnx({ lstm: { inputSize: F, hiddenSize: H }, stateDict }, { layerOutputs: ['h_n'], steps: T });
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const x = new ort.Tensor('float32', data.x, [B, T, F]);
  return {
    info: {
      engine: 'onnxruntime',
      backend: 'onnxruntime-web (wasm)',
      kernels: 'wasm SIMD',
      threads: job.threads,
      label: 'LSTM forward (h_T); Transpose to time-major inside the graph',
      input: cfg.oneHot ? 'dense one-hot (B, T, F) tensor' : 'dense',
      runtime: `browser, onnxruntime-web ${ort.env.versions?.web ?? ''}`.trim(),
    },
    check: async () => {
      const b = ref.infer.hN.length / H;
      const out = await session.run({ x: new ort.Tensor('float32', data.x.slice(0, b * T * F), [b, T, F]) });
      const c = compare(out.h_n.data as Float32Array, ref.infer.hN, 1e-3, 1e-2);
      return c.ok
        ? { ok: true, status: 'passed', against: 'cellstate scalar reference (h_T, same weights)', rows: b, maxAbs: c.maxAbs }
        : { ok: false, status: 'failed', why: `h_T: ${c.why}` };
    },
    samplesPerStep: B,
    step: () => session.run({ x }),
    dispose: () => session.release(),
  };
}

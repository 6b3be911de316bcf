// TensorFlow.js in the browser, as bench/engines/tfjs.mjs in Node: backends 'cpu' (plain JS) and 'wasm'
// (@tensorflow/tfjs-backend-wasm, XNNPACK). Train = trainOnBatch of LSTM → Dense(1, sigmoid), BCE, Adam;
// infer = the LSTM to h_T. recurrentActivation is a true sigmoid (tfjs defaults to hard_sigmoid); Keras'
// kernel is W_ih^T with gates (i, f, c, o) = PyTorch's (i, f, g, o), one bias = bias_ih + bias_hh.
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { compare } from '../../../bench/lib/stats.mjs';
import type { Job, Prepared, Reference, Shared, Urls } from './types';

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

export async function prepare(job: Job, urls: Urls, { cfg, data, weights }: Shared, ref: Reference): Promise<Prepared> {
  const name = job.variant === 'wasm' ? 'wasm' : 'cpu';
  if (name === 'wasm') {
    setWasmPaths(urls.tfjsWasm);
    // tfjs-backend-wasm 4.22's threaded build starts its pthread workers from a blob of its Emscripten glue,
    // which fails once bundled ("e is not defined"); the SIMD build without threads is what the Node bench measures too.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    setThreadsCount(job.threads);
  }
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
  const { B, T, F, H } = cfg;
  const lstm = tf.layers.lstm({ units: H, recurrentActivation: 'sigmoid' });
  const input = tf.input({ shape: [T, F] });
  const hT = lstm.apply(input) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: hT });
  const bias = new Float32Array(4 * H);
  for (let i = 0; i < 4 * H; i++) bias[i] = weights.bias_ih_l0[i] + weights.bias_hh_l0[i];
  lstm.setWeights([
    tf.tensor2d(transpose(weights.weight_ih_l0, 4 * H, F), [F, 4 * H]),
    tf.tensor2d(transpose(weights.weight_hh_l0, 4 * H, H), [H, 4 * H]),
    tf.tensor1d(bias),
  ]);
  const x = tf.tensor3d(data.x, [B, T, F]);
  const y = tf.tensor2d(data.y, [B, 1]);
  const check = async () => {
    const b = ref.infer.hN.length / H;
    const h = tf.tidy(() => model.predict(x.slice([0, 0, 0], [b, T, F])) as tf.Tensor);
    const c = compare(await h.data(), ref.infer.hN, 1e-3, 1e-2);
    h.dispose();
    return c.ok
      ? { ok: true, status: 'passed' as const, against: 'cellstate scalar reference (h_T, same weights)', rows: b, maxAbs: c.maxAbs }
      : { ok: false, status: 'failed' as const, why: `h_T: ${c.why}` };
  };
  let step: () => Promise<unknown>;
  if (job.mode === 'train') {
    const head = tf.layers.dense({ units: 1, activation: 'sigmoid' }).apply(hT) as tf.SymbolicTensor;
    const trainModel = tf.model({ inputs: input, outputs: head });
    trainModel.compile({ optimizer: tf.train.adam(1e-3), loss: 'binaryCrossentropy' });
    step = () => trainModel.trainOnBatch(x, y);
  } else {
    step = async () => {
      const h = model.predict(x) as tf.Tensor;
      await h.data();
      h.dispose();
    };
  }
  return {
    info: {
      engine: 'tfjs',
      backend: name,
      kernels: name === 'wasm' ? 'tfjs-backend-wasm (XNNPACK, SIMD)' : 'plain JS',
      threads: name === 'wasm' ? getThreadsCount() : 1,
      label: job.mode === 'train' ? 'full train step (LSTM, Dense(1) sigmoid, BCE, Adam; trainOnBatch)' : 'LSTM forward (h_T)',
      input: cfg.oneHot ? 'dense one-hot (B, T, F) tensor' : 'dense',
      runtime: `browser, @tensorflow/tfjs ${tf.version.tfjs}`,
    },
    check,
    samplesPerStep: B,
    step,
    memoryBytes: () => (name === 'wasm' ? ((tf.memory() as { numBytesInWASM?: number }).numBytesInWASM ?? null) : null),
  };
}

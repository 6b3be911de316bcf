// TensorFlow.js: @tensorflow/tfjs (backend 'cpu', plain JS) and @tensorflow/tfjs-backend-wasm.
// Train = one full step: LSTM -> Dense(1, sigmoid) on h_T, binary cross-entropy, Adam (trainOnBatch).
// Infer = the LSTM layer alone, h_T out. recurrentActivation is set to a true sigmoid (tfjs defaults to
// hard_sigmoid); Keras packs gates (i, f, c, o) like PyTorch's (i, f, g, o), kernel = W_ih^T, one bias.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { deserialize } from 'node:v8';
import { compare } from '../lib/stats.mjs';

const require = createRequire(import.meta.url);

function transpose(a, rows, cols) {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

export async function prepare({ job, cfg, data, weights }) {
  const tf = require('@tensorflow/tfjs');
  if (job.variant.startsWith('wasm')) {
    require('@tensorflow/tfjs-backend-wasm');
  }
  const name = job.variant.startsWith('wasm') ? 'wasm' : 'cpu';
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
  const { B, T, F, H } = cfg;
  // Functional models sharing one LSTM layer: `model` gives h_T (checked, timed for infer), `trainModel` adds the head.
  const lstm = tf.layers.lstm({ units: H, recurrentActivation: 'sigmoid' });
  const input = tf.input({ shape: [T, F] });
  const hT = lstm.apply(input);
  const model = tf.model({ inputs: input, outputs: hT });
  const bias = new Float32Array(4 * H);
  for (let i = 0; i < 4 * H; i++) bias[i] = weights.bias_ih_l0[i] + weights.bias_hh_l0[i];
  const setLstmWeights = () =>
    lstm.setWeights([
      tf.tensor2d(transpose(weights.weight_ih_l0, 4 * H, F), [F, 4 * H]),
      tf.tensor2d(transpose(weights.weight_hh_l0, 4 * H, H), [H, 4 * H]),
      tf.tensor1d(bias),
    ]);
  setLstmWeights();
  const x = tf.tensor3d(data.x, [B, T, F]);
  const y = tf.tensor2d(data.y, [B, 1]);
  const check = job.referencePath
    ? async () => {
        const ref = deserialize(readFileSync(job.referencePath));
        const b = ref.hN.length / H;
        const h = tf.tidy(() => model.predict(x.slice([0, 0, 0], [b, T, F])));
        const c = compare(await h.data(), ref.hN, 1e-3, 1e-2);
        h.dispose();
        return c.ok
          ? { ok: true, status: 'passed', against: 'cellstate scalar reference (h_T, same weights)', rows: b, maxAbs: c.maxAbs }
          : { ok: false, status: 'failed', why: `h_T: ${c.why}` };
      }
    : undefined;
  let step;
  if (job.mode === 'train') {
    const head = tf.layers.dense({ units: 1, activation: 'sigmoid' }).apply(hT);
    const trainModel = tf.model({ inputs: input, outputs: head });
    trainModel.compile({ optimizer: tf.train.adam(1e-3), loss: 'binaryCrossentropy' });
    step = async () => {
      await trainModel.trainOnBatch(x, y);
    };
  } else {
    step = async () => {
      const h = model.predict(x);
      await h.data();
      h.dispose();
    };
  }
  const wasmThreads = name === 'wasm' && tf.backend().getThreadsCount ? tf.backend().getThreadsCount?.() : null;
  return {
    info: {
      engine: 'tfjs',
      backend: name === 'wasm' ? (job.variant === 'wasm-malloc' ? 'wasm (MALLOC_* raised)' : 'wasm') : 'cpu',
      kernels: name === 'wasm' ? 'tfjs-backend-wasm (XNNPACK, SIMD)' : 'plain JS',
      threads: wasmThreads ?? 1,
      label: job.mode === 'train' ? 'full train step (LSTM, Dense(1) sigmoid, BCE, Adam; trainOnBatch)' : 'LSTM forward (h_T)',
      input: cfg.oneHot ? 'dense one-hot (B, T, F) tensor' : 'dense',
      runtime: `node ${process.versions.node}, @tensorflow/tfjs ${tf.version.tfjs}`,
    },
    check,
    samplesPerStep: B,
    step,
    memoryBytes: () => (name === 'wasm' ? (tf.memory().numBytesInWASM ?? null) : null),
  };
}

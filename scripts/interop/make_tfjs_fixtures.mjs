// Writes TF.js Layers fixtures (model.json + weights.bin, as model.save writes them) with the outputs of
// TF.js itself, for test/interop/keras.test.ts. Uses the benchmark's @tensorflow/tfjs (pure JS, cpu
// backend): `npm ci --prefix bench --ignore-scripts`, then `node scripts/interop/make_tfjs_fixtures.mjs`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(new URL('../../bench/package.json', import.meta.url));
const tf = require('@tensorflow/tfjs');
await tf.setBackend('cpu');
const out = new URL('../../test/interop/fixtures/tfjs/', import.meta.url).pathname;

const V = 30;
const T = 9;
const models = {
  // Embedding → LSTM → Dense(1, sigmoid): the notebook's shape in Keras.
  'embedding-lstm': () =>
    tf.sequential({ layers: [tf.layers.embedding({ inputDim: V, outputDim: 6, inputLength: T }), tf.layers.lstm({ units: 5, recurrentActivation: 'sigmoid' }), tf.layers.dense({ units: 1, activation: 'sigmoid' })] }),
  // Embedding(mask_zero) → Bidirectional(LSTM, return_sequences) → LSTM → Dense(8, relu) → Dense(3, softmax).
  'bilstm-stacked-mask': () =>
    tf.sequential({
      layers: [
        tf.layers.embedding({ inputDim: V, outputDim: 4, inputLength: T, maskZero: true }),
        tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3, returnSequences: true, recurrentActivation: 'sigmoid' }), mergeMode: 'concat' }),
        tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3, recurrentActivation: 'sigmoid' }), mergeMode: 'concat' }),
        tf.layers.dense({ units: 8, activation: 'relu' }),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    }),
  // Float features → LSTM(return_sequences) → GlobalMaxPooling1D → Dense(2).
  'dense-lstm-maxpool': () =>
    tf.sequential({ layers: [tf.layers.lstm({ units: 4, returnSequences: true, recurrentActivation: 'sigmoid', inputShape: [T, 3] }), tf.layers.globalMaxPooling1d(), tf.layers.dense({ units: 2 })] }),
  // TF.js's (and old Keras') default gates: hard_sigmoid, which cellstate must refuse. The others ask for sigmoid.
  'hard-sigmoid': () =>
    tf.sequential({ layers: [tf.layers.embedding({ inputDim: V, outputDim: 3, inputLength: T }), tf.layers.lstm({ units: 2, recurrentActivation: 'hardSigmoid' }), tf.layers.dense({ units: 1 })] }),
};

let seed = 7;
const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
for (const [name, make] of Object.entries(models)) {
  const model = make();
  // Non-default biases, so the bias mapping is checked too.
  for (const w of model.weights) if (w.name.endsWith('bias')) w.write(tf.randomUniform(w.shape, -0.5, 0.5, 'float32', 3));
  const dense = name.startsWith('dense');
  const xData = dense
    ? Float32Array.from({ length: 4 * T * 3 }, () => rand() * 2 - 1)
    : Int32Array.from({ length: 4 * T }, (_, i) => (i % T < 2 + ((i / T) | 0) * 2 ? 1 + Math.floor(rand() * (V - 1)) : 0));
  const x = dense ? tf.tensor3d(xData, [4, T, 3]) : tf.tensor2d(xData, [4, T], 'int32');
  const y = model.predict(x);
  let artifacts;
  await model.save(tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
  const dir = join(out, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`, modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] }));
  writeFileSync(join(dir, 'weights.bin'), new Uint8Array(artifacts.weightData));
  writeFileSync(join(dir, 'expected.json'), JSON.stringify({ about: `outputs of TF.js ${tf.version.tfjs} (cpu backend) model.predict`, x: { shape: x.shape, data: Array.from(xData) }, output: { shape: y.shape, data: Array.from(y.dataSync()) } }));
  console.log(`${name}: ${artifacts.weightSpecs.map((w) => `${w.name} [${w.shape}]`).join(', ')}`);
}

// The cellstate side of scripts/interop-check (uses dist/; never run in CI).
//   cellstate_side.mjs prepare DIR   train small cellstate models on the IMDB sample, save them (DIR/cs-*/model),
//                                    export each to ONNX (DIR/cs-*/model.onnx), write inputs and predictions
//   cellstate_side.mjs verify DIR    load the PyTorch-trained model (DIR/fixtures/torch-trained.*) and import
//                                    the torch.onnx.export graphs; compare with PyTorch's outputs
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeSafetensors,
  exportOnnx,
  importOnnx,
  init,
  loadImdb,
  padSequences,
  saveModel,
  SequenceModel,
} from '../../dist/index.js';

const [cmd, dir] = process.argv.slice(2);
await init();

function maxAbs(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const rec = (data, shape, dtype) => ({ shape, data: Array.from(data), ...(dtype ? { dtype } : {}) });

async function prepare() {
  const imdb = await loadImdb({ sample: true, numWords: 300 });
  const rows = (split, n) => Array.from({ length: n }, (_, i) => Array.from(split.ids.subarray(split.offsets[i], split.offsets[i + 1])));
  const train = rows(imdb.train, 2000);
  const test = rows(imdb.test, 64);
  const labels = Float32Array.from(imdb.train.labels);
  const cases = [
    {
      name: 'cs-seed-onehot-last',
      config: { input: 'one-hot', vocabSize: 300, lstm: { hiddenSize: 16 }, output: { units: 1, activation: 'sigmoid' } },
      padding: 'post',
    },
    {
      name: 'cs-embedding-bilstm-mask-max',
      config: { input: { embedding: 16 }, vocabSize: 300, lstm: { hiddenSize: 8, bidirectional: true }, pooling: 'max', mask: true, dropout: 0.2, output: { units: 1, activation: 'sigmoid' } },
      padding: 'pre',
    },
    {
      name: 'cs-embedding-bilstm-mask-maxmean',
      config: { input: { embedding: 12, dropout: 0.1 }, vocabSize: 300, lstm: { hiddenSize: 6, bidirectional: true }, pooling: 'max-mean', mask: true, dropout: 0.2, output: { units: 1, activation: 'sigmoid' } },
      padding: 'post',
    },
    {
      name: 'cs-stacked-bilstm-lengths-mean-head',
      config: { input: { embedding: 8, paddingIdx: 0 }, vocabSize: 300, lstm: { hiddenSize: 6, numLayers: 2, bidirectional: true }, pooling: 'mean', head: [{ units: 4, activation: 'relu' }], output: { units: 1, activation: 'sigmoid' } },
      padding: 'post',
      lengths: true,
    },
    {
      name: 'cs-dense-tagger-lengths',
      config: { input: { features: 3 }, lstm: { hiddenSize: 5 }, pooling: 'sequence', head: [{ units: 4, activation: 'tanh' }], output: { units: 2, activation: 'linear' } },
      lengths: true,
    },
  ];
  for (const c of cases) {
    const t0 = Date.now();
    if (c.config.input.features) {
      await tagger(c, t0);
      continue;
    }
    const x = padSequences(train, { maxlen: 80, padding: c.padding, truncating: c.padding });
    const xt = padSequences(test, { maxlen: 80, padding: c.padding, truncating: c.padding });
    const model = new SequenceModel(c.config);
    const input = { data: x.data, shape: [2000, 80], ...(c.lengths ? { lengths: x.lengths } : {}) };
    const h = await model.fit(input, labels, { epochs: 3, batchSize: 64, optimizer: { type: 'adam', lr: 1e-2 } });
    const out = join(dir, c.name);
    mkdirSync(out, { recursive: true });
    await saveModel(model, join(out, 'model'));
    writeFileSync(join(out, 'model.onnx'), exportOnnx(model, { lengths: !!c.lengths }));
    const xin = { data: xt.data, shape: [64, 80], ...(c.lengths ? { lengths: xt.lengths } : {}) };
    const p = model.predict(xin);
    writeFileSync(
      join(out, 'case.json'),
      JSON.stringify({ x: rec(xt.data, [64, 80], 'int'), lengths: c.lengths ? Array.from(xt.lengths) : null, output: rec(p.data, p.shape) }),
    );
    const e = h.epochs.at(-1);
    console.log(`cellstate           ${c.name.padEnd(36)} trained 3 epochs on 2,000 sample reviews in ${((Date.now() - t0) / 1000).toFixed(1)} s (loss ${e.loss.toFixed(3)}, accuracy ${(100 * e.accuracy).toFixed(1)}%), saved, exported to ONNX`);
    model.dispose();
  }
}

// A per-step regressor on float features: the targets are a running sum and the current value.
async function tagger(c, t0) {
  const [n, T, F] = [256, 12, 3];
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const x = Float32Array.from({ length: n * T * F }, rand);
  const y = new Float32Array(n * T * 2);
  for (let b = 0; b < n; b++) {
    let acc = 0;
    for (let s = 0; s < T; s++) {
      acc += x[(b * T + s) * F];
      y[(b * T + s) * 2] = acc / 4;
      y[(b * T + s) * 2 + 1] = x[(b * T + s) * F + 1];
    }
  }
  const lengths = Int32Array.from({ length: n }, (_, b) => 1 + (b % T));
  const model = new SequenceModel(c.config);
  const h = await model.fit({ data: x, shape: [n, T, F], lengths }, { data: y, shape: [n, T, 2] }, { epochs: 20, batchSize: 32, optimizer: { type: 'adam', lr: 1e-2 } });
  const out = join(dir, c.name);
  mkdirSync(out, { recursive: true });
  await saveModel(model, join(out, 'model'));
  writeFileSync(join(out, 'model.onnx'), exportOnnx(model, { lengths: true }));
  const xin = { data: x.slice(0, 16 * T * F), shape: [16, T, F], lengths: lengths.slice(0, 16) };
  const p = model.predict(xin);
  writeFileSync(join(out, 'case.json'), JSON.stringify({ x: rec(xin.data, xin.shape), lengths: Array.from(xin.lengths), output: rec(p.data, p.shape) }));
  console.log(`cellstate           ${c.name.padEnd(36)} trained 20 epochs on 256 random sequences in ${((Date.now() - t0) / 1000).toFixed(1)} s (MSE ${h.epochs.at(-1).loss.toFixed(4)}), saved, exported to ONNX`);
  model.dispose();
}

async function verify() {
  const fx = join(dir, 'fixtures');
  let worst = 0;
  const t = JSON.parse(readFileSync(join(fx, 'torch-trained.json'), 'utf8'));
  const weights = decodeSafetensors(readFileSync(join(fx, 'torch-trained.safetensors'))).tensors;
  const model = new SequenceModel(t.config);
  model.loadStateDict(weights);
  const got = model.predict({ data: Int32Array.from(t.x.data), shape: t.x.shape });
  const d = maxAbs(got.data, t.output.data);
  worst = Math.max(worst, d);
  console.log(`torch -> cellstate  torch-trained.safetensors loadStateDict(strict) ok, max |cellstate - torch| = ${d.toExponential(2)}`);
  model.dispose();
  let worstOnnx = 0;
  for (const kind of ['seed', 'strong', 'stacked', 'tagger', 'mean', 'maxmean']) {
    const ref = JSON.parse(readFileSync(join(fx, `torch-${kind}.json`), 'utf8'));
    const m = importOnnx(readFileSync(join(fx, `torch-${kind}.onnx`)));
    let k = 0;
    for (const c of ref.cases) {
      const x = ref.input === 'tokens' ? { data: Int32Array.from(c.x.data), shape: c.x.shape } : { data: Float32Array.from(c.x.data), shape: c.x.shape };
      k = Math.max(k, maxAbs(m.predict(x).data, c.output.data));
    }
    worstOnnx = Math.max(worstOnnx, k);
    console.log(`ONNX -> cellstate   torch-${kind}.onnx imported (${JSON.stringify(m.config.lstm)}, pooling ${m.config.pooling}), max |cellstate - torch| = ${k.toExponential(2)}`);
    m.dispose();
  }
  console.log(`MAX torch->cellstate ${worst.toExponential(3)}`);
  console.log(`MAX onnx->cellstate ${worstOnnx.toExponential(3)}`);
}

if (cmd === 'prepare') await prepare();
else if (cmd === 'verify') await verify();
else {
  console.error(`unknown command ${cmd}`);
  process.exit(2);
}

// The browser test page: imports the published browser entry as a plain ES module (no bundler), loads the
// wasm backend the way `?wasm=` says, and exposes `runCase(name)` for the test to call via page.evaluate.
//   ?wasm=url       init() with no source: Chromium validates relaxed SIMD, so the entry must fetch
//                   dist/cellstate_wasm_relaxed_bg.wasm beside itself
//   ?wasm=simd128   init({ wasmFeatures: 'simd128' }): the plain build, dist/cellstate_wasm_bg.wasm
//   ?wasm=bytes     init({ wasm: ArrayBuffer }) from /raw/module.bin (served as octet-stream)
//   ?wasm=response  init({ wasm: Response }) from /raw/module.wasm served as application/wasm
import { init, LSTM, liveHandles, loadImdb, loadModel, padSequences, saveModel, sequenceClassifier } from '/dist/browser.js';

async function wasmOption(mode) {
  if (mode === 'url') return {};
  if (mode === 'simd128') return { wasmFeatures: 'simd128' };
  if (mode === 'bytes') return { wasm: await (await fetch('/raw/module.bin')).arrayBuffer() };
  if (mode === 'response') return { wasm: await fetch('/raw/module.wasm') };
  throw new Error(`unknown ?wasm=${mode}`);
}

const f32 = (t) => ({ data: Float32Array.from(t.data), shape: t.shape });
const plain = (t) => ({ data: Array.from(t.data), shape: t.shape });

/** Forward and backward of one torch-lstm fixture; every tensor comes back as plain arrays. */
async function runCase(name) {
  const c = await (await fetch(`/fixtures/${name}.json`)).json();
  const { inputSize, hiddenSize, numLayers, bidirectional, lengths } = c.config;
  const lstm = new LSTM({ inputSize, hiddenSize, numLayers, bidirectional });
  lstm.loadStateDict(Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, f32(v)])));
  const { x, h0, c0 } = c.inputs;
  const out = lstm.forward(f32(x), { h0: h0 && f32(h0), c0: c0 && f32(c0), lengths: lengths ?? undefined });
  const u = c.upstream;
  const g = lstm.backward({ output: f32(u.output), hN: f32(u.h_n), cN: f32(u.c_n) });
  const result = {
    output: plain(out.output),
    h_n: plain(out.hN),
    c_n: plain(out.cN),
    grads: {
      x: plain(g.x),
      h0: plain(g.h0),
      c0: plain(g.c0),
      ...Object.fromEntries(Object.entries(g.params).map(([k, v]) => [k, plain(v)])),
    },
  };
  lstm.dispose();
  return result;
}

/**
 * The whole job in the page: the shipped IMDB sample streamed from a URL (gunzip + tar via
 * DecompressionStream), padded, one epoch of the notebook's model, then saved to IndexedDB and loaded back.
 */
async function trainAndStore() {
  const { train, test, wordIndex } = await loadImdb({ source: '/data/imdb-sample.tar.gz', numWords: 300, trainSize: 512, testSize: 256 });
  const pad = (s) => padSequences(s, { maxlen: 100, padding: 'post', truncating: 'post' });
  const model = sequenceClassifier({ input: 'one-hot', vocabSize: 300, lstm: { hiddenSize: 16 }, seed: 1 });
  const history = await model.fit(pad(train), train.labels, { epochs: 1, batchSize: 64 });
  const xTest = pad(test);
  const before = model.predict(xTest);
  await saveModel(model, { indexedDB: 'browser-test' });
  const loaded = await loadModel({ indexedDB: 'browser-test' });
  const after = loaded.predict(xTest);
  const text = wordIndex.decode(wordIndex.encode('this movie is good'));
  model.dispose();
  loaded.dispose();
  return {
    reviews: [train.labels.length, test.labels.length],
    loss: history.epochs[0].loss,
    same: before.data.length === after.data.length && before.data.every((v, i) => v === after.data[i]),
    text,
  };
}

const mode = new URLSearchParams(location.search).get('wasm') ?? 'url';
window.cellstateReady = (async () => {
  const backend = await init(await wasmOption(mode));
  window.runCase = runCase;
  window.trainAndStore = trainAndStore;
  window.liveHandles = liveHandles;
  return { name: backend.name, kernels: backend.kernels, memoryBytes: backend.memoryBytes() };
})();

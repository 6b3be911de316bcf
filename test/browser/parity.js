// The browser test page: imports the published browser entry as a plain ES module (no bundler), loads the
// wasm backend the way `?wasm=` says, and exposes `runCase(name)` for the test to call via page.evaluate.
//   ?wasm=url       init() with no source: Chromium validates relaxed SIMD, so the entry must fetch
//                   dist/cellstate_wasm_relaxed_bg.wasm beside itself
//   ?wasm=simd128   init({ wasmFeatures: 'simd128' }): the plain build, dist/cellstate_wasm_bg.wasm
//   ?wasm=bytes     init({ wasm: ArrayBuffer }) from /raw/module.bin (served as octet-stream)
//   ?wasm=response  init({ wasm: Response }) from /raw/module.wasm served as application/wasm
//   ?wasm=threads   init({ wasmThreads: 2 }): the threads build, dist/cellstate_wasm_threads_bg.wasm, and one
//                   worker (dist/wasm-thread.browser.js); needs a cross-origin isolated page
import { init, LSTM, liveHandles, loadImdb, loadModel, padSequences, saveModel, sequenceClassifier } from '/dist/browser.js';

async function wasmOption(mode) {
  if (mode === 'url') return {};
  if (mode === 'threads') return { wasmThreads: 2 };
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

/**
 * Forward and backward of a layer big enough to split (each step's products above the pool's 4 MiFLOP threshold;
 * H 384 puts the recurrence on a team), on 1 and then 2 threads: whether every output and gradient has the same bits.
 */
function sameBitsOnThreads(backend) {
  const shapes = [
    { B: 32, T: 8, F: 40, H: 128 },
    { B: 4, T: 3, F: 8, H: 384 },
  ];
  const differences = [];
  for (const { B, T, F, H } of shapes) {
    let s = 7;
    const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    const x = { data: Float32Array.from({ length: B * T * F }, rand), shape: [B, T, F] };
    const gy = { data: Float32Array.from({ length: B * T * H }, rand), shape: [B, T, H] };
    const run = (threads) => {
      backend.setThreads(threads);
      const lstm = new LSTM({ inputSize: F, hiddenSize: H, seed: 3, batchFirst: true });
      const f = lstm.forward(x);
      const g = lstm.backward({ output: gy });
      const out = { output: f.output.data, hN: f.hN.data, dX: g.x.data };
      for (const [k, v] of Object.entries(g.params)) out[`d_${k}`] = v.data;
      lstm.dispose();
      return out;
    };
    const one = run(1);
    const two = run(2);
    for (const k of Object.keys(one)) {
      const a = new Uint32Array(one[k].buffer, one[k].byteOffset, one[k].length);
      const b = new Uint32Array(two[k].buffer, two[k].byteOffset, two[k].length);
      if (a.length !== b.length || a.some((v, i) => v !== b[i])) differences.push(`H ${H} ${k}`);
    }
  }
  return { threads: backend.threads, differences };
}

const mode = new URLSearchParams(location.search).get('wasm') ?? 'url';
window.cellstateReady = (async () => {
  const backend = await init(await wasmOption(mode));
  window.sameBitsOnThreads = () => sameBitsOnThreads(backend);
  window.runCase = runCase;
  window.trainAndStore = trainAndStore;
  window.liveHandles = liveHandles;
  return {
    name: backend.name,
    kernels: backend.kernels,
    wasmBuild: backend.wasmBuild,
    threads: backend.threads,
    memoryBytes: backend.memoryBytes(),
  };
})();

// The worker test page: imports dist/browser.js with no bundler, loads the shipped IMDB sample through
// `loadImdb({ sample: true })` (found beside the package's files), then trains the notebook's model for
// one epoch on this thread and in a module worker (`createTrainer`), while a 10 ms interval and a rAF loop
// record the longest time the main thread was unavailable.
import { createTrainer, init, loadImdb, loadModel, padSequences, saveModel, sequenceClassifier } from '/dist/browser.js';

const config = { input: 'one-hot', vocabSize: 300, lstm: { hiddenSize: 16 }, output: { units: 1, activation: 'sigmoid' }, seed: 1 };
const fitOptions = { epochs: 1, batchSize: 64 };

/** Runs `job` while measuring the longest gap between 10 ms interval ticks and between animation frames. */
async function measured(job) {
  let lastTick = performance.now();
  let maxTick = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxTick = Math.max(maxTick, now - lastTick);
    lastTick = now;
  }, 10);
  let lastFrame = performance.now();
  let maxFrame = 0;
  let frames = true;
  const frame = (now) => {
    maxFrame = Math.max(maxFrame, now - lastFrame);
    lastFrame = now;
    if (frames) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  const start = performance.now();
  const result = await job();
  const ms = performance.now() - start;
  clearInterval(timer);
  frames = false;
  return { result, ms, maxIntervalGap: maxTick, maxFrameGap: maxFrame };
}

let data = null;
async function dataset() {
  if (!data) {
    const { train } = await loadImdb({ sample: true, numWords: 300 });
    data = { x: padSequences(train, { maxlen: 100, padding: 'post', truncating: 'post' }), y: train.labels };
  }
  return data;
}

async function trainOnPage() {
  const { x, y } = await dataset();
  const model = sequenceClassifier(config);
  const losses = [];
  const m = await measured(() => model.fit(x, y, { ...fitOptions, callbacks: { onBatchEnd: (l) => void losses.push(l.loss) } }));
  const probs = Array.from(model.predict(x).data.subarray(0, 8));
  model.dispose();
  return { losses, probs, ms: m.ms, maxIntervalGap: m.maxIntervalGap, maxFrameGap: m.maxFrameGap, reviews: y.length };
}

async function trainInWorker() {
  const { x, y } = await dataset();
  const trainer = await createTrainer();
  const losses = [];
  const m = await measured(() => trainer.fit(config, x, y, { ...fitOptions, onBatchEnd: (l) => void losses.push(l.loss) }));
  const model = await loadModel(m.result.model);
  const probs = Array.from(model.predict(x).data.subarray(0, 8));
  const inWorker = Array.from((await trainer.predict(m.result.model, x)).data.subarray(0, 8));
  await saveModel(model, { indexedDB: 'worker-test' });
  const stored = await loadModel({ indexedDB: 'worker-test' });
  const storedSame = stored
    .predict(x)
    .data.subarray(0, 8)
    .every((v, i) => v === probs[i]);
  // Aborted mid-epoch: resolves with what was trained.
  const controller = new AbortController();
  let seen = 0;
  const aborted = await trainer.fit(config, x, y, {
    epochs: 5,
    batchSize: 64,
    signal: controller.signal,
    onBatchEnd: () => {
      if (++seen === 2) controller.abort();
    },
  });
  let error = null;
  try {
    await trainer.fit(config, x, y.subarray(1), fitOptions);
  } catch (e) {
    error = { name: e.name, code: e.code, message: e.message };
  }
  trainer.terminate();
  model.dispose();
  stored.dispose();
  return {
    backend: trainer.backend,
    losses,
    probs,
    inWorker,
    storedSame,
    stopReason: aborted.history.stopReason,
    error,
    ms: m.ms,
    maxIntervalGap: m.maxIntervalGap,
    maxFrameGap: m.maxFrameGap,
  };
}

// Data-parallel: createTrainer({ workers: 2 }) runs fit's loop here and each batch's gradients in two module
// workers (dist/parallel-worker.browser.js); one more epoch with workers: 1 gives the figures to compare.
async function trainParallel() {
  const { x, y } = await dataset();
  const trainer = await createTrainer({ workers: 2 });
  const losses = [];
  const m = await measured(() => trainer.fit(config, x, y, { ...fitOptions, onBatchEnd: (l) => void losses.push(l.loss) }));
  const again = await trainer.fit(config, x, y, fitOptions);
  const model = await loadModel(m.result.model);
  const probs = Array.from(model.predict(x).data.subarray(0, 8));
  const split = Array.from((await trainer.predict(m.result.model, x, { batchSize: 100 })).data.subarray(0, 8));
  const controller = new AbortController();
  let seen = 0;
  const aborted = await trainer.fit(config, x, y, {
    epochs: 5,
    batchSize: 64,
    signal: controller.signal,
    onBatchEnd: () => {
      if (++seen === 2) controller.abort();
    },
  });
  const errors = [];
  for (const bad of [
    () => trainer.fit(config, x, y.subarray(1), fitOptions),
    // Token ids past the vocabulary: refused by the core inside a worker.
    () => trainer.fit(config, { data: x.data.map((t) => t + 300), shape: x.shape, lengths: x.lengths }, y, fitOptions),
  ]) {
    try {
      await bad();
      errors.push(null);
    } catch (e) {
      errors.push({ name: e.name, code: e.code });
    }
  }
  trainer.terminate();
  model.dispose();
  const one = await createTrainer({ workers: 1 });
  const single = await one.fit(config, x, y, fitOptions);
  one.terminate();
  return {
    workers: trainer.workers,
    backend: trainer.backend,
    losses,
    probs,
    split,
    repeatSame: new Uint8Array(again.model).every((v, i) => v === new Uint8Array(m.result.model)[i]),
    stopReason: aborted.history.stopReason,
    abortedAfter: seen,
    errors,
    samplesPerSecond: m.result.history.epochs[0].samplesPerSecond,
    singleSamplesPerSecond: single.history.epochs[0].samplesPerSecond,
    ms: m.ms,
    maxIntervalGap: m.maxIntervalGap,
    maxFrameGap: m.maxFrameGap,
  };
}

window.workerPageReady = (async () => {
  const backend = await init();
  window.trainOnPage = trainOnPage;
  window.trainInWorker = trainInWorker;
  window.trainParallel = trainParallel;
  return { name: backend.name, kernels: backend.kernels };
})();

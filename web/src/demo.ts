// The demo page: classify typed text with the pretrained model (or one trained or loaded here), train in
// workers with a live chart, save / download / load models. Heavy work runs in workers (data-worker.ts, and
// cellstate's createTrainer behind trainer.ts); the main thread predicts the one review being typed and, with
// several workers, sums their gradients and steps the optimiser (work the size of the weights, once a batch).
import { type BatchLogs, type EpochLogs, type SequenceModel, init, loadModel, relaxedSimdSupported, saveModel } from 'cellstate';
import { Chart, frameUpdater } from './charts';
import type { DataMessage, DataRequest, PaddedSplit } from './data-worker';
import { explain } from './explain';
import { loadPickedFiles, loadShippedModel } from './model-files';
import { PRESETS, type Preset } from './presets';
import { allCores, createPageTrainer } from './trainer';
import { ReviewEncoder, VOCAB_META_KEY, type VocabFile, checkVocab } from './vocab';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const base = new URL('./', document.baseURI);
// The relaxed-SIMD build where the browser validates it (fused multiply-add), else SIMD128; the page and every
// worker load the same file.
const wasmUrl = new URL(`cellstate/${relaxedSimdSupported() ? 'cellstate_wasm_relaxed_bg.wasm' : 'cellstate_wasm_bg.wasm'}`, base).href;
const IDB_KEY = 'cellstate-demo-model';
const IDB_VOCAB = 'cellstate-demo-vocab';

interface Active {
  model: SequenceModel;
  encoder: ReviewEncoder | null;
  about: string;
}
let active: Active | null = null;
let pretrainedAbout = '';

/** What tests and curious visitors can read: the main thread's longest pause while training, and the last result. */
const probe = { maxGapMs: 0, training: false, batchLosses: [] as number[], epochs: [] as EpochLogs[], lastProbability: NaN };
(window as unknown as { cellstateDemo: typeof probe }).cellstateDemo = probe;

function setActive(next: Active): void {
  if (active && active.model !== next.model) active.model.dispose();
  active = next;
  $('model-line').textContent = next.about;
  classifyNow();
}

// ---- classification -------------------------------------------------------------------------------------

function colour(effect: number, scale: number): string {
  const a = Math.min(1, Math.abs(effect) / scale) * 0.6;
  return effect >= 0 ? `rgba(26, 143, 76, ${a.toFixed(3)})` : `rgba(200, 55, 45, ${a.toFixed(3)})`;
}

function classifyNow(): void {
  const text = $<HTMLTextAreaElement>('review').value;
  const out = $('explained');
  if (!active) return;
  if (!active.encoder) {
    $('prob').textContent = '–';
    $('verdict').textContent = 'This model came without a vocab.json: it cannot read text.';
    out.replaceChildren();
    return;
  }
  const e = explain(active.model, active.encoder, text);
  probe.lastProbability = e.probability;
  $('prob').textContent = e.tokens ? `${(100 * e.probability).toFixed(1)}%` : '–';
  $('prob-fill').style.left = `${(100 * e.probability).toFixed(1)}%`;
  $('verdict').textContent = !e.tokens
    ? 'Type a review.'
    : e.probability >= 0.5
      ? e.probability > 0.8
        ? 'Positive'
        : 'Leaning positive'
      : e.probability < 0.2
        ? 'Negative'
        : 'Leaning negative';
  $('verdict').className = `verdict-text ${e.probability >= 0.5 ? 'ok' : 'bad'}`;
  const scale = Math.max(0.02, ...e.chunks.map((c) => Math.abs(c.effect ?? 0)));
  out.replaceChildren(
    ...e.chunks.map((c) => {
      if (!c.ids.length) return document.createTextNode(c.text);
      const s = document.createElement('span');
      s.className = `w${c.unknown ? ' oov' : ''}`;
      s.textContent = c.text;
      if (c.effect !== null) {
        s.style.background = colour(c.effect, scale);
        s.title = `${c.effect >= 0 ? '+' : '−'}${Math.abs(100 * c.effect).toFixed(1)} points${c.unknown ? ' (out of vocabulary)' : ''}`;
        s.dataset.effect = c.effect.toFixed(5);
      }
      return s;
    }),
  );
  $('seen').textContent =
    e.tokens > e.seen ? `The model reads ${e.seen} of your ${e.tokens} tokens (its maxlen).` : e.tokens ? `${e.tokens} tokens.` : '';
}

let debounce = 0;
$('review').addEventListener('input', () => {
  clearTimeout(debounce);
  debounce = window.setTimeout(classifyNow, 120);
});

// ---- models -------------------------------------------------------------------------------------------

function bundleOf(a: Active): ArrayBuffer {
  const meta: Record<string, string> = { 'cellstate.web.about': a.about };
  if (a.encoder) meta[VOCAB_META_KEY] = JSON.stringify(a.encoder.vocab);
  return a.model.toArrayBuffer(meta);
}

function modelStatus(text: string, error = false): void {
  $('model-status').textContent = text;
  $('model-status').className = `status${error ? ' error' : ''}`;
}

async function usePretrained(): Promise<void> {
  const shipped = await loadShippedModel(new URL('model/', base));
  const acc = Number(shipped.metrics.testAccuracy);
  const data = shipped.metrics.data as { train?: number; test?: number } | undefined;
  pretrainedAbout =
    `Model: pretrained by \`cellstate imdb train\` on ${data?.train?.toLocaleString('en') ?? '?'} IMDB training reviews ` +
    `(Embedding 16 → LSTM 16 → max pooling, 3,000 words): ${(100 * acc).toFixed(1)}% accuracy on ` +
    `${data?.test?.toLocaleString('en') ?? '?'} test reviews.`;
  setActive({ model: shipped.model, encoder: new ReviewEncoder(shipped.vocab!), about: pretrainedAbout });
}

$('use-pretrained').addEventListener('click', () => {
  usePretrained().then(
    () => modelStatus('Using the pretrained model.'),
    (e: Error) => modelStatus(e.message, true),
  );
});

$('save-idb').addEventListener('click', async () => {
  if (!active) return;
  try {
    await saveModel(active.model, { indexedDB: IDB_KEY }, { 'cellstate.web.about': active.about });
    // loadModel gives the model back without the bundle's extra metadata, so the vocab is kept beside it.
    if (active.encoder) localStorage.setItem(IDB_VOCAB, JSON.stringify(active.encoder.vocab));
    else localStorage.removeItem(IDB_VOCAB);
    localStorage.setItem(`${IDB_VOCAB}-about`, active.about);
    modelStatus(`Saved in this browser's IndexedDB under "${IDB_KEY}".`);
  } catch (e) {
    modelStatus(`Saving failed: ${(e as Error).message}`, true);
  }
});

$('load-idb').addEventListener('click', async () => {
  try {
    const model = await loadModel({ indexedDB: IDB_KEY });
    const v = localStorage.getItem(IDB_VOCAB);
    const about = localStorage.getItem(`${IDB_VOCAB}-about`) ?? 'Model: loaded from this browser.';
    setActive({ model, encoder: v ? new ReviewEncoder(checkVocab(JSON.parse(v), 'the saved vocab')) : null, about });
    modelStatus('Loaded from this browser.');
  } catch (e) {
    modelStatus(`Nothing loaded: ${(e as Error).message}`, true);
  }
});

$('download').addEventListener('click', () => {
  if (!active) return;
  const url = URL.createObjectURL(new Blob([bundleOf(active)], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = 'cellstate-sentiment.safetensors';
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  modelStatus('Downloaded: one safetensors file with the config and the vocab in its metadata.');
});

$<HTMLInputElement>('model-files').addEventListener('change', async (ev) => {
  const input = ev.target as HTMLInputElement;
  const files = [...(input.files ?? [])];
  input.value = '';
  if (!files.length) return;
  try {
    const got = await loadPickedFiles(files);
    const vocab: VocabFile | null = got.vocab;
    setActive({ model: got.model, encoder: vocab ? new ReviewEncoder(vocab) : null, about: `Model: loaded from ${got.name}.` });
    modelStatus(vocab ? `Loaded ${got.name}.` : `Loaded ${got.name}, but without a vocab.json it cannot read text.`, !vocab);
  } catch (e) {
    modelStatus(`Could not load ${files.map((f) => f.name).join(' + ')}: ${(e as Error).message}`, true);
  }
});

// ---- training -----------------------------------------------------------------------------------------

const presetSelect = $<HTMLSelectElement>('preset');
for (const p of Object.values(PRESETS)) presetSelect.add(new Option(p.label, p.id));
const preset = (): Preset => PRESETS[presetSelect.value as Preset['id']];
const showPreset = () => {
  $('preset-note').textContent = preset().summary;
  $<HTMLInputElement>('epochs').value = String(preset().fit.epochs);
};
presetSelect.addEventListener('change', showPreset);
showPreset();

let pickedData: File[] = [];
$<HTMLSelectElement>('data-source').addEventListener('change', (e) => {
  if ((e.target as HTMLSelectElement).value === 'file') $('data-file').click();
});
$<HTMLInputElement>('data-file').addEventListener('change', (e) => {
  pickedData = [...((e.target as HTMLInputElement).files ?? [])];
  const main = pickedData.find((f) => !f.name.endsWith('.json'));
  $('data-note').textContent = main ? `Picked ${pickedData.map((f) => f.name).join(' + ')}.` : 'Pick a .tar.gz or .npz.';
  if (!main) $<HTMLSelectElement>('data-source').value = 'sample';
});

const chart = new Chart($<HTMLCanvasElement>('train-chart'), {
  type: 'line',
  data: {
    datasets: [
      { label: 'loss (each batch)', data: [], borderColor: 'rgba(47, 91, 211, 0.5)', borderWidth: 1, pointRadius: 0, yAxisID: 'loss' },
      { label: 'accuracy (each batch)', data: [], borderColor: 'rgba(26, 143, 76, 0.3)', borderWidth: 1, pointRadius: 0, yAxisID: 'acc' },
      { label: 'train loss (epoch)', data: [], borderColor: '#2f5bd3', backgroundColor: '#2f5bd3', borderWidth: 2.5, yAxisID: 'loss' },
      {
        label: 'val loss',
        data: [],
        borderColor: '#8a5cd1',
        backgroundColor: '#8a5cd1',
        borderDash: [5, 4],
        borderWidth: 2,
        yAxisID: 'loss',
      },
      {
        label: 'val accuracy',
        data: [],
        borderColor: '#1a8f4c',
        backgroundColor: '#1a8f4c',
        borderDash: [5, 4],
        borderWidth: 2,
        yAxisID: 'acc',
      },
    ],
  },
  options: {
    maintainAspectRatio: false,
    parsing: false,
    normalized: true,
    interaction: { mode: 'nearest', intersect: false },
    scales: {
      x: { type: 'linear', min: 0, title: { display: true, text: 'epoch' } },
      loss: { type: 'linear', position: 'left', suggestedMin: 0.3, suggestedMax: 0.75, title: { display: true, text: 'loss' } },
      acc: {
        type: 'linear',
        position: 'right',
        min: 0,
        max: 1,
        grid: { drawOnChartArea: false },
        title: { display: true, text: 'accuracy' },
      },
    },
    plugins: { legend: { labels: { boxWidth: 12, boxHeight: 2 } } },
  },
});
const redraw = frameUpdater(chart);
type Point = { x: number; y: number };
const series = (i: number) => chart.data.datasets[i].data as Point[];

function resetChart(epochs: number): void {
  for (const d of chart.data.datasets) d.data = [];
  chart.options.scales!.x!.max = epochs;
  chart.update('none');
}

function setBar(fraction: number): void {
  $('train-bar-fill').style.width = `${(100 * fraction).toFixed(1)}%`;
  $('train-bar').setAttribute('aria-valuenow', (100 * fraction).toFixed(0));
}

function status(text: string, error = false): void {
  $('train-status').textContent = text;
  $('train-status').className = `status${error ? ' error' : ''}`;
}

function loadData(request: DataRequest): Promise<Extract<DataMessage, { type: 'done' }>> {
  const worker = new Worker(new URL('./data-worker.ts', import.meta.url), { type: 'module', name: 'cellstate-data' });
  return new Promise((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<DataMessage>) => {
      const m = e.data;
      if (m.type === 'progress') {
        const mb = (n: number) => (n / 1e6).toFixed(1);
        status(m.total ? `Reading the data: ${mb(m.loaded)} of ${mb(m.total)} MB…` : `Reading the data: ${mb(m.loaded)} MB…`);
        setBar(m.total ? m.loaded / m.total : 0);
        return;
      }
      worker.terminate();
      if (m.type === 'done') resolve(m);
      else reject(new Error(m.message));
    };
    worker.onerror = (e) => {
      worker.terminate();
      reject(new Error(`data worker failed: ${e.message}`));
    };
    worker.postMessage(request);
  });
}

// "all cores" is the default where there is more than one.
const cores = allCores();
$<HTMLOptionElement>('workers').querySelector('option[value="all"]')!.textContent = `all cores (${cores})`;
$<HTMLSelectElement>('workers').value = cores > 1 ? 'all' : '1';
const workersNote = () => {
  $('workers-note').textContent =
    chosenWorkers() > 1
      ? `Each batch is split over ${chosenWorkers()} wasm workers; their gradients are summed here.`
      : 'One worker runs the whole training.';
};
$('workers').addEventListener('change', workersNote);
function chosenWorkers(): number {
  return $<HTMLSelectElement>('workers').value === 'all' ? cores : 1;
}
workersNote();

const fmt = (v: number | undefined, d = 4) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));
const trainer = createPageTrainer(wasmUrl);
let stopper: AbortController | null = null;

function epochRow(l: EpochLogs): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const v of [String(l.epoch + 1), fmt(l.loss), fmt(l.accuracy, 3), fmt(l.valLoss), fmt(l.valAccuracy, 3), l.seconds.toFixed(1)]) {
    tr.insertCell().textContent = v;
  }
  return tr;
}

async function train(): Promise<void> {
  const p = preset();
  const epochs = Math.max(1, Math.min(50, Math.round(Number($<HTMLInputElement>('epochs').value) || p.fit.epochs)));
  const fromFile = $<HTMLSelectElement>('data-source').value === 'file' && pickedData.length;
  const main = pickedData.find((f) => !f.name.endsWith('.json'));
  const wordIndex = pickedData.find((f) => f.name.endsWith('.json'));
  stopper = new AbortController();
  $<HTMLButtonElement>('train-btn').disabled = true;
  $<HTMLButtonElement>('stop-btn').disabled = false;
  probe.training = true;
  probe.maxGapMs = 0;
  probe.batchLosses = [];
  probe.epochs = [];
  resetChart(epochs);
  $('epoch-table').querySelector('tbody')!.replaceChildren();
  for (const id of ['s-epoch', 's-batch', 's-loss', 's-acc', 's-rate', 's-time']) $(id).textContent = '–';
  const t0 = performance.now();
  try {
    const data = await loadData({
      source: fromFile && main ? { file: main, wordIndex } : { url: new URL('data/imdb-sample.tar.gz', base).href },
      ...p.data,
      trainSize: 15_000,
      testSize: 2_000,
    });
    if (stopper.signal.aborted) throw new DOMException('stopped', 'AbortError');
    const n = data.train.shape[0];
    const batches = Math.ceil(n / p.fit.batchSize);
    const tTrain = performance.now();
    let prev = { seen: 0, loss: 0, acc: 0 };
    status(`Training on ${n.toLocaleString('en')} reviews, validating on ${data.test.shape[0].toLocaleString('en')}…`);
    const workersUsed = chosenWorkers();
    const asInput = (s: PaddedSplit) => ({ data: s.x, shape: s.shape });
    const { history, model } = await trainer.fit(p.model, asInput(data.train), data.train.y, {
      workers: workersUsed,
      epochs,
      batchSize: p.fit.batchSize,
      optimizer: { type: 'adam', lr: p.fit.lr },
      clipNorm: p.fit.clipNorm,
      validationData: [asInput(data.test), data.test.y],
      signal: stopper.signal,
      onBatchEnd: (l: BatchLogs) => {
        // fit reports the running mean over the epoch so far (epoch and batch count from 0); the batch's own
        // loss and accuracy follow from two consecutive means and the samples seen.
        const seen = Math.min(n, (l.batch + 1) * p.fit.batchSize);
        const size = seen - (l.batch === 0 ? 0 : prev.seen);
        const loss = l.batch === 0 ? l.loss : (l.loss * seen - prev.loss * prev.seen) / size;
        const acc = l.accuracy === undefined ? undefined : l.batch === 0 ? l.accuracy : (l.accuracy * seen - prev.acc * prev.seen) / size;
        prev = { seen, loss: l.loss, acc: l.accuracy ?? 0 };
        const x = l.epoch + (l.batch + 1) / l.batches;
        probe.batchLosses.push(loss);
        series(0).push({ x, y: loss });
        if (acc !== undefined) series(1).push({ x, y: acc });
        $('s-epoch').textContent = `${l.epoch + 1} / ${epochs}`;
        $('s-batch').textContent = `${l.batch + 1} / ${l.batches}`;
        $('s-loss').textContent = fmt(l.loss); // the epoch's running mean, as the CLI prints
        $('s-acc').textContent = fmt(l.accuracy, 3);
        $('s-rate').textContent = Math.round(l.samplesPerSecond).toLocaleString('en');
        $('s-time').textContent = `${((performance.now() - tTrain) / 1000).toFixed(1)} s`;
        setBar((l.epoch + (l.batch + 1) / batches) / epochs);
        redraw();
      },
      onEpochEnd: (l: EpochLogs) => {
        probe.epochs.push(l);
        series(2).push({ x: l.epoch + 1, y: l.loss });
        if (l.valLoss !== undefined) series(3).push({ x: l.epoch + 1, y: l.valLoss });
        if (l.valAccuracy !== undefined) series(4).push({ x: l.epoch + 1, y: l.valAccuracy });
        $('epoch-table').querySelector('tbody')!.append(epochRow(l));
        redraw();
      },
    });
    const last = history.epochs.at(-1);
    const stopped = history.stopReason === 'aborted';
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    if (!last) {
      status(`Stopped before the first epoch ended (${seconds} s); the classifier keeps its model.`);
      return;
    }
    const where = fromFile && main ? main.name : 'the shipped sample';
    const about =
      `Model: trained in this page (${workersUsed} worker${workersUsed > 1 ? 's' : ''}), ${p.label.toLowerCase()} preset, ${history.epochs.length} epoch${history.epochs.length > 1 ? 's' : ''} on ${where}` +
      (last.valAccuracy !== undefined
        ? `: ${(100 * last.valAccuracy).toFixed(1)}% on ${data.test.shape[0].toLocaleString('en')} held-out reviews.`
        : '.');
    setActive({ model: await loadModel(model), encoder: data.vocab ? new ReviewEncoder(data.vocab) : null, about });
    status(
      `${stopped ? 'Stopped' : 'Done'} after ${history.epochs.length} epoch${history.epochs.length > 1 ? 's' : ''} in ${seconds} s; the classifier above now uses this model.`,
    );
    if (!stopped) setBar(1);
  } catch (e) {
    const err = e as Error;
    if (err.name === 'AbortError') status('Stopped.');
    else status(`Training failed: ${err.message}`, true);
  } finally {
    probe.training = false;
    stopper = null;
    $<HTMLButtonElement>('train-btn').disabled = false;
    $<HTMLButtonElement>('stop-btn').disabled = true;
  }
}

$('train-btn').addEventListener('click', () => void train());
$('stop-btn').addEventListener('click', () => {
  stopper?.abort();
  status('Stopping after this batch…');
});

// The main thread's longest pause while training (a 10 ms timer that fires late means the thread was busy).
let lastTick = performance.now();
setInterval(() => {
  const now = performance.now();
  if (probe.training) probe.maxGapMs = Math.max(probe.maxGapMs, now - lastTick - 10);
  lastTick = now;
}, 10);

// ---- start --------------------------------------------------------------------------------------------

async function start(): Promise<void> {
  const backend = await init({ backend: 'wasm', wasm: wasmUrl });
  document.documentElement.dataset.kernels = backend.kernels;
  await usePretrained();
  document.documentElement.dataset.ready = 'true';
}
start().catch((e: Error) => {
  $('verdict').textContent = `Could not start: ${e.message}`;
  $('verdict').className = 'verdict-text bad';
});

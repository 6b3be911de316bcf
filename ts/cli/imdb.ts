/** `cellstate imdb train | evaluate | predict`. */
import { readFileSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { readRegularFile, replaceFiles } from '../io/atomic';
import { firstReviews, holdOut } from '../data/pad';
import {
  type Backend,
  type Checkpoint,
  DataError,
  type EpochLogs,
  type FitOptions,
  type Padded,
  type SequenceModel,
  type Split,
  ValueError,
  decodeSafetensors,
  encodeSafetensors,
  init,
  loadModel,
  padSequences,
  sequenceClassifier,
} from '../index';
import { type Out, Progress, bar, fmtInt, fmtSeconds } from '../progress';
import { type FlagTable, UsageError, type Values, choiceFlag, helpOf, intFlag, numFlag, parse, strFlag, switchFlag } from './args';
import { type LoadedData, describeData, resolveData } from './data';
import { type VocabFile, loadRun, saveRun, vocabOf } from './modeldir';
import { PRESETS, type TrainSettings } from './presets';

/** Where a command writes: human text on `out`, the `--json` line last on `out`. */
export interface Io {
  out: Out;
  err: Out;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
  version: string;
}

const BACKENDS = ['auto', 'native', 'wasm'] as const;

/** `(seed 10, strong 3)`: a setting's value in each preset, for the help. */
function presetValues(key: keyof TrainSettings, show: (v: never) => string = String): string {
  return Object.entries(PRESETS)
    .map(([name, p]) => `${name} ${show(p[key] as never)}`)
    .join(', ');
}
const orAll = (v: number | null) => (v === null ? 'all' : fmtInt(v));
const orNone = (v: number | null) => (v === null ? 'none' : String(v));

const DATA_FLAGS: FlagTable = {
  sample: { type: 'boolean', description: 'the 2,000 + 2,000-review sample shipped in the package (offline)' },
  data: { type: 'string', value: 'PATH', description: "aclImdb_v1.tar.gz or Keras' imdb.npz" },
  offline: { type: 'boolean', description: 'never download; without a cached file, use the shipped sample' },
};

const BACKEND_FLAGS: FlagTable = {
  backend: { type: 'string', value: BACKENDS.join('|'), default: 'auto', description: 'the compute backend' },
  threads: {
    type: 'string',
    value: 'N|auto',
    default: '1',
    description: 'threads of large matrix products (native only; results are bitwise the same)',
  },
  json: { type: 'boolean', description: 'print one JSON object of the run as the last line' },
  help: { type: 'boolean', short: 'h', description: 'print this help' },
};

const LOG_FLAG: FlagTable = {
  'log-every': { type: 'string', value: 'SECONDS', default: '3', description: 'when stdout is not a terminal, a progress line this often' },
};

/** `train`'s own flags; those tied to a setting show each preset's value. */
const TRAIN_FLAGS: FlagTable = {
  preset: { type: 'string', value: Object.keys(PRESETS).join('|'), default: 'seed', description: 'the starting configuration (see above)' },
  epochs: { type: 'string', value: 'N', default: presetValues('epochs'), description: 'epochs to train' },
  'batch-size': { type: 'string', value: 'N', default: presetValues('batchSize'), description: 'samples per optimiser step' },
  lr: { type: 'string', value: 'X', default: presetValues('lr'), description: "Adam's learning rate" },
  seed: { type: 'string', value: 'N', default: presetValues('seed'), description: 'seed of initialisation, dropout and batch order' },
  hidden: { type: 'string', value: 'N', default: presetValues('hidden'), description: 'LSTM hidden size' },
  layers: { type: 'string', value: 'N', default: presetValues('layers'), description: 'stacked LSTM layers' },
  embedding: { type: 'string', value: 'N', default: presetValues('embedding'), description: 'embedding width; 0 = one-hot input' },
  'embedding-dropout': {
    type: 'string',
    value: 'X',
    default: presetValues('embeddingDropout'),
    description: 'dropout on the embedded vectors, one draw per element (needs --embedding)',
  },
  bidirectional: { type: 'boolean', negatable: true, default: presetValues('bidirectional'), description: 'a bidirectional LSTM' },
  mask: { type: 'boolean', negatable: true, default: presetValues('mask'), description: 'skip padding as packed sequences do' },
  pooling: {
    type: 'string',
    value: 'last|mean|max|max-mean',
    default: presetValues('pooling'),
    description: 'how the LSTM outputs feed the head (max-mean: both, concatenated)',
  },
  dropout: {
    type: 'string',
    value: 'X',
    default: presetValues('dropout'),
    description: "dropout on the head's input (and between layers)",
  },
  'clip-norm': {
    type: 'string',
    value: 'X',
    default: presetValues('clipNorm', orNone),
    description: 'clip gradients to this global norm; 0 = none',
  },
  'num-words': { type: 'string', value: 'N', default: presetValues('numWords'), description: 'vocabulary: ids below N are kept' },
  maxlen: { type: 'string', value: 'N', default: presetValues('maxlen'), description: 'reviews are padded or cut to N tokens' },
  padding: { type: 'string', value: 'pre|post', default: presetValues('padding'), description: 'where padding goes' },
  truncating: { type: 'string', value: 'pre|post', default: presetValues('truncating'), description: 'which end of a long review is cut' },
  'train-size': {
    type: 'string',
    value: 'N',
    default: presetValues('trainSize', orAll),
    description: "the first N training reviews after the loader's shuffle; 0 = all",
  },
  'test-size': { type: 'string', value: 'N', default: presetValues('testSize', orAll), description: 'the first N test reviews; 0 = all' },
  'data-seed': { type: 'string', value: 'N', default: presetValues('dataSeed'), description: "seed of the loader's shuffle (Keras' 113)" },
  'val-split': {
    type: 'string',
    value: 'X',
    default: presetValues('valSplit'),
    description: 'hold out this fraction of the training reviews; keep the best epoch on it, test once; 0 = test every epoch',
  },
  'val-by': {
    type: 'string',
    value: 'movie|review',
    default: presetValues('valBy'),
    description: "what --val-split holds out: whole movies (none shared with training, as the test set's) or the last reviews",
  },
  bucket: {
    type: 'boolean',
    negatable: true,
    default: presetValues('bucket'),
    description: 'batches of similar length, each cut to its longest review (needs --mask)',
  },
  optimizer: { type: 'string', value: 'adam|adamw', default: presetValues('optimizer'), description: 'the optimiser' },
  'weight-decay': { type: 'string', value: 'X', default: presetValues('weightDecay'), description: 'weight decay (decoupled for adamw)' },
  schedule: {
    type: 'string',
    value: 'constant|cosine',
    default: presetValues('schedule'),
    description: 'learning rate over the run (cosine: to 0 over all batches)',
  },
  warmup: {
    type: 'string',
    value: 'X',
    default: presetValues('warmup'),
    description: 'linear warm-up over this fraction of the batches (cosine)',
  },
  patience: {
    type: 'string',
    value: 'N',
    default: presetValues('patience', orNone),
    description: 'stop after N epochs without a better validation accuracy; 0 = never',
  },
  save: { type: 'string', value: 'DIR', description: 'keep the model, vocabulary and metrics; saved after every finished epoch' },
  'checkpoint-every': { type: 'string', value: 'N', description: 'with --save: also checkpoint every N batches' },
  resume: {
    type: 'string',
    value: 'DIR',
    description: 'continue the run saved in DIR from its last checkpoint (give the same flags); it keeps saving there',
  },
};

/** Metadata key of a mid-epoch checkpoint's position; an epoch-end save has none (it resumes at batch 0). */
const RESUME_KEY = 'cellstate.resume';
/**
 * Metadata key of every checkpoint's run so far ({@link PastRun}), saved in the same file as the weights so
 * the two cannot disagree: a resumed run reports, selects and counts patience over all its epochs.
 */
const HISTORY_KEY = 'cellstate.history';
/**
 * The weights after the best epoch on validation so far, kept beside the checkpoint (a resumed run restores
 * them if no later epoch beats it). Written before the checkpoint that names it; older ones removed after.
 */
const bestFile = (dir: string, epoch: number) => join(dir, `best-epoch-${epoch}.safetensors`);
const BEST_FILE = /^best-epoch-\d+\.safetensors$/;

/** What a checkpoint says about the epochs before it: their records (as metrics.json), logs (as fit's) and time. */
interface PastRun {
  records: EpochRecord[];
  logs: EpochLogs[];
  seconds: number;
}

const TRAIN_OPTIONS: FlagTable = { ...TRAIN_FLAGS, ...DATA_FLAGS, ...BACKEND_FLAGS, ...LOG_FLAG };

const MODEL_FLAG: FlagTable = { model: { type: 'string', value: 'DIR', description: 'the saved model (required)' } };
const EVALUATE_OPTIONS: FlagTable = {
  ...MODEL_FLAG,
  'test-size': { type: 'string', value: 'N', default: 'all', description: "the first N test reviews after the loader's shuffle" },
  ...DATA_FLAGS,
  ...BACKEND_FLAGS,
  ...LOG_FLAG,
};
// --log-every is accepted (and unused) as before the flags were tabled.
const PREDICT_OPTIONS: FlagTable = { ...MODEL_FLAG, ...BACKEND_FLAGS, ...LOG_FLAG };

export const TRAIN_HELP = `Usage: cellstate imdb train [--preset seed|fast|strong] [options]

Trains a sentiment LSTM on IMDB. Without a validation split it reports the test accuracy after every
epoch and keeps the last; with --val-split it validates every epoch on reviews held out of the training
set, keeps the epoch with the best validation accuracy and tests once, on it.

Presets:
  seed     the seed notebook: 300 words, first 15,000 train / 10,000 test reviews, maxlen 100 ('post'),
           one-hot → LSTM(16) → Linear(1), Adam 1e-3, batch 64, 10 epochs (default)
  fast     10,000 words, all 25,000 + 25,000 reviews, maxlen 400, Embedding 64 → BiLSTM 64 with
           masking and max pooling, dropout 0.5, AdamW 3e-3 (weight decay 0.05), warm-up + cosine,
           clip-norm 1, length-bucketed batches, 4 epochs; 10% of the training reviews held out by
           movie, the best epoch on them kept and tested
  strong   as fast, with Embedding 128 (dropout 0.3 on it) → BiLSTM 96, batch 32 and 5 epochs

Options (each overrides the preset):
${helpOf(TRAIN_FLAGS)}
Data (the first that applies):
${helpOf(DATA_FLAGS)}  then $CELLSTATE_IMDB, the cache ($CELLSTATE_DATA_DIR or ~/.cache/cellstate/aclImdb_v1.tar.gz), a
  download when online (not with --offline), the shipped sample.

Run:
${helpOf({ ...BACKEND_FLAGS, ...LOG_FLAG })}
Ctrl-C stops between batches; with --save, the last finished epoch is kept.
`;

export const EVALUATE_HELP = `Usage: cellstate imdb evaluate --model DIR [options]

Evaluates a model saved by \`cellstate imdb train --save DIR\` on the IMDB test reviews, encoded with the
model's own vocabulary. Data comes from where train takes it.

Options:
${helpOf(EVALUATE_OPTIONS)}`;

export const PREDICT_HELP = `Usage: cellstate imdb predict --model DIR [TEXT ...]

Prints each text's probability of being a positive review, tokenized with the model's vocabulary.
Without TEXT, reads one text per line from stdin (blank lines are skipped).

Options:
${helpOf(PREDICT_OPTIONS)}`;

export const IMDB_HELP = `Usage: cellstate imdb <command> [options]

Commands:
  train      train and evaluate a sentiment LSTM (presets: seed, fast, strong)
  evaluate   evaluate a saved model on the test reviews
  predict    probability that a text is a positive review

\`cellstate imdb <command> --help\` lists a command's options.
`;

/**
 * Loads the backend, sets its thread count and says which (on `log`).
 * `--threads N` (default 1; `auto` = the cores Node reports) sizes the native pool that splits large matrix
 * products; results are bitwise identical for every count. wasm runs on one thread.
 * @throws {UsageError} on a bad --backend or --threads.
 */
async function startBackend(v: Values, log: Out): Promise<{ backend: Backend; threads: number }> {
  const name = choiceFlag(v, 'backend', BACKENDS) ?? 'auto';
  const requested = v.threads === 'auto' ? availableParallelism() : (intFlag(v, 'threads', 1, 1024) ?? 1);
  const backend = await init({ backend: name });
  if (requested > 1 && backend.name === 'wasm') {
    throw new UsageError(`--threads ${requested}: the wasm backend runs on one thread (the native backend takes --threads)`);
  }
  backend.setThreads(requested);
  log.write(`backend: ${backend.name} (${backend.kernels} kernels), threads: ${backend.threads}\n`);
  return { backend, threads: backend.threads };
}

/** The preset with the flags' overrides. @throws {UsageError} on an unknown preset or a bad value. */
function settingsFrom(v: Values): TrainSettings {
  const name = strFlag(v, 'preset') ?? 'seed';
  const preset = PRESETS[name];
  if (!preset) throw new UsageError(`unknown preset '${name}'; presets: ${Object.keys(PRESETS).join(', ')}`);
  const s: TrainSettings = { ...preset };
  const size = (flag: string, current: number | null) => {
    const n = intFlag(v, flag, 0);
    return n === undefined ? current : n === 0 ? null : n;
  };
  s.epochs = intFlag(v, 'epochs', 1, 100_000) ?? s.epochs;
  s.batchSize = intFlag(v, 'batch-size', 1, 1 << 16) ?? s.batchSize;
  s.lr = numFlag(v, 'lr', 0, 10, true) ?? s.lr;
  s.hidden = intFlag(v, 'hidden', 1, 4096) ?? s.hidden;
  s.layers = intFlag(v, 'layers', 1, 16) ?? s.layers;
  s.embedding = intFlag(v, 'embedding', 0, 4096) ?? s.embedding;
  s.numWords = intFlag(v, 'num-words', 4, 10_000_000) ?? s.numWords;
  s.maxlen = intFlag(v, 'maxlen', 1, 100_000) ?? s.maxlen;
  s.padding = choiceFlag(v, 'padding', ['pre', 'post'] as const) ?? s.padding;
  s.truncating = choiceFlag(v, 'truncating', ['pre', 'post'] as const) ?? s.truncating;
  s.pooling = choiceFlag(v, 'pooling', ['last', 'mean', 'max', 'max-mean'] as const) ?? s.pooling;
  s.dropout = numFlag(v, 'dropout', 0, 0.99) ?? s.dropout;
  s.embeddingDropout = numFlag(v, 'embedding-dropout', 0, 0.99) ?? s.embeddingDropout;
  const clip = numFlag(v, 'clip-norm', 0, 1e9);
  if (clip !== undefined) s.clipNorm = clip === 0 ? null : clip;
  s.mask = switchFlag(v, 'mask') ?? s.mask;
  s.bidirectional = switchFlag(v, 'bidirectional') ?? s.bidirectional;
  s.seed = intFlag(v, 'seed', 0, 2 ** 32 - 1) ?? s.seed;
  s.dataSeed = intFlag(v, 'data-seed', 0, 2 ** 32 - 1) ?? s.dataSeed;
  s.trainSize = size('train-size', s.trainSize);
  s.testSize = size('test-size', s.testSize);
  s.valSplit = numFlag(v, 'val-split', 0, 0.9) ?? s.valSplit;
  s.valBy = choiceFlag(v, 'val-by', ['movie', 'review'] as const) ?? s.valBy;
  s.bucket = switchFlag(v, 'bucket') ?? s.bucket;
  s.optimizer = choiceFlag(v, 'optimizer', ['adam', 'adamw'] as const) ?? s.optimizer;
  s.weightDecay = numFlag(v, 'weight-decay', 0, 10) ?? s.weightDecay;
  s.schedule = choiceFlag(v, 'schedule', ['constant', 'cosine'] as const) ?? s.schedule;
  s.warmup = numFlag(v, 'warmup', 0, 0.99) ?? s.warmup;
  const patience = intFlag(v, 'patience', 0, 10_000);
  if (patience !== undefined) s.patience = patience === 0 ? null : patience;
  if (s.bucket && !s.mask) {
    throw new UsageError('--bucket needs --mask: without it the padding is fed through the LSTM, so it cannot be cut');
  }
  if (s.embeddingDropout > 0 && s.embedding === 0)
    throw new UsageError('--embedding-dropout needs --embedding: one-hot input has no embedded vectors');
  if (s.patience !== null && s.valSplit === 0)
    throw new UsageError('--patience needs --val-split: early stopping watches validation accuracy');
  return s;
}

function buildModel(s: TrainSettings, backend: Backend): SequenceModel {
  return sequenceClassifier(
    {
      input: s.embedding === 0 ? 'one-hot' : { embedding: s.embedding, ...(s.embeddingDropout > 0 && { dropout: s.embeddingDropout }) },
      vocabSize: s.numWords,
      lstm: { hiddenSize: s.hidden, numLayers: s.layers, bidirectional: s.bidirectional, dropout: s.layers > 1 ? s.dropout : 0 },
      pooling: s.pooling,
      dropout: s.dropout,
      mask: s.mask,
      seed: s.seed,
    },
    { backend },
  );
}

function describeModel(s: TrainSettings, model: SequenceModel): string {
  const input = s.embedding === 0 ? `one-hot(${fmtInt(s.numWords)})` : `Embedding(${fmtInt(s.numWords)} → ${s.embedding})`;
  const lstm = `${s.bidirectional ? 'BiLSTM' : 'LSTM'}(${s.hidden}${s.layers > 1 ? ` × ${s.layers} layers` : ''})`;
  const extras = [
    s.mask ? 'masked' : 'unmasked (padding fed through)',
    `${s.pooling} pooling`,
    s.dropout ? `dropout ${s.dropout}` : '',
    s.embeddingDropout ? `embedding dropout ${s.embeddingDropout}` : '',
  ].filter(Boolean);
  const opt = [
    `${s.optimizer === 'adamw' ? 'AdamW' : 'Adam'} lr ${s.lr}${s.weightDecay ? ` (weight decay ${s.weightDecay})` : ''}`,
    s.schedule === 'cosine' ? `cosine schedule${s.warmup ? ` after ${s.warmup} warm-up` : ''}` : '',
    `batch ${s.batchSize}${s.bucket ? ' (length-bucketed)' : ''}`,
    `${s.epochs} epoch${s.epochs === 1 ? '' : 's'}`,
    s.clipNorm ? `clip-norm ${s.clipNorm}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return (
    `model: ${input} → ${lstm} → Linear(1), ${extras.join(', ')}; ${fmtInt(model.numParameters)} parameters; ${opt}; seed ${s.seed}\n` +
    `input: maxlen ${s.maxlen} (padding '${s.padding}', truncating '${s.truncating}'), ${fmtInt(s.numWords)} words` +
    (s.valSplit > 0
      ? `\nselection: ${s.valSplit} of the training reviews held out (${s.valBy === 'movie' ? 'whole movies' : 'the last reviews'}); the epoch with the best validation accuracy is kept${s.patience ? ` (stop after ${s.patience} without a better one)` : ''}, then tested once`
      : '')
  );
}

/** `s` or nothing, for counts in messages. */
const plural = (n: number) => (n === 1 ? '' : 's');

/**
 * Progress over `total` steps: `label [####....] 12/32 info ETA 3.1s` on a TTY, `label 12/32 (37%) info
 * ETA 3.1s` in logs every `everySeconds`.
 */
function stepProgress(out: Out, label: string, total: number, everySeconds: number) {
  const p = new Progress(out, total, { everySeconds });
  return {
    update(done: number, info: string): void {
      p.update(done, (tty) => {
        const count = `${String(done).padStart(String(total).length)}/${total}`;
        const fraction = total > 0 ? done / total : 1;
        const time = done >= total ? fmtSeconds(p.elapsed()) : `ETA ${fmtSeconds(p.eta(done))}`;
        return tty
          ? `${label} ${bar(fraction, 24)} ${count} ${info} ${time}`
          : `${label} ${count} (${Math.floor(fraction * 100)}%) ${info} ${time}`;
      });
    },
    clear: () => p.clear(),
  };
}

/**
 * What the model reads: token ids only, never padSequences' `lengths`. Explicit lengths would make every model
 * skip padding as packed sequences do; the model's own `mask` decides that (the seed notebook feeds padding
 * through), for 'pre' and 'post' padding alike.
 */
function modelInput(x: Padded<Int32Array> | { data: Int32Array; shape: [number, number] }) {
  return { data: x.data, shape: x.shape };
}

/**
 * Reviews `order[from..to)` of a padded split; with `cut`, cut to the longest of them (its real tokens are
 * the first columns with 'post' padding, the last with 'pre'), which a masked model reads identically.
 */
function rows(x: Padded<Int32Array>, order: Uint32Array, from: number, to: number, padding: 'pre' | 'post', cut: boolean) {
  const t = x.shape[1];
  let steps = t;
  if (cut) {
    steps = 1;
    for (let i = from; i < to; i++) steps = Math.max(steps, x.lengths[order[i]]);
  }
  const data = new Int32Array((to - from) * steps);
  const skip = padding === 'pre' ? t - steps : 0;
  for (let i = from; i < to; i++) {
    const r = order[i];
    data.set(x.data.subarray(r * t + skip, r * t + skip + steps), (i - from) * steps);
  }
  return modelInput({ data, shape: [to - from, steps] });
}

/**
 * Loss and accuracy over a padded split in chunks, with progress, stopping early on abort.
 * (The model's own validation pass prints nothing: 25,000 long reviews take most of a minute.)
 */
async function evaluateWithProgress(
  model: SequenceModel,
  x: Padded<Int32Array>,
  y: Uint8Array,
  label: string,
  io: Io,
  everySeconds: number,
  { padding, cut }: { padding: 'pre' | 'post'; cut: boolean },
) {
  const n = x.shape[0];
  const chunk = 512;
  // With `cut`, chunks of reviews of similar length (shortest first), each cut to its longest: the same
  // per-review results as the padded split (test/model.bucketing.test.ts), fewer steps.
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  if (cut) order.sort((a, b) => x.lengths[a] - x.lengths[b] || a - b);
  const progress = stepProgress(io.out, label, n, everySeconds);
  let loss = 0;
  let correct = 0;
  for (let from = 0; from < n; from += chunk) {
    if (io.signal.aborted) return null;
    const to = Math.min(n, from + chunk);
    const e = await model.evaluate(
      rows(x, order, from, to, padding, cut),
      Uint8Array.from(order.subarray(from, to), (r) => y[r]),
    );
    loss += e.loss * (to - from);
    correct += (e.accuracy ?? 0) * (to - from);
    progress.update(to, `loss ${(loss / to).toFixed(4)} acc ${(correct / to).toFixed(4)}`);
    await new Promise((r) => setImmediate(r));
  }
  progress.clear();
  return { loss: loss / Math.max(n, 1), accuracy: correct / Math.max(n, 1) };
}

interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number | null;
  valLoss: number | null;
  valAccuracy: number | null;
  testLoss: number | null;
  testAccuracy: number | null;
  seconds: number;
  samplesPerSecond: number;
}

/** The epoch kept at the end and its test figures (with a validation split, tested once, after training). */
interface Selection {
  /** 1-based, as EpochRecord.epoch. */
  selectedEpoch: number | null;
  selection: string;
  testLoss: number | null;
  testAccuracy: number | null;
}

/** Epochs from the third on whose test (or, with a validation split, validation) accuracy is below 60%. */
function stalledEpochs(epochs: EpochRecord[]): number[] {
  return epochs
    .filter((e) => {
      const acc = e.testAccuracy ?? e.valAccuracy;
      return e.epoch >= 3 && acc !== null && acc < 0.6;
    })
    .map((e) => e.epoch);
}

/** The data and flags of one `train` run. */
interface TrainRun {
  s: TrainSettings;
  save: string | undefined;
  logEvery: number;
  /** Where a resumed run starts, how often it checkpoints inside an epoch, and what came before. */
  resume?: {
    at: Checkpoint;
    checkpointEvery: number | undefined;
    past: PastRun | null;
    bestWeights: Float32Array | undefined;
  };
  d: LoadedData;
  /** The reviews trained on: the training split less the validation reviews. */
  train: Split;
  /** The held-out training reviews (`--val-split`); null without. */
  val: Split | null;
  test: Split;
  xTrain: Padded<Int32Array>;
  xVal: Padded<Int32Array> | null;
  xTest: Padded<Int32Array>;
}

/**
 * Step 1: loads IMDB, logs which, cuts the splits to the sizes asked for, holds out the validation reviews
 * and pads them.
 * @throws {UsageError} when a split is empty or cannot be held out as asked; {DataError} on missing or corrupt data.
 */
async function prepareData(
  v: Values,
  s: TrainSettings,
  io: Io,
): Promise<Pick<TrainRun, 'd' | 'train' | 'val' | 'test' | 'xTrain' | 'xVal' | 'xTest'>> {
  const d = await resolveData(
    { data: strFlag(v, 'data'), sample: v.sample === true, offline: v.offline === true, numWords: s.numWords, seed: s.dataSeed },
    io.err,
  );
  io.out.write(`${describeData(d, s.trainSize, s.testSize)}\n`);
  const all = firstReviews(d.train, s.trainSize);
  const test = firstReviews(d.test, s.testSize);
  if (all.labels.length === 0 || test.labels.length === 0) throw new UsageError('no reviews to train or test on');
  let train = all;
  let val: Split | null = null;
  if (s.valSplit > 0) {
    if (s.valBy === 'movie' && !all.movies) {
      throw new UsageError(
        `--val-by movie needs each review's movie, which ${d.source} does not give (the aclImdb tarball's urls_*.txt do); use --val-by review`,
      );
    }
    try {
      ({ train, validation: val } = holdOut(all, s.valSplit, { by: s.valBy, seed: s.dataSeed }));
    } catch (e) {
      if (e instanceof ValueError) throw new UsageError(`--val-split ${s.valSplit}: ${e.message}`);
      throw e;
    }
  }
  const pad = { maxlen: s.maxlen, padding: s.padding, truncating: s.truncating } as const;
  return {
    d,
    train,
    val,
    test,
    xTrain: padSequences(train, pad),
    xVal: val && padSequences(val, pad),
    xTest: padSequences(test, pad),
  };
}

/** What the `--json` line and `metrics.json` hold, at any point of the run. */
function runSummary(run: TrainRun, epochs: EpochRecord[], final: Selection | null, t0: number, backend: Backend, threads: number, io: Io) {
  const { s, d, train, val, test } = run;
  const last = epochs[epochs.length - 1];
  const kept = final?.selectedEpoch ? epochs[final.selectedEpoch - 1] : last;
  return {
    command: 'imdb train',
    version: io.version,
    config: s,
    data: {
      source: d.source,
      origin: d.origin,
      sample: d.sample,
      trainTotal: d.train.labels.length,
      testTotal: d.test.labels.length,
      train: train.labels.length,
      validation: val?.labels.length ?? 0,
      validationBy: val ? s.valBy : null,
      test: test.labels.length,
    },
    epochs,
    epochsCompleted: epochs.length,
    selectedEpoch: final ? final.selectedEpoch : (last?.epoch ?? null),
    selection: final ? final.selection : 'last epoch',
    valAccuracy: kept?.valAccuracy ?? null,
    valLoss: kept?.valLoss ?? null,
    testAccuracy: final ? final.testAccuracy : (last?.testAccuracy ?? null),
    testLoss: final ? final.testLoss : (last?.testLoss ?? null),
    stalledEpochs: stalledEpochs(epochs),
    // A resumed run counts the time its checkpoint had taken too (not the time it lay stopped).
    seconds: Number(((run.resume?.past?.seconds ?? 0) + (performance.now() - t0) / 1000).toFixed(2)),
    backend: { name: backend.name, kernels: backend.kernels },
    threads,
  };
}

/** The record `keepBestEpoch: 'valAccuracy'` keeps: the first with the best validation accuracy. */
function bestRecord(epochs: EpochRecord[]): EpochRecord | null {
  let best: EpochRecord | null = null;
  for (const e of epochs) if (e.valAccuracy !== null && (best === null || e.valAccuracy > best.valAccuracy!)) best = e;
  return best;
}

/** Writes the model's weights as epoch `epoch`'s best-epoch file in `dir` (created if missing). @throws {DataError} */
async function writeBest(dir: string, model: SequenceModel, epoch: number): Promise<void> {
  const path = bestFile(dir, epoch);
  await mkdir(dir, { recursive: true }).catch((e: unknown) => {
    throw new DataError(`cannot create ${dir}: ${(e as Error).message}`, { cause: e });
  });
  await replaceFiles([{ path, data: encodeSafetensors(model.stateDict(), { epoch: String(epoch) }) }], `cannot write ${path}`);
}

/** Removes the best-epoch files in `dir` other than epoch `keep`'s (older bests a newer checkpoint no longer names). */
async function removeOtherBest(dir: string, keep: number): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names.filter((n) => BEST_FILE.test(n) && n !== `best-epoch-${keep}.safetensors`).map((n) => rm(join(dir, n), { force: true })),
  );
}

/**
 * The run before a checkpoint taken after `epochs` finished epochs, from its metadata; null for a checkpoint
 * of a version that did not record it (it resumes as before, reporting only the epochs it runs).
 * @throws {DataError} when the record is not JSON of that many epochs.
 */
function pastRun(text: string | undefined, epochs: number, dir: string): PastRun | null {
  if (text === undefined) return null;
  let p: PastRun;
  try {
    p = JSON.parse(text) as PastRun;
  } catch (e) {
    throw new DataError(`${dir}: the checkpoint's ${HISTORY_KEY} is not JSON (${(e as Error).message})`, { cause: e });
  }
  const ok =
    typeof p === 'object' &&
    p !== null &&
    Array.isArray(p.records) &&
    Array.isArray(p.logs) &&
    p.records.length === epochs &&
    p.logs.length === epochs &&
    typeof p.seconds === 'number';
  if (!ok) throw new DataError(`${dir}: the checkpoint's ${HISTORY_KEY} does not list the ${epochs} epochs it was taken after`);
  return p;
}

/**
 * The weights after the best epoch of `past` on validation, flat in the model's parameter order.
 * @throws {DataError} when its file is missing or does not fit the model.
 */
async function readBest(dir: string, past: PastRun, model: SequenceModel): Promise<Float32Array | undefined> {
  const best = bestRecord(past.records);
  if (!best) return undefined;
  const path = bestFile(dir, best.epoch);
  try {
    const { tensors } = decodeSafetensors(await readRegularFile(path, 2 ** 32, path));
    const flat = new Float32Array(model.numParameters);
    let at = 0;
    for (const name of model.parameterNames) {
      const t = tensors[name];
      if (!t) throw new Error(`it has no ${name}`);
      flat.set(t.data, at);
      at += t.data.length;
    }
    if (at !== flat.length) throw new Error(`it holds ${at} parameters, the model ${flat.length}`);
    return flat;
  } catch (e) {
    throw new DataError(
      `cannot resume from ${dir}: ${path} (the weights of epoch ${best.epoch}, the best on validation so far) cannot be read: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/** The fit options of a run's settings and held-out reviews. */
function fitOptionsOf(s: TrainSettings, val: { x: Padded<Int32Array>; labels: Uint8Array } | null): FitOptions {
  const held = val !== null;
  return {
    epochs: s.epochs,
    batchSize: s.batchSize,
    shuffle: true,
    optimizer: { type: s.optimizer, lr: s.lr, ...(s.weightDecay ? { weightDecay: s.weightDecay } : {}) },
    clipNorm: s.clipNorm ?? undefined,
    lrSchedule: s.schedule === 'cosine' ? { type: 'cosine', warmup: s.warmup } : undefined,
    bucketByLength: s.bucket,
    validationData: held ? [modelInput(val.x), val.labels] : undefined,
    keepBestEpoch: held ? 'valAccuracy' : undefined,
    earlyStopping: held && s.patience ? { monitor: 'valAccuracy', patience: s.patience } : undefined,
  };
}

/**
 * Step 2: trains with a progress bar per epoch and, with `--save`, saves after each (so Ctrl-C keeps the
 * last finished epoch). Without a validation split the test set is evaluated after every epoch and the
 * last epoch is kept; with one, each epoch is validated, the best on validation is kept and the test set
 * is evaluated once, on it. A test pass cut short by Ctrl-C stops training.
 */
async function fitAndTest(
  model: SequenceModel,
  run: TrainRun,
  vocab: VocabFile | null,
  io: Io,
  epochs: EpochRecord[],
  summary: (final: Selection | null) => unknown,
) {
  const { s, xTrain, xTest, train, test, save, logEvery } = run;
  const out = io.out;
  const held = run.val !== null;
  const batches = Math.ceil(train.labels.length / s.batchSize);
  const cut = { padding: s.padding, cut: s.bucket };
  let progress: ReturnType<typeof stepProgress> | null = null;
  let savedEpochs = 0;
  const logs: EpochLogs[] = [...(run.resume?.past?.logs ?? [])];
  const meta = (extra: Record<string, string> = {}) => {
    const seconds = (summary(null) as { seconds: number }).seconds;
    return { ...extra, [HISTORY_KEY]: JSON.stringify({ records: epochs, logs, seconds } satisfies PastRun) };
  };
  const onEpochEnd = async (l: EpochLogs): Promise<'stop' | undefined> => {
    progress?.clear();
    const ev = held ? null : await evaluateWithProgress(model, xTest, test.labels, '  testing', io, logEvery, cut);
    const rec: EpochRecord = {
      epoch: l.epoch + 1,
      loss: l.loss,
      accuracy: l.accuracy ?? null,
      valLoss: l.valLoss ?? null,
      valAccuracy: l.valAccuracy ?? null,
      testLoss: ev?.loss ?? null,
      testAccuracy: ev?.accuracy ?? null,
      seconds: Number(l.seconds.toFixed(2)),
      samplesPerSecond: Math.round(l.samplesPerSecond),
    };
    epochs.push(rec);
    logs.push(l);
    const evalPart = held
      ? `val loss ${(l.valLoss ?? 0).toFixed(4)}, val accuracy ${(100 * (l.valAccuracy ?? 0)).toFixed(2)}%`
      : ev
        ? `test loss ${ev.loss.toFixed(4)}, test accuracy ${(100 * ev.accuracy).toFixed(2)}%`
        : 'test skipped (interrupted)';
    out.write(
      `epoch ${rec.epoch}/${s.epochs}: train loss ${l.loss.toFixed(4)}, train accuracy ${(100 * (l.accuracy ?? 0)).toFixed(2)}%, ${evalPart} ` +
        `(${fmtSeconds(l.seconds)}, ${fmtInt(l.samplesPerSecond)} samples/s)\n`,
    );
    if (save) {
      // Every finished epoch, so Ctrl-C keeps the last one; a new best on validation first, so the checkpoint
      // that names it never exists without it.
      const newBest = held && bestRecord(epochs) === rec;
      if (newBest) await writeBest(save, model, rec.epoch);
      await saveRun(save, model, vocab!, summary(null), meta());
      if (newBest) await removeOtherBest(save, rec.epoch);
      savedEpochs = rec.epoch;
    }
    return held || ev ? undefined : 'stop';
  };
  const history = await model.fit(modelInput(xTrain), train.labels, {
    ...fitOptionsOf(s, run.val && { x: run.xVal!, labels: run.val.labels }),
    initialEpoch: run.resume?.at.epoch,
    initialBatch: run.resume?.at.batch,
    initialTotals: run.resume?.at.totals,
    initialHistory: run.resume?.past?.logs,
    initialBestWeights: run.resume?.bestWeights,
    checkpointEvery: run.resume?.checkpointEvery,
    // Mid-epoch checkpoints (epoch ends are saved by onEpochEnd, with their metrics).
    onCheckpoint: save
      ? async (c) => {
          if (c.batch > 0) await saveRun(save, model, vocab!, summary(null), meta({ [RESUME_KEY]: JSON.stringify(c) }));
        }
      : undefined,
    signal: io.signal,
    callbacks: {
      onEpochBegin: (epoch) => {
        progress = stepProgress(out, `epoch ${epoch + 1}/${s.epochs}`, batches, logEvery);
      },
      onBatchEnd: (l) => {
        progress?.update(
          l.batch + 1,
          `loss ${l.loss.toFixed(4)} acc ${(l.accuracy ?? 0).toFixed(4)} ${fmtInt(l.samplesPerSecond)} samples/s`,
        );
      },
      onEpochEnd,
    },
  });
  let final: Selection | null = null;
  if (held && history.selectedEpoch !== undefined && history.stopReason !== 'aborted' && !io.signal.aborted) {
    const ev = await evaluateWithProgress(model, xTest, test.labels, 'testing', io, logEvery, cut);
    final = {
      selectedEpoch: history.selectedEpoch + 1,
      selection: history.selection!,
      testLoss: ev?.loss ?? null,
      testAccuracy: ev?.accuracy ?? null,
    };
    if (save && ev) {
      await saveRun(save, model, vocab!, summary(final), meta());
      savedEpochs = final.selectedEpoch!;
    }
  }
  return { history, savedEpochs, final };
}

/** Step 3: the closing lines (selection, test accuracy, stalls, time, what was saved, an interruption). */
function reportRun(
  out: Out,
  run: TrainRun,
  epochs: EpochRecord[],
  final: Selection | null,
  savedEpochs: number,
  interrupted: boolean,
  seconds: number,
  backend: Backend,
  threads: number,
): void {
  const { save, test } = run;
  const last = epochs[epochs.length - 1];
  if (final?.selectedEpoch) {
    const kept = epochs[final.selectedEpoch - 1];
    out.write(
      `kept epoch ${final.selectedEpoch} of ${epochs.length} (${final.selection}: ${(100 * (kept.valAccuracy ?? 0)).toFixed(2)}% on ${fmtInt(run.val?.labels.length ?? 0)} held-out training reviews${run.s.valBy === 'movie' ? ', whole movies' : ''})\n`,
    );
  }
  const testAccuracy = final ? final.testAccuracy : last?.testAccuracy;
  if (testAccuracy != null) {
    const after = final?.selectedEpoch
      ? `with epoch ${final.selectedEpoch}'s weights`
      : `after ${epochs.length} epoch${plural(epochs.length)}`;
    out.write(`test accuracy: ${(100 * testAccuracy).toFixed(2)}% on ${fmtInt(test.labels.length)} reviews ${after}\n`);
  }
  // The seed configuration sometimes sits near chance for several epochs (PyTorch too, once in 6 runs):
  // say so, never hide it. Most runs are near chance in epochs 1-2, so those do not count.
  const stalled = stalledEpochs(epochs);
  if (stalled.length) {
    out.write(
      `note: accuracy was near chance (< 60%) after epoch${plural(stalled.length)} ${stalled.join(', ')}: this run stalled for a while; another --seed or more epochs usually gets past it\n`,
    );
  }
  out.write(`time: ${fmtSeconds(seconds)}, backend: ${backend.name} (${backend.kernels}), threads: ${threads}\n`);
  if (save && savedEpochs > 0) out.write(`saved: ${save} (epoch ${savedEpochs})\n`);
  if (interrupted) {
    out.write(
      `interrupted after ${epochs.length} finished epoch${plural(epochs.length)}${save ? (savedEpochs ? `; ${save} holds epoch ${savedEpochs}` : '; nothing was saved') : ''}\n`,
    );
  }
}

/**
 * `cellstate imdb train`: settings → backend → data → model → fit and test → report (and `--json`).
 * @throws {UsageError} on a bad command line; {DataError} on missing or corrupt data or an unwritable --save.
 */
export async function train(argv: string[], io: Io): Promise<number> {
  const { values: v } = parse(argv, TRAIN_OPTIONS, { command: 'imdb train' });
  if (v.help) {
    io.out.write(TRAIN_HELP);
    return 0;
  }
  const s = settingsFrom(v);
  const resume = strFlag(v, 'resume');
  const save = strFlag(v, 'save') ?? resume;
  const checkpointEvery = intFlag(v, 'checkpoint-every', 1);
  if (checkpointEvery !== undefined && !save) throw new UsageError('--checkpoint-every needs --save DIR (where the checkpoints go)');
  const logEvery = numFlag(v, 'log-every', 0.01, 3600) ?? 3;
  const t0 = performance.now();
  const { backend, threads } = await startBackend(v, io.out);
  const run: TrainRun = { s, save, logEvery, ...(await prepareData(v, s, io)) };

  let model: SequenceModel;
  let at: Checkpoint = { epoch: 0, batch: 0 };
  let past: PastRun | null = null;
  let bestWeights: Float32Array | undefined;
  if (resume) {
    // The model (weights, optimiser, dropout stream, epochs done) and, mid-epoch, the batch to go on from.
    model = await loadModel(resume, { backend });
    const meta = decodeSafetensors(await readRegularFile(join(resume, 'model.safetensors'), 2 ** 32, 'the checkpoint')).metadata;
    at = meta[RESUME_KEY] ? (JSON.parse(meta[RESUME_KEY]) as Checkpoint) : { epoch: model.epochsTrained, batch: 0 };
    past = pastRun(meta[HISTORY_KEY], at.epoch, resume);
    if (past && s.valSplit > 0) bestWeights = await readBest(resume, past, model);
    io.out.write(`resuming ${resume} at epoch ${at.epoch + 1}, batch ${at.batch + 1}\n`);
  } else model = buildModel(s, backend);
  run.resume = { at, checkpointEvery, past, bestWeights };
  io.out.write(`${describeModel(s, model)}\n`);
  if (save && !run.d.wordIndex) {
    throw new DataError(
      `${run.d.source} has no word index (an imdb.npz needs imdb_word_index.json beside it); --save needs one to predict text later`,
    );
  }
  const vocab = save ? vocabOf(run.d.wordIndex!, s) : null;
  const epochs: EpochRecord[] = [...(past?.records ?? [])];
  const summary = (final: Selection | null) => runSummary(run, epochs, final, t0, backend, threads, io);
  const { history, savedEpochs, final } = await fitAndTest(model, run, vocab, io, epochs, summary);

  const result = summary(final);
  const interrupted = history.stopReason === 'aborted' || io.signal.aborted;
  reportRun(io.out, run, epochs, final, savedEpochs, interrupted, result.seconds, backend, threads);
  if (v.json === true) io.out.write(`${JSON.stringify({ ...result, stopReason: interrupted ? 'interrupted' : history.stopReason })}\n`);
  model.dispose();
  return interrupted ? 130 : 0;
}

function modelDir(v: Values, command: string): string {
  const dir = strFlag(v, 'model');
  if (!dir) throw new UsageError(`--model DIR is required (see \`cellstate imdb ${command} --help\`)`);
  return dir;
}

/**
 * `cellstate imdb evaluate`: a saved model on the test reviews, encoded with its own vocabulary.
 * @throws {UsageError} on a bad command line; {DataError} on missing or corrupt data or model files.
 */
export async function evaluate(argv: string[], io: Io): Promise<number> {
  const { values: v } = parse(argv, EVALUATE_OPTIONS, { command: 'imdb evaluate' });
  if (v.help) {
    io.out.write(EVALUATE_HELP);
    return 0;
  }
  const dir = modelDir(v, 'evaluate');
  const testSize = intFlag(v, 'test-size', 0) || null;
  const t0 = performance.now();
  const { backend } = await startBackend(v, io.out);
  const run = await loadRun(dir);
  const { vocab } = run;
  const numWords = vocab.idOptions.numWords ?? 1 << 30;
  const d = await resolveData(
    { data: strFlag(v, 'data'), sample: v.sample === true, offline: v.offline === true, numWords, seed: 113, wordIndex: vocab.words },
    io.err,
  );
  io.out.write(`${describeData(d, null, testSize, { withTrain: false })}\n`);
  const test = firstReviews(d.test, testSize);
  const x = padSequences(test, { maxlen: vocab.maxlen, padding: vocab.padding, truncating: vocab.truncating });
  io.out.write(
    `model: ${dir} (${fmtInt(run.model.numParameters)} parameters, ${run.model.epochsTrained} epoch${plural(run.model.epochsTrained)} trained)\n`,
  );
  const ev = await evaluateWithProgress(run.model, x, test.labels, 'testing', io, numFlag(v, 'log-every', 0.01, 3600) ?? 3, {
    padding: vocab.padding,
    cut: false,
  });
  run.model.dispose();
  if (!ev) {
    io.out.write('interrupted\n');
    return 130;
  }
  const seconds = Number(((performance.now() - t0) / 1000).toFixed(2));
  io.out.write(
    `test loss ${ev.loss.toFixed(4)}, test accuracy ${(100 * ev.accuracy).toFixed(2)}% on ${fmtInt(test.labels.length)} reviews (${fmtSeconds(seconds)}, ${backend.name})\n`,
  );
  if (v.json) {
    const data = { source: d.source, origin: d.origin, sample: d.sample, testTotal: d.test.labels.length, test: test.labels.length };
    io.out.write(
      `${JSON.stringify({ command: 'imdb evaluate', version: io.version, model: dir, data, testLoss: ev.loss, testAccuracy: ev.accuracy, seconds, backend: { name: backend.name, kernels: backend.kernels } })}\n`,
    );
  }
  return 0;
}

async function readLines(stdin: Io['stdin']): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks)
    .toString('utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
}

/**
 * `cellstate imdb predict`: each text's probability of being a positive review.
 * @throws {UsageError} on a bad command line or an empty text; {DataError} on missing or corrupt model files.
 */
export async function predict(argv: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parse(argv, PREDICT_OPTIONS, { command: 'imdb predict', positionals: true });
  if (v.help) {
    io.out.write(PREDICT_HELP);
    return 0;
  }
  const dir = modelDir(v, 'predict');
  for (const t of positionals) if (t.trim() === '') throw new UsageError('empty text to predict: give a non-empty TEXT, or lines on stdin');
  let texts = positionals;
  if (texts.length === 0) {
    if (io.stdin.isTTY) io.err.write('reading texts from stdin, one per line (Ctrl-D to end)\n');
    texts = await readLines(io.stdin);
    if (texts.length === 0) throw new UsageError('no text to predict: give TEXT arguments or non-empty lines on stdin');
  }
  // stdout carries only the probabilities (and the --json line), so they can be piped.
  const { backend } = await startBackend(v, io.err);
  const run = await loadRun(dir);
  const { vocab } = run;
  const x = padSequences(
    texts.map((t) => run.wordIndex.encode(t)),
    { maxlen: vocab.maxlen, padding: vocab.padding, truncating: vocab.truncating },
  );
  const p = run.model.predict(modelInput(x)).data;
  run.model.dispose();
  const rows = texts.map((text, i) => ({ text, probability: Number(p[i].toFixed(6)) }));
  for (const r of rows) io.out.write(`${r.probability.toFixed(4)}\t${r.text}\n`);
  if (v.json)
    io.out.write(
      `${JSON.stringify({ command: 'imdb predict', version: io.version, model: dir, backend: backend.name, predictions: rows })}\n`,
    );
  return 0;
}

/**
 * Reads `package.json`'s version from the package root (beside dist/ or two levels above ts/cli/).
 * @throws never: `'unknown'` when no package.json is found.
 */
export function packageVersion(here: string): string {
  for (const p of [`${here}/../package.json`, `${here}/../../package.json`]) {
    try {
      const j = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (j.name === 'cellstate' && j.version) return j.version;
    } catch {
      // try the next location
    }
  }
  return 'unknown';
}

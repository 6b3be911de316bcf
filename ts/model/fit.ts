/**
 * The training and evaluation loops over the core: batches in a seeded shuffled order (or length-bucketed,
 * ./batching.ts), learning-rate schedules, validation, early stopping and the choice of the epoch kept,
 * callbacks and abort, yielding to the event loop between batches.
 * The model (./sequence-model.ts) checks the data and hands over its handle.
 */
import { call } from '../backend';
import { CellstateError, ValueError, describe } from '../errors';
import { mulberry32 } from '../data/rng';
import { type BatchStats, type Block, type RawModel, isInt, runBatch } from './core';
import { type Batch, type BucketPlan, type TargetBlock, bucketPlan, bucketedEpoch, gather, gatherBucketed } from './batching';
import type { EpochTotals, EpochLogs, Evaluation, FitOptions, History, LrSchedule } from './types';

/** Inputs with their targets. */
export interface Labeled {
  b: Block;
  t: TargetBlock;
}

/** What {@link runFit} needs from the model. */
export interface FitRun {
  raw: RawModel;
  train: Labeled;
  val: Labeled | null;
  epochs: number;
  batchSize: number;
  /** The optimiser's lr, which a schedule scales. */
  baseLr: number;
  /** Seed of this run's shuffling stream. */
  shuffleSeed: number;
  /** Called after each finished epoch (the model counts them). */
  onEpochDone(): void;
  /**
   * Runs one training batch in place of the core's `trainBatch` on `raw` (the data-parallel trainer's step over
   * its workers); `raw` still holds the weights, the optimiser and the lr a schedule sets.
   */
  trainStep?: (b: Block, targets: Float32Array) => Promise<BatchStats>;
  /** The model's mask token (null without `mask`) and whether its head runs per step: what bucketing needs. */
  maskToken: number | null;
  perStep: boolean;
}

/**
 * A macrotask boundary: `setImmediate` in Node (timers, I/O and signals run), else a MessageChannel message
 * (not clamped to 4 ms as a nested `setTimeout(0)` is). Not `scheduler.yield()`: Chromium runs its
 * continuation ahead of timers and messages, so a page's intervals and a worker's abort message starved
 * (measured: no 10 ms interval tick at all during a 320 ms fit, and an abort that never landed).
 */
function macrotask(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * A function to await in long loops: it yields a macrotask when `ms` have passed since it last did. 20 ms
 * keeps a page's main thread answering within about one batch plus 20 ms (a 60 Hz frame is 16.7 ms; each
 * yield costs well under 0.1 ms, so training loses under 1%).
 */
function yielder(ms = 20): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last > ms) {
      await macrotask();
      last = performance.now();
    }
  };
}

/** @throws {ValueError} when epochs or batchSize is out of range. */
export function fitSizes(options: FitOptions): { epochs: number; batchSize: number } {
  const epochs = options.epochs ?? 1;
  const batchSize = options.batchSize ?? 32;
  if (!isInt(epochs, 0, 1e6)) throw new ValueError(`epochs must be a non-negative integer, got ${String(epochs)}`);
  if (!isInt(batchSize, 1, 1 << 20)) throw new ValueError(`batchSize must be a positive integer, got ${String(batchSize)}`);
  return { epochs, batchSize };
}

/**
 * Checks every batch of `data` and the options `fit` will use, before its first step: the core checks
 * the data (ids, lengths, labels, memory per call) batch by batch without running anything, so a bad
 * batch late in an epoch is refused before any weight moved.
 * @throws {ShapeError} / {ValueError} naming the first bad batch or option.
 */
export function checkFit(raw: RawModel, train: Labeled, val: Labeled | null, batchSize: number, options: FitOptions): void {
  for (const [what, data] of [
    ['x', train],
    ['validationData', val],
  ] as const) {
    if (!data) continue;
    for (let from = 0; from < data.b.n; from += batchSize) {
      const g = gather(data.b, data.t, null, from, Math.min(data.b.n, from + batchSize));
      try {
        call(() => raw.checkBatch(g.block.tokens, g.block.x, g.block.n, g.block.steps, g.block.lengths, g.targets));
      } catch (e) {
        if (e instanceof CellstateError) {
          const Kind = e.constructor as new (m: string, o?: { cause?: unknown }) => CellstateError;
          throw new Kind(`${what}, samples ${from}..${Math.min(data.b.n, from + batchSize) - 1}: ${e.message}`, { cause: e });
        }
        throw e;
      }
    }
  }
  const es = options.earlyStopping;
  if (es !== undefined) {
    if (typeof es !== 'object' || es === null) throw new ValueError(`earlyStopping must be an object, got ${describe(es)}`);
    const monitor = es.monitor ?? (val ? 'valLoss' : 'loss');
    const known = ['valLoss', 'valAccuracy', 'loss', 'accuracy'];
    if (!known.includes(monitor)) throw new ValueError(`earlyStopping.monitor must be one of ${known.join(', ')}, got ${String(monitor)}`);
    if (monitor.startsWith('val') && !val) throw new ValueError(`earlyStopping monitors ${monitor}, which this run does not compute`);
  }
  for (const [k, v] of Object.entries(options.callbacks ?? {})) {
    if (v !== undefined && typeof v !== 'function') throw new ValueError(`callbacks.${k} must be a function, got ${describe(v)}`);
  }
  if (options.shuffle !== undefined && typeof options.shuffle !== 'boolean') {
    throw new ValueError(`shuffle must be a boolean, got ${describe(options.shuffle)}`);
  }
  learningRate(options.lrSchedule, 1, 1);
  const { epochs } = fitSizes(options);
  const batches = Math.ceil(train.b.n / batchSize);
  if (options.initialEpoch !== undefined && !isInt(options.initialEpoch, 0, epochs))
    throw new ValueError(`initialEpoch must be an integer in 0..epochs (${epochs}), got ${String(options.initialEpoch)}`);
  if (options.initialBatch !== undefined && !isInt(options.initialBatch, 0, batches - 1))
    throw new ValueError(
      `initialBatch must be an integer in 0..${batches - 1} (batches per epoch − 1), got ${String(options.initialBatch)}`,
    );
  checkResume(raw, options);
  const t = options.initialTotals;
  if (t !== undefined) {
    const fields = ['lossSum', 'correct', 'counted', 'seen'] as const;
    if (typeof t !== 'object' || t === null || fields.some((f) => typeof t[f] !== 'number' || !Number.isFinite(t[f]) || t[f] < 0)) {
      throw new ValueError(
        `initialTotals must be the totals a checkpoint reported ({ ${fields.join(', ')} }, finite, ≥ 0), got ${describe(t)}`,
      );
    }
    if (!options.initialBatch) throw new ValueError('initialTotals belongs to a checkpoint inside an epoch: give its initialBatch too');
  }
  if (options.checkpointEvery !== undefined && !isInt(options.checkpointEvery, 1, 1e9))
    throw new ValueError(`checkpointEvery must be a positive integer, got ${String(options.checkpointEvery)}`);
  if (options.onCheckpoint !== undefined && typeof options.onCheckpoint !== 'function')
    throw new ValueError(`onCheckpoint must be a function, got ${describe(options.onCheckpoint)}`);
}

/**
 * Holds out the last `fraction` of the samples (before shuffling, as Keras does) for validation.
 * @throws {ValueError} when the fraction is not in (0, 1) or leaves either part empty.
 */
export function splitValidation(data: Labeled, fraction: unknown): { train: Labeled; val: Labeled } {
  const f = fraction;
  if (!(typeof f === 'number' && f > 0 && f < 1)) throw new ValueError(`validationSplit must be in (0, 1), got ${String(f)}`);
  const n = data.b.n;
  const nVal = Math.floor(n * f);
  if (nVal < 1 || nVal >= n) throw new ValueError(`validationSplit ${f} of ${n} samples leaves an empty split`);
  const part = (from: number, to: number): Labeled => {
    const g = gather(data.b, data.t, null, from, to);
    return { b: g.block, t: { data: g.targets!, perSample: data.t.perSample } };
  };
  return { train: part(0, n - nVal), val: part(n - nVal, n) };
}

/**
 * The learning rate at (epoch, global batch step) under `schedule`, over `totalSteps` batches.
 * @throws {ValueError} on a schedule that is neither a valid 'step' nor 'cosine'.
 */
function learningRate(schedule: LrSchedule | undefined, baseLr: number, totalSteps: number): (epoch: number, step: number) => number {
  if (schedule && !(schedule.type === 'step' ? isInt(schedule.stepSize, 1, 1e9) : schedule.type === 'cosine')) {
    throw new ValueError(`lrSchedule must be { type: 'step', stepSize } or { type: 'cosine' }, got ${JSON.stringify(schedule)}`);
  }
  const warmupFraction = schedule?.type === 'cosine' ? (schedule.warmup ?? 0) : 0;
  if (!(typeof warmupFraction === 'number' && warmupFraction >= 0 && warmupFraction < 1)) {
    throw new ValueError(`lrSchedule.warmup must be a fraction in [0, 1), got ${String(warmupFraction)}`);
  }
  const warmup = Math.round(warmupFraction * totalSteps);
  return (epoch, step) => {
    if (!schedule) return baseLr;
    if (schedule.type === 'step') return baseLr * (schedule.gamma ?? 0.1) ** Math.floor(epoch / schedule.stepSize);
    // Linear warm-up over the first `warmup` batches, then cosine over the rest.
    if (step < warmup) return (baseLr * (step + 1)) / warmup;
    const min = schedule.minLr ?? 0;
    return min + ((baseLr - min) * (1 + Math.cos((Math.PI * (step - warmup)) / Math.max(1, totalSteps - warmup)))) / 2;
  };
}

/** @throws {ValueError} when `initialHistory` / `initialBestWeights` do not describe the epochs before `initialEpoch`. */
function checkResume(raw: RawModel, options: FitOptions): void {
  const past = options.initialHistory;
  const weights = options.initialBestWeights;
  if (past === undefined) {
    if (weights !== undefined) throw new ValueError('initialBestWeights needs initialHistory (the epochs it was chosen from)');
    return;
  }
  const initialEpoch = options.initialEpoch ?? 0;
  if (!Array.isArray(past) || past.length !== initialEpoch) {
    throw new ValueError(
      `initialHistory must be an array of the ${initialEpoch} epochs before initialEpoch, got ${Array.isArray(past) ? `${past.length} entries` : describe(past)}`,
    );
  }
  past.forEach((l, i) => {
    const metrics = ['loss', 'accuracy', 'valLoss', 'valAccuracy'] as const;
    if (
      typeof l !== 'object' ||
      l === null ||
      l.epoch !== i ||
      typeof l.loss !== 'number' ||
      metrics.some((m) => l[m] !== undefined && typeof l[m] !== 'number')
    ) {
      throw new ValueError(
        `initialHistory[${i}] must be the EpochLogs of epoch ${i} (epoch, loss and numeric metrics), got ${describe(l)}`,
      );
    }
  });
  const keep = options.keepBestEpoch;
  if (keep !== undefined && past.length > 0 && past.some((l) => l[keep] === undefined)) {
    throw new ValueError(`initialHistory lacks ${keep} for some epoch, which this run selects on`);
  }
  const needsWeights = past.length > 0 && (options.keepBestEpoch !== undefined || options.earlyStopping?.restoreBestWeights === true);
  if (needsWeights && weights === undefined) {
    throw new ValueError(
      'initialBestWeights is needed to resume with keepBestEpoch or restoreBestWeights: the weights after the best epoch of initialHistory',
    );
  }
  if (weights !== undefined) {
    const n = raw.params().length;
    if (!(weights instanceof Float32Array) || weights.length !== n) {
      throw new ValueError(`initialBestWeights must be a Float32Array of the model's ${n} parameters, got ${describe(weights)}`);
    }
  }
}

/** Early stopping: watches one metric per epoch and keeps the best weights when asked to. */
class EarlyStopping {
  readonly #spec: NonNullable<FitOptions['earlyStopping']>;
  readonly monitor: 'valLoss' | 'valAccuracy' | 'loss' | 'accuracy';
  readonly #higherBetter: boolean;
  #best: number;
  #waited = 0;
  bestWeights: Float32Array | null = null;
  /** The epoch of `bestWeights`. */
  bestEpoch: number | null = null;

  constructor(spec: NonNullable<FitOptions['earlyStopping']>, hasValidation: boolean) {
    this.#spec = spec;
    this.monitor = spec.monitor ?? (hasValidation ? 'valLoss' : 'loss');
    this.#higherBetter = this.monitor.endsWith('ccuracy');
    this.#best = this.#higherBetter ? -Infinity : Infinity;
  }

  /**
   * Records an epoch; true when training should stop.
   * @throws {ValueError} when the monitored metric is not computed by this run.
   */
  observe(logs: EpochLogs, weights: () => Float32Array): boolean {
    const value = logs[this.monitor];
    if (value === undefined) throw new ValueError(`earlyStopping monitors ${this.monitor}, which this run does not compute`);
    const delta = this.#spec.minDelta ?? 0;
    const improved = this.#higherBetter ? value > this.#best + delta : value < this.#best - delta;
    if (improved) {
      this.#best = value;
      this.#waited = 0;
      if (this.#spec.restoreBestWeights) {
        this.bestWeights = weights();
        this.bestEpoch = logs.epoch;
      }
      return false;
    }
    return ++this.#waited >= (this.#spec.patience ?? 0);
  }
}

/** Fisher–Yates over `idx` (reset to 0..n-1 first) from the stream `next(bound)`, unless `shuffle` is false. */
function epochOrder(idx: Uint32Array, shuffle: boolean, next: (bound: number) => number): void {
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  if (!shuffle) return;
  for (let i = idx.length - 1; i > 0; i--) {
    const j = next(i + 1);
    const tmp = idx[i];
    idx[i] = idx[j];
    idx[j] = tmp;
  }
}

/**
 * One epoch of training batches in the order `idx`; null when the signal aborted it.
 * @throws {ShapeError} / {ValueError} as the core reports bad data.
 */
async function trainEpoch(
  run: FitRun,
  options: FitOptions,
  epoch: number,
  batchAt: (bi: number) => Batch,
  lrAt: (epoch: number, step: number) => number,
  pause: () => Promise<void>,
  firstBatch = 0,
  totals: EpochTotals = { lossSum: 0, correct: 0, counted: 0, seen: 0 },
): Promise<EpochLogs | null> {
  const batches = Math.ceil(run.train.b.n / run.batchSize);
  const { raw } = run;
  const start = performance.now();
  // A resumed epoch goes on from the totals of the batches before its checkpoint.
  let { lossSum, correct, counted, seen } = totals;
  const seenBefore = seen;
  for (let bi = firstBatch; bi < batches; bi++) {
    const g = batchAt(bi);
    const lr = lrAt(epoch, epoch * batches + bi);
    if (options.lrSchedule) call(() => raw.setLr(lr));
    const s = run.trainStep ? await run.trainStep(g.block, g.targets!) : runBatch(raw, 'trainBatch', g.block, g.targets!);
    lossSum += s.loss * g.block.n;
    correct += s.correct;
    counted += s.counted;
    seen += g.block.n;
    const elapsed = (performance.now() - start) / 1000;
    await options.callbacks?.onBatchEnd?.({
      epoch,
      batch: bi,
      batches,
      loss: lossSum / seen,
      accuracy: counted > 0 ? correct / counted : undefined,
      samplesPerSecond: (seen - seenBefore) / Math.max(elapsed, 1e-9),
      lr,
    });
    if (options.onCheckpoint && options.checkpointEvery && (bi + 1) % options.checkpointEvery === 0 && bi + 1 < batches) {
      await options.onCheckpoint({ epoch, batch: bi + 1, totals: { lossSum, correct, counted, seen } });
    }
    await pause();
    if (options.signal?.aborted) return null;
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    epoch,
    loss: lossSum / Math.max(seen, 1),
    accuracy: counted > 0 ? correct / counted : undefined,
    seconds,
    samplesPerSecond: (seen - seenBefore) / Math.max(seconds, 1e-9),
    lr: lrAt(epoch, (epoch + 1) * batches - 1),
  };
}

/**
 * The plan of `bucketByLength` for `data`, or null when the option is off.
 * @throws {ValueError} for a per-step model, input without lengths or mask, or a bad bucket count.
 */
function bucketsFor(run: FitRun, options: FitOptions, data: Labeled): BucketPlan | null {
  const opt = options.bucketByLength;
  if (opt === undefined || opt === false) return null;
  if (opt !== true && (typeof opt !== 'object' || opt === null)) {
    throw new ValueError(`bucketByLength must be true, false or { buckets }, got ${String(opt)}`);
  }
  if (run.perStep) throw new ValueError("bucketByLength does not apply to per-step models (pooling 'sequence')");
  // 20 quantile buckets by default (bucket width ~5% of the samples), never more than batches.
  const buckets = (opt === true ? undefined : opt.buckets) ?? Math.max(1, Math.min(20, Math.floor(data.b.n / run.batchSize)));
  return bucketPlan(data.b, run.maskToken, buckets);
}

/** The epoch whose weights `keepBestEpoch` restores: the first with the best monitored value. */
function bestEpoch(epochs: EpochLogs[], monitor: 'valAccuracy' | 'valLoss'): EpochLogs | null {
  let best: EpochLogs | null = null;
  for (const e of epochs) {
    const v = e[monitor];
    if (v === undefined) continue;
    const b = best?.[monitor];
    if (b === undefined || (monitor === 'valAccuracy' ? v > b : v < b)) best = e;
  }
  return best;
}

/**
 * The training loop: epochs of shuffled batches (length-bucketed with `bucketByLength`), validation after
 * each, then early stopping and the `onEpochEnd` verdict; at the end the selected epoch's weights.
 * @throws {ValueError} on a bad lrSchedule, bucketing or keepBestEpoch (before any update), or an
 * early-stopping metric this run lacks.
 */
export async function runFit(run: FitRun, options: FitOptions): Promise<History> {
  const { raw, train, val, epochs, batchSize } = run;
  const batches = Math.ceil(train.b.n / batchSize);
  const lrAt = learningRate(options.lrSchedule, run.baseLr, Math.max(1, epochs * batches));
  const stopper = options.earlyStopping ? new EarlyStopping(options.earlyStopping, val !== null) : null;
  const keep = options.keepBestEpoch;
  if (keep !== undefined && keep !== 'valAccuracy' && keep !== 'valLoss') {
    throw new ValueError(`keepBestEpoch must be 'valAccuracy' or 'valLoss', got ${String(keep)}`);
  }
  if (keep && !val) throw new ValueError('keepBestEpoch needs validation data (validationData or validationSplit)');
  const plan = bucketsFor(run, options, train);
  const valPlan = val ? bucketsFor(run, options, val) : null;
  // A resumed run starts from the epochs already trained: selection and patience cover the whole run.
  const history: History = { epochs: [...(options.initialHistory ?? [])], stopReason: 'completed' };
  const random = mulberry32(run.shuffleSeed);
  const next = (bound: number) => Math.floor(random() * bound);
  // A stream of its own for the order of the buckets' batches, so the sample permutation draws exactly
  // what unbucketed training draws (one bucket → the same batches).
  const bucketRandom = mulberry32((run.shuffleSeed ^ 0x85ebca6b) >>> 0);
  const nextBatch = (bound: number) => Math.floor(bucketRandom() * bound);
  const idx = new Uint32Array(train.b.n);
  let best: EpochLogs | null = keep ? bestEpoch(history.epochs, keep) : null;
  let bestWeights: Float32Array | null = best ? (options.initialBestWeights ?? null) : null;
  for (const logs of history.epochs) stopper?.observe(logs, () => options.initialBestWeights!);
  if (history.epochs.length > 0) {
    history.selectedEpoch = history.epochs.length - 1;
    history.selection = 'last epoch';
  }
  // One clock for the whole run, so many short epochs still yield (and a worker sees its abort message).
  const pause = yielder();
  // A resumed run replays the shuffles of the epochs it skips, so its data order is the uninterrupted run's.
  const initialEpoch = options.initialEpoch ?? 0;
  for (let e = 0; e < initialEpoch; e++) {
    epochOrder(idx, options.shuffle ?? true, next);
    if (plan && (options.shuffle ?? true)) bucketedEpoch(plan, idx, batchSize, nextBatch);
  }
  for (let epoch = initialEpoch; epoch < epochs; epoch++) {
    if (options.signal?.aborted) {
      history.stopReason = 'aborted';
      break;
    }
    await options.callbacks?.onEpochBegin?.(epoch);
    const shuffle = options.shuffle ?? true;
    epochOrder(idx, shuffle, next);
    let batchAt: (bi: number) => Batch;
    if (plan) {
      const { samples, starts } = bucketedEpoch(plan, idx, batchSize, shuffle ? nextBatch : null);
      batchAt = (bi) => gatherBucketed(train.b, train.t, plan, samples, starts[bi], Math.min(train.b.n, starts[bi] + batchSize));
    } else {
      batchAt = (bi) => gather(train.b, train.t, idx, bi * batchSize, Math.min(train.b.n, (bi + 1) * batchSize));
    }
    const logs = await trainEpoch(
      run,
      options,
      epoch,
      batchAt,
      lrAt,
      pause,
      epoch === initialEpoch ? (options.initialBatch ?? 0) : 0,
      epoch === initialEpoch ? options.initialTotals : undefined,
    );
    if (!logs) {
      history.stopReason = 'aborted';
      break;
    }
    if (val) {
      const e = await evaluateBlock(raw, val, batchSize, pause, valPlan);
      logs.valLoss = e.loss;
      logs.valAccuracy = e.accuracy;
    }
    run.onEpochDone();
    history.epochs.push(logs);
    history.selectedEpoch = epoch;
    history.selection = 'last epoch';
    if (keep && bestEpoch(history.epochs, keep) === logs) {
      best = logs;
      bestWeights = call(() => raw.params());
    }
    // onEpochEnd first: what it records about the epoch (its logs, a best-weights copy) is then part of the
    // state the epoch's checkpoint saves.
    const verdict = await options.callbacks?.onEpochEnd?.(logs);
    await options.onCheckpoint?.({ epoch: epoch + 1, batch: 0 });
    if (stopper?.observe(logs, () => raw.params())) {
      history.stopReason = 'early-stopping';
      break;
    }
    if (verdict === 'stop') {
      history.stopReason = 'callback';
      break;
    }
  }
  const stopped = stopper?.bestWeights;
  if (keep && best && bestWeights) {
    if (best !== history.epochs[history.epochs.length - 1]) call(() => raw.setParams(bestWeights));
    history.selectedEpoch = best.epoch;
    history.selection = `best ${keep}`;
  } else if (stopped && history.stopReason === 'early-stopping') {
    call(() => raw.setParams(stopped));
    history.selectedEpoch = stopper.bestEpoch ?? undefined;
    history.selection = `early stopping: best ${stopper.monitor}`;
  }
  return history;
}

/**
 * Mean loss and accuracy over labelled data, in batches, without dropout. With a bucket plan the batches
 * go through the samples grouped by length, each cut to its longest (the same results up to summation order).
 * @throws {ShapeError} / {ValueError} as the core reports bad data.
 */
/** `batchSize`, lowered to the core's working-memory budget for chunks of `steps` steps. */
export function fittingBatch(raw: RawModel, batchSize: number, steps: number): number {
  return Math.min(batchSize, raw.maxBatch(steps));
}

export async function evaluateBlock(
  raw: RawModel,
  data: Labeled,
  batchSize: number,
  pause = yielder(),
  plan: BucketPlan | null = null,
): Promise<Evaluation> {
  const { b, t } = data;
  // Chunks that the core's per-call memory limit admits at the longest length (a long test pass must not
  // be refused after a whole training run).
  batchSize = fittingBatch(raw, batchSize, b.steps);
  let loss = 0;
  let correct = 0;
  let counted = 0;
  const grouped = plan
    ? bucketedEpoch(
        plan,
        Uint32Array.from({ length: b.n }, (_, i) => i),
        batchSize,
        null,
      ).samples
    : null;
  for (let from = 0; from < b.n; from += batchSize) {
    const to = Math.min(b.n, from + batchSize);
    const g = plan ? gatherBucketed(b, t, plan, grouped!, from, to) : gather(b, t, null, from, to);
    const s = runBatch(raw, 'evaluateBatch', g.block, g.targets!);
    loss += s.loss * g.block.n;
    correct += s.correct;
    counted += s.counted;
    await pause();
  }
  return { loss: loss / Math.max(b.n, 1), accuracy: counted > 0 ? correct / counted : undefined };
}

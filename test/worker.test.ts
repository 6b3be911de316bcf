/**
 * The worker trainer in Node (worker_threads running dist/node-worker.js): the same losses, bitwise, as
 * `fit` on the main thread on each backend, callbacks in the same order, abort, typed errors from the
 * worker, and no thread left behind. Needs `bash scripts/build` (dist/) first, as the test command does.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BatchLogs,
  type EpochLogs,
  type FitOptions,
  type SequenceModelConfig,
  type Trainer,
  DataError,
  DisposedError,
  ShapeError,
  StateError,
  ValueError,
  createTrainer,
  loadModel,
  SequenceModel,
} from '../ts/index';
import { backend, backendNames, loadOptions, repoRoot } from './helpers';

const workerScript = join(repoRoot, 'dist/node-worker.js');

// 96 sequences of 12 tokens over a vocabulary of 30, labels from the first token: learnable, deterministic.
const n = 96;
const steps = 12;
const tokens = Int32Array.from({ length: n * steps }, (_, i) => (i * 7919 + ((i / steps) | 0) * 31) % 30);
const x = { data: tokens, shape: [n, steps] };
const y = Float32Array.from({ length: n }, (_, i) => (tokens[i * steps] < 15 ? 1 : 0));
const config: SequenceModelConfig = {
  input: { embedding: 8 },
  vocabSize: 30,
  lstm: { hiddenSize: 6, bidirectional: true },
  pooling: 'max',
  dropout: 0.2,
  output: { units: 1, activation: 'sigmoid' },
  seed: 5,
};
// Everything fit takes that changes the numbers: shuffling, validation, optimiser, clipping, schedule, early stopping.
const options: FitOptions = {
  epochs: 4,
  batchSize: 16,
  validationSplit: 0.25,
  optimizer: { type: 'adamw', lr: 0.01, weightDecay: 0.01 },
  clipNorm: 0.5,
  lrSchedule: { type: 'cosine', minLr: 1e-4 },
  earlyStopping: { monitor: 'valLoss', patience: 1, restoreBestWeights: true },
};

/** The callbacks as one ordered log of events, without the timings (which differ run to run). */
function recorder(): { events: string[]; callbacks: NonNullable<FitOptions['callbacks']> } {
  const events: string[] = [];
  const epoch = (l: EpochLogs) => `epoch ${l.epoch} ${l.loss} ${l.accuracy} ${l.valLoss} ${l.valAccuracy} ${l.lr}`;
  const batch = (l: BatchLogs) => `batch ${l.epoch}.${l.batch}/${l.batches} ${l.loss} ${l.accuracy} ${l.lr}`;
  return {
    events,
    callbacks: {
      onEpochBegin: (e) => void events.push(`begin ${e}`),
      onBatchEnd: (l) => void events.push(batch(l)),
      onEpochEnd: (l) => void events.push(epoch(l)),
    },
  };
}

describe.each(backendNames)('createTrainer on %s', (name) => {
  let trainer: Trainer;

  beforeAll(async () => {
    if (!existsSync(workerScript)) throw new Error('dist/node-worker.js is missing: run `bash scripts/build` first');
    const { backend: which, wasmFeatures } = loadOptions[name];
    trainer = await createTrainer({ backend: which, wasmFeatures: wasmFeatures as 'simd128' | 'relaxed_simd' | undefined });
  });
  afterAll(() => trainer?.terminate());

  it('reports the backend it loaded in the worker', async () => {
    expect(trainer.backend.name).toBe(loadOptions[name].backend);
    expect(trainer.backend.kernels).toBe((await backend(name)).kernels);
    expect(trainer.workers).toBe(1);
  });

  it('trains to the same losses, callbacks and weights as fit on the main thread (bitwise)', async () => {
    const main = recorder();
    const model = new SequenceModel(config, { backend: await backend(name) });
    const history = await model.fit(x, y, { ...options, callbacks: main.callbacks });
    const here = recorder();
    const result = await trainer.fit(config, x, y, { ...options, callbacks: here.callbacks });
    // The run must exercise early stopping or finish; either way both sides agree on every event.
    expect(main.events.length).toBeGreaterThan(10);
    expect(here.events).toEqual(main.events);
    expect(result.history.stopReason).toBe(history.stopReason);
    expect(result.history.epochs.map((e) => e.loss)).toEqual(history.epochs.map((e) => e.loss));
    expect(result.history.epochs.map((e) => e.valLoss)).toEqual(history.epochs.map((e) => e.valLoss));
    // The returned bundle is the same model: weights, optimiser state, epochs, RNG state.
    expect(new Uint8Array(result.model)).toEqual(new Uint8Array(model.toArrayBuffer()));
    const back = await loadModel(result.model, { backend: await backend(name) });
    expect(back.predict(x).data).toEqual(model.predict(x).data);
    expect((await trainer.predict(back, x)).data).toEqual(model.predict(x).data);
    back.dispose();
    model.dispose();
  });

  it('resumes from a model or its bytes, as fit continues on the main thread', async () => {
    const model = new SequenceModel(config, { backend: await backend(name) });
    await model.fit(x, y, { epochs: 1, batchSize: 32 });
    const start = model.toArrayBuffer();
    const first = await trainer.fit(model, x, y, { epochs: 1, batchSize: 32 });
    const again = await trainer.fit(start, x, y, { epochs: 1, batchSize: 32 });
    await model.fit(x, y, { epochs: 1, batchSize: 32 });
    expect(new Uint8Array(first.model)).toEqual(new Uint8Array(model.toArrayBuffer()));
    expect(new Uint8Array(again.model)).toEqual(new Uint8Array(model.toArrayBuffer()));
    model.dispose();
  });
});

describe('createTrainer: control and errors', () => {
  let trainer: Trainer;
  beforeAll(async () => {
    trainer = await createTrainer({ backend: 'wasm' });
  });
  afterAll(() => trainer?.terminate());

  it("stops after an epoch when onEpochEnd returns 'stop', awaiting it like fit", async () => {
    let ended = 0;
    const r = await trainer.fit(config, x, y, {
      epochs: 5,
      batchSize: 32,
      onEpochEnd: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return ++ended === 2 ? 'stop' : undefined;
      },
    });
    expect(r.history.stopReason).toBe('callback');
    expect(r.history.epochs).toHaveLength(2);
  });

  it('aborts between batches and resolves with what was trained, as fit does', async () => {
    const controller = new AbortController();
    const batches: number[] = [];
    const r = await trainer.fit(config, x, y, {
      epochs: 50,
      batchSize: 8,
      signal: controller.signal,
      onBatchEnd: (l) => {
        batches.push(l.epoch * l.batches + l.batch);
        if (batches.length === 3) controller.abort();
      },
    });
    expect(r.history.stopReason).toBe('aborted');
    // The worker reads the abort at its next yield (every 20 ms of batches), so some batches run after it;
    // well under half of the 50 epochs × 12 batches.
    expect(batches.length).toBeGreaterThanOrEqual(3);
    expect(batches.length).toBeLessThan(300);
    const model = await loadModel(r.model, { backend: await backend('wasm') });
    expect(model.epochsTrained).toBe(r.history.epochs.length);
    model.dispose();
    // Aborted before it starts: nothing is trained, as fit does.
    const before = await trainer.fit(config, x, y, { epochs: 3, signal: AbortSignal.abort() });
    expect(before.history).toEqual({ epochs: [], stopReason: 'aborted' });
  });

  it('rejects with the error a callback throws, and stops the worker run', async () => {
    const boom = new Error('from the callback');
    let calls = 0;
    await expect(
      trainer.fit(config, x, y, {
        epochs: 20,
        batchSize: 8,
        onBatchEnd: () => {
          if (++calls === 2) throw boom;
        },
      }),
    ).rejects.toBe(boom);
    // The trainer is still usable.
    expect((await trainer.fit(config, x, y, { epochs: 1, batchSize: 48 })).history.epochs).toHaveLength(1);
  });

  it('gives bad input back as the same typed errors, with their code and message', async () => {
    const shape = await trainer.fit(config, x, y.subarray(1)).catch((e: unknown) => e);
    expect(shape).toBeInstanceOf(ShapeError);
    expect((shape as ShapeError).code).toBe('shape');
    expect((shape as Error).message).toMatch(/targets have 95 values; expected 96/);
    const value = await trainer.fit({ ...config, vocabSize: 0 }, x, y).catch((e: unknown) => e);
    expect(value).toBeInstanceOf(ValueError);
    expect((value as Error).message).toMatch(/vocabSize/);
    const big = await trainer.fit(config, { data: tokens.map((t) => t + 30), shape: [n, steps] }, y).catch((e: unknown) => e);
    expect(big).toBeInstanceOf(ValueError);
    const data = await trainer.predict(new Uint8Array([1, 2, 3]), x).catch((e: unknown) => e);
    expect(data).toBeInstanceOf(DataError);
    // Options that cannot cross to a worker are refused here, before anything is sent.
    const fn = await trainer.fit(config, x, y, { epochs: 1, extra: () => 0 } as never).catch((e: unknown) => e);
    expect(fn).toBeInstanceOf(ValueError);
    expect((fn as Error).message).toMatch(/plain data/);
  });

  it('refuses bad trainer options with ValueError', async () => {
    await expect(createTrainer({ workers: 0 })).rejects.toBeInstanceOf(ValueError);
    await expect(createTrainer({ workers: 1.5 })).rejects.toBeInstanceOf(ValueError);
    // Data-parallel workers run wasm, and `worker` is the single worker's script.
    await expect(createTrainer({ workers: 2, backend: 'native' })).rejects.toThrow(/backend 'native' takes workers: 1/);
    await expect(createTrainer({ workers: 2, worker: () => new Worker(workerScript) })).rejects.toBeInstanceOf(ValueError);
    await expect(createTrainer({ backend: 'webgpu' as never })).rejects.toBeInstanceOf(ValueError);
  });

  it('moves the inputs instead of copying them with transfer: true', async () => {
    const mine = { data: tokens.slice(), shape: [n, steps] };
    const labels = y.slice();
    const r = await trainer.fit(config, mine, labels, { epochs: 1, batchSize: 32, transfer: true });
    expect(r.history.epochs).toHaveLength(1);
    expect(mine.data.length).toBe(0);
    expect(labels.length).toBe(0);
  });
});

describe('createTrainer: cleanup', () => {
  it('terminates its worker: the thread exits, running calls reject with StateError, later ones with DisposedError', async () => {
    const worker = new Worker(workerScript);
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const trainer = await createTrainer({ backend: 'wasm', worker: () => worker });
    const running = trainer.fit(config, x, y, { epochs: 1000, batchSize: 8 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    trainer.terminate();
    await expect(running).rejects.toBeInstanceOf(StateError);
    expect(await exited).toBe(1);
    await expect(trainer.fit(config, x, y)).rejects.toBeInstanceOf(DisposedError);
    trainer.terminate(); // twice is fine
  });

  it('does not keep a Node process alive when the program forgets terminate()', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cellstate-worker-'));
    try {
      const file = join(dir, 'forget.mjs');
      writeFileSync(
        file,
        `import { createTrainer } from ${JSON.stringify(join(repoRoot, 'dist/index.js'))};
const t = await createTrainer({ backend: 'wasm' });
const r = await t.fit(${JSON.stringify(config)}, [[1, 2, 3], [4, 5, 6]], [0, 1], { epochs: 1 });
console.log(r.history.epochs.length);
`,
      );
      // Exits by itself (a held worker would hit the timeout and fail this with ETIMEDOUT).
      expect(execFileSync('node', [file], { encoding: 'utf8', timeout: 30_000 }).trim()).toBe('1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('createTrainer({ workers: 2 }): data-parallel over the parallel engine', () => {
  // Without dropout: each worker draws its own dropout stream, so with it 2 workers cannot match 1.
  const plain: SequenceModelConfig = { ...config, dropout: 0 };
  const wasm = { backend: 'wasm', wasmFeatures: 'simd128' } as const;
  let one: Trainer;
  let two: Trainer;
  beforeAll(async () => {
    one = await createTrainer(wasm);
    two = await createTrainer({ ...wasm, workers: 2 });
  });
  afterAll(() => {
    one?.terminate();
    two?.terminate();
  });

  it('reports its workers and their wasm build', () => {
    expect(two.workers).toBe(2);
    expect(two.backend).toEqual({ name: 'wasm', kernels: 'simd128' });
  });

  it('gives the losses of 1 worker within 1e-5, the same callbacks, and the same run twice (bitwise)', async () => {
    const single = recorder();
    const a = await one.fit(plain, x, y, { ...options, callbacks: single.callbacks });
    const first = recorder();
    const b = await two.fit(plain, x, y, { ...options, callbacks: first.callbacks });
    const again = await two.fit(plain, x, y, options);
    expect(b.history.stopReason).toBe(a.history.stopReason);
    expect(b.history.epochs).toHaveLength(a.history.epochs.length);
    // Every batch's running loss too, not only the epochs': the events are the same sequence.
    const numbers = (events: string[]) => events.flatMap((e) => e.split(' ').slice(2).map(Number));
    expect(first.events.map((e) => e.split(' ').slice(0, 2).join(' '))).toEqual(
      single.events.map((e) => e.split(' ').slice(0, 2).join(' ')),
    );
    const [got, want] = [numbers(first.events), numbers(single.events)];
    expect(got).toHaveLength(want.length);
    // Float32 shard sums in another order (parallel.test.ts measured ~1e-6 relative over a few Adam steps).
    for (let i = 0; i < want.length; i++) {
      if (Number.isNaN(want[i])) expect(got[i]).toBeNaN();
      else expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[i])));
    }
    for (const [e, f] of b.history.epochs.map((h, i) => [h, a.history.epochs[i]] as const)) {
      expect(Math.abs(e.loss - f.loss)).toBeLessThan(1e-5);
      expect(Math.abs(e.valLoss! - f.valLoss!)).toBeLessThan(1e-5);
    }
    expect(new Uint8Array(again.model)).toEqual(new Uint8Array(b.model));
    expect(again.history.epochs.map((e) => [e.loss, e.valLoss])).toEqual(b.history.epochs.map((e) => [e.loss, e.valLoss]));
    // The bytes are a model that predicts, here and split over the workers alike.
    const back = await loadModel(b.model, { backend: await backend('wasm') });
    expect(back.epochsTrained).toBe(b.history.epochs.length);
    expect((await two.predict(back, x, { batchSize: 7 })).data).toEqual(back.predict(x).data);
    back.dispose();
  });

  it('resumes from saved bytes as 1 worker does', async () => {
    const start = (await one.fit(plain, x, y, { epochs: 1, batchSize: 32 })).model;
    const a = await one.fit(start, x, y, { epochs: 1, batchSize: 32 });
    const b = await two.fit(start, x, y, { epochs: 1, batchSize: 32 });
    expect(Math.abs(b.history.epochs[0].loss - a.history.epochs[0].loss)).toBeLessThan(1e-5);
    const resumed = await loadModel(b.model, { backend: await backend('wasm') });
    expect(resumed.epochsTrained).toBe(2);
    resumed.dispose();
  });

  it("aborts between batches, stops on onEpochEnd's 'stop', and rejects with a callback's error", async () => {
    const controller = new AbortController();
    let batches = 0;
    const r = await two.fit(plain, x, y, {
      epochs: 50,
      batchSize: 8,
      signal: controller.signal,
      onBatchEnd: () => {
        if (++batches === 3) controller.abort();
      },
    });
    expect(r.history.stopReason).toBe('aborted');
    // The loop runs on this thread, so it sees the abort right after the batch that fired it.
    expect(batches).toBe(3);
    expect((await two.fit(plain, x, y, { epochs: 3, signal: AbortSignal.abort() })).history).toEqual({ epochs: [], stopReason: 'aborted' });
    let ended = 0;
    const stopped = await two.fit(plain, x, y, { epochs: 5, batchSize: 32, onEpochEnd: () => (++ended === 2 ? 'stop' : undefined) });
    expect(stopped.history.stopReason).toBe('callback');
    expect(stopped.history.epochs).toHaveLength(2);
    const boom = new Error('from the callback');
    await expect(
      two.fit(plain, x, y, {
        epochs: 5,
        batchSize: 8,
        onBatchEnd: (l) => {
          if (l.batch === 1) throw boom;
        },
      }),
    ).rejects.toBe(boom);
  });

  it('gives bad input back as typed errors, from this thread and from the workers', async () => {
    const shape = await two.fit(plain, x, y.subarray(1)).catch((e: unknown) => e);
    expect(shape).toBeInstanceOf(ShapeError);
    expect((shape as Error).message).toMatch(/targets have 95 values; expected 96/);
    expect(await two.fit({ ...plain, vocabSize: 0 }, x, y).catch((e: unknown) => e)).toBeInstanceOf(ValueError);
    // Token ids past the vocabulary are caught by the core, in a worker: the class and code cross back.
    const big = await two.fit(plain, { data: tokens.map((t) => t + 30), shape: [n, steps] }, y).catch((e: unknown) => e);
    expect(big).toBeInstanceOf(ValueError);
    expect((big as ValueError).code).toBe('value');
    const pred = await two.predict(new Uint8Array([1, 2, 3]), x).catch((e: unknown) => e);
    expect(pred).toBeInstanceOf(DataError);
    // Still usable after the errors.
    expect((await two.fit(plain, x, y, { epochs: 1, batchSize: 48 })).history.epochs).toHaveLength(1);
  });

  it('terminates: running calls reject with StateError, later ones with DisposedError', async () => {
    const t = await createTrainer({ ...wasm, workers: 2 });
    const running = t.fit(plain, x, y, { epochs: 1000, batchSize: 8 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.terminate();
    await expect(running).rejects.toBeInstanceOf(StateError);
    await expect(t.fit(plain, x, y)).rejects.toBeInstanceOf(DisposedError);
    t.terminate();
  });

  it('does not keep a Node process alive when the program forgets terminate()', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cellstate-parallel-'));
    try {
      const file = join(dir, 'forget.mjs');
      writeFileSync(
        file,
        `import { createTrainer } from ${JSON.stringify(join(repoRoot, 'dist/index.js'))};
const t = await createTrainer({ workers: 2 });
const r = await t.fit(${JSON.stringify(plain)}, [[1, 2, 3], [4, 5, 6], [7, 8, 9]], [0, 1, 0], { epochs: 1 });
console.log(r.history.epochs.length, t.workers);
`,
      );
      expect(execFileSync('node', [file], { encoding: 'utf8', timeout: 30_000 }).trim()).toBe('1 2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

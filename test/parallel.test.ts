/**
 * Data-parallel training and inference over workers (ts/parallel): shard gradients summed in worker order give
 * the whole batch's step. 1 worker is exactly `trainBatch` on the same build; 2 workers agree with it within
 * float rounding of the shard sums and are bitwise repeatable. `applyGradients` itself is checked on every
 * backend. Needs `bash scripts/build` (the workers run dist/parallel-worker.js).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BackendError,
  type ParallelModel,
  ValueError,
  lstmForwardFlops,
  type SequenceModelConfig,
  createParallelModel,
  sequenceClassifier,
  sequenceTagger,
} from '../ts/index';
import { nodeWorkerFactory } from '../ts/parallel/node';
import type { Request } from '../ts/parallel/protocol';
import type { WorkerFactory } from '../ts/parallel/pool';
import { backend, backendNames, expectClose, repoRoot, rng } from './helpers';

const B = 9; // two shards of 5 and 4 rows
const T = 7;
const V = 20;
const lengths = [7, 3, 5, 7, 1, 6, 2, 7, 4];

function batch(seed: number) {
  const r = rng(seed);
  const ids = new Int32Array(B * T).map(() => 1 + Math.floor(r() * (V - 1)));
  return {
    x: { data: ids, shape: [B, T], lengths },
    yClass: Float32Array.from({ length: B }, (_, i) => (i * 7 + seed) % 2),
    yTag: Float32Array.from({ length: B * T }, (_, i) => (i + seed) % 3),
  };
}

const classifier: Omit<SequenceModelConfig, 'output' | 'pooling'> = { input: 'one-hot', vocabSize: V, lstm: { hiddenSize: 8 }, seed: 3 };
const tagger: Omit<SequenceModelConfig, 'pooling'> = {
  input: { embedding: 6 },
  vocabSize: V,
  lstm: { hiddenSize: 5, bidirectional: true },
  output: { units: 3, activation: 'softmax' },
  seed: 4,
};
// Float32 sums in another order over a few Adam steps: ~1e-6 relative measured, 1e-5 leaves room.
const tol = { rtol: 1e-5, atol: 1e-6 };

describe.each(backendNames)('applyGradients on %s', (name) => {
  it('weighted shard gradients applied once equal trainBatch on the whole batch (per-step loss, lengths)', async () => {
    const b = await backend(name);
    const { x, yTag } = batch(1);
    const whole = sequenceTagger(tagger, { backend: b });
    const sharded = sequenceTagger(tagger, { backend: b });
    for (const m of [whole, sharded]) m.setOptimizer({ type: 'adam', lr: 0.01 }, { clipNorm: 0.5 });
    for (let step = 0; step < 3; step++) {
      const full = whole.trainBatch(x, yTag);
      const parts = [
        [0, 5],
        [5, 9],
      ].map(([from, to]) => {
        const s = sharded.computeGradients(
          { data: x.data.slice(from * T, to * T), shape: [to - from, T], lengths: lengths.slice(from, to) },
          yTag.slice(from * T, to * T),
        );
        return { s, g: sharded.gradients() };
      });
      const terms = parts[0].s.terms + parts[1].s.terms;
      // The per-step loss averages the real steps: Σ lengths.
      expect(terms).toBe(lengths.reduce((a, c) => a + c, 0));
      const sum: Record<string, { data: Float32Array; shape: number[] }> = {};
      for (const k of sharded.parameterNames) {
        const [a, c] = [parts[0].g[k], parts[1].g[k]];
        sum[k] = { data: a.data.map((v, i) => (parts[0].s.terms * v + parts[1].s.terms * c.data[i]) / terms), shape: [...a.shape] };
      }
      const loss = (parts[0].s.terms * parts[0].s.loss + parts[1].s.terms * parts[1].s.loss) / terms;
      expect(Math.abs(loss - full.loss)).toBeLessThan(1e-6);
      sharded.applyGradients(sum);
    }
    const [w1, w2] = [whole.stateDict(), sharded.stateDict()];
    for (const k of whole.parameterNames) expectClose(k, w2[k].data, w1[k].data, tol);
    whole.dispose();
    sharded.dispose();
  });

  it('refuses gradients of the wrong size or with a NaN, changing nothing', async () => {
    const m = sequenceClassifier(classifier, { backend: await backend(name) });
    const before = m.stateDict()['fc.weight'].data.slice();
    expect(() => m.applyGradients(new Float32Array(3))).toThrow(/gradients/);
    const bad = new Float32Array(m.numParameters);
    bad[5] = NaN;
    expect(() => m.applyGradients(bad)).toThrow(/not finite/);
    expect(m.stateDict()['fc.weight'].data).toEqual(before);
    m.dispose();
  });
});

describe('ParallelModel over worker_threads (wasm)', () => {
  const open: ParallelModel[] = [];
  // These batches are far under the default minShardFlops: 0 makes every one go to the workers.
  const start = async (config: typeof classifier | typeof tagger, workers: number, minShardFlops = 0, createWorker?: WorkerFactory) => {
    const b = await backend('wasm');
    const m = config === tagger ? sequenceTagger(tagger, { backend: b }) : sequenceClassifier(classifier, { backend: b });
    const p = await createParallelModel(m, { workers, wasmFeatures: 'simd128', minShardFlops, ...(createWorker ? { createWorker } : {}) });
    p.setOptimizer({ type: 'adam', lr: 0.01 });
    open.push(p);
    return p;
  };
  afterAll(async () => {
    for (const p of open) {
      await p.dispose();
      p.model.dispose();
    }
  });

  async function losses(p: ParallelModel, steps: number, tag: boolean): Promise<number[]> {
    const out = [];
    for (let s = 0; s < steps; s++) {
      const { x, yClass, yTag } = batch(10 + s);
      out.push((await p.trainBatch(x, tag ? yTag : yClass)).loss);
    }
    return out;
  }

  it('1 worker is exactly trainBatch on the main thread with the same build', async () => {
    const p = await start(classifier, 1);
    expect(p.workers).toBe(1);
    expect(p.kernels).toBe('simd128');
    const local = sequenceClassifier(classifier, { backend: await backend('wasm') });
    local.setOptimizer({ type: 'adam', lr: 0.01 });
    const got = await losses(p, 4, false);
    const want = [];
    for (let s = 0; s < 4; s++) {
      const { x, yClass } = batch(10 + s);
      want.push(local.trainBatch(x, yClass).loss);
    }
    expect(got).toEqual(want);
    expect(p.model.stateDict()['lstm.weight_hh_l0'].data).toEqual(local.stateDict()['lstm.weight_hh_l0'].data);
    local.dispose();
  });

  it.each([
    ['classifier', classifier, false],
    ['per-step tagger', tagger, true],
  ] as const)(
    '2 workers give the losses and weights of 1 worker within rounding, bitwise the same each run (%s)',
    async (_, config, tag) => {
      const one = await start(config, 1);
      const two = await start(config, 2);
      const again = await start(config, 2);
      const [l1, l2, l2b] = [await losses(one, 5, tag), await losses(two, 5, tag), await losses(again, 5, tag)];
      expectClose('losses', l2, l1, tol);
      expect(l2b).toEqual(l2);
      const [w1, w2, w2b] = [one.model.stateDict(), two.model.stateDict(), again.model.stateDict()];
      for (const k of one.model.parameterNames) {
        expectClose(k, w2[k].data, w1[k].data, tol);
        expect(w2b[k].data).toEqual(w2[k].data);
      }
    },
  );

  it('predict over 2 workers equals predict on the main model', async () => {
    const p = await start(tagger, 2);
    await losses(p, 2, true);
    const { x } = batch(99);
    const got = await p.predict(x, { batchSize: 2 });
    const want = p.model.predict(x);
    expect(got.shape).toEqual(want.shape);
    expectClose('predict', got.data, want.data, { rtol: 1e-6, atol: 1e-7 });
  });

  /** worker_threads workers whose requests are recorded in `sent`. */
  function recorder(): { sent: Request[]; createWorker: WorkerFactory } {
    const sent: Request[] = [];
    const createWorker: WorkerFactory = (i) => {
      const port = nodeWorkerFactory(i);
      return { ...port, postMessage: (m, transfer) => (sent.push(m), port.postMessage(m, transfer)) };
    };
    return { sent, createWorker };
  }
  const sentOf = (sent: Request[], type: Request['type']) => sent.filter((r) => r.type === type).length;

  it('runs a batch under minShardFlops in this thread: the same predictions bitwise, no worker asked', async () => {
    const split = recorder();
    const here = recorder();
    const a = await start(tagger, 2, 0, split.createWorker);
    const b = await start(tagger, 2, Infinity, here.createWorker);
    const { x } = batch(21);
    const [got, want] = [await b.predict(x, { batchSize: 4 }), await a.predict(x, { batchSize: 4 })];
    expect(sentOf(split.sent, 'predict')).toBe(2);
    expect(sentOf(here.sent, 'predict')).toBe(0);
    expect(got.shape).toEqual(want.shape);
    expect(got.data).toEqual(want.data);
  });

  it('trains a batch under minShardFlops in this thread: exactly the 1-worker steps', async () => {
    const here = recorder();
    const one = await start(tagger, 1);
    const two = await start(tagger, 2, Infinity, here.createWorker);
    expect(await losses(two, 4, true)).toEqual(await losses(one, 4, true));
    expect(sentOf(here.sent, 'gradients')).toBe(0);
    const [w1, w2] = [one.model.stateDict(), two.model.stateDict()];
    for (const k of one.model.parameterNames) expect(w2[k].data).toEqual(w1[k].data);
    // The workers get the weights changed here with their next request.
    const { x } = batch(30);
    const big = await start(tagger, 2, 0);
    big.model.loadStateDict(w2);
    big.weightsChanged();
    expect((await two.predict(x)).data).toEqual((await big.predict(x)).data);
  });

  it('splits a batch over as many workers as get minShardFlops each, in this thread under 2', async () => {
    const rec = recorder();
    const config = { ...classifier, lstm: { hiddenSize: 8 } };
    const work = lstmForwardFlops({ ...config, output: { units: 1, activation: 'sigmoid' } }, B, T);
    // One-hot input: no input product, 2·B·T·H·4H.
    expect(work).toBe(2 * B * T * 8 * 32);
    const p = await start(classifier, 4, work / 3.5, rec.createWorker);
    const { x, yClass } = batch(8);
    await p.predict(x);
    expect(sentOf(rec.sent, 'predict')).toBe(3);
    await p.trainBatch({ ...x, data: x.data.slice(0, 4 * T), shape: [4, T], lengths: lengths.slice(0, 4) }, yClass.slice(0, 4));
    expect(sentOf(rec.sent, 'gradients')).toBe(0);
  });

  it('runs a small batch on one worker, not here, when the main model is on another backend (native)', async () => {
    const rec = recorder();
    const m = sequenceTagger(tagger, { backend: await backend('native') });
    const p = await createParallelModel(m, {
      workers: 2,
      wasmFeatures: 'simd128',
      minShardFlops: Infinity,
      createWorker: rec.createWorker,
    });
    open.push(p);
    const { x } = batch(22);
    const got = await p.predict(x);
    expect(sentOf(rec.sent, 'predict')).toBe(1);
    const local = sequenceTagger(tagger, { backend: await backend('wasm') });
    local.loadStateDict(m.stateDict());
    // The workers' build computed it: bitwise the wasm main-thread values, not the native ones.
    expect(got.data).toEqual(local.predict(x).data);
    local.dispose();
  });

  it('counts the forward FLOPs of every layer and direction, the embedding or features as the first input', () => {
    const h = 5;
    const g = 4 * h;
    const out = { units: 1, activation: 'sigmoid' } as const;
    expect(lstmForwardFlops({ input: { features: 7 }, lstm: { hiddenSize: h }, output: out }, 3, 2)).toBe(2 * 3 * 2 * (7 + h) * g);
    expect(
      lstmForwardFlops(
        { input: { embedding: 6 }, vocabSize: 9, lstm: { hiddenSize: h, numLayers: 2, bidirectional: true }, output: out },
        3,
        2,
      ),
    ).toBe(2 * (2 * 3 * 2 * (6 + h) * g) + 2 * (2 * 3 * 2 * (2 * h + h) * g));
  });

  it.each([-1, NaN, '1e6'])('refuses minShardFlops %s with a ValueError', async (bad) => {
    const m = sequenceClassifier(classifier, { backend: await backend('wasm') });
    await expect(createParallelModel(m, { workers: 1, minShardFlops: bad as number })).rejects.toThrow(ValueError);
    m.dispose();
  });

  it('compiles the .wasm once in this thread and posts the same module to every worker', async () => {
    const { sent, createWorker: recording } = recorder();
    const m = sequenceClassifier(classifier, { backend: await backend('wasm') });
    const p = await createParallelModel(m, { workers: 2, wasmFeatures: 'simd128', createWorker: recording, minShardFlops: 0 });
    try {
      const inits = sent.flatMap((r) => (r.type === 'init' ? [r.backend.wasm] : []));
      expect(inits).toHaveLength(2);
      expect(inits[0]).toBeInstanceOf(WebAssembly.Module);
      expect(inits[1]).toBe(inits[0]);
      const { x } = batch(5);
      expectClose('predict', (await p.predict(x)).data, m.predict(x).data, { rtol: 1e-6, atol: 1e-7 });
    } finally {
      await p.dispose();
      m.dispose();
    }
  });

  it.each([1, 2])("moves the shards' copies to %i worker(s), never the caller's arrays", async (workers) => {
    const p = await start(classifier, workers);
    const { x, yClass } = batch(7);
    const [data, y] = [x.data.slice(), yClass.slice()];
    await p.trainBatch(x, yClass);
    await p.predict(x);
    expect(x.data).toEqual(data);
    expect(yClass).toEqual(y);
  });

  it('runs a .wasm given by path, and a path that does not load is a BackendError', async () => {
    const m = sequenceClassifier(classifier, { backend: await backend('wasm') });
    const wasm = join(repoRoot, 'dist/cellstate_wasm_bg.wasm');
    const p = await createParallelModel(m, { workers: 2, wasmFeatures: 'simd128', wasm, minShardFlops: 0 });
    expect(p.kernels).toBe('simd128');
    const { x } = batch(6);
    expectClose('predict', (await p.predict(x)).data, m.predict(x).data, { rtol: 1e-6, atol: 1e-7 });
    await p.dispose();
    await expect(createParallelModel(m, { workers: 2, wasm: join(repoRoot, 'dist/missing.wasm') })).rejects.toThrow(BackendError);
    m.dispose();
  });

  it('a bad batch is an error from the worker, and the weights stay', async () => {
    const p = await start(classifier, 2);
    const before = p.model.stateDict()['fc.weight'].data.slice();
    const { x } = batch(1);
    await expect(p.trainBatch({ ...x, data: x.data.map(() => V + 5) }, new Float32Array(B))).rejects.toThrow(/vocab|token/i);
    expect(p.model.stateDict()['fc.weight'].data).toEqual(before);
    await p.dispose();
    await expect(p.trainBatch(x, new Float32Array(B))).rejects.toThrow(/disposed/);
  });
});

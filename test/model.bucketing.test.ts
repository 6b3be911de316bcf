/**
 * Length-bucketed batches (`fit`'s bucketByLength) and epoch selection (keepBestEpoch): the epoch plan
 * covers every sample once, keeps batches length-homogeneous and is seeded; cutting a batch to its longest
 * sequence does not change a masked model's outputs, with 'pre' or 'post' padding; equal lengths give
 * exactly unbucketed training; the kept epoch is the best on validation data.
 */
import { describe, expect, it } from 'vitest';
import { ValueError, padSequences, sequenceClassifier, sequenceTagger } from '../ts/index';
import { bucketPlan, bucketedEpoch, gatherBucketed, toBlock } from '../ts/model/batching';
import type { Block, CoreConfig } from '../ts/model/core';
import { mulberry32 } from '../ts/data/rng';
import { backend, backendNames, rng, thrown } from './helpers';

const tokenCore = { input: { kind: 'embedding', vocabSize: 50, dim: 4, paddingIdx: 0 }, pooling: 'max', units: 1 } as unknown as CoreConfig;

/** `n` reviews of token ids 1..vocab-1 with lengths from `lengthOf(i)`; label = whether token 1 occurs more than token 2. */
function reviews(n: number, lengthOf: (i: number) => number, seed: number, vocab = 50) {
  const r = rng(seed);
  const seqs: number[][] = [];
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = Array.from({ length: lengthOf(i) }, () => 1 + Math.floor(r() * (vocab - 1)));
    const ones = s.filter((v) => v === 1).length;
    const twos = s.filter((v) => v === 2).length;
    y[i] = ones > twos ? 1 : 0;
    seqs.push(s);
  }
  return { seqs, y };
}

/** Lengths in four groups of 16 (2, 5, 9, 14 steps), interleaved. */
const grouped = (i: number) => [2, 5, 9, 14][i % 4];

function blockOf(seqs: number[][], padding: 'pre' | 'post', withLengths: boolean): Block {
  const p = padSequences(seqs, { padding, maxlen: 16 });
  return toBlock(tokenCore, withLengths ? p : { data: p.data, shape: p.shape });
}

describe('the bucketed epoch plan', () => {
  const { seqs } = reviews(64, grouped, 1);
  const block = blockOf(seqs, 'post', true);
  const identity = () => Uint32Array.from({ length: 64 }, (_, i) => i);
  const shuffled = (seed: number) => {
    const r = mulberry32(seed);
    const idx = identity();
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    return idx;
  };
  const epoch = (seed: number) => {
    const r = mulberry32(seed + 1000);
    return bucketedEpoch(bucketPlan(block, null, 4), shuffled(seed), 8, (b) => Math.floor(r() * b));
  };

  it('splits at quantiles of the lengths: four groups of 16 → four buckets', () => {
    const plan = bucketPlan(block, null, 4);
    expect(plan.buckets).toBe(4);
    for (let i = 0; i < 64; i++) expect(plan.bucketOf[i]).toBe(i % 4);
    // Equal lengths everywhere: one bucket, whatever was asked.
    const flat = blockOf(reviews(20, () => 7, 2).seqs, 'post', true);
    expect(bucketPlan(flat, null, 8).buckets).toBe(1);
  });

  it('holds every sample exactly once, in ⌈n / batch⌉ batches of one length each', () => {
    const { samples, starts } = epoch(3);
    expect(starts).toHaveLength(8);
    expect([...samples].sort((a, b) => a - b)).toEqual([...identity()]);
    const seen = new Set<number>();
    for (const s of starts) {
      const lengths = new Set<number>();
      for (let i = s; i < s + 8; i++) {
        seen.add(samples[i]);
        lengths.add(block.lengths![samples[i]]);
      }
      expect(lengths.size).toBe(1);
    }
    expect(seen.size).toBe(64);
  });

  it('is the same for the same seed and differs for another', () => {
    const a = epoch(5);
    expect(epoch(5)).toEqual(a);
    const b = epoch(6);
    expect([...b.samples].join() === [...a.samples].join() && [...b.starts].join() === [...a.starts].join()).toBe(false);
  });

  it('cuts a batch to its longest real sequence; with a mask and no lengths, real tokens move to the front', () => {
    const plan = bucketPlan(block, null, 4);
    const { samples, starts } = epoch(3);
    const g = gatherBucketed(block, null, plan, samples, starts[0], starts[0] + 8);
    expect(g.block.steps).toBe(block.lengths![samples[starts[0]]]);
    const pre = blockOf([[3, 4], [5, 6, 7], [8]], 'pre', false);
    const masked = bucketPlan(pre, 0, 1);
    expect([...masked.lengths]).toEqual([2, 3, 1]);
    const c = gatherBucketed(pre, null, masked, Uint32Array.of(0, 1, 2), 0, 3);
    expect(c.block.steps).toBe(3);
    expect([...c.block.tokens!]).toEqual([3, 4, 0, 5, 6, 7, 8, 0, 0]);
    expect(c.block.lengths).toBeNull();
  });

  it('refuses input whose padding is fed through (no lengths, no mask)', () => {
    const e = thrown(() => bucketPlan(blockOf(seqs, 'pre', false), null, 4));
    expect(e).toBeInstanceOf(ValueError);
    expect(e?.message).toMatch(/needs masked input/);
  });
});

describe.each(backendNames)('bucketed training on %s', (name) => {
  const varied = (i: number) => 1 + ((i * 7) % 40);

  it.each(['pre', 'post'] as const)(
    "a masked model's outputs on a bucketed batch equal its outputs on the fully padded batch ('%s' padding)",
    async (padding) => {
      const b = await backend(name);
      const model = sequenceClassifier(
        { input: { embedding: 8 }, vocabSize: 50, lstm: { hiddenSize: 6, bidirectional: true }, pooling: 'max', mask: true, seed: 3 },
        { backend: b },
      );
      const { seqs, y } = reviews(96, varied, 4);
      const padded = padSequences(seqs, { maxlen: 48, padding });
      // 'post' passes lengths (the core reads each row's first lengths[i] steps); 'pre' relies on the mask.
      const x = padding === 'post' ? padded : { data: padded.data, shape: padded.shape };
      await model.fit(x, y, { epochs: 1, batchSize: 16, bucketByLength: { buckets: 4 } });
      const full = model.predict(x).data;
      const block = toBlock(tokenCore, x);
      const plan = bucketPlan(block, 0, 4);
      const order = bucketedEpoch(
        plan,
        Uint32Array.from({ length: 96 }, (_, i) => i),
        16,
        null,
      ).samples;
      for (let from = 0; from < 96; from += 16) {
        const g = gatherBucketed(block, null, plan, order, from, from + 16).block;
        expect(g.steps).toBeLessThan(48);
        const cut = model.predict({ data: g.tokens!, shape: [g.n, g.steps], ...(g.lengths ? { lengths: g.lengths } : {}) }).data;
        for (let i = 0; i < g.n; i++) expect(cut[i]).toBe(full[order[from + i]]);
      }
      model.dispose();
    },
  );

  it('trains exactly as unbucketed when all lengths are equal, and repeats itself for a seed', async () => {
    const b = await backend(name);
    const { seqs, y } = reviews(80, () => 12, 5);
    const x = padSequences(seqs, { maxlen: 12, padding: 'post' });
    const run = async (bucketByLength: boolean, seed = 1) => {
      const model = sequenceClassifier(
        { input: { embedding: 6 }, vocabSize: 50, lstm: { hiddenSize: 5 }, mask: true, seed },
        { backend: b },
      );
      const h = await model.fit(x, y, { epochs: 3, batchSize: 16, bucketByLength, optimizer: { type: 'adam', lr: 1e-2 } });
      const p = model.predict(x).data;
      model.dispose();
      return { losses: h.epochs.map((e) => e.loss), p };
    };
    const plain = await run(false);
    const bucketed = await run(true);
    expect(bucketed.losses).toEqual(plain.losses);
    expect(bucketed.p).toEqual(plain.p);
    // Varied lengths: the same seed gives the same run, another seed another.
    const v = reviews(80, varied, 6);
    const xv = padSequences(v.seqs, { maxlen: 48, padding: 'post' });
    const varyRun = async (seed: number) => {
      const model = sequenceClassifier(
        { input: { embedding: 6 }, vocabSize: 50, lstm: { hiddenSize: 5 }, mask: true, seed },
        { backend: b },
      );
      const h = await model.fit(xv, v.y, { epochs: 2, batchSize: 16, bucketByLength: true });
      model.dispose();
      return h.epochs.map((e) => e.loss);
    };
    expect(await varyRun(2)).toEqual(await varyRun(2));
    expect(await varyRun(3)).not.toEqual(await varyRun(2));
  });

  it('refuses bucketing for per-step models and for unmasked input without lengths', async () => {
    const b = await backend(name);
    const tagger = sequenceTagger(
      { input: 'one-hot', vocabSize: 5, lstm: { hiddenSize: 3 }, output: { units: 2, activation: 'softmax' } },
      { backend: b },
    );
    const tx = { data: new Int32Array(8).fill(1), shape: [2, 4], lengths: [4, 2] };
    await expect(tagger.fit(tx, new Float32Array(8), { bucketByLength: true })).rejects.toThrow(/per-step/);
    tagger.dispose();
    const plain = sequenceClassifier({ input: 'one-hot', vocabSize: 5, lstm: { hiddenSize: 3 } }, { backend: b });
    await expect(plain.fit({ data: new Int32Array(8).fill(1), shape: [2, 4] }, [0, 1], { bucketByLength: true })).rejects.toThrow(
      /needs masked input/,
    );
    plain.dispose();
  });
});

describe.each(backendNames)('epoch selection on %s', (name) => {
  it('keepBestEpoch restores the epoch with the best validation accuracy and says so', async () => {
    const b = await backend(name);
    const { seqs, y } = reviews(240, (i) => 4 + (i % 20), 7);
    const x = padSequences(seqs, { maxlen: 24, padding: 'post' });
    const model = sequenceClassifier(
      { input: { embedding: 8 }, vocabSize: 50, lstm: { hiddenSize: 8 }, mask: true, seed: 2 },
      { backend: b },
    );
    // A high learning rate so validation accuracy moves around between epochs.
    const h = await model.fit(x, y, {
      epochs: 6,
      batchSize: 16,
      validationSplit: 0.25,
      keepBestEpoch: 'valAccuracy',
      bucketByLength: true,
      optimizer: { type: 'adam', lr: 5e-2 },
    });
    const accs = h.epochs.map((e) => e.valAccuracy!);
    const best = accs.indexOf(Math.max(...accs));
    expect(h.selectedEpoch).toBe(best);
    expect(h.selection).toBe('best valAccuracy');
    // The held-out part is the last quarter: evaluating it now gives the kept epoch's figures.
    const val = { data: x.data.subarray(180 * 24), shape: [60, 24], lengths: x.lengths.subarray(180) };
    const e = await model.evaluate(val, y.subarray(180));
    expect(e.accuracy).toBeCloseTo(accs[best], 10);
    model.dispose();
    const plain = sequenceClassifier({ input: { embedding: 8 }, vocabSize: 50, lstm: { hiddenSize: 8 }, mask: true }, { backend: b });
    await expect(plain.fit(x, y, { keepBestEpoch: 'valAccuracy' })).rejects.toThrow(/needs validation data/);
    const h2 = await plain.fit(x, y, { epochs: 2 });
    expect([h2.selectedEpoch, h2.selection]).toEqual([1, 'last epoch']);
    plain.dispose();
  });

  it('warm-up rises linearly to the lr, then the cosine falls from it', async () => {
    const b = await backend(name);
    const model = sequenceClassifier({ input: 'one-hot', vocabSize: 5, lstm: { hiddenSize: 3 } }, { backend: b });
    const lrs: number[] = [];
    const x = { data: new Int32Array(40).fill(1), shape: [10, 4] };
    await model.fit(x, new Float32Array(10), {
      epochs: 2,
      batchSize: 2,
      optimizer: { type: 'adam', lr: 0.1 },
      lrSchedule: { type: 'cosine', warmup: 0.2 },
      callbacks: { onBatchEnd: (l) => void lrs.push(l.lr) },
    });
    // 10 batches, 2 of warm-up: 0.05, 0.1, then cosine over the remaining 8 from 0.1.
    expect(lrs[0]).toBeCloseTo(0.05, 12);
    expect(lrs[1]).toBeCloseTo(0.1, 12);
    expect(lrs[2]).toBeCloseTo(0.1, 12);
    expect(lrs[6]).toBeCloseTo(0.05, 12);
    expect(lrs[9]).toBeLessThan(0.01);
    await expect(model.fit(x, new Float32Array(10), { lrSchedule: { type: 'cosine', warmup: 1 } })).rejects.toThrow(/warmup/);
    model.dispose();
  });
});

/**
 * The loader on the shared labeled tarball (../shared/data/, beside the repository). Expected figures are
 * those measured in ../shared/data/README.md; shuffle orders are numpy 2.4.6's
 * `RandomState(113).shuffle(np.arange(25000))`, twice (train, then test), as Keras' load_data does.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { holdOut, loadImdb, padSequences, type Split } from '../../ts/data/node';
import { readAclImdb, kerasPipeline, type Imdb, type RankedCorpus } from '../../ts/data/imdb';

const TARBALL = fileURLToPath(new URL('../../../shared/data/aclImdb_v1-labeled.tar.gz', import.meta.url));

let imdb: Imdb; // loadImdb defaults: seed 113, every word
let corpus: RankedCorpus; // the same file read once more, for the option variants
let sorted: Imdb; // seed null: sorted (split, label, id) order

beforeAll(async () => {
  imdb = await loadImdb({ source: TARBALL });
  corpus = await readAclImdb(Readable.toWeb(createReadStream(TARBALL)) as ReadableStream<Uint8Array>);
  sorted = kerasPipeline(corpus, { seed: null });
});

const lengths = (s: Split) => Array.from({ length: s.labels.length }, (_, i) => s.offsets[i + 1] - s.offsets[i] - 1); // minus the start char
const median = (xs: number[]) => {
  const a = [...xs].sort((x, y) => x - y);
  return (a[(a.length - 1) >> 1] + a[a.length >> 1]) / 2;
};
const review = (s: Split, i: number) => Array.from(s.ids.subarray(s.offsets[i], s.offsets[i + 1]));
// Element loops with one assertion at the end: vitest's deep equality on millions of elements is slow.
const same = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};
const countWhere = (a: ArrayLike<number>, pred: (x: number, i: number) => boolean) => {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (pred(a[i], i)) n++;
  return n;
};

describe('the shared labeled tarball', () => {
  test('is the file the README describes', async () => {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(TARBALL)) hash.update(chunk);
    expect(hash.digest('hex')).toBe('69d67dc228177f8465f7355a7ba792f8badb395005c733a140fd565027025ce9');
  });

  test('25,000 + 25,000 reviews, 12,500 of each label in each split', () => {
    for (const s of [imdb.train, imdb.test]) {
      expect(s.labels.length).toBe(25000);
      expect(s.offsets.length).toBe(25001);
      expect(s.labels.reduce((n, l) => n + l, 0)).toBe(12500);
      expect(s.offsets[25000]).toBe(s.ids.length);
    }
  });

  test("each review's movie from urls_*.txt: 3,456 training and 3,581 test movies, one in both, at most 30 reviews", () => {
    // Counts of distinct tt ids in the four urls files, by Python on the same tarball.
    const distinct = (m: Int32Array) => new Set(m).size;
    const tr = sorted.train.movies!;
    const te = sorted.test.movies!;
    expect(tr.length).toBe(25000);
    expect(te.length).toBe(25000);
    expect(countWhere(tr, (m) => m < 0) + countWhere(te, (m) => m < 0)).toBe(0);
    expect(distinct(tr)).toBe(3456);
    expect(distinct(te)).toBe(3581);
    const inTrain = new Set(tr);
    expect(new Set(Array.from(te).filter((m) => inTrain.has(m))).size).toBe(1);
    const perMovie = new Map<number, number>();
    for (const m of tr) perMovie.set(m, (perMovie.get(m) ?? 0) + 1);
    expect(Math.max(...perMovie.values())).toBe(30);
    // train/urls_neg.txt begins tt0064354, tt0100680, tt0100680: reviews 0-2 of the sorted order (train/neg ids 0-2).
    expect(tr[0]).not.toBe(tr[1]);
    expect(tr[1]).toBe(tr[2]);
    // The shuffle and the maxlen filter carry each review's movie with it.
    const byReview = new Map<string, number>();
    for (let i = 0; i < 25000; i++) byReview.set(review(sorted.train, i).join(','), tr[i]);
    const f = kerasPipeline(corpus, { maxlen: 300 });
    for (let i = 0; i < 50; i++) expect(f.train.movies![i]).toBe(byReview.get(review(f.train, i).join(',')));
  });

  test('holdOut by movie: 10% of the training reviews, whole movies, none shared with training', () => {
    const { train, validation } = holdOut(imdb.train, 0.1, { by: 'movie' });
    expect(validation.labels.length).toBeGreaterThanOrEqual(2500);
    expect(validation.labels.length).toBeLessThan(2500 + 30);
    expect(train.labels.length + validation.labels.length).toBe(25000);
    const held = new Set(validation.movies);
    expect(countWhere(train.movies!, (m) => held.has(m))).toBe(0);
    // Both labels are there in roughly their share (movies lean one way, 2,500 reviews average it out).
    const pos = validation.labels.reduce((n, l) => n + l, 0) / validation.labels.length;
    expect(pos).toBeGreaterThan(0.4);
    expect(pos).toBeLessThan(0.6);
  });

  test('88,075 distinct training words; the top ten as the README lists them', () => {
    const w = imdb.wordIndex!;
    expect(w.size).toBe(88075);
    expect(Array.from({ length: 10 }, (_, i) => w.word(i + 1))).toEqual(['the', 'and', 'a', 'of', 'to', 'is', 'in', 'it', 'i', 'this']);
  });

  test('review lengths: median 174 (train) and 172 (test), longest 2,473, shortest 10', () => {
    const train = lengths(imdb.train);
    expect(median(train)).toBe(174);
    expect(median(lengths(imdb.test))).toBe(172);
    expect(Math.max(...train)).toBe(2473);
    expect(Math.min(...train)).toBe(10);
  });

  test("seed 113 shuffles exactly as Keras (numpy's RandomState), train then test from one generator", () => {
    const trainOrder = [7798, 13226, 18078, 793, 17499, 23003, 574, 19638];
    const testOrder = [22748, 4083, 8015, 13688, 5310, 4466, 736, 22654];
    trainOrder.forEach((j, k) => {
      expect(review(imdb.train, k)).toEqual(review(sorted.train, j));
      expect(imdb.train.labels[k]).toBe(j >= 12500 ? 1 : 0); // sorted order: neg then pos
    });
    testOrder.forEach((j, k) => expect(review(imdb.test, k)).toEqual(review(sorted.test, j)));
    expect(review(imdb.train, 24999)).toEqual(review(sorted.train, 14501));
  });

  test('the same seed gives the same order; another seed another', () => {
    const a = kerasPipeline(corpus, { seed: 7 });
    const b = kerasPipeline(corpus, { seed: 7 });
    expect(same(a.train.ids, b.train.ids) && same(a.test.ids, b.test.ids) && same(a.test.labels, b.test.labels)).toBe(true);
    expect(same(a.train.ids, imdb.train.ids)).toBe(false);
    expect(same(kerasPipeline(corpus, {}).train.ids, imdb.train.ids)).toBe(true);
  });

  test('decode gives the review text back (first training review in sorted order)', () => {
    const text = imdb.wordIndex!.decode(review(sorted.train, 0));
    expect(text.split(' ').length).toBe(lengths(sorted.train)[0]);
    expect(text).not.toContain('?'); // every training word is in the index
  });
});

describe('the shipped sample', () => {
  test('holds the same reviews as the full tarball: train/neg/0 first, test/pos/999 last', async () => {
    // With the full tarball's word index the sample's ids are those of the same reviews in the full set.
    const sample = await loadImdb({ sample: true, seed: null, wordIndex: sorted.wordIndex! });
    expect(review(sample.train, 0)).toEqual(review(sorted.train, 0)); // train/neg/0
    expect(review(sample.train, 1000)).toEqual(review(sorted.train, 12500)); // train/pos/0
    expect(review(sample.test, 1999)).toEqual(review(sorted.test, 12500 + 999)); // test/pos/999
    expect(sample.test.labels[1999]).toBe(1);
  });
});

describe('Keras options on the full data', () => {
  test('numWords 10,000: every id < 10,000, the others oov, in-vocabulary ids unchanged', () => {
    const d = kerasPipeline(corpus, { numWords: 10000 });
    expect(same(d.train.offsets, imdb.train.offsets)).toBe(true);
    const full = imdb.train.ids;
    expect(countWhere(d.train.ids, (id, t) => id !== (full[t] < 10000 ? full[t] : 2))).toBe(0);
    expect(countWhere(full, (id) => id >= 10000)).toBeGreaterThan(0);
  });

  test('skipTop 10: ids below 10, start char included, become oov', () => {
    const d = kerasPipeline(corpus, { skipTop: 10, seed: null });
    expect(countWhere(d.train.ids, (id) => id !== 2 && id < 10)).toBe(0);
    expect(d.train.ids[0]).toBe(2); // the start char
    expect(Array.from(d.train.ids.subarray(0, 50))).toEqual(
      review(sorted.train, 0)
        .slice(0, 50)
        .map((id) => (id < 10 ? 2 : id)),
    );
  });

  test('maxlen 100 keeps reviews of fewer than 100 ids, start char counted', () => {
    const d = kerasPipeline(corpus, { maxlen: 100 });
    const expected = lengths(imdb.train).filter((n) => n + 1 < 100).length;
    expect(d.train.labels.length).toBe(expected);
    expect(countWhere(d.train.labels, (_, i) => d.train.offsets[i + 1] - d.train.offsets[i] >= 100)).toBe(0);
  });

  test('indexFrom 0 without start char gives the ranks themselves', () => {
    const d = kerasPipeline(corpus, { indexFrom: 0, startChar: null, seed: null });
    expect(d.train.ids.length).toBe(sorted.train.ids.length - 25000);
    expect(Array.from(d.train.ids.subarray(0, 20))).toEqual(
      review(sorted.train, 0)
        .slice(1, 21)
        .map((id) => id - 3),
    );
  });

  test("the seed notebook's setup: numWords 300, 15,000 / 10,000 reviews, padded to 100", () => {
    const d = kerasPipeline(corpus, { numWords: 300, trainSize: 15000, testSize: 10000 });
    expect(d.train.labels.length).toBe(15000);
    expect(d.test.labels.length).toBe(10000);
    const x = padSequences(d.train, { maxlen: 100 });
    expect(x.shape).toEqual([15000, 100]);
    expect(countWhere(x.data, (id) => id >= 300)).toBe(0);
    expect(countWhere(x.lengths, (n) => n > 100)).toBe(0);
    for (const i of [0, 1, 2]) {
      const r = review(d.train, i); // 'pre' truncation keeps the end, 'pre' padding puts zeros first
      const want = r.length >= 100 ? r.slice(-100) : [...Array(100 - r.length).fill(0), ...r];
      expect(Array.from(x.data.subarray(i * 100, i * 100 + 100))).toEqual(want);
    }
  });
});

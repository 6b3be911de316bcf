/**
 * The loader on small tarballs and npz files built here, against Keras' load_data rules
 * (keras/src/datasets/imdb.py). Expected ids are worked out by hand from those rules.
 */
import { describe, expect, test } from 'vitest';
import { DataError, ValueError } from '../../ts/errors';
import { loadImdb, WordIndex, encode, decode, tokenize } from '../../ts/data/index';
import { type Review, gzip, imdbTarball, kerasNpz, npy, npyInt64, npz, pickleLists, pickleObjectArray, reviews, tar } from './helpers';

const corpus: Review[] = [
  { split: 'train', label: 'neg', id: 10, rating: 1, text: 'The movie was BAD.<br /><br />bad bad' },
  { split: 'train', label: 'neg', id: 2, rating: 3, text: 'the good, the bad' },
  { split: 'train', label: 'pos', id: 7, rating: 9, text: 'The movie: good! the movie was good' },
  { split: 'train', label: 'pos', id: 1, rating: 10, text: 'a movie\u0085the end' },
  { split: 'test', label: 'neg', id: 3, rating: 2, text: 'the unseen movie' },
  { split: 'test', label: 'pos', id: 0, rating: 8, text: 'good good zzz' },
];
// Sorted order: train/neg 2, train/neg 10, train/pos 1, train/pos 7; test/neg 3, test/pos 0.
// Training counts: the 6; bad 4 and movie 4 (tie: bad first occurs at position 3 of the sorted training
// text, movie at 5); good 3; was 2; a 1 and end 1 (tie: a first). Hence the ranks:
const RANK = { the: 1, bad: 2, movie: 3, good: 4, was: 5, a: 6, end: 7 } as const;
// With Keras' defaults (start 1, oov 2, index_from 3) and seed null (sorted order):
const TRAIN_IDS = [
  [1, 4, 7, 4, 5], // the good the bad
  [1, 4, 6, 8, 5, 5, 5], // the movie was bad bad bad
  [1, 9, 6, 4, 10], // a movie the end
  [1, 4, 6, 7, 4, 6, 8, 7], // the movie good the movie was good
];
const TEST_IDS = [
  [1, 4, 2, 6], // the unseen movie: "unseen" is not a training word → oov 2
  [1, 7, 7, 2], // good good zzz
];

const tarball = imdbTarball(corpus);

describe('loadImdb from an aclImdb tarball', () => {
  test('reviews sorted by (split, label, numeric id); word index by count, ties by first occurrence', async () => {
    const d = await loadImdb({ source: tarball, seed: null });
    expect(reviews(d.train)).toEqual(TRAIN_IDS);
    expect(reviews(d.test)).toEqual(TEST_IDS);
    expect(Array.from(d.train.labels)).toEqual([0, 0, 1, 1]);
    expect(Array.from(d.test.labels)).toEqual([0, 1]);
    expect(d.wordIndex!.toJSON()).toEqual(RANK);
    expect(d.train.offsets).toBeInstanceOf(Int32Array);
    expect(d.train.labels).toBeInstanceOf(Uint8Array);
  });

  test('tar entry order does not matter; other entries (unsup, .feat, urls) are skipped', async () => {
    const shuffled = imdbTarball([...corpus].reverse(), [
      { name: 'aclImdb/train/unsup/0_0.txt', data: 'the the the the the the the the unsup' },
      { name: 'aclImdb/train/labeledBow.feat', data: '0 0:1\n' },
    ]);
    expect(await loadImdb({ source: shuffled, seed: 5 })).toEqual(await loadImdb({ source: tarball, seed: 5 }));
  });

  test("each review's movie from urls_{neg,pos}.txt: numbered by first appearance over both splits, −1 where unknown", async () => {
    const lines = (at: Record<number, string>) => Array.from({ length: 11 }, (_, i) => at[i] ?? '').join('\n');
    const title = (tt: string) => `http://www.imdb.com/title/${tt}/usercomments`;
    const named = imdbTarball(corpus, [
      { name: 'aclImdb/train/urls_neg.txt', data: lines({ 2: title('tt01'), 10: title('tt02') }) },
      { name: 'aclImdb/train/urls_pos.txt', data: lines({ 1: title('tt01'), 7: 'http://example.com/a-page' }) },
      { name: 'aclImdb/test/urls_neg.txt', data: lines({ 3: title('tt02') }) },
      // test/pos has no urls file: its review's movie is unknown.
    ]);
    const d = await loadImdb({ source: named, seed: null });
    // Sorted: train/neg 2 (tt01), train/neg 10 (tt02), train/pos 1 (tt01), train/pos 7 (a page, no title).
    expect(Array.from(d.train.movies!)).toEqual([0, 1, 0, 2]);
    expect(Array.from(d.test.movies!)).toEqual([1, -1]);
    // The shuffle, the maxlen filter and trainSize carry each review's movie along.
    const movieOf = new Map(reviews(d.train).map((r, i) => [r.join(), d.train.movies![i]]));
    for (const opts of [{ seed: 5 }, { seed: 9, maxlen: 7 }, { seed: 3, trainSize: 2 }]) {
      const e = await loadImdb({ source: named, ...opts });
      expect(e.train.movies!.length).toBe(e.train.labels.length);
      reviews(e.train).forEach((r, i) => expect(e.train.movies![i]).toBe(movieOf.get(r.join())));
    }
    // Without any urls file there are no movies.
    const bare = gzip(tar(corpus.map((r) => ({ name: `aclImdb/${r.split}/${r.label}/${r.id}_${r.rating}.txt`, data: r.text }))));
    expect((await loadImdb({ source: bare })).train.movies).toBeUndefined();
  });

  test('every source form gives the same result: bytes, ArrayBuffer, Blob, ReadableStream, Response', async () => {
    const ref = await loadImdb({ source: tarball });
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < tarball.length; i += 100) c.enqueue(tarball.slice(i, i + 100)); // small chunks
        c.close();
      },
    });
    for (const source of [tarball.slice().buffer, new Blob([tarball]), stream, new Response(tarball)]) {
      expect(await loadImdb({ source })).toEqual(ref);
    }
  });

  test('seed: default 113 is deterministic; train and test are shuffled by one generator', async () => {
    const a = await loadImdb({ source: tarball });
    const b = await loadImdb({ source: tarball, seed: 113 });
    expect(a).toEqual(b);
    // numpy 2.4.6: r = RandomState(113); r.shuffle(arange(4)) -> [3 2 0 1]; then r.shuffle(arange(2)) -> [1 0]
    expect(reviews(a.train)).toEqual([3, 2, 0, 1].map((i) => TRAIN_IDS[i]));
    expect(reviews(a.test)).toEqual([1, 0].map((i) => TEST_IDS[i]));
    expect(Array.from(a.train.labels)).toEqual([1, 1, 0, 0]);
    // RandomState(9).shuffle(arange(4)) -> [1 3 0 2]
    const c = await loadImdb({ source: tarball, seed: 9 });
    expect(reviews(c.train)).toEqual([1, 3, 0, 2].map((i) => TRAIN_IDS[i]));
  });

  test('numWords: ids ≥ numWords become oovChar (Keras compares ids, so 7 keeps ranks 1–3)', async () => {
    const d = await loadImdb({ source: tarball, seed: null, numWords: 7 });
    expect(reviews(d.train)[1]).toEqual([1, 4, 6, 2, 5, 5, 5]); // was (8) cut
    expect(reviews(d.train)[2]).toEqual([1, 2, 6, 4, 2]); // a (9), end (10) cut
    expect(reviews(d.train)[3]).toEqual([1, 4, 6, 2, 4, 6, 2, 2]); // good (7) cut
    expect(d.wordIndex!.options.numWords).toBe(7);
  });

  test('skipTop: ids below skipTop become oovChar, the start char too (as Keras code does)', async () => {
    const d = await loadImdb({ source: tarball, seed: null, skipTop: 5 });
    // ids 1 (start) and 4 (the) are < 5 → 2.
    expect(reviews(d.train)[0]).toEqual([2, 2, 7, 2, 5]);
    const e = await loadImdb({ source: tarball, seed: null, skipTop: 1 });
    expect(reviews(e.train)).toEqual(TRAIN_IDS); // no id below 1 except padding
  });

  test('maxlen keeps reviews of length < maxlen, start char counted; raises when a split would be empty', async () => {
    // Training lengths with the start char: 5, 7, 5, 8; test: 4, 4.
    const d = await loadImdb({ source: tarball, seed: null, maxlen: 6 });
    expect(reviews(d.train)).toEqual([TRAIN_IDS[0], TRAIN_IDS[2]]);
    expect(Array.from(d.train.labels)).toEqual([0, 1]);
    expect(reviews(d.test)).toEqual(TEST_IDS);
    await expect(loadImdb({ source: tarball, maxlen: 5 })).rejects.toThrow(ValueError); // 5 ≥ 5: none left
  });

  test('indexFrom, startChar, oovChar, including null start and null oov (dropped)', async () => {
    const d = await loadImdb({ source: tarball, seed: null, indexFrom: 10, startChar: 7, oovChar: 9 });
    expect(reviews(d.test)[0]).toEqual([7, 11, 9, 13]);
    const e = await loadImdb({ source: tarball, seed: null, startChar: null, oovChar: null });
    expect(reviews(e.test)).toEqual([
      [4, 6],
      [7, 7],
    ]);
  });

  test('trainSize / testSize keep the first N after shuffling', async () => {
    const full = await loadImdb({ source: tarball });
    const d = await loadImdb({ source: tarball, trainSize: 3, testSize: 1 });
    expect(reviews(d.train)).toEqual(reviews(full.train).slice(0, 3));
    expect(Array.from(d.train.labels)).toEqual(Array.from(full.train.labels.slice(0, 3)));
    expect(reviews(d.test)).toEqual(reviews(full.test).slice(0, 1));
    await expect(loadImdb({ source: tarball, trainSize: 5 })).rejects.toThrow(ValueError);
  });

  test('bad options are ValueErrors, raised before reading', async () => {
    await expect(loadImdb({ source: tarball, numWords: 3 })).rejects.toThrow(ValueError);
    await expect(loadImdb({ source: tarball, numWords: 3 })).rejects.toThrow(/numWords/);
    await expect(loadImdb({ source: tarball, numWords: 2.5 })).rejects.toThrow(ValueError);
    await expect(loadImdb({ source: tarball, skipTop: -1 })).rejects.toThrow(ValueError);
    await expect(loadImdb({ source: tarball, seed: -3 })).rejects.toThrow(ValueError);
    await expect(loadImdb({ source: tarball, maxlen: 0 })).rejects.toThrow(ValueError);
    await expect(loadImdb({})).rejects.toThrow(ValueError);
  });
});

describe('encode / decode', () => {
  test('round-trip in-vocabulary words; unknown words are oov, shown as ?', async () => {
    const { wordIndex } = await loadImdb({ source: tarball, seed: null });
    const w = wordIndex!;
    const ids = w.encode('The MOVIE was good.<br />Bad!');
    expect(Array.from(ids)).toEqual([1, 4, 6, 8, 7, 5]);
    expect(w.decode(ids)).toBe(tokenize('The MOVIE was good.<br />Bad!').join(' '));
    expect(Array.from(encode('the plot', w))).toEqual([1, 4, 2]);
    expect(decode([0, 0, 1, 4, 2, 5], w)).toBe('the ? bad'); // padding and start left out
    // ids of the loaded data decode to their words (Keras' index_from=3, not the notebook's shift by 2)
    expect(w.decode(TRAIN_IDS[0])).toBe('the good the bad');
  });

  test('encode follows the load options (numWords)', async () => {
    const { wordIndex } = await loadImdb({ source: tarball, seed: null, numWords: 7 });
    expect(Array.from(wordIndex!.encode('the movie good'))).toEqual([1, 4, 6, 2]);
    expect(Array.from(wordIndex!.withOptions({ numWords: null }).encode('the movie good'))).toEqual([1, 4, 6, 7]);
    expect(new WordIndex({ a: 1 }).decode([4])).toBe('a');
  });
});

// The same reviews as Keras' npz would hold them: ranks of the tarball's words, in the sorted order.
const rankLists = (texts: string[]) => texts.map((t) => tokenize(t).map((w) => RANK[w as keyof typeof RANK] ?? 0));
const sorted = [...corpus].sort((a, b) =>
  a.split === b.split ? (a.label === b.label ? a.id - b.id : a.label < b.label ? -1 : 1) : a.split === 'train' ? -1 : 1,
);
const trainTexts = sorted.filter((r) => r.split === 'train').map((r) => r.text as string);
const testTexts = sorted.filter((r) => r.split === 'test').map((r) => r.text as string);

describe('loadImdb from a Keras imdb.npz', () => {
  // Keras' npz has only in-vocabulary words; test words missing from the index are left out here.
  const x = (texts: string[]) => rankLists(texts).map((l) => l.filter((r) => r > 0));
  const file = kerasNpz({ x: x(trainTexts), y: [0, 0, 1, 1] }, { x: x(testTexts), y: [0, 1] });
  const known = (ids: number[][]) => ids.map((l) => l.filter((id) => id !== 2));

  test('gives the ids of the tarball for the same reviews and word index, under every option', async () => {
    for (const opts of [{ seed: null }, {}, { numWords: 7 }, { skipTop: 5, indexFrom: 4, seed: 9 }, { maxlen: 6 }]) {
      const fromNpz = await loadImdb({ source: file, wordIndex: RANK, ...opts });
      const fromTar = await loadImdb({ source: tarball, wordIndex: RANK, ...opts });
      const { movies, ...tarTrain } = fromTar.train; // an npz names no movies
      expect(movies).toBeDefined();
      expect(fromNpz.train).toEqual(tarTrain); // every training word is in the index
      expect(fromNpz.wordIndex!.toJSON()).toEqual(RANK);
      // The npz lacks the test words unknown to the index, the tarball makes them oov: with oovChar null
      // both drop them.
      const npzDrop = await loadImdb({ source: file, wordIndex: RANK, ...opts, oovChar: null });
      const tarDrop = await loadImdb({ source: tarball, wordIndex: RANK, ...opts, oovChar: null });
      const { movies: _, ...tarTest } = tarDrop.test;
      expect(npzDrop.test).toEqual(tarTest);
    }
    const d = await loadImdb({ source: file, seed: null });
    expect(reviews(d.train)).toEqual(TRAIN_IDS);
    expect(reviews(d.test)).toEqual(known(TEST_IDS));
    expect(d.wordIndex).toBeNull();
  });

  test('a word index given as JSON bytes is used', async () => {
    const json = new TextEncoder().encode(JSON.stringify(RANK));
    const d = await loadImdb({ source: new Blob([file]), wordIndex: new Blob([json]), seed: null });
    expect(d.wordIndex!.decode(review0(d))).toBe('the good the bad');
  });

  test('a plain pickled list of lists (no numpy wrapper) is read too', async () => {
    const f = npz({
      x_train: npy(
        '|O',
        2,
        pickleLists([
          [1, 2],
          [300, 70000],
        ]),
      ),
      y_train: npyInt64([1, 0]),
      x_test: npy('|O', 1, pickleLists([[5]])),
      y_test: npyInt64([1]),
    });
    const d = await loadImdb({ source: f, seed: null });
    expect(reviews(d.train)).toEqual([
      [1, 4, 5],
      [1, 303, 70003],
    ]);
  });

  test('more than 256 reviews and 1000-item lists (LONG_BINPUT, batched APPENDS)', async () => {
    const lists = Array.from({ length: 300 }, (_, i) => Array.from({ length: i === 7 ? 2500 : 3 }, (_, k) => ((k * 7 + i) % 90000) + 1));
    const f = kerasNpz({ x: lists, y: lists.map((_, i) => i % 2) }, { x: [[1]], y: [0] });
    const d = await loadImdb({ source: f, seed: null, startChar: null, indexFrom: 0 });
    expect(reviews(d.train)).toEqual(lists);
    expect(Array.from(d.train.labels.slice(0, 4))).toEqual([0, 1, 0, 1]);
  });
});

function review0(d: { train: { ids: Int32Array; offsets: Int32Array } }) {
  return reviews(d.train)[0];
}

describe('bad input is a DataError', () => {
  const good = { x: [[1, 2]], y: [1] };
  const rejects = (source: Uint8Array | Blob, message: RegExp) => expect(loadImdb({ source })).rejects.toThrow(message);

  test('neither gzip nor zip, or empty', async () => {
    await expect(loadImdb({ source: new TextEncoder().encode('hello') })).rejects.toThrow(DataError);
    await rejects(new Uint8Array(0), /empty/);
  });

  test('truncated or corrupt gzip', async () => {
    await expect(loadImdb({ source: tarball.subarray(0, tarball.length - 10) })).rejects.toThrow(DataError);
    await expect(loadImdb({ source: tarball.subarray(0, tarball.length >> 1) })).rejects.toThrow(DataError);
    const bad = tarball.slice();
    bad[bad.length - 6] ^= 0xff; // the CRC32 of the trailer
    await expect(loadImdb({ source: bad })).rejects.toThrow(DataError);
  });

  test('a source that fails mid-stream is a DataError naming the failure, not a gzip error', async () => {
    let n = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(c) {
        if (n++ === 0) c.enqueue(tarball.subarray(0, 50));
        else throw new Error('socket hang up');
      },
    });
    await expect(loadImdb({ source: failing })).rejects.toThrow(/reading the IMDB source failed: socket hang up/);
  });

  test('truncated or corrupt tar inside a valid gzip', async () => {
    const t = tar([{ name: 'aclImdb/train/pos/1_10.txt', data: 'good' }]);
    await rejects(gzip(t.subarray(0, 700)), /truncated/); // inside the entry
    await rejects(gzip(tar([{ name: 'aclImdb/train/pos/1_10.txt', data: 'good' }], { end: false })), /truncated/);
    const corrupt = t.slice();
    corrupt[10] ^= 0x01; // a byte of the name: the header checksum no longer matches
    await rejects(gzip(corrupt), /checksum/);
    await rejects(gzip(tar([{ name: 'aclImdb/README', data: 'x' }])), /no training review/);
  });

  test('a review that is not UTF-8 names its entry', async () => {
    const t = imdbTarball([{ split: 'train', label: 'pos', id: 4, rating: 9, text: Uint8Array.from([0x67, 0x6f, 0xff, 0x64]) }]);
    await rejects(t, /aclImdb\/train\/pos\/4_9\.txt is not valid UTF-8/);
  });

  test('corrupt or truncated zip', async () => {
    const f = kerasNpz(good, good);
    await rejects(f.subarray(0, f.length - 30), /npz|zip/i);
    await rejects(Uint8Array.from([0x50, 0x4b, 1, 2, 3]), /npz|zip/i);
  });

  test('an npz missing an array', async () => {
    const f = npz({
      x_train: npy('|O', 1, pickleObjectArray([[1]])),
      y_train: npyInt64([1]),
      x_test: npy('|O', 1, pickleObjectArray([[1]])),
    });
    await rejects(f, /no array "y_test"/);
  });

  test('unsupported pickle opcodes and globals are refused, naming them', async () => {
    const withPickle = (p: Uint8Array) =>
      npz({ x_train: npy('|O', 1, p), y_train: npyInt64([1]), x_test: npy('|O', 1, pickleLists([[1]])), y_test: npyInt64([1]) });
    // DICT ('}' EMPTY_DICT) is not part of the subset
    await rejects(withPickle(Uint8Array.from([0x80, 2, 0x7d, 0x2e])), /unsupported pickle opcode 0x7d \(EMPTY_DICT\)/);
    // GLOBAL os.system + REDUCE: the classic code-execution pickle
    const evil = Uint8Array.from([0x80, 2, 0x63, ...new TextEncoder().encode('os\nsystem\n'), 0x55, 2, 0x6c, 0x73, 0x85, 0x52, 0x2e]);
    await rejects(withPickle(evil), /os\.system.*refusing/);
    // INST, OBJ, PERSID: each refused
    await rejects(withPickle(Uint8Array.from([0x80, 2, 0x28, 0x6f, 0x2e])), /OBJ/);
    await rejects(withPickle(Uint8Array.from([0x80, 2, 0x5d])), /truncated/); // no STOP
  });

  test('other npz inconsistencies', async () => {
    await rejects(kerasNpz({ x: [[1], [2]], y: [1] }, good), /2 reviews but y_train has 1/);
    await rejects(kerasNpz({ x: [[1]], y: [3] }, good), /expected 0 or 1/);
    const numericX = npz({ x_train: npyInt64([1]), y_train: npyInt64([1]), x_test: npyInt64([1]), y_test: npyInt64([1]) });
    await rejects(numericX, /object array/);
  });
});

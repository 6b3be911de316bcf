import { describe, expect, test } from 'vitest';
import { ValueError } from '../../ts/errors';
import { padSequences, shuffleSplit, takeReviews } from '../../ts/data/index';

// Expected matrices worked out from keras.utils.pad_sequences' definition (keras/src/utils/sequence_utils.py).
const seqs = [[1, 2, 3, 4], [5], [], [6, 7]];

describe('padSequences', () => {
  test("defaults: maxlen = longest, padding and truncating 'pre', value 0", () => {
    const p = padSequences(seqs);
    expect(p.shape).toEqual([4, 4]);
    expect(p.data).toBeInstanceOf(Int32Array);
    expect(Array.from(p.data)).toEqual([1, 2, 3, 4, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 6, 7]);
    expect(Array.from(p.lengths)).toEqual([4, 1, 0, 2]);
  });

  test('truncating pre keeps the end, post keeps the start; padding post pads after', () => {
    expect(Array.from(padSequences(seqs, { maxlen: 2 }).data)).toEqual([3, 4, 0, 5, 0, 0, 6, 7]);
    expect(Array.from(padSequences(seqs, { maxlen: 2, truncating: 'post' }).data)).toEqual([1, 2, 0, 5, 0, 0, 6, 7]);
    const p = padSequences(seqs, { maxlen: 3, padding: 'post', truncating: 'post', value: -1 });
    expect(Array.from(p.data)).toEqual([1, 2, 3, 5, -1, -1, -1, -1, -1, 6, 7, -1]);
    expect(Array.from(p.lengths)).toEqual([3, 1, 0, 2]);
  });

  test('takes a split { ids, offsets } and gives the same as arrays; float32 on request', () => {
    const split = { ids: Int32Array.from([1, 2, 3, 4, 5, 6, 7]), offsets: Int32Array.from([0, 4, 5, 5, 7]) };
    const a = padSequences(split, { maxlen: 3 });
    const b = padSequences(seqs, { maxlen: 3 });
    expect(a).toEqual(b);
    const f = padSequences(split, { maxlen: 3, dtype: 'float32', value: 0.5 });
    expect(f.data).toBeInstanceOf(Float32Array);
    expect(Array.from(f.data)).toEqual([2, 3, 4, 0.5, 0.5, 5, 0.5, 0.5, 0.5, 0.5, 6, 7]);
  });

  test('never mutates its input', () => {
    const split = { ids: Int32Array.from([1, 2, 3]), offsets: Int32Array.from([0, 1, 3]) };
    const input = seqs.map((s) => [...s]);
    padSequences(split, { maxlen: 1, padding: 'post', value: 9 });
    padSequences(input, { maxlen: 1, padding: 'post', value: 9 });
    expect(Array.from(split.ids)).toEqual([1, 2, 3]);
    expect(Array.from(split.offsets)).toEqual([0, 1, 3]);
    expect(input).toEqual(seqs);
  });

  test('no sequences give a 0 × 0 result; maxlen 0 gives empty rows', () => {
    expect(padSequences([])).toEqual({ data: new Int32Array(0), shape: [0, 0], lengths: new Int32Array(0) });
    expect(padSequences(seqs, { maxlen: 0 }).shape).toEqual([4, 0]);
  });

  test('bad options are ValueErrors', () => {
    expect(() => padSequences(seqs, { maxlen: -1 })).toThrow(ValueError);
    expect(() => padSequences(seqs, { maxlen: 1.5 })).toThrow(ValueError);
    expect(() => padSequences(seqs, { padding: 'middle' as 'pre' })).toThrow(ValueError);
    expect(() => padSequences(seqs, { truncating: 'x' as 'pre' })).toThrow(ValueError);
    expect(() => padSequences(seqs, { value: 0.5 })).toThrow(ValueError); // not an int32
    expect(() => padSequences(seqs, { dtype: 'int64' as 'int32' })).toThrow(ValueError);
    expect(() => padSequences({ ids: new Int32Array(2), offsets: Int32Array.from([0, 3]) })).toThrow(ValueError);
  });
});

describe('shuffleSplit / takeReviews', () => {
  const split = { ids: Int32Array.from([1, 2, 3, 4, 5, 6]), offsets: Int32Array.from([0, 1, 3, 6]), labels: Uint8Array.from([0, 1, 1]) };

  test('takeReviews reorders reviews with their labels, leaving the input alone', () => {
    const t = takeReviews(split, [2, 0]);
    expect(Array.from(t.ids)).toEqual([4, 5, 6, 1]);
    expect(Array.from(t.offsets)).toEqual([0, 3, 4]);
    expect(Array.from(t.labels)).toEqual([1, 0]);
    expect(Array.from(split.ids)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => takeReviews(split, [3])).toThrow(ValueError);
  });

  test("shuffleSplit follows numpy's RandomState(seed).shuffle", () => {
    // numpy 2.4.6: r = np.random.RandomState(113); a = np.arange(10); r.shuffle(a) -> [9 3 6 1 0 7 4 8 2 5]
    const ten = {
      ids: Int32Array.from({ length: 10 }, (_, i) => i),
      offsets: Int32Array.from({ length: 11 }, (_, i) => i),
      labels: new Uint8Array(10),
    };
    expect(Array.from(shuffleSplit(ten, 113).ids)).toEqual([9, 3, 6, 1, 0, 7, 4, 8, 2, 5]);
    expect(shuffleSplit(split, 7)).toEqual(shuffleSplit(split, 7));
    expect(() => shuffleSplit(split, -1)).toThrow(ValueError);
  });
});

/**
 * Pure transforms over datasets of flat typed arrays: `padSequences` (Keras' `pad_sequences`) and
 * `shuffleSplit`. Neither mutates its input. Shapes: B sequences, T = maxlen steps.
 */

import { ValueError } from '../errors';
import { MT19937, shuffleOrder } from './rng';

/** A split of a dataset: review i is `ids[offsets[i] .. offsets[i + 1])`, its label `labels[i]`. */
export interface Split {
  ids: Int32Array;
  /** B + 1 entries, non-decreasing, from 0 to `ids.length`. */
  offsets: Int32Array;
  /** 0 negative, 1 positive. */
  labels: Uint8Array;
}

/** Sequences for {@link padSequences}: a split's `{ ids, offsets }` or an array of integer arrays. */
export type Sequences = Pick<Split, 'ids' | 'offsets'> | ArrayLike<ArrayLike<number>>;

/** Options of {@link padSequences}; defaults are Keras'. */
export interface PadOptions {
  /** T, the output length; default the longest input sequence. */
  maxlen?: number;
  /** Where padding goes: 'pre' (default, before the sequence) or 'post'. */
  padding?: 'pre' | 'post';
  /** Which end of a too-long sequence is cut: 'pre' (default, keep the last T) or 'post'. */
  truncating?: 'pre' | 'post';
  /** The padding value, default 0. */
  value?: number;
  /** 'int32' (default) or 'float32'. */
  dtype?: 'int32' | 'float32';
}

/** The result of {@link padSequences}: a B × T matrix, row-major, and each row's true length (≤ T). */
export interface Padded<D extends Int32Array | Float32Array = Int32Array | Float32Array> {
  data: D;
  shape: [number, number];
  /** B lengths after truncation, for masking: row b holds `lengths[b]` real steps. */
  lengths: Int32Array;
}

function isSplitLike(s: Sequences): s is Pick<Split, 'ids' | 'offsets'> {
  return typeof s === 'object' && s !== null && 'ids' in s && 'offsets' in s && !Array.isArray(s);
}

/**
 * Pads or truncates sequences to one length, as `keras.utils.pad_sequences` does: a sequence longer than
 * T loses its start ('pre') or end ('post'); a shorter one is padded with `value` before ('pre') or after
 * ('post'). Empty sequences give rows of padding. Returns one contiguous B × T array plus true lengths.
 *
 * @example padSequences([[1, 2, 3], [4]], { maxlen: 2 }) // data [2, 3, 0, 4], lengths [2, 1]
 * @throws {ValueError} on a bad option (negative or fractional maxlen, unknown padding/truncating/dtype,
 *   a non-integer or out-of-range `value` for int32) or malformed offsets.
 */
export function padSequences(seqs: Sequences, options: PadOptions & { dtype: 'float32' }): Padded<Float32Array>;
export function padSequences(seqs: Sequences, options?: PadOptions & { dtype?: 'int32' }): Padded<Int32Array>;
export function padSequences(seqs: Sequences, options?: PadOptions): Padded;
export function padSequences(seqs: Sequences, options: PadOptions = {}): Padded {
  const { padding = 'pre', truncating = 'pre', value = 0, dtype = 'int32' } = options;
  if (padding !== 'pre' && padding !== 'post') throw new ValueError(`padding must be 'pre' or 'post', got ${String(padding)}`);
  if (truncating !== 'pre' && truncating !== 'post') {
    throw new ValueError(`truncating must be 'pre' or 'post', got ${String(truncating)}`);
  }
  if (dtype !== 'int32' && dtype !== 'float32') throw new ValueError(`dtype must be 'int32' or 'float32', got ${String(dtype)}`);
  if (typeof value !== 'number') throw new ValueError(`value must be a number, got ${String(value)}`);
  if (dtype === 'int32' && (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31)) {
    throw new ValueError(`value must be an int32 for dtype 'int32', got ${value}`);
  }

  // View every sequence as (source array, start, length) without copying.
  let count: number;
  let get: (i: number) => [ArrayLike<number>, number, number];
  if (isSplitLike(seqs)) {
    const { ids, offsets } = seqs;
    count = Math.max(0, offsets.length - 1);
    for (let i = 0; i < count; i++) {
      if (!(offsets[i] <= offsets[i + 1]) || offsets[i] < 0 || offsets[i + 1] > ids.length) {
        throw new ValueError(
          `offsets must be non-decreasing within [0, ${ids.length}]; offsets[${i}..${i + 1}] = ${offsets[i]}, ${offsets[i + 1]}`,
        );
      }
    }
    get = (i) => [ids, offsets[i], offsets[i + 1] - offsets[i]];
  } else {
    if (seqs === null || typeof seqs !== 'object' || typeof seqs.length !== 'number') {
      throw new ValueError('sequences must be a split { ids, offsets } or an array of integer arrays');
    }
    count = seqs.length;
    get = (i) => {
      const s = seqs[i];
      if (s === null || typeof s !== 'object' || typeof s.length !== 'number') throw new ValueError(`sequence ${i} is not an array`);
      return [s, 0, s.length];
    };
  }

  let maxlen = options.maxlen;
  if (maxlen === undefined) {
    maxlen = 0;
    for (let i = 0; i < count; i++) maxlen = Math.max(maxlen, get(i)[2]);
  } else if (!Number.isInteger(maxlen) || maxlen < 0) {
    throw new ValueError(`maxlen must be a non-negative integer, got ${maxlen}`);
  }

  const T = maxlen;
  const data = dtype === 'int32' ? new Int32Array(count * T) : new Float32Array(count * T);
  if (value !== 0) data.fill(value);
  const lengths = new Int32Array(count);
  for (let b = 0; b < count; b++) {
    const [src, start, len] = get(b);
    const n = Math.min(len, T);
    const from = truncating === 'pre' ? start + len - n : start; // 'pre' keeps the last n
    const to = b * T + (padding === 'pre' ? T - n : 0);
    for (let t = 0; t < n; t++) data[to + t] = src[from + t];
    lengths[b] = n;
  }
  return { data, shape: [count, T], lengths };
}

/**
 * A new split with the reviews of `split` reordered by `order` (review k of the result is review
 * `order[k]` of the input); the input is not changed.
 * @throws {ValueError} when an index of `order` is out of range.
 */
export function takeReviews(split: Split, order: ArrayLike<number>): Split {
  const n = split.offsets.length - 1;
  const offsets = new Int32Array(order.length + 1);
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    if (!(i >= 0 && i < n)) throw new ValueError(`review index ${i} is out of range [0, ${n})`);
    offsets[k + 1] = offsets[k] + split.offsets[i + 1] - split.offsets[i];
  }
  const ids = new Int32Array(offsets[order.length]);
  const labels = new Uint8Array(order.length);
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    ids.set(split.ids.subarray(split.offsets[i], split.offsets[i + 1]), offsets[k]);
    labels[k] = split.labels[i];
  }
  return { ids, offsets, labels };
}

/**
 * The first `n` reviews of `split`, copied into a new split; `split` itself when `n` is null or not
 * below its size. The input is not changed.
 * @throws never.
 */
export function firstReviews(split: Split, n: number | null): Split {
  if (n === null || n >= split.labels.length) return split;
  return { ids: split.ids.slice(0, split.offsets[n]), offsets: split.offsets.slice(0, n + 1), labels: split.labels.slice(0, n) };
}

/**
 * A shuffled copy of `split`: MT19937 seeded with `seed`, Fisher–Yates as numpy's
 * `RandomState(seed).shuffle`, so the order equals `x[rng.permutation-by-shuffle]` in numpy.
 * @throws {ValueError} when `seed` is not an integer in [0, 2^32).
 */
export function shuffleSplit(split: Split, seed: number): Split {
  return takeReviews(split, shuffleOrder(split.offsets.length - 1, new MT19937(seed)));
}

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
  /**
   * Each review's movie, when the source names it (the aclImdb tarball's `urls_*.txt`; Keras' npz does not):
   * reviews of one movie share a number, numbered across both splits; −1 = unknown. IMDB puts all of a
   * movie's reviews (at most 30) in one split, so a validation split that should behave like the test set
   * holds out whole movies ({@link holdOut} with `by: 'movie'`).
   */
  movies?: Int32Array;
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
  const movies = split.movies ? new Int32Array(order.length) : undefined;
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    ids.set(split.ids.subarray(split.offsets[i], split.offsets[i + 1]), offsets[k]);
    labels[k] = split.labels[i];
    if (movies) movies[k] = split.movies![i];
  }
  return movies ? { ids, offsets, labels, movies } : { ids, offsets, labels };
}

/**
 * The first `n` reviews of `split`, copied into a new split; `split` itself when `n` is null or not
 * below its size. The input is not changed.
 * @throws never.
 */
export function firstReviews(split: Split, n: number | null): Split {
  if (n === null || n >= split.labels.length) return split;
  const first: Split = {
    ids: split.ids.slice(0, split.offsets[n]),
    offsets: split.offsets.slice(0, n + 1),
    labels: split.labels.slice(0, n),
  };
  if (split.movies) first.movies = split.movies.slice(0, n);
  return first;
}

/** How {@link holdOut} draws a validation split: single reviews, or whole movies. */
export type HoldOutBy = 'review' | 'movie';

/**
 * Splits `split` into training and validation reviews, both in their order in `split`:
 *
 * - `by: 'review'` (default) holds out the last ⌊n · fraction⌋ reviews, as `fit`'s `validationSplit` does.
 * - `by: 'movie'` holds out whole movies: the split's movies, shuffled by MT19937 seeded `seed` (default 0),
 *   join the validation split one at a time, all of their reviews in `split`, until it holds at least
 *   ⌊n · fraction⌋ reviews (so up to one movie's size more: IMDB has at most 30). A review of unknown movie
 *   (−1) counts as a movie of its own. No validation review then shares a movie with a training review, as
 *   no test review does: names and plot words a model memorised from a movie's other reviews do not help it
 *   there. Movies are drawn with equal chances whatever their size, so the labels keep their shares in
 *   expectation (IMDB's positive reviews gather in fewer movies than its negative ones: taking the movies of
 *   the last reviews would favour them).
 *
 * The input is not changed.
 * @example const { train, validation } = holdOut(imdb.train, 0.1, { by: 'movie' });
 * @throws {ValueError} when `fraction` is not in (0, 1), when either part would be empty, on an unknown
 *   `by` or a bad seed, or with `by: 'movie'` on a split without `movies` (Keras' npz, or a tarball without
 *   urls files).
 */
export function holdOut(
  split: Split,
  fraction: number,
  options: { by?: HoldOutBy; seed?: number } = {},
): { train: Split; validation: Split } {
  const by = options.by ?? 'review';
  if (by !== 'review' && by !== 'movie') throw new ValueError(`by must be 'review' or 'movie', got ${String(by)}`);
  if (!(typeof fraction === 'number' && fraction > 0 && fraction < 1))
    throw new ValueError(`fraction must be a number in (0, 1), got ${String(fraction)}`);
  const n = split.labels.length;
  const want = Math.floor(n * fraction);
  const held = new Uint8Array(n);
  if (by === 'review') held.fill(1, n - want);
  else {
    const movies = split.movies;
    if (!movies) {
      throw new ValueError(
        "holding out by movie needs each review's movie (split.movies): the aclImdb tarball's urls_*.txt give it; Keras' imdb.npz does not",
      );
    }
    const rng = new MT19937(options.seed ?? 0); // checks the seed
    // Groups in order of first appearance: a movie's reviews, or one review of unknown movie.
    const groups: number[][] = [];
    const groupOf = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const known = movies[i] >= 0 ? groupOf.get(movies[i]) : undefined;
      if (known) known.push(i);
      else {
        const g = [i];
        groups.push(g);
        if (movies[i] >= 0) groupOf.set(movies[i], g);
      }
    }
    const order = shuffleOrder(groups.length, rng);
    for (let k = 0, count = 0; k < order.length && count < want; k++) {
      for (const i of groups[order[k]]) held[i] = 1;
      count += groups[order[k]].length;
    }
  }
  const trainIdx: number[] = [];
  const valIdx: number[] = [];
  for (let i = 0; i < n; i++) (held[i] ? valIdx : trainIdx).push(i);
  if (valIdx.length === 0 || trainIdx.length === 0) {
    throw new ValueError(
      `a validation fraction of ${fraction} of ${n} reviews leaves ${valIdx.length === 0 ? 'no validation' : 'no training'} review`,
    );
  }
  return { train: takeReviews(split, trainIdx), validation: takeReviews(split, valIdx) };
}

/**
 * A shuffled copy of `split`: MT19937 seeded with `seed`, Fisher–Yates as numpy's
 * `RandomState(seed).shuffle`, so the order equals `x[rng.permutation-by-shuffle]` in numpy.
 * @throws {ValueError} when `seed` is not an integer in [0, 2^32).
 */
export function shuffleSplit(split: Split, seed: number): Split {
  return takeReviews(split, shuffleOrder(split.offsets.length - 1, new MT19937(seed)));
}

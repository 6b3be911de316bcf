/**
 * IMDB (Maas et al. 2011) as `keras.datasets.imdb.load_data` gives it, from the upstream
 * `aclImdb_v1.tar.gz` or from Keras' `imdb.npz`, over flat typed arrays. Browser-safe.
 *
 * Pipeline (Keras' `load_data`, keras/src/datasets/imdb.py):
 *   reviews as word ranks → shuffle train, then test, with one MT19937 seeded `seed` (numpy's legacy
 *   RandomState: the same permutations as Keras) → prepend startChar, add indexFrom → drop reviews whose
 *   length (start char included) is ≥ maxlen → ids outside [skipTop, numWords) become oovChar → keep the
 *   first trainSize / testSize.
 */

import { DataError, ValueError } from '../errors';
import type { URLInstance } from '../globals';
import { type ByteSource, gunzipEach, openSource, readAll, sniff } from './source';
import { TarReader } from './tar';
import { forEachWord } from './tokenize';
import { readNpz, intList } from './npz';
import { MT19937, shuffleOrder } from './rng';
import { type Split, firstReviews } from './pad';
import { type IdOptions, type ResolvedIdOptions, WordIndex, keepId, resolveIdOptions } from './words';

/**
 * SHA-256 of the upstream `aclImdb_v1.tar.gz`: the published checksum, listed alike by independent loaders
 * (Julia's MLDatasets DataDeps registration, the gomlx IMDB loader, a Rust datasets crate).
 */
export const IMDB_SHA256 = 'c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe';
/** Where the upstream tarball is published. */
export const IMDB_URL = 'https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz';

/** Options of `loadImdb`; defaults are Keras'. */
export interface LoadImdbOptions extends IdOptions {
  /**
   * The `aclImdb_v1.tar.gz` (or a tarball of the same layout) or Keras' `imdb.npz`, told apart by their
   * first bytes. In a browser it is required; the Node entry also takes paths and has a cache.
   */
  source?: ByteSource;
  /**
   * Load the 2,000 + 2,000-review sample shipped in the package (`cellstate/data/imdb-sample.tar.gz`)
   * instead of `source`: `true` fetches it relative to this module (right with no bundler, and wherever the
   * package's files are served as installed), a URL string or `URL` names where it is served (with a bundler,
   * the URL of `cellstate/data/imdb-sample.tar.gz` it emits, e.g. Vite's `?url` import of that path).
   */
  sample?: boolean | string | URLInstance;
  /**
   * A word index (word → rank, e.g. Keras' `imdb_word_index.json`, as an object, a WordIndex or a source
   * of its JSON). With an npz it supplies `wordIndex` of the result (null without it); with a tarball it
   * replaces the index built from the training split, and words it lacks become oovChar.
   */
  wordIndex?: WordIndex | Record<string, number> | ByteSource;
  /** Drop reviews whose length, start char included, is ≥ maxlen (Keras: `len(x) < maxlen` is kept). */
  maxlen?: number | null;
  /** Seed of the shuffle, default 113 as Keras; null keeps the sorted order (see `loadImdb`). */
  seed?: number | null;
  /** Keep only the first trainSize training reviews (after shuffling and the maxlen filter). */
  trainSize?: number;
  /** Keep only the first testSize test reviews (after shuffling and the maxlen filter). */
  testSize?: number;
}

/** The dataset: two splits over flat typed arrays and the word index. */
export interface Imdb {
  train: Split;
  test: Split;
  /** Word ↔ rank with the id rules of this load; null for an npz loaded without a word index. */
  wordIndex: WordIndex | null;
}

/** A split before the Keras pipeline: ranks (−1 = word not in the index), one review per offsets pair. */
export interface RankedSplit {
  ranks: Int32Array;
  offsets: Int32Array;
  labels: Uint8Array;
  /** Each review's movie (see {@link Split.movies}); null when the source names none. */
  movies: Int32Array | null;
}

/** Both splits as ranks, plus the word index that gave them. */
export interface RankedCorpus {
  train: RankedSplit;
  test: RankedSplit;
  /** word → rank; null when the source had none. */
  words: Map<string, number> | null;
}

const REVIEW = /^(?:\.\/)?aclImdb\/(train|test)\/(neg|pos)\/(\d+)_(\d+)\.txt$/;
/** `urls_{neg,pos}.txt`: line i is the IMDB page of the movie that review id i (of that folder) is about. */
const URLS = /^(?:\.\/)?aclImdb\/(train|test)\/urls_(neg|pos)\.txt$/;
/** The movie in a urls line (`http://www.imdb.com/title/tt0453418/usercomments`). */
const TITLE = /\/title\/(tt\d+)/;

/**
 * Each review's movie index from the folders' urls lines: movies are numbered from 0 in order of first
 * appearance over `order` (both splits share the numbering); −1 where a folder's urls file is missing or
 * has no line for the review's id. Null when the tarball holds no urls file at all.
 */
function movieIndex(urls: Map<number, string[]>, keys: number[], order: number[]): Int32Array | null {
  if (urls.size === 0) return null;
  const ids = new Map<string, number>();
  const movies = new Int32Array(order.length);
  for (let k = 0; k < order.length; k++) {
    const key = keys[order[k]];
    const line = urls.get(Math.floor(key / 2 ** 40))?.[key % 2 ** 40];
    const url = line?.trim() ?? '';
    // A line that names no title still names one page: the page stands for the movie.
    const movie = TITLE.exec(url)?.[1] ?? url;
    if (movie === '') movies[k] = -1;
    else {
      let m = ids.get(movie);
      if (m === undefined) ids.set(movie, (m = ids.size));
      movies[k] = m;
    }
  }
  return movies;
}

/**
 * Reads the reviews of an aclImdb tarball into ranks, and each review's movie from
 * `aclImdb/{train,test}/urls_{neg,pos}.txt` when the tarball has them. Entries other than those and
 * `aclImdb/{train,test}/{neg,pos}/<id>_<rating>.txt` (unsup, .feat, vocab) are skipped unread.
 * Reviews are ordered by (split, label neg before pos, numeric id), whatever the order of the tar entries.
 * The index is built on the training split: rank 1 is the most frequent word; ties go to the word that
 * occurs first in that order (first review, then first position). Text is UTF-8 (a BOM is kept as a
 * character, as Python's utf-8 codec does); words are those of `tokenize`.
 * @throws {DataError} on corrupt/truncated gzip or tar, a review that is not UTF-8, a duplicate review,
 *   or no training review.
 */
export async function readAclImdb(
  stream: ReadableStream<Uint8Array>,
  words: Map<string, number> | null = null,
  what = 'the IMDB tarball',
  gzipped = true,
): Promise<RankedCorpus> {
  const vocab = new Map<string, number>(); // word → provisional id, in order of appearance
  const vocabWords: string[] = [];
  let toks = new Int32Array(1 << 20);
  let ntok = 0;
  // Per review: sort key and token range, kept in growable typed columns.
  const keys: number[] = []; // split * 2 + label, then id, packed as one float (ids < 2^40)
  const starts: number[] = [];
  const ends: number[] = [];
  const seen = new Set<number>();
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const decode = (name: string, data: Uint8Array): string => {
    try {
      return decoder.decode(data);
    } catch (e) {
      throw new DataError(`${what}: entry ${name} is not valid UTF-8`, { cause: e });
    }
  };
  const addWord = (w: string) => {
    let id = vocab.get(w);
    if (id === undefined) {
      id = vocabWords.length;
      vocab.set(w, id);
      vocabWords.push(w);
    }
    if (ntok === toks.length) {
      const grown = new Int32Array(toks.length * 2);
      grown.set(toks);
      toks = grown;
    }
    toks[ntok++] = id;
  };
  const urls = new Map<number, string[]>(); // split * 2 + label → urls lines
  const tar = new TarReader(
    (name) => REVIEW.test(name) || URLS.test(name),
    ({ name, data }) => {
      const u = URLS.exec(name);
      if (u) {
        urls.set((u[1] === 'train' ? 0 : 2) + (u[2] === 'pos' ? 1 : 0), decode(name, data).split('\n'));
        return;
      }
      const m = REVIEW.exec(name)!;
      // The id is packed below 2^40 in the sort key; a larger one would land in another split and label.
      if (m[3].length > 12 || Number(m[3]) >= 2 ** 40) throw new DataError(`${what}: review ${name} has an id above 2^40`);
      const key = ((m[1] === 'train' ? 0 : 2) + (m[2] === 'pos' ? 1 : 0)) * 2 ** 40 + Number(m[3]);
      if (seen.has(key)) throw new DataError(`${what} holds review ${m[1]}/${m[2]}/${m[3]} twice`);
      seen.add(key);
      const text = decode(name, data);
      keys.push(key);
      starts.push(ntok);
      forEachWord(text, addWord);
      ends.push(ntok);
    },
  );
  if (gzipped) await gunzipEach(stream, (c) => tar.push(c), what);
  else {
    const reader = stream.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) tar.push(r.value);
  }
  tar.end();

  const n = keys.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => keys[a] - keys[b]);
  const nTrain = order.findIndex((i) => keys[i] >= 2 * 2 ** 40);
  const trainCount = nTrain < 0 ? n : nTrain;
  if (trainCount === 0)
    throw new DataError(`${what} holds no training review (aclImdb/train/{neg,pos}/<id>_<rating>.txt): is it the IMDB tarball?`);

  // Provisional id → rank.
  const V = vocabWords.length;
  const rankOf = new Int32Array(V).fill(-1);
  let index: Map<string, number>;
  if (words) {
    index = words;
    for (let v = 0; v < V; v++) rankOf[v] = words.get(vocabWords[v]) ?? -1;
  } else {
    const count = new Int32Array(V);
    const first = new Int32Array(V);
    let pos = 0;
    for (let k = 0; k < trainCount; k++) {
      const i = order[k];
      for (let t = starts[i]; t < ends[i]; t++, pos++) {
        const v = toks[t];
        if (count[v]++ === 0) first[v] = pos;
      }
    }
    const inTrain: number[] = [];
    for (let v = 0; v < V; v++) if (count[v] > 0) inTrain.push(v);
    inTrain.sort((a, b) => count[b] - count[a] || first[a] - first[b]);
    index = new Map();
    for (let r = 0; r < inTrain.length; r++) {
      rankOf[inTrain[r]] = r + 1;
      index.set(vocabWords[inTrain[r]], r + 1);
    }
  }

  const movies = movieIndex(urls, keys, order);
  const build = (from: number, to: number): RankedSplit => {
    const offsets = new Int32Array(to - from + 1);
    for (let k = from; k < to; k++) offsets[k - from + 1] = offsets[k - from] + ends[order[k]] - starts[order[k]];
    const ranks = new Int32Array(offsets[to - from]);
    const labels = new Uint8Array(to - from);
    for (let k = from; k < to; k++) {
      const i = order[k];
      let o = offsets[k - from];
      for (let t = starts[i]; t < ends[i]; t++) ranks[o++] = rankOf[toks[t]];
      labels[k - from] = Math.floor(keys[i] / 2 ** 40) % 2;
    }
    return { ranks, offsets, labels, movies: movies && movies.slice(from, to) };
  };
  return { train: build(0, trainCount), test: build(trainCount, n), words: index };
}

/** Most tokens read from one split of an npz: 20 times Keras' imdb.npz (11.6 M per split at most). */
const MAX_NPZ_TOKENS = 1 << 28;

/**
 * Reads Keras' `imdb.npz` (x_train, y_train, x_test, y_test) into ranks: x arrays are object arrays of
 * lists of word ranks, y arrays integer labels 0/1.
 * @throws {DataError} on a corrupt zip or npy, a missing array, an unsupported pickle opcode, a negative
 *   rank, a label not 0/1, or x and y of different lengths.
 */
export function readKerasNpz(bytes: Uint8Array, words: Map<string, number> | null = null, what = 'the npz'): RankedCorpus {
  const arrays = readNpz(bytes, ['x_train', 'y_train', 'x_test', 'y_test']);
  const split = (x: string, y: string): RankedSplit => {
    const xs = arrays.get(x)!;
    const ys = arrays.get(y)!;
    if (xs.kind !== 'object') throw new DataError(`${what}: ${x} must be an object array of lists, got a numeric array`);
    if (ys.kind !== 'numeric') throw new DataError(`${what}: ${y} must be a numeric array`);
    const n = xs.values.length;
    if (ys.data.length !== n) throw new DataError(`${what}: ${x} has ${n} reviews but ${y} has ${ys.data.length} labels`);
    // The budget before any element is read: a pickle can name one memoised list a million times in a
    // few bytes (BINGET), so a tiny npz could ask for 10^10 tokens and never finish.
    let total = 0;
    for (const v of xs.values) total += Array.isArray(v) ? v.length : 0;
    if (total > MAX_NPZ_TOKENS) {
      throw new DataError(
        `${what}: ${x} holds ${total} tokens in all, more than the ${MAX_NPZ_TOKENS} read (Keras' imdb.npz has 11.6 million)`,
      );
    }
    const lists = xs.values.map((v, i) => intList(v, `${what} ${x}`, i));
    const offsets = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i] + lists[i].length;
    const ranks = new Int32Array(offsets[n]);
    for (let i = 0; i < n; i++) {
      const l = lists[i];
      for (let k = 0; k < l.length; k++) {
        const r = l[k];
        if (r < 0 || r > 0x7fffffff) throw new DataError(`${what}: ${x}[${i}] holds ${r}, not a word rank`);
        ranks[offsets[i] + k] = r;
      }
    }
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const l = ys.data[i];
      if (l !== 0 && l !== 1) throw new DataError(`${what}: ${y}[${i}] is ${l}, expected 0 or 1`);
      labels[i] = l;
    }
    return { ranks, offsets, labels, movies: null };
  };
  return { train: split('x_train', 'y_train'), test: split('x_test', 'y_test'), words };
}

function checkSize(name: string, v: number | undefined, available: number): number {
  if (v === undefined) return available;
  if (!Number.isInteger(v) || v < 0) throw new ValueError(`${name} must be a non-negative integer, got ${v}`);
  if (v > available) throw new ValueError(`${name} ${v} exceeds the ${available} reviews available`);
  return v;
}

/**
 * Applies Keras' `load_data` steps to a ranked corpus (see the module comment).
 * @throws {ValueError} on bad options, or when maxlen leaves a split empty (as Keras raises).
 */
export function kerasPipeline(corpus: RankedCorpus, options: Omit<LoadImdbOptions, 'source' | 'wordIndex'> = {}): Imdb {
  const o = resolveIdOptions(options);
  const seed = options.seed === undefined ? 113 : options.seed;
  const maxlen = options.maxlen ?? null;
  if (maxlen !== null && (!Number.isInteger(maxlen) || maxlen < 1))
    throw new ValueError(`maxlen must be a positive integer, got ${maxlen}`);
  const rng = seed === null ? null : new MT19937(seed);
  const trainOrder = permutation(corpus.train, rng);
  const testOrder = permutation(corpus.test, rng);
  const train = idsOf(corpus.train, trainOrder, o, maxlen);
  const test = idsOf(corpus.test, testOrder, o, maxlen);
  if (maxlen !== null && (train.labels.length === 0 || test.labels.length === 0)) {
    throw new ValueError(`after filtering for sequences shorter than maxlen=${maxlen}, no sequence was kept; increase maxlen`);
  }
  const nTrain = checkSize('trainSize', options.trainSize, train.labels.length);
  const nTest = checkSize('testSize', options.testSize, test.labels.length);
  return {
    train: firstReviews(train, nTrain),
    test: firstReviews(test, nTest),
    wordIndex: corpus.words ? new WordIndex(corpus.words, o) : null,
  };
}

function permutation(s: RankedSplit, rng: MT19937 | null): Int32Array {
  const n = s.labels.length;
  if (rng) return shuffleOrder(n, rng);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order;
}

function idsOf(s: RankedSplit, order: Int32Array, o: ResolvedIdOptions, maxlen: number | null): Split {
  const extra = o.startChar === null ? 0 : 1;
  const kept: number[] = [];
  let total = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    const len = s.offsets[i + 1] - s.offsets[i] + extra;
    if (maxlen !== null && len >= maxlen) continue;
    kept.push(i);
    total += len;
  }
  const ids = new Int32Array(total);
  const offsets = new Int32Array(kept.length + 1);
  const labels = new Uint8Array(kept.length);
  const start = o.startChar === null ? -1 : keepId(o.startChar, o);
  let w = 0;
  for (let k = 0; k < kept.length; k++) {
    const i = kept[k];
    if (start >= 0) ids[w++] = start;
    for (let t = s.offsets[i]; t < s.offsets[i + 1]; t++) {
      const r = s.ranks[t];
      const id = r < 0 ? (o.oovChar ?? -1) : keepId(r + o.indexFrom, o);
      if (id >= 0) ids[w++] = id;
    }
    offsets[k + 1] = w;
    labels[k] = s.labels[i];
  }
  const split: Split = { ids: w === total ? ids : ids.slice(0, w), offsets, labels };
  if (s.movies) split.movies = Int32Array.from(kept, (i) => s.movies![i]);
  return split;
}

/** Turns the `wordIndex` option into word → rank. @throws {DataError} on JSON that is not word → rank. */
export async function resolveWordIndex(w: LoadImdbOptions['wordIndex']): Promise<Map<string, number> | null> {
  if (w === undefined) return null;
  if (w instanceof WordIndex) return new Map(Object.entries(w.toJSON()));
  const isSource =
    typeof w === 'string' ||
    w instanceof URL ||
    w instanceof ArrayBuffer ||
    ArrayBuffer.isView(w) ||
    (typeof Blob !== 'undefined' && w instanceof Blob) ||
    (typeof ReadableStream !== 'undefined' && w instanceof ReadableStream) ||
    (typeof Response !== 'undefined' && w instanceof Response);
  let obj: unknown = w;
  if (isSource) {
    const bytes = await readAll(await openSource(w as ByteSource, 'word index'), 'the word index');
    try {
      obj = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch (e) {
      throw new DataError(`the word index is not valid UTF-8 JSON: ${(e as Error).message}`, { cause: e });
    }
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
    throw new DataError('the word index must be a JSON object of word → rank');
  const map = new Map<string, number>();
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      throw new DataError(`word index: rank of ${JSON.stringify(k)} must be a positive integer, got ${String(v)}`);
    map.set(k, v);
  }
  return map;
}

/**
 * Reads an IMDB source (tarball or npz, told apart by magic bytes) and applies Keras' pipeline.
 * @throws {DataError} on unreadable or corrupt data. @throws {ValueError} on bad options.
 */
export async function loadImdbFrom(source: ByteSource, options: LoadImdbOptions = {}, what = 'the IMDB source'): Promise<Imdb> {
  resolveIdOptions(options); // fail on bad options before reading 80 MB
  const words = await resolveWordIndex(options.wordIndex);
  const { kind, stream } = await sniff(await openSource(source, what), what);
  const corpus =
    kind === 'npz' ? readKerasNpz(await readAll(stream, what), words, what) : await readAclImdb(stream, words, what, kind === 'tar.gz');
  return kerasPipeline(corpus, options);
}

/** The package's `data/` seen from `dist/` (or from `ts/data/`, one level deeper, in a clone). */
const SAMPLE_FROM_DIST = '../data/imdb-sample.tar.gz';

/**
 * The shipped sample beside the package's files. The path is a variable on purpose: bundlers copy every
 * `new URL('literal', import.meta.url)` into the app, and 2.2 MB of sample should land there only when
 * the app asks for it (`sample: url`).
 */
function defaultSampleUrl(): URL {
  return new URL(SAMPLE_FROM_DIST, import.meta.url);
}

/**
 * Loads IMDB with the semantics of `keras.datasets.imdb.load_data` (browser entry: `source` or `sample` required).
 *
 * - From the tarball, reviews are sorted by (split, label neg < pos, numeric id) and the word index is
 *   built on the training split (rank 1 = most frequent; ties by first occurrence in that order).
 * - From `imdb.npz`, reviews keep the file's order; with `seed` 113 the shuffle equals Keras' exactly
 *   (numpy's MT19937 and shuffle are reproduced), so the ids match Keras' `load_data`.
 * - Each split is `{ ids, offsets, labels }`: review i is `ids[offsets[i] .. offsets[i+1])`, starting
 *   with startChar; labels 1 = positive.
 * - `numWords`: ids ≥ numWords become oovChar (null: every word kept; Keras' code, given None, also cuts
 *   the single highest id, which is not repeated here). `skipTop`: ids < skipTop become oovChar, the
 *   start char included, as in Keras' code. `maxlen`: reviews of length ≥ maxlen (start char counted)
 *   are dropped.
 *
 * @throws {ValueError} without `source` or `sample` (or with both), on bad options (e.g. numWords below 4 with indexFrom 3), or when
 *   maxlen keeps no review.
 * @throws {DataError} when the source cannot be read, is neither gzip nor zip, or is corrupt/truncated
 *   (gzip, tar, zip, npy, pickle), holds a review that is not UTF-8, or an npz lacks an array.
 */
export async function loadImdb(options: LoadImdbOptions = {}): Promise<Imdb> {
  if (options.sample !== undefined && options.sample !== false) {
    if (options.source !== undefined) throw new ValueError('pass either source or sample, not both');
    return loadImdbFrom(options.sample === true ? defaultSampleUrl() : options.sample, options, 'the IMDB sample');
  }
  if (options.source === undefined) {
    throw new ValueError(
      `loadImdb needs a source in the browser: a URL, Response, Blob, ArrayBuffer or ReadableStream of ${IMDB_URL.split('/').pop()} ` +
        'or of Keras imdb.npz (the Node entry also reads paths, and downloads and caches the tarball)',
    );
  }
  return loadImdbFrom(options.source, options);
}

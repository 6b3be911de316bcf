/**
 * The word index: word ↔ rank (1 = most frequent training word, as Keras' `imdb_word_index.json`), and
 * the id rules of `keras.datasets.imdb.load_data` that turn ranks into ids:
 *   id = rank + indexFrom; ids below indexFrom are reserved (0 padding, 1 start, 2 out-of-vocabulary);
 *   an id is kept when skipTop ≤ id < numWords, otherwise it becomes oovChar (or is dropped if oovChar
 *   is null). As in Keras' code, the test compares the final id, start char included.
 */

import { DataError, ValueError, describe } from '../errors';
import { forEachWord } from './tokenize';

/** The id rules; defaults are Keras'. */
export interface IdOptions {
  /** Keep ids below this (ids, not ranks: the top numWords − indexFrom − 1 words); null keeps every word. */
  numWords?: number | null;
  /** Ids below this become oovChar, the start char too (Keras compares the final id); default 0. */
  skipTop?: number;
  /** Id that starts every sequence, default 1; null for none. */
  startChar?: number | null;
  /** Id of a dropped or unknown word, default 2; null drops such words instead. */
  oovChar?: number | null;
  /** Added to every rank, default 3 (0, 1, 2 reserved). */
  indexFrom?: number;
}

/** {@link IdOptions} with every field resolved. */
export type ResolvedIdOptions = Required<IdOptions>;

function checkInt(name: string, v: unknown, min: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 0x7fffffff) {
    throw new ValueError(`${name} must be an integer ≥ ${min}, got ${String(v)}`);
  }
}

/**
 * Fills in defaults and checks the id rules.
 * @throws {ValueError} on a non-integer or negative field, or numWords ≤ indexFrom (no word would be kept;
 *   with the defaults that is numWords below 4).
 */
export function resolveIdOptions(o: IdOptions = {}): ResolvedIdOptions {
  const r: ResolvedIdOptions = {
    numWords: o.numWords ?? null,
    skipTop: o.skipTop ?? 0,
    startChar: o.startChar === undefined ? 1 : o.startChar,
    oovChar: o.oovChar === undefined ? 2 : o.oovChar,
    indexFrom: o.indexFrom ?? 3,
  };
  checkInt('indexFrom', r.indexFrom, 0);
  checkInt('skipTop', r.skipTop, 0);
  if (r.startChar !== null) checkInt('startChar', r.startChar, 0);
  if (r.oovChar !== null) checkInt('oovChar', r.oovChar, 0);
  if (r.numWords !== null) {
    checkInt('numWords', r.numWords, 0);
    if (r.numWords <= r.indexFrom) {
      throw new ValueError(
        `numWords must exceed indexFrom (${r.indexFrom}): ids below indexFrom are reserved, so numWords ${r.numWords} keeps no word`,
      );
    }
  }
  return r;
}

/**
 * The id of a word of rank `rank` (−1 = unknown) under `o`, or −1 when it is dropped.
 * @throws never.
 */
export function rankToId(rank: number, o: ResolvedIdOptions): number {
  if (rank < 0) return o.oovChar ?? -1;
  return keepId(rank + o.indexFrom, o);
}

/**
 * `id` if skipTop ≤ id < numWords, else oovChar, else −1 (dropped).
 * @throws never.
 */
export function keepId(id: number, o: ResolvedIdOptions): number {
  if (id >= o.skipTop && (o.numWords === null || id < o.numWords)) return id;
  return o.oovChar ?? -1;
}

/**
 * Word ↔ rank, plus the id rules of the load that produced it, so `encode` gives the ids the model saw.
 * Ranks start at 1 (Keras' convention); the id of rank r is r + indexFrom.
 */
export class WordIndex {
  private readonly ranks: Map<string, number>;
  private readonly words: string[] = [];
  /** The id rules `encode` and `decode` apply. */
  readonly options: ResolvedIdOptions;

  /**
   * @param entries word → rank (e.g. the parsed `imdb_word_index.json`), ranks positive integers.
   * @param options the id rules; Keras' defaults when left out.
   * @throws {DataError} when a rank is not a positive integer.
   * @throws {ValueError} on bad id options.
   */
  constructor(entries: Record<string, number> | Map<string, number> | Iterable<[string, number]>, options: IdOptions = {}) {
    this.options = resolveIdOptions(options);
    if (typeof entries !== 'object' || entries === null || (Array.isArray(entries) && !entries.every((e) => Array.isArray(e)))) {
      throw new DataError(`word index must be an object of word → rank, a Map or [word, rank] pairs, got ${describe(entries)}`);
    }
    const it: Iterable<[string, number]> =
      entries instanceof Map || Symbol.iterator in Object(entries)
        ? (entries as Iterable<[string, number]>)
        : Object.entries(entries as Record<string, number>);
    this.ranks = new Map();
    for (const [word, rank] of it) {
      if (!Number.isInteger(rank) || rank < 1)
        throw new DataError(`word index: rank of ${JSON.stringify(word)} must be a positive integer, got ${rank}`);
      this.ranks.set(word, rank);
      if (this.words[rank] === undefined) this.words[rank] = word;
    }
  }

  /** Number of words. */
  get size(): number {
    return this.ranks.size;
  }

  /** The rank of `word` (1 = most frequent), or undefined. */
  rank(word: string): number | undefined {
    return this.ranks.get(word);
  }

  /** The word of rank `rank`, or undefined. */
  word(rank: number): string | undefined {
    return this.words[rank];
  }

  /** A copy with other id rules (e.g. to encode for a model trained with another numWords). */
  withOptions(options: IdOptions): WordIndex {
    return new WordIndex(this.ranks, { ...this.options, ...options });
  }

  /**
   * Tokenizes `text` (see `tokenize`) and maps it to ids as the loader did: startChar first, unknown or
   * cut words as oovChar (dropped if oovChar is null).
   * @throws {TypeError} when `text` is not a string.
   */
  encode(text: string): Int32Array {
    const o = this.options;
    const ids: number[] = [];
    if (o.startChar !== null) {
      const s = keepId(o.startChar, o);
      if (s >= 0) ids.push(s);
    }
    forEachWord(text, (w) => {
      const id = rankToId(this.ranks.get(w) ?? -1, o);
      if (id >= 0) ids.push(id);
    });
    return Int32Array.from(ids);
  }

  /**
   * Words of `ids` joined by spaces: startChar and ids below indexFrom (padding) are left out, oovChar and
   * ids of no word are written `?`. `decode(encode(t))` gives back the in-vocabulary words of `t`.
   */
  decode(ids: ArrayLike<number>): string {
    const o = this.options;
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === o.startChar) continue;
      if (id === o.oovChar) {
        out.push('?');
        continue;
      }
      if (id < o.indexFrom) continue;
      out.push(this.words[id - o.indexFrom] ?? '?');
    }
    return out.join(' ');
  }

  /** word → rank, the layout of Keras' `imdb_word_index.json`. */
  toJSON(): Record<string, number> {
    return Object.fromEntries(this.ranks);
  }
}

/** `wordIndex.encode(text)`. @throws {TypeError} when `text` is not a string. */
export function encode(text: string, wordIndex: WordIndex): Int32Array {
  return wordIndex.encode(text);
}

/**
 * `wordIndex.decode(ids)`.
 * @throws never.
 */
export function decode(ids: ArrayLike<number>, wordIndex: WordIndex): string {
  return wordIndex.decode(ids);
}

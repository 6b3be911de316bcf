/**
 * cellstate/data, browser-safe: the IMDB loader over flat typed arrays, its tokenizer and word index, and
 * pure transforms. Node's entry (`./node`) exports the same names, with a `loadImdb` that also reads
 * paths and downloads into a cache.
 */

export { loadImdb, IMDB_SHA256, IMDB_URL, type LoadImdbOptions, type Imdb } from './imdb';
export { tokenize, KERAS_FILTERS } from './tokenize';
export { WordIndex, encode, decode, type IdOptions } from './words';
export {
  padSequences,
  shuffleSplit,
  takeReviews,
  holdOut,
  type HoldOutBy,
  type Split,
  type Sequences,
  type PadOptions,
  type Padded,
} from './pad';
export type { ByteSource } from './source';

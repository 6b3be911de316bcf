// The words and id rules that turn typed text into a model's token ids: the `vocab.json` that
// `cellstate imdb train --save` writes (ts/cli/modeldir.ts, format "cellstate.imdb-vocab" v1), which the
// demo also builds for the models it trains and stores inside the bundles it saves (metadata key below).
import { type IdOptions, WordIndex, padSequences } from 'cellstate';

export const VOCAB_FORMAT = 'cellstate.imdb-vocab';
/** Metadata key of a saved bundle that carries its vocab.json text. */
export const VOCAB_META_KEY = 'cellstate.web.vocab';

export interface VocabFile {
  format: typeof VOCAB_FORMAT;
  version: 1;
  idOptions: IdOptions;
  maxlen: number;
  padding: 'pre' | 'post';
  truncating: 'pre' | 'post';
  /** word → rank, only the ranks that map to kept ids. */
  words: Record<string, number>;
}

/** Checks a parsed vocab.json. @throws {Error} naming what is wrong. */
export function checkVocab(v: unknown, where: string): VocabFile {
  const o = v as Partial<VocabFile> | null;
  if (!o || o.format !== VOCAB_FORMAT || o.version !== 1 || typeof o.words !== 'object' || !o.idOptions || !o.maxlen) {
    throw new Error(`${where} is not a ${VOCAB_FORMAT} file of version 1 (as \`cellstate imdb train --save\` writes)`);
  }
  return o as VocabFile;
}

/** The vocab of a word index trimmed to the words a model with these id rules can see (as the CLI's vocabOf). */
export function vocabOf(index: WordIndex, data: { maxlen: number; padding: 'pre' | 'post'; truncating: 'pre' | 'post' }): VocabFile {
  const o = index.options;
  const words: Record<string, number> = {};
  for (const [w, r] of Object.entries(index.toJSON())) if (o.numWords === null || r + o.indexFrom < o.numWords) words[w] = r;
  return { format: VOCAB_FORMAT, version: 1, idOptions: o, ...data, words };
}

/** Encodes texts as the model saw its training data: ids by the vocab's rules, padded and truncated to its maxlen. */
export class ReviewEncoder {
  readonly index: WordIndex;
  constructor(readonly vocab: VocabFile) {
    this.index = new WordIndex(vocab.words, vocab.idOptions);
  }

  /** The ids of one text (start char first), unpadded. */
  ids(text: string): Int32Array {
    return this.index.encode(text);
  }

  /** A (B, maxlen) batch of id sequences. */
  batch(seqs: ArrayLike<number>[]): { data: Int32Array; shape: [number, number] } {
    const { data, shape } = padSequences(
      seqs.map((s) => Array.from(s)),
      {
        maxlen: this.vocab.maxlen,
        padding: this.vocab.padding,
        truncating: this.vocab.truncating,
      },
    );
    return { data, shape };
  }
}

// Classifying typed text and saying which words moved it, by leave-one-out on the model itself: for every
// whitespace-separated chunk of the text, the probability with that chunk's tokens removed; its effect is
// p(full text) − p(text without it). Positive: the chunk pushed the review towards "positive". All variants
// go through the model in one predict call.
import { type SequenceModel, tokenize } from 'cellstate';
import type { ReviewEncoder } from './vocab';

export interface Chunk {
  /** The text as typed (a word with its punctuation, or the whitespace between). */
  text: string;
  /** Token ids this chunk contributes (empty for whitespace or pure punctuation). */
  ids: number[];
  /** Some of its tokens are outside the model's vocabulary (they reach the model as the out-of-vocabulary id). */
  unknown: boolean;
  /** p(full) − p(without this chunk); null when it has no tokens or was not evaluated. */
  effect: number | null;
}

export interface Explanation {
  probability: number;
  chunks: Chunk[];
  /** Tokens the model saw after truncation to its maxlen, of all typed. */
  seen: number;
  tokens: number;
}

/** At most this many chunks are evaluated one by one (a long review: the first ones; the rest show no effect). */
const MAX_CHUNKS = 300;

export function explain(model: SequenceModel, encoder: ReviewEncoder, text: string): Explanation {
  const oov = encoder.vocab.idOptions.oovChar ?? 2;
  const start = encoder.vocab.idOptions.startChar === undefined ? 1 : encoder.vocab.idOptions.startChar;
  const chunks: Chunk[] = text.split(/(\s+)/).map((part) => {
    const words = /\S/.test(part) ? tokenize(part) : [];
    const ids = words.length ? Array.from(encoder.ids(words.join(' '))).slice(start === null ? 0 : 1) : [];
    return { text: part, ids, unknown: ids.some((id) => id === oov), effect: null };
  });
  const head = start === null ? [] : [start];
  const all = head.concat(...chunks.map((c) => c.ids));
  const scored = chunks
    .map((_c, i) => i)
    .filter((i) => chunks[i].ids.length)
    .slice(0, MAX_CHUNKS);
  const rows = [all, ...scored.map((skip) => head.concat(...chunks.map((c, i) => (i === skip ? [] : c.ids))))];
  const p = model.predict(encoder.batch(rows)).data;
  scored.forEach((ci, k) => (chunks[ci].effect = p[0] - p[k + 1]));
  const tokens = all.length - head.length;
  return { probability: p[0], chunks, tokens, seen: Math.min(tokens, encoder.vocab.maxlen - head.length) };
}

/**
 * What `--save DIR` writes beside the model (config.json + model.safetensors from `saveModel`):
 * `vocab.json` (the words and id rules that turn text into the model's ids) and `metrics.json` (the run).
 * Files are written to a temporary name and renamed (ts/io/atomic.ts), so an interrupted save never leaves half a file.
 */
import { join } from 'node:path';
import { readRegularFile, replaceFiles } from '../io/atomic';
import { DataError, type SequenceModel, WordIndex, loadModel, saveModel } from '../index';
import type { TrainSettings } from './presets';

export const VOCAB_FORMAT = 'cellstate.imdb-vocab';
export const VOCAB_VERSION = 1;

export interface VocabFile {
  format: typeof VOCAB_FORMAT;
  version: number;
  /** WordIndex id rules: numWords, skipTop, startChar, oovChar, indexFrom. */
  idOptions: WordIndex['options'];
  maxlen: number;
  padding: 'pre' | 'post';
  truncating: 'pre' | 'post';
  /** word → rank, only the ranks that map to kept ids. */
  words: Record<string, number>;
}

/**
 * The vocabulary file of a run: the word index trimmed to the words the model can see.
 * @throws never.
 */
export function vocabOf(wordIndex: WordIndex, s: TrainSettings): VocabFile {
  const o = wordIndex.options;
  const words: Record<string, number> = {};
  for (const [w, r] of Object.entries(wordIndex.toJSON())) if (o.numWords === null || r + o.indexFrom < o.numWords) words[w] = r;
  return {
    format: VOCAB_FORMAT,
    version: VOCAB_VERSION,
    idOptions: o,
    maxlen: s.maxlen,
    padding: s.padding,
    truncating: s.truncating,
    words,
  };
}

/** Saves model, vocabulary and metrics into `dir`. @throws {DataError} when the directory cannot be written. */
export async function saveRun(
  dir: string,
  model: SequenceModel,
  vocab: VocabFile,
  metrics: unknown,
  metadata: Record<string, string> = {},
): Promise<void> {
  await saveModel(model, dir, metadata);
  const vocabPath = join(dir, 'vocab.json');
  const metricsPath = join(dir, 'metrics.json');
  await replaceFiles([{ path: vocabPath, data: JSON.stringify(vocab) }], `cannot write ${vocabPath}`);
  await replaceFiles([{ path: metricsPath, data: `${JSON.stringify(metrics, null, 2)}\n` }], `cannot write ${metricsPath}`);
}

export interface LoadedRun {
  model: SequenceModel;
  vocab: VocabFile;
  wordIndex: WordIndex;
  metrics: Record<string, unknown> | null;
}

/** Largest vocab.json read: 20,000 words take under 1 MB; 256 MB is far beyond any vocabulary. */
const MAX_VOCAB_BYTES = 256 << 20;

/**
 * Parses and checks the text of a vocab.json.
 * @throws {DataError} when it is not JSON, of another format or version, or its words or id options are bad.
 */
export function parseVocab(text: string, where: string): { vocab: VocabFile; wordIndex: WordIndex } {
  let vocab: VocabFile;
  try {
    vocab = JSON.parse(text) as VocabFile;
  } catch (e) {
    throw new DataError(`${where} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  if (vocab?.format !== VOCAB_FORMAT || vocab.version !== VOCAB_VERSION || typeof vocab.words !== 'object' || !vocab.idOptions) {
    throw new DataError(
      `${where} is not a ${VOCAB_FORMAT} file of version ${VOCAB_VERSION} (found format ${JSON.stringify(vocab?.format)}, version ${JSON.stringify(vocab?.version)}); retrain with this version of cellstate`,
    );
  }
  try {
    return { vocab, wordIndex: new WordIndex(vocab.words, vocab.idOptions) };
  } catch (e) {
    throw new DataError(`${where}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Loads what {@link saveRun} wrote.
 * @throws {DataError} when a file is missing, corrupt or of another format version.
 */
export async function loadRun(dir: string): Promise<LoadedRun> {
  const model = await loadModel(dir);
  const vocabPath = join(dir, 'vocab.json');
  let vocab: VocabFile;
  let wordIndex: WordIndex;
  try {
    const bytes = await readRegularFile(vocabPath, MAX_VOCAB_BYTES, vocabPath);
    ({ vocab, wordIndex } = parseVocab(new TextDecoder().decode(bytes), vocabPath));
  } catch (e) {
    model.dispose();
    throw new DataError(`cannot read ${vocabPath}: ${(e as Error).message}; was ${dir} saved by \`cellstate imdb train --save\`?`, {
      cause: e,
    });
  }
  let metrics: Record<string, unknown> | null;
  try {
    const bytes = await readRegularFile(join(dir, 'metrics.json'), MAX_VOCAB_BYTES, 'metrics.json');
    metrics = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch {
    metrics = null; // optional: a model saved without its metrics still predicts
  }
  return { model, vocab, wordIndex, metrics };
}

/**
 * Which IMDB data a command uses, in order: `--sample` (the sample shipped in the package) → `--data PATH`
 * → `CELLSTATE_IMDB` → the cache (`CELLSTATE_DATA_DIR`, `$XDG_CACHE_HOME/cellstate` or `~/.cache/cellstate`,
 * file `aclImdb_v1.tar.gz`) → a download into the cache when online (not with `--offline`) → the shipped
 * sample. An explicitly named file that is missing or corrupt is an error, never a silent fallback.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DataError, IMDB_URL, type Imdb, type Split, loadImdb } from '../index';
import { fmtInt, type Out } from './progress';

export interface DataRequest {
  data?: string;
  sample?: boolean;
  offline?: boolean;
  numWords: number;
  seed: number;
  /** Replace the index built from the training split (a saved model's vocabulary). */
  wordIndex?: Record<string, number>;
}

export interface LoadedData extends Imdb {
  /** Path of the file read, or 'shipped sample (path)'. */
  source: string;
  /** How the source was chosen, for the log. */
  origin: string;
  sample: boolean;
}

function cacheFile(): string {
  const dir = process.env.CELLSTATE_DATA_DIR || (process.env.XDG_CACHE_HOME ? join(process.env.XDG_CACHE_HOME, 'cellstate') : join(homedir(), '.cache', 'cellstate'));
  return join(dir, 'aclImdb_v1.tar.gz');
}

/** True when the download host answers within a few seconds (a blackholed network must not hang the CLI). */
async function online(): Promise<boolean> {
  try {
    const res = await fetch(IMDB_URL, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Loads IMDB from the best source available and logs which one.
 * @throws {DataError} when a named file (`--data`, `CELLSTATE_IMDB`) is missing or corrupt.
 */
export async function resolveData(req: DataRequest, log: Out): Promise<LoadedData> {
  const common = { numWords: req.numWords, seed: req.seed, wordIndex: req.wordIndex };
  const fromSample = async (why: string): Promise<LoadedData> => {
    const d = await loadImdb({ ...common, sample: true });
    return { ...d, source: 'the sample shipped in the package (data/imdb-sample.tar.gz)', origin: why, sample: true };
  };
  if (req.sample) return fromSample('--sample');
  const named = req.data ? { path: req.data, origin: '--data' } : process.env.CELLSTATE_IMDB ? { path: process.env.CELLSTATE_IMDB, origin: 'CELLSTATE_IMDB' } : null;
  if (named) {
    const d = await loadImdb({ ...common, source: named.path });
    return { ...d, source: named.path, origin: named.origin, sample: false };
  }
  const cached = cacheFile();
  if (existsSync(cached)) {
    const d = await loadImdb({ ...common, source: cached });
    return { ...d, source: cached, origin: 'cache', sample: false };
  }
  if (req.offline) return fromSample(`--offline and nothing at ${cached}`);
  if (!(await online())) return fromSample(`not cached at ${cached} and ${new URL(IMDB_URL).host} is unreachable`);
  log.write(`data: downloading ${IMDB_URL} (84 MB) to ${cached}\n`);
  try {
    const d = await loadImdb({ ...common, progress: log });
    return { ...d, source: cached, origin: 'downloaded', sample: false };
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    return fromSample(`the download failed (${e.message})`);
  }
}

/** The first `n` reviews of a split (n ≥ its size keeps it whole); the input is not changed. */
export function head(split: Split, n: number | null): Split {
  const total = split.labels.length;
  if (n === null || n >= total) return split;
  const end = split.offsets[n];
  return { ids: split.ids.subarray(0, end), offsets: split.offsets.subarray(0, n + 1), labels: split.labels.subarray(0, n) };
}

/** `data: PATH (25,000 train + 25,000 test reviews; using 15,000 + 10,000)`. */
export function describeData(d: LoadedData, train: number | null, test: number | null): string {
  const nTrain = d.train.labels.length;
  const nTest = d.test.labels.length;
  const use = [train === null ? nTrain : Math.min(train, nTrain), test === null ? nTest : Math.min(test, nTest)];
  const using = train === null && test === null ? '' : `; using ${fmtInt(use[0])} + ${fmtInt(use[1])}`;
  const from = d.origin === '--data' ? '' : ` [${d.origin}]`;
  return `data: ${d.source}${from} (${fmtInt(nTrain)} train + ${fmtInt(nTest)} test reviews${using})`;
}

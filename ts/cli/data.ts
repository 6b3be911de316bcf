/**
 * Which IMDB data a command uses: the loader's order (ts/data/locate.ts: `--sample` → `--data PATH` →
 * `CELLSTATE_IMDB` → the cache), then, when nothing is cached, a download into the cache when online (not
 * with `--offline`), else the shipped sample. An explicitly named file that is missing or corrupt is an
 * error, never a silent fallback.
 */
import { locateImdb } from '../data/locate';
import { DataError, IMDB_URL, type Imdb, loadImdb } from '../index';
import { type Out, fmtInt } from '../progress';

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
  /** Path of the file read, or 'the sample shipped in the package (...)'. */
  source: string;
  /** How the source was chosen, for the log. */
  origin: string;
  sample: boolean;
}

/** The log's name for each rule of the loader's order. */
const ORIGIN = { path: '--data', CELLSTATE_IMDB: 'CELLSTATE_IMDB', cache: 'cache' } as const;

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
  const found = await locateImdb({ sample: req.sample, path: req.data });
  if (found.origin === 'sample') return fromSample('--sample');
  if (found.origin !== 'missing') {
    const d = await loadImdb({ ...common, source: found.path });
    return { ...d, source: found.path, origin: ORIGIN[found.origin], sample: false };
  }
  const cached = found.path;
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

/**
 * `data: PATH [origin] (25,000 train + 25,000 test reviews; using 15,000 + 10,000)`; `train` null leaves the train part out.
 * @throws never.
 */
export function describeData(d: LoadedData, train: number | null, test: number | null, { withTrain = true } = {}): string {
  const nTrain = d.train.labels.length;
  const nTest = d.test.labels.length;
  const from = d.origin === '--data' ? '' : ` [${d.origin}]`;
  const useTest = test === null ? nTest : Math.min(test, nTest);
  if (!withTrain) {
    const using = test !== null && test < nTest ? `; using ${fmtInt(test)}` : '';
    return `data: ${d.source}${from} (${fmtInt(nTest)} test reviews${using})`;
  }
  const useTrain = train === null ? nTrain : Math.min(train, nTrain);
  const using = train === null && test === null ? '' : `; using ${fmtInt(useTrain)} + ${fmtInt(useTest)}`;
  return `data: ${d.source}${from} (${fmtInt(nTrain)} train + ${fmtInt(nTest)} test reviews${using})`;
}

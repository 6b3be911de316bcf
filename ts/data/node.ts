/**
 * cellstate/data for Node: the browser module's exports, with a `loadImdb` that also reads paths and,
 * given no source, finds the upstream tarball in a cache or downloads it there (HTTPS, progress on
 * stderr, SHA-256 verified, written atomically: a temp file renamed into place, removed on any failure).
 *
 * Where the data comes from, in order (./locate.ts decides): `sample: true` (the sample shipped in
 * `data/`) → `source` (path, URL or anything the browser entry takes) → `CELLSTATE_IMDB` (a path) →
 * `<cacheDir>/aclImdb_v1.tar.gz` → download to that file.
 */

import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { DataError, ValueError } from '../errors';
import { writeStreamAtomic } from '../io/atomic';
import { type Out, Progress, bar } from '../progress';
import { IMDB_SHA256, IMDB_URL, type Imdb, type LoadImdbOptions as BrowserLoadImdbOptions, loadImdbFrom } from './imdb';
import { exists, locateImdb } from './locate';
import { type ByteSource } from './source';
import { resolveIdOptions } from './words';

export * from './index';

/** Options of the Node `loadImdb`: the browser ones, plus paths, the cache and the download. */
export interface LoadImdbOptions extends Omit<BrowserLoadImdbOptions, 'source' | 'wordIndex'> {
  /** A path, an http(s)/file URL, or any source the browser entry takes. */
  source?: ByteSource;
  /** As in the browser entry, or a path to `imdb_word_index.json`. For an npz path, a
   * `imdb_word_index.json` in the same folder is used when this is left out. */
  wordIndex?: BrowserLoadImdbOptions['wordIndex'];
  /**
   * Load the sample shipped in the package instead (`data/imdb-sample.tar.gz`: 2,000 training and 2,000
   * test reviews of the upstream tarball, balanced, the 1,000 smallest ids of each folder): offline, no
   * download. The word index is then built on its 2,000 training reviews.
   */
  sample?: boolean;
  /** Cache folder; default `CELLSTATE_DATA_DIR`, `$XDG_CACHE_HOME/cellstate` or `~/.cache/cellstate`. */
  cacheDir?: string;
  /** Download when nothing is cached (default true); false makes a missing cache an error. */
  download?: boolean;
  /** Where to download from; default the upstream {@link IMDB_URL}. */
  url?: string;
  /** Expected SHA-256 (hex) of the download; default {@link IMDB_SHA256}. */
  sha256?: string;
  /** A download that receives nothing for this many milliseconds is abandoned (default 60,000). */
  timeoutMs?: number;
  /**
   * Progress of a download: true (default) draws on stderr (a redrawn bar, at most 10 times a second, on a
   * TTY; a line per tenth otherwise), a stream (`{ write, isTTY? }`) gets the same text, false is
   * silent, a function is called with bytes received and the total (null when unknown).
   */
  progress?: boolean | { write(text: string): unknown; isTTY?: boolean } | ((received: number, total: number | null) => void);
}

const URL_LIKE = /^(https?|file|data|blob):/i;

/** Opens a regular file as a web stream. @throws {DataError} when it is missing, unreadable or not a file. */
async function openPath(path: string): Promise<ReadableStream<Uint8Array>> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, 'r');
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw new DataError(`cannot read ${path}: not a regular file`);
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return Readable.toWeb(fh.createReadStream({ highWaterMark: 1 << 20 })) as ReadableStream<Uint8Array>;
}

/** A download's progress on the option's stream or callback; null when silent. */
function downloadProgress(
  p: LoadImdbOptions['progress'],
  url: string,
  total: number | null,
): ((received: number, done?: boolean) => void) | null {
  if (p === false) return null;
  if (typeof p === 'function') return (r) => p(r, total);
  const out: Out = p === true || p === undefined ? process.stderr : p;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const name = basename(new URL(url).pathname);
  // Logs: one line per tenth (per 10 MB when the size is unknown), and the end.
  const progress = new Progress(out, total, { logStep: (r) => (total ? Math.floor((10 * r) / total) : Math.floor(r / 1e7)) });
  const line = (received: number, tty: boolean, done: boolean) => {
    const size = `${mb(received)}${total ? ` / ${mb(total)}` : ''} MB`;
    if (!tty) return `downloading ${url}: ${size}${done ? ' done' : ''}`;
    const pct = total ? Math.floor((100 * received) / total) : null;
    return `${name} ${pct === null ? '' : `${bar(pct / 100, 30)} ${String(pct).padStart(3)}% `}${size}`;
  };
  return (received, done = false) => {
    if (done) progress.finish(line(received, progress.isTTY, true));
    else progress.update(received, (tty) => line(received, tty, false));
  };
}

function whereToPut(file: string): string {
  return (
    `put ${basename(file)} (from ${IMDB_URL}, sha256 ${IMDB_SHA256}) at ${file}, ` +
    'or set CELLSTATE_IMDB to the path of that tarball or of Keras imdb.npz, or pass { source }'
  );
}

/**
 * Downloads `url` to `dest`, verifying its SHA-256; the file appears only when whole and verified.
 * @throws {DataError} on a network failure, an HTTP error, a short body or a checksum mismatch.
 */
async function download(
  url: string,
  dest: string,
  sha256: string,
  progress: LoadImdbOptions['progress'],
  timeoutMs = 60_000,
): Promise<void> {
  // A server that stalls (connects, then sends nothing) is abandoned after timeoutMs without a byte.
  const stall = new AbortController();
  let timer = setTimeout(() => stall.abort(), timeoutMs);
  const alive = () => {
    clearTimeout(timer);
    timer = setTimeout(() => stall.abort(), timeoutMs);
  };
  const stalled = () =>
    new DataError(`downloading ${url} stalled: nothing received for ${timeoutMs / 1000} s; the partial download was discarded`);
  try {
    await downloadBody(url, dest, sha256, progress, stall.signal, alive, stalled);
  } finally {
    clearTimeout(timer);
  }
}

async function downloadBody(
  url: string,
  dest: string,
  sha256: string,
  progress: LoadImdbOptions['progress'],
  signal: AbortSignal,
  alive: () => void,
  stalled: () => DataError,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (e) {
    if (signal.aborted) throw stalled();
    const cause = (e as { cause?: Error }).cause?.message ?? (e as Error).message;
    throw new DataError(`IMDB is not cached and downloading ${url} failed (${cause}); offline? ${whereToPut(dest)}`, { cause: e });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => {});
    throw new DataError(`downloading ${url} failed: HTTP ${res.status} ${res.statusText}; ${whereToPut(dest)}`);
  }
  const total = Number(res.headers.get('content-length')) || null;
  await fsp.mkdir(dirname(dest), { recursive: true });
  const report = downloadProgress(progress, url, total);
  const hash = createHash('sha256');
  let received = 0;
  await writeStreamAtomic(dest, async (fh) => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        alive();
        hash.update(chunk);
        await fh.write(chunk);
        received += chunk.length;
        report?.(received);
      }
    } catch (e) {
      if (signal.aborted) throw stalled();
      throw new DataError(`downloading ${url} was interrupted after ${received} bytes: ${(e as Error).message}`, { cause: e });
    }
    report?.(received, true);
    if (total !== null && received !== total) {
      throw new DataError(`downloading ${url} stopped after ${received} of ${total} bytes`);
    }
    const got = hash.digest('hex');
    if (got !== sha256.toLowerCase()) {
      throw new DataError(`checksum mismatch for ${url}: expected sha256 ${sha256}, got ${got}; the download was discarded`);
    }
  });
}

/** Resolves the source of a Node load: a stream plus a name for messages, and the word index beside an npz. */
async function resolveSource(o: LoadImdbOptions): Promise<{ stream: ByteSource; what: string; besideNpz?: string }> {
  const fromPath = async (path: string) => {
    const beside = join(dirname(path), 'imdb_word_index.json');
    return { stream: await openPath(path), what: path, besideNpz: /\.npz$/i.test(path) && (await exists(beside)) ? beside : undefined };
  };
  if (o.sample && o.source !== undefined) throw new ValueError('pass either source or sample: true, not both');
  let path: string | undefined;
  if (o.source !== undefined && !o.sample) {
    if (typeof o.source === 'string' && !URL_LIKE.test(o.source)) path = o.source;
    else if (o.source instanceof URL && o.source.protocol === 'file:') path = o.source.pathname;
    else if (typeof o.source === 'string' && /^file:/i.test(o.source)) path = new URL(o.source).pathname;
    else return { stream: o.source, what: typeof o.source === 'string' ? o.source : 'the IMDB source' };
  }
  const found = await locateImdb({ sample: o.sample, path, cacheDir: o.cacheDir, url: o.url });
  if (found.origin === 'missing') {
    if (o.download === false) throw new DataError(`IMDB is not cached and download is false; ${whereToPut(found.path)}`);
    await download(o.url ?? IMDB_URL, found.path, o.sha256 ?? IMDB_SHA256, o.progress, o.timeoutMs);
  }
  return fromPath(found.path);
}

/**
 * Loads IMDB with the semantics of `keras.datasets.imdb.load_data` (see the browser `loadImdb` for the
 * pipeline); in Node `source` may also be a path, and without it the tarball comes from `CELLSTATE_IMDB`,
 * the cache, or a verified download into the cache.
 * @throws {DataError} when a path is unreadable, the download fails or its checksum differs (no file is
 *   left behind), nothing is cached and download is false, or the data is corrupt.
 * @throws {ValueError} on bad options (e.g. numWords below 4 with indexFrom 3).
 */
export async function loadImdb(options: LoadImdbOptions = {}): Promise<Imdb> {
  if (options.timeoutMs !== undefined && !(typeof options.timeoutMs === 'number' && options.timeoutMs > 0)) {
    throw new ValueError(`timeoutMs must be a positive number of milliseconds, got ${String(options.timeoutMs)}`);
  }
  if (options.sha256 !== undefined && !/^[0-9a-f]{64}$/i.test(options.sha256)) {
    throw new ValueError(`sha256 must be 64 hex digits, got ${options.sha256}`);
  }
  resolveIdOptions(options); // fail on bad options before opening or downloading anything
  const { stream, what, besideNpz } = await resolveSource(options);
  let wordIndex = options.wordIndex;
  if (typeof wordIndex === 'string' && !URL_LIKE.test(wordIndex)) {
    wordIndex = await openPath(wordIndex);
  } else if (wordIndex === undefined && besideNpz) {
    wordIndex = await openPath(besideNpz);
  }
  return loadImdbFrom(stream, { ...options, wordIndex }, what);
}

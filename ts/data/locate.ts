/**
 * Where the IMDB data comes from in Node, decided here and nowhere else (the loader in ./node.ts and the
 * CLI both ask): the shipped sample when asked for → a path the caller names → `CELLSTATE_IMDB` →
 * `<cacheDir>/aclImdb_v1.tar.gz` → (missing: the caller downloads there, or falls back).
 * cacheDir: the option, else `CELLSTATE_DATA_DIR`, else `$XDG_CACHE_HOME/cellstate`, else `~/.cache/cellstate`.
 */
import { promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError } from '../errors';
import { IMDB_URL } from './imdb';

/** A located data file: which rule chose it, and its path (for 'missing', where a download should go). */
export interface ImdbLocation {
  origin: 'sample' | 'path' | 'CELLSTATE_IMDB' | 'cache' | 'missing';
  path: string;
}

/** What {@link locateImdb} weighs. */
export interface LocateOptions {
  /** The shipped sample, before anything else. */
  sample?: boolean;
  /** A file the caller names. */
  path?: string;
  /** The cache folder (see the module comment for the default). */
  cacheDir?: string;
  /** The download URL, whose file name the cached file takes; default {@link IMDB_URL}. */
  url?: string;
}

/**
 * True when `path` exists.
 * @throws never: false on any error.
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await fsp.access(path);
    return true;
  } catch {
    return false;
  }
}

/** The cache folder the option and environment select. */
function cacheDirOf(cacheDir: string | undefined): string {
  if (cacheDir) return cacheDir;
  if (process.env.CELLSTATE_DATA_DIR) return process.env.CELLSTATE_DATA_DIR;
  if (process.env.XDG_CACHE_HOME) return join(process.env.XDG_CACHE_HOME, 'cellstate');
  return join(homedir(), '.cache', 'cellstate');
}

declare const __dirname: string | undefined;

/**
 * Path of the shipped sample: `data/` at the package root, seen from `dist/` or from `ts/data/`.
 * @throws {DataError} when it is not installed.
 */
async function samplePath(): Promise<string> {
  const here = typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '../data/imdb-sample.tar.gz'), join(here, '../../data/imdb-sample.tar.gz')];
  for (const c of candidates) if (await exists(c)) return c;
  throw new DataError(`the IMDB sample is not installed: none of ${candidates.join(', ')} exists`);
}

/**
 * The first data file the rules in the module comment find; `origin: 'missing'` with the cache file's path
 * when none applies and nothing is cached. Nothing is downloaded here.
 * @throws {DataError} when the sample is asked for and not installed.
 */
export async function locateImdb(o: LocateOptions): Promise<ImdbLocation> {
  if (o.sample) return { origin: 'sample', path: await samplePath() };
  if (o.path !== undefined) return { origin: 'path', path: o.path };
  const env = process.env.CELLSTATE_IMDB;
  if (env) return { origin: 'CELLSTATE_IMDB', path: env };
  const file = join(cacheDirOf(o.cacheDir), basename(new URL(o.url ?? IMDB_URL).pathname) || 'aclImdb_v1.tar.gz');
  return { origin: (await exists(file)) ? 'cache' : 'missing', path: file };
}

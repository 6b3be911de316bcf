/**
 * The Node layer: paths, CELLSTATE_IMDB / CELLSTATE_DATA_DIR, the cache, and the verified, atomic
 * download, against an HTTP server on 127.0.0.1 (never the internet).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { DataError, ValueError } from '../../ts/errors';
import * as browser from '../../ts/data/index';
import * as node from '../../ts/data/node';
import { loadImdb } from '../../ts/data/node';
import { imdbTarball, kerasNpz } from './helpers';

const tarball = imdbTarball([
  { split: 'train', label: 'neg', id: 1, rating: 2, text: 'a bad film' },
  { split: 'train', label: 'pos', id: 2, rating: 9, text: 'a good film, a fine film' },
  { split: 'test', label: 'pos', id: 3, rating: 8, text: 'good film' },
]);
const sha = createHash('sha256').update(tarball).digest('hex');

let server: Server;
let base: string;
const hits: string[] = [];
let dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'cellstate-data-'));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url!);
    if (req.url === '/aclImdb_v1.tar.gz') {
      res.writeHead(200, { 'content-length': tarball.length });
      // Two writes so the client sees more than one chunk.
      res.write(tarball.subarray(0, tarball.length >> 1));
      setTimeout(() => res.end(tarball.subarray(tarball.length >> 1)), 5);
    } else if (req.url === '/stall/aclImdb_v1.tar.gz') {
      res.writeHead(200, { 'content-length': tarball.length });
      res.write(tarball.subarray(0, tarball.length >> 1)); // then nothing: the server stalls midway
      setTimeout(() => res.destroy(), 5000); // a drop would say "interrupted"; the message below says "stalled"
    } else if (req.url === '/cut/aclImdb_v1.tar.gz') {
      res.writeHead(200, { 'content-length': tarball.length });
      res.write(tarball.subarray(0, tarball.length >> 1), () => res.destroy()); // the connection drops mid-body
    } else {
      res.writeHead(404).end('not here');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
  vi.unstubAllEnvs();
});

describe('node entry', () => {
  test('exports the same names as the browser entry', () => {
    expect(Object.keys(node).sort()).toEqual(Object.keys(browser).sort());
  });
});

describe('download and cache', () => {
  test('downloads into the cache, verifies, then reads the cache without the network', async () => {
    const cacheDir = tmp();
    const seen: [number, number | null][] = [];
    const opts = { cacheDir, url: `${base}/aclImdb_v1.tar.gz`, sha256: sha, progress: (r: number, t: number | null) => seen.push([r, t]) };
    hits.length = 0;
    const d = await loadImdb(opts);
    expect(d).toEqual(await loadImdb({ source: tarball }));
    expect(readdirSync(cacheDir)).toEqual(['aclImdb_v1.tar.gz']); // no temp file left
    expect(seen.at(-1)).toEqual([tarball.length, tarball.length]);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    await loadImdb(opts);
    expect(hits).toEqual(['/aclImdb_v1.tar.gz']); // second load read the cache
  });

  test('CELLSTATE_DATA_DIR selects the cache; progress is lines for logs, a redrawn bar on a TTY', async () => {
    const cacheDir = tmp();
    vi.stubEnv('CELLSTATE_DATA_DIR', cacheDir);
    vi.stubEnv('CELLSTATE_IMDB', '');
    let text = '';
    await loadImdb({ url: `${base}/aclImdb_v1.tar.gz`, sha256: sha, progress: { write: (t: string) => (text += t) } });
    expect(existsSync(join(cacheDir, 'aclImdb_v1.tar.gz'))).toBe(true);
    expect(text).toMatch(/^downloading .*aclImdb_v1\.tar\.gz: 0\.0 \/ 0\.0 MB\n(.*\n)*.* done\n$/);
    let bar = '';
    vi.stubEnv('CELLSTATE_DATA_DIR', tmp());
    await loadImdb({ url: `${base}/aclImdb_v1.tar.gz`, sha256: sha, progress: { write: (t: string) => (bar += t), isTTY: true } });
    expect(bar).toMatch(/\raclImdb_v1\.tar\.gz \[#{30}\] 100% 0\.0 \/ 0\.0 MB\n$/);
    expect(text).toContain('MB');
  });

  test('a checksum mismatch is a DataError and leaves no file behind', async () => {
    const cacheDir = tmp();
    const wrong = 'f'.repeat(64);
    const p = loadImdb({ cacheDir, url: `${base}/aclImdb_v1.tar.gz`, sha256: wrong, progress: false });
    await expect(p).rejects.toThrow(DataError);
    await expect(loadImdb({ cacheDir, url: `${base}/aclImdb_v1.tar.gz`, sha256: wrong, progress: false })).rejects.toThrow(
      /checksum mismatch.*expected sha256 f{64}, got [0-9a-f]{64}/,
    );
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  test('a connection dropped mid-download is a DataError and leaves no file behind', async () => {
    const cacheDir = tmp();
    await expect(loadImdb({ cacheDir, url: `${base}/cut/aclImdb_v1.tar.gz`, sha256: sha, progress: false })).rejects.toThrow(DataError);
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  test('a server that stalls midway is a DataError after timeoutMs, and the cache holds no partial file', async () => {
    const cacheDir = tmp();
    await expect(
      loadImdb({ cacheDir, url: `${base}/stall/aclImdb_v1.tar.gz`, sha256: sha, progress: false, timeoutMs: 300 }),
    ).rejects.toThrow(/downloading .*stall.* stalled: nothing received for 0\.3 s; the partial download was discarded/);
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  test('an HTTP error is a DataError that says where to put the file', async () => {
    const cacheDir = tmp();
    await expect(loadImdb({ cacheDir, url: `${base}/missing/aclImdb_v1.tar.gz`, sha256: sha, progress: false })).rejects.toThrow(
      /HTTP 404.*put aclImdb_v1\.tar\.gz .* at .*aclImdb_v1\.tar\.gz.*CELLSTATE_IMDB/,
    );
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  test('offline with nothing cached: the error names the cache path and CELLSTATE_IMDB', async () => {
    const cacheDir = tmp();
    // A port nothing listens on: take one, then close it.
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const err = await loadImdb({ cacheDir, url: `http://127.0.0.1:${port}/aclImdb_v1.tar.gz`, progress: false }).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toContain(join(cacheDir, 'aclImdb_v1.tar.gz'));
    expect(err.message).toMatch(/offline\?.*CELLSTATE_IMDB/);
    await expect(loadImdb({ cacheDir, download: false })).rejects.toThrow(/not cached.*put aclImdb_v1\.tar\.gz/);
  });

  test('a bad sha256 option is a ValueError', async () => {
    await expect(loadImdb({ cacheDir: tmp(), sha256: 'abc' })).rejects.toThrow(ValueError);
  });
});

describe('paths', () => {
  test('an explicit path, a file: URL, an http URL and CELLSTATE_IMDB read the same data', async () => {
    const dir = tmp();
    const path = join(dir, 'imdb.tar.gz');
    writeFileSync(path, tarball);
    const ref = await loadImdb({ source: tarball });
    expect(await loadImdb({ source: path })).toEqual(ref);
    expect(await loadImdb({ source: `file://${path}` })).toEqual(ref);
    expect(await loadImdb({ source: `${base}/aclImdb_v1.tar.gz` })).toEqual(ref);
    vi.stubEnv('CELLSTATE_IMDB', path);
    expect(await loadImdb({ cacheDir: join(dir, 'nothing-here'), download: false })).toEqual(ref);
  });

  test('an npz path picks up imdb_word_index.json beside it', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'imdb.npz'), kerasNpz({ x: [[1, 2]], y: [1] }, { x: [[2]], y: [0] }));
    const d0 = await loadImdb({ source: join(dir, 'imdb.npz'), seed: null });
    expect(d0.wordIndex).toBeNull();
    writeFileSync(join(dir, 'imdb_word_index.json'), JSON.stringify({ fine: 1, film: 2 }));
    const d = await loadImdb({ source: join(dir, 'imdb.npz'), seed: null });
    expect(d.wordIndex!.decode(d.train.ids)).toBe('fine film');
  });

  test('unreadable paths are DataErrors naming the path', async () => {
    const dir = tmp();
    await expect(loadImdb({ source: join(dir, 'nope.tar.gz') })).rejects.toThrow(/cannot read .*nope\.tar\.gz/);
    mkdirSync(join(dir, 'adir'));
    await expect(loadImdb({ source: join(dir, 'adir') })).rejects.toThrow(/not a regular file/);
    vi.stubEnv('CELLSTATE_IMDB', join(dir, 'gone.npz'));
    await expect(loadImdb({})).rejects.toThrow(DataError);
  });
});

/**
 * Replacing files atomically in Node, the one way every writer here does it: write under a temporary
 * name in the same directory (so the rename cannot cross file systems), then rename over the target; on
 * any failure the temporary file is removed. A reader sees the old file or the whole new one, never a part.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DataError } from '../errors';

/**
 * A hidden name beside `path`, unique to this process and call: `.<name>.<pid>.<12 hex>.tmp`.
 * @throws never.
 */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Replaces each file with its data: all are written under temporary names first, then renamed in the
 * order given (POSIX has no rename of several files at once, so put the one that names the others last).
 * @param what the start of the error message, e.g. `could not save the model to "dir"`.
 * @throws {DataError} `<what>: failed to <write or rename ...>: <system message>`, with the system error as
 *   `cause`; no temporary file is left.
 */
export async function replaceFiles(files: readonly { path: string; data: string | Uint8Array }[], what: string): Promise<void> {
  const temps = files.map((f) => tempPathFor(f.path));
  let step = '';
  try {
    for (let i = 0; i < files.length; i++) {
      step = `write "${temps[i]}"`;
      await fsp.writeFile(temps[i], files[i].data, { flag: 'wx' });
    }
    for (let i = 0; i < files.length; i++) {
      step = `rename "${temps[i]}" to "${files[i].path}"`;
      await fsp.rename(temps[i], files[i].path);
    }
  } catch (e) {
    await Promise.all(temps.map((t) => fsp.rm(t, { force: true }).catch(() => undefined)));
    throw new DataError(`${what}: failed to ${step}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Streams a file into place: `write` fills a fresh temporary file, which is then synced and renamed over
 * `path`. Whatever `write` throws (a network error, a checksum mismatch) is rethrown as is, after the
 * temporary file is removed.
 * @throws what `write`, opening, syncing or renaming throws.
 */
export async function writeStreamAtomic(path: string, write: (file: fsp.FileHandle) => Promise<void>): Promise<void> {
  const tmp = tempPathFor(path);
  const fh = await fsp.open(tmp, 'wx');
  try {
    await write(fh);
    await fh.sync();
    await fh.close();
    await fsp.rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

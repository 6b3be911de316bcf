/**
 * Replacing files atomically in Node, the one way every writer here does it: write under a temporary
 * name in the same directory (so the rename cannot cross file systems), then rename over the target; on
 * any failure the temporary file is removed. A reader sees the old file or the whole new one, never a part.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
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
  for (const f of files) {
    await refuseNonRegular(f.path, what);
    await removeStaleTemps(f.path);
  }
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
  await refuseNonRegular(path, `cannot write "${path}"`);
  await removeStaleTemps(path);
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

/** What a file system entry is, for messages: "a directory", "a FIFO", "a character device", ... */
function kindOf(st: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Refuses to replace what is not a regular file: renaming over a device node or a FIFO would swap it for
 * a regular file (it did that to /dev/full). A missing target is fine; a link is judged by what it names;
 * a directory is left to the rename, which fails without harm.
 * @throws {DataError} `<what>: "<path>" is a FIFO (named pipe), not a regular file; refusing to replace it`.
 */
export async function refuseNonRegular(path: string, what: string): Promise<void> {
  let st;
  try {
    st = await fsp.stat(path);
  } catch {
    return; // missing (or unreadable: the write itself will say why)
  }
  // A directory cannot be renamed over (the rename fails and says so); a device, FIFO or socket can.
  if (!st.isFile() && !st.isDirectory())
    throw new DataError(`${what}: "${path}" is ${kindOf(st)}, not a regular file; refusing to replace it`);
}

/** The temporary names of {@link tempPathFor}: `.<name>.<pid>.<12 hex>.tmp`. */
const TEMP = /^\.(.+)\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/**
 * Removes temporary files of this scheme left beside `path` by a save that was interrupted (a killed
 * process): those whose process is gone. Temporary files of a live process (a save under way) are kept.
 * @throws never (a file that cannot be removed stays, and the next save tries again).
 */
export async function removeStaleTemps(path: string): Promise<void> {
  const dir = dirname(path);
  const name = basename(path);
  let entries: string[];
  try {
    entries = await fsp.readdir(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const m = TEMP.exec(e);
    if (!m || m[1] !== name) continue;
    const pid = Number(m[2]);
    if (pid !== process.pid && isAlive(pid)) continue;
    if (pid === process.pid) continue; // this process's own saves clean up after themselves
    await fsp.rm(join(dir, e), { force: true }).catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Reads a whole regular file of at most `maxBytes`: the file is opened without blocking (a FIFO would
 * otherwise wait for a writer forever), checked to be a regular file (a device or a link to /dev/zero is
 * refused rather than read without end), and read up to its size, never more.
 * @param what names the file in messages, e.g. `model file "m.safetensors"`.
 * @throws {DataError} when the file is missing, not a regular file, larger than `maxBytes` or unreadable.
 */
export async function readRegularFile(path: string, maxBytes: number, what: string): Promise<Uint8Array> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'is missing' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${(e as Error).message})`;
    throw new DataError(`${what} ${problem}`, { cause: e });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new DataError(`${what} is ${kindOf(st)}, not a regular file; refusing to read it`);
    if (st.size > maxBytes) {
      throw new DataError(`${what} has ${st.size} bytes, more than the ${maxBytes} this reader accepts for it`);
    }
    const out = new Uint8Array(st.size);
    let filled = 0;
    while (filled < out.length) {
      const { bytesRead } = await fh.read(out, filled, out.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === out.length ? out : out.subarray(0, filled);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`${what} cannot be read (${(e as Error).message})`, { cause: e });
  } finally {
    await fh.close().catch(() => undefined);
  }
}

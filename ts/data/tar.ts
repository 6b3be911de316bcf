/**
 * A streaming tar reader: fed chunks of the uncompressed archive, it hands over the entries a caller
 * wants and skips the bytes of the others without keeping them. ustar, GNU long names ('L') and pax
 * path records ('x') are understood; every header's checksum is verified.
 * Reference: POSIX.1-2017 pax, "ustar Interchange Format"; GNU tar manual, "Basic Tar Format".
 */

import { DataError } from '../errors';

const BLOCK = 512;

/** One regular file of the archive, with all its bytes. */
export interface TarEntry {
  name: string;
  data: Uint8Array;
}

const ascii = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

/**
 * Largest GNU long-name or pax header body kept (PATH_MAX is 4096; real pax headers are a few hundred
 * bytes). The root cause of a process abort: a 600 MB long name (half a megabyte gzipped) decoded to
 * one string made V8 end the process ("Cannot create a string longer than 0x1fffffe8 characters" is a
 * fatal error inside TextDecoder's latin1 path, which no catch sees).
 */
export const MAX_META_BYTES = 1 << 20;

/** Default largest regular entry kept whole (an IMDB review is a few KB). */
export const MAX_ENTRY_BYTES = 64 << 20;

/** Limits of a {@link TarReader}: the largest entry kept, and all kept entries together. */
export interface TarBudget {
  /** Largest wanted entry, in bytes (default 64 MiB). */
  maxEntryBytes?: number;
  /** All wanted entries together, in bytes (default 2 GiB). */
  maxTotalBytes?: number;
}

function field(h: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && h[end] !== 0) end++;
  return ascii.decode(h.subarray(off, end));
}

function octal(h: Uint8Array, off: number, len: number, at: number): number {
  if (h[off] & 0x80) {
    // GNU base-256: big-endian two's complement in the remaining bytes (sizes over 8 GiB).
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + h[i];
    return v;
  }
  const s = field(h, off, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new DataError(`corrupt tar header at byte ${at}: "${s}" is not an octal number`);
  return parseInt(s, 8);
}

function paxPath(data: Uint8Array): string | undefined {
  // Records are "<len> <key>=<value>\n".
  const text = utf8.decode(data);
  let path: string | undefined;
  let i = 0;
  while (i < text.length) {
    const space = text.indexOf(' ', i);
    const len = parseInt(text.slice(i, space), 10);
    if (space < 0 || !(len > 0)) break;
    const record = text.slice(space + 1, i + len - 1);
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    i += len;
  }
  return path;
}

/**
 * Push-style tar parser. `wants(name)` is asked once per regular file; `onEntry` gets the wanted ones.
 * Call `end()` after the last chunk: it throws when the archive stopped mid-entry or has no end marker.
 * @throws {DataError} from `push` and `end` on a corrupt or truncated archive.
 */
export class TarReader {
  private headerFill = 0;
  private readonly headerBuf = new Uint8Array(BLOCK);
  private body: Uint8Array | null = null; // bytes of a wanted (or metadata) entry being collected
  private bodyFill = 0;
  private remaining = 0; // bytes of the current entry still to come (kept or skipped)
  private padding = 0; // bytes after the entry up to the next block boundary
  private kind = 0; // 0 regular wanted/skipped, 1 GNU long name, 2 pax header
  private name = '';
  private nextName: string | undefined;
  private offset = 0; // archive position, for messages
  private ended = false;
  private zeroBlocks = 0;

  private kept = 0; // bytes of wanted entries so far, against the budget
  private readonly maxEntry: number;
  private readonly maxTotal: number;

  constructor(
    private readonly wants: (name: string) => boolean,
    private readonly onEntry: (entry: TarEntry) => void,
    budget: TarBudget = {},
  ) {
    this.maxEntry = budget.maxEntryBytes ?? MAX_ENTRY_BYTES;
    this.maxTotal = budget.maxTotalBytes ?? 2 ** 31;
  }

  /** Feeds the next chunk of the archive. @throws {DataError} on a corrupt header. */
  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.ended) return; // bytes after the end marker (block-size padding) are ignored
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        if (this.body) this.body.set(chunk.subarray(i, i + n), this.bodyFill);
        this.bodyFill += n;
        this.remaining -= n;
        i += n;
        this.offset += n;
        if (this.remaining === 0) this.finishEntry();
        continue;
      }
      if (this.padding > 0) {
        const n = Math.min(this.padding, chunk.length - i);
        this.padding -= n;
        i += n;
        this.offset += n;
        continue;
      }
      const n = Math.min(BLOCK - this.headerFill, chunk.length - i);
      this.headerBuf.set(chunk.subarray(i, i + n), this.headerFill);
      this.headerFill += n;
      i += n;
      this.offset += n;
      if (this.headerFill === BLOCK) {
        this.headerFill = 0;
        this.readHeader(this.headerBuf);
      }
    }
  }

  /** Declares the input finished. @throws {DataError} when the archive is truncated. */
  end(): void {
    if (this.ended || (this.zeroBlocks > 0 && this.headerFill === 0)) return;
    if (this.remaining > 0 || this.headerFill > 0) {
      throw new DataError(`tar archive is truncated: it ends inside an entry (at byte ${this.offset})`);
    }
    throw new DataError(`tar archive is truncated: no end-of-archive block after byte ${this.offset}`);
  }

  private readHeader(h: Uint8Array): void {
    const at = this.offset - BLOCK;
    let allZero = true;
    for (let k = 0; k < BLOCK; k++) {
      if (h[k] !== 0) {
        allZero = false;
        break;
      }
    }
    if (allZero) {
      // Two zero blocks end the archive; one is accepted at the very end of the input (see end()).
      if (++this.zeroBlocks === 2) this.ended = true;
      return;
    }
    if (this.zeroBlocks > 0) throw new DataError(`corrupt tar archive: a header follows a zero block at byte ${at}`);
    let sum = 0;
    for (let k = 0; k < BLOCK; k++) sum += k >= 148 && k < 156 ? 32 : h[k];
    const stored = octal(h, 148, 8, at);
    if (sum !== stored) {
      throw new DataError(`corrupt tar header at byte ${at}: checksum ${stored} stored, ${sum} computed`);
    }
    const size = octal(h, 124, 12, at);
    const type = String.fromCharCode(h[156] || 0x30);
    let name = field(h, 0, 100);
    if (field(h, 257, 6) === 'ustar') {
      const prefix = field(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (this.nextName !== undefined) {
      name = this.nextName;
      this.nextName = undefined;
    }
    this.name = name;
    this.remaining = size;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    this.body = null;
    this.bodyFill = 0;
    if (type === 'L') this.kind = 1;
    else if (type === 'x') this.kind = 2;
    else this.kind = 0;
    const regular = type === '0' || type === '7';
    if (!Number.isSafeInteger(size)) throw new DataError(`corrupt tar header at byte ${at}: entry size ${size} is not a byte count`);
    // The budget is checked against the header's size before a byte is allocated.
    if (this.kind !== 0 && size > MAX_META_BYTES) {
      throw new DataError(
        `corrupt tar archive: the ${type === 'L' ? 'GNU long name' : 'pax header'} at byte ${at} claims ${size} bytes (at most ${MAX_META_BYTES} are read)`,
      );
    }
    const wanted = this.kind === 0 && regular && this.wants(name);
    if (wanted && size > this.maxEntry) {
      throw new DataError(
        `tar entry ${name} (at byte ${at}) has ${size} bytes, more than the ${this.maxEntry} this reader keeps for one entry`,
      );
    }
    if (wanted && this.kept + size > this.maxTotal) {
      throw new DataError(`tar archive: the entries read would need more than ${this.maxTotal} bytes (at entry ${name}, byte ${at})`);
    }
    if (wanted) this.kept += size;
    if (this.kind !== 0 || wanted) this.body = new Uint8Array(size);
    if (size === 0) this.finishEntry();
  }

  private finishEntry(): void {
    const body = this.body;
    this.body = null;
    if (!body) return;
    if (this.kind === 1) this.nextName = field(body, 0, body.length);
    else if (this.kind === 2) this.nextName = paxPath(body) ?? this.nextName;
    else this.onEntry({ name: this.name, data: body });
  }
}

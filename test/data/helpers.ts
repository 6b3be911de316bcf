/**
 * Builders of small test files in the exact formats the loader reads: ustar tar, gzip, numpy .npy
 * (format 1.0), pickle protocol 2 as Python 2 writes numpy object arrays, and zip (np.savez stores).
 */

import { gzipSync, zipSync } from 'fflate';

const enc = new TextEncoder();

export interface TarInput {
  name: string;
  data?: string | Uint8Array;
  /** typeflag, '0' regular file (default), '5' directory. */
  type?: string;
}

function writeField(h: Uint8Array, off: number, len: number, s: string): void {
  const b = enc.encode(s);
  if (b.length > len) throw new Error(`tar field too long: ${s}`);
  h.set(b, off);
}

function octal(n: number, digits: number): string {
  return n.toString(8).padStart(digits, '0') + '\0';
}

/** A ustar archive of `entries`, with the two zero blocks at the end unless `end` is false. */
export function tar(entries: TarInput[], { end = true } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = typeof e.data === 'string' ? enc.encode(e.data) : (e.data ?? new Uint8Array(0));
    const h = new Uint8Array(512);
    let name = e.name;
    let prefix = '';
    if (enc.encode(name).length > 100) {
      const cut = name.lastIndexOf('/', name.length - 2);
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
    }
    writeField(h, 0, 100, name);
    writeField(h, 100, 8, octal(0o644, 7));
    writeField(h, 108, 8, octal(0, 7));
    writeField(h, 116, 8, octal(0, 7));
    writeField(h, 124, 12, octal(data.length, 11));
    writeField(h, 136, 12, octal(1306886400, 11)); // 2011-06-01, as the upstream entries
    h.fill(0x20, 148, 156);
    writeField(h, 156, 1, e.type ?? '0');
    writeField(h, 257, 6, 'ustar\0');
    writeField(h, 263, 2, '00');
    writeField(h, 345, 155, prefix);
    let sum = 0;
    for (const b of h) sum += b;
    writeField(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
    parts.push(h, data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  if (end) parts.push(new Uint8Array(1024));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** gzip of `bytes` (one member, as `tar czf` writes). */
export function gzip(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(gzipSync(bytes, { level: 6 }));
}

/** A review of the aclImdb layout. */
export interface Review {
  split: 'train' | 'test';
  label: 'pos' | 'neg';
  id: number;
  rating: number;
  text: string | Uint8Array;
}

/** An aclImdb-layout .tar.gz of `reviews`, in the given order, with the metadata files a real one has. */
export function imdbTarball(reviews: Review[], extra: TarInput[] = []): Uint8Array<ArrayBuffer> {
  return gzip(
    tar([
      { name: 'aclImdb/', type: '5' },
      { name: 'aclImdb/README', data: 'Large Movie Review Dataset v1.0\n' },
      { name: 'aclImdb/imdb.vocab', data: 'the\nand\n' },
      ...reviews.map((r) => ({ name: `aclImdb/${r.split}/${r.label}/${r.id}_${r.rating}.txt`, data: r.text })),
      { name: 'aclImdb/train/urls_pos.txt', data: 'http://www.imdb.com/title/tt0453418/usercomments\n' },
      ...extra,
    ]),
  );
}

/** A numpy .npy (format 1.0) of a 1-d array: header padded to a multiple of 64 bytes, as numpy does. */
export function npy(descr: string, n: number, body: Uint8Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${n},), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(enc.encode(header), 10);
  out.set(body, 10 + header.length);
  return out;
}

/** Little-endian int64 .npy of `values` (numpy's default integer array). */
export function npyInt64(values: number[]): Uint8Array {
  const body = new Uint8Array(values.length * 8);
  const dv = new DataView(body.buffer);
  values.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
  return npy('<i8', values.length, body);
}

/** Pickle protocol 2 writer with Python 2's opcode choices (memoised containers, APPENDS per 1000). */
class Pickler {
  readonly out: number[] = [0x80, 2];
  private memo = 0;
  op(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }
  put(): this {
    const k = this.memo++;
    if (k < 256) return this.op(0x71, k); // BINPUT
    return this.op(0x72, k & 0xff, (k >> 8) & 0xff, (k >> 16) & 0xff, k >>> 24); // LONG_BINPUT
  }
  int(v: number): this {
    if (v >= 0 && v < 256) return this.op(0x4b, v); // BININT1
    if (v >= 0 && v < 65536) return this.op(0x4d, v & 0xff, v >> 8); // BININT2
    return this.op(0x4a, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff); // BININT
  }
  str(s: string): this {
    return this.op(0x55, s.length, ...enc.encode(s)).put(); // SHORT_BINSTRING
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...enc.encode(`${module}\n${name}\n`)).put(); // GLOBAL
  }
  /** A list whose items are written by `item(i)`, as Python's pickle batches them. */
  list(n: number, item: (i: number) => void): this {
    this.op(0x5d).put(); // EMPTY_LIST
    for (let i = 0; i < n; i += 1000) {
      const m = Math.min(1000, n - i);
      if (m === 1) {
        item(i);
        this.op(0x61); // APPEND
      } else {
        this.op(0x28); // MARK
        for (let k = i; k < i + m; k++) item(k);
        this.op(0x65); // APPENDS
      }
    }
    return this;
  }
  intLists(lists: number[][]): this {
    return this.list(lists.length, (i) => this.list(lists[i].length, (k) => this.int(lists[i][k])));
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** A pickled numpy object array of lists of ints, as Python 2 numpy's np.save writes it (protocol 2). */
export function pickleObjectArray(lists: number[][]): Uint8Array {
  const p = new Pickler();
  p.global('numpy.core.multiarray', '_reconstruct');
  p.global('numpy', 'ndarray');
  p.int(0).op(0x85).put(); // (0,)
  p.str('b');
  p.op(0x87).put().op(0x52).put(); // TUPLE3, REDUCE
  p.op(0x28).int(1).int(lists.length).op(0x85).put(); // MARK 1 (n,)
  p.global('numpy', 'dtype');
  p.str('O8').int(0).int(1).op(0x87).put().op(0x52).put(); // dtype('O8', 0, 1)
  p.op(0x28).int(3).str('|').op(0x4e, 0x4e, 0x4e).int(-1).int(-1).int(63).op(0x74).put().op(0x62); // dtype state, BUILD
  p.op(0x89); // is_fortran False
  p.intLists(lists);
  p.op(0x74).put().op(0x62); // TUPLE (state), BUILD
  return Uint8Array.from([...p.bytes(), 0x2e]); // STOP
}

/** A pickled plain list of lists of ints (protocol 2). */
export function pickleLists(lists: number[][]): Uint8Array {
  return Uint8Array.from([...new Pickler().intLists(lists).bytes(), 0x2e]);
}

/** An .npz (zip, stored as np.savez does) of `arrays` named without `.npy`. */
export function npz(arrays: Record<string, Uint8Array>): Uint8Array<ArrayBuffer> {
  const files: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(arrays)) files[`${k}.npy`] = v;
  return new Uint8Array(zipSync(files, { level: 0 }));
}

/** A Keras-layout imdb.npz of rank lists and labels. */
export function kerasNpz(train: { x: number[][]; y: number[] }, test: { x: number[][]; y: number[] }): Uint8Array<ArrayBuffer> {
  return npz({
    x_train: npy('|O', train.x.length, pickleObjectArray(train.x)),
    y_train: npyInt64(train.y),
    x_test: npy('|O', test.x.length, pickleObjectArray(test.x)),
    y_test: npyInt64(test.y),
  });
}

/** Review i of a split as a plain array. */
export function review(split: { ids: Int32Array; offsets: Int32Array }, i: number): number[] {
  return Array.from(split.ids.subarray(split.offsets[i], split.offsets[i + 1]));
}

/** Every review of a split as plain arrays (small test data only). */
export function reviews(split: { ids: Int32Array; offsets: Int32Array }): number[][] {
  return Array.from({ length: split.offsets.length - 1 }, (_, i) => review(split, i));
}

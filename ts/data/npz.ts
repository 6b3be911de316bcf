/**
 * Reading Keras' `imdb.npz` without Python: a zip (fflate) of `.npy` files (numpy's format, versions 1–3)
 * whose object arrays are pickles. Only the pickle subset that numpy writes for an object array of lists
 * of ints is understood (protocols 2–5); every other opcode, and every global other than numpy's array,
 * dtype and scalar reconstructors and `_codecs.encode`, is refused. Nothing is executed: the whitelisted globals are recognised
 * by name and stand for inert records that the reader interprets.
 * References: numpy/lib/format.py (NEP 1), CPython Lib/pickletools.py (opcode table).
 */

import { unzipSync } from 'fflate';
import { DataError } from '../errors';

/** A 1-d numpy array as read: `data` (as float64, exact for integers below 2^53) or an object array's `values`. */
export type NpyArray = { kind: 'numeric'; data: Float64Array; shape: number[] } | { kind: 'object'; values: unknown[]; shape: number[] };

/**
 * Unzips an `.npz` and returns its members by name without the `.npy` suffix; only `names` are parsed.
 * @throws {DataError} on a corrupt zip, a missing member, or a member that is not a valid `.npy`.
 */
export function readNpz(bytes: Uint8Array, names: readonly string[]): Map<string, NpyArray> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter: (f) => {
        if (!names.includes(f.name.replace(/\.npy$/, ''))) return false;
        // The budget, from the zip's own size fields, before fflate allocates the member.
        if (f.originalSize > MAX_MEMBER_BYTES) {
          throw new DataError(`.npz member ${f.name} claims ${f.originalSize} bytes unpacked, more than the ${MAX_MEMBER_BYTES} read`);
        }
        return true;
      },
    });
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`not a valid .npz (zip): ${(e as Error).message}`, { cause: e });
  }
  const out = new Map<string, NpyArray>();
  for (const name of names) {
    const file = files[`${name}.npy`] ?? files[name];
    if (!file) {
      throw new DataError(`the .npz has no array "${name}" (it has: ${Object.keys(files).join(', ') || 'none of ' + names.join(', ')})`);
    }
    out.set(name, readNpy(file, `${name}.npy`));
  }
  return out;
}

const latin1 = new TextDecoder('latin1');

/** Largest .npz member unpacked (Keras' imdb.npz members are below 100 MB). */
export const MAX_MEMBER_BYTES = 1 << 30;
/** Largest .npy header read (numpy pads headers to 64 bytes; they are a few hundred). */
const MAX_HEADER_BYTES = 1 << 16;
/** Longest text line a pickle's GLOBAL may hold (a module or class name). */
const MAX_LINE_BYTES = 1 << 12;

/**
 * Parses one `.npy` file holding a 1-d array of integers/floats/bools or of pickled objects.
 * @throws {DataError} on a bad magic string, header, dtype, shape or pickle.
 */
export function readNpy(b: Uint8Array, what: string): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
  if (b.length < 10 || magic.some((m, i) => b[i] !== m)) throw new DataError(`${what} is not a .npy file (bad magic string)`);
  const major = b[6];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let hlen: number;
  let start: number;
  if (major === 1) {
    hlen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    // Found by scripts/fuzz (test/fuzz/corpus/npy): 11 bytes of a version-3 file read past the end.
    if (b.length < 12) throw new DataError(`${what} is truncated inside its header`);
    hlen = dv.getUint32(8, true);
    start = 12;
  } else throw new DataError(`${what}: unsupported .npy version ${major}.${b[7]}`);
  if (hlen > MAX_HEADER_BYTES) throw new DataError(`${what}: .npy header of ${hlen} bytes is longer than the ${MAX_HEADER_BYTES} read`);
  if (start + hlen > b.length) throw new DataError(`${what} is truncated inside its header`);
  const header = (major === 3 ? new TextDecoder() : latin1).decode(b.subarray(start, start + hlen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new DataError(`${what}: unreadable .npy header ${JSON.stringify(header.trim())}`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => Number(s.replace(/L$/, '')));
  if (shape.length !== 1 || !Number.isSafeInteger(shape[0]) || shape[0] < 0) {
    throw new DataError(`${what}: expected a 1-d array, got shape (${shapeText})`);
  }
  const n = shape[0];
  const body = b.subarray(start + hlen);
  if (descr === '|O') {
    const value = unpickle(body, what);
    const values = arrayValues(value, what);
    if (values.length !== n) throw new DataError(`${what}: header says ${n} objects, the pickle holds ${values.length}`);
    return { kind: 'object', values, shape };
  }
  const m = /^([<>|=])([iufb])(\d+)$/.exec(descr);
  if (!m) throw new DataError(`${what}: unsupported dtype '${descr}'`);
  const little = m[1] !== '>';
  const type = m[2];
  const size = Number(m[3]);
  if (body.length < n * size) throw new DataError(`${what} is truncated: ${n} × ${size} bytes expected, ${body.length} present`);
  const bd = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const data = new Float64Array(n);
  const read = numericReader(type, size, little, bd, what, descr);
  for (let i = 0; i < n; i++) data[i] = read(i * size);
  return { kind: 'numeric', data, shape };
}

function numericReader(type: string, size: number, little: boolean, d: DataView, what: string, descr: string): (o: number) => number {
  const key = `${type}${size}`;
  switch (key) {
    case 'b1':
    case 'u1':
      return (o) => d.getUint8(o);
    case 'i1':
      return (o) => d.getInt8(o);
    case 'i2':
      return (o) => d.getInt16(o, little);
    case 'u2':
      return (o) => d.getUint16(o, little);
    case 'i4':
      return (o) => d.getInt32(o, little);
    case 'u4':
      return (o) => d.getUint32(o, little);
    case 'i8':
      return (o) => Number(d.getBigInt64(o, little));
    case 'u8':
      return (o) => Number(d.getBigUint64(o, little));
    case 'f4':
      return (o) => d.getFloat32(o, little);
    case 'f8':
      return (o) => d.getFloat64(o, little);
    default:
      throw new DataError(`${what}: unsupported dtype '${descr}'`);
  }
}

// ---- pickle ------------------------------------------------------------------------------------------

/** A whitelisted global, by its dotted name; never called, only interpreted. */
class Global {
  constructor(readonly name: string) {}
}
/** The result of REDUCE on a whitelisted global: the callable's name and its arguments, plus BUILD state. */
class Reduced {
  state: unknown = undefined;
  constructor(
    readonly fn: string,
    readonly args: unknown[],
  ) {}
}
const ALLOWED_GLOBALS = new Set([
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
  'numpy.ndarray',
  'numpy.dtype',
  'numpy.core.multiarray.scalar',
  'numpy._core.multiarray.scalar',
  // Python 3's protocol-2 spelling of a bytes literal: _codecs.encode('b', 'latin1'); recorded, not run.
  '_codecs.encode',
]);

/** Opcode names for error messages (CPython's pickletools); only those below are executed. */
const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK',
  0x2e: 'STOP',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x46: 'FLOAT',
  0x49: 'INT',
  0x4a: 'BININT',
  0x4b: 'BININT1',
  0x4c: 'LONG',
  0x4d: 'BININT2',
  0x4e: 'NONE',
  0x50: 'PERSID',
  0x51: 'BINPERSID',
  0x52: 'REDUCE',
  0x53: 'STRING',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE',
  0x58: 'BINUNICODE',
  0x61: 'APPEND',
  0x62: 'BUILD',
  0x63: 'GLOBAL',
  0x64: 'DICT',
  0x7d: 'EMPTY_DICT',
  0x65: 'APPENDS',
  0x67: 'GET',
  0x68: 'BINGET',
  0x69: 'INST',
  0x6a: 'LONG_BINGET',
  0x6c: 'LIST',
  0x5d: 'EMPTY_LIST',
  0x6f: 'OBJ',
  0x70: 'PUT',
  0x71: 'BINPUT',
  0x72: 'LONG_BINPUT',
  0x73: 'SETITEM',
  0x74: 'TUPLE',
  0x29: 'EMPTY_TUPLE',
  0x75: 'SETITEMS',
  0x47: 'BINFLOAT',
  0x80: 'PROTO',
  0x81: 'NEWOBJ',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x88: 'NEWTRUE',
  0x89: 'NEWFALSE',
  0x8a: 'LONG1',
  0x8b: 'LONG4',
  0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE',
  0x95: 'FRAME',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

/**
 * Interprets a pickle made of lists, tuples, ints, strings, None/bools and numpy's array reconstruction.
 * @throws {DataError} on any other opcode, a non-whitelisted global, or a malformed/truncated pickle.
 */
export function unpickle(b: Uint8Array, what = 'pickle'): unknown {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  const need = (n: number) => {
    if (p + n > b.length) throw new DataError(`${what}: pickle is truncated at byte ${p}`);
  };
  const u8 = () => (need(1), b[p++]);
  const pop = () => {
    if (stack.length === 0) throw new DataError(`${what}: malformed pickle (stack underflow at byte ${p})`);
    return stack.pop();
  };
  const popMark = () => {
    const items = stack;
    const prev = marks.pop();
    if (!prev) throw new DataError(`${what}: malformed pickle (no MARK before byte ${p})`);
    stack = prev;
    return items;
  };
  const top = () => {
    if (stack.length === 0) throw new DataError(`${what}: malformed pickle (empty stack at byte ${p})`);
    return stack[stack.length - 1];
  };
  const bytesOf = (n: number) => {
    need(n);
    const s = b.subarray(p, p + n);
    p += n;
    return s;
  };
  const line = () => {
    const end = b.indexOf(0x0a, p);
    if (end < 0) throw new DataError(`${what}: pickle is truncated at byte ${p}`);
    if (end - p > MAX_LINE_BYTES) throw new DataError(`${what}: pickle text line at byte ${p} is longer than ${MAX_LINE_BYTES} bytes`);
    const s = latin1.decode(b.subarray(p, end));
    p = end + 1;
    return s;
  };
  const global = (module: string, name: string) => {
    const full = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(full)) {
      throw new DataError(`${what}: pickle refers to ${full}, which is not one of numpy's array reconstructors; refusing it`);
    }
    return new Global(full);
  };
  for (;;) {
    const at = p;
    const op = u8();
    // One case per pickle opcode: alike in shape by nature (read an operand, push).
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw new DataError(`${what}: pickle protocol ${b[p - 1]} is not supported`);
        break;
      case 0x95: // FRAME: an 8-byte length, then the frame's opcodes inline
        bytesOf(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) throw new DataError(`${what}: malformed pickle (stack holds ${stack.length} items at STOP)`);
        return stack[0];
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list)) throw new DataError(`${what}: malformed pickle (APPEND to a non-list at byte ${at})`);
        list.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) throw new DataError(`${what}: malformed pickle (APPENDS to a non-list at byte ${at})`);
        for (const v of items) list.push(v);
        break;
      }
      case 0x6c: // LIST
      case 0x74: {
        // TUPLE (popMark replaces `stack`, so it must run before `stack.push` is looked up)
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x85:
        stack.push([pop()]);
        break;
      case 0x86: {
        const y = pop();
        stack.push([pop(), y]);
        break;
      }
      case 0x87: {
        const z = pop();
        const y = pop();
        stack.push([pop(), y, z]);
        break;
      }
      case 0x4a: // BININT
        need(4);
        stack.push(dv.getInt32(p, true));
        p += 4;
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        need(2);
        stack.push(dv.getUint16(p, true));
        p += 2;
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement of n bytes
        const n = u8();
        const s = bytesOf(n);
        if (n > 6) throw new DataError(`${what}: pickle integer of ${n} bytes is too large (byte ${at})`);
        let v = 0;
        for (let k = n - 1; k >= 0; k--) v = v * 256 + s[k];
        if (n > 0 && s[n - 1] & 0x80) v -= 2 ** (8 * n);
        stack.push(v);
        break;
      }
      case 0x4e:
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x55: // SHORT_BINSTRING (Python 2 str)
      case 0x43: // SHORT_BINBYTES
        stack.push(bytesOf(u8()));
        break;
      case 0x54: // BINSTRING
      case 0x42: // BINBYTES
        need(4);
        p += 4;
        stack.push(bytesOf(dv.getUint32(p - 4, true)));
        break;
      case 0x58: // BINUNICODE
      case 0x8c: {
        // SHORT_BINUNICODE
        let n: number;
        if (op === 0x58) {
          need(4);
          n = dv.getUint32(p, true);
          p += 4;
        } else n = u8();
        try {
          stack.push(utf8.decode(bytesOf(n)));
        } catch (e) {
          if (e instanceof DataError) throw e;
          throw new DataError(`${what}: pickle string at byte ${at} is not UTF-8`, { cause: e });
        }
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        need(4);
        memo.set(dv.getUint32(p, true), top());
        p += 4;
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        let k: number;
        if (op === 0x68) k = u8();
        else {
          need(4);
          k = dv.getUint32(p, true);
          p += 4;
        }
        if (!memo.has(k)) throw new DataError(`${what}: malformed pickle (memo ${k} unset at byte ${at})`);
        stack.push(memo.get(k));
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new DataError(`${what}: malformed STACK_GLOBAL at byte ${at}`);
        stack.push(global(module, name));
        break;
      }
      case 0x52: {
        // REDUCE: never calls anything; records the call for interpretation.
        const args = pop();
        const fn = pop();
        if (!(fn instanceof Global) || !Array.isArray(args)) throw new DataError(`${what}: malformed REDUCE at byte ${at}`);
        stack.push(new Reduced(fn.name, args));
        break;
      }
      case 0x62: {
        // BUILD: attach the state to a reduced record.
        const state = pop();
        const obj = top();
        if (!(obj instanceof Reduced)) throw new DataError(`${what}: BUILD on something other than a numpy object at byte ${at}`);
        obj.state = state;
        break;
      }
      default: {
        const name = OPCODE_NAMES[op] ?? 'unknown';
        throw new DataError(
          `${what}: unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} (${name}) at byte ${at}; ` +
            'only lists of ints and numpy object arrays are read',
        );
      }
    }
  }
}

/** The elements of an unpickled 1-d object array (numpy's `_reconstruct` + BUILD state) or a plain list. */
function arrayValues(v: unknown, what: string): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Reduced && v.fn.endsWith('multiarray._reconstruct')) {
    // state = (version, shape, dtype, is_fortran, data): data is the list of objects for dtype object.
    const st = v.state;
    if (Array.isArray(st) && st.length === 5 && Array.isArray(st[4])) return st[4];
    throw new DataError(`${what}: the pickled array has no list of objects as its data`);
  }
  throw new DataError(`${what}: the pickle holds neither a numpy array nor a list`);
}

/**
 * An element of an object array as a list of integers (Python ints or numpy integer scalars).
 * @throws {DataError} when `v` is not a list of integers.
 */
export function intList(v: unknown, what: string, i: number): ArrayLike<number> {
  if (!Array.isArray(v)) throw new DataError(`${what}: object ${i} is not a list`);
  for (let k = 0; k < v.length; k++) {
    const x = v[k];
    if (typeof x === 'number' && Number.isInteger(x)) continue;
    const s = scalarValue(x);
    if (s === undefined) throw new DataError(`${what}: object ${i} holds a non-integer at position ${k}`);
    v[k] = s;
  }
  return v as number[];
}

/** numpy.core.multiarray.scalar(dtype('<i8'), b'...') as a number, or undefined. */
function scalarValue(x: unknown): number | undefined {
  if (!(x instanceof Reduced) || !x.fn.endsWith('multiarray.scalar')) return undefined;
  const [dtype, raw] = x.args;
  if (!(dtype instanceof Reduced) || !(raw instanceof Uint8Array)) return undefined;
  const code = dtype.args[0];
  const name = code instanceof Uint8Array ? latin1.decode(code) : String(code);
  const m = /^([iu])(\d)$/.exec(name);
  if (!m || Number(m[2]) !== raw.length) return undefined;
  const state = dtype.state;
  const little = !(Array.isArray(state) && (state[1] === '>' || (state[1] instanceof Uint8Array && state[1][0] === 0x3e)));
  const d = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return numericReader(m[1], raw.length, little, d, 'scalar', name)(0);
}

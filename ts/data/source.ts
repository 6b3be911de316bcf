/**
 * Byte sources for the loaders, browser-safe: everything becomes a `ReadableStream<Uint8Array>`.
 * A `.tar.gz` is gunzipped as a stream (DecompressionStream: browsers, Node ≥ 18), never held whole.
 */

import { DataError, ValueError } from '../errors';
import type { BlobInstance, ReadableStreamInstance, ResponseInstance, URLInstance } from '../globals';

/** What the browser-safe loader reads: a URL (fetched), bytes, a Blob/File, a stream or a fetch Response. */
// The globals through ./globals.ts, so the declarations compile without the DOM lib.
export type ByteSource = string | URLInstance | ArrayBuffer | ArrayBufferView | BlobInstance | ReadableStreamInstance | ResponseInstance;

/** The kind of file, from its first bytes: gzip (1f 8b) or zip (50 4b, "PK"). */
export type SourceKind = 'tar.gz' | 'tar' | 'npz';

function isResponse(x: unknown): x is Response {
  return typeof Response !== 'undefined' && x instanceof Response;
}

/**
 * Opens `source` as a byte stream.
 * @throws {DataError} when a URL cannot be fetched or answers with an error status.
 * @throws {ValueError} when `source` is none of the accepted types.
 */
export async function openSource(source: ByteSource, what = 'source'): Promise<ReadableStream<Uint8Array>> {
  if (typeof source === 'string' || source instanceof URL) {
    let res: Response;
    try {
      res = await fetch(source);
    } catch (e) {
      throw new DataError(`could not fetch ${what} ${String(source)}: ${(e as Error).message}`, { cause: e });
    }
    return responseBody(res, String(source));
  }
  if (isResponse(source)) return responseBody(source, source.url || what);
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) return source;
  if (typeof Blob !== 'undefined' && source instanceof Blob) return source.stream() as ReadableStream<Uint8Array>;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const bytes =
      source instanceof ArrayBuffer ? new Uint8Array(source) : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    return new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes);
        c.close();
      },
    });
  }
  throw new ValueError(
    `${what} must be a URL, ArrayBuffer, typed array, Blob, ReadableStream or Response, got ${Object.prototype.toString.call(source)}`,
  );
}

function responseBody(res: Response, url: string): ReadableStream<Uint8Array> {
  if (!res.ok) throw new DataError(`fetching ${url} failed: HTTP ${res.status} ${res.statusText}`);
  if (!res.body) throw new DataError(`fetching ${url} gave no body`);
  return res.body as ReadableStream<Uint8Array>;
}

/**
 * Reads the first bytes of `stream` to tell a gzip from a zip, and gives back a stream of all the bytes.
 * @throws {DataError} when the stream is empty or starts with neither magic number.
 */
export async function sniff(
  stream: ReadableStream<Uint8Array>,
  what = 'source',
): Promise<{ kind: SourceKind; stream: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader();
  const head: Uint8Array[] = [];
  let have = 0;
  // 262 bytes reach a tar header's `ustar` magic (a server that sent the .tar.gz with Content-Encoding: gzip, as
  // Vite's dev server does, hands fetch the tar itself).
  while (have < 262) {
    const { done, value } = await readChunk(reader, what);
    if (done) break;
    head.push(value);
    have += value.length;
  }
  const first = concat(head, have);
  const rest = new ReadableStream<Uint8Array>({
    start(c) {
      if (first.length) c.enqueue(first);
    },
    async pull(c) {
      const { done, value } = await reader.read();
      if (done) c.close();
      else c.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  if (first[0] === 0x1f && first[1] === 0x8b) return { kind: 'tar.gz', stream: rest };
  if (first[0] === 0x50 && first[1] === 0x4b) return { kind: 'npz', stream: rest };
  if (String.fromCharCode(...first.subarray(257, 262)) === 'ustar') return { kind: 'tar', stream: rest };
  await reader.cancel();
  const hex = Array.from(first.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new DataError(
    `${what} is neither a .tar.gz (starts 1f 8b) nor an .npz (starts 50 4b): ${have ? `first bytes ${hex}` : 'it is empty'}`,
  );
}

/** `reader.read()`, with a failure of the underlying source turned into a DataError naming it. */
async function readChunk(reader: ReadableStreamDefaultReader<Uint8Array>, what: string): Promise<ReadableStreamReadResult<Uint8Array>> {
  try {
    return await reader.read();
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`reading ${what} failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

/**
 * Joins chunks into one array of `total` bytes.
 * @throws never.
 */
export function concat(chunks: Uint8Array[], total = chunks.reduce((n, c) => n + c.length, 0)): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Reads a whole stream into memory. @throws {DataError} when the source fails. */
export async function readAll(stream: ReadableStream<Uint8Array>, what = 'source'): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await readChunk(reader, what);
    if (done) break;
    chunks.push(value);
  }
  return concat(chunks);
}

/**
 * Gunzips `stream` chunk by chunk, calling `onChunk` for each piece of output.
 * @throws {DataError} on corrupt or truncated gzip data (the member's CRC and length are checked).
 */
export async function gunzipEach(stream: ReadableStream<Uint8Array>, onChunk: (chunk: Uint8Array) => void, what = 'source'): Promise<void> {
  if (typeof DecompressionStream === 'undefined') {
    throw new DataError('this JavaScript runtime has no DecompressionStream: cannot gunzip (Node ≥ 18 and current browsers have it)');
  }
  // Errors of the source itself (a dropped connection, a file read error) are told apart from bad gzip.
  let sourceError: unknown = null;
  const src = stream.getReader();
  const tagged = new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const { done, value } = await src.read();
        if (done) c.close();
        else c.enqueue(value);
      } catch (e) {
        sourceError = e;
        c.error(e);
      }
    },
    cancel(reason) {
      return src.cancel(reason);
    },
  });
  const reader = tagged.pipeThrough(new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>).getReader();
  for (;;) {
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      r = await reader.read();
    } catch (e) {
      if (e instanceof DataError) throw e;
      if (sourceError !== null) {
        throw new DataError(`reading ${what} failed: ${(sourceError as Error).message ?? String(sourceError)}`, { cause: sourceError });
      }
      throw new DataError(`${what} is not valid gzip data (corrupt or truncated): ${(e as Error).message}`, { cause: e });
    }
    if (r.done) return;
    try {
      onChunk(r.value);
    } catch (e) {
      await reader.cancel().catch(() => {});
      throw e;
    }
  }
}

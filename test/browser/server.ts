/**
 * A tiny static file server for the browser test: maps URL prefixes to folders on 127.0.0.1 (random port),
 * serves `.wasm` as `application/wasm` (so `WebAssembly.instantiateStreaming` takes the fast path and the
 * glue's MIME warning stays silent) and records every request path so tests can tell what the page fetched.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';

const mimeTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.gz': 'application/gzip',
};

export interface StaticServer {
  /** Origin, e.g. `http://127.0.0.1:41234`. */
  origin: string;
  /** Every request path served or refused, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves `mounts` (URL prefix ending in `/` → folder). Paths that leave their folder, and unknown ones, get 404.
 * Extra routes in `raw` answer one exact path with a file and a content type of the caller's choosing.
 * `isolated` adds the COOP/COEP headers that make the pages cross-origin isolated.
 */
export async function startStaticServer(
  mounts: Record<string, string>,
  raw: Record<string, { file: string; type: string }> = {},
  { isolated = false }: { isolated?: boolean } = {},
): Promise<StaticServer> {
  // Cross-origin isolation (SharedArrayBuffer, so the wasm threads build) on every response when asked.
  const isolation: Record<string, string> = isolated
    ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }
    : {};
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    let file: string | null = null;
    let type: string | undefined;
    if (raw[path]) {
      file = raw[path].file;
      type = raw[path].type;
    } else {
      for (const [prefix, dir] of Object.entries(mounts)) {
        if (!path.startsWith(prefix)) continue;
        const root = resolve(dir);
        const candidate = resolve(join(root, path.slice(prefix.length)));
        if (candidate.startsWith(root + sep)) file = candidate;
        break;
      }
      type = file ? mimeTypes[extname(file)] : undefined;
    }
    let size = -1;
    try {
      if (file && statSync(file).isFile()) size = statSync(file).size;
    } catch {
      size = -1;
    }
    if (!file || size < 0 || !type) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    res.writeHead(200, { 'content-type': type, 'content-length': size, 'cache-control': 'no-store', ...isolation });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((ok, fail) => {
        server.closeAllConnections();
        server.close((e) => (e ? fail(e) : ok()));
      }),
  };
}

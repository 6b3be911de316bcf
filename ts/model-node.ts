/** Model directories and files in Node (imported only by the Node entry). */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DataError } from './errors';
import { encodeModelBundle } from './io/bundle';
import { readModelDir, writeModelDir } from './io/node';
import { modelFromArrayBuffer, modelFromParts } from './model';
import { registerModelFiles } from './model-io';

function pathOf(t: string | { dir: string } | { file: string }): { path: string; file: boolean } {
  if (typeof t === 'string') return { path: t, file: t.endsWith('.safetensors') };
  if ('file' in t) return { path: t.file, file: true };
  return { path: t.dir, file: false };
}

/** Writes beside the target and renames, so a failure never leaves a partial model file. */
async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new DataError(`cannot write model file ${path}: ${(e as Error).message}`, { cause: e });
  }
}

registerModelFiles({
  async save(model, target, metadata) {
    const { path, file } = pathOf(target);
    if (file) await writeFileAtomic(path, encodeModelBundle(model.toParts(metadata)));
    else await writeModelDir(path, model.toParts(metadata));
  },
  async load(source, options) {
    const { path, file } = pathOf(source);
    let isFile = file;
    if (!file) {
      const s = await stat(path).catch((e: unknown) => {
        throw new DataError(`cannot read model at ${path}: ${(e as Error).message}; expected a directory with config.json and model.safetensors, or a .safetensors file`, { cause: e });
      });
      isFile = s.isFile();
    }
    if (isFile) {
      const bytes = await readFile(path).catch((e: unknown) => {
        throw new DataError(`cannot read model file ${path}: ${(e as Error).message}`, { cause: e });
      });
      return modelFromArrayBuffer(bytes, options);
    }
    return modelFromParts(await readModelDir(path), options);
  },
});

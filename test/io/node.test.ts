import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { DataError, ShapeError, ValueError } from '../../ts/errors';
import { encodeModelBundle } from '../../ts/io/bundle';
import { CONFIG_FILE, WEIGHTS_FILE, readModelDir, writeModelDir } from '../../ts/io/node';
import { decodeSafetensors } from '../../ts/io/safetensors';
import { Tensor } from '../../ts/tensor';

const root = mkdtempSync(join(tmpdir(), 'cellstate-io-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `case${n++}`);

const config = { kind: 'lstm', inputSize: 3, hiddenSize: 2, numLayers: 1 };
const tensors = {
  'lstm.weight_ih_l0': new Tensor(
    Float32Array.from({ length: 24 }, (_, i) => i / 8),
    [8, 3],
  ),
  'lstm.bias_ih_l0': new Tensor(new Float32Array(8), [8]),
};
const metadata = { 'optimizer.adam.step': '5' };

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('writeModelDir / readModelDir', () => {
  test('round trip into a directory created recursively; nothing else is left in it', async () => {
    const dir = join(fresh(), 'a', 'b');
    await writeModelDir(dir, { config, tensors, metadata });
    expect(readdirSync(dir).sort()).toEqual([CONFIG_FILE, WEIGHTS_FILE]);
    expect(readFileSync(join(dir, CONFIG_FILE), 'utf8')).toBe(`${JSON.stringify(config, null, 2)}\n`);
    // The weights file is plain safetensors without the config.
    expect(decodeSafetensors(readFileSync(join(dir, WEIGHTS_FILE))).metadata).toEqual(metadata);
    const out = await readModelDir(dir);
    expect(out).toEqual({ config, tensors, metadata });
  });

  test('replaces an existing model', async () => {
    const dir = fresh();
    await writeModelDir(dir, { config, tensors, metadata });
    await writeModelDir(dir, { config: { kind: 'other' }, tensors: { w: new Tensor(Float32Array.from([1]), [1]) } });
    expect(await readModelDir(dir)).toEqual({
      config: { kind: 'other' },
      tensors: { w: new Tensor(Float32Array.from([1]), [1]) },
      metadata: {},
    });
    expect(readdirSync(dir).sort()).toEqual([CONFIG_FILE, WEIGHTS_FILE]);
  });

  test('bad input throws before anything is written', async () => {
    const dir = fresh();
    await expect(writeModelDir(dir, { config: { lr: NaN }, tensors })).rejects.toThrow(ValueError);
    await expect(writeModelDir(dir, { config, tensors: { w: { data: new Float32Array(2), shape: [3] } } })).rejects.toThrow(ShapeError);
    await expect(writeModelDir(dir, { config, tensors, metadata: { 'cellstate.config': '{}' } })).rejects.toThrow(/reserved/);
    expect(existsSync(dir)).toBe(false);
  });

  test('a failed rename is a DataError naming the path, and leaves no temporary file', async () => {
    const dir = fresh();
    mkdirSync(join(dir, CONFIG_FILE), { recursive: true }); // a directory where config.json should go
    writeFileSync(join(dir, CONFIG_FILE, 'keep'), 'x');
    const e = await rejection(writeModelDir(dir, { config, tensors }));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/could not save the model to .*failed to rename ".*\.config\.json\..*\.tmp" to ".*config\.json"/);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('a directory path that is a file is a DataError', async () => {
    const file = join(fresh());
    writeFileSync(file, 'not a dir');
    const e = await rejection(writeModelDir(join(file, 'sub'), { config, tensors }));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/could not create the model directory/);
  });

  test('reading: every missing or corrupt piece is a DataError saying which path and what was expected', async () => {
    const dir = fresh();
    const expectRead = async (d: string, message: RegExp) => {
      const e = await rejection(readModelDir(d));
      expect(e).toBeInstanceOf(DataError);
      expect(e.message).toMatch(message);
    };
    await expectRead(dir, /case\d+" does not exist; expected a model directory with config.json and model.safetensors/);
    writeFileSync(join(root, 'plain-file'), '');
    await expectRead(join(root, 'plain-file'), /plain-file" is not a directory/);
    mkdirSync(dir);
    await expectRead(dir, /config\.json" is missing; expected the model config \(JSON\)/);
    writeFileSync(join(dir, CONFIG_FILE), '{"kind": ');
    await expectRead(dir, /config\.json" is not valid JSON/);
    writeFileSync(join(dir, CONFIG_FILE), '[1, 2]');
    await expectRead(dir, /config\.json" must be a JSON object, got an array/);
    writeFileSync(join(dir, CONFIG_FILE), '{"kind": "lstm"}');
    await expectRead(dir, /model\.safetensors" is missing; expected the model weights \(safetensors\)/);
    writeFileSync(join(dir, WEIGHTS_FILE), new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0x7b]));
    await expectRead(dir, /model\.safetensors": safetensors: the header is not valid JSON/);
    rmSync(join(dir, WEIGHTS_FILE));
    mkdirSync(join(dir, WEIGHTS_FILE));
    await expectRead(dir, /model\.safetensors" is a directory/);
  });

  test('reads weights written by safetensors.numpy, and a bundle copied in as model.safetensors', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, CONFIG_FILE), '{"kind": "lstm"}');
    const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'numpy-mixed.safetensors');
    writeFileSync(join(dir, WEIGHTS_FILE), readFileSync(fixture));
    const a = await readModelDir(dir);
    expect(a.metadata).toEqual({ step: '12' });
    expect([...a.tensors['fc.bias'].data]).toEqual([1.5, -2.25, Infinity]);
    // config.json is the config; the bundle's own copy is dropped from the metadata.
    writeFileSync(join(dir, WEIGHTS_FILE), encodeModelBundle({ config: { kind: 'ignored' }, tensors, metadata }));
    expect(await readModelDir(dir)).toEqual({ config: { kind: 'lstm' }, tensors, metadata });
  });
});

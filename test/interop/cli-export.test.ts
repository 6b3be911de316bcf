/** `cellstate export --onnx` as a user runs it (node dist/cli.js; needs `bash scripts/build`). */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers';
import { interopFixtures, maxAbsDiff, runOnnx } from './helpers';

const cli = join(repoRoot, 'dist/cli.js');

describe('cellstate export', () => {
  it('writes a saved model as ONNX that reproduces torch’s outputs for its weights', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cellstate-export-')), 'model.onnx');
    const model = join(interopFixtures, 'cellstate-trained');
    const text = execFileSync(process.execPath, [cli, 'export', '--model', model, '--onnx', out, '--lengths'], { encoding: 'utf8' });
    expect(text).toMatch(/^wrote .*model\.onnx \(.* bytes, ONNX opset 17\)/);
    const ref = JSON.parse(readFileSync(join(model, 'torch-output.json'), 'utf8'));
    const got = await runOnnx(new Uint8Array(readFileSync(out)), {
      tokens: { data: Int32Array.from(ref.x.data), shape: ref.x.shape },
      lengths: { data: Int32Array.from(ref.lengths), shape: [ref.lengths.length] },
    });
    expect(maxAbsDiff(got.output.data, ref.output.data)).toBeLessThanOrEqual(1e-5);
  });

  it('a missing --onnx is a usage error (status 2); a missing model directory a file error (status 1)', () => {
    const usage = spawnSync(process.execPath, [cli, 'export', '--model', 'x'], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/^error: export needs a target format: --onnx FILE/);
    const missing = spawnSync(
      process.execPath,
      [cli, 'export', '--model', join(tmpdir(), 'no-such-model-dir'), '--onnx', join(tmpdir(), 'x.onnx')],
      { encoding: 'utf8' },
    );
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^error: cannot read model/);
  });
});

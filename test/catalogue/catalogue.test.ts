/**
 * Runs every bad input of ./cases.ts on both backends: each must throw its error class with its message
 * fragment (never an abort, a trap or an untyped error), and leave the model's weights, the LSTM's weights,
 * the files in the scratch directory, the live handle counts and the wasm memory as they were.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, lstatSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LSTM, SequenceModel, liveHandles, liveModelHandles } from '../../ts/index';
import { UsageError } from '../../ts/cli/args';
import { backend, backendNames } from '../helpers';
import { BASE, type Case, type Ctx, cases, makeFiles } from './cases';

/** Everything a rejected call must leave alone, as one comparable string. */
function snapshot(ctx: Ctx): string {
  const h = createHash('sha256');
  for (const m of [ctx.model, ctx.dense, ctx.lstm]) {
    for (const [k, t] of Object.entries(m.stateDict()))
      h.update(k).update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      const st = lstatSync(p);
      h.update(`${p}:${st.mode}:${st.size}:${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) h.update(readFileSync(p));
    }
  };
  walk(ctx.dir);
  return `${h.digest('hex').slice(0, 40)} lstm=${liveHandles()} models=${liveModelHandles()} wasm=${ctx.backend.memoryBytes()}`;
}

async function outcome(c: Case, ctx: Ctx): Promise<unknown> {
  try {
    await c.run(ctx);
  } catch (e) {
    return e;
  }
  return null;
}

describe('the catalogue of bad inputs', () => {
  it('holds at least 200 distinct inputs', () => {
    expect(cases.length).toBeGreaterThanOrEqual(200);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });
});

describe.each(backendNames)('every catalogued bad input on %s', (name) => {
  let ctx: Ctx;
  beforeAll(async () => {
    const b = await backend(name);
    const dir = mkdtempSync(join(tmpdir(), 'cellstate-catalogue-'));
    makeFiles(dir);
    const model = new SequenceModel(BASE, { backend: b });
    // One step so the optimiser state in the bundle is not all zeros.
    model.trainBatch({ data: Int32Array.from([1, 2, 3, 4]), shape: [2, 2] }, Float32Array.from([0, 1]));
    const dense = new SequenceModel(
      { input: { features: 3 }, lstm: { hiddenSize: 4 }, output: { units: 1, activation: 'linear' }, seed: 5 },
      { backend: b },
    );
    const lstm = new LSTM({ inputSize: 3, hiddenSize: 4, seed: 2, backend: b });
    ctx = { backend: b, model, dense, lstm, dir, bundle: new Uint8Array(model.toArrayBuffer()) };
  });
  afterAll(() => {
    ctx.model.dispose();
    ctx.dense.dispose();
    ctx.lstm.dispose();
    rmSync(ctx.dir, { recursive: true, force: true });
  });

  it.each(cases.map((c) => [`${c.area}: ${c.name}`, c] as const))('%s', async (_, c) => {
    const before = snapshot(ctx);
    const e = await outcome(c, ctx);
    expect(e, 'no error was thrown').not.toBeNull();
    const err = e as Error;
    expect(err.constructor.name, `${err.constructor.name}: ${err.message}`).toBe(c.error);
    if (c.error === 'UsageError') expect(err).toBeInstanceOf(UsageError);
    else expect((err as { code?: unknown }).code, 'a CellstateError has a code').toMatch(/^[a-z]+$/);
    expect(err.message).toMatch(c.message);
    const after = snapshot(ctx);
    const wasm = (t: string) => Number(/wasm=(\d+)/.exec(t)?.[1] ?? 0);
    expect(after.replace(/wasm=\S+/, ''), 'model, files and live handles unchanged').toBe(before.replace(/wasm=\S+/, ''));
    expect(wasm(after) - wasm(before), 'wasm memory growth').toBeLessThanOrEqual(c.grows ?? 0);
  });
});

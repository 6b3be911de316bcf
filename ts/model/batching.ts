/**
 * User input → contiguous blocks the core reads, and blocks → batches. Inputs are checked once here;
 * nothing mutates what the caller passed. Shapes: n sequences, T steps, width = 1 (token ids) or F.
 */
import { ShapeError, ValueError } from '../errors';
import type { TensorLike } from '../tensor';
import type { Block, CoreConfig } from './core';
import type { SequenceInput, Targets } from './types';

/** Flat targets with `perSample` values per sample. */
export interface TargetBlock {
  data: Float32Array;
  perSample: number;
}

/** One batch cut from a block, with its targets when there are any. */
export interface Batch {
  block: Block;
  targets: Float32Array | null;
}

/**
 * Whether the model reads token ids (one-hot or embedding) rather than float features.
 * @throws never.
 */
export function takesTokens(core: CoreConfig): boolean {
  return core.input.kind !== 'dense';
}

/**
 * Whether the head runs on every step (pooling 'sequence').
 * @throws never.
 */
export function perStep(core: CoreConfig): boolean {
  return core.pooling === 'sequence';
}

/**
 * Converts user input into one contiguous block, checking types and shapes.
 * @param what the argument's name in messages (`x`, `validationData x`).
 * @throws {ShapeError} on a wrong type, shape or size; {ValueError} on a non-integer token or a bad length.
 */
export function toBlock(core: CoreConfig, input: SequenceInput, what = 'x'): Block {
  const tokenInput = takesTokens(core);
  let data: Int32Array | Float32Array;
  let shape: number[];
  let lengths: ArrayLike<number> | undefined;
  if (typeof input === 'object' && input !== null && 'data' in input && 'shape' in input) {
    ({ data } = input);
    shape = [...input.shape];
    lengths = input.lengths;
  } else if (typeof input === 'object' && input !== null && typeof (input as ArrayLike<unknown>).length === 'number') {
    const rows = input as ArrayLike<ArrayLike<number>>;
    if (!tokenInput) throw new ShapeError(`${what}: float-feature models take { data: Float32Array, shape: [B, T, F] }`);
    const t = rows.length ? rows[0].length : 0;
    for (let i = 0; i < rows.length; i++) {
      if (rows[i].length !== t) {
        throw new ShapeError(
          `${what}: sequences have mixed lengths (sequence 0 has ${t} steps, sequence ${i} has ${rows[i].length}); pad them first with padSequences()`,
        );
      }
    }
    data = new Int32Array(rows.length * t);
    for (let i = 0; i < rows.length; i++) {
      for (let s = 0; s < t; s++) {
        const v = rows[i][s];
        // An Int32Array would wrap 2^32 + 3 to 3 (a silently wrong id): refuse what it cannot hold.
        if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31)
          throw new ValueError(`${what}: token ${String(v)} at sequence ${i}, step ${s} is not an integer id that fits int32`);
        data[i * t + s] = v;
      }
    }
    shape = [rows.length, t];
  } else {
    throw new ShapeError(`${what} must be { data, shape } or an array of equal-length token sequences, got ${String(input)}`);
  }
  if (tokenInput) {
    if (!(data instanceof Int32Array)) {
      throw new ShapeError(`${what}.data must be an Int32Array of token ids for this model, got ${data?.constructor?.name ?? typeof data}`);
    }
    if (shape.length !== 2) throw new ShapeError(`${what} must have shape [batch, steps]; got [${shape.join(', ')}]`);
  } else {
    if (!(data instanceof Float32Array))
      throw new ShapeError(`${what}.data must be a Float32Array of features, got ${data?.constructor?.name ?? typeof data}`);
    const f = (core.input as { features: number }).features;
    if (shape.length !== 3 || shape[2] !== f)
      throw new ShapeError(`${what} must have shape [batch, steps, ${f}]; got [${shape.join(', ')}]`);
  }
  const [n, steps] = shape;
  const width = tokenInput ? 1 : shape[2];
  if (!shape.every((d) => Number.isInteger(d) && d >= 0) || data.length !== n * steps * width) {
    throw new ShapeError(`${what} has ${data.length} values but shape [${shape.join(', ')}] needs ${n * steps * width}`);
  }
  if (n > 0 && steps === 0) throw new ShapeError(`${what} has sequences of 0 steps`);
  let lens: Uint32Array | null = null;
  if (lengths !== undefined) {
    if (lengths.length !== n) throw new ShapeError(`${what}.lengths has ${lengths.length} entries; expected ${n}`);
    lens = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const v = lengths[i];
      // The JS type only (a Uint32Array would wrap -1 and cut 2.5). The range 1..T is the core's rule, the
      // same for the LSTM layer and models: a length of 0 is refused everywhere (see README, "Lengths").
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
        throw new ValueError(`${what}.lengths[${i}] = ${String(v)} must be an integer in 1..${steps}`);
      lens[i] = v;
    }
  }
  return {
    tokens: tokenInput ? (data as Int32Array) : null,
    x: tokenInput ? null : (data as Float32Array),
    n,
    steps,
    width,
    lengths: lens,
  };
}

/**
 * Checks targets against `n` samples of `steps` steps and copies them into one Float32Array.
 * @throws {ShapeError} when the type or the number of values is wrong (the message gives the expected shape).
 */
export function toTargets(core: CoreConfig, y: Targets, n: number, steps: number): TargetBlock {
  let data: Float32Array;
  if (typeof y === 'object' && y !== null && 'data' in y && 'shape' in y) data = Float32Array.from((y as TensorLike).data);
  else if (typeof y === 'object' && y !== null && typeof (y as ArrayLike<number>).length === 'number')
    data = Float32Array.from(y as ArrayLike<number>);
  else throw new ShapeError(`targets must be an array of numbers or a tensor, got ${String(y)}`);
  const u = core.loss === 'cross-entropy' ? 1 : core.units;
  const each = perStep(core);
  const perSample = (each ? steps : 1) * u;
  if (data.length !== n * perSample) {
    const shape = each ? `[${n}, ${steps}${u > 1 ? `, ${u}` : ''}]` : `[${n}${u > 1 ? `, ${u}` : ''}]`;
    throw new ShapeError(
      `targets have ${data.length} values; expected ${n * perSample} (${shape}), one per ${each ? 'step' : 'sequence'}${u > 1 ? ' and unit' : ''}`,
    );
  }
  return { data, perSample };
}

/**
 * Copies rows `idx[from..to)` (or `from..to` without `idx`) of a block, and of its targets, into a new batch.
 * @throws never.
 */
export function gather(b: Block, t: TargetBlock | null, idx: Uint32Array | null, from: number, to: number): Batch {
  const count = to - from;
  const row = b.steps * b.width;
  const pick = (i: number) => (idx ? idx[from + i] : from + i);
  const src = (b.tokens ?? b.x)!;
  const data = b.tokens ? new Int32Array(count * row) : new Float32Array(count * row);
  for (let i = 0; i < count; i++) data.set(src.subarray(pick(i) * row, (pick(i) + 1) * row), i * row);
  let lengths: Uint32Array | null = null;
  if (b.lengths) {
    lengths = new Uint32Array(count);
    for (let i = 0; i < count; i++) lengths[i] = b.lengths[pick(i)];
  }
  let targets: Float32Array | null = null;
  if (t) {
    targets = new Float32Array(count * t.perSample);
    for (let i = 0; i < count; i++) targets.set(t.data.subarray(pick(i) * t.perSample, (pick(i) + 1) * t.perSample), i * t.perSample);
  }
  const block: Block = {
    tokens: b.tokens ? (data as Int32Array) : null,
    x: b.tokens ? null : (data as Float32Array),
    n: count,
    steps: b.steps,
    width: b.width,
    lengths,
  };
  return { block, targets };
}

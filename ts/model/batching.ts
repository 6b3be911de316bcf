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
 * Rows `from..to` of a block as views into it, no copy: for a call that hands them to the core at once (which
 * copies them into its own memory) and keeps nothing. Prediction on the seed tier's dense input (7.7 MB a batch of
 * 64) spent ~0.5-0.9 ms of its ~9 ms in {@link gather}'s fresh copy (wasm relaxed).
 * @throws never.
 */
export function rowsView(b: Block, from: number, to: number): Block {
  const row = b.steps * b.width;
  return {
    tokens: b.tokens ? b.tokens.subarray(from * row, to * row) : null,
    x: b.x ? b.x.subarray(from * row, to * row) : null,
    n: to - from,
    steps: b.steps,
    width: b.width,
    lengths: b.lengths ? b.lengths.subarray(from, to) : null,
  };
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

// ---------------------------------------------------------------------------------------------------------
// Length-bucketed batches (FitOptions.bucketByLength): batches of similar real length, each cut to its
// longest sequence. Exact for masked inputs: with `lengths` the core reads each row's first `lengths[i]`
// steps (the rest is skipped), and with a mask token it moves the real tokens to the front itself, so a
// batch cut to its longest real sequence is the same computation with fewer padding steps.

/** Bucket assignment of a block's samples, fixed for a whole fit. */
export interface BucketPlan {
  /** Real steps of each sample (≥ 1, as the core counts them). */
  lengths: Uint32Array;
  /** Bucket of each sample, 0 = shortest. */
  bucketOf: Uint32Array;
  buckets: number;
  /** True when the rows' real tokens must be moved to the front (mask token, no explicit lengths). */
  compact: boolean;
  maskToken: number | null;
}

/**
 * Each sample's real length as the core sees it: `lengths[i]` when given, else the count of non-mask tokens
 * (at least 1). Null when the block has neither, so padding is fed through and cutting it would change results.
 * @throws never.
 */
export function realLengths(b: Block, maskToken: number | null): Uint32Array | null {
  if (b.lengths) return b.lengths;
  if (maskToken === null || !b.tokens) return null;
  const out = new Uint32Array(b.n);
  for (let i = 0; i < b.n; i++) {
    let len = 0;
    const row = b.tokens.subarray(i * b.steps, (i + 1) * b.steps);
    for (let s = 0; s < row.length; s++) if (row[s] !== maskToken) len++;
    out[i] = Math.max(1, len);
  }
  return out;
}

/**
 * Buckets at quantiles of the real lengths: boundary k is the length at rank ⌊k·n/buckets⌋ of the sorted
 * lengths, duplicates dropped, so samples of equal length always share a bucket (equal lengths everywhere →
 * one bucket, and the batches are exactly those of unbucketed training).
 * @throws {ValueError} when the block has neither lengths nor a mask token, or `buckets` is not an integer ≥ 1.
 */
export function bucketPlan(b: Block, maskToken: number | null, buckets: number): BucketPlan {
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > 1 << 16) {
    throw new ValueError(`bucketByLength.buckets must be an integer in 1..65536, got ${String(buckets)}`);
  }
  const lengths = realLengths(b, maskToken);
  if (!lengths) {
    throw new ValueError(
      'bucketByLength needs masked input: pass lengths (e.g. from padSequences with padding "post") or build the model with mask',
    );
  }
  const sorted = Uint32Array.from(lengths).sort();
  const bounds: number[] = [];
  for (let k = 1; k < buckets; k++) {
    const v = sorted[Math.floor((k * b.n) / buckets)];
    if (v > sorted[0] && (bounds.length === 0 || v > bounds[bounds.length - 1])) bounds.push(v);
  }
  const bucketOf = new Uint32Array(b.n);
  for (let i = 0; i < b.n; i++) {
    // The number of boundaries ≤ lengths[i] (binary search over the increasing bounds).
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (bounds[mid] <= lengths[i]) lo = mid + 1;
      else hi = mid;
    }
    bucketOf[i] = lo;
  }
  return { lengths, bucketOf, buckets: bounds.length + 1, compact: !b.lengths, maskToken };
}

/**
 * One epoch's batches under a plan: `order` (the epoch's sample permutation) stably grouped by bucket and
 * cut into consecutive batches of `batchSize` (a bucket's remainder rides with the start of the next, so
 * there are ⌈n / batchSize⌉ batches as without buckets), then the buckets' runs of batches interleaved at
 * random (`next(bound)`, uniform over interleavings; in bucket order when `next` is null). Returns the
 * reordered samples and each batch's start in it; batch j is `samples[starts[j] .. starts[j] + size)`.
 * @throws never.
 */
export function bucketedEpoch(
  plan: BucketPlan,
  order: Uint32Array,
  batchSize: number,
  next: ((bound: number) => number) | null,
): { samples: Uint32Array; starts: Uint32Array } {
  const n = order.length;
  const counts = new Uint32Array(plan.buckets + 1);
  for (let i = 0; i < n; i++) counts[plan.bucketOf[order[i]] + 1]++;
  for (let k = 0; k < plan.buckets; k++) counts[k + 1] += counts[k];
  const grouped = new Uint32Array(n);
  const fill = counts.slice(0, plan.buckets);
  for (let i = 0; i < n; i++) grouped[fill[plan.bucketOf[order[i]]]++] = order[i];
  const batches = Math.ceil(n / batchSize);
  // Runs: consecutive batches whose first sample is in the same bucket.
  const runOf = new Uint32Array(batches);
  for (let j = 0; j < batches; j++) runOf[j] = plan.bucketOf[grouped[j * batchSize]];
  const runStart = new Uint32Array(plan.buckets + 1);
  for (let j = 0; j < batches; j++) runStart[runOf[j] + 1]++;
  for (let k = 0; k < plan.buckets; k++) runStart[k + 1] += runStart[k];
  const left = new Uint32Array(plan.buckets);
  for (let k = 0; k < plan.buckets; k++) left[k] = runStart[k + 1] - runStart[k];
  const taken = new Uint32Array(plan.buckets);
  const starts = new Uint32Array(batches);
  let remaining = batches;
  for (let j = 0; j < batches; j++) {
    // Next run with probability proportional to the batches it has left.
    let u = next ? next(remaining) : 0;
    let k = 0;
    while (left[k] === 0 || u >= left[k]) {
      u -= left[k];
      k++;
    }
    starts[j] = (runStart[k] + taken[k]++) * batchSize;
    left[k]--;
    remaining--;
  }
  return { samples: grouped, starts };
}

/**
 * Rows `samples[from..to)` of a block cut to the longest real length among them, with their targets. With
 * `plan.compact`, each row's real tokens are moved to the front first (as the core's mask does) and the
 * rest filled with the mask token.
 * @throws never.
 */
export function gatherBucketed(b: Block, t: TargetBlock | null, plan: BucketPlan, samples: Uint32Array, from: number, to: number): Batch {
  const count = to - from;
  let steps = 1;
  for (let i = from; i < to; i++) steps = Math.max(steps, plan.lengths[samples[i]]);
  steps = Math.min(steps, b.steps);
  const w = b.width;
  const src = (b.tokens ?? b.x)!;
  const data = b.tokens ? new Int32Array(count * steps * w) : new Float32Array(count * steps * w);
  let lengths: Uint32Array | null = null;
  if (plan.compact) {
    const tokens = b.tokens!;
    const pad = plan.maskToken!;
    data.fill(pad);
    for (let i = 0; i < count; i++) {
      const row = samples[from + i] * b.steps;
      let s = i * steps;
      for (let k = 0; k < b.steps; k++) if (tokens[row + k] !== pad) data[s++] = tokens[row + k];
    }
  } else {
    lengths = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      const r = samples[from + i];
      data.set(src.subarray(r * b.steps * w, (r * b.steps + steps) * w), i * steps * w);
      lengths[i] = b.lengths![r];
    }
  }
  let targets: Float32Array | null = null;
  if (t) {
    targets = new Float32Array(count * t.perSample);
    for (let i = 0; i < count; i++) {
      const r = samples[from + i];
      targets.set(t.data.subarray(r * t.perSample, (r + 1) * t.perSample), i * t.perSample);
    }
  }
  const block: Block = {
    tokens: b.tokens ? (data as Int32Array) : null,
    x: b.tokens ? null : (data as Float32Array),
    n: count,
    steps,
    width: w,
    lengths,
  };
  return { block, targets };
}

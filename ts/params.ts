/** The parameter table both the LSTM layer and models keep: PyTorch names over one flat buffer. */
import { ShapeError } from './errors';
import { Tensor, type TensorLike, checkTensor } from './tensor';

/** One named parameter inside the flat buffer (the core's table, as JSON). */
export interface ParamInfo {
  name: string;
  offset: number;
  shape: number[];
}

/**
 * Number of elements of a parameter.
 * @throws never.
 */
export function paramSize(e: ParamInfo): number {
  return e.shape.reduce((a, b) => a * b, 1);
}

/**
 * Copies of every parameter of `flat` under its name.
 * @throws never.
 */
export function splitParams(table: readonly ParamInfo[], flat: Float32Array): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const e of table) out[e.name] = new Tensor(flat.slice(e.offset, e.offset + paramSize(e)), e.shape);
  return out;
}

/**
 * Writes `dict`'s tensors into `flat` by name after checking all of them; `strict` requires every
 * parameter and no other key.
 * @throws {ShapeError} listing every missing, unexpected or mis-shaped entry (then `flat` is unchanged).
 */
export function mergeParams(
  table: readonly ParamInfo[],
  flat: Float32Array,
  dict: Record<string, TensorLike>,
  strict: boolean,
  what: string,
): void {
  const problems: string[] = [];
  const known = new Set(table.map((e) => e.name));
  const accepted: [ParamInfo, TensorLike][] = [];
  for (const e of table) {
    const t = dict[e.name];
    if (t === undefined) {
      if (strict) problems.push(`missing ${e.name} [${e.shape.join(', ')}]`);
      continue;
    }
    try {
      accepted.push([e, checkTensor(e.name, t, e.shape)]);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (strict) for (const k of Object.keys(dict)) if (!known.has(k)) problems.push(`unexpected ${k}`);
  if (problems.length) throw new ShapeError(`${what}: ${problems.join('; ')}`);
  for (const [e, t] of accepted) flat.set(t.data, e.offset);
}

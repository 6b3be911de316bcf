/** Dense float32 tensors as they cross the API: a copied `Float32Array` and a row-major shape. */
import { ShapeError, describe } from './errors';

/** A row-major float32 tensor. Any `{ data, shape }` object with these fields is accepted as input. */
export interface TensorLike {
  data: Float32Array;
  shape: readonly number[];
}

/** A row-major float32 tensor: `data.length` is the product of `shape`. */
export class Tensor implements TensorLike {
  readonly data: Float32Array;
  readonly shape: number[];

  /**
   * @throws {ShapeError} when `data` is not a Float32Array or its length does not match `shape`.
   */
  constructor(data: Float32Array, shape: readonly number[]) {
    checkTensor('tensor', { data, shape });
    this.data = data;
    this.shape = [...shape];
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** A tensor of zeros. */
  static zeros(shape: readonly number[]): Tensor {
    return new Tensor(new Float32Array(shapeSize(shape)), shape);
  }
}

/**
 * Product of a shape's dimensions.
 * @throws never.
 */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Checks that `t` is a `{ data: Float32Array, shape }` whose sizes agree, and optionally that its shape
 * equals `expected` (`-1` matches any size).
 * @throws {ShapeError} naming `what`, the problem and the expected shape.
 */
export function checkTensor(what: string, t: unknown, expected?: readonly number[], expectedText?: string): TensorLike {
  if (typeof t !== 'object' || t === null || !('data' in t) || !('shape' in t)) {
    throw new ShapeError(`${what} must be a tensor { data: Float32Array, shape: number[] }, got ${describe(t)}`);
  }
  const { data, shape } = t as { data: unknown; shape: unknown };
  if (!(data instanceof Float32Array)) {
    // 'an Array' (the class), set against the Float32Array asked for.
    throw new ShapeError(`${what}.data must be a Float32Array, got ${Array.isArray(data) ? 'an Array' : describe(data)}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ShapeError(`${what}.shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (shapeSize(shape) !== data.length) {
    throw new ShapeError(`${what} has ${data.length} elements but shape [${shape.join(', ')}] needs ${shapeSize(shape)}`);
  }
  if (expected) {
    const ok = shape.length === expected.length && expected.every((d, i) => d === -1 || d === shape[i]);
    if (!ok) {
      throw new ShapeError(`${what} has shape [${shape.join(', ')}]; expected ${expectedText ?? `[${expected.join(', ')}]`}`);
    }
  }
  return t as TensorLike;
}

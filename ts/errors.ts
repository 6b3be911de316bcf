/**
 * Typed errors. Every error cellstate throws on a caller's bad input is a {@link CellstateError}
 * whose `code` says what kind of problem it is; the message names what was wrong and what was expected.
 */

/**
 * What a value is, for error messages: `null`, `undefined`, `an array`, `a Float64Array`,
 * `an object (Date)`, `string "x"`, `number 32`, `a function`.
 * @throws never.
 */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return `a ${typeof value}`;
}

/**
 * Base class of every error cellstate throws on purpose.
 * @throws never (an error class).
 */
export class CellstateError extends Error {
  /** A stable word for the kind of problem: see the subclasses. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

// The subclasses below differ only in name and code: one class each so callers can `instanceof` them.

/**
 * A tensor or argument has the wrong shape, size or type (e.g. a number[] where a Float32Array is expected).
 * @throws never (an error class).
 */
export class ShapeError extends CellstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('shape', message, options);
  }
}

/**
 * A value is out of range: NaN in the input, a length past T, a bad config field, a label not 0/1.
 * @throws never (an error class).
 */
export class ValueError extends CellstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('value', message, options);
  }
}

/**
 * A call came in the wrong order, e.g. `backward` before `forward`.
 * @throws never (an error class).
 */
export class StateError extends CellstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('state', message, options);
  }
}

/**
 * An object was used after `dispose()`.
 * @throws never (an error class).
 */
export class DisposedError extends CellstateError {
  constructor(what: string) {
    super('disposed', `${what} was used after dispose()`);
  }
}

/**
 * No backend could be loaded, or the requested one is unavailable; `cause` lists every failure.
 * @throws never (an error class).
 */
export class BackendError extends CellstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('backend', message, options);
  }
}

/**
 * A data file or stream is missing, truncated, corrupt or of the wrong format.
 * @throws never (an error class).
 */
export class DataError extends CellstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('data', message, options);
  }
}

/**
 * Types of web-platform globals for the published declarations, written so that they compile in every
 * consumer setup (lib es2020 and up, with or without DOM, with or without @types/node, skipLibCheck off).
 *
 * A `.d.ts` that names `Response` or `Symbol.dispose` directly fails (TS2304 / TS2550) for a consumer whose
 * lib lacks them. Here each is read off `typeof globalThis` / `typeof Symbol` instead: where the consumer's
 * lib declares the global, the type is exactly the real one; where it does not, the type is `never` (a
 * value of it cannot exist there) or a structural stand-in. Inside this repository (DOM and
 * esnext.disposable in tsconfig.json) every alias resolves to the real type.
 */

/** The instance type of the global class `K` where the consumer's lib declares it, else `F`. */
type GlobalInstance<K extends string, F = never> = typeof globalThis extends { [P in K]: { prototype: infer I } } ? I : F;

/** `URL` (DOM, @types/node, Deno, Bun) where declared. */
export type URLInstance = GlobalInstance<'URL'>;
/** A fetch `Response` where declared. */
export type ResponseInstance = GlobalInstance<'Response'>;
/** A `Blob` (or `File`) where declared. */
export type BlobInstance = GlobalInstance<'Blob'>;
/** A web `ReadableStream` where declared. */
export type ReadableStreamInstance = GlobalInstance<'ReadableStream'>;
/** A `Worker` (DOM) where declared. */
export type WorkerInstance = GlobalInstance<'Worker'>;

/**
 * What cellstate reads from an AbortSignal: the DOM's and Node's `AbortSignal` fit, so does any object
 * with the same two members.
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  /** Why it was aborted (`AbortController.abort(reason)`), when the runtime records it. */
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * `{ [Symbol.dispose](): void }` where the consumer's lib has `Symbol.dispose` (esnext.disposable,
 * @types/node 20+), else nothing. Classes merge it in, so `using x = ...` type-checks where it exists and
 * the declarations still compile where it does not.
 */
export type DisposableWhereKnown = typeof Symbol extends { readonly dispose: infer S extends symbol }
  ? { [K in S]: () => void }
  : Record<never, never>;

/**
 * Gives `cls` a `[Symbol.dispose]()` that calls its `dispose()`, where the runtime has `Symbol.dispose`.
 * Installed on the prototype rather than written in the class body, so the emitted declarations do not
 * name `Symbol.dispose` (see {@link DisposableWhereKnown} for the type side).
 * @throws never.
 */
export function addSymbolDispose(cls: { prototype: { dispose(): void } }): void {
  const key = (Symbol as { dispose?: symbol }).dispose;
  if (typeof key !== 'symbol') return;
  Object.defineProperty(cls.prototype, key, {
    value(this: { dispose(): void }): void {
      this.dispose();
    },
    writable: true,
    configurable: true,
  });
}

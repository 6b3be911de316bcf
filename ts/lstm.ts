/**
 * The LSTM layer with PyTorch's `nn.LSTM` semantics and state-dict names, over either backend.
 * Shapes: B batch, T steps, F inputSize, H hiddenSize, D directions, L numLayers.
 */
import { type Backend, type RawLstm, backendOption, call } from './backend';
import { DisposedError, ShapeError, ValueError, describe } from './errors';
import { type DisposableWhereKnown, addSymbolDispose } from './globals';
import { type ParamInfo, mergeParams, paramSize, splitParams } from './params';
import { Tensor, type TensorLike, checkTensor } from './tensor';

/** Constructor options of {@link LSTM}, named as PyTorch's `nn.LSTM` arguments. */
export interface LSTMOptions {
  /** F: features per step. */
  inputSize: number;
  /** H: hidden units per direction. */
  hiddenSize: number;
  /** L: stacked layers (default 1). */
  numLayers?: number;
  /** Run each layer in both directions (default false). */
  bidirectional?: boolean;
  /** Input and output as (B, T, ·) when true (default, as the notebook uses it), (T, B, ·) when false (PyTorch's default). */
  batchFirst?: boolean;
  /** Seed of the uniform ±1/√H initialisation (default 0): the same seed gives the same weights on every backend. */
  seed?: number;
  /** Backend to run on (default: the one {@link init} loaded). */
  backend?: Backend;
}

/** Options of {@link LSTM.forward}. */
export interface ForwardOptions {
  /** Initial hidden state (L·D, B, H); zeros when absent. */
  h0?: TensorLike;
  /** Initial cell state (L·D, B, H); zeros when absent. */
  c0?: TensorLike;
  /**
   * True length of each sequence (integers in 1..T), as `pack_padded_sequence(..., enforce_sorted=False)`:
   * steps at and past a length leave the state alone and output zeros; the reverse direction starts at the
   * last real step.
   */
  lengths?: ArrayLike<number>;
  /**
   * `false` for inference (as under PyTorch's `torch.no_grad()`): the same outputs, bit for bit, without the
   * caches `backward` needs, which is faster and uses less memory; a `backward` after it is a StateError.
   * Default `true`.
   */
  grad?: boolean;
  /**
   * `false` leaves the (B, T, D·H) output sequence out of the result: only `hN` and `cN` are returned, as
   * for a classifier that reads the last hidden state (Keras' `return_sequences=False`). It saves copying
   * B·T·D·H floats out of the backend; the numbers are the same, and `backward` may still take an output
   * gradient. Default `true`.
   */
  output?: boolean;
}

/** The final states of {@link LSTM.forward}: what `{ output: false }` returns. */
export interface StateResult {
  /** (L·D, B, H). */
  hN: Tensor;
  /** (L·D, B, H). */
  cN: Tensor;
}

/** Result of {@link LSTM.forward}. */
export interface ForwardResult extends StateResult {
  /** (B, T, D·H) with batchFirst, else (T, B, D·H). */
  output: Tensor;
}

/** Upstream gradients for {@link LSTM.backward}; absent ones are zero. */
export interface BackwardOptions {
  output?: TensorLike;
  hN?: TensorLike;
  cN?: TensorLike;
}

/** Result of {@link LSTM.backward}. */
export interface Gradients {
  /** dL/dx, shaped as the input. */
  x: Tensor;
  /** dL/dh0 (L·D, B, H). */
  h0: Tensor;
  /** dL/dc0 (L·D, B, H). */
  c0: Tensor;
  /** dL/d(every parameter), under the state-dict names. */
  params: Record<string, Tensor>;
}

let live = 0;
const registry = new FinalizationRegistry<RawLstm>((raw) => {
  live--;
  // A safety net must never throw: an exception here would end the process (uncatchable by the user).
  try {
    raw.free?.();
  } catch {
    // The handle's memory is already gone (e.g. the wasm instance trapped); nothing left to free.
  }
});

/**
 * Number of LSTM handles created and not yet disposed (for leak tests).
 * @throws never.
 */
export function liveHandles(): number {
  return live;
}

/**
 * A size as the binding's u32 reads it (which would wrap 2^32 + 1 to 1 and cut 2.5 to 2). Only the JS type
 * is checked here: zero, the maxima and the memory needed are the core's rules (crates/cellstate-core/src/limits.rs).
 */
function u32(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new ValueError(`${name} must be an integer (a size, 1 or more), got ${describe(v)}`);
  }
  return v;
}

/** How messages name the (L·D, B, H) state shape. */
function stateLegend(state: number[]): string {
  return `(numLayers·directions, batch, hiddenSize) = [${state.join(', ')}]`;
}

/**
 * A multi-layer, optionally bidirectional LSTM: PyTorch's `nn.LSTM` (gates i, f, g, o; two biases;
 * layer k > 0 reading both directions of layer k − 1), with its weights and caches inside the backend.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- its [Symbol.dispose] type (below)
export class LSTM {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  readonly batchFirst: boolean;
  readonly backend: Backend;
  #raw: RawLstm | null;
  #table: ParamInfo[];
  #lastInput: { batch: number; steps: number } | null = null;

  /**
   * @throws {ValueError} when a size is not a positive integer or an option has the wrong type.
   * @throws {StateError} when no backend is given and `init()` has not run.
   */
  constructor(options: LSTMOptions) {
    if (typeof options !== 'object' || options === null) throw new ValueError('LSTM options must be an object');
    this.inputSize = u32('inputSize', options.inputSize);
    this.hiddenSize = u32('hiddenSize', options.hiddenSize);
    this.numLayers = u32('numLayers', options.numLayers ?? 1);
    for (const k of ['bidirectional', 'batchFirst'] as const) {
      if (options[k] !== undefined && typeof options[k] !== 'boolean') {
        throw new ValueError(`${k} must be a boolean, got ${String(options[k])}`);
      }
    }
    this.bidirectional = options.bidirectional ?? false;
    this.batchFirst = options.batchFirst ?? true;
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(seed) || seed < 0) throw new ValueError(`seed must be a non-negative safe integer, got ${seed}`);
    this.backend = backendOption(options.backend);
    const raw = call(() => new this.backend.raw.LstmHandle(this.inputSize, this.hiddenSize, this.numLayers, this.bidirectional, seed));
    this.#raw = raw;
    this.#table = JSON.parse(raw.paramTable()) as ParamInfo[];
    live++;
    registry.register(this, raw, this);
  }

  /** D: 2 when bidirectional, else 1. */
  get directions(): number {
    return this.bidirectional ? 2 : 1;
  }

  /** Total number of parameters. */
  get numParameters(): number {
    return this.#table.reduce((n, e) => n + paramSize(e), 0);
  }

  /** The parameter names in PyTorch's state-dict order. */
  get parameterNames(): string[] {
    return this.#table.map((e) => e.name);
  }

  #handle(): RawLstm {
    if (!this.#raw) throw new DisposedError('LSTM');
    return this.#raw;
  }

  #split(flat: Float32Array): Record<string, Tensor> {
    return splitParams(this.#table, flat);
  }

  /** Copies of every parameter under PyTorch's names (`weight_ih_l0`, `bias_hh_l1_reverse`, ...). */
  stateDict(): Record<string, Tensor> {
    return this.#split(call(() => this.#handle().params()));
  }

  /**
   * Loads parameters by PyTorch's names and shapes. All checks run before anything changes.
   * @param strict when true (default) every parameter must be present and no other key may appear.
   * @throws {ShapeError} listing missing, unexpected or mis-shaped entries.
   */
  loadStateDict(dict: Record<string, TensorLike>, { strict = true }: { strict?: boolean } = {}): void {
    // The same three steps as SequenceModel.loadStateDict over another handle type; the merge itself is shared (params.ts).
    const raw = this.#handle();
    const flat = raw.params();
    mergeParams(this.#table, flat, dict, strict, 'state dict does not fit this LSTM');
    call(() => raw.setParams(flat));
    this.#lastInput = null;
  }

  /** (B, T, D·H) batch-first, else (T, B, D·H). */
  #outputShape(batch: number, steps: number): number[] {
    const wide = this.directions * this.hiddenSize;
    return this.batchFirst ? [batch, steps, wide] : [steps, batch, wide];
  }

  #stateShape(batch: number): number[] {
    return [this.numLayers * this.directions, batch, this.hiddenSize];
  }

  /**
   * Runs the LSTM and keeps what {@link LSTM.backward} needs.
   * @param x (B, T, F) with batchFirst, else (T, B, F); a Float32Array-backed tensor.
   * @throws {ShapeError} on a wrong shape or a non-Float32Array.
   * @throws {ValueError} on NaN/Infinity, or lengths that are not integers in 1..T.
   * @throws {DisposedError} after dispose().
   */
  forward(x: TensorLike, options?: ForwardOptions & { output?: true }): ForwardResult;
  forward(x: TensorLike, options: ForwardOptions & { output: false }): StateResult;
  forward(x: TensorLike, options?: ForwardOptions): StateResult & { output?: Tensor };
  forward(x: TensorLike, options: ForwardOptions = {}): StateResult & { output?: Tensor } {
    const raw = this.#handle();
    const layout = this.batchFirst ? '(batch, steps, inputSize)' : '(steps, batch, inputSize)';
    checkTensor('x', x, [-1, -1, this.inputSize], `${layout} = [B, T, ${this.inputSize}]`);
    const [batch, steps] = this.batchFirst ? [x.shape[0], x.shape[1]] : [x.shape[1], x.shape[0]];
    const state = this.#stateShape(batch);
    const stateText = stateLegend(state);
    const h0 = options.h0 === undefined ? undefined : checkTensor('h0', options.h0, state, stateText).data;
    const c0 = options.c0 === undefined ? undefined : checkTensor('c0', options.c0, state, stateText).data;
    let lengths: Uint32Array | undefined;
    if (options.lengths !== undefined) {
      const l = options.lengths;
      if (typeof l !== 'object' || l === null || typeof l.length !== 'number')
        throw new ShapeError(`lengths must be an array of integers, one per sequence, got ${describe(l)}`);
      if (l.length !== batch) throw new ShapeError(`lengths has ${l.length} entries; expected one per sequence (batch ${batch})`);
      lengths = new Uint32Array(batch);
      for (let i = 0; i < batch; i++) {
        const v = l[i];
        // The JS type only (a Uint32Array would wrap -1 and cut 2.5); the range 1..T is the core's rule.
        if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
          throw new ValueError(
            `lengths[${i}] = ${String(v)} is not valid; each length must be an integer in 1..${steps} (the number of steps)`,
          );
        }
        lengths[i] = v;
      }
    }
    const grad = options.grad ?? true;
    if (typeof grad !== 'boolean') throw new ValueError(`grad must be a boolean, got ${describe(grad)}`);
    const output = options.output ?? true;
    if (typeof output !== 'boolean') throw new ValueError(`output must be a boolean, got ${describe(output)}`);
    call(() => raw.forward(x.data, batch, steps, this.batchFirst, h0, c0, lengths, grad));
    this.#lastInput = { batch, steps };
    const states = { hN: new Tensor(raw.hN(), state), cN: new Tensor(raw.cN(), state) };
    if (!output) return states;
    return {
      output: new Tensor(
        call(() => raw.output()),
        this.#outputShape(batch, steps),
      ),
      ...states,
    };
  }

  /**
   * Back-propagates through time from gradients of the last forward's outputs.
   * @returns dL/dx, dL/dh0, dL/dc0 and dL/d(every parameter) of this call alone.
   * @throws {StateError} before any forward (or after loadStateDict).
   * @throws {ShapeError} / {ValueError} on mis-shaped or non-finite gradients.
   */
  backward(upstream: BackwardOptions = {}): Gradients {
    const raw = this.#handle();
    const last = this.#lastInput;
    if (!last || !raw.hasForward()) {
      call(() => raw.backward(null, null, null));
    }
    const { batch, steps } = last ?? { batch: 0, steps: 0 };
    const outShape = this.#outputShape(batch, steps);
    const state = this.#stateShape(batch);
    const stateText = stateLegend(state);
    const dy = upstream.output === undefined ? null : checkTensor('output gradient', upstream.output, outShape).data;
    const dh = upstream.hN === undefined ? null : checkTensor('hN gradient', upstream.hN, state, stateText).data;
    const dc = upstream.cN === undefined ? null : checkTensor('cN gradient', upstream.cN, state, stateText).data;
    call(() => {
      raw.zeroGrad();
      raw.backward(dy, dh, dc);
    });
    const inShape = this.batchFirst ? [batch, steps, this.inputSize] : [steps, batch, this.inputSize];
    // The mirror of forward's result (STYLE 5: forward and backward side by side): d(x, h0, c0) in their shapes.
    return {
      x: new Tensor(
        call(() => raw.dX()),
        inShape,
      ),
      h0: new Tensor(raw.dH0(), state),
      c0: new Tensor(raw.dC0(), state),
      params: this.#split(raw.grads()),
    };
  }

  /** Frees the backend memory now. Safe to call twice; any later use throws {@link DisposedError}. */
  dispose(): void {
    if (!this.#raw) return;
    registry.unregister(this);
    this.#raw.free?.();
    this.#raw = null;
    live--;
  }
}

addSymbolDispose(LSTM);
// The class's `[Symbol.dispose]` type, declared apart so the .d.ts compiles where the lib lacks it (./globals.ts).
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface LSTM extends DisposableWhereKnown {}

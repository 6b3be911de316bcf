// What the benchmark page sends to a bench worker and gets back. A job is one (config, mode, engine, variant,
// threads) measurement, as one child process is in the Node bench (bench/worker.mjs); results follow
// bench/SCHEMA.md's `results[]`.

export interface Urls {
  /** cellstate .wasm files by name (cellstate/wasm.json lists those the build has). */
  cellstate: Record<string, string>;
  ortWasm: string;
  tfjsWasm: Record<string, string>;
}

/** The scalar reference of the check rows: h_T (infer) and the train step's logits and gradients. */
export interface Reference {
  infer: { hN: Float32Array };
  train: Record<string, Float32Array>;
}

export interface Job {
  config: 'seed' | 'medium' | 'large';
  mode: 'train' | 'infer';
  engine: 'cellstate' | 'tfjs' | 'onnxruntime';
  variant: string;
  threads: number;
  budgetS: number;
  repeats: number;
  quick: boolean;
  /** cellstate only: which .wasm. */
  wasmFile?: string;
}

export type WorkerRequest =
  | { type: 'reference'; config: Job['config']; urls: Urls }
  | { type: 'ceiling'; kind: 'simd128' | 'relaxed'; seconds: number }
  | { type: 'probe' }
  | { type: 'job'; job: Job; urls: Urls; reference: Reference };

export interface Check {
  ok?: boolean;
  status: 'passed' | 'failed' | 'none';
  against?: string;
  rows?: number;
  compared?: string[];
  atol?: number;
  rtol?: number;
  maxAbs?: number;
  why?: string;
}

export type BenchResult = Record<string, unknown> & {
  status: 'ok' | 'failed' | 'skipped';
  config: string;
  mode: string;
  engine: string;
  variant: string;
};

export type WorkerMessage =
  | { type: 'reference'; reference: Reference }
  | { type: 'ceiling'; ceiling: Record<string, unknown> }
  | { type: 'probe'; simd128: boolean; relaxed: boolean }
  | { type: 'result'; result: BenchResult }
  | { type: 'error'; message: string };

/** What an engine adapter gives the timing loop (bench/worker.mjs's contract). */
export interface Prepared {
  info: Record<string, unknown>;
  check?: () => Promise<Check>;
  mustCheck?: boolean;
  samplesPerStep: number;
  step: () => unknown;
  memoryBytes?: () => number | null;
  dispose?: () => unknown;
}

export interface Shared {
  cfg: { name: string; B: number; T: number; F: number; H: number; oneHot: boolean };
  data: { x: Float32Array; ids: Int32Array | null; y: Float32Array };
  weights: Record<'weight_ih_l0' | 'weight_hh_l0' | 'bias_ih_l0' | 'bias_hh_l0', Float32Array>;
}

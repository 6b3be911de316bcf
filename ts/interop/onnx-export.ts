/**
 * cellstate → ONNX (opset 17, IR 8): a sequence model or an LSTM layer as one ONNX graph that ONNX
 * Runtime runs with cellstate's outputs. Shapes: B batch, T steps, F features, V vocabulary, E embedding
 * width, H hidden, D directions, L layers, P = D·H, U output units.
 *
 * Graph of a sequence model (batch-first input, as cellstate takes it):
 *   tokens (B, T) ─[mask: move real tokens to the front, lengths = max(1, count)]─ OneHot V | Gather E
 *   x (B, T, F) ──┘
 *   → Transpose (T, B, ·) → per layer: LSTM (W, R, B, sequence_lens) → Y (T, D, B, H) → (T, B, P)
 *   → pooling: last = Y_h of the last layer (B, P) | mean / max over the real steps | max-mean = Concat(max, mean)
 *     (B, 2P) | sequence (B, T, P)
 *   → head: Gemm (or MatMul + Add per step) + Relu / Tanh → fc → Sigmoid | Softmax | nothing
 * The ONNX operator spec (onnx.ai, operator LSTM): X (T, B, F); W (D, 4H, F), R (D, 4H, H) with gate
 * rows (i, o, f, c); B (D, 8H) = [Wb, Rb]; sequence_lens int32 (B); Y (T, D, B, H); Y_h (D, B, H).
 * ONNX Runtime's CPU LSTM takes only layout 0 (time-major), hence the Transpose, as torch.onnx writes it.
 */
import { LSTM, SequenceModel } from '../common';
import { ValueError } from '../errors';
import type { SequenceModelConfig } from '../common';
import type { TensorLike } from '../tensor';
import { torchToOnnxGates } from './gates';
import { GraphBuilder, valueInfo } from './onnx-graph';
import { DataType, type ModelProto, encodeModel } from './onnx-proto';

/** The opset the exported graphs use (ReduceMax takes `axes` as an attribute up to 17). */
export const ONNX_OPSET = 17;
const IR_VERSION = 8;

/** Options of {@link exportOnnx}. */
export interface OnnxExportOptions {
  /**
   * Add an int32 input `lengths` (B): the true length of each sequence, as cellstate's `lengths` (it
   * then overrides the model's `mask`). Default false.
   */
  lengths?: boolean;
  /** Element type of the `tokens` input of token models: 'int32' (default; what cellstate and padSequences use) or 'int64' (PyTorch's). */
  tokenType?: 'int32' | 'int64';
  /** Names of the batch and step dimensions (symbolic by default: 'batch', 'steps'); a number fixes it. */
  batch?: number | string;
  steps?: number | string;
  /** For an LSTM layer: which of `output`, `h_n`, `c_n` the graph computes (default all three). */
  layerOutputs?: readonly ('output' | 'h_n' | 'c_n')[];
  /** Free text stored as the model's doc_string. */
  docString?: string;
}

/** What {@link exportOnnx} takes: a model, an LSTM layer, or a config (or LSTM options) with a state dict. */
export type OnnxExportSource =
  | SequenceModel
  | LSTM
  | { config: SequenceModelConfig; stateDict: Record<string, TensorLike> }
  | {
      lstm: { inputSize: number; hiddenSize: number; numLayers?: number; bidirectional?: boolean; batchFirst?: boolean };
      stateDict: Record<string, TensorLike>;
    };

interface LstmShape {
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
}

function weight(dict: Record<string, TensorLike>, name: string, shape: readonly number[]): Float32Array {
  const t = dict[name];
  if (!t) throw new ValueError(`state dict has no '${name}'; the ONNX export needs every parameter of the model`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ValueError(`'${name}' has shape [${t.shape.join(', ')}]; the model's config needs [${shape.join(', ')}]`);
  }
  return t.data;
}

/**
 * The stacked LSTM as ONNX LSTM ops over X (T, B, F). Returns every layer's Y_h / Y_c and the last
 * layer's output (T, B, P) when `needOutput`.
 */
function lstmLayers(
  g: GraphBuilder,
  x: string,
  s: LstmShape,
  dict: Record<string, TensorLike>,
  prefix: string,
  seqLens: string | null,
  needOutput: boolean,
): { output: string | null; hN: string[]; cN: string[] } {
  const { hiddenSize: h, numLayers, bidirectional } = s;
  const d = bidirectional ? 2 : 1;
  const sfx = bidirectional ? ['', '_reverse'] : [''];
  let input = x;
  let width = s.inputSize;
  const hN: string[] = [];
  const cN: string[] = [];
  let output: string | null = null;
  for (let l = 0; l < numLayers; l++) {
    const W = new Float32Array(d * 4 * h * width);
    const R = new Float32Array(d * 4 * h * h);
    const B = new Float32Array(d * 8 * h);
    const pre = prefix ? `${prefix}.` : '';
    sfx.forEach((suffix, k) => {
      W.set(torchToOnnxGates(weight(dict, `${pre}weight_ih_l${l}${suffix}`, [4 * h, width]), h, width), k * 4 * h * width);
      R.set(torchToOnnxGates(weight(dict, `${pre}weight_hh_l${l}${suffix}`, [4 * h, h]), h, h), k * 4 * h * h);
      B.set(torchToOnnxGates(weight(dict, `${pre}bias_ih_l${l}${suffix}`, [4 * h]), h, 1), k * 8 * h);
      B.set(torchToOnnxGates(weight(dict, `${pre}bias_hh_l${l}${suffix}`, [4 * h]), h, 1), k * 8 * h + 4 * h);
    });
    const tag = `${prefix || 'lstm'}_l${l}`;
    const w = g.floats(`${tag}.W`, [d, 4 * h, width], W);
    const r = g.floats(`${tag}.R`, [d, 4 * h, h], R);
    const b = g.floats(`${tag}.B`, [d, 8 * h], B);
    const last = l === numLayers - 1;
    const wantY = !last || needOutput;
    const [y, yh, yc] = g.op(
      'LSTM',
      seqLens ? [input, w, r, b, seqLens] : [input, w, r, b],
      { hidden_size: h, direction: bidirectional ? 'bidirectional' : 'forward' },
      [wantY ? `${tag}.Y` : '', `${tag}.Y_h`, `${tag}.Y_c`],
    );
    hN.push(yh);
    cN.push(yc);
    if (wantY) {
      // Y (T, D, B, H) → (T, B, D·H): both directions side by side, forward first, as PyTorch's output.
      input = bidirectional
        ? g.op1('Reshape', [g.op1('Transpose', [y], { perm: [0, 2, 1, 3] }), g.ints('shape_tbp', [0, 0, d * h])])
        : g.op1('Squeeze', [y, g.ints('axis1', [1])]);
      width = d * h;
      if (last) output = input;
    }
  }
  return { output, hN, cN };
}

function exportLstmLayer(s: LstmShape & { batchFirst: boolean }, dict: Record<string, TensorLike>, options: OnnxExportOptions): ModelProto {
  const g = new GraphBuilder();
  const batch = options.batch ?? 'batch';
  const steps = options.steps ?? 'steps';
  const x = g.reserve('x');
  const inputs = [valueInfo(x, DataType.FLOAT, s.batchFirst ? [batch, steps, s.inputSize] : [steps, batch, s.inputSize])];
  let seqLens: string | null = null;
  if (options.lengths) {
    const lengths = g.reserve('lengths');
    inputs.push(valueInfo(lengths, DataType.INT32, [batch]));
    seqLens = lengths;
  }
  const want = options.layerOutputs ?? ['output', 'h_n', 'c_n'];
  if (want.length === 0 || want.some((o) => !['output', 'h_n', 'c_n'].includes(o)))
    throw new ValueError(`layerOutputs must list some of 'output', 'h_n', 'c_n'; got ${JSON.stringify(want)}`);
  const xt = s.batchFirst ? g.op1('Transpose', [x], { perm: [1, 0, 2] }) : x;
  const { output, hN, cN } = lstmLayers(g, xt, s, dict, '', seqLens, want.includes('output'));
  const d = s.bidirectional ? 2 : 1;
  const P = d * s.hiddenSize;
  const state = [s.numLayers * d, batch, s.hiddenSize];
  const outputs: ReturnType<typeof valueInfo>[] = [];
  const concat = (parts: string[], name: string) =>
    parts.length === 1 ? g.op('Identity', parts, {}, [g.reserve(name)]) : g.op('Concat', parts, { axis: 0 }, [g.reserve(name)]);
  for (const o of want) {
    if (o === 'output') {
      if (s.batchFirst) g.op('Transpose', [output!], { perm: [1, 0, 2] }, [g.reserve('output')]);
      else g.op('Identity', [output!], {}, [g.reserve('output')]);
      outputs.push(valueInfo('output', DataType.FLOAT, s.batchFirst ? [batch, steps, P] : [steps, batch, P]));
    } else {
      concat(o === 'h_n' ? hN : cN, o);
      outputs.push(valueInfo(o, DataType.FLOAT, state));
    }
  }
  return model(g, inputs, outputs, 'cellstate LSTM', options);
}

function model(
  g: GraphBuilder,
  inputs: ReturnType<typeof valueInfo>[],
  outputs: ReturnType<typeof valueInfo>[],
  name: string,
  options: OnnxExportOptions,
): ModelProto {
  return {
    ir_version: IR_VERSION,
    opset_import: [{ domain: '', version: ONNX_OPSET }],
    producer_name: 'cellstate',
    producer_version: '0.1.0',
    doc_string: options.docString,
    graph: { name, node: g.nodes, initializer: g.initializers, input: inputs, output: outputs },
  };
}

function exportSequenceModel(config: SequenceModelConfig, dict: Record<string, TensorLike>, options: OnnxExportOptions): ModelProto {
  const g = new GraphBuilder();
  const batch = options.batch ?? 'batch';
  const steps = options.steps ?? 'steps';
  const l = config.lstm;
  const s: LstmShape = { inputSize: 0, hiddenSize: l.hiddenSize, numLayers: l.numLayers ?? 1, bidirectional: l.bidirectional ?? false };
  const d = s.bidirectional ? 2 : 1;
  const P = d * s.hiddenSize;
  const pooling = config.pooling ?? 'last';
  const inputs: ReturnType<typeof valueInfo>[] = [];
  const tokenInput = config.input === 'one-hot' || (typeof config.input === 'object' && 'embedding' in config.input);
  let seqLens: string | null = null; // int32 (B), each in 1..T
  let features: string; // (B, T, F)
  let stepsOf: string; // any (B, T, ·) tensor, for Shape
  let lengthsInfo: ReturnType<typeof valueInfo> | null = null;
  if (options.lengths) {
    const lengths = g.reserve('lengths');
    lengthsInfo = valueInfo(lengths, DataType.INT32, [batch]);
    // cellstate gives a 0-length (all padding) sequence one step, as packed sequences need ≥ 1.
    seqLens = g.op1('Max', [lengths, g.reserve('one_i32')]);
    g.initializers.push({ name: 'one_i32', dims: [], data_type: DataType.INT32, raw_data: new Uint8Array(Int32Array.of(1).buffer) });
  }
  if (tokenInput) {
    const vocab = config.vocabSize!;
    const tokens = g.reserve('tokens');
    const int64 = options.tokenType === 'int64';
    inputs.push(valueInfo(tokens, int64 ? DataType.INT64 : DataType.INT32, [batch, steps]));
    let ids = int64 ? tokens : g.op1('Cast', [tokens], { to: DataType.INT64 });
    const mask = config.mask === undefined || config.mask === false ? null : config.mask === true ? 0 : config.mask;
    if (mask !== null && !options.lengths) {
      // Real tokens to the front in order (cellstate's mask): sort key = position for real tokens,
      // T + position for padding; TopK ascending gives the gather order. lengths = max(1, real count).
      const real = g.op1('Cast', [g.op1('Not', [g.op1('Equal', [ids, g.ints('mask_token', [mask], [])])])], { to: DataType.INT64 });
      const t = g.op1('Gather', [g.op1('Shape', [ids]), g.ints('one', [1], [])], { axis: 0 });
      const pos = g.op1('Range', [g.ints('zero', [0], []), t, g.ints('one_step', [1], [])]);
      const key = g.op1('Add', [pos, g.op1('Mul', [g.op1('Sub', [g.ints('one_b', [1], []), real]), t])]);
      const [, order] = g.op('TopK', [key, g.op1('Unsqueeze', [t, g.ints('axis0', [0])])], { axis: 1, largest: 0, sorted: 1 }, 2);
      ids = g.op1('GatherElements', [ids, order], { axis: 1 });
      const count = g.op1('ReduceSum', [real, g.ints('axis1', [1])], { keepdims: 0 });
      seqLens = g.op1('Cast', [g.op1('Max', [count, g.ints('one_len', [1], [])])], { to: DataType.INT32 }, 'lengths_from_mask');
    }
    if (config.input === 'one-hot') {
      // PyTorch's F.one_hot(x, V).float(): an exact product (one 1.0 per row).
      features = g.op1('OneHot', [ids, g.ints('depth', [vocab], []), g.floats('one_hot_values', [2], Float32Array.of(0, 1))], { axis: -1 });
      s.inputSize = vocab;
    } else {
      const e = (config.input as { embedding: number }).embedding;
      features = g.op1('Gather', [g.floats('embedding.weight', [vocab, e], weight(dict, 'embedding.weight', [vocab, e])), ids], {
        axis: 0,
      });
      s.inputSize = e;
    }
    stepsOf = ids;
  } else {
    const f = (config.input as { features: number }).features;
    features = g.reserve('x');
    inputs.push(valueInfo(features, DataType.FLOAT, [batch, steps, f]));
    s.inputSize = f;
    stepsOf = features;
  }
  if (lengthsInfo) inputs.push(lengthsInfo);
  const x = g.op1('Transpose', [features], { perm: [1, 0, 2] });
  const { output: y, hN } = lstmLayers(g, x, s, dict, 'lstm', seqLens, pooling !== 'last');
  let a: string; // the head's input: (B, P) or (B, T, P)
  if (pooling === 'last') {
    a = g.op1('Reshape', [g.op1('Transpose', [hN[hN.length - 1]], { perm: [1, 0, 2] }), g.ints('shape_bp', [0, -1])]);
  } else if (pooling === 'sequence') {
    a = g.op1('Transpose', [y!], { perm: [1, 0, 2] });
  } else {
    let valid: string | null = null; // bool (T, B, 1): step s is real
    if (seqLens) {
      const t = g.op1('Gather', [g.op1('Shape', [stepsOf]), g.ints('one', [1], [])], { axis: 0 });
      const pos = g.op1('Unsqueeze', [g.op1('Range', [g.ints('zero', [0], []), t, g.ints('one_step', [1], [])]), g.ints('axis1', [1])]);
      valid = g.op1('Unsqueeze', [
        g.op1('Less', [pos, g.op1('Unsqueeze', [g.op1('Cast', [seqLens], { to: DataType.INT64 }), g.ints('axis0', [0])])]),
        g.ints('axis2', [2]),
      ]);
    }
    const mean = () => {
      if (!seqLens) return g.op1('ReduceMean', [y!], { axes: [0], keepdims: 0 });
      // Padding outputs are zero (ONNX LSTM), so the sum over every step is the sum over real ones.
      const len = g.op1('Unsqueeze', [g.op1('Cast', [seqLens], { to: DataType.FLOAT }), g.ints('axis1', [1])]);
      return g.op1('Div', [g.op1('ReduceSum', [y!, g.ints('axis0', [0])], { keepdims: 0 }), len]);
    };
    const max = () => {
      const masked = valid ? g.op1('Where', [valid, y!, g.floats('neg_inf', [], Float32Array.of(-Infinity))]) : y!;
      return g.op1('ReduceMax', [masked], { axes: [0], keepdims: 0 });
    };
    if (pooling === 'mean') a = mean();
    else if (pooling === 'max') a = max();
    else a = g.op1('Concat', [max(), mean()], { axis: 1 }); // 'max-mean': (B, 2P), the maximum first
  }
  let width = pooling === 'max-mean' ? 2 * P : P;
  const layers = [
    ...(config.head ?? []).map((h, i) => ({ name: `head.${i}`, units: h.units, activation: h.activation ?? 'relu' })),
    { name: 'fc', units: config.output.units, activation: 'linear' as const },
  ];
  for (const layer of layers) {
    const w = weight(dict, `${layer.name}.weight`, [layer.units, width]);
    const b = g.floats(`${layer.name}.bias`, [layer.units], weight(dict, `${layer.name}.bias`, [layer.units]));
    if (pooling === 'sequence') {
      // MatMul with Wᵀ (P, U) over (B, T, P), then the bias: torch.onnx's form of nn.Linear on 3-D input.
      const wt = new Float32Array(w.length);
      for (let o = 0; o < layer.units; o++) for (let i = 0; i < width; i++) wt[i * layer.units + o] = w[o * width + i];
      a = g.op1('Add', [g.op1('MatMul', [a, g.floats(`${layer.name}.weight.T`, [width, layer.units], wt)]), b]);
    } else {
      a = g.op1('Gemm', [a, g.floats(`${layer.name}.weight`, [layer.units, width], w), b], { transB: 1 });
    }
    if (layer.activation === 'relu') a = g.op1('Relu', [a]);
    else if (layer.activation === 'tanh') a = g.op1('Tanh', [a]);
    width = layer.units;
  }
  const act = config.output.activation;
  const out = g.reserve('output');
  if (act === 'sigmoid') g.op('Sigmoid', [a], {}, [out]);
  else if (act === 'softmax') g.op('Softmax', [a], { axis: -1 }, [out]);
  else g.op('Identity', [a], {}, [out]);
  const outDims = pooling === 'sequence' ? [batch, steps, config.output.units] : [batch, config.output.units];
  return model(g, inputs, [valueInfo(out, DataType.FLOAT, outDims)], 'cellstate sequence model', options);
}

/**
 * Exports a sequence model (or an LSTM layer) to ONNX bytes that ONNX Runtime runs with cellstate's
 * outputs. A model's graph takes `tokens` (B, T) int32 (or int64) for token input or `x` (B, T, F)
 * float32 for features, plus `lengths` (B) int32 with `{ lengths: true }`; its output `output` is
 * what `predict` returns: probabilities (B, U) (or (B, T, U) for per-step models), or values for a
 * linear output. An LSTM layer's graph maps `x` (and `lengths`) to `output`, `h_n`, `c_n` as `forward`.
 * Dropout is left out (inference). Weights stay under PyTorch's names where they are used as they are
 * (`embedding.weight`, `fc.weight`, ...); the LSTM's are re-laid out as ONNX's W, R, B.
 * @throws {ValueError} when the state dict lacks a parameter of the config or has a wrong shape.
 * @throws {DisposedError} when the model or layer was disposed.
 */
export function exportOnnx(source: OnnxExportSource, options: OnnxExportOptions = {}): Uint8Array {
  let proto: ModelProto;
  if (source instanceof SequenceModel) proto = exportSequenceModel(source.config as SequenceModelConfig, source.stateDict(), options);
  else if (source instanceof LSTM) {
    proto = exportLstmLayer(
      {
        inputSize: source.inputSize,
        hiddenSize: source.hiddenSize,
        numLayers: source.numLayers,
        bidirectional: source.bidirectional,
        batchFirst: source.batchFirst,
      },
      source.stateDict(),
      options,
    );
  } else if (typeof source === 'object' && source !== null && 'config' in source) {
    proto = exportSequenceModel(source.config, source.stateDict, options);
  } else if (typeof source === 'object' && source !== null && 'lstm' in source) {
    const o = source.lstm;
    proto = exportLstmLayer(
      {
        inputSize: o.inputSize,
        hiddenSize: o.hiddenSize,
        numLayers: o.numLayers ?? 1,
        bidirectional: o.bidirectional ?? false,
        batchFirst: o.batchFirst ?? true,
      },
      source.stateDict,
      options,
    );
  } else {
    throw new ValueError('exportOnnx takes a SequenceModel, an LSTM, { config, stateDict } or { lstm, stateDict }');
  }
  return encodeModel(proto);
}

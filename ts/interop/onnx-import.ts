/**
 * ONNX → cellstate: recognises the graphs `torch.onnx.export` writes for LSTM sequence models and maps
 * them to a {@link SequenceModelConfig} plus a state dict under PyTorch's names.
 *
 * The graph is read by abstract interpretation, in topological order: every value gets a role (token ids,
 * batch-first features, an LSTM's Y or Y_h, pooled features, a dense layer's output, a shape computation,
 * a constant, zeros) and every node must be one of the transitions below; the first node that is not
 * raises a ValueError naming its op. Shapes: B batch, T steps, V vocabulary, F features, H hidden,
 * D directions, L layers, P = D·H.
 *
 *   tokens (B, T) int ─ OneHot V [Cast] ─┐          float x (B, T, F) ─┐
 *   tokens ─ Gather(embedding (V, E)) ───┴─ Transpose(1, 0, 2) → LSTM_0 → [Squeeze | Transpose+Reshape] → LSTM_1 ...
 *   pooling: Y_h of the last layer via Gather / Concat / Squeeze (h_n[-1], cat(h_n[-2], h_n[-1]))  → 'last'
 *            Y → (B, T, P) → ReduceMean / ReduceMax over T → 'mean' / 'max', Concat(max, mean) on axis 1 → 'max-mean';
 *            (B, T, P) to the head → 'sequence'
 *   head:    Gemm, or MatMul + Add (nn.Linear), each optionally followed by Relu / Tanh; then Sigmoid / Softmax / nothing
 *   plumbing: Shape, Gather, Unsqueeze, Squeeze, Concat, Slice, Cast, Constant, ConstantOfShape(0) (zero initial
 *            states, the only initial state accepted), Identity, Dropout.
 */
import type { SequenceModel } from '../common';
import type { Backend, SequenceModelConfig, DenseLayerSpec, OutputSpec } from '../common';
import { DataError, ValueError } from '../errors';
import { Tensor } from '../tensor';
import { onnxToTorchGates } from './gates';
import { modelFromStateDict } from './model';
import {
  type AttributeProto,
  DataType,
  type GraphProto,
  type NodeProto,
  type TensorProto,
  decodeModel,
  tensorFloats,
  tensorInts,
} from './onnx-proto';

/** Options of {@link importOnnx} and {@link onnxToConfig}. */
export interface OnnxImportOptions {
  /**
   * The output activation when the graph ends in logits (no Sigmoid / Softmax), as models trained with
   * BCEWithLogitsLoss / CrossEntropyLoss are exported: 'sigmoid' or 'softmax' make `predict` return
   * probabilities (and `fit` use that loss). Default: what the graph computes ('linear' for logits).
   */
  output?: 'sigmoid' | 'softmax' | 'linear';
  /** Backend of the model {@link importOnnx} builds (default: the one `init()` loaded). */
  backend?: Backend;
}

/** What {@link onnxToConfig} finds in a graph. */
export interface OnnxImport {
  config: SequenceModelConfig;
  stateDict: Record<string, Tensor>;
  /** The graph's input name (the tokens or features it takes). */
  inputName: string;
  /** Every op type of the graph, in order of first use. */
  ops: string[];
}

interface Const {
  dims: number[];
  floats?: Float32Array;
  ints?: number[];
}

interface LayerInfo {
  hidden: number;
  directions: number;
  inputSize: number;
  weights: Record<string, Tensor>;
}

interface DenseInfo {
  units: number;
  width: number;
  weight: Float32Array; // (units, width), PyTorch's layout
  bias: Float32Array;
  activation: 'relu' | 'tanh' | 'linear';
}

type Role =
  | { r: 'const'; c: Const }
  | { r: 'shape' } // a dynamic shape computation (from Shape)
  | { r: 'zeros' } // ConstantOfShape(0) and what slices it
  | { r: 'tokens' }
  | { r: 'features'; timeMajor: boolean; width: number } // (B, T, F) or (T, B, F): the LSTM's input
  | { r: 'Y'; layer: number } // (T, D, B, H)
  | { r: 'Yt'; layer: number } // (T, B, D, H) (bidirectional, before the reshape)
  | { r: 'seq'; layer: number; timeMajor: boolean } // (T, B, P) or (B, T, P): a layer's outputs
  | { r: 'hn'; entries: [number, number][] } // stacked final states (k, B, H): (layer, direction) per row
  | { r: 'hnT'; entries: [number, number][] } // (B, k, H): stacked final states, batch first
  | { r: 'hvec'; entries: [number, number][] } // (B, k·H): final states side by side
  | { r: 'Yc' }
  | {
      r: 'head';
      pooling: 'last' | 'mean' | 'max' | 'max-mean' | 'sequence';
      dense: DenseInfo[];
      pendingMatMul: Float32Array | null;
      pendingDims: number[];
      out: 'sigmoid' | 'softmax' | null;
    };

const utf8 = new TextDecoder();

function attrs(node: NodeProto): Record<string, AttributeProto> {
  return Object.fromEntries((node.attribute ?? []).map((a) => [a.name, a]));
}

function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = attrs(node)[name];
  // proto2 leaves a zero out of the decoded object: a present attribute without `i` is 0.
  return a ? Number(a.i ?? 0) : fallback;
}

function attrInts(node: NodeProto, name: string): number[] | undefined {
  return attrs(node)[name]?.ints;
}

function attrString(node: NodeProto, name: string, fallback: string): string {
  const a = attrs(node)[name];
  return a?.s ? utf8.decode(a.s) : fallback;
}

function constOf(t: TensorProto): Const {
  const dims = (t.dims ?? []).map(Number);
  if (t.data_type === DataType.FLOAT || t.data_type === DataType.DOUBLE) return { dims, floats: tensorFloats(t) };
  if (t.data_type === DataType.INT64 || t.data_type === DataType.INT32) return { dims, ints: tensorInts(t) };
  if (t.data_type === DataType.BOOL || t.data_type === DataType.UINT8)
    return { dims, ints: Array.from(t.raw_data ?? t.int32_data ?? []).map(Number) };
  throw new DataError(`ONNX constant '${t.name}' has element type ${t.data_type}; expected float or integers`);
}

function unsupported(node: NodeProto, why: string): ValueError {
  return new ValueError(
    `unsupported ONNX op ${node.op_type} (node '${node.name ?? ''}'): ${why}; cellstate imports LSTM sequence models as torch.onnx.export writes them`,
  );
}

/**
 * Reads ONNX bytes into a cellstate config and state dict (no backend needed).
 * @throws {DataError} on bytes that are not an ONNX model, or tensors whose sizes contradict the graph.
 * @throws {ValueError} naming the first op (or op attribute) cellstate cannot map.
 */
export function onnxToConfig(bytes: Uint8Array | ArrayBuffer, options: OnnxImportOptions = {}): OnnxImport {
  const model = decodeModel(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  for (const o of model.opset_import ?? []) {
    if ((o.domain ?? '') !== '' && o.domain !== 'ai.onnx')
      throw new ValueError(`unsupported ONNX operator set '${o.domain}'; only the default domain is read`);
  }
  return interpret(model.graph!, options);
}

function interpret(graph: GraphProto, options: OnnxImportOptions): OnnxImport {
  const roles = new Map<string, Role>();
  const ops: string[] = [];
  for (const t of graph.initializer ?? []) roles.set(t.name ?? '', { r: 'const', c: constOf(t) });
  const inits = new Set(roles.keys());
  const inputs = (graph.input ?? []).filter((i) => !inits.has(i.name));
  if (inputs.length !== 1)
    throw new ValueError(
      `the ONNX graph has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); cellstate imports graphs with one input (tokens or features)`,
    );
  const input = inputs[0];
  const tt = input.type?.tensor_type;
  const elem = tt?.elem_type;
  const dims = tt?.shape?.dim ?? [];
  let tokenInput: boolean;
  if (elem === DataType.INT64 || elem === DataType.INT32) {
    if (dims.length !== 2) throw new ValueError(`token input '${input.name}' has rank ${dims.length}; expected (batch, steps)`);
    roles.set(input.name, { r: 'tokens' });
    tokenInput = true;
  } else if (elem === DataType.FLOAT) {
    const f = dims[2]?.dim_value;
    if (dims.length !== 3 || !f)
      throw new ValueError(`float input '${input.name}' must be (batch, steps, features) with a fixed feature count`);
    roles.set(input.name, { r: 'features', timeMajor: false, width: Number(f) });
    tokenInput = false;
  } else {
    throw new ValueError(`graph input '${input.name}' has element type ${String(elem)}; expected int64/int32 tokens or float32 features`);
  }
  let vocab: number | null = null;
  let oneHot = false;
  let embedding: Const | null = null;
  const layers: LayerInfo[] = [];
  const role = (name: string, node: NodeProto): Role => {
    const r = roles.get(name);
    if (!r)
      throw new DataError(
        `ONNX node '${node.name ?? node.op_type}' reads '${name}', which no earlier node or initializer defines (the graph is not in topological order or is cut)`,
      );
    return r;
  };
  const constInts = (name: string, node: NodeProto): number[] => {
    const r = role(name, node);
    if (r.r !== 'const' || !r.c.ints) throw unsupported(node, `input '${name}' must be a constant integer tensor`);
    return r.c.ints;
  };
  const constFloats = (name: string, node: NodeProto): Const & { floats: Float32Array } => {
    const r = role(name, node);
    if (r.r !== 'const' || !r.c.floats) throw unsupported(node, `input '${name}' must be a constant float tensor (a weight)`);
    return r.c as Const & { floats: Float32Array };
  };
  const squeezeAxes = (node: NodeProto, ins: (string | null)[]): number[] | undefined =>
    attrInts(node, 'axes') ?? (ins[1] ? constInts(ins[1], node) : undefined);
  const set = (node: NodeProto, r: Role, k = 0) => {
    const out = node.output?.[k];
    if (out) roles.set(out, r);
  };

  for (const node of graph.node ?? []) {
    const op = node.op_type ?? '';
    if (!ops.includes(op)) ops.push(op);
    if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') throw unsupported(node, `operator domain '${node.domain}'`);
    const ins = (node.input ?? []).map((n) => (n === '' ? null : n));
    const inRoles = ins.map((n) => (n === null ? null : role(n, node)));
    if (op === 'Add' && inRoles[0]?.r === 'const' && inRoles[1]?.r === 'head') {
      // torch.onnx writes nn.Linear on 3-D input as Add(bias, MatMul(x, Wᵀ)).
      ins.reverse();
      inRoles.reverse();
    }
    const first = inRoles[0];
    const allStatic = inRoles.every((r) => r === null || r.r === 'const' || r.r === 'shape' || r.r === 'zeros');

    if (op === 'Constant') {
      const a = attrs(node);
      if (a.value?.t) set(node, { r: 'const', c: constOf(a.value.t) });
      else if (a.value_int) set(node, { r: 'const', c: { dims: [], ints: [Number(a.value_int.i ?? 0)] } });
      else if (a.value_ints)
        set(node, { r: 'const', c: { dims: [a.value_ints.ints?.length ?? 0], ints: (a.value_ints.ints ?? []).map(Number) } });
      else if (a.value_float) set(node, { r: 'const', c: { dims: [], floats: Float32Array.of(a.value_float.f ?? 0) } });
      else throw unsupported(node, 'a Constant that is not a tensor, int(s) or float');
      continue;
    }
    if (op === 'Shape') {
      set(node, { r: 'shape' });
      continue;
    }
    if (op === 'ConstantOfShape') {
      const v = attrs(node).value?.t;
      const c = v ? constOf(v) : { dims: [1], floats: Float32Array.of(0) };
      const vals = c.floats ?? c.ints ?? [];
      if (Array.from(vals).some((x) => x !== 0)) throw unsupported(node, 'a non-zero initial state');
      set(node, { r: 'zeros' });
      continue;
    }
    if (op === 'Identity' || op === 'Dropout') {
      if (first) set(node, first);
      continue;
    }
    if (
      allStatic &&
      ['Gather', 'Unsqueeze', 'Squeeze', 'Concat', 'Slice', 'Cast', 'Reshape', 'Expand', 'Add', 'Sub', 'Mul', 'Div'].includes(op)
    ) {
      // Shape plumbing (batch size of the zero initial states, ...): its value is never needed, only
      // whether it is a constant-free computation over shapes or slices of zeros.
      const zeros = inRoles.some((r) => r?.r === 'zeros');
      set(node, zeros ? { r: 'zeros' } : inRoles.some((r) => r?.r === 'shape') ? { r: 'shape' } : fold(node, inRoles as (Role | null)[]));
      continue;
    }
    if (!first) throw unsupported(node, 'no data input');

    switch (first.r) {
      case 'tokens': {
        if (op === 'Cast') {
          const to = attrInt(node, 'to', 0);
          if (to === DataType.INT64 || to === DataType.INT32) set(node, first);
          else throw unsupported(node, `a cast of token ids to type ${to}`);
        } else if (op === 'OneHot') {
          const depth = constInts(ins[1]!, node);
          const values = role(ins[2]!, node);
          const v = values.r === 'const' ? Array.from(values.c.floats ?? values.c.ints ?? []) : [];
          if (v[0] !== 0 || v[1] !== 1 || attrInt(node, 'axis', -1) !== -1)
            throw unsupported(node, 'a one-hot that is not F.one_hot (values 0/1 on the last axis)');
          vocab = depth[0];
          oneHot = true;
          set(node, { r: 'features', timeMajor: false, width: vocab });
        } else throw unsupported(node, 'on token ids (expected OneHot, or Gather from an embedding)');
        break;
      }
      case 'const': {
        // Gather(embedding.weight (V, E), tokens): nn.Embedding.
        const second = inRoles[1];
        if (op === 'Gather' && second?.r === 'tokens' && first.c.floats && first.c.dims.length === 2 && attrInt(node, 'axis', 0) === 0) {
          embedding = first.c;
          vocab = first.c.dims[0];
          set(node, { r: 'features', timeMajor: false, width: first.c.dims[1] });
        } else throw unsupported(node, 'on constants and data in a way cellstate does not map');
        break;
      }
      case 'features': {
        if (op === 'Cast' && attrInt(node, 'to', 0) === DataType.FLOAT) set(node, first);
        else if (op === 'Transpose' && same(attrInts(node, 'perm'), [1, 0, 2])) set(node, { ...first, timeMajor: !first.timeMajor });
        else if (op === 'LSTM') {
          if (!first.timeMajor || attrInt(node, 'layout', 0) !== 0) throw unsupported(node, 'an LSTM on batch-major input (layout 1)');
          if (layers.length > 0) throw unsupported(node, 'a second LSTM on the input instead of on the previous layer');
          lstmOp(node, ins, inRoles, first.width, 0);
        } else throw unsupported(node, 'on the LSTM input (expected Transpose(1, 0, 2) then LSTM)');
        break;
      }
      case 'seq': {
        if (op === 'LSTM') {
          if (!first.timeMajor) throw unsupported(node, 'an LSTM on batch-major input');
          if (first.layer !== layers.length - 1) throw unsupported(node, 'an LSTM fed by a layer other than the previous one');
          lstmOp(node, ins, inRoles, layers[first.layer].directions * layers[first.layer].hidden, layers.length);
        } else if (op === 'Transpose' && same(attrInts(node, 'perm'), [1, 0, 2])) set(node, { ...first, timeMajor: !first.timeMajor });
        else if (op === 'ReduceMean' || op === 'ReduceMax') {
          const axes = attrInts(node, 'axes') ?? (ins[1] ? constInts(ins[1], node) : undefined);
          const t = first.timeMajor ? 0 : 1;
          if (!axes || axes.length !== 1 || (axes[0] !== t && axes[0] !== t - 3) || attrInt(node, 'keepdims', 1) !== 0)
            throw unsupported(node, `a reduction that is not over the time axis ${t} with keepdims 0`);
          if (first.layer !== layers.length - 1) throw unsupported(node, 'pooling over a layer other than the last');
          set(node, {
            r: 'head',
            pooling: op === 'ReduceMean' ? 'mean' : 'max',
            dense: [],
            pendingMatMul: null,
            pendingDims: [],
            out: null,
          });
        } else if (op === 'MatMul' || op === 'Gemm') {
          if (first.timeMajor) throw unsupported(node, 'a dense layer on time-major outputs');
          if (first.layer !== layers.length - 1) throw unsupported(node, 'a head on a layer other than the last');
          denseOp(
            node,
            ins,
            { r: 'head', pooling: 'sequence', dense: [], pendingMatMul: null, pendingDims: [], out: null },
            layers[first.layer].directions * layers[first.layer].hidden,
          );
        } else throw unsupported(node, 'on the LSTM outputs');
        break;
      }
      case 'Y': {
        const info = layers[first.layer];
        if (op === 'Squeeze' && info.directions === 1 && same(squeezeAxes(node, ins), [1]))
          set(node, { r: 'seq', layer: first.layer, timeMajor: true });
        else if (op === 'Transpose' && same(attrInts(node, 'perm'), [0, 2, 1, 3])) set(node, { r: 'Yt', layer: first.layer });
        else throw unsupported(node, 'on an LSTM output Y (expected Squeeze(1) or Transpose(0, 2, 1, 3))');
        break;
      }
      case 'Yt': {
        const shape = op === 'Reshape' ? constInts(ins[1]!, node) : null;
        const p = layers[first.layer].directions * layers[first.layer].hidden;
        if (shape && shape.length === 3 && shape[0] === 0 && shape[1] === 0 && (shape[2] === -1 || shape[2] === p))
          set(node, { r: 'seq', layer: first.layer, timeMajor: true });
        else throw unsupported(node, 'on a transposed LSTM output (expected Reshape to (T, B, D·H))');
        break;
      }
      case 'hn': {
        if (op === 'Concat' && attrInt(node, 'axis', 0) === 0 && inRoles.every((r) => r?.r === 'hn')) {
          set(node, { r: 'hn', entries: inRoles.flatMap((r) => (r as { entries: [number, number][] }).entries) });
        } else if (op === 'Gather' && attrInt(node, 'axis', 0) === 0) {
          const idx = role(ins[1]!, node);
          if (idx.r !== 'const' || !idx.c.ints || idx.c.dims.length !== 0)
            throw unsupported(node, 'a Gather of final states with a non-scalar or non-constant index');
          const k = idx.c.ints[0] < 0 ? idx.c.ints[0] + first.entries.length : idx.c.ints[0];
          if (!(k >= 0 && k < first.entries.length))
            throw new DataError(`Gather index ${idx.c.ints[0]} is out of range for ${first.entries.length} final states`);
          set(node, { r: 'hvec', entries: [first.entries[k]] });
        } else if (op === 'Squeeze' && first.entries.length === 1 && same(squeezeAxes(node, ins), [0])) {
          set(node, { r: 'hvec', entries: first.entries });
        } else if (op === 'Slice') {
          const starts = constInts(ins[1]!, node);
          const ends = constInts(ins[2]!, node);
          const axes = ins[3] ? constInts(ins[3], node) : [0];
          if (axes.length !== 1 || axes[0] !== 0 || (ins[4] && constInts(ins[4], node).some((s) => s !== 1)))
            throw unsupported(node, 'a Slice of final states not along axis 0 with step 1');
          const n = first.entries.length;
          const clamp = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
          set(node, { r: 'hn', entries: first.entries.slice(clamp(starts[0]), clamp(ends[0])) });
        } else if (op === 'Transpose' && same(attrInts(node, 'perm'), [1, 0, 2])) {
          set(node, { r: 'hnT', entries: first.entries });
        } else throw unsupported(node, 'on the LSTM final states');
        break;
      }
      case 'hnT': {
        const shape = op === 'Reshape' ? constInts(ins[1]!, node) : null;
        if (
          shape &&
          shape.length === 2 &&
          shape[0] === 0 &&
          (shape[1] === -1 || shape[1] === first.entries.length * layers[layers.length - 1].hidden)
        )
          set(node, { r: 'hvec', entries: first.entries });
        else throw unsupported(node, 'on batch-first final states (expected Reshape to (B, k·H))');
        break;
      }
      case 'hvec': {
        if (
          op === 'Concat' &&
          (attrInt(node, 'axis', 0) === 1 || attrInt(node, 'axis', 0) === -1) &&
          inRoles.every((r) => r?.r === 'hvec')
        ) {
          set(node, { r: 'hvec', entries: inRoles.flatMap((r) => (r as { entries: [number, number][] }).entries) });
        } else if (op === 'Gemm' || op === 'MatMul') {
          denseOp(
            node,
            ins,
            { r: 'head', pooling: lastPooling(node, first.entries), dense: [], pendingMatMul: null, pendingDims: [], out: null },
            first.entries.length * layers[layers.length - 1].hidden,
          );
        } else throw unsupported(node, 'on the final hidden states');
        break;
      }
      case 'Yc':
        throw unsupported(node, 'the LSTM final cell state feeds the model (cellstate pools hidden states only)');
      case 'head': {
        const last = first.dense[first.dense.length - 1];
        if (op === 'Concat') {
          // torch.cat([y.max(1).values, y.mean(1)], 1): max-mean pooling, the maximum first.
          const pooled = (r: Role | null, p: string) =>
            r?.r === 'head' && r.pooling === p && r.dense.length === 0 && !r.pendingMatMul && !r.out;
          const axis = attrInt(node, 'axis', 0);
          if (inRoles.length === 2 && pooled(inRoles[0], 'max') && pooled(inRoles[1], 'mean') && (axis === 1 || axis === -1))
            set(node, { ...first, pooling: 'max-mean' });
          else throw unsupported(node, 'a Concat of pooled outputs other than cat([max over time, mean over time], 1)');
          break;
        }
        if (first.out) throw unsupported(node, `after the output activation`);
        if (first.pendingMatMul) {
          if (op !== 'Add') throw unsupported(node, 'after MatMul (expected Add of the bias)');
          const b = constFloats(ins[1]!, node);
          pushDense(node, first, first.pendingMatMul, first.pendingDims, b.floats);
        } else if (op === 'Relu' || op === 'Tanh') {
          if (!last || last.activation !== 'linear') throw unsupported(node, `${op} where no dense layer precedes it`);
          set(node, { ...first, dense: [...first.dense.slice(0, -1), { ...last, activation: op === 'Relu' ? 'relu' : 'tanh' }] });
        } else if (op === 'Sigmoid' || op === 'Softmax') {
          if (!last || last.activation !== 'linear') throw unsupported(node, `${op} where no dense layer precedes it`);
          if (op === 'Softmax' && ![-1, first.pooling === 'sequence' ? 2 : 1].includes(attrInt(node, 'axis', -1)))
            throw unsupported(node, 'a Softmax not over the units');
          set(node, { ...first, out: op === 'Sigmoid' ? 'sigmoid' : 'softmax' });
        } else if (op === 'Gemm' || op === 'MatMul') {
          const l = layers[layers.length - 1];
          denseOp(node, ins, first, last ? last.units : (first.pooling === 'max-mean' ? 2 : 1) * l.directions * l.hidden);
        } else throw unsupported(node, 'in the dense head (expected Gemm, MatMul + Add, Relu, Tanh, Sigmoid or Softmax)');
        break;
      }
      default:
        throw unsupported(node, `on a ${first.r} value`);
    }
  }

  function lstmOp(node: NodeProto, ins: (string | null)[], inRoles: (Role | null)[], width: number, layer: number) {
    const a = attrs(node);
    const h = attrInt(node, 'hidden_size', 0);
    const direction = attrString(node, 'direction', 'forward');
    if (direction === 'reverse') throw unsupported(node, "direction 'reverse' alone (PyTorch's bidirectional is 'bidirectional')");
    const acts = (a.activations?.strings ?? []).map((s) => utf8.decode(s).toLowerCase());
    if (acts.length && acts.join(',') !== (direction === 'bidirectional' ? 'sigmoid,tanh,tanh,sigmoid,tanh,tanh' : 'sigmoid,tanh,tanh')) {
      throw unsupported(node, `activations ${acts.join(', ')} (cellstate computes sigmoid, tanh, tanh)`);
    }
    if (a.clip) throw unsupported(node, 'clip (cellstate does not clip cell inputs)');
    if (attrInt(node, 'input_forget', 0) !== 0) throw unsupported(node, 'input_forget = 1 (coupled gates)');
    if (ins[4]) throw unsupported(node, 'sequence_lens (packed sequences inside the graph)');
    for (const k of [5, 6]) if (ins[k] && inRoles[k]?.r !== 'zeros') throw unsupported(node, `a non-zero initial_${k === 5 ? 'h' : 'c'}`);
    if (ins[7]) throw unsupported(node, 'peephole weights P');
    const d = direction === 'bidirectional' ? 2 : 1;
    if (!(h > 0)) throw new DataError(`LSTM node '${node.name}' has no hidden_size`);
    const W = constFloats(ins[1]!, node);
    const R = constFloats(ins[2]!, node);
    const B = ins[3] ? constFloats(ins[3], node) : { dims: [d, 8 * h], floats: new Float32Array(d * 8 * h) };
    const expect = (what: string, c: Const, want: number[]) => {
      if (!same(c.dims, want))
        throw new DataError(
          `LSTM node '${node.name}' input ${what} has shape [${c.dims.join(', ')}]; hidden_size ${h}, ${d} direction(s) and input width ${width} need [${want.join(', ')}]`,
        );
    };
    expect('W', W, [d, 4 * h, width]);
    expect('R', R, [d, 4 * h, h]);
    expect('B', B, [d, 8 * h]);
    if (layer > 0 && (h !== layers[0].hidden || d !== layers[0].directions))
      throw unsupported(node, 'stacked layers of different sizes or directions');
    const weights: Record<string, Tensor> = {};
    for (let k = 0; k < d; k++) {
      const sfx = k === 1 ? '_reverse' : '';
      const g = 4 * h;
      weights[`lstm.weight_ih_l${layer}${sfx}`] = new Tensor(
        onnxToTorchGates(W.floats.slice(k * g * width, (k + 1) * g * width), h, width),
        [g, width],
      );
      weights[`lstm.weight_hh_l${layer}${sfx}`] = new Tensor(onnxToTorchGates(R.floats.slice(k * g * h, (k + 1) * g * h), h, h), [g, h]);
      weights[`lstm.bias_ih_l${layer}${sfx}`] = new Tensor(onnxToTorchGates(B.floats.slice(k * 2 * g, k * 2 * g + g), h, 1), [g]);
      weights[`lstm.bias_hh_l${layer}${sfx}`] = new Tensor(onnxToTorchGates(B.floats.slice(k * 2 * g + g, (k + 1) * 2 * g), h, 1), [g]);
    }
    layers.push({ hidden: h, directions: d, inputSize: width, weights });
    set(node, { r: 'Y', layer }, 0);
    set(node, { r: 'hn', entries: Array.from({ length: d }, (_, k) => [layer, k] as [number, number]) }, 1);
    set(node, { r: 'Yc' }, 2);
  }

  function lastPooling(node: NodeProto, entries: [number, number][]): 'last' {
    const l = layers.length - 1;
    const want = Array.from({ length: layers[l].directions }, (_, k) => [l, k]);
    if (!same(entries.flat(), want.flat())) {
      throw unsupported(
        node,
        `a head on final states [${entries.map(([a, b]) => `layer ${a} direction ${b}`).join(', ')}]; cellstate's 'last' pooling is the last layer's states, forward then backward`,
      );
    }
    return 'last';
  }

  function denseOp(node: NodeProto, ins: (string | null)[], head: Extract<Role, { r: 'head' }>, width: number) {
    const op = node.op_type;
    if (op === 'Gemm') {
      const a = attrs(node);
      if ((a.alpha && (a.alpha.f ?? 0) !== 1) || (a.beta && (a.beta.f ?? 0) !== 1) || attrInt(node, 'transA', 0) !== 0)
        throw unsupported(node, 'a Gemm with alpha/beta ≠ 1 or transA');
      const w = constFloats(ins[1]!, node);
      const transB = attrInt(node, 'transB', 0) === 1;
      const b = ins[2] ? constFloats(ins[2], node).floats : null;
      const units = transB ? w.dims[0] : w.dims[1];
      const weight = transB ? w.floats : transpose(w.floats, w.dims[0], w.dims[1]);
      if (w.dims.length !== 2 || (transB ? w.dims[1] : w.dims[0]) !== width)
        throw new DataError(`Gemm '${node.name}' weight has shape [${w.dims.join(', ')}]; its input has ${width} features`);
      pushDense(node, head, weight, [units, width], b ?? new Float32Array(units));
    } else {
      const w = constFloats(ins[1]!, node);
      if (w.dims.length !== 2 || w.dims[0] !== width)
        throw new DataError(`MatMul '${node.name}' weight has shape [${w.dims.join(', ')}]; its input has ${width} features`);
      set(node, { ...head, pendingMatMul: transpose(w.floats, w.dims[0], w.dims[1]), pendingDims: [w.dims[1], w.dims[0]] });
    }
  }

  function pushDense(node: NodeProto, head: Extract<Role, { r: 'head' }>, weight: Float32Array, dims: number[], bias: Float32Array) {
    if (bias.length !== dims[0]) throw new DataError(`dense layer '${node.name}' has ${bias.length} biases for ${dims[0]} units`);
    set(node, {
      ...head,
      pendingMatMul: null,
      pendingDims: [],
      dense: [...head.dense, { units: dims[0], width: dims[1], weight, bias, activation: 'linear' }],
    });
  }

  const outName = graph.output?.[0]?.name;
  if ((graph.output ?? []).length !== 1 || !outName)
    throw new ValueError(`the ONNX graph has ${(graph.output ?? []).length} outputs; cellstate imports graphs with one output`);
  const out = roles.get(outName);
  if (!out || out.r !== 'head' || out.dense.length === 0 || out.pendingMatMul) {
    throw new ValueError(
      `the ONNX graph's output '${outName}' is not a dense layer over pooled LSTM outputs (found ${out ? out.r : 'nothing'}); cellstate imports sequence models that end in Linear (+ sigmoid / softmax)`,
    );
  }
  if (layers.length === 0) throw new ValueError('the ONNX graph has no LSTM op');
  const fc = out.dense[out.dense.length - 1];
  if (fc.activation !== 'linear')
    throw new ValueError(
      `the ONNX graph ends in ${fc.activation} after its last dense layer; cellstate's output layer is linear, sigmoid or softmax`,
    );
  const activation: OutputSpec['activation'] = out.out ?? options.output ?? 'linear';
  if (out.out && options.output && options.output !== out.out)
    throw new ValueError(`options.output '${options.output}' contradicts the graph, which ends in ${out.out}`);
  if (activation === 'softmax' && fc.units < 2) throw new ValueError('a softmax output needs at least 2 units');
  const stateDict: Record<string, Tensor> = {};
  let inputSpec: SequenceModelConfig['input'];
  if (tokenInput && oneHot) inputSpec = 'one-hot';
  else if (tokenInput && embedding) {
    const e = embedding as Const & { floats: Float32Array };
    const dim = e.dims[1];
    stateDict['embedding.weight'] = new Tensor(e.floats.slice(), e.dims);
    // padding_idx is not in the graph; a zero row 0 is what nn.Embedding(padding_idx=0) leaves.
    const zeroRow = e.floats.subarray(0, dim).every((v) => v === 0);
    inputSpec = { embedding: dim, paddingIdx: zeroRow ? 0 : null };
  } else if (!tokenInput) inputSpec = { features: layers[0].inputSize };
  else throw new ValueError('the token input reaches the LSTM through neither OneHot nor an embedding Gather');
  for (const l of layers) Object.assign(stateDict, l.weights);
  const head: DenseLayerSpec[] = out.dense.slice(0, -1).map((d) => ({ units: d.units, activation: d.activation }));
  out.dense.forEach((d, i) => {
    const name = i === out.dense.length - 1 ? 'fc' : `head.${i}`;
    stateDict[`${name}.weight`] = new Tensor(d.weight, [d.units, d.width]);
    stateDict[`${name}.bias`] = new Tensor(d.bias, [d.units]);
  });
  const config: SequenceModelConfig = {
    input: inputSpec,
    ...(tokenInput ? { vocabSize: vocab! } : {}),
    lstm: { hiddenSize: layers[0].hidden, numLayers: layers.length, bidirectional: layers[0].directions === 2 },
    pooling: out.pooling,
    head,
    output: { units: fc.units, activation },
  };
  return { config, stateDict, inputName: input.name, ops };
}

function same(a: readonly number[] | undefined, b: readonly number[]): boolean {
  return !!a && a.length === b.length && a.every((v, i) => Number(v) === b[i]);
}

function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

/** Constant folding for the few ops whose constant results matter (index and axes arithmetic). */
function fold(node: NodeProto, inRoles: (Role | null)[]): Role {
  const cs = inRoles.map((r) => (r && r.r === 'const' ? r.c : null));
  const a = cs[0];
  if (!a) return { r: 'shape' };
  switch (node.op_type) {
    case 'Cast':
    case 'Reshape':
    case 'Unsqueeze':
    case 'Squeeze':
    case 'Expand':
      return { r: 'const', c: a };
    default:
      return { r: 'shape' };
  }
}

/**
 * Builds a cellstate model from ONNX bytes written by `torch.onnx.export` (or by {@link exportOnnx}
 * for unmasked models): the config {@link onnxToConfig} finds, with its weights loaded.
 * @throws {DataError} on bytes that are not an ONNX model or contradict themselves.
 * @throws {ValueError} naming the first op cellstate cannot map.
 * @throws {StateError} when no backend is given and `init()` has not run.
 */
export function importOnnx(bytes: Uint8Array | ArrayBuffer, options: OnnxImportOptions = {}): SequenceModel {
  const { config, stateDict } = onnxToConfig(bytes, options);
  return modelFromStateDict(config, stateDict, options.backend);
}

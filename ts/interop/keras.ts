/**
 * Keras / TF.js → cellstate: a TF.js Layers model (`model.json` with `modelTopology` + `weightsManifest`,
 * and its weight files, as `model.save` writes them) of a Sequential Embedding / LSTM / Dense model,
 * mapped to a {@link SequenceModelConfig} and a state dict under PyTorch's names.
 * Shapes: V vocabulary, E embedding, F features, H units, G = 4H.
 *
 * Keras' LSTM keeps kernel (F, G), recurrent_kernel (H, G) with gate columns (i, f, c, o) and one bias (G);
 * cellstate's weight_ih (G, F), weight_hh (G, H) have gate rows (i, f, g, o) and two biases: the kernels are
 * transposed (gates.ts), Keras' bias goes to bias_ih and zeros to bias_hh (their sum is what both compute).
 * Keras Dense kernels (in, out) are transposed to nn.Linear's (out, in).
 * TF.js' default (and Keras 1's) recurrent activation is hard_sigmoid, which cellstate does not compute:
 * such a model is refused, not silently approximated.
 */
import type { SequenceModel } from '../common';
import type { Backend, DenseLayerSpec, SequenceModelConfig } from '../common';
import { DataError, ValueError } from '../errors';
import { Tensor } from '../tensor';
import { kerasKernelToTorch } from './gates';
import { modelFromStateDict } from './model';

/** A TF.js `model.json` (the fields cellstate reads). */
export interface TfjsModelJson {
  modelTopology: {
    class_name?: string;
    config?: { layers?: KerasLayer[] } | KerasLayer[];
    model_config?: { class_name?: string; config?: { layers?: KerasLayer[] } };
  };
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype?: string; quantization?: unknown }[] }[];
}

interface KerasLayer {
  class_name: string;
  config: Record<string, unknown> & { name?: string; layer?: KerasLayer };
}

/** Options of {@link importTfjs}. */
export interface TfjsImportOptions {
  backend?: Backend;
}

type Weights = Map<string, { shape: number[]; data: Float32Array }>;

function readWeights(json: TfjsModelJson, data: ArrayBuffer | Uint8Array | (ArrayBuffer | Uint8Array)[]): Weights {
  const parts = (Array.isArray(data) ? data : [data]).map((d) => (d instanceof Uint8Array ? d : new Uint8Array(d)));
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const all = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.byteLength;
  }
  const out: Weights = new Map();
  let offset = 0;
  for (const group of json.weightsManifest ?? []) {
    for (const w of group.weights ?? []) {
      if ((w.dtype ?? 'float32') !== 'float32' || w.quantization)
        throw new ValueError(`TF.js weight '${w.name}' is ${w.quantization ? 'quantized' : w.dtype}; cellstate reads float32 weights`);
      const n = w.shape.reduce((a, b) => a * b, 1);
      if (offset + 4 * n > total)
        throw new DataError(
          `TF.js weights end at byte ${total}, but '${w.name}' [${w.shape.join(', ')}] needs bytes ${offset}..${offset + 4 * n}: is a weight file missing or truncated?`,
        );
      const view = new DataView(all.buffer, all.byteOffset + offset, 4 * n);
      const f = new Float32Array(n);
      for (let i = 0; i < n; i++) f[i] = view.getFloat32(4 * i, true);
      out.set(w.name, { shape: w.shape, data: f });
      offset += 4 * n;
    }
  }
  if (offset !== total) throw new DataError(`TF.js weight files hold ${total} bytes but the manifest describes ${offset}`);
  return out;
}

function layersOf(json: TfjsModelJson): KerasLayer[] {
  const topo = json?.modelTopology;
  if (!topo || typeof topo !== 'object') throw new DataError('not a TF.js Layers model.json: no modelTopology');
  const m = topo.model_config ?? topo;
  const cls = (m as { class_name?: string }).class_name;
  if (cls !== 'Sequential') throw new ValueError(`cellstate imports Sequential Keras / TF.js models; this one is '${String(cls)}'`);
  const cfg = (m as { config?: unknown }).config;
  const layers = Array.isArray(cfg) ? cfg : (cfg as { layers?: KerasLayer[] })?.layers;
  if (!Array.isArray(layers)) throw new DataError('the model topology has no layer list');
  return layers as KerasLayer[];
}

/**
 * Reads a TF.js Layers model (model.json + the bytes of its weight files, in manifest order) into a
 * cellstate config and state dict.
 * @throws {ValueError} naming the first layer or setting cellstate does not compute (hard_sigmoid gates,
 *   a GRU, go_backwards, stateful, ...), or a non-Sequential model.
 * @throws {DataError} when the weights do not match the manifest or the topology.
 */
export function tfjsToConfig(
  json: TfjsModelJson,
  weightData: ArrayBuffer | Uint8Array | (ArrayBuffer | Uint8Array)[],
): { config: SequenceModelConfig; stateDict: Record<string, Tensor> } {
  const layers = layersOf(json);
  const weights = readWeights(json, weightData);
  const byLayer = (name: string, suffix: string, part?: 'forward' | 'backward') => {
    for (const [k, v] of weights) {
      const inLayer = k.startsWith(`${name}/`);
      if (inLayer && k.endsWith(`/${suffix}`) && (!part || k.slice(name.length + 1).startsWith(part))) return v;
    }
    throw new DataError(`TF.js weights have no '${suffix}' for layer '${name}'${part ? ` (${part})` : ''}`);
  };
  const stateDict: Record<string, Tensor> = {};
  let input: SequenceModelConfig['input'] | null = null;
  let vocabSize: number | undefined;
  let mask = false;
  let lstmLayers = 0;
  let hidden = 0;
  let directions = 0;
  let width = 0;
  let returnSequences = false;
  let pooling: SequenceModelConfig['pooling'] | null = null;
  const dense: { units: number; activation: string; weight: Float32Array; bias: Float32Array; inputs: number }[] = [];
  for (const layer of layers) {
    const c = layer.config ?? {};
    const name = String(c.name ?? layer.class_name);
    const cls = layer.class_name;
    if (cls === 'InputLayer' || cls === 'Dropout' || cls === 'SpatialDropout1D') continue;
    if (cls === 'Embedding') {
      if (input) throw new ValueError(`Embedding layer '${name}' is not the first layer`);
      const e = byLayer(name, 'embeddings');
      vocabSize = Number(c.input_dim);
      input = { embedding: Number(c.output_dim), paddingIdx: null };
      if (!same(e.shape, [vocabSize, Number(c.output_dim)]))
        throw new DataError(`embedding '${name}' has shape [${e.shape.join(', ')}]; config says [${vocabSize}, ${c.output_dim}]`);
      stateDict['embedding.weight'] = new Tensor(e.data, e.shape);
      mask = c.mask_zero === true;
      width = Number(c.output_dim);
      continue;
    }
    if (cls === 'LSTM' || cls === 'Bidirectional') {
      const inner = cls === 'Bidirectional' ? c.layer : layer;
      if (!inner || inner.class_name !== 'LSTM')
        throw new ValueError(
          `unsupported Keras layer ${cls === 'Bidirectional' ? `Bidirectional(${inner?.class_name})` : cls} '${name}': cellstate computes LSTMs`,
        );
      if (cls === 'Bidirectional' && (c.merge_mode ?? 'concat') !== 'concat')
        throw new ValueError(`Bidirectional '${name}' merge_mode '${String(c.merge_mode)}': cellstate concatenates the directions`);
      const ic = inner.config;
      const ra = String(ic.recurrent_activation ?? 'hard_sigmoid');
      if (ra !== 'sigmoid') {
        throw new ValueError(
          `LSTM '${name}' uses recurrent_activation '${ra}' (${ra === 'hard_sigmoid' ? "TF.js' and old Keras' default" : 'not a sigmoid'}); cellstate computes true sigmoid gates, so the outputs would differ. Retrain with recurrent_activation: 'sigmoid'`,
        );
      }
      if ((ic.activation ?? 'tanh') !== 'tanh')
        throw new ValueError(`LSTM '${name}' activation '${String(ic.activation)}': cellstate computes tanh`);
      for (const k of ['go_backwards', 'stateful', 'return_state'] as const)
        if (ic[k] === true) throw new ValueError(`LSTM '${name}' has ${k}: true, which cellstate does not support`);
      if (ic.use_bias === false)
        throw new ValueError(`LSTM '${name}' has use_bias: false; cellstate's LSTM has biases (load zeros instead)`);
      if (pooling) throw new ValueError(`LSTM '${name}' comes after pooling`);
      if (lstmLayers > 0 && !returnSequences) throw new ValueError(`LSTM '${name}' follows an LSTM without return_sequences`);
      if (!input) {
        const shape = (ic.batch_input_shape ?? c.batch_input_shape) as (number | null)[] | undefined;
        if (!shape || shape.length !== 3 || !shape[2])
          throw new ValueError(`the first layer '${name}' is an LSTM without batch_input_shape [batch, steps, features]`);
        input = { features: Number(shape[2]) };
        width = Number(shape[2]);
      }
      const h = Number(ic.units);
      const d = cls === 'Bidirectional' ? 2 : 1;
      if (lstmLayers > 0 && (h !== hidden || d !== directions))
        throw new ValueError(`LSTM '${name}' differs in units or directions from the first LSTM; cellstate stacks equal layers`);
      const parts: ('forward' | 'backward' | undefined)[] = d === 2 ? ['forward', 'backward'] : [undefined];
      parts.forEach((part, k) => {
        const sfx = k === 1 ? '_reverse' : '';
        const kern = byLayer(name, 'kernel', part);
        const rec = byLayer(name, 'recurrent_kernel', part);
        const bias = byLayer(name, 'bias', part);
        if (!same(kern.shape, [width, 4 * h]) || !same(rec.shape, [h, 4 * h]) || !same(bias.shape, [4 * h])) {
          throw new DataError(
            `LSTM '${name}' weights have shapes [${kern.shape}], [${rec.shape}], [${bias.shape}]; ${h} units on ${width} inputs need [${width},${4 * h}], [${h},${4 * h}], [${4 * h}]`,
          );
        }
        const l = lstmLayers;
        stateDict[`lstm.weight_ih_l${l}${sfx}`] = new Tensor(kerasKernelToTorch(kern.data, width, h), [4 * h, width]);
        stateDict[`lstm.weight_hh_l${l}${sfx}`] = new Tensor(kerasKernelToTorch(rec.data, h, h), [4 * h, h]);
        stateDict[`lstm.bias_ih_l${l}${sfx}`] = new Tensor(bias.data.slice(), [4 * h]);
        stateDict[`lstm.bias_hh_l${l}${sfx}`] = new Tensor(new Float32Array(4 * h), [4 * h]);
      });
      lstmLayers++;
      hidden = h;
      directions = d;
      width = d * h;
      returnSequences = ic.return_sequences === true;
      continue;
    }
    if (cls === 'GlobalAveragePooling1D' || cls === 'GlobalMaxPooling1D') {
      if (!returnSequences || pooling || dense.length)
        throw new ValueError(`${cls} '${name}' must directly follow an LSTM with return_sequences`);
      pooling = cls === 'GlobalAveragePooling1D' ? 'mean' : 'max';
      continue;
    }
    if (cls === 'Dense' || (cls === 'TimeDistributed' && c.layer?.class_name === 'Dense')) {
      if (lstmLayers === 0) throw new ValueError(`Dense '${name}' before any LSTM`);
      const dc = cls === 'Dense' ? c : c.layer!.config;
      if (!pooling) pooling = returnSequences ? 'sequence' : 'last';
      const units = Number(dc.units);
      const kern = byLayer(name, 'kernel');
      if (!same(kern.shape, [width, units]))
        throw new DataError(`Dense '${name}' kernel has shape [${kern.shape.join(', ')}]; expected [${width}, ${units}]`);
      const bias = dc.use_bias === false ? { data: new Float32Array(units) } : byLayer(name, 'bias');
      dense.push({
        units,
        activation: String(dc.activation ?? 'linear'),
        weight: transpose(kern.data, width, units),
        bias: bias.data,
        inputs: width,
      });
      width = units;
      continue;
    }
    throw new ValueError(
      `unsupported Keras layer ${cls} '${name}'; cellstate imports Embedding, LSTM, Bidirectional(LSTM), GlobalAverage/MaxPooling1D, Dense, Dropout`,
    );
  }
  if (!input || lstmLayers === 0) throw new ValueError('the model has no LSTM layer');
  if (dense.length === 0) throw new ValueError("the model does not end in a Dense layer (cellstate's output layer)");
  const head: DenseLayerSpec[] = dense.slice(0, -1).map((d) => {
    if (!['relu', 'tanh', 'linear'].includes(d.activation))
      throw new ValueError(`a hidden Dense layer with activation '${d.activation}'; cellstate's hidden layers use relu, tanh or linear`);
    return { units: d.units, activation: d.activation as DenseLayerSpec['activation'] };
  });
  const fc = dense[dense.length - 1];
  if (!['sigmoid', 'softmax', 'linear'].includes(fc.activation))
    throw new ValueError(`the output Dense layer has activation '${fc.activation}'; cellstate's output is sigmoid, softmax or linear`);
  dense.forEach((d, i) => {
    const n = i === dense.length - 1 ? 'fc' : `head.${i}`;
    stateDict[`${n}.weight`] = new Tensor(d.weight, [d.units, d.inputs]);
    stateDict[`${n}.bias`] = new Tensor(d.bias, [d.units]);
  });
  if (mask && pooling === 'sequence')
    throw new ValueError("mask_zero with per-step outputs: cellstate's mask moves tokens, so it cannot keep per-step outputs in place");
  const config: SequenceModelConfig = {
    input,
    ...(vocabSize ? { vocabSize } : {}),
    lstm: { hiddenSize: hidden, numLayers: lstmLayers, bidirectional: directions === 2 },
    pooling: pooling!,
    head,
    output: { units: fc.units, activation: fc.activation as 'sigmoid' | 'softmax' | 'linear' },
    ...(mask ? { mask: true } : {}),
  };
  return { config, stateDict };
}

/**
 * Builds a cellstate model from a TF.js Layers model (model.json + weight bytes); see {@link tfjsToConfig}.
 * @throws {ValueError} on a layer or setting cellstate does not compute (hard_sigmoid gates included).
 * @throws {DataError} when the weights do not match the manifest.
 */
export function importTfjs(
  json: TfjsModelJson | string,
  weightData: ArrayBuffer | Uint8Array | (ArrayBuffer | Uint8Array)[],
  options: TfjsImportOptions = {},
): SequenceModel {
  let parsed: TfjsModelJson;
  try {
    parsed = typeof json === 'string' ? (JSON.parse(json) as TfjsModelJson) : json;
  } catch (e) {
    throw new DataError(`model.json is not JSON: ${(e as Error).message}`, { cause: e });
  }
  const { config, stateDict } = tfjsToConfig(parsed, weightData);
  return modelFromStateDict(config, stateDict, options.backend);
}

function same(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

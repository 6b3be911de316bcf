// Turning what a user picks into a model: a cellstate bundle (.safetensors with the config inside, as this
// page downloads or `model.toArrayBuffer()` writes), a directory saved by `cellstate imdb train --save`
// (config.json + model.safetensors [+ vocab.json], picked together or as one .zip), or a PyTorch state dict
// saved with `safetensors.torch.save_file` plus a config.json holding the cellstate model config
// (`{ "input": "one-hot", "vocabSize": 300, "lstm": { "hiddenSize": 16 }, ... }`, bare or in the saved form).
import { type SequenceModel, decodeSafetensors, encodeSafetensors, loadModel } from 'cellstate';
import { unzipSync } from 'fflate';
import { type VocabFile, VOCAB_META_KEY, checkVocab } from './vocab';

/** The `__metadata__` key of a bundle's config (ts/io/bundle.ts CONFIG_KEY). */
const CONFIG_KEY = 'cellstate.config';
const MODEL_FORMAT = 'cellstate.sequence-model';

export interface LoadedModel {
  model: SequenceModel;
  vocab: VocabFile | null;
  /** What was loaded, for the page. */
  name: string;
}

/** The vocab a bundle carries in its metadata, if this page (or anyone) put one there. */
export function bundleVocab(bytes: ArrayBuffer | Uint8Array): VocabFile | null {
  const text = decodeSafetensors(bytes).metadata[VOCAB_META_KEY];
  return text ? checkVocab(JSON.parse(text), 'the bundle vocab') : null;
}

/** A saved config (`{ format, version, model }`) from config.json text: the saved form as is, a bare model config wrapped. */
function savedConfig(text: string): string {
  const c = JSON.parse(text) as Record<string, unknown>;
  if (c.format === MODEL_FORMAT) return text;
  if (typeof c.format === 'string') throw new Error(`config.json is a ${c.format} file, not a cellstate model config`);
  return JSON.stringify({ format: MODEL_FORMAT, version: 1, model: c });
}

/** Weights (a directory's model.safetensors or a PyTorch state dict) + config.json → a loaded model. */
async function fromParts(weights: Uint8Array, configText: string): Promise<SequenceModel> {
  const { tensors, metadata } = decodeSafetensors(weights);
  metadata[CONFIG_KEY] = savedConfig(configText);
  return loadModel(encodeSafetensors(tensors, metadata));
}

/** Loads picked files (see the header for what is accepted). @throws {Error} saying what was expected. */
export async function loadPickedFiles(files: File[]): Promise<LoadedModel> {
  const byName = new Map<string, Uint8Array>();
  for (const f of files) {
    const bytes = new Uint8Array(await f.arrayBuffer());
    if (f.name.toLowerCase().endsWith('.zip')) {
      for (const [path, data] of Object.entries(unzipSync(bytes))) {
        if (data.length) byName.set(path.split('/').pop()!, data);
      }
    } else byName.set(f.name, bytes);
  }
  const weightsName = [...byName.keys()].find((n) => n.toLowerCase().endsWith('.safetensors'));
  if (!weightsName) throw new Error('no .safetensors file among the picked files');
  const weights = byName.get(weightsName)!;
  const configText = byName.has('config.json') ? new TextDecoder().decode(byName.get('config.json')) : null;
  const vocabBytes = byName.get('vocab.json');
  const vocab = vocabBytes ? checkVocab(JSON.parse(new TextDecoder().decode(vocabBytes)), 'vocab.json') : null;
  const name = files.map((f) => f.name).join(' + ');
  if (Object.hasOwn(decodeSafetensors(weights).metadata, CONFIG_KEY) && !configText) {
    return { model: await loadModel(weights), vocab: vocab ?? bundleVocab(weights), name };
  }
  if (!configText) {
    throw new Error(`${weightsName} holds weights only: pick its config.json too (and vocab.json to classify text)`);
  }
  return { model: await fromParts(weights, configText), vocab, name };
}

/** The pretrained model shipped with the page (web/public/model/, made by scripts/web-model). */
export async function loadShippedModel(base: URL): Promise<LoadedModel & { metrics: Record<string, unknown> }> {
  const get = async (f: string) => {
    const res = await fetch(new URL(f, base));
    if (!res.ok) throw new Error(`fetching ${f} failed: HTTP ${res.status}`);
    return res;
  };
  const [config, weights, vocab, metrics] = await Promise.all(
    ['config.json', 'model.safetensors', 'vocab.json', 'metrics.json'].map((f) => get(f)),
  );
  const model = await fromParts(new Uint8Array(await weights.arrayBuffer()), await config.text());
  return {
    model,
    vocab: checkVocab(await vocab.json(), 'model/vocab.json'),
    metrics: (await metrics.json()) as Record<string, unknown>,
    name: 'pretrained',
  };
}

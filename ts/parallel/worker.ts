/**
 * The worker side of the data-parallel engine, independent of the transport: one wasm backend instance and
 * one model per worker, driven by {@link Request}s. The Node and browser entries only connect it to their
 * message port.
 */
import { loadBackend } from '../backend';
import { SequenceModel } from '../model';
import type { TensorLike } from '../tensor';
import type { Reply, Request } from './protocol';

/** Answers requests for one worker; keeps the model and the weight version it last loaded. */
export function createHandler(): (req: Request) => Promise<Reply> {
  let model: SequenceModel | null = null;
  let version = -1;
  const need = (): SequenceModel => {
    if (!model) throw new Error('worker: no model (the pool sends init first)');
    return model;
  };
  const load = (w?: { version: number; params: Record<string, TensorLike> }) => {
    if (w && w.version !== version) {
      need().loadStateDict(w.params);
      version = w.version;
    }
  };
  return async (req) => {
    try {
      switch (req.type) {
        case 'init': {
          const backend = await loadBackend({ backend: 'wasm', ...req.backend });
          model?.dispose();
          model = new SequenceModel(req.config, { backend });
          return { id: req.id, ok: true, type: 'init', kernels: backend.kernels, wasmBuild: backend.wasmBuild };
        }
        case 'gradients': {
          load(req.weights);
          const m = need();
          const { shard } = req;
          const s = m.computeGradients({ data: shard.data, shape: shard.shape, lengths: shard.lengths }, shard.targets!);
          const grads = Object.fromEntries(Object.entries(m.gradients()).map(([k, t]) => [k, { data: t.data, shape: [...t.shape] }]));
          return { id: req.id, ok: true, type: 'gradients', loss: s.loss, correct: s.correct, count: s.count, terms: s.terms, grads };
        }
        case 'predict': {
          load(req.weights);
          const { shard } = req;
          const out = need().predict({ data: shard.data, shape: shard.shape, lengths: shard.lengths }, { batchSize: req.batchSize });
          return { id: req.id, ok: true, type: 'predict', output: { data: out.data, shape: [...out.shape] } };
        }
        case 'close':
          model?.dispose();
          model = null;
          return { id: req.id, ok: true, type: 'close' };
      }
    } catch (e) {
      const err = e as Error;
      return { id: req.id, ok: false, error: { name: err?.name ?? 'Error', message: err?.message ?? String(e) } };
    }
  };
}

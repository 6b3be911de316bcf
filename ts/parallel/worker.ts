/**
 * The worker side of the data-parallel engine, independent of the transport: one wasm backend instance and
 * one model per worker, driven by {@link Request}s. The Node and browser entries only connect it to their
 * message port.
 */
import { type Backend, loadBackend } from '../backend';
import { SequenceModel } from '../model';
import type { TensorLike } from '../tensor';
import { toPlainError } from '../worker/protocol';
import type { Reply, Request } from './protocol';

/** Answers requests for one worker; keeps the model and the weight version it last loaded. */
export function createHandler(): (req: Request) => Promise<Reply> {
  let backend: Backend | null = null;
  let model: SequenceModel | null = null;
  let version = -1;
  const need = (): SequenceModel => {
    if (!model) throw new Error('worker: no model (the pool sends load first)');
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
          backend ??= await loadBackend({ backend: 'wasm', ...req.backend });
          return { id: req.id, ok: true, type: 'init', kernels: backend.kernels, wasmBuild: backend.wasmBuild };
        }
        case 'load': {
          if (!backend) throw new Error('worker: no backend (the pool sends init first)');
          model?.dispose();
          model = null;
          model = new SequenceModel(req.config, { backend });
          version = -1;
          return { id: req.id, ok: true, type: 'load' };
        }
        case 'gradients': {
          load(req.weights);
          const m = need();
          const { shard } = req;
          const s = m.computeGradients({ data: shard.data, shape: shard.shape, lengths: shard.lengths }, shard.targets!);
          const grads = m.gradientsFlat();
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
      return { id: req.id, ok: false, error: toPlainError(e) };
    }
  };
}

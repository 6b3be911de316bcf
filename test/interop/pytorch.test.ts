/**
 * PyTorch ⇄ cellstate without PyTorch: the files scripts/interop-check wrote with torch (committed).
 *  - cellstate-trained/: a model cellstate trained and saved; torch-output.json holds what the matching
 *    torch.nn module computed after load_state_dict(strict=True) of these weights.
 *  - torch-trained.safetensors: a model PyTorch trained, saved with safetensors.torch.save_file; its
 *    config and torch's outputs in torch-trained.json.
 * Both must agree within 1e-5 (float32 round-off; measured 6e-8 to 9e-8 by interop-check).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SequenceModel, decodeSafetensors, init, loadModel } from '../../ts/index';
import { interopFixtures, maxAbsDiff } from './helpers';

const TOL = 1e-5;

beforeAll(async () => {
  await init();
});

describe('PyTorch ⇄ cellstate (committed torch results)', () => {
  it('a cellstate-trained model gives the outputs torch computed with its weights', async () => {
    const dir = join(interopFixtures, 'cellstate-trained');
    const ref = JSON.parse(readFileSync(join(dir, 'torch-output.json'), 'utf8'));
    const model = await loadModel(dir);
    try {
      const got = model.predict({ data: Int32Array.from(ref.x.data), shape: ref.x.shape, lengths: ref.lengths });
      expect(got.shape).toEqual(ref.output.shape);
      expect(maxAbsDiff(got.data, ref.output.data)).toBeLessThanOrEqual(TOL);
    } finally {
      model.dispose();
    }
  });

  it('a PyTorch-trained state dict (safetensors.torch.save_file) loads strictly and reproduces torch', () => {
    const ref = JSON.parse(readFileSync(join(interopFixtures, 'torch-trained.json'), 'utf8'));
    const { tensors } = decodeSafetensors(readFileSync(join(interopFixtures, 'torch-trained.safetensors')));
    const model = new SequenceModel(ref.config);
    try {
      expect(Object.keys(tensors).sort()).toEqual([...model.parameterNames].sort());
      model.loadStateDict(tensors);
      const got = model.predict({ data: Int32Array.from(ref.x.data), shape: ref.x.shape });
      expect(got.shape).toEqual(ref.output.shape);
      expect(maxAbsDiff(got.data, ref.output.data)).toBeLessThanOrEqual(TOL);
    } finally {
      model.dispose();
    }
  });
});

/**
 * The last step every importer shares: a {@link SequenceModel} built from a mapped config and
 * loaded with its PyTorch-named state dict.
 */

import { SequenceModel } from '../common';
import type { Backend, SequenceModelConfig } from '../common';
import type { Tensor } from '../tensor';

/**
 * Builds the model and loads `stateDict` into it; the model is disposed when loading fails, so a
 * bad file leaks no handle.
 * @throws {StateError} when no backend is given and `init()` has not run.
 * @throws whatever `loadStateDict` throws for a missing or misshapen tensor.
 */
export function modelFromStateDict(
  config: SequenceModelConfig,
  stateDict: Record<string, Tensor>,
  backend: Backend | undefined,
): SequenceModel {
  const model = new SequenceModel(config, { backend });
  try {
    model.loadStateDict(stateDict);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

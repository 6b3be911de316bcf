// The demo's training presets: what the data worker loads and pads, the model config and the fit options.
import type { SequenceModelConfig } from 'cellstate';

export interface Preset {
  id: 'seed' | 'small';
  label: string;
  /** One line for the page. */
  summary: string;
  data: { numWords: number; maxlen: number; padding: 'pre' | 'post'; truncating: 'pre' | 'post' };
  model: SequenceModelConfig;
  fit: { epochs: number; batchSize: number; lr: number; clipNorm?: number };
}

export const PRESETS: Record<Preset['id'], Preset> = {
  // The seed notebook, as `cellstate imdb train --preset seed` (ts/cli/presets.ts).
  seed: {
    id: 'seed',
    label: 'Seed notebook',
    summary: 'one-hot 300 words, maxlen 100 (post), LSTM(16), last state, Adam 1e-3, batch 64',
    data: { numWords: 300, maxlen: 100, padding: 'post', truncating: 'post' },
    model: {
      input: 'one-hot',
      vocabSize: 300,
      lstm: { hiddenSize: 16 },
      pooling: 'last',
      seed: 0,
      output: { units: 1, activation: 'sigmoid' },
    },
    fit: { epochs: 10, batchSize: 64, lr: 1e-3 },
  },
  // The pretrained model's recipe (scripts/web-model): the strong preset's masking, max pooling, dropout and
  // clipping at a size that trains on the 2,000-review sample in well under a minute in wasm.
  small: {
    id: 'small',
    label: 'Small (the pretrained recipe)',
    summary: '3,000 words, maxlen 200 (pre-truncated), Embedding 16, LSTM(16) over true lengths, max pooling, dropout 0.3',
    data: { numWords: 3000, maxlen: 200, padding: 'post', truncating: 'pre' },
    model: {
      input: { embedding: 16 },
      vocabSize: 3000,
      lstm: { hiddenSize: 16 },
      pooling: 'max',
      mask: true,
      dropout: 0.3,
      seed: 0,
      output: { units: 1, activation: 'sigmoid' },
    },
    fit: { epochs: 10, batchSize: 64, lr: 2e-3, clipNorm: 1 },
  },
};

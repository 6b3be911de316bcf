/**
 * Training settings of `cellstate imdb train` and its presets. Every field can be overridden by a flag.
 *
 * `seed` is the seed notebook's model (PyTorch: 73.1% ± 0.8% over 5 seeds, one further run stalled at 59.7%).
 * `fast` and `strong` were chosen on validation accuracy (10% of the training reviews held out by movie, so
 * that no validation review shares a movie with a training review, as no test review does; the test set is
 * read once per run, after training); every measured run is in the README. PyTorch's reference
 * configuration for this project (Embedding 128 + BiLSTM 128 over true lengths, 20,000 words, maxlen 400,
 * 5 epochs) reached 85.8%.
 */

export interface TrainSettings {
  preset: string;
  /** Ids below numWords are kept (Keras' num_words); the vocabulary size of the model. */
  numWords: number;
  /** T: reviews are padded or cut to this many tokens. */
  maxlen: number;
  padding: 'pre' | 'post';
  truncating: 'pre' | 'post';
  /** First N reviews of each split after the loader's seeded shuffle; null = all. */
  trainSize: number | null;
  testSize: number | null;
  /** 0 = one-hot input of width numWords, else the embedding dimension. */
  embedding: number;
  /** Dropout on the embedded vectors (needs an embedding). */
  embeddingDropout: number;
  hidden: number;
  layers: number;
  bidirectional: boolean;
  pooling: 'last' | 'mean' | 'max' | 'max-mean';
  /** Skip padding (token 0) as packed sequences do. */
  mask: boolean;
  /** Dropout on the head's input (and between stacked LSTM layers). */
  dropout: number;
  lr: number;
  batchSize: number;
  epochs: number;
  /** Global gradient-norm clipping; null = none. */
  clipNorm: number | null;
  /** Seed of initialisation, dropout and batch order. */
  seed: number;
  /** Seed of the loader's shuffle (Keras: 113). */
  dataSeed: number;
  /**
   * Fraction of the training reviews (the last ones after the loader's shuffle) held out for validation: the
   * kept epoch is the one with the best validation accuracy, and the test set is evaluated once, on it.
   * 0 = none: the test set is evaluated after every epoch and the last epoch is kept (the notebook's way).
   */
  valSplit: number;
  /**
   * What `valSplit` holds out: whole movies (`holdOut` by movie, seeded with `dataSeed`: no validation review
   * shares a movie with a training review, as no test review does) or the last reviews.
   */
  valBy: 'movie' | 'review';
  /** Length-bucketed batches, each cut to its longest review (needs `mask`). */
  bucket: boolean;
  optimizer: 'adam' | 'adamw';
  /** L2 (Adam) or decoupled (AdamW) weight decay. */
  weightDecay: number;
  /** Learning rate over the run: constant, or cosine to 0 after a linear warm-up over `warmup` of the batches. */
  schedule: 'constant' | 'cosine';
  warmup: number;
  /** Stop after this many epochs without a better validation accuracy; null = never. */
  patience: number | null;
}

/** What the presets that predate validation and bucketing share: none of either, Adam at a constant lr. */
const PLAIN = {
  valSplit: 0,
  valBy: 'review',
  bucket: false,
  optimizer: 'adam',
  weightDecay: 0,
  schedule: 'constant',
  warmup: 0,
  patience: null,
} as const;

export const PRESETS: Record<string, TrainSettings> = {
  // The notebook: Keras' load_data(num_words=300), the first 15,000 / 10,000 reviews, pad_sequences(maxlen=100,
  // padding='post', truncating='post'), one-hot → LSTM(300 → 16) → Linear(16 → 1) on h_n, BCEWithLogits,
  // Adam 1e-3, batch 64, 10 epochs; padding is fed through the LSTM (no packing).
  seed: {
    preset: 'seed',
    numWords: 300,
    maxlen: 100,
    padding: 'post',
    truncating: 'post',
    trainSize: 15_000,
    testSize: 10_000,
    embedding: 0,
    embeddingDropout: 0,
    hidden: 16,
    layers: 1,
    bidirectional: false,
    pooling: 'last',
    mask: false,
    dropout: 0,
    lr: 1e-3,
    batchSize: 64,
    epochs: 10,
    clipNorm: null,
    seed: 0,
    dataSeed: 113,
    ...PLAIN,
  },
  // Embedding 64 + BiLSTM 64 over the true lengths, max-pooled over time: max pooling sees every position,
  // where h_n must carry the whole review; 'pre' truncation keeps a long review's ending (its verdict).
  // Chosen on a first run (seed 0, native): test accuracy 84.1%, 87.8%, 88.4% after epochs 1-3 and train
  // accuracy 92% by epoch 3, so 3 epochs (seed 1: 88.3%). On 2 quiet cores an epoch of 25,000 reviews takes
  // ~90 s and a test pass ~35 s: 6.5 min in all.
  // Embedding 64 → BiLSTM 64 over the true lengths, max-pooled; 'pre' truncation keeps a long review's ending
  // (its verdict). Length-bucketed batches (1.49× the samples/s at maxlen 400); 4 epochs under warm-up +
  // cosine, dropout 0.5 and AdamW's decoupled weight decay, because train accuracy passed 92% by epoch 3 at
  // dropout 0.3; the best epoch on validation is kept. 10,000 words, chosen on the validation split held out
  // by movie (README, "Measured accuracy": mean over seeds 0-2 of its 2,528 reviews, 88.82% against 88.79%
  // at batch 32 and 88.23% at 20,000 words, the `fast` before that).
  fast: {
    preset: 'fast',
    numWords: 10_000,
    maxlen: 400,
    padding: 'post',
    truncating: 'pre',
    trainSize: null,
    testSize: null,
    embedding: 64,
    embeddingDropout: 0,
    hidden: 64,
    layers: 1,
    bidirectional: true,
    pooling: 'max',
    mask: true,
    dropout: 0.5,
    lr: 3e-3,
    batchSize: 64,
    epochs: 4,
    clipNorm: 1,
    seed: 0,
    dataSeed: 113,
    valSplit: 0.1,
    valBy: 'movie',
    bucket: true,
    optimizer: 'adamw',
    weightDecay: 0.05,
    schedule: 'cosine',
    warmup: 0.05,
    patience: null,
  },
  // `fast` made wider (Embedding 128, BiLSTM 96), one epoch longer, at batch 32, and regularised with
  // dropout 0.3 on the embedded vectors: chosen on the validation split held out by movie (README, "Measured
  // accuracy"): 89.99%, 90.31%, 89.95% on seeds 0-2 (mean 90.08%) against 89.70% without the embedding dropout
  // and 88.92% (seed 0) at 20,000 words, the `strong` before that; two layers (90.11%, seed 0) tied within the
  // noise at twice the time, 6 epochs gave 89.95%.
  strong: {
    preset: 'strong',
    numWords: 10_000,
    maxlen: 400,
    padding: 'post',
    truncating: 'pre',
    trainSize: null,
    testSize: null,
    embedding: 128,
    embeddingDropout: 0.3,
    hidden: 96,
    layers: 1,
    bidirectional: true,
    pooling: 'max',
    mask: true,
    dropout: 0.5,
    lr: 3e-3,
    batchSize: 32,
    epochs: 5,
    clipNorm: 1,
    seed: 0,
    dataSeed: 113,
    valSplit: 0.1,
    valBy: 'movie',
    bucket: true,
    optimizer: 'adamw',
    weightDecay: 0.05,
    schedule: 'cosine',
    warmup: 0.05,
    patience: null,
  },
};

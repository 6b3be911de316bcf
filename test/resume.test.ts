/**
 * Training that survives being stopped: a run stopped at a checkpoint (every epoch, and every N batches)
 * and resumed from the saved bytes ends with the weights of the uninterrupted run, bit for bit, on each
 * backend; and a save cut short leaves either the previous checkpoint or the new one, never a broken model.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Checkpoint, type EpochLogs, SequenceModel, ValueError, loadModel, modelFromArrayBuffer, saveModel } from '../ts/index';
import { mulberry32 } from '../ts/data/rng';
import { backend, backendNames } from './helpers';

const config = {
  input: { embedding: 5 },
  vocabSize: 20,
  lstm: { hiddenSize: 6, numLayers: 2, dropout: 0.2 },
  dropout: 0.3,
  output: { units: 1, activation: 'sigmoid' as const },
  seed: 9,
};
const N = 22; // 6 batches of 4 per epoch, the last one short
const r = mulberry32(4);
const x = { data: Int32Array.from({ length: N * 7 }, () => Math.floor(r() * 20)), shape: [N, 7] };
const y = Float32Array.from({ length: N }, () => (r() > 0.5 ? 1 : 0));
const options = {
  epochs: 3,
  batchSize: 4,
  checkpointEvery: 2,
  lrSchedule: { type: 'cosine' as const },
  optimizer: { type: 'adam' as const, lr: 0.01 },
};

const weights = (m: SequenceModel) =>
  Object.values(m.stateDict()).flatMap((t) => Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length)));

class Killed extends Error {}

describe.each(backendNames)('resume on %s', (name) => {
  it('stopped at 3 seeded checkpoints and resumed from the saved bytes, ends bitwise as the uninterrupted run', async () => {
    const b = await backend(name);
    const whole = new SequenceModel(config, { backend: b });
    const seen: Checkpoint[] = [];
    await whole.fit(x, y, { ...options, onCheckpoint: (c) => void seen.push(c) });
    // Epoch ends and every 2nd batch inside an epoch: (0,2) (0,4) (1,0) (1,2) (1,4) (2,0) (2,2) (2,4) (3,0).
    expect(seen.length).toBe(9);
    const pick = mulberry32(17);
    const kills = new Set<number>();
    while (kills.size < 3) kills.add(Math.floor(pick() * (seen.length - 1)));
    for (const k of [...kills].sort()) {
      let count = 0;
      let saved: { bytes: ArrayBuffer; at: Checkpoint } | null = null;
      const first = new SequenceModel(config, { backend: b });
      const stopped = await first
        .fit(x, y, {
          ...options,
          onCheckpoint: (at) => {
            if (count++ !== k) return;
            saved = { bytes: first.toArrayBuffer(), at };
            throw new Killed(); // the process dies right after the checkpoint is written
          },
        })
        .catch((e: unknown) => e);
      expect(stopped).toBeInstanceOf(Killed);
      first.dispose();
      const { bytes, at } = saved!;
      const resumed = modelFromArrayBuffer(bytes, { backend: b });
      await resumed.fit(x, y, { ...options, initialEpoch: at.epoch, initialBatch: at.batch });
      expect(weights(resumed), `killed at checkpoint ${k} ${JSON.stringify(at)}`).toEqual(weights(whole));
      resumed.dispose();
    }
    whole.dispose();
  });

  it('with keepBestEpoch, a run resumed with its history and best weights selects over every epoch, as the uninterrupted run', async () => {
    const b = await backend(name);
    // Random labels and a high learning rate: the model overfits, validation loss is best early, so the kept
    // epoch lies before the checkpoints a run is resumed from (asserted, or the test would prove nothing).
    const opts = {
      ...options,
      epochs: 6,
      validationSplit: 0.25,
      keepBestEpoch: 'valLoss' as const,
      optimizer: { type: 'adam' as const, lr: 0.05 },
    };
    const flat = (m: SequenceModel) => Float32Array.from(Object.values(m.stateDict()).flatMap((t) => Array.from(t.data)));
    const whole = new SequenceModel(config, { backend: b });
    const full = await whole.fit(x, y, opts);
    expect(full.selectedEpoch).toBe(1);
    for (const stopAt of [9, 10]) {
      // 5 batches an epoch: checkpoint 9 is the end of epoch 3 (epoch 3, batch 0, 0-based), 10 is inside epoch 4.
      let count = 0;
      let saved: { bytes: ArrayBuffer; at: Checkpoint; logs: EpochLogs[]; best: Float32Array | undefined } | null = null;
      const logs: EpochLogs[] = [];
      let best: { loss: number; weights: Float32Array } | undefined;
      const first = new SequenceModel(config, { backend: b });
      const stopped = await first
        .fit(x, y, {
          ...opts,
          onCheckpoint: (at) => {
            if (++count !== stopAt) return;
            saved = { bytes: first.toArrayBuffer(), at, logs: [...logs], best: best?.weights };
            throw new Killed();
          },
          callbacks: {
            // Called before the epoch's checkpoint, so the checkpoint above holds every finished epoch's logs.
            onEpochEnd: (l) => {
              logs.push(l);
              if (!best || l.valLoss! < best.loss) best = { loss: l.valLoss!, weights: flat(first) };
            },
          },
        })
        .catch((e: unknown) => e);
      expect(stopped).toBeInstanceOf(Killed);
      first.dispose();
      const { bytes, at, logs: past, best: bestWeights } = saved!;
      expect(past.length).toBe(at.epoch);
      expect(at.epoch).toBeGreaterThan(full.selectedEpoch!);
      // Without its history the resumed run can only pick among the epochs it ran: another model.
      const blind = modelFromArrayBuffer(bytes, { backend: b });
      const blindHistory = await blind.fit(x, y, { ...opts, initialEpoch: at.epoch, initialBatch: at.batch });
      expect(blindHistory.selectedEpoch).toBeGreaterThanOrEqual(at.epoch);
      expect(weights(blind)).not.toEqual(weights(whole));
      blind.dispose();
      // Bad resume options are refused before any step, the model unchanged.
      const resumed = modelFromArrayBuffer(bytes, { backend: b });
      const before = weights(resumed);
      const resume = { ...opts, initialEpoch: at.epoch, initialBatch: at.batch };
      await expect(resumed.fit(x, y, { ...resume, initialHistory: past.slice(1), initialBestWeights: bestWeights })).rejects.toThrow(
        /initialHistory must be an array of the \d+ epochs before initialEpoch, got \d+ entries/,
      );
      await expect(resumed.fit(x, y, { ...resume, initialHistory: past })).rejects.toThrow(/initialBestWeights is needed/);
      await expect(resumed.fit(x, y, { ...resume, initialHistory: past, initialBestWeights: new Float32Array(3) })).rejects.toThrow(
        ValueError,
      );
      expect(weights(resumed)).toEqual(before);
      const history = await resumed.fit(x, y, { ...resume, initialHistory: past, initialBestWeights: bestWeights });
      expect(history.selectedEpoch).toBe(full.selectedEpoch);
      expect(history.epochs.map((l) => l.valLoss)).toEqual(full.epochs.map((l) => l.valLoss));
      expect(weights(resumed), `stopped at checkpoint ${stopAt} ${JSON.stringify(at)}`).toEqual(weights(whole));
      resumed.dispose();
    }
    whole.dispose();
  });

  it('a save cut short at any byte leaves the previous checkpoint, and the next save removes its temporary file', async () => {
    const b = await backend(name);
    const dir = mkdtempSync(join(tmpdir(), 'cellstate-resume-'));
    try {
      const m = new SequenceModel(config, { backend: b });
      await saveModel(m, dir);
      const before = weights(m);
      m.trainBatch(x, y);
      const next = new Uint8Array(m.toArrayBuffer());
      // A killed save: its temporary file (of a process that is gone) holds a prefix of the new weights.
      for (const cut of [0, 1, 8, 100, next.length >> 1, next.length - 1]) {
        writeFileSync(join(dir, `.model.safetensors.999999999.${'0'.repeat(11)}${cut % 10}.tmp`), next.subarray(0, cut));
        const loaded = await loadModel(dir, { backend: b });
        expect(weights(loaded)).toEqual(before);
        loaded.dispose();
      }
      await saveModel(m, dir);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      const loaded = await loadModel(dir, { backend: b });
      expect(weights(loaded)).toEqual(weights(m));
      loaded.dispose();
      m.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

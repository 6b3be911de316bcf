// Module worker: reads an IMDB source (the shipped sample by URL, or a tarball / Keras npz the user picked),
// reporting the compressed bytes read, then pads both splits for a preset and sends them back as
// transferable typed arrays with the vocab. Parsing the full 80 MB tarball takes seconds: off the page.
import { type Split, WordIndex, loadImdb, padSequences, takeReviews } from 'cellstate';
import { type VocabFile, vocabOf } from './vocab';

export interface DataRequest {
  source: { url: string } | { file: File; wordIndex?: File };
  numWords: number;
  maxlen: number;
  padding: 'pre' | 'post';
  truncating: 'pre' | 'post';
  /** At most this many reviews per split (the first ones after Keras' seeded shuffle). */
  trainSize: number;
  testSize: number;
}

export interface PaddedSplit {
  x: Int32Array;
  shape: [number, number];
  y: Float32Array;
}

export type DataMessage =
  | { type: 'progress'; loaded: number; total: number | null }
  | { type: 'done'; train: PaddedSplit; test: PaddedSplit; vocab: VocabFile | null; seconds: number }
  | { type: 'error'; message: string };

function counted(stream: ReadableStream<Uint8Array>, total: number | null): ReadableStream<Uint8Array> {
  let loaded = 0;
  let last = 0;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        loaded += chunk.byteLength;
        const now = performance.now();
        if (now - last > 50) {
          last = now;
          postMessage({ type: 'progress', loaded, total } satisfies DataMessage);
        }
        c.enqueue(chunk);
      },
      flush() {
        postMessage({ type: 'progress', loaded, total: total ?? loaded } satisfies DataMessage);
      },
    }),
  );
}

async function open(source: DataRequest['source']): Promise<ReadableStream<Uint8Array>> {
  if ('url' in source) {
    const res = await fetch(source.url);
    if (!res.ok || !res.body) throw new Error(`fetching ${source.url} failed: HTTP ${res.status}`);
    const length = Number(res.headers.get('content-length'));
    return counted(res.body, length > 0 ? length : null);
  }
  return counted(source.file.stream() as ReadableStream<Uint8Array>, source.file.size);
}

function pad(split: Split, r: DataRequest): PaddedSplit {
  const p = padSequences(split, { maxlen: r.maxlen, padding: r.padding, truncating: r.truncating });
  return { x: p.data, shape: p.shape, y: Float32Array.from(split.labels) };
}

onmessage = async (e: MessageEvent<DataRequest>) => {
  const r = e.data;
  const t0 = performance.now();
  try {
    const wordIndex =
      'file' in r.source && r.source.wordIndex
        ? new WordIndex(JSON.parse(await r.source.wordIndex.text()) as Record<string, number>)
        : undefined;
    const imdb = await loadImdb({
      source: await open(r.source),
      numWords: r.numWords,
      ...(wordIndex ? { wordIndex } : {}),
    });
    // loadImdb's trainSize refuses a size above what the file has; here "at most" is meant (the sample has 2,000).
    const first = (split: Split, n: number) =>
      takeReviews(
        split,
        Array.from({ length: Math.min(n, split.labels.length) }, (_, i) => i),
      );
    const train = pad(first(imdb.train, r.trainSize), r);
    const test = pad(first(imdb.test, r.testSize), r);
    const vocab = imdb.wordIndex ? vocabOf(imdb.wordIndex, r) : null;
    const done: DataMessage = { type: 'done', train, test, vocab, seconds: (performance.now() - t0) / 1000 };
    postMessage(done, { transfer: [train.x.buffer, train.y.buffer, test.x.buffer, test.y.buffer] });
  } catch (err) {
    postMessage({ type: 'error', message: (err as Error).message } satisfies DataMessage);
  }
};

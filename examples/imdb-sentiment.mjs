// The seed notebook's sentiment model, written with cellstate.
//
//   node examples/imdb-sentiment.mjs            # the sample of IMDB that ships with the package
//   CELLSTATE_IMDB=path/to/aclImdb_v1.tar.gz node examples/imdb-sentiment.mjs
//
// PyTorch / Keras lines it replaces:
//   (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=300)
//   x = pad_sequences(x_train[:15000], maxlen=100, padding='post', truncating='post')
//   model = nn.Sequential(one_hot(300), nn.LSTM(300, 16, batch_first=True), Linear(16, 1) on h_n)
//   loss BCEWithLogits, Adam(lr=1e-3), batch 64
import { init, loadImdb, padSequences, sequenceClassifier } from 'cellstate';

const backend = await init();
const real = Boolean(process.env.CELLSTATE_IMDB);
const { train, test, wordIndex } = await loadImdb({
  numWords: 300,
  sample: !real,
  trainSize: real ? 15000 : undefined,
  testSize: real ? 10000 : undefined,
});
const pad = (split) => padSequences(split, { maxlen: 100, padding: 'post', truncating: 'post' });
const [xTrain, xTest] = [pad(train), pad(test)];
console.log(`data: ${train.labels.length} train / ${test.labels.length} test reviews; backend ${backend.name} (${backend.kernels})`);

const model = sequenceClassifier({ input: 'one-hot', vocabSize: 300, lstm: { hiddenSize: 16 }, seed: 0 });
const epochs = Number(process.env.EPOCHS ?? 10);
await model.fit(xTrain, train.labels, {
  epochs,
  batchSize: 64,
  optimizer: { type: 'adam', lr: 1e-3 },
  validationData: [xTest, test.labels],
  callbacks: {
    onEpochEnd: (e) =>
      console.log(
        `epoch ${e.epoch + 1}/${epochs}: loss ${e.loss.toFixed(4)}, test loss ${e.valLoss.toFixed(4)}, test accuracy ${(100 * e.valAccuracy).toFixed(1)}% (${Math.round(e.samplesPerSecond)} samples/s)`,
      ),
  },
});

const reviews = ['This movie was wonderful, the acting was great and I loved it.', 'A boring, terrible film. The worst I have seen.'];
const ids = reviews.map((r) => wordIndex.encode(r)); // starts with the start id, as the training reviews do
const p = model.predict(padSequences(ids, { maxlen: 100, padding: 'post', truncating: 'post' }));
reviews.forEach((r, i) => console.log(`${p.data[i].toFixed(3)}  ${r}`));

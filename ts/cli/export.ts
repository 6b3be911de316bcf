/** `cellstate export`: a saved model (config.json + model.safetensors) to another format. */
import { writeFile } from 'node:fs/promises';
import { exportOnnx, init, loadModel } from '../index';
import { UsageError, choiceFlag, parse, strFlag } from './args';
import type { Io } from './imdb';

export const EXPORT_HELP = `Usage: cellstate export --model DIR --onnx FILE [options]

Writes a saved model (a directory with config.json + model.safetensors, e.g. from \`imdb train --save\`)
as an ONNX graph (opset 17) that ONNX Runtime runs with cellstate's outputs.

Options:
  --model DIR           the saved model
  --onnx FILE           where to write the .onnx file
  --lengths             add an int32 input 'lengths' (batch): true sequence lengths
  --token-type T        int32 (default) or int64: element type of the 'tokens' input
  --help, -h            print this help

Graph inputs: 'tokens' (batch, steps) for token models or 'x' (batch, steps, features); output 'output'
is what predict returns (probabilities, or values for a linear output).
`;

const OPTIONS = {
  model: { type: 'string' },
  onnx: { type: 'string' },
  lengths: { type: 'boolean' },
  'token-type': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function exportCommand(argv: string[], io: Io): Promise<number> {
  const { values: v } = parse(argv, OPTIONS, { command: 'export' });
  if (v.help) {
    io.out.write(EXPORT_HELP);
    return 0;
  }
  const dir = strFlag(v, 'model');
  const out = strFlag(v, 'onnx');
  if (!dir) throw new UsageError('export needs --model DIR (see `cellstate export --help`)');
  if (!out) throw new UsageError('export needs a target format: --onnx FILE (see `cellstate export --help`)');
  const tokenType = choiceFlag(v, 'token-type', ['int32', 'int64'] as const);
  await init();
  const model = await loadModel(dir);
  try {
    const bytes = exportOnnx(model, { lengths: v.lengths === true, tokenType });
    await writeFile(out, bytes);
    const c = model.config;
    const input =
      c.input === 'one-hot' || 'embedding' in c.input
        ? `tokens (batch, steps) ${tokenType ?? 'int32'}`
        : `x (batch, steps, ${c.input.features}) float32`;
    io.out.write(
      `wrote ${out} (${bytes.length.toLocaleString('en-US')} bytes, ONNX opset 17): input ${input}${v.lengths ? ', lengths (batch) int32' : ''}; output 'output'\n`,
    );
  } finally {
    model.dispose();
  }
  return 0;
}

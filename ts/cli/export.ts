/** `cellstate export`: a saved model (config.json + model.safetensors) to another format. */
import { writeFile } from 'node:fs/promises';
import { exportOnnx, init, loadModel } from '../index';
import { type FlagTable, UsageError, choiceFlag, helpOf, parse, strFlag } from './args';
import type { Io } from './imdb';

const OPTIONS: FlagTable = {
  model: { type: 'string', value: 'DIR', description: 'the saved model' },
  onnx: { type: 'string', value: 'FILE', description: 'where to write the .onnx file' },
  lengths: { type: 'boolean', description: "add an int32 input 'lengths' (batch): true sequence lengths" },
  'token-type': { type: 'string', value: 'int32|int64', default: 'int32', description: "element type of the 'tokens' input" },
  help: { type: 'boolean', short: 'h', description: 'print this help' },
};

export const EXPORT_HELP = `Usage: cellstate export --model DIR --onnx FILE [options]

Writes a saved model (a directory with config.json + model.safetensors, e.g. from \`imdb train --save\`)
as an ONNX graph (opset 17) that ONNX Runtime runs with cellstate's outputs.

Options:
${helpOf(OPTIONS)}
Graph inputs: 'tokens' (batch, steps) for token models or 'x' (batch, steps, features); output 'output'
is what predict returns (probabilities, or values for a linear output).
`;

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

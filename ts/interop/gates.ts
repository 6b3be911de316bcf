/**
 * Gate layouts of the LSTM weights, converted in this one place. Shapes: H hidden, G = 4H, K the columns
 * of a weight row block (F for input weights, H for recurrent ones, 1 for biases).
 *
 * - cellstate / PyTorch: rows of G in gate order (i, f, g, o); weight_ih (G, F), weight_hh (G, H), bias_ih, bias_hh.
 * - ONNX `LSTM`: rows of G in gate order (i, o, f, c) (c is PyTorch's g); W (D, G, F), R (D, G, H), B (D, 2G) = [Wb, Rb].
 * - Keras / TF.js `LSTM`: columns of G in gate order (i, f, c, o); kernel (F, G), recurrent_kernel (H, G), one bias (G).
 */

/** ONNX block k holds PyTorch block TORCH_OF_ONNX[k] (i←i, o←o, f←f, c←g). */
const TORCH_OF_ONNX = [0, 3, 1, 2];
/** PyTorch block k holds ONNX block ONNX_OF_TORCH[k]. */
const ONNX_OF_TORCH = [0, 2, 3, 1];

function permuteRowBlocks(w: Float32Array, hidden: number, cols: number, from: readonly number[]): Float32Array {
  const block = hidden * cols;
  if (w.length !== 4 * block) throw new RangeError(`gate block of ${w.length} values; expected 4·${hidden}·${cols}`);
  const out = new Float32Array(w.length);
  for (let k = 0; k < 4; k++) out.set(w.subarray(from[k] * block, (from[k] + 1) * block), k * block);
  return out;
}

/** PyTorch (i, f, g, o) rows → ONNX (i, o, f, c) rows; `cols` values per row. */
export function torchToOnnxGates(w: Float32Array, hidden: number, cols: number): Float32Array {
  return permuteRowBlocks(w, hidden, cols, TORCH_OF_ONNX);
}

/** ONNX (i, o, f, c) rows → PyTorch (i, f, g, o) rows; `cols` values per row. */
export function onnxToTorchGates(w: Float32Array, hidden: number, cols: number): Float32Array {
  return permuteRowBlocks(w, hidden, cols, ONNX_OF_TORCH);
}

/**
 * A Keras kernel (K, G) with gate columns (i, f, c, o) → PyTorch's (G, K) with gate rows (i, f, g, o).
 * Keras' gate order is PyTorch's (c is g), so this is a transpose.
 */
export function kerasKernelToTorch(kernel: Float32Array, rows: number, hidden: number): Float32Array {
  const g = 4 * hidden;
  if (kernel.length !== rows * g) throw new RangeError(`kernel of ${kernel.length} values; expected ${rows}·4·${hidden}`);
  const out = new Float32Array(kernel.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < g; c++) out[c * rows + r] = kernel[r * g + c];
  return out;
}

/** PyTorch (G, K) gate rows (i, f, g, o) → a Keras kernel (K, G) with gate columns (i, f, c, o). */
export function torchToKerasKernel(w: Float32Array, rows: number, hidden: number): Float32Array {
  const g = 4 * hidden;
  const out = new Float32Array(w.length);
  for (let c = 0; c < g; c++) for (let r = 0; r < rows; r++) out[r * g + c] = w[c * rows + r];
  return out;
}

// A one-LSTM-op ONNX model, protobuf bytes written by hand (the few fields of onnx.proto it needs), so
// the benchmark needs neither Python nor a protobuf library.
//   input x (B, T, F) batch-first -> Transpose(1, 0, 2) -> LSTM (time-major, the only layout ONNX
//   Runtime's CPU LSTM takes) -> Y_h (1, B, H) -> output h_T.
// The transpose is inside the graph so ONNX Runtime is timed on the same batch-first input as everyone.
// Gate order: PyTorch packs (i, f, g, o), ONNX wants (i, o, f, c); the rows of 4H are reordered here.

const enc = new TextEncoder();

function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

/** Concatenates protobuf fields; each field is [fieldNumber, wireType, value]. */
function msg(...fields) {
  const parts = [];
  for (const [num, kind, value] of fields) {
    if (value === undefined) continue;
    if (kind === 'varint') {
      parts.push(Uint8Array.from([...varint((num << 3) | 0), ...varint(value)]));
    } else {
      const bytes = typeof value === 'string' ? enc.encode(value) : value;
      parts.push(Uint8Array.from([...varint((num << 3) | 2), ...varint(bytes.length)]), bytes);
    }
  }
  // The byte join of ts/data/source.ts's concat, inlined: the bench runs without the TypeScript build.
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_INT = 2;
const ATTR_INTS = 7;

function tensor(name, dims, data) {
  const raw = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  // TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9 (little-endian float32)
  return msg(...dims.map((d) => [1, 'varint', d]), [2, 'varint', FLOAT], [8, 'bytes', name], [9, 'bytes', raw]);
}

function valueInfo(name, dims) {
  // ValueInfoProto { name = 1, type = 2 { tensor_type = 1 { elem_type = 1, shape = 2 { dim = 1 { dim_value = 1 | dim_param = 2 } } } } }
  const shape = msg(...dims.map((d) => [1, 'bytes', typeof d === 'string' ? msg([2, 'bytes', d]) : msg([1, 'varint', d])]));
  return msg([1, 'bytes', name], [2, 'bytes', msg([1, 'bytes', msg([1, 'varint', FLOAT], [2, 'bytes', shape])])]);
}

function node(opType, inputs, outputs, attributes) {
  // NodeProto { input = 1, output = 2, name = 3, op_type = 4, attribute = 5 }
  return msg(
    ...inputs.map((i) => [1, 'bytes', i]),
    ...outputs.map((o) => [2, 'bytes', o]),
    [3, 'bytes', opType.toLowerCase()],
    [4, 'bytes', opType],
    ...attributes.map((a) => [5, 'bytes', a]),
  );
}

function attrInt(name, v) {
  // AttributeProto { name = 1, i = 3, type = 20 }
  return msg([1, 'bytes', name], [3, 'varint', v], [20, 'varint', ATTR_INT]);
}

function attrInts(name, vs) {
  // AttributeProto { name = 1, ints = 8, type = 20 }
  return msg([1, 'bytes', name], ...vs.map((v) => [8, 'varint', v]), [20, 'varint', ATTR_INTS]);
}

/** Rows of 4H in PyTorch's (i, f, g, o) order to ONNX's (i, o, f, c). */
function reorderGates(w, H, cols) {
  const out = new Float32Array(w.length);
  const block = H * cols;
  const from = [0, 3, 1, 2]; // ONNX block k takes PyTorch block from[k]
  for (let k = 0; k < 4; k++) out.set(w.subarray(from[k] * block, (from[k] + 1) * block), k * block);
  return out;
}

/** The model's bytes for one unidirectional layer with PyTorch-named weights; batch left symbolic. */
export function lstmModel({ T, F, H }, weights) {
  const W = reorderGates(weights.weight_ih_l0, H, F);
  const R = reorderGates(weights.weight_hh_l0, H, H);
  const Bias = new Float32Array(8 * H);
  Bias.set(reorderGates(weights.bias_ih_l0, H, 1), 0);
  Bias.set(reorderGates(weights.bias_hh_l0, H, 1), 4 * H);
  const graph = msg(
    [1, 'bytes', node('Transpose', ['x'], ['x_tbf'], [attrInts('perm', [1, 0, 2])])],
    [1, 'bytes', node('LSTM', ['x_tbf', 'W', 'R', 'B'], ['', 'h_T'], [attrInt('hidden_size', H)])],
    [2, 'bytes', 'cellstate-bench-lstm'],
    [5, 'bytes', tensor('W', [1, 4 * H, F], W)],
    [5, 'bytes', tensor('R', [1, 4 * H, H], R)],
    [5, 'bytes', tensor('B', [1, 8 * H], Bias)],
    [11, 'bytes', valueInfo('x', ['batch', T, F])],
    [12, 'bytes', valueInfo('h_T', [1, 'batch', H])],
  );
  // ModelProto { ir_version = 1, producer_name = 2, graph = 7, opset_import = 8 { domain = 1, version = 2 } }
  return msg([1, 'varint', 8], [2, 'bytes', 'cellstate-bench'], [7, 'bytes', graph], [8, 'bytes', msg([2, 'varint', 14])]);
}

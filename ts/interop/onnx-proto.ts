/**
 * The subset of onnx.proto (IR version 8) that cellstate writes and reads, as a protobufjs reflection
 * descriptor: field names and numbers copied from the ONNX specification's `onnx/onnx.proto` (proto2), only
 * the messages a model of dense tensors needs. Fields not listed here (sparse tensors, functions, training
 * info, ...) are skipped when decoding, as protobuf does for unknown fields.
 *
 * Why protobufjs: it is the protobuf implementation most of the JS ecosystem uses (onnxruntime-web's own
 * tooling, gRPC's), works in Node and browsers without code generation (the `light` build takes a JSON
 * descriptor), handles varints, packed and unpacked repeated fields and int64 correctly, and skips unknown
 * fields: the parts of a hand-written encoder that are easy to get subtly wrong.
 */
import protobuf from 'protobufjs/light.js';
import { DataError } from '../errors';

// proto2: repeated scalars are unpacked unless the .proto says `[packed = true]` (only TensorProto's data fields).
const unpacked = { packed: false };
const packed = { packed: true };

const descriptor = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            ref_attr_name: { type: 'string', id: 21 },
            doc_string: { type: 'string', id: 13 },
            type: { type: 'int32', id: 20 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            g: { type: 'GraphProto', id: 6 },
            floats: { rule: 'repeated', type: 'float', id: 7, options: unpacked },
            ints: { rule: 'repeated', type: 'int64', id: 8, options: unpacked },
            strings: { rule: 'repeated', type: 'bytes', id: 9 },
            tensors: { rule: 'repeated', type: 'TensorProto', id: 10 },
            graphs: { rule: 'repeated', type: 'GraphProto', id: 11 },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'TypeProto', id: 2 },
            doc_string: { type: 'string', id: 3 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            op_type: { type: 'string', id: 4 },
            domain: { type: 'string', id: 7 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            doc_string: { type: 'string', id: 6 },
          },
        },
        StringStringEntryProto: {
          fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } },
        },
        ModelProto: {
          fields: {
            ir_version: { type: 'int64', id: 1 },
            opset_import: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            // Deliberate repeat: the ONNX schema's messages, field by field as onnx.proto declares them.
            producer_name: { type: 'string', id: 2 },
            producer_version: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            model_version: { type: 'int64', id: 5 },
            doc_string: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            metadata_props: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            doc_string: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
            value_info: { rule: 'repeated', type: 'ValueInfoProto', id: 13 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1, options: unpacked },
            data_type: { type: 'int32', id: 2 },
            float_data: { rule: 'repeated', type: 'float', id: 4, options: packed },
            int32_data: { rule: 'repeated', type: 'int32', id: 5, options: packed },
            string_data: { rule: 'repeated', type: 'bytes', id: 6 },
            int64_data: { rule: 'repeated', type: 'int64', id: 7, options: packed },
            name: { type: 'string', id: 8 },
            doc_string: { type: 'string', id: 12 },
            raw_data: { type: 'bytes', id: 9 },
            external_data: { rule: 'repeated', type: 'StringStringEntryProto', id: 13 },
            data_location: { type: 'int32', id: 14 },
            double_data: { rule: 'repeated', type: 'double', id: 10, options: packed },
            uint64_data: { rule: 'repeated', type: 'uint64', id: 11, options: packed },
          },
        },
        TensorShapeProto: {
          fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dim_value', 'dim_param'] } },
              fields: {
                dim_value: { type: 'int64', id: 1 },
                dim_param: { type: 'string', id: 2 },
                denotation: { type: 'string', id: 3 },
              },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensor_type'] } },
          fields: {
            tensor_type: { type: 'Tensor', id: 1 },
            denotation: { type: 'string', id: 6 },
          },
          nested: {
            Tensor: {
              fields: {
                elem_type: { type: 'int32', id: 1 },
                shape: { type: 'TensorShapeProto', id: 2 },
              },
            },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor);
const ModelProtoType = root.lookupType('onnx.ModelProto');

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;

/** AttributeProto.AttributeType values used here. */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

/** A decoded or to-be-encoded tensor; int64 values are plain numbers (ids, shapes, lengths fit in 2^53). */
export interface TensorProto {
  name?: string;
  dims?: number[];
  data_type?: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: number[];
  double_data?: number[];
  data_location?: number;
}

export interface AttributeProto {
  name: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
}

export interface NodeProto {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: AttributeProto[];
}

export interface Dimension {
  dim_value?: number;
  dim_param?: string;
}

export interface ValueInfoProto {
  name: string;
  type?: { tensor_type?: { elem_type?: number; shape?: { dim?: Dimension[] } } };
}

export interface GraphProto {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  doc_string?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  value_info?: ValueInfoProto[];
}

export interface ModelProto {
  ir_version?: number;
  opset_import?: { domain?: string; version?: number }[];
  producer_name?: string;
  producer_version?: string;
  doc_string?: string;
  graph?: GraphProto;
  metadata_props?: { key: string; value: string }[];
}

/** Serialises a model. @throws {DataError} when the message does not fit the schema (a bug in the caller). */
export function encodeModel(model: ModelProto): Uint8Array {
  const err = ModelProtoType.verify(model);
  if (err) throw new DataError(`ONNX model does not fit onnx.proto: ${err}`);
  return ModelProtoType.encode(ModelProtoType.fromObject(model)).finish();
}

/**
 * Parses ONNX protobuf bytes into plain objects (int64 as numbers, bytes as Uint8Array).
 * @throws {DataError} on bytes that are not a protobuf ModelProto (truncated, corrupt, another format).
 */
export function decodeModel(bytes: Uint8Array): ModelProto {
  let message: protobuf.Message;
  try {
    message = ModelProtoType.decode(bytes);
  } catch (e) {
    throw new DataError(`not a readable ONNX model (${(e as Error).message}); is the file truncated or of another format?`, { cause: e });
  }
  const model = ModelProtoType.toObject(message, {
    longs: Number,
    bytes: Uint8Array as unknown as typeof String,
    defaults: false,
    arrays: true,
  }) as ModelProto;
  if (!model.graph) throw new DataError('not an ONNX model: the bytes parse as protobuf but have no graph');
  return model;
}

/** A float32 initializer (raw little-endian data). */
export function floatTensor(name: string, dims: readonly number[], data: Float32Array): TensorProto {
  return {
    name,
    dims: [...dims],
    data_type: DataType.FLOAT,
    raw_data: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
  };
}

/** An int64 initializer. */
export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): TensorProto {
  const data = BigInt64Array.from(values.map((v) => BigInt(v)));
  return { name, dims: [...dims], data_type: DataType.INT64, raw_data: new Uint8Array(data.buffer) };
}

/** An int32 initializer. */
export function int32Tensor(name: string, dims: readonly number[], values: readonly number[]): TensorProto {
  const data = Int32Array.from(values);
  return { name, dims: [...dims], data_type: DataType.INT32, raw_data: new Uint8Array(data.buffer) };
}

function elementCount(t: TensorProto): number {
  return (t.dims ?? []).reduce((a, b) => a * b, 1);
}

function rawView(t: TensorProto, width: number): DataView {
  const raw = t.raw_data!;
  const n = elementCount(t);
  if (raw.byteLength !== n * width) {
    throw new DataError(
      `ONNX tensor '${t.name}' has ${raw.byteLength} bytes of data but shape [${(t.dims ?? []).join(', ')}] needs ${n * width}`,
    );
  }
  return new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
}

/**
 * A tensor's values as float32 (from FLOAT or DOUBLE data, raw or typed fields).
 * @throws {DataError} on external data, another element type, or a size that does not match the shape.
 */
export function tensorFloats(t: TensorProto): Float32Array {
  if (t.data_location === 1)
    throw new DataError(`ONNX tensor '${t.name}' keeps its data in an external file; save the model with the weights inside`);
  const n = elementCount(t);
  let out: Float32Array;
  if (t.data_type === DataType.FLOAT) {
    if (t.raw_data && t.raw_data.byteLength > 0) {
      const v = rawView(t, 4);
      out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = v.getFloat32(i * 4, true);
    } else out = Float32Array.from(t.float_data ?? []);
  } else if (t.data_type === DataType.DOUBLE) {
    if (t.raw_data && t.raw_data.byteLength > 0) {
      const v = rawView(t, 8);
      out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = v.getFloat64(i * 8, true);
    } else out = Float32Array.from(t.double_data ?? []);
  } else {
    throw new DataError(`ONNX tensor '${t.name}' has element type ${t.data_type}; expected float32 (1) or float64 (11)`);
  }
  if (out.length !== n)
    throw new DataError(`ONNX tensor '${t.name}' has ${out.length} values but shape [${(t.dims ?? []).join(', ')}] needs ${n}`);
  return out;
}

/** A tensor's values as numbers (INT64, INT32 or FLOAT data). @throws {DataError} on other types or bad sizes. */
export function tensorInts(t: TensorProto): number[] {
  const n = elementCount(t);
  let out: number[];
  if (t.data_type === DataType.INT64) {
    if (t.raw_data && t.raw_data.byteLength > 0) {
      const v = rawView(t, 8);
      out = Array.from({ length: n }, (_, i) => Number(v.getBigInt64(i * 8, true)));
    } else out = [...(t.int64_data ?? [])];
  } else if (t.data_type === DataType.INT32) {
    if (t.raw_data && t.raw_data.byteLength > 0) {
      const v = rawView(t, 4);
      out = Array.from({ length: n }, (_, i) => v.getInt32(i * 4, true));
    } else out = [...(t.int32_data ?? [])];
  } else if (t.data_type === DataType.FLOAT || t.data_type === DataType.DOUBLE) {
    out = Array.from(tensorFloats(t));
  } else {
    throw new DataError(`ONNX tensor '${t.name}' has element type ${t.data_type}; expected integers`);
  }
  if (out.length !== n)
    throw new DataError(`ONNX tensor '${t.name}' has ${out.length} values but shape [${(t.dims ?? []).join(', ')}] needs ${n}`);
  return out;
}

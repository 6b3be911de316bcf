/** A small builder for ONNX graphs: named values, nodes with typed attributes, initializers. */
import {
  AttrType,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
  floatTensor,
  int64Tensor,
} from './onnx-proto';

export type AttrValue = number | string | number[] | { float: number };

const utf8 = new TextEncoder();

function attribute(name: string, v: AttrValue): AttributeProto {
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: utf8.encode(v) };
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: v };
  if (typeof v === 'object') return { name, type: AttrType.FLOAT, f: v.float };
  return { name, type: AttrType.INT, i: v };
}

/** Collects nodes and initializers; value names are unique within the graph. */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  #count = 0;
  #names = new Set<string>();
  #reserved = new Set<string>();

  #fresh(base: string): string {
    let name = base;
    while (this.#names.has(name)) name = `${base}_${++this.#count}`;
    this.#names.add(name);
    return name;
  }

  /** Adds a node; returns its outputs' names (`outputs` names them or says how many to make). */
  op(type: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, outputs: number | readonly string[] = 1): string[] {
    const outs =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, (_, i) => this.#fresh(`${type.toLowerCase()}${i ? `_out${i}` : ''}`))
        : outputs.map((o) => (o === '' ? '' : this.#reserved.delete(o) ? o : this.#fresh(o)));
    this.nodes.push({
      op_type: type,
      name: this.#fresh(`node_${type}`),
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** One-output node. */
  op1(type: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, name?: string): string {
    return this.op(type, inputs, attrs, name ? [name] : 1)[0];
  }

  /** A float32 initializer. */
  floats(name: string, dims: readonly number[], data: Float32Array): string {
    const n = this.#fresh(name);
    this.initializers.push(floatTensor(n, dims, data));
    return n;
  }

  /** An int64 initializer (shapes, axes, constants). */
  ints(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const n = this.#fresh(name);
    this.initializers.push(int64Tensor(n, dims, values));
    return n;
  }

  /** Reserves a graph input or output name. */
  reserve(name: string): string {
    if (this.#names.has(name)) throw new Error(`duplicate ONNX value name ${name}`);
    this.#names.add(name);
    this.#reserved.add(name);
    return name;
  }
}

/** A tensor value_info with element type and dims (a string is a symbolic dimension). */
export function valueInfo(name: string, elemType: number, dims: readonly (number | string)[]): ValueInfoProto {
  return {
    name,
    type: {
      tensor_type: { elem_type: elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) } },
    },
  };
}

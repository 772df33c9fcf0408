/**
 * The subset of `onnx.proto` (ONNX IR, github.com/onnx/onnx/blob/main/onnx/onnx.proto) this project
 * writes and reads, as a protobufjs JSON descriptor. Field numbers and types are copied from
 * onnx.proto; unused fields are left out (protobuf readers skip unknown fields, and fields we do
 * not set are simply absent on the wire). Repeated numeric fields are written packed: onnx.proto is
 * proto2, but every protobuf parser must accept packed and unpacked encodings alike.
 *
 * Encoding is done by protobufjs (`protobufjs` in deno.json), never by hand.
 */

import protobuf from "protobufjs";

/** ONNX TensorProto.DataType values used here (onnx.proto `TensorProto.DataType`). */
export const DataType = { FLOAT: 1, INT64: 7, DOUBLE: 11 } as const;

/** ONNX AttributeProto.AttributeType values (onnx.proto `AttributeProto.AttributeType`). */
export const AttrType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const;

const packed = { packed: true };

const descriptor = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: "int64", id: 1 },
            opsetImport: { rule: "repeated", type: "OperatorSetIdProto", id: 8 },
            producerName: { type: "string", id: 2 },
            producerVersion: { type: "string", id: 3 },
            domain: { type: "string", id: 4 },
            modelVersion: { type: "int64", id: 5 },
            docString: { type: "string", id: 6 },
            graph: { type: "GraphProto", id: 7 },
            metadataProps: { rule: "repeated", type: "StringStringEntryProto", id: 14 },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: "string", id: 1 }, version: { type: "int64", id: 2 } },
        },
        StringStringEntryProto: {
          fields: { key: { type: "string", id: 1 }, value: { type: "string", id: 2 } },
        },
        GraphProto: {
          fields: {
            node: { rule: "repeated", type: "NodeProto", id: 1 },
            name: { type: "string", id: 2 },
            initializer: { rule: "repeated", type: "TensorProto", id: 5 },
            docString: { type: "string", id: 10 },
            input: { rule: "repeated", type: "ValueInfoProto", id: 11 },
            output: { rule: "repeated", type: "ValueInfoProto", id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: "repeated", type: "string", id: 1 },
            output: { rule: "repeated", type: "string", id: 2 },
            name: { type: "string", id: 3 },
            opType: { type: "string", id: 4 },
            domain: { type: "string", id: 7 },
            attribute: { rule: "repeated", type: "AttributeProto", id: 5 },
            docString: { type: "string", id: 6 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: "string", id: 1 },
            type: { type: "int32", id: 20 },
            f: { type: "float", id: 2 },
            i: { type: "int64", id: 3 },
            s: { type: "bytes", id: 4 },
            t: { type: "TensorProto", id: 5 },
            floats: { rule: "repeated", type: "float", id: 7, options: packed },
            ints: { rule: "repeated", type: "int64", id: 8, options: packed },
            strings: { rule: "repeated", type: "bytes", id: 9 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: "repeated", type: "int64", id: 1, options: packed },
            dataType: { type: "int32", id: 2 },
            floatData: { rule: "repeated", type: "float", id: 4, options: packed },
            int64Data: { rule: "repeated", type: "int64", id: 7, options: packed },
            name: { type: "string", id: 8 },
            rawData: { type: "bytes", id: 9 },
            doubleData: { rule: "repeated", type: "double", id: 10, options: packed },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: "string", id: 1 },
            type: { type: "TypeProto", id: 2 },
            docString: { type: "string", id: 3 },
          },
        },
        TypeProto: {
          fields: { tensorType: { type: "TypeProtoTensor", id: 1 } },
        },
        // onnx.proto nests this as TypeProto.Tensor; the nesting does not reach the wire.
        TypeProtoTensor: {
          fields: {
            elemType: { type: "int32", id: 1 },
            shape: { type: "TensorShapeProto", id: 2 },
          },
        },
        TensorShapeProto: {
          fields: { dim: { rule: "repeated", type: "Dimension", id: 1 } },
        },
        // onnx.proto: TensorShapeProto.Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } }
        Dimension: {
          fields: {
            dimValue: { type: "int64", id: 1 },
            dimParam: { type: "string", id: 2 },
          },
        },
      },
    },
  },
};

let root: protobuf.Root | undefined;

/** The protobufjs `onnx.ModelProto` type (built once from the descriptor above). */
export function modelProtoType(): protobuf.Type {
  root ??= protobuf.Root.fromJSON(descriptor);
  return root.lookupType("onnx.ModelProto");
}

/** Plain-object shapes accepted by {@link encodeModel} (camelCase names as protobufjs uses). */
export interface AttributeJson {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  t?: { dims: number[]; dataType: number; doubleData?: number[]; floatData?: number[] };
}

export interface ValueInfoJson {
  name: string;
  type: {
    tensorType: {
      elemType: number;
      shape: { dim: ({ dimValue: number } | { dimParam: string })[] };
    };
  };
}

export interface NodeJson {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain: string;
  attribute: AttributeJson[];
}

export interface ModelJson {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  docString?: string;
  graph: { node: NodeJson[]; name: string; input: ValueInfoJson[]; output: ValueInfoJson[] };
  metadataProps?: { key: string; value: string }[];
}

/**
 * Serializes a model (plain object in the shape of onnx.ModelProto) to ONNX protobuf bytes.
 * Throws if the object does not fit the schema (protobufjs `verify` message).
 */
export function encodeModel(model: ModelJson): Uint8Array {
  const type = modelProtoType();
  const err = type.verify(model);
  if (err) throw new Error(`ONNX model object is invalid: ${err}`);
  return type.encode(type.fromObject(model)).finish();
}

/** Decodes ONNX protobuf bytes into a plain object (int64 as numbers, bytes as Uint8Array). */
export function decodeModel(bytes: Uint8Array): ModelJson {
  const type = modelProtoType();
  const msg = type.decode(bytes);
  return type.toObject(msg, { longs: Number, defaults: false, arrays: true }) as ModelJson;
}

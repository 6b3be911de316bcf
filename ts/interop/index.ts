/** Interop: ONNX export and import, Keras / TF.js LSTM weights. */
export { exportOnnx, ONNX_OPSET } from './onnx-export';
export type { OnnxExportOptions, OnnxExportSource } from './onnx-export';
export { importOnnx, onnxToConfig } from './onnx-import';
export type { OnnxImportOptions, OnnxImport } from './onnx-import';
export { importTfjs, tfjsToConfig } from './keras';
export type { TfjsModelJson, TfjsImportOptions } from './keras';

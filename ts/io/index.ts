/**
 * cellstate's file formats, browser-safe: safetensors, the one-buffer model bundle, IndexedDB.
 * Node's model directories are in `./node`, which re-exports this module.
 */
export { METADATA_KEY, MAX_HEADER_BYTES, type Safetensors, decodeSafetensors, encodeSafetensors } from './safetensors';
export {
  CONFIG_KEY,
  type DecodedModelParts,
  type ModelConfig,
  type ModelParts,
  decodeModelBundle,
  encodeModelBundle,
  parseConfig,
  serializeConfig,
} from './bundle';
export { type IndexedDBOptions, deleteFromIndexedDB, loadFromIndexedDB, saveToIndexedDB } from './indexeddb';

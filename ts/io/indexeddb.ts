/**
 * Model bundles in the browser's IndexedDB, through the global `indexedDB` with no dependencies.
 * Each value is one bundle's bytes (an ArrayBuffer) under a string key, in the object store `models`
 * of the database `cellstate` unless the options name others.
 */

import { BackendError, DataError, ValueError } from '../errors';

/** Where in IndexedDB models are kept. */
export interface IndexedDBOptions {
  /** Database name; default `"cellstate"`. */
  database?: string;
  /** Object store name; default `"models"`. */
  store?: string;
}

const DEFAULT_DATABASE = 'cellstate';
const DEFAULT_STORE = 'models';

/**
 * Stores a copy of `bytes` under `key`, replacing what was there.
 * @throws {ValueError} when `key` is not a non-empty string or `bytes` is not an ArrayBuffer or Uint8Array.
 * @throws {BackendError} when this environment has no `indexedDB` (e.g. Node, or a browser's private mode).
 * @throws {DataError} when the database cannot be opened or the write fails (e.g. over quota); `cause` is the DOMException.
 */
export async function saveToIndexedDB(key: string, bytes: ArrayBuffer | Uint8Array, options: IndexedDBOptions = {}): Promise<void> {
  checkKey(key);
  let copy: ArrayBuffer;
  if (bytes instanceof Uint8Array) copy = bytes.slice().buffer;
  else if (bytes instanceof ArrayBuffer) copy = bytes.slice(0);
  else throw new ValueError(`bytes must be an ArrayBuffer or Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  const store = options.store ?? DEFAULT_STORE;
  const db = await openDatabase(options.database ?? DEFAULT_DATABASE, store);
  try {
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction(store, 'readwrite');
      tx.objectStore(store).put(copy, key);
      // Resolve on complete, not on the request's success: only then is the write durable.
      tx.oncomplete = () => resolve();
      tx.onabort = tx.onerror = () =>
        reject(new DataError(`IndexedDB: could not save "${key}": ${tx.error?.message ?? 'transaction aborted'}`, { cause: tx.error }));
    });
  } finally {
    db.close();
  }
}

/**
 * Reads the bytes stored under `key`.
 * @throws {ValueError} when `key` is not a non-empty string.
 * @throws {BackendError} when this environment has no `indexedDB`.
 * @throws {DataError} when nothing is stored under `key`, the stored value is not bytes, or the read fails.
 */
export async function loadFromIndexedDB(key: string, options: IndexedDBOptions = {}): Promise<Uint8Array> {
  checkKey(key);
  const store = options.store ?? DEFAULT_STORE;
  const database = options.database ?? DEFAULT_DATABASE;
  const db = await openDatabase(database, store);
  let value: unknown;
  try {
    value = await new Promise<unknown>((resolve, reject) => {
      const request = db.transaction(store, 'readonly').objectStore(store).get(key);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () =>
        reject(new DataError(`IndexedDB: could not read "${key}": ${request.error?.message ?? 'unknown error'}`, { cause: request.error }));
    });
  } finally {
    db.close();
  }
  if (value === undefined) throw new DataError(`IndexedDB: no model is saved under "${key}" (database "${database}", store "${store}")`);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  throw new DataError(`IndexedDB: the value under "${key}" is not bytes (got ${value === null ? 'null' : typeof value})`);
}

/**
 * Removes `key`; removing a missing key is not an error.
 * @throws {ValueError} when `key` is not a non-empty string.
 * @throws {BackendError} when this environment has no `indexedDB`.
 * @throws {DataError} when the database cannot be opened or the delete fails.
 */
export async function deleteFromIndexedDB(key: string, options: IndexedDBOptions = {}): Promise<void> {
  checkKey(key);
  const store = options.store ?? DEFAULT_STORE;
  const db = await openDatabase(options.database ?? DEFAULT_DATABASE, store);
  try {
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction(store, 'readwrite');
      tx.objectStore(store).delete(key);
      tx.oncomplete = () => resolve();
      tx.onabort = tx.onerror = () =>
        reject(new DataError(`IndexedDB: could not delete "${key}": ${tx.error?.message ?? 'transaction aborted'}`, { cause: tx.error }));
    });
  } finally {
    db.close();
  }
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '')
    throw new ValueError(`the IndexedDB key must be a non-empty string, got ${JSON.stringify(key) ?? typeof key}`);
}

/** Opens `name`, creating `store` in an upgrade if it is missing (which bumps the database version). */
async function openDatabase(name: string, store: string): Promise<IDBDatabase> {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!idb) {
    throw new BackendError(
      'IndexedDB is not available here (globalThis.indexedDB is undefined); in Node use writeModelDir, or keep the bytes of encodeModelBundle',
    );
  }
  const open = (version?: number) =>
    new Promise<IDBDatabase>((resolve, reject) => {
      const request = version === undefined ? idb.open(name) : idb.open(name, version);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(store)) request.result.createObjectStore(store);
      };
      let blocked = false;
      request.onsuccess = () => (blocked ? request.result.close() : resolve(request.result));
      request.onerror = () =>
        reject(
          new DataError(`IndexedDB: could not open database "${name}": ${request.error?.message ?? 'unknown error'}`, {
            cause: request.error,
          }),
        );
      // Waiting could last forever; fail now and close the connection should it open later.
      request.onblocked = () => {
        blocked = true;
        reject(new DataError(`IndexedDB: upgrading database "${name}" is blocked by another tab holding it open`));
      };
    });
  const db = await open();
  if (db.objectStoreNames.contains(store)) return db;
  // The database exists without this store (another store name was used first): add it in an upgrade.
  const version = db.version + 1;
  db.close();
  return open(version);
}

import { afterEach, describe, expect, test } from 'vitest';
import { BackendError, DataError, ValueError } from '../../ts/errors';
import { deleteFromIndexedDB, loadFromIndexedDB, saveToIndexedDB } from '../../ts/io/indexeddb';

/**
 * A minimal in-memory stand-in for the IndexedDB API surface the module uses (open with upgrade,
 * one object store per transaction, put/get/delete, events fired asynchronously as browsers do).
 * It checks the module's request/transaction plumbing in Node; a browser test checks the real thing.
 */
function fakeIndexedDB() {
  const databases = new Map<string, { version: number; stores: Map<string, Map<string, unknown>> }>();
  const later = (fn: () => void) => setTimeout(fn, 0);
  const request = () => ({
    result: undefined as unknown,
    error: null,
    onsuccess: null as null | (() => void),
    onerror: null,
    onupgradeneeded: null as null | (() => void),
    onblocked: null,
  });
  const connection = (db: { version: number; stores: Map<string, Map<string, unknown>> }, upgrading: boolean) => ({
    get version() {
      return db.version;
    },
    objectStoreNames: { contains: (s: string) => db.stores.has(s) },
    createObjectStore(s: string) {
      if (!upgrading) throw new Error('createObjectStore outside an upgrade');
      db.stores.set(s, new Map());
    },
    close() {},
    transaction(s: string) {
      const store = db.stores.get(s);
      if (!store) throw new Error(`NotFoundError: no store ${s}`);
      const tx = { error: null, oncomplete: null as null | (() => void), onerror: null, onabort: null };
      const op = (fn: () => unknown) => {
        const r = request();
        later(() => {
          r.result = fn();
          r.onsuccess?.();
          later(() => tx.oncomplete?.());
        });
        return r;
      };
      return Object.assign(tx, {
        objectStore: () => ({
          put: (v: unknown, k: string) => op(() => void store.set(k, structuredClone(v))),
          get: (k: string) => op(() => structuredClone(store.get(k))),
          delete: (k: string) => op(() => void store.delete(k)),
        }),
      });
    },
  });
  return {
    databases,
    open(name: string, version?: number) {
      const r = request();
      later(() => {
        let db = databases.get(name);
        const target = version ?? db?.version ?? 1;
        if (!db) databases.set(name, (db = { version: 0, stores: new Map() }));
        if (target > db.version) {
          db.version = target;
          r.result = connection(db, true);
          r.onupgradeneeded?.();
        }
        r.result = connection(db, false);
        r.onsuccess?.();
      });
      return r;
    },
  };
}

const g = globalThis as { indexedDB?: unknown };
afterEach(() => {
  delete g.indexedDB;
});

describe('IndexedDB storage', () => {
  test('without a global indexedDB (as in Node) every call is a BackendError', async () => {
    expect(g.indexedDB).toBeUndefined();
    await expect(saveToIndexedDB('m', new Uint8Array(1))).rejects.toThrow(BackendError);
    await expect(loadFromIndexedDB('m')).rejects.toThrow(/IndexedDB is not available here/);
    await expect(deleteFromIndexedDB('m')).rejects.toThrow(BackendError);
  });

  test('bad keys and bytes are ValueErrors, checked before IndexedDB is touched', async () => {
    await expect(saveToIndexedDB('', new Uint8Array(1))).rejects.toThrow(ValueError);
    await expect(loadFromIndexedDB(3 as unknown as string)).rejects.toThrow(/non-empty string, got 3/);
    await expect(saveToIndexedDB('m', [1, 2] as unknown as Uint8Array)).rejects.toThrow(/ArrayBuffer or Uint8Array/);
  });

  test('save, load, overwrite, delete; stored bytes are a copy; a missing key is a DataError', async () => {
    const fake = fakeIndexedDB();
    g.indexedDB = fake;
    const big = Uint8Array.from([9, 1, 2, 3, 9]);
    await saveToIndexedDB('model', big.subarray(1, 4));
    big.fill(0);
    expect([...(await loadFromIndexedDB('model'))]).toEqual([1, 2, 3]);
    await saveToIndexedDB('model', Uint8Array.from([4]).buffer);
    expect([...(await loadFromIndexedDB('model'))]).toEqual([4]);
    await deleteFromIndexedDB('model');
    const e = await loadFromIndexedDB('model').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DataError);
    expect((e as Error).message).toMatch(/no model is saved under "model" \(database "cellstate", store "models"\)/);
    // A second store in the same database is added by a version upgrade.
    await saveToIndexedDB('k', new Uint8Array([5]), { store: 'other' });
    expect(fake.databases.get('cellstate')!.version).toBe(2);
    expect([...(await loadFromIndexedDB('k', { store: 'other' }))]).toEqual([5]);
  });
});

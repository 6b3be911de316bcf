/**
 * The two binding crates expose one surface (STYLE rule 1): the wasm glue (`ts/generated/wasm/cellstate_wasm.js`
 * as loaded) and the native addon (`native/*.node` as `ts/native.ts` loads it) export the same functions and
 * classes, each class has the same prototype members, and every function and method takes the same number of
 * arguments. What differs on purpose is listed once, in `intentional`, with its reason.
 *
 * Arity: wasm-bindgen's JS glue declares every parameter, so `fn.length` is exact; napi-rs functions report
 * `length` 0 whatever they take, so the native side's arity is read from the `#[napi]` signatures in
 * crates/cellstate-node/src. That reader is checked against the loaded addon first (it must find exactly the
 * names the addon exports), so it cannot silently miss an export.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backend, repoRoot } from './helpers';

/** Members one binding has and the other lacks by design. */
const intentional = {
  wasmModule: {
    default: 'wasm-bindgen --target web: instantiates the module (async); the addon is ready once required',
    initSync: 'wasm-bindgen --target web: the synchronous instantiation; nothing to instantiate natively',
  },
  // (The threads build's glue adds workerMain, its workers' loop; this test loads the plain build, which has none.)
  wasmPrototype: {
    __destroy_into_raw: "wasm-bindgen's internal half of free()",
    // `Symbol(nodejs.dispose)` on Node 20, `Symbol(Symbol.dispose)` where the symbol is standard.
    [String(Symbol.dispose)]: "wasm-bindgen's [Symbol.dispose] (calls free); the TS wrappers have their own",
  },
};

type Surface = Map<string, { kind: 'function' | 'class'; arity: number; members: Map<string, number | 'get'> }>;

/** Exported functions and classes of a binding module, with each prototype's own members (string and symbol keys). */
function surface(mod: Record<string, unknown>): Surface {
  const out: Surface = new Map();
  for (const name of Object.keys(mod).sort()) {
    const v = mod[name];
    if (typeof v !== 'function') continue;
    const proto = (v as { prototype?: object }).prototype;
    const keys = proto ? Reflect.ownKeys(proto).filter((k) => k !== 'constructor') : [];
    const members = new Map<string, number | 'get'>();
    for (const k of keys) {
      const d = Object.getOwnPropertyDescriptor(proto, k)!;
      members.set(String(k), typeof d.value === 'function' ? (d.value as () => void).length : 'get');
    }
    // A class has prototype members; a plain exported function (wasm-bindgen's or napi's) has none.
    out.set(name, { kind: members.size > 0 ? 'class' : 'function', arity: (v as () => void).length, members });
  }
  return out;
}

/** `snake_case` → `camelCase`, as napi-rs names an export without `js_name`. */
const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Splits a parameter list on top-level commas (generics and tuples may hold commas). */
function params(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of list) {
    if ('<(['.includes(ch)) depth++;
    if ('>)]'.includes(ch)) depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((p) => p.trim()).filter((p) => p !== '');
}

/**
 * The `#[napi]` exports declared in crates/cellstate-node/src: `name → arity` for free functions, and
 * `Class → (method → arity)` with the constructor under `constructor`. `self` and napi's injected `Env`
 * are not JS arguments.
 */
function napiDeclarations(): { functions: Map<string, number>; classes: Map<string, Map<string, number>> } {
  const dir = join(repoRoot, 'crates/cellstate-node/src');
  const functions = new Map<string, number>();
  const classes = new Map<string, Map<string, number>>();
  for (const file of readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.rs'))) {
    const src = readFileSync(join(dir, file), 'utf8').replace(/\/\/[^\n]*/g, '');
    // Byte ranges of `#[napi] impl X { ... }` blocks, by brace matching.
    const impls: { name: string; from: number; to: number }[] = [];
    for (const m of src.matchAll(/#\[napi[^\]]*\]\s*impl\s+(\w+)\s*\{/g)) {
      let depth = 1;
      let i = m.index + m[0].length;
      for (; depth > 0 && i < src.length; i++) depth += src[i] === '{' ? 1 : src[i] === '}' ? -1 : 0;
      impls.push({ name: m[1], from: m.index, to: i });
      if (!classes.has(m[1])) classes.set(m[1], new Map());
    }
    // `#[napi(...)]` (then other attributes) then `pub fn name(params)`.
    const fnRe = /#\[napi(?:\(([^)]*)\))?\]\s*(?:#\[[^\]]*\]\s*)*pub\s+fn\s+(\w+)\s*(?:<[^>]*>)?\s*\(([^)]*)\)/g;
    for (const m of src.matchAll(fnRe)) {
      const [, attr = '', rustName, list] = m;
      const args = params(list).filter((p) => !/^&?(mut\s+)?self$/.test(p) && !/:\s*Env$/.test(p));
      const jsName = /js_name\s*=\s*"([^"]+)"/.exec(attr)?.[1] ?? camel(rustName);
      const owner = impls.find((b) => m.index > b.from && m.index < b.to);
      if (owner) classes.get(owner.name)!.set(/\bconstructor\b/.test(attr) ? 'constructor' : jsName, args.length);
      else functions.set(jsName, args.length);
    }
  }
  return { functions, classes };
}

describe('the wasm and native bindings', () => {
  it('export the same functions and classes, with the same prototype members', async () => {
    const [n, w] = [await backend('native'), await backend('wasm')];
    const native = surface(n.raw as unknown as Record<string, unknown>);
    const wasm = surface(w.raw as unknown as Record<string, unknown>);
    const wasmOnly = new Set(Object.keys(intentional.wasmModule));
    // The lists are not vacuous: two handles and the kernel/thread functions (7 at the time of writing).
    expect([...native.values()].filter((e) => e.kind === 'class').length).toBeGreaterThanOrEqual(2);
    expect([...native.values()].filter((e) => e.kind === 'function').length).toBeGreaterThanOrEqual(7);

    expect([...wasm.keys()].filter((k) => !wasmOnly.has(k))).toEqual([...native.keys()]);
    for (const k of wasmOnly) expect(wasm.has(k), `wasm still exports ${k}`).toBe(true);
    for (const [name, nat] of native) {
      const wsm = wasm.get(name)!;
      expect(wsm.kind, name).toBe(nat.kind);
      const wasmMembers = [...wsm.members.keys()].filter((k) => !(k in intentional.wasmPrototype)).sort();
      expect(wasmMembers, `${name}'s prototype`).toEqual([...nat.members.keys()].sort());
      for (const k of Object.keys(intentional.wasmPrototype)) {
        if (nat.kind === 'class') expect(wsm.members.has(k), `wasm ${name}.${k}`).toBe(true);
      }
    }
  });

  it('take the same number of arguments in every function, constructor and method', async () => {
    const [n, w] = [await backend('native'), await backend('wasm')];
    const native = surface(n.raw as unknown as Record<string, unknown>);
    const wasm = surface(w.raw as unknown as Record<string, unknown>);
    const decl = napiDeclarations();
    // The source reader finds exactly what the addon exports (so every arity below is read, none assumed).
    expect([...decl.functions.keys(), ...decl.classes.keys()].sort()).toEqual([...native.keys()]);
    for (const [cls, methods] of decl.classes) {
      expect([...methods.keys()].filter((k) => k !== 'constructor').sort(), cls).toEqual([...native.get(cls)!.members.keys()].sort());
      expect(methods.has('constructor'), `${cls} has a #[napi(constructor)]`).toBe(true);
    }

    const mismatches: string[] = [];
    const compare = (what: string, napiArity: number, wasmArity: number | 'get' | undefined) => {
      if (napiArity !== wasmArity) mismatches.push(`${what}: native ${napiArity}, wasm ${wasmArity}`);
    };
    for (const [name, arity] of decl.functions) compare(name, arity, wasm.get(name)?.arity);
    for (const [cls, methods] of decl.classes) {
      for (const [m, arity] of methods) {
        compare(`${cls}.${m}`, arity, m === 'constructor' ? wasm.get(cls)?.arity : wasm.get(cls)?.members.get(m));
      }
    }
    expect(mismatches).toEqual([]);
    // Spot checks from the signatures (LstmHandle::new takes input, hidden, layers, bidirectional, seed).
    expect(decl.classes.get('LstmHandle')!.get('constructor')).toBe(5);
    expect(decl.classes.get('LstmHandle')!.get('forward')).toBe(8);
  });
});

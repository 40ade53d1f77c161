// Templates: `templates: { NAME: <item body> }` in any document (global to the manifest set); an item (or a
// template) says `extends: NAME` or a list of names. Merge, in order: the templates in list order, then the
// body that extends them; maps are merged deeply, `fields` and `sections` by key (a field body given replaces
// the template's field body whole), anything else (lists, text) replaced. Each template is resolved once
// (its own templates first), so a chain or a diamond of templates costs its size, not its paths.
//
// Every node keeps its origin (origins.ts): a field a template gave is positioned at the template's text,
// with the note `extends "db"` (`extends "app", extends "db"` when it came through a template of a template).

import { closest } from '../../plan/select.js';
import type { JsonPath } from '../positions.js';
import type { SourcePos } from '../types.js';
import { isObj, setKey } from './interpolate.js';
import { joinInstance, type Origin, type OriginNode } from './origins.js';
import type { Locate } from './types.js';

type Obj = Record<string, unknown>;

export const TEMPLATE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

interface TemplateDef {
  name: string;
  body: Obj;
  locate: Locate;
  /** Where its problems go. */
  sink: (pos: SourcePos, message: string) => void;
}

export interface Resolved {
  body: Obj;
  /** Origins of its nodes, relative to the body: every top-level key has one. */
  trie: OriginNode;
}

/** One layer of a merge: a body, and the origins of what it sets. */
interface Layer {
  body: Obj;
  /** The origin node for a path this layer sets whole. */
  view: (path: JsonPath) => OriginNode;
}

const where = (p: SourcePos) => `${p.file}:${p.line}:${p.col}`;

/** A body written at `origin`: whatever it sets comes from there. */
export const writtenAt = (body: Obj, origin: Origin): Layer => ({
  body,
  view: (path) => ({ origin: { locate: origin.locate, path: [...origin.path, ...path], ...(origin.instance !== undefined ? { instance: origin.instance } : {}) } }),
});

/** The node of `trie` for `path`: its nearest origin at or above, rebased to the path, and what is below. */
function viewOf(trie: OriginNode, path: JsonPath, outer: string | undefined): OriginNode {
  let node: OriginNode | undefined = trie;
  let best = trie.origin;
  let depth = 0;
  for (let i = 0; i < path.length && node; i++) {
    node = node.children?.get(String(path[i]));
    if (node?.origin) {
      best = node.origin;
      depth = i + 1;
    }
  }
  const note = (o: Origin): Origin => (outer === undefined ? o : { ...o, instance: joinInstance(outer, o.instance) });
  const copy = (n: OriginNode): OriginNode => {
    const out: OriginNode = {};
    if (n.origin) out.origin = note(n.origin);
    if (n.children) out.children = new Map([...n.children].map(([k, c]) => [k, copy(c)]));
    return out;
  };
  const out: OriginNode = node ? copy(node) : {};
  if (!out.origin && best) out.origin = note({ ...best, path: [...best.path, ...path.slice(depth)] });
  return out;
}

const resolvedLayer = (r: Resolved, outer: string | undefined): Layer => ({ body: r.body, view: (path) => viewOf(r.trie, path, outer) });

function place(trie: OriginNode, path: JsonPath, node: OriginNode): void {
  let parent = trie;
  for (const seg of path.slice(0, -1)) {
    const key = String(seg);
    let next = parent.children?.get(key);
    if (!next) {
      next = {};
      (parent.children ??= new Map()).set(key, next);
    }
    parent = next;
  }
  (parent.children ??= new Map()).set(String(path[path.length - 1]), node);
}

/** `over` merged onto `base` (neither changed); the origins of what `over` sets go into `trie`. */
function overlay(base: Obj, layer: Layer, trie: OriginNode, over: Obj = layer.body, path: JsonPath = []): Obj {
  const out: Obj = {};
  for (const k of Object.keys(base)) setKey(out, k, base[k]);
  const top = path.length === 0;
  for (const k of Object.keys(over)) {
    if (top && (k === 'extends' || k === 'for_each')) continue;
    const at = [...path, k];
    const b = Object.hasOwn(base, k) ? base[k] : undefined;
    const o = over[k];
    if (isObj(b) && isObj(o)) {
      if (top && (k === 'fields' || k === 'sections')) {
        const merged: Obj = {};
        for (const f of Object.keys(b)) setKey(merged, f, b[f]);
        for (const f of Object.keys(o)) {
          setKey(merged, f, o[f]);
          place(trie, [...at, f], layer.view([...at, f]));
        }
        setKey(out, k, merged);
      } else setKey(out, k, overlay(b, layer, trie, o, at));
    } else {
      setKey(out, k, o);
      place(trie, at, layer.view(at));
    }
  }
  return out;
}

/** The names an `extends:` gives, or why it is malformed. */
export function extendsNames(v: unknown): string[] | string {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.length > 0 && v.every((n) => typeof n === 'string')) return v as string[];
  return 'extends must be a template name or a list of them';
}

export class Templates {
  private readonly defs = new Map<string, TemplateDef>();
  private readonly resolved = new Map<string, Resolved | undefined>();
  private readonly resolving: string[] = [];

  get size(): number {
    return this.defs.size;
  }

  /** A document's `templates:` block. */
  collect(block: unknown, locate: Locate, sink: TemplateDef['sink']): void {
    if (!isObj(block)) {
      sink(locate(['templates'], false), 'templates must be a map of template name: item body');
      return;
    }
    for (const name of Object.keys(block)) {
      const body = block[name];
      const at = ['templates', name];
      if (!TEMPLATE_NAME.test(name)) {
        sink(locate(at), `templates.${name}: "${name}" is not a valid template name (letters, digits, _ . -)`);
        continue;
      }
      if (!isObj(body)) {
        sink(locate(at, false), `templates.${name} must be an item body (a map)`);
        continue;
      }
      if (Object.hasOwn(body, 'for_each')) {
        sink(locate([...at, 'for_each']), `templates.${name}: a template cannot have for_each; put it on the item that extends the template`);
        continue;
      }
      const first = this.defs.get(name);
      if (first) {
        sink(locate(at), `template ${name} is defined twice (also at ${where(first.locate(['templates', name]))}); define it once`);
        continue;
      }
      this.defs.set(name, { name, body, locate, sink });
    }
  }

  /** Resolves every template, so that its problems are reported whether or not an item uses it. */
  resolveAll(): void {
    for (const name of this.defs.keys()) this.resolve(name);
  }

  private unknown(name: string): string {
    const c = closest(name, this.defs.keys());
    const near = [...c.caseOnly, ...c.near];
    return `no template "${name}"${near.length ? `; did you mean ${near.join(' or ')}?` : this.defs.size ? '' : ' (no document defines templates:)'}`;
  }

  /** A template with everything it extends merged in; undefined when it cannot be (reported, once). */
  private resolve(name: string): Resolved | undefined {
    if (this.resolved.has(name)) return this.resolved.get(name);
    const def = this.defs.get(name)!;
    const at = ['templates', name];
    const cycleFrom = this.resolving.indexOf(name);
    if (cycleFrom !== -1) {
      const chain = [...this.resolving.slice(cycleFrom), name];
      def.sink(def.locate([...at, 'extends'], false), `templates extend each other in a cycle: ${chain.join(' -> ')}`);
      for (const n of chain) this.resolved.set(n, undefined);
      return undefined;
    }
    this.resolving.push(name);
    try {
      const note = `extends "${name}"`;
      const trie: OriginNode = {};
      let body: Obj = {};
      if (Object.hasOwn(def.body, 'extends')) {
        const parents = this.parents(def.body.extends, (message) => def.sink(def.locate([...at, 'extends'], false), `templates.${name}: ${message}`));
        if (!parents) return this.settle(name, undefined);
        for (const p of parents) body = overlay(body, resolvedLayer(p, note), trie);
      }
      body = overlay(body, writtenAt(def.body, { locate: def.locate, path: at, instance: note }), trie);
      return this.settle(name, { body, trie });
    } finally {
      this.resolving.pop();
    }
  }

  private settle(name: string, r: Resolved | undefined): Resolved | undefined {
    // A template of a cycle was settled as broken by the cycle's report: keep that.
    if (!this.resolved.has(name)) this.resolved.set(name, r);
    return this.resolved.get(name);
  }

  /** The resolved templates an `extends:` names; undefined when any is unknown or broken (reported). */
  private parents(v: unknown, problem: (message: string) => void): Resolved[] | undefined {
    const names = extendsNames(v);
    if (typeof names === 'string') {
      problem(names);
      return undefined;
    }
    const out: Resolved[] = [];
    let ok = true;
    for (const n of names) {
      if (!this.defs.has(n)) {
        problem(this.unknown(n));
        ok = false;
        continue;
      }
      const r = this.resolve(n);
      if (r) out.push(r);
      else ok = false;
    }
    return ok ? out : undefined;
  }

  /**
   * An item body with the templates it extends merged under it, and the origins of the merged nodes (the
   * item's own at `own`). Undefined when its extends cannot be followed (reported through `problem`).
   */
  apply(body: Obj, names: unknown, own: Origin, trie: OriginNode, problem: (message: string) => void): Obj | undefined {
    const parents = this.parents(names, problem);
    if (!parents) return undefined;
    let merged: Obj = {};
    for (const p of parents) merged = overlay(merged, resolvedLayer(p, own.instance), trie);
    return overlay(merged, writtenAt(body, own), trie);
  }
}

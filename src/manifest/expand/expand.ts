// The expansion stage over a whole manifest set (see index.ts for the boundary and the order of steps).

import { formatPos } from '../positions.js';
import type { Diagnostic, SourcePos } from '../types.js';
import { interpolateString, interpolateTree, isObj, setKey, type Report, type Scope, type VarValue } from './interpolate.js';
import { composeLocate, graft, isIdentity, joinInstance, type Origin, type OriginNode } from './origins.js';
import { Templates } from './templates.js';
import type { Locate, ReadDoc, ReadFile, VariableInputs } from './types.js';
import { declareInDocument, declareOutside, resolveVariables, type Declared } from './variables.js';

type Obj = Record<string, unknown>;
type Each = { key: string; value: unknown };

export interface ExpandResult {
  /** The files with their documents expanded; each document's expansion problems come just before its output. */
  files: ReadFile[];
  /** Problems outside any document: opsync.yaml's declarations, values given for no declared variable. */
  diagnostics: Diagnostic[];
}

/** Keys of a document that the stage takes away: declarations, and the document's own for_each. */
const STAGE_KEYS = new Set(['variables', 'templates', 'for_each']);

/** Whether a document uses anything beyond interpolation (checked without walking its bodies). */
function usesStructure(data: Obj): boolean {
  if (Object.hasOwn(data, 'variables') || Object.hasOwn(data, 'templates') || Object.hasOwn(data, 'for_each')) return true;
  const items = data.items;
  if (!isObj(items)) return false;
  for (const k of Object.keys(items)) {
    const item = items[k];
    if (isObj(item) && (Object.hasOwn(item, 'for_each') || Object.hasOwn(item, 'extends'))) return true;
  }
  return false;
}

const kindOf = (v: unknown) => (Array.isArray(v) ? 'a list' : isObj(v) ? 'a map' : v === null || v === undefined ? 'empty' : `a ${typeof v === 'boolean' ? 'bool' : typeof v}`);
export const where = (p: SourcePos): string => formatPos(p);
const instanceOf = (each: Each | undefined) => (each ? `for_each ${JSON.stringify(each.key)}` : undefined);

/** The elements a `for_each:` names (each.key, each.value), or undefined when it is malformed (reported). */
function forEachOf(raw: unknown, scope: Scope, what: string, report: Report): Each[] | undefined {
  let v = raw;
  // A list or map that an expression gave (`for_each: ${var.envs}`) is a value: its strings are not
  // expressions (a `${` in a --var is text, never evaluated or shown in a message).
  const given = typeof v === 'string';
  if (typeof v === 'string') {
    const r = interpolateString(v, scope);
    if (!r.ok) {
      report([], false, r.message);
      return undefined;
    }
    v = r.value;
  }
  if (Array.isArray(v)) {
    const out: Each[] = [];
    const keys = new Set<string>();
    for (let i = 0; i < v.length; i++) {
      let el = v[i];
      if (!given && typeof el === 'string' && el.includes('${')) {
        const r = interpolateString(el, scope);
        if (!r.ok) {
          report([i], false, r.message);
          return undefined;
        }
        el = r.value;
      }
      if (!(typeof el === 'string' || (typeof el === 'number' && Number.isFinite(el)))) {
        report([i], false, `${what}: element ${i} is ${kindOf(el)}; the elements of a list are text or numbers (to give each one more, use a map: { key: value })`);
        return undefined;
      }
      const key = String(el);
      if (keys.has(key)) {
        report([i], false, `${what}: "${key}" is in the list twice; each element makes one instance`);
        return undefined;
      }
      keys.add(key);
      out.push({ key, value: el });
    }
    return out;
  }
  if (isObj(v) && given) return Object.keys(v).map((key) => ({ key, value: (v as Obj)[key] }));
  if (isObj(v)) {
    const r = interpolateTree(v, scope, report);
    if (!r) return undefined;
    const m = r.value as Obj;
    return Object.keys(m).map((key) => ({ key, value: m[key] }));
  }
  report([], false, `${what} must be a list or a map (or \${var.NAME} of one), not ${kindOf(v)}`);
  return undefined;
}

/** A problem at a position; no message: its cause is reported elsewhere (the item is left out all the same). */
type Problem = (pos: SourcePos, message: string | undefined) => void;

interface Context {
  vars: ReadonlyMap<string, VarValue>;
  templates: Templates;
  /** The file's text may hold `${`: strings are walked. */
  interpolate: boolean;
  problem: Problem;
}

/** A document's items, expanded (item for_each, extends, interpolation, keys); origins go into `trie`. */
function expandItems(items: Obj, scope: Scope, note: string | undefined, locate: Locate, trie: OriginNode, cx: Context): Obj {
  const out: Obj = {};
  const docLocate = composeLocate(trie);
  const seen = new Map<string, { label: string; pos: SourcePos }>();
  for (const rawKey of Object.keys(items)) {
    const body = items[rawKey];
    if (!isObj(body)) {
      // Not an item body: the schema says what is wrong with it.
      if (!seen.has(rawKey)) {
        setKey(out, rawKey, body);
        seen.set(rawKey, { label: `items.${rawKey}`, pos: docLocate(['items', rawKey]) });
      }
      continue;
    }
    let elements: (Each | undefined)[] = [undefined];
    if (Object.hasOwn(body, 'for_each')) {
      const at = ['items', rawKey, 'for_each'];
      const r = forEachOf(body.for_each, scope, `items.${rawKey}.for_each`, (p, atKey, m) => cx.problem(docLocate([...at, ...p], atKey), m));
      if (!r) continue;
      elements = r;
    }
    const extended = Object.hasOwn(body, 'extends');
    for (const each of elements) {
      const itemScope: Scope = each ? { vars: scope.vars, each } : scope;
      const instance = joinInstance(note, instanceOf(each));
      const own: Origin = { locate, path: ['items', rawKey], ...(instance !== undefined ? { instance } : {}) };
      const itemTrie: OriginNode = { origin: own };
      const itemLocate = composeLocate(itemTrie);
      const report: Report = (p, atKey, m) => cx.problem(itemLocate(p, atKey), m);
      let merged: Obj = body;
      if (extended) {
        const names = interpolateTree(body.extends, itemScope, (p, atKey, m) => report(['extends', ...p], atKey, m));
        if (!names) continue;
        const m = cx.templates.apply(body, names.value, own, itemTrie, (message) => report(['extends'], false, `items.${rawKey}.extends: ${message}`));
        if (!m) continue;
        merged = m;
      } else if (each) {
        merged = {};
        for (const k of Object.keys(body)) if (k !== 'for_each') setKey(merged, k, body[k]);
      }
      let value: unknown = merged;
      // Shared as read when nothing in it can change (no instance, no template, no `${`).
      if (cx.interpolate || each || extended || note !== undefined) {
        const r = interpolateTree(merged, itemScope, report);
        if (!r) continue;
        value = r.value;
      }
      let key = rawKey;
      if (rawKey.includes('${')) {
        const k = interpolateString(rawKey, itemScope);
        if (!k.ok) {
          cx.problem(itemLocate([], true), k.message === undefined ? undefined : `items.${rawKey}: ${k.message}`);
          continue;
        }
        if (typeof k.value === 'string') key = k.value;
        else if ((typeof k.value === 'number' && Number.isFinite(k.value)) || typeof k.value === 'boolean') key = String(k.value);
        else {
          cx.problem(itemLocate([], true), `items.${rawKey}: the key comes out as ${kindOf(k.value)}; a resource key is text`);
          continue;
        }
      }
      const pos = itemLocate([], true);
      const first = seen.get(key);
      if (first) {
        const mine = each ? instanceOf(each)! : `items.${rawKey}`;
        cx.problem(pos, `items.${key}: ${mine} gives the same resource key as ${first.label} (at ${where(first.pos)}); make each key distinct${each ? ', e.g. with ${each.key} in it' : ''}`);
        continue;
      }
      seen.set(key, { label: each ? instanceOf(each)! : `items.${rawKey}`, pos });
      setKey(out, key, value);
      if (key !== rawKey || itemTrie.children || instance !== note) graft(trie, ['items', key], itemTrie, undefined);
    }
  }
  return out;
}

/** One document's output: one document, one per element of its for_each, or none (declarations only). */
function expandDocument(data: Obj, locate: Locate, cx: Context): ReadDoc[] {
  const keys = Object.keys(data);
  const body = keys.filter((k) => !STAGE_KEYS.has(k));
  // Only declarations (variables:, templates:): nothing to build.
  if (body.length === 0 && keys.some((k) => k !== 'for_each')) return [];
  const base: Scope = { vars: cx.vars };
  let elements: (Each | undefined)[] = [undefined];
  if (Object.hasOwn(data, 'for_each')) {
    const r = forEachOf(data.for_each, base, 'for_each', (p, atKey, m) => cx.problem(locate(['for_each', ...p], atKey), m));
    if (!r) return [];
    elements = r;
  }
  const out: ReadDoc[] = [];
  for (const each of elements) {
    const scope: Scope = each ? { vars: cx.vars, each } : base;
    const instance = instanceOf(each);
    const trie: OriginNode = { origin: { locate, path: [], ...(instance !== undefined ? { instance } : {}) } };
    const docLocate = composeLocate(trie);
    const doc: Obj = {};
    let ok = true;
    for (const k of body) {
      const v = data[k];
      if (k === 'items' && isObj(v)) {
        setKey(doc, k, expandItems(v, scope, instance, locate, trie, cx));
        continue;
      }
      if (!cx.interpolate && !each) {
        setKey(doc, k, v);
        continue;
      }
      const r = interpolateTree(v, scope, (p, atKey, m) => cx.problem(docLocate([k, ...p], atKey), m));
      if (r) setKey(doc, k, r.value);
      else ok = false;
    }
    // A vault, moved or removed that cannot be expanded: the instance is left out (its problems are reported).
    if (ok) out.push({ data: doc, locate: isIdentity(trie, locate) ? locate : docLocate });
  }
  return out;
}

/**
 * Expands every document of a manifest set: declarations and templates are collected from all of them
 * first (they are global), then each document is expanded on its own. Documents that use nothing of this
 * are passed on as they are (the same objects), so a plain manifest set costs one look at each item's keys.
 */
export function expandManifests(files: ReadFile[], inputs: VariableInputs): ExpandResult {
  const outside: Diagnostic[] = [];
  const outsideSink: Declared['sink'] = (pos, message, severity = 'error') => outside.push({ ...pos, severity, message });
  const declared = new Map<string, Declared>();
  if (inputs.declared) declareOutside(declared, inputs.declared, outsideSink);
  const templates = new Templates();

  interface Entry {
    doc: ReadDoc;
    /** Set when the document is expanded. */
    data?: Obj;
    problems: Diagnostic[];
  }
  const entries: Entry[][] = [];
  let any = false;
  for (const file of files) {
    const list: Entry[] = [];
    entries.push(list);
    const interpolate = file.mayInterpolate !== false;
    for (const doc of file.docs) {
      const entry: Entry = { doc, problems: [] };
      list.push(entry);
      if ('problems' in doc || !isObj(doc.data)) continue;
      const data = doc.data;
      if (!interpolate && !usesStructure(data)) continue;
      entry.data = data;
      any = true;
      const seen = new Set<string>();
      const sink: Declared['sink'] = (pos, message, severity = 'error') => {
        const key = `${pos.file}:${pos.line}:${pos.col}:${message}`;
        if (seen.has(key)) return;
        seen.add(key);
        entry.problems.push({ ...pos, severity, message });
      };
      if (Object.hasOwn(data, 'variables')) declareInDocument(declared, data.variables, doc.locate, sink);
      if (Object.hasOwn(data, 'templates')) templates.collect(data.templates, doc.locate, sink);
    }
  }
  const vars = resolveVariables(declared, inputs, outsideSink);
  if (!any) return { files, diagnostics: outside };

  // Every template is resolved now, used or not: a cycle or an unknown parent is reported at the template
  // itself, before any document of the files that use it is assembled.
  try {
    templates.resolveAll();
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    const at = files.find((f) => f.docs.length > 0)?.file ?? '';
    outside.push({ file: at, line: 1, col: 1, severity: 'error', message: 'templates extend one another in a chain too long to follow (thousands deep); shorten it' });
    return { files, diagnostics: outside };
  }

  const outputs = files.map((file, f) =>
    entries[f].map((entry): ReadDoc[] | undefined => {
      if (!entry.data) return undefined;
      const seen = new Set(entry.problems.map((p) => `${p.file}:${p.line}:${p.col}:${p.message}`));
      const cx: Context = {
        vars,
        templates,
        interpolate: file.mayInterpolate !== false,
        problem: (pos, message) => {
          // The cause of a silent one is reported elsewhere. A template line used by many instances: once.
          if (message === undefined) return;
          const key = `${pos.file}:${pos.line}:${pos.col}:${message}`;
          if (seen.has(key)) return;
          seen.add(key);
          entry.problems.push({ ...pos, severity: 'error', message });
        },
      };
      const locate = (entry.doc as { locate: Locate }).locate;
      try {
        return expandDocument(entry.data, locate, cx);
      } catch (err) {
        // The walks recurse; a document nested deeper than the stack is one problem, not a crash.
        if (!(err instanceof RangeError)) throw err;
        cx.problem(locate([]), 'the document is nested too deeply to expand');
        return [];
      }
    }),
  );
  // Assembled once every document is expanded: a document's problems may be found while expanding another.
  const outFiles = files.map((file, f): ReadFile => {
    const docs: ReadDoc[] = [];
    entries[f].forEach((entry, d) => {
      const out = outputs[f][d];
      if (!out) docs.push(entry.doc);
      else {
        if (entry.problems.length > 0) docs.push({ problems: entry.problems });
        docs.push(...out);
      }
    });
    return { ...file, docs };
  });
  return { files: outFiles, diagnostics: outside };
}

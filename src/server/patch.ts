// PATCH /v1/vaults/{v}/items/{i}: RFC 6902 JSON Patch (add, remove, replace only, as real Connect) applied to an
// item by fast-json-patch, with Connect's extension that fields and sections are addressable by id:
//   /fields/{fieldId}, /fields/{fieldId}/value, /fields/{fieldId}/label, ...  (also /fields/0/value, /fields/-)
//   /sections/{sectionId}, /sections/{sectionId}/label, ...                    (also by index and /sections/-)
//   /title, /category, /favorite, /tags (/tags/-, /tags/N), /urls (/urls/N/href, ...)
// A path segment after /fields or /sections is first looked up as an id (real items have ids such as
// "password" or "notesPlain"), then taken as an array index, or `-` (append, add only).
//
// Beyond RFC 6902, to match how Connect items are addressed:
// - `add` at /fields/{existingId} (or /sections/{existingId}) replaces that element, as `add` on an object member
//   does, instead of inserting a duplicate id before it.
// - A whole field or section replaced without an `id` keeps the id it replaces; one added without an `id` gets
//   a new one, so later operations in the same patch can address it.
// - `replace` of an absent top-level member (e.g. /favorite or /tags on an item that has none) adds it.
//
// The patch is applied to a deep clone; each operation is checked on its own (op, path, value) as it applies,
// and the patched item's shape once, after the last one (checking the whole item after every operation made a
// patch of many operations quadratic). The first failure throws PatchError naming the operation's index (for
// the shape check: the last operation that touched the property found wrong) and why, and the input item is
// never modified: all of the patch applies, or none. Error messages never contain values from the patch or
// the item. Path segments `__proto__`, `constructor` and `prototype` are refused.
import jsonpatch from 'fast-json-patch';
import { ITEM_CATEGORIES, type FullItem, type JsonPatchOp } from '../connect/types.js';
import { newId } from './ids.js';
import { ITEM_LIMITS } from './validate.js';

export class PatchError extends Error {
  /** Index of the offending operation in the patch, when one is to blame. */
  readonly index: number | undefined;
  constructor(message: string, index?: number) {
    super(message);
    this.name = 'PatchError';
    this.index = index;
  }
}

const OPS = new Set(['add', 'remove', 'replace']);
const SERVER_OWNED = new Set(['id', 'version', 'vault', 'createdAt', 'updatedAt', 'lastEditedBy', 'files', 'state']);
export const PATCHABLE_PROPERTIES = ['title', 'category', 'favorite', 'tags', 'urls', 'fields', 'sections'] as const;
const PATCHABLE = new Set<string>(PATCHABLE_PROPERTIES);
const INDEX = /^(0|[1-9][0-9]*)$/;
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

const JSON_PATCH_REASONS: Record<string, string> = {
  OPERATION_PATH_UNRESOLVABLE: 'the path does not exist in the item',
  OPERATION_PATH_CANNOT_ADD: 'the parent of the path does not exist in the item',
  OPERATION_PATH_ILLEGAL_ARRAY_INDEX: 'an array index must be a non-negative integer, or "-" to append',
  OPERATION_VALUE_OUT_OF_BOUNDS: 'the array index is past the end of the array',
  OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED: 'the value must be JSON',
  OPERATION_PATH_INVALID: 'the path must be a JSON Pointer starting with "/"',
};

type Doc = Record<string, unknown>;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function unescape(segment: string): string {
  return segment.includes('~') ? segment.replace(/~1/g, '/').replace(/~0/g, '~') : segment;
}

function escape(segment: string): string {
  return segment.includes('~') || segment.includes('/') ? segment.replace(/~/g, '~0').replace(/\//g, '~1') : segment;
}

/** Applies `ops` to a deep clone of `item` and returns it. Throws PatchError; never modifies `item`. */
export function applyItemPatch(item: FullItem, ops: JsonPatchOp[]): FullItem {
  if (!Array.isArray(ops)) throw new PatchError('invalid patch: the body must be a JSON array of operations');
  const doc = structuredClone(item) as unknown as Doc;
  const ids = new IdIndex();
  const tops = ops.map((op, i) => applyOne(doc, op, i, ids));
  const problem = checkShape(doc);
  if (problem) {
    const i = tops.lastIndexOf(problem.key);
    const where = i >= 0 ? `${describeOp(ops[i], i)}: ` : '';
    throw new PatchError(`invalid patch: ${where}the patched item would be invalid: ${problem.message}`, i >= 0 ? i : undefined);
  }
  return doc as unknown as FullItem;
}

/**
 * Where each field and section id is in `doc.fields` / `doc.sections`, kept up to date across one patch's
 * operations so that a by-id lookup does not scan the list (1,000 operations on a 1,000-field item compared a
 * million ids: ~100 ms of event loop). Exact, duplicates included: an id held by one element is found with one
 * native indexOf; only an id that several elements hold (an item that the final shape check will refuse,
 * unless a later operation renames one) falls back to the scan, which gives the first of them as before.
 */
class IdIndex {
  private readonly lists = new Map<string, { list: unknown[]; byId: Map<string, Set<Doc>> }>();

  /** The index of `doc[key]`, rebuilt when that list is not the one indexed (a patch replaced it). */
  private of(doc: Doc, key: string): { list: unknown[]; byId: Map<string, Set<Doc>> } | undefined {
    const list = doc[key];
    if (!Array.isArray(list)) return undefined;
    let entry = this.lists.get(key);
    if (entry?.list !== list) {
      entry = { list, byId: new Map() };
      for (const el of list) IdIndex.add(entry.byId, el);
      this.lists.set(key, entry);
    }
    return entry;
  }

  private static add(byId: Map<string, Set<Doc>>, el: unknown): void {
    if (!isObject(el) || typeof el.id !== 'string') return;
    let holders = byId.get(el.id);
    if (!holders) byId.set(el.id, (holders = new Set()));
    holders.add(el);
  }

  private static remove(byId: Map<string, Set<Doc>>, el: unknown, id: unknown): void {
    if (isObject(el) && typeof id === 'string') byId.get(id)?.delete(el);
  }

  /** The index of the first element of `doc[key]` whose id is `id`, or -1. */
  indexOf(doc: Doc, key: string, id: string): number {
    const entry = this.of(doc, key);
    const holders = entry?.byId.get(id);
    if (!entry || !holders || holders.size === 0) return -1;
    if (holders.size === 1) {
      const at = entry.list.indexOf(holders.values().next().value);
      if (at >= 0) return at;
    }
    return entry.list.findIndex((el) => isObject(el) && el.id === id);
  }

  /**
   * Called before an operation on `doc[key]` at `segs` (its index already resolved) is applied; the function
   * it returns, after, brings the index up to date: the element a whole-element operation removed or wrote,
   * or the id an operation inside an element changed (`/fields/3/id`, or the id given after its removal).
   */
  change(doc: Doc, key: string, segs: string[], op: string): () => void {
    const entry = this.of(doc, key);
    if (!entry || segs.length === 1) return () => this.lists.delete(key);
    const { list, byId } = entry;
    const at = segs[1] === '-' ? list.length : Number(segs[1]);
    const el = list[at];
    const oldId = isObject(el) ? el.id : undefined;
    return () => {
      if (doc[key] !== list) return void this.lists.delete(key);
      if (segs.length === 2) {
        if (op !== 'add') IdIndex.remove(byId, el, oldId);
        if (op !== 'remove') IdIndex.add(byId, list[segs[1] === '-' ? list.length - 1 : at]);
      } else if (isObject(el) && el.id !== oldId) {
        IdIndex.remove(byId, el, oldId);
        IdIndex.add(byId, el);
      }
    };
  }
}

/** Applies one operation to `doc`; returns the top-level property it touched. */
function applyOne(doc: Doc, raw: unknown, i: number, ids: IdIndex): string {
  const fail = (reason: string): never => {
    throw new PatchError(`invalid patch: ${describeOp(raw, i)}: ${reason}`, i);
  };

  if (!isObject(raw)) return fail('an operation must be an object with "op" and "path"');
  const { op, path } = raw;
  if (typeof op !== 'string' || !OPS.has(op)) return fail('"op" must be "add", "remove" or "replace"');
  if (typeof path !== 'string') return fail('"path" must be a string');
  if (path === '') return fail('the whole item cannot be patched; use PUT to replace an item');
  if (!path.startsWith('/')) return fail('"path" must be a JSON Pointer starting with "/"');
  const hasValue = op !== 'remove';
  if (hasValue && (!('value' in raw) || raw.value === undefined)) return fail(`"${op}" needs a "value"`);
  let value = raw.value;

  const segs = path.slice(1).split('/').map(unescape);
  const top = segs[0];
  const banned = segs.find((s) => FORBIDDEN_SEGMENTS.has(s));
  if (banned !== undefined) return fail(`the path segment "${banned}" is not allowed`);
  if (SERVER_OWNED.has(top)) return fail(`"/${top}" is set by the server and cannot be patched`);
  if (!PATCHABLE.has(top)) {
    return fail(`"/${top}" is not an item property that can be patched (${PATCHABLE_PROPERTIES.map((p) => `/${p}`).join(', ')})`);
  }

  let effectiveOp = op as JsonPatchOp['op'];
  if (segs.length === 1 && op === 'replace' && doc[top] === undefined) effectiveOp = 'add';

  if ((top === 'fields' || top === 'sections') && segs.length >= 2) {
    const noun = top === 'fields' ? 'field' : 'section';
    const list = doc[top];
    const key = segs[1];
    const byId = ids.indexOf(doc, top, key);
    const whole = segs.length === 2;
    if (byId >= 0) {
      segs[1] = String(byId);
      if (whole && op === 'add') effectiveOp = 'replace';
    } else if (key === '-') {
      if (!(whole && op === 'add')) fail(`"-" (the end of /${top}) can only be the target of "add"`);
    } else if (!INDEX.test(key)) {
      fail(`no ${noun} with id "${key}"`);
    }
    if (whole && effectiveOp !== 'remove') {
      if (!isObject(value)) fail(`a ${noun} must be an object`);
      const replaced = effectiveOp === 'replace' && Array.isArray(list) ? list[Number(segs[1])] : undefined;
      if (isObject(value) && value.id === undefined && isObject(replaced) && typeof replaced.id === 'string') {
        value = { ...value, id: replaced.id };
      }
    }
  }

  const operation = { op: effectiveOp, path: `/${segs.map(escape).join('/')}`, value } as jsonpatch.Operation;
  if (!hasValue) delete (operation as { value?: unknown }).value;
  const reindex = top === 'fields' || top === 'sections' ? ids.change(doc, top, segs, effectiveOp) : undefined;
  try {
    jsonpatch.applyOperation(doc, operation, true, true);
  } catch (e) {
    // fast-json-patch's own messages embed the operation and the document (secrets): never pass them on.
    // Anything else it throws (a TypeError adding a member to a string, say) is the operation's fault too.
    fail(e instanceof jsonpatch.JsonPatchError ? (JSON_PATCH_REASONS[e.name] ?? 'the operation cannot be applied') : 'the operation cannot be applied');
  }

  // A list never grows past its limit, even for a moment: ids are looked up in it by later operations.
  const max = (ITEM_LIMITS as Record<string, number>)[top];
  const after = doc[top];
  if (max !== undefined && Array.isArray(after) && after.length > max) fail(`/${top} may hold at most ${max} elements`);
  if (top === 'fields' || top === 'sections') assignMissingIds(doc, top, segs);
  reindex?.();
  return top;
}

function describeOp(raw: unknown, i: number): string {
  if (!isObject(raw)) return `operation ${i}`;
  const op = typeof raw.op === 'string' ? raw.op.slice(0, 20) : '?';
  const path = typeof raw.path === 'string' ? JSON.stringify(raw.path.slice(0, 200)) : '?';
  return `operation ${i} (${op} ${path})`;
}

/**
 * Gives an id to the field(s) or section(s) an operation just wrote without one, so that later operations
 * can address them: the whole list when it was replaced, else only the element the path names (or the last
 * one, for "-"). Touching only those keeps each operation's cost independent of the item's size.
 */
function assignMissingIds(doc: Doc, key: 'fields' | 'sections', segs: string[]): void {
  const list = doc[key];
  if (!Array.isArray(list)) return;
  const give = (el: unknown) => {
    if (isObject(el) && el.id === undefined) el.id = newId();
  };
  if (segs.length === 1) list.forEach(give);
  else give(segs[1] === '-' ? list[list.length - 1] : list[Number(segs[1])]);
}

const optionalString = (v: unknown) => v === undefined || typeof v === 'string';

/** The first structural problem of a patched item (and the property it is in), or undefined. Never includes values. */
function checkShape(doc: Doc): { key: string; message: string } | undefined {
  const message = shapeProblem(doc);
  if (message === undefined) return undefined;
  const m = /^"?([a-z]+)/.exec(message);
  return { key: m ? m[1] : '', message };
}

function shapeProblem(doc: Doc): string | undefined {
  if (typeof doc.title !== 'string') return '"title" must be a string';
  if (!(ITEM_CATEGORIES as readonly unknown[]).includes(doc.category)) {
    return `"category" must be one of ${ITEM_CATEGORIES.join(', ')}`;
  }
  if (doc.favorite !== undefined && typeof doc.favorite !== 'boolean') return '"favorite" must be true or false';
  if (doc.tags !== undefined) {
    if (!Array.isArray(doc.tags)) return '"tags" must be an array of strings';
    const bad = doc.tags.findIndex((t) => typeof t !== 'string');
    if (bad >= 0) return `tags[${bad}] must be a string`;
  }
  if (doc.urls !== undefined) {
    if (!Array.isArray(doc.urls)) return '"urls" must be an array';
    for (const [n, u] of doc.urls.entries()) {
      if (!isObject(u) || typeof u.href !== 'string') return `urls[${n}] must be an object with a string "href"`;
      if (u.primary !== undefined && typeof u.primary !== 'boolean') return `urls[${n}].primary must be true or false`;
      if (!optionalString(u.label)) return `urls[${n}].label must be a string`;
    }
  }
  for (const key of ['sections', 'fields'] as const) {
    const list = doc[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) return `"${key}" must be an array`;
    const seen = new Set<string>();
    for (const [n, el] of list.entries()) {
      if (!isObject(el)) return `${key}[${n}] must be an object`;
      if (typeof el.id !== 'string' || el.id === '') return `${key}[${n}].id must be a non-empty string`;
      if (seen.has(el.id)) return `${key}[${n}].id "${el.id}" is used twice`;
      seen.add(el.id);
      if (!optionalString(el.label)) return `${key}[${n}].label must be a string`;
      if (key === 'fields') {
        if (!optionalString(el.value)) return `fields[${n}].value must be a string`;
        if (!optionalString(el.type)) return `fields[${n}].type must be a string`;
        if (!optionalString(el.purpose)) return `fields[${n}].purpose must be a string`;
        if (el.section !== undefined && !(isObject(el.section) && typeof el.section.id === 'string')) {
          return `fields[${n}].section must be an object with a string "id"`;
        }
      }
    }
  }
  return undefined;
}

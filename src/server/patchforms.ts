// The PATCH forms of Connect's spec (1.7.1 examples) that plain RFC 6902 reads otherwise (ledger rows 26-27):
// - `[]` leaves the item unmodified: no write, no new version ("If no Patch operations were provided, Item is
//   unmodified");
// - `add` at `/fields` (or `/sections`) with ONE object appends it (example PatchItemField), where RFC 6902 would
//   replace the whole array with an object; an array value still replaces the array;
// - `replace` at `/` replaces the whole item, as a PUT would (example ReplaceAllAttributes): the item's own
//   properties (title, category, fields, ...) become the value's, the server's (id, vault, version, ...) stay;
// - `null` inside an operation's value is an absent member, as everywhere in Connect's bodies (row 13).
// Everything else goes to patch.ts unchanged.
import type { FullItem, JsonPatchOp } from '../connect/types.js';
import { stripNulls } from './normalize.js';

/** The item properties a client sets; everything else on an item belongs to the server. */
const ITEM_OWN = ['title', 'category', 'favorite', 'tags', 'urls', 'fields', 'sections'] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True for a PATCH body of no operations. */
export function isEmptyPatch(body: unknown): boolean {
  return Array.isArray(body) && body.length === 0;
}

/** The operations with the spec's shorthand forms rewritten to what patch.ts applies, nulls dropped. */
export function normalizePatchOps(body: unknown): unknown {
  if (!Array.isArray(body)) return body;
  return body.map((raw) => {
    if (!isObject(raw)) return raw;
    const op = { ...raw };
    if ('value' in op && op.value !== null) op.value = stripNulls(op.value);
    if (op.op === 'add' && (op.path === '/fields' || op.path === '/sections') && isObject(op.value)) op.path = `${op.path}/-`;
    return op;
  });
}

function isWholeReplace(op: unknown): op is { op: 'replace'; path: '/'; value: unknown } {
  return isObject(op) && op.op === 'replace' && op.path === '/';
}

/**
 * Applies `ops` to `item` with `apply` (patch.ts's applyItemPatch) between the whole-item replacements, which
 * this function does itself. A `replace /` whose value is not an object is handed to `apply`, which refuses it.
 */
export function applyPatchWithSpecForms(
  item: FullItem,
  ops: JsonPatchOp[],
  apply: (item: FullItem, ops: JsonPatchOp[]) => FullItem,
): FullItem {
  let current = item;
  let run: JsonPatchOp[] = [];
  const flush = () => {
    if (run.length > 0) current = apply(current, run);
    run = [];
  };
  for (const op of ops) {
    if (isWholeReplace(op) && isObject(op.value)) {
      flush();
      const value = op.value;
      const next: Record<string, unknown> = { ...current };
      for (const k of ITEM_OWN) {
        if (value[k] === undefined) delete next[k];
        else next[k] = structuredClone(value[k]);
      }
      if (next.title === undefined) next.title = '';
      current = next as unknown as FullItem;
    } else {
      run.push(op);
    }
  }
  flush();
  return current;
}

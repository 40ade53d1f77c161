// Keyed digests of desired items. The state and saved plans keep these, never values: an HMAC keyed with a
// secret that is not in the state, so a low-entropy secret cannot be guessed back from its digest.

import { createHmac } from 'node:crypto';
import type { DesiredItem } from '../manifest/types.js';

export type ResolvedValues = ReadonlyMap<string, string>;

/**
 * The digest key: OPSYNC_DIGEST_KEY when set, else derived from the Connect token (which whoever plans
 * must hold anyway). Another key only costs one full refresh: digests stop matching, items are fetched
 * and compared, and apply records digests under the new key.
 */
export function digestKey(token: string, env: NodeJS.ProcessEnv): Buffer {
  const explicit = env.OPSYNC_DIGEST_KEY;
  const base = explicit && explicit.length > 0 ? explicit : token;
  return createHmac('sha256', base).update('opsync digest key v1').digest();
}

/** Canonical JSON: object keys sorted, so equal specs give equal digests. */
export function canonicalJson(value: unknown): string {
  // Undefined for undefined, as JSON.stringify (never met: what is digested is always an object).
  return canon(value) as string;
}

/** Keys that JSON objects order first, ascending by value (array indices: "0" to 2^32-2), as JavaScript does. */
const INDEX = /^(?:0|[1-9]\d{0,9})$/;
const isIndex = (k: string) => INDEX.test(k) && Number(k) <= 4294967294;

/** JSON.stringify of a string: as it is between quotes when nothing in it needs escaping (most names and values). */
function quote(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Control characters, `"`, `\` and surrogates (a lone one is escaped) are left to JSON.stringify.
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return `"${s}"`;
}

/**
 * Exactly what `JSON.stringify(value, replacer that sorts every object's keys)` gives, in one pass without an
 * object rebuilt per node (the floor of a no-op plan is the digest of every item). A sorted object rebuilt by
 * Object.fromEntries puts array-index keys first, ascending, then the others sorted: so does this. Undefined,
 * functions and symbols are left out of objects and are null in arrays; a toJSON (Date) is called; a number
 * that is not finite is null (test/plan/digest.test.ts checks it against JSON.stringify with fast-check).
 */
function canon(v: unknown): string | undefined {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return quote(v);
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      const o = v as { toJSON?: () => unknown };
      if (typeof o.toJSON === 'function') return canon(o.toJSON());
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) out += (i ? ',' : '') + (canon(v[i]) ?? 'null');
        return `${out}]`;
      }
      const keys = Object.keys(v);
      // Object.keys gives the index keys first, ascending; only the others need sorting (sort()'s own order,
      // by UTF-16 code units, is `<`'s).
      let n = 0;
      while (n < keys.length && isIndex(keys[n])) n++;
      const sorted = n === 0 ? keys.sort() : keys.slice(0, n).concat(keys.slice(n).sort());
      let out = '{';
      let first = true;
      for (let i = 0; i < sorted.length; i++) {
        const s = canon((v as Record<string, unknown>)[sorted[i]]);
        if (s === undefined) continue;
        out += (first ? '' : ',') + quote(sorted[i]) + ':' + s;
        first = false;
      }
      return `${out}}`;
    }
    default:
      return undefined; // undefined, a function, a symbol: left out (bigint is refused by JSON.stringify, never met here)
  }
}

/** What of a desired item decides its live content: positions and absolute paths left out. */
function specOf(item: DesiredItem): unknown {
  return {
    address: item.address,
    title: item.title,
    category: item.category,
    tags: item.tags,
    urls: item.urls,
    sections: item.sections,
    ignore: item.ignore,
    fields: item.fields.map((f) => ({
      key: f.key,
      label: f.label,
      section: f.section ?? null,
      type: f.type,
      purpose: f.purpose ?? null,
      source:
        f.source.kind === 'file'
          ? { kind: 'file', as: f.source.as }
          : f.source.kind === 'literal'
            ? { kind: 'literal' }
            : f.source,
    })),
  };
}

export function desiredDigest(item: DesiredItem, values: ResolvedValues, key: Buffer): string {
  const payload = canonicalJson({ spec: specOf(item), values: Object.fromEntries([...values].sort()) });
  return 'hmac-sha256:' + createHmac('sha256', key).update(payload).digest('hex');
}

// Keyed digests of single field values (StateResource.fields): what a field held when opsync last wrote or
// accepted it, generated values included, so a generated value changed by hand is drift. Each is an HMAC under
// the digest key of a domain-separated input (so it never equals a desired digest, or a digest of another kind),
// and names the key it was made with by a short key id, so that under another key opsync knows it cannot compare
// (and falls back to comparing what it can) instead of taking every generated value for changed.
// The key id is 16 bits of an HMAC of a constant: too short to confirm a guessed key.

const FIELD_DOMAIN = 'opsync field value v1\u0000';
export const FIELD_DIGEST_PATTERN = /^hmac-sha256:[0-9a-f]{4}:[0-9a-f]{64}$/;

/** The 4 hex digits that name a digest key in field digests. */
const keyIds = new WeakMap<Buffer, string>();

export function keyId(key: Buffer): string {
  let id = keyIds.get(key);
  if (id === undefined) keyIds.set(key, (id = createHmac('sha256', key).update('opsync key id v1').digest('hex').slice(0, 4)));
  return id;
}

export function fieldDigest(value: string, key: Buffer): string {
  return `hmac-sha256:${keyId(key)}:${createHmac('sha256', key).update(FIELD_DOMAIN + value).digest('hex')}`;
}

/** Whether a recorded field digest was made with `key` (else it cannot be compared with a new one). */
export function madeWithKey(digest: string, key: Buffer): boolean {
  return digest.slice('hmac-sha256:'.length, 'hmac-sha256:'.length + 4) === keyId(key);
}

/**
 * The field digests to record for an item, by field key: every field whose source is not `unmanaged`, and not
 * ignored (`ignore: [fields.<key>]`, except generated ones: what the item holds is recorded and accepted).
 * Generated values are read from `live` (Connect's answer to the write, or the item as planned); the others
 * are the resolved values. `live` maps field keys to the live field the item's field was matched to.
 */
export function fieldDigests(
  item: DesiredItem,
  values: ResolvedValues,
  live: ReadonlyMap<string, { value?: string } | undefined>,
  key: Buffer,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of item.fields) {
    if (f.source.kind === 'unmanaged') continue;
    if (f.source.kind === 'generate') {
      const lf = live.get(f.key);
      if (lf) out[f.key] = fieldDigest(lf.value ?? '', key);
    } else if (!item.ignore.includes(`fields.${f.key}`)) {
      const v = values.get(f.key);
      if (v !== undefined) out[f.key] = fieldDigest(v, key);
    }
  }
  return out;
}

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
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  });
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

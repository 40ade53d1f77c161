// Keeping secrets out of error messages: whatever Connect echoes back in an error is scrubbed of the token and of
// every value the request carried, before it is put into a ConnectError.

const REDACTED = '(redacted)';
/** Shorter strings are too common to be told apart from ordinary words; field values that short are not scrubbed. */
const MIN_SECRET_LENGTH = 3;

/**
 * The sensitive strings in a request body: every field `value` of an item, and every value a JSON Patch writes
 * (a patch's value may be a field, a field's value, or a whole fields array).
 */
export function sensitiveStrings(body: unknown): string[] {
  const out = new Set<string>();
  const collectAll = (v: unknown): void => {
    if (typeof v === 'string') {
      if (v.length >= MIN_SECRET_LENGTH) out.add(v);
    } else if (Array.isArray(v)) v.forEach(collectAll);
    else if (v && typeof v === 'object') Object.values(v).forEach(collectAll);
  };
  const collectValues = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(collectValues);
    else if (v && typeof v === 'object') {
      for (const [k, inner] of Object.entries(v)) {
        if (k === 'value' || k === 'totp' || k === 'content') collectAll(inner);
        else collectValues(inner);
      }
    }
  };
  if (Array.isArray(body) && body.every((op) => op && typeof op === 'object' && 'op' in op)) {
    // JSON Patch: everything written is potentially a secret.
    for (const op of body as { value?: unknown }[]) collectAll(op.value);
  } else {
    collectValues(body);
  }
  return [...out];
}

/** Replaces each secret (longest first, so that overlapping secrets are fully hidden) in text. */
export function scrub(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s && result.includes(s)) result = result.split(s).join(REDACTED);
  }
  return result;
}

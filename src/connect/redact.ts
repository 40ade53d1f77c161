// Keeping secrets out of error messages. Text a server sends back (Connect, or a proxy or WAF in front of it)
// may quote the refused request in any encoding, so it is never shown as it came:
// - every form a sent value can take in an echo (raw, JSON- and Go-escaped once or twice, Go %q, Python's
//   ASCII-only JSON, URL and form encoding, HTML entities, base64 at each byte alignment) is searched for,
//   ignoring case, and so is every run of MIN_RUN or more characters of each form (a truncated or partial echo);
// - where that cannot tell a value from ordinary words (a value shorter than MIN_SCRUBBABLE), or the values are
//   too large to index, the server's text is withheld altogether and only the status and the place are shown.

const REDACTED = '(redacted)';
/** Any run of this many characters of a sent value's encoding is taken for an echo of it. */
const MIN_RUN = 8;
/** A value shorter than this cannot be told apart from ordinary words: the server's text is then withheld. */
const MIN_SCRUBBABLE = 4;
/** Above this many characters of values in one request, the server's text is withheld instead of searched. */
const MAX_INDEXED = 32 * 1024;
/** Server text longer than this is cut (after scrubbing): a message, not a body dump. */
const MAX_SHOWN = 300;

/**
 * The sensitive strings in a request body: every field `value` of an item (and `totp`, file `content`), and every
 * value a JSON Patch writes (a patch's value may be a field, a field's value, or a whole fields array).
 */
export function sensitiveStrings(body: unknown): string[] {
  const out = new Set<string>();
  const collectAll = (v: unknown): void => {
    if (typeof v === 'string') {
      if (v.length > 0) out.add(v);
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

/** Lower case, one UTF-16 unit for one (so that positions in the folded text are positions in the original). */
function fold(s: string): string {
  let out = '';
  for (const ch of s) {
    const lower = ch.toLowerCase();
    out += lower.length === ch.length ? lower : ch;
  }
  return out;
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** JSON string contents (no quotes). */
const jsonEscape = (s: string) => JSON.stringify(s).slice(1, -1);

/** Go's encoding/json: also <, >, & and U+2028/2029 as \u escapes. */
const goJsonEscape = (s: string) =>
  jsonEscape(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${hex(c.charCodeAt(0), 4)}`);

/** Python's json.dumps with ensure_ascii: every non-ASCII unit as \uXXXX. */
const asciiJsonEscape = (s: string) => jsonEscape(s).replace(/[^\x00-\x7f]/g, (c) => `\\u${hex(c.charCodeAt(0), 4)}`);

/** Go's strconv.Quote (the %q verb), contents only. */
function goQuote(s: string): string {
  const named: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '\\': '\\\\', '"': '\\"' };
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (named[ch]) out += named[ch];
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${hex(cp, 2)}`;
    else if (/[\p{L}\p{M}\p{N}\p{P}\p{S}\x20]/u.test(ch)) out += ch;
    else out += cp > 0xffff ? `\\U${hex(cp, 8)}` : `\\u${hex(cp, 4)}`;
  }
  return out;
}

const htmlEscape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;');

/**
 * The parts of base64 that any text containing `bytes` at byte offset ≡ k (mod 3) contains, for k = 0, 1, 2:
 * the 4-character groups made of the value's bytes alone.
 */
function base64Cores(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let k = 0; k < 3; k++) {
    const b64 = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
    const core = b64.slice(k === 0 ? 0 : 4, Math.max(k === 0 ? 0 : 4, b64.length - 4));
    if (core) out.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

/** Every form a value can take when a server or proxy echoes it back. */
export function echoForms(value: string): string[] {
  const forms = new Set<string>([value]);
  for (const once of [jsonEscape(value), goJsonEscape(value), asciiJsonEscape(value), goQuote(value)]) {
    forms.add(once);
    // The request body quoted inside another JSON or Go string (a message that quotes the JSON it was sent).
    forms.add(jsonEscape(once));
    forms.add(goJsonEscape(once));
    forms.add(goQuote(once));
  }
  forms.add(encodeURIComponent(value));
  forms.add(encodeURIComponent(value).replace(/%20/g, '+'));
  forms.add(htmlEscape(value));
  forms.add(htmlEscape(value).replace(/&#34;/g, '&quot;'));
  for (const core of base64Cores(Buffer.from(value, 'utf8'))) forms.add(core);
  forms.delete('');
  return [...forms];
}

/** Finds echoes of a fixed set of secrets in server text; built once per request. */
export class Redactor {
  /** The text of a server answer is not to be shown at all. */
  readonly withhold: boolean;
  private readonly runs = new Set<string>();
  private readonly whole: string[] = [];

  constructor(secrets: readonly string[]) {
    const total = secrets.reduce((n, s) => n + s.length, 0);
    this.withhold = total > MAX_INDEXED || secrets.some((s) => s.length < MIN_SCRUBBABLE);
    if (this.withhold) return;
    for (const secret of secrets) {
      for (const form of echoForms(secret)) {
        const f = fold(form);
        if (f.length < MIN_RUN) this.whole.push(f);
        else for (let i = 0; i + MIN_RUN <= f.length; i++) this.runs.add(f.slice(i, i + MIN_RUN));
      }
    }
  }

  /** The text with every echo replaced by "(redacted)". */
  scrub(text: string): string {
    if (this.runs.size === 0 && this.whole.length === 0) return text;
    const folded = fold(text);
    const hidden = new Uint8Array(text.length);
    const mark = (from: number, to: number) => hidden.fill(1, from, to);
    for (let i = 0; i + MIN_RUN <= folded.length; i++) {
      if (this.runs.has(folded.slice(i, i + MIN_RUN))) mark(i, i + MIN_RUN);
    }
    for (const w of this.whole) {
      for (let at = folded.indexOf(w); at !== -1; at = folded.indexOf(w, at + 1)) mark(at, at + w.length);
    }
    let out = '';
    for (let i = 0; i < text.length; i++) {
      if (!hidden[i]) out += text[i];
      else if (i === 0 || !hidden[i - 1]) out += REDACTED;
    }
    return out;
  }

  /**
   * Server text as it may be shown: scrubbed and cut short, or undefined when it must be withheld.
   * Use for anything a server sent back; text opsync wrote itself needs only `scrub` (for the token).
   */
  serverText(text: string): string | undefined {
    if (this.withhold) return undefined;
    const scrubbed = this.scrub(text.trim());
    if (!scrubbed) return undefined;
    return scrubbed.length > MAX_SHOWN ? `${scrubbed.slice(0, MAX_SHOWN)}…` : scrubbed;
  }
}

/** Replaces each secret, and each echo of it, in text (see Redactor). */
export function scrub(text: string, secrets: readonly string[]): string {
  return new Redactor(secrets.filter((s) => s.length >= MIN_SCRUBBABLE)).scrub(text);
}

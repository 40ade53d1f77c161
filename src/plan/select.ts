// What --target, --rotate and --replace name must exist: a selector that matches nothing is an error with the
// closest names, never a silent "No changes". Pure: manifest items and state addresses in, messages out.
// Addresses, vaults and field keys match exactly (case-sensitive); a name that differs only in case is said so.

/** What select needs of a manifest item (a DesiredItem has it). */
export interface SelectItem {
  address: string;
  fields: readonly { key: string; source: { kind: string } }[];
}

export interface SelectInput {
  /** Every manifest resource (targets or not). */
  items: readonly SelectItem[];
  /** The state's resources by address, after `moved` blocks. */
  resources: Readonly<Record<string, unknown>>;
  targets?: readonly string[];
  /** "ADDRESS" or "ADDRESS:FIELD". */
  rotate?: readonly string[];
  replace?: readonly string[];
}

/** Levenshtein distance: the fewest one-character insertions, deletions and substitutions from a to b. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length < b.length) [a, b] = [b, a]; // rows as long as the shorter string
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

export interface Closest {
  /** Candidates equal to the input but for case. */
  caseOnly: string[];
  /** Up to 3 others, nearest first. */
  near: string[];
}

/**
 * The candidates nearest to `input`: those equal but for case, then up to 3 others within a third of the
 * input's length in edits (at least 1, at most 3: a typo is an edit or two, and a long shared vault name
 * must not make every other key of the vault "near"), nearest first and by name among equals. When none is
 * that near, the nearest of `fallback` (candidates the input plainly meant to be among, e.g. its vault's).
 */
export function closest(input: string, candidates: Iterable<string>, fallback: Iterable<string> = []): Closest {
  const lower = input.toLowerCase();
  const caseOnly: string[] = [];
  const scored: [string, number][] = [];
  for (const c of new Set(candidates)) {
    if (c === input) continue;
    if (c.toLowerCase() === lower) caseOnly.push(c);
    else scored.push([c, editDistance(input, c)]);
  }
  const rank = (list: [string, number][]) =>
    list.sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)).slice(0, 3).map(([c]) => c);
  const limit = Math.min(3, Math.max(1, Math.floor(input.length / 3)));
  let near = rank(scored.filter(([, d]) => d <= limit));
  if (near.length === 0 && caseOnly.length === 0) {
    const fb = new Set(fallback);
    near = rank(scored.filter(([c]) => fb.has(c)));
  }
  return { caseOnly: caseOnly.sort(), near };
}

/** "a", "a or b", "a, b or c". */
function orList(names: readonly string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

/** "; did you mean X?" (with the case-sensitivity note when one differs only in case), or nothing. */
export function suggest(c: Closest, what: 'addresses' | 'field keys' | 'vault names'): string {
  const all = [...c.caseOnly, ...c.near];
  if (all.length === 0) return '';
  return `; did you mean ${orList(all)}?${c.caseOnly.length ? ` (${what} are case-sensitive)` : ''}`;
}

/** An address's vault: up to its first '/' (vault names and keys hold none). */
const vaultOf = (address: string): string => (address.includes('/') ? address.slice(0, address.indexOf('/')) : address);
const keyOf = (address: string): string => address.slice(address.indexOf('/') + 1);
const shown = (s: string): string => (s === '' ? '""' : s);

/**
 * The addresses of `pool` that `name` plainly meant one of, however far in edits: those of its vault for
 * "Vault/key", those of its key in any vault for a bare "key".
 */
function related(pool: Iterable<string>, name: string): string[] {
  const all = [...pool].filter((a) => a.includes('/'));
  if (name.includes('/')) return all.filter((a) => vaultOf(a) === vaultOf(name));
  return all.filter((a) => keyOf(a).toLowerCase() === name.toLowerCase());
}

/** Every problem with the request's selectors, one message each (empty: all of them name something). */
export function checkSelection(input: SelectInput): string[] {
  const messages: string[] = [];
  const manifest = new Map(input.items.map((i) => [i.address, i]));
  const inState = new Set(Object.keys(input.resources));
  const known = new Set([...manifest.keys(), ...inState]);
  const vaults = new Set([...known].map(vaultOf));
  /** "no resource X<where>; did you mean ...?" among `pool`. */
  const noResource = (address: string, pool: readonly string[], where: string) => {
    const c = closest(address, pool, related(pool, address));
    return `${c.caseOnly.length ? `no resource "${address}"` : `no resource ${shown(address)}${where}`}${suggest(c, 'addresses')}`;
  };

  for (const t of input.targets ?? []) {
    const vault = t.endsWith('/') ? t.slice(0, -1) : t;
    if (known.has(t) || (!vault.includes('/') && vaults.has(vault))) continue;
    // "Vault/key" meant a resource; "Vault" or "Vault/" a vault (offered as written) or a resource.
    const meantVault = !vault.includes('/');
    const pool = meantVault ? [...known, ...[...vaults].map((v) => (t.endsWith('/') ? `${v}/` : v))] : [...known];
    const c = closest(t, pool, related(known, vault));
    const what = c.caseOnly.length === 0 ? 'no resource or vault matches' : c.caseOnly.some((x) => known.has(x)) ? `no resource "${t}"` : `no vault "${vault}"`;
    messages.push(`--target ${shown(t)}: ${what}${suggest(c, 'addresses')}`);
  }

  const generated = (i: SelectItem) => i.fields.filter((f) => f.source.kind === 'generate').map((f) => f.key);
  const rotatable = [...manifest.values()].filter((i) => generated(i).length > 0).map((i) => i.address);
  for (const r of input.rotate ?? []) {
    // A ':' after the address's '/' starts a field key (vault names may hold ':'; keys never do).
    const colon = r.lastIndexOf(':');
    const [address, field] = colon > r.indexOf('/') ? [r.slice(0, colon), r.slice(colon + 1)] : [r, undefined];
    const item = manifest.get(address);
    if (!item) {
      messages.push(`--rotate ${shown(r)}: ${noResource(address, rotatable, ' in the manifests')}`);
      continue;
    }
    const keys = generated(item);
    if (field === undefined) {
      if (keys.length === 0) messages.push(`--rotate ${r}: ${address} has no generated field (only fields with \`generate\` are rotated)`);
      continue;
    }
    if (keys.includes(field)) continue;
    if (item.fields.some((f) => f.key === field)) {
      messages.push(`--rotate ${r}: field ${field} is not generated (only fields with \`generate\` are rotated)`);
    } else if (keys.length === 0) {
      messages.push(`--rotate ${r}: no field ${shown(field)}, and ${address} has no generated field`);
    } else {
      messages.push(`--rotate ${r}: no field ${shown(field)}${suggest(closest(field, keys, keys), 'field keys')}`);
    }
  }

  const replaceable = [...manifest.keys()].filter((a) => inState.has(a));
  for (const r of input.replace ?? []) {
    if (manifest.has(r) && inState.has(r)) continue;
    if (manifest.has(r)) messages.push(`--replace ${r}: ${r} is not in the state yet; apply creates it (nothing to replace)`);
    else if (inState.has(r)) messages.push(`--replace ${r}: ${r} is no longer in the manifests; apply deletes it (nothing to replace)`);
    else messages.push(`--replace ${shown(r)}: ${noResource(r, replaceable, ' in the manifests and the state')}`);
  }
  return messages;
}

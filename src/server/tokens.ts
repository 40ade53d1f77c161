// Bearer tokens: JWT-style HS256 strings (header.payload.signature, base64url) signed with a secret kept in
// the store. The store keeps only the SHA-256 hash of each token, so a token is valid when its signature
// checks out AND its hash is on record; its grants come from the record.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { newId } from './ids.js';
import type { Store, TokenGrant, TokenRecord } from './store.js';

const SECRET_KEY = 'token_secret';

export interface GrantSpec {
  /** Vault name or id. */
  vault: string;
  read: boolean;
  write: boolean;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function secret(store: Store): Buffer {
  let s = store.getMeta(SECRET_KEY);
  if (!s) {
    s = randomBytes(32).toString('base64');
    store.setMeta(SECRET_KEY, s);
  }
  return Buffer.from(s, 'base64');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Resolves vault names/ids to ids; throws with a clear message for an unknown or ambiguous vault. */
export function resolveGrants(store: Store, specs: GrantSpec[]): TokenGrant[] {
  return specs.map((g) => {
    const byId = store.getVault(g.vault);
    const matches = byId ? [byId] : store.vaultsByName(g.vault);
    if (matches.length === 0) throw new Error(`no vault named or with id "${g.vault}"`);
    if (matches.length > 1) throw new Error(`more than one vault is named "${g.vault}"; use its id`);
    return { vault: matches[0].id, read: g.read || g.write, write: g.write };
  });
}

/** What a state grant may name: a state's name (STATE_NAME), or '*' for every state. */
export const STATE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Throws with a clear message for a state grant that names no possible state. */
export function checkStateGrant(name: string): string {
  if (name !== '*' && !STATE_NAME.test(name)) {
    throw new Error(`"${name}" is not a state name: letters, digits, '.', '_' and '-', at most 128, starting with a letter or digit (or '*' for every state)`);
  }
  return name;
}

/**
 * Creates, records (hash only) and returns a new token. No grants: every vault, read and write. With
 * `states` (remote states it may read and write, '*' for all) and no `vaults`: no vault at all, so that a
 * token made for state never reads a secret.
 */
export function issueToken(store: Store, opts: { name?: string; vaults?: GrantSpec[]; states?: string[] } = {}): string {
  const states = opts.states && opts.states.length > 0 ? [...new Set(opts.states.map(checkStateGrant))] : undefined;
  const grants = opts.vaults && opts.vaults.length > 0 ? resolveGrants(store, opts.vaults) : states ? [] : null;
  const id = newId();
  const jti = newId();
  const now = new Date();
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(
    JSON.stringify({
      iss: 'opsync',
      sub: id,
      jti,
      iat: Math.floor(now.getTime() / 1000),
      name: opts.name ?? 'opsync',
      vaults: grants ?? 'all',
      ...(states ? { states } : {}),
    }),
  );
  const signature = createHmac('sha256', secret(store)).update(`${header}.${payload}`).digest('base64url');
  const token = `${header}.${payload}.${signature}`;
  store.insertToken({ id, jti, name: opts.name ?? 'opsync', hash: hashToken(token), grants, ...(states ? { states } : {}), createdAt: now.toISOString() });
  return token;
}

/** Most verified tokens remembered per store; past it the memory starts again empty. */
const VERIFIED_MAX = 1024;

/**
 * Tokens found valid, by the SHA-256 hash the store keeps, for the token table's generation they were found
 * valid in: a request with one of them costs a hash and one small query instead of an HMAC, the secret's and
 * the record's queries and parsing its grants. Any change to the token table (by this process or another one
 * on the same file, such as a revocation) moves the generation, and everything remembered is dropped.
 * Only valid tokens are remembered; an unknown one is checked in full every time.
 */
const verified = new WeakMap<Store, { generation: number; byHash: Map<string, TokenRecord> }>();

/** The record of a valid token, or undefined for anything malformed, badly signed or unknown. */
export function verifyToken(store: Store, token: string): TokenRecord | undefined {
  const hash = hashToken(token);
  const generation = store.tokenGeneration();
  let known = verified.get(store);
  if (!known || known.generation !== generation) {
    known = { generation, byHash: new Map() };
    verified.set(store, known);
  }
  // The hash of a token on record: the very token that was found valid (no other string has that hash).
  const hit = known.byHash.get(hash);
  if (hit) return hit;
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) return undefined;
  const expected = createHmac('sha256', secret(store)).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  const record = store.tokenByHash(hash);
  if (!record) return undefined;
  // Shared by every request that presents the token from now on: nobody may change it.
  if (record.grants) for (const g of record.grants) Object.freeze(g);
  Object.freeze(record.grants);
  if (record.states) Object.freeze(record.states);
  Object.freeze(record);
  if (known.byHash.size >= VERIFIED_MAX) known.byHash.clear();
  known.byHash.set(hash, record);
  return record;
}

export type Access = 'read' | 'write';

/** Whether a token may read or write a vault. */
export function tokenAllows(token: TokenRecord, vaultId: string, access: Access): boolean {
  if (token.grants === null) return true;
  const g = token.grants.find((x) => x.vault === vaultId);
  if (!g) return false;
  return access === 'read' ? g.read : g.write;
}

/** Whether a token may read and write the remote state `name`. */
export function tokenAllowsState(token: TokenRecord, name: string): boolean {
  return token.states !== undefined && (token.states.includes('*') || token.states.includes(name));
}

export function tokenSeesVault(token: TokenRecord, vaultId: string): boolean {
  return token.grants === null || token.grants.some((g) => g.vault === vaultId);
}

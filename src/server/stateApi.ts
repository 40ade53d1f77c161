// Remote state (issue 15): Terraform's http backend protocol under /state, so that a team running opsync
// server has shared, locked opsync state with nothing else to run. The document stored is an opsync state
// (src/state/file.ts), kept byte for byte as written, with its last versions.
//
//   GET    /state                          the states this token may use (name, serial, lineage, ...)
//   GET    /state/NAME                     200 the document (Content-MD5), 404 when there is none
//   POST   /state/NAME?ID=LOCK[&force=true] write it, under the held lock
//   DELETE /state/NAME?ID=LOCK             remove it, under the held lock (its versions stay listed)
//   LOCK   /state/NAME  | POST /state/NAME/lock     take the lock (Terraform's and GitLab's layouts)
//   UNLOCK /state/NAME  | DELETE /state/NAME/lock   release it: the body's ID (or ?ID=) must be the holder's
//   GET    /state/NAME/versions            the kept versions, newest first, without documents
//   GET    /state/NAME/versions/SERIAL     one of them (?lineage= picks among equal serials)
//
// Stricter than the protocol on purpose (a kinder server hides a client's bugs): every write and delete must
// name the held lock's id (409 otherwise), and a write must be an opsync state of the stored lineage with a
// higher serial (409 otherwise) unless force=true (`state push --force`). Lock refusals answer the holder's
// LockInfo as Terraform reads it; the other refusals answer {"status","message","reason"}.
//
// Auth: a bearer token with a state grant (`opsync server token create --state NAME`), sent as
// `Authorization: Bearer` or as the password of HTTP Basic (all Terraform's http backend sends; the user name
// is ignored). Requests here are not activity entries: Connect's log knows items and vaults only, and Connect
// clients read it.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseStateDocument } from '../state/file.js';
import { STATE_FORMAT_VERSION, type StateFile } from '../state/types.js';
import { HttpError, jsonShapeProblem, MAX_JSON_DEPTH, parseJsonBody, readBody, sendJson } from './http.js';
import { Router, type Params } from './router.js';
import type { StateLock, StateVersion, StateVersionMeta, Store, TokenRecord } from './store.js';
import { STATE_NAME, tokenAllowsState, verifyToken } from './tokens.js';

export interface StateContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Params;
  query: URLSearchParams;
  token: TokenRecord;
  store: Store;
  /** Largest state document accepted (413 above). */
  maxStateBytes: number;
  /** Versions kept per state (>= 1). */
  versionsKept: number;
}

export type StateHandler = (ctx: StateContext) => Promise<void> | void;

/** Largest LOCK/UNLOCK body: a LockInfo is a few hundred bytes. */
export const MAX_LOCK_BODY_BYTES = 64 * 1024;
/** Longest lock id accepted (Terraform's and opsync's are UUIDs). */
const LOCK_ID = /^[\x21-\x7e]{1,256}$/;
/** The LockInfo fields Terraform sends; each, when present, must be a string. */
const LOCK_INFO_FIELDS = ['ID', 'Operation', 'Info', 'Who', 'Version', 'Created', 'Path'] as const;
/** Longest reason a refused document gets: its keys (resource addresses) can be long. */
const MAX_REASON_CHARS = 300;

/** Whether a path is one of /state's. */
export function isStatePath(pathname: string): boolean {
  return pathname === '/state' || pathname === '/state/' || pathname.startsWith('/state/');
}

const basicChallenge = { 'WWW-Authenticate': 'Basic realm="opsync state", charset="UTF-8"' };

/**
 * The token of a /state request: `Authorization: Bearer <token>`, or HTTP Basic whose password is the token
 * (the user name is ignored). 401 when missing or invalid; 403 when it has no state grant at all.
 */
export function authenticateState(store: Store, req: IncomingMessage): TokenRecord {
  const header = req.headers.authorization;
  if (!header) {
    throw new HttpError(401, 'Missing Authorization header: send "Authorization: Bearer <token>" or HTTP Basic with the token as password', basicChallenge);
  }
  let token: string | undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  const basic = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (bearer) token = bearer[1];
  else if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) token = decoded.slice(colon + 1);
  }
  const record = token ? verifyToken(store, token) : undefined;
  if (!record) throw new HttpError(401, 'Invalid token: send a state token as "Authorization: Bearer <token>" or as the HTTP Basic password', basicChallenge);
  if (!record.states?.length) {
    throw new HttpError(403, 'This token has no access to remote state; create one with: opsync server token create --state NAME');
  }
  return record;
}

/** The checked state name of the path, and the token's right to it. */
function stateName(ctx: StateContext): string {
  const name = ctx.params.name;
  if (!STATE_NAME.test(name)) {
    throw new HttpError(400, "Invalid state name: letters, digits, '.', '_' and '-', at most 128, starting with a letter or digit");
  }
  if (!tokenAllowsState(ctx.token, name)) throw new HttpError(403, `This token has no access to state "${name}"`);
  return name;
}

function md5(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('base64');
}

/** The body, refused (400) when a Content-MD5 header says otherwise (Terraform sends one with every body). */
async function body(ctx: StateContext, limit: number): Promise<Buffer> {
  const raw = await readBody(ctx.req, limit);
  const claimed = ctx.req.headers['content-md5'];
  if (claimed !== undefined && claimed !== md5(raw)) throw new HttpError(400, 'Content-MD5 does not match the request body');
  return raw;
}

/** A refusal with a machine-readable reason beside Connect's {status, message}. */
function refuse(ctx: StateContext, status: number, reason: 'not_locked' | 'lineage' | 'serial', message: string): void {
  sendJson(ctx.res, status, { status, message, reason });
}

/** The holder's LockInfo, as it sent it: what Terraform's client reads from a 409 or 423. */
function sendLock(ctx: StateContext, status: number, lock: StateLock): void {
  const text = lock.info;
  ctx.res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  ctx.res.end(text);
}

function sendDocument(ctx: StateContext, v: StateVersion): void {
  ctx.res.writeHead(200, {
    'Content-Type': 'application/json',
    'Content-Length': v.document.length,
    'Content-MD5': v.md5,
  });
  ctx.res.end(v.document);
}

function metaView(v: StateVersionMeta) {
  return { serial: v.serial, lineage: v.lineage, updated: v.updatedAt, size: v.size };
}

/** One line, no control characters, bounded: a refused document's keys are the only part of it quoted. */
function oneLine(text: string): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return flat.length > MAX_REASON_CHARS ? `${flat.slice(0, MAX_REASON_CHARS - 1)}…` : flat;
}

/**
 * The body as an opsync state, or 400 with a one-line reason. The JSON is parsed here first so that no
 * message quotes the text (V8's syntax errors quote a slice of it); the version is checked here for the same
 * reason (the migration's message quotes a wrong one); then parseStateDocument checks the rest.
 */
function parseState(raw: Buffer, name: string): StateFile {
  const text = raw.toString('utf8');
  const bad = (why: string) => new HttpError(400, oneLine(`Request body is not an opsync state: ${why}`));
  if (text.trim() === '') throw bad('it is empty');
  if (jsonShapeProblem(text, MAX_JSON_DEPTH, Number.MAX_SAFE_INTEGER)) throw bad(`it nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw bad('it is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('it is not a JSON object');
  const version = (doc as Record<string, unknown>).version;
  if (version !== undefined && (!Number.isSafeInteger(version) || (version as number) < 0)) throw bad('"version" must be a whole number');
  if (typeof version === 'number' && version > STATE_FORMAT_VERSION) {
    throw bad(`it has state format ${version}; this server reads up to ${STATE_FORMAT_VERSION}: upgrade the opsync server`);
  }
  try {
    return parseStateDocument(text, name);
  } catch (err) {
    // StateError's message: `state NAME: WHERE: WHAT`; anything else thrown is a document it could not read.
    const message = err instanceof Error ? err.message : '';
    const prefix = `state ${name}`;
    throw bad(message.startsWith(prefix) ? message.slice(prefix.length).replace(/^[:\s]+/, '') : 'it could not be read');
  }
}

/** The lock id the request names: ?ID= (Terraform's writes), or a JSON body's ID (its unlocks), which must agree. */
function requestLockId(ctx: StateContext, bodyId?: string): string | undefined {
  const q = ctx.query.get('ID') ?? undefined;
  if (q !== undefined && bodyId !== undefined && q !== bodyId) throw new HttpError(400, "The body's ID and the ID query parameter differ");
  const id = bodyId ?? q;
  if (id === undefined || id === '') return undefined;
  if (!LOCK_ID.test(id)) throw new HttpError(400, 'Invalid lock ID: 1 to 256 printable characters, no spaces');
  return id;
}

/**
 * Inside the write transaction: the held lock must be the request's. Answers (409) and returns false when it
 * is not: the holder's LockInfo for a missing or wrong id, a not_locked refusal when nobody holds it.
 */
function underLock(ctx: StateContext, name: string, id: string | undefined, what: 'write' | 'delete'): boolean {
  const holder = ctx.store.stateLock(name);
  if (!holder) {
    refuse(ctx, 409, 'not_locked', `state "${name}" is not locked: lock it before you ${what} it (LOCK /state/${name}), then send ?ID=<lock id>`);
    return false;
  }
  if (id !== holder.id) {
    sendLock(ctx, 409, holder);
    return false;
  }
  return true;
}

function forceParam(ctx: StateContext): boolean {
  const f = ctx.query.get('force');
  if (f === null || f === 'false') return false;
  if (f === 'true') return true;
  throw new HttpError(400, 'Query parameter force must be true or false');
}

// ---- handlers

const listStates: StateHandler = (ctx) => {
  const states = ctx.store.listStates().filter((s) => tokenAllowsState(ctx.token, s.name));
  sendJson(ctx.res, 200, states.map((s) => ({ name: s.name, ...metaView(s), locked: s.locked })));
};

const getState: StateHandler = (ctx) => {
  const name = stateName(ctx);
  const v = ctx.store.getState(name);
  if (!v) throw new HttpError(404, `No state named "${name}"`);
  sendDocument(ctx, v);
};

const writeState: StateHandler = async (ctx) => {
  const name = stateName(ctx);
  const id = requestLockId(ctx);
  const force = forceParam(ctx);
  const raw = await body(ctx, ctx.maxStateBytes);
  const state = parseState(raw, name);
  const written = ctx.store.writeTransaction(() => {
    if (!underLock(ctx, name, id, 'write')) return undefined;
    const stored = ctx.store.stateMeta(name);
    if (stored && !force) {
      if (stored.lineage !== state.lineage) {
        refuse(ctx, 409, 'lineage', `state "${name}" has lineage ${stored.lineage}; the document is of another lineage: it is another state (force=true replaces it)`);
        return undefined;
      }
      if (state.serial <= stored.serial) {
        refuse(ctx, 409, 'serial', `state "${name}" is at serial ${stored.serial}; serial ${state.serial} is not newer (force=true replaces it)`);
        return undefined;
      }
    }
    return ctx.store.putState(name, { lineage: state.lineage, serial: state.serial, document: raw, md5: md5(raw), now: new Date().toISOString() }, ctx.versionsKept);
  });
  if (written) sendJson(ctx.res, 200, { name, ...metaView(written) });
};

const deleteState: StateHandler = (ctx) => {
  const name = stateName(ctx);
  const id = requestLockId(ctx);
  const deleted = ctx.store.writeTransaction(() => (underLock(ctx, name, id, 'delete') ? ctx.store.deleteState(name) : undefined));
  // Deleting what is not there is done already (a retried delete): 200 either way, and it says which.
  if (deleted !== undefined) sendJson(ctx.res, 200, { name, deleted });
};

/** A LOCK/UNLOCK body as a JSON object (empty: undefined), with string LockInfo fields. */
async function lockBody(ctx: StateContext, required: boolean): Promise<Record<string, unknown> | undefined> {
  const raw = await body(ctx, MAX_LOCK_BODY_BYTES);
  if (raw.toString('utf8').trim() === '') {
    if (required) throw new HttpError(400, 'Request body is empty; a LockInfo JSON object {"ID": ..., "Operation": ..., "Who": ...} is required');
    return undefined;
  }
  const doc = parseJsonBody(raw);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new HttpError(400, 'Request body must be a LockInfo JSON object');
  const info = doc as Record<string, unknown>;
  for (const f of LOCK_INFO_FIELDS) {
    if (info[f] !== undefined && typeof info[f] !== 'string') throw new HttpError(400, `LockInfo field ${f} must be a string`);
  }
  return info;
}

const lockState: StateHandler = async (ctx) => {
  const name = stateName(ctx);
  const info = (await lockBody(ctx, true)) as Record<string, unknown>;
  const id = info.ID;
  if (typeof id !== 'string' || !LOCK_ID.test(id)) throw new HttpError(400, 'LockInfo ID is required: 1 to 256 printable characters, no spaces');
  const lock: StateLock = { id, info: JSON.stringify(info), createdAt: new Date().toISOString() };
  // Held, even under the same id: 423 with the holder (a client retrying its own LOCK finds its id there).
  const holder = ctx.store.lockState(name, lock);
  if (holder) return sendLock(ctx, 423, holder);
  sendLock(ctx, 200, lock);
};

const unlockState: StateHandler = async (ctx) => {
  const name = stateName(ctx);
  const info = await lockBody(ctx, false);
  const id = requestLockId(ctx, info?.ID as string | undefined);
  const outcome = ctx.store.writeTransaction(() => {
    const holder = ctx.store.stateLock(name);
    if (!holder) return { status: 409 as const };
    if (id !== holder.id || !ctx.store.unlockState(name, id)) return { status: 409 as const, holder };
    return { status: 200 as const, holder };
  });
  // As Terraform's own test server and GitLab: unlocking a free lock is a conflict (a client that thinks it
  // holds a lock nobody holds has lost it); a wrong id answers the holder.
  if (!outcome.holder) return refuse(ctx, 409, 'not_locked', `state "${name}" is not locked`);
  sendLock(ctx, outcome.status, outcome.holder);
};

const listVersions: StateHandler = (ctx) => {
  const name = stateName(ctx);
  const current = ctx.store.stateMeta(name)?.seq;
  sendJson(
    ctx.res,
    200,
    ctx.store.stateVersions(name).map((v) => ({ ...metaView(v), current: v.seq === current })),
  );
};

const getVersion: StateHandler = (ctx) => {
  const name = stateName(ctx);
  const raw = ctx.params.serial;
  if (!/^\d{1,15}$/.test(raw)) throw new HttpError(400, 'Invalid serial: a whole number');
  const v = ctx.store.stateVersion(name, Number(raw), ctx.query.get('lineage') ?? undefined);
  if (!v) throw new HttpError(404, `No kept version of state "${name}" has serial ${Number(raw)}`);
  sendDocument(ctx, v);
};

/** The /state routes. */
export function stateRoutes(): Router<StateHandler> {
  const S = '/state/:name';
  return new Router<StateHandler>()
    .add('GET', '/state', listStates)
    .add('GET', S, getState)
    .add('POST', S, writeState)
    .add('DELETE', S, deleteState)
    .add('LOCK', S, lockState)
    .add('UNLOCK', S, unlockState)
    .add('POST', `${S}/lock`, lockState)
    .add('DELETE', `${S}/lock`, unlockState)
    .add('LOCK', `${S}/lock`, lockState)
    .add('UNLOCK', `${S}/lock`, unlockState)
    .add('GET', `${S}/versions`, listVersions)
    .add('GET', `${S}/versions/:serial`, getVersion);
}

// The http backend: Terraform's http backend protocol (internal/backend/remote-state/http), so that a
// GitLab-managed Terraform state, any server written for Terraform's http backend, and opsync server's own
// /state endpoint hold opsync's state as they are.
//
// The protocol, as Terraform's client speaks it:
//  - GET address: 200 with the document (an empty body is none), 204 or 404: none;
//  - updateMethod (POST) address?ID=<lock id> with the document, Content-Type application/json and
//    Content-MD5; 200, 201 or 204 is success; DELETE address removes it;
//  - lockMethod (LOCK) lockAddress with Terraform's LockInfo JSON: 200 is ours; 423 or 409 answer the
//    holder's LockInfo; unlockMethod (UNLOCK) unlockAddress with the same LockInfo;
//  - basic auth; retries (go-retryablehttp: retry_max 2, waits 1 s doubling up to 30 s) on connection
//    errors, 429 and 5xx but 501.
// Where opsync does more than Terraform:
//  - unlockAddress defaults to lockAddress (Terraform unlocks nothing without unlock_address);
//  - force-unlock sends the LockInfo with the id to release (Terraform sends an empty body, its issue 28421)
//    and ?ID= too (GitLab reads either; an unlock without an ID is GitLab's unconditional force-unlock,
//    which opsync never sends);
//  - a write first reads the stored document and holds it to checkWrite (the protocol cannot compare on the
//    server); `force` skips that and adds force=true (opsync server honours it; others ignore it).
// GitLab's lock answer echoes the caller's own Operation and Info beside the holder's ID, Who and Created
// (lib/api/terraform/state.rb): an Info equal to the one sent is that echo, and is not taken for the holder's.
//
// Nothing secret travels here (a state holds digests, never values) but the password: it is sent only in
// the Authorization header, and every server text shown is scrubbed of it (and of that header) and cut short.

import { createHash, randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { BackendError, describeHolder, LockError, StateConflictError, type LockHolder, type StateBackend, type WriteOptions } from '../backend.js';
import { parseStateDocument, serialiseState } from '../file.js';
import type { StateFile } from '../types.js';
import { checkWrite } from './compare.js';
import { CONNECT_PHASE_CODES, describeNetworkCode, networkCode, PERMANENT_CODES } from '../../connect/errors.js';
import { Redactor } from '../../connect/redact.js';
import { parseRetryAfter } from '../../connect/retry.js';
import { UserError } from '../../errors.js';
import { LIMITS } from '../../files.js';
import { VERSION } from '../../version.js';

export interface HttpSettings {
  /** GET the state (200 body; 204 or 404: none), write it with updateMethod to address?ID=<lock id>, DELETE it. */
  address: string;
  /** Unset: no locking (Terraform's semantics): lock() returns a holder without contacting anything. */
  lockAddress?: string;
  /** Default: lockAddress. */
  unlockAddress?: string;
  /** Default 'LOCK' (GitLab: POST on …/lock). */
  lockMethod?: string;
  /** Default 'UNLOCK' (GitLab: DELETE on …/lock). */
  unlockMethod?: string;
  /** Default 'POST'. */
  updateMethod?: string;
  username?: string;
  /** The caller takes it from the environment (OPSYNC_HTTP_PASSWORD); never logged or put in any message. */
  password?: string;
  /** Retries after the first attempt; default 2, as Terraform's retry_max. */
  retryMax?: number;
  /** Default 1000. */
  retryWaitMinMs?: number;
  /** Default 30000. */
  retryWaitMaxMs?: number;
  /** Per attempt; default 30000. */
  timeoutMs?: number;
}

/** Terraform's statemgr.LockInfo, as the protocol carries it. */
interface LockInfo {
  ID: string;
  Operation: string;
  /** opsync's: JSON of {host, pid, ciRunUrl, machine}, so that another opsync can name the holder. */
  Info: string;
  Who: string;
  Version: string;
  Created: string;
  Path: string;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  attempts: number;
  /** An earlier attempt may have been applied (a 5xx, or a connection lost after sending). */
  mayHaveApplied: boolean;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Server text shown in a message is cut to this many characters. */
const MAX_QUOTED = 200;

export class HttpBackend implements StateBackend {
  readonly type = 'http' as const;
  readonly name: string;
  private readonly address: URL;
  private readonly lockAddress?: URL;
  private readonly unlockAddress?: URL;
  private readonly lockMethod: string;
  private readonly unlockMethod: string;
  private readonly updateMethod: string;
  private readonly authorization?: string;
  private readonly password: string;
  private readonly retryMax: number;
  private readonly waitMinMs: number;
  private readonly waitMaxMs: number;
  private readonly timeoutMs: number;
  private readonly agent: Agent;
  /** The LockInfo of each lock this backend took, replayed to unlock it (as Terraform does). */
  private readonly taken = new Map<string, string>();

  /** Terraform's rule: without a lock address nothing is locked. */
  get locking(): boolean {
    return this.lockAddress !== undefined;
  }

  constructor(settings: HttpSettings) {
    const address = parseAddress(settings.address, 'address');
    this.address = address.url;
    this.name = `${address.url.origin}${address.url.pathname}`;
    if (settings.lockAddress) this.lockAddress = parseAddress(settings.lockAddress, 'lock address').url;
    const unlock = settings.unlockAddress || settings.lockAddress;
    if (unlock) this.unlockAddress = parseAddress(unlock, 'unlock address').url;
    this.lockMethod = method(settings.lockMethod, 'LOCK', 'lock method');
    this.unlockMethod = method(settings.unlockMethod, 'UNLOCK', 'unlock method');
    this.updateMethod = method(settings.updateMethod, 'POST', 'update method');

    // Credentials in the address count when the settings give none (Go's client does the same).
    const username = settings.username ?? address.username ?? '';
    this.password = settings.password ?? address.password ?? '';
    if (username || this.password) {
      if (/[\r\n\0]/.test(username) || /[\r\n\0]/.test(this.password)) {
        throw new UserError(`state ${this.name}: the username or password holds a line break or NUL, which HTTP basic auth cannot carry`);
      }
      if (username.includes(':')) throw new UserError(`state ${this.name}: the username must not contain ':' (HTTP basic auth)`);
      this.authorization = `Basic ${Buffer.from(`${username}:${this.password}`, 'utf8').toString('base64')}`;
    }

    this.retryMax = count(settings.retryMax, 2, 0, 'retryMax');
    this.waitMinMs = count(settings.retryWaitMinMs, 1000, 0, 'retryWaitMinMs');
    this.waitMaxMs = count(settings.retryWaitMaxMs, 30_000, 0, 'retryWaitMaxMs');
    if (this.waitMinMs > this.waitMaxMs) {
      throw new UserError(`http backend retryWaitMinMs (${this.waitMinMs}) must not be above retryWaitMaxMs (${this.waitMaxMs})`);
    }
    this.timeoutMs = count(settings.timeoutMs, 30_000, 1, 'timeoutMs');
    this.agent = new Agent({ connect: { timeout: Math.min(this.timeoutMs, 10_000) } });
  }

  async read(): Promise<StateFile | undefined> {
    const a = await this.send('read the state', 'GET', this.address);
    if (a.status === 204 || a.status === 404) return undefined;
    if (a.status !== 200) throw this.unexpected('read the state', 'GET', a);
    if (a.text.length === 0) return undefined;
    const md5 = first(a.headers['content-md5']);
    if (md5 && contentMd5(a.text) !== undefined && contentMd5(a.text) !== md5.trim()) {
      throw new BackendError(`state ${this.name}: the document arrived damaged (its Content-MD5 does not match); nothing was read`);
    }
    return parseStateDocument(a.text, this.name);
  }

  async write(state: StateFile, opts: WriteOptions = {}): Promise<void> {
    // Before the first await: the caller goes on changing `state` once this returns its promise.
    const body = serialiseState(state);
    const next = { lineage: state.lineage, serial: state.serial };
    if (!opts.force) checkWrite(opts.stored !== undefined ? (opts.stored ?? undefined) : await this.read(), next, this.name);
    const url = new URL(this.address);
    if (opts.lockId) url.searchParams.set('ID', opts.lockId);
    if (opts.force) url.searchParams.set('force', 'true');
    const a = await this.send('write the state', this.updateMethod, url, body);
    if (a.status === 200 || a.status === 201 || a.status === 204) return;
    if (a.status === 409 && a.mayHaveApplied) {
      // A retry after a lost answer: the first attempt may have stored it, and the retry is then refused
      // (not a newer serial). Stored exactly as sent means it was.
      const now = await this.send('read the state', 'GET', this.address);
      if (now.status === 200 && now.text === body) return;
    }
    if (a.status === 409 || a.status === 423) {
      const says = this.serverSays(a);
      throw new StateConflictError(
        `state ${this.name}: the server refused the write (${a.status} ${STATUS_CODES[a.status]})${says ? `: ${says}` : ''}; nothing was written${
          !this.lockAddress ? ' (no lock_address is set: a server that takes writes only under a lock, as opsync server does, needs one)' : opts.lockId ? '' : ' (is the state locked by another run?)'
        }`,
      );
    }
    throw this.unexpected('write the state', this.updateMethod, a, a.status === 422 ? 'GitLab answers 422 when a version of this serial is stored already' : undefined);
  }

  async delete(opts: WriteOptions = {}): Promise<void> {
    const url = new URL(this.address);
    if (opts.lockId) url.searchParams.set('ID', opts.lockId);
    const a = await this.send('delete the state', 'DELETE', url);
    if (a.status === 409 || a.status === 423) {
      const says = this.serverSays(a);
      throw new StateConflictError(`state ${this.name}: the server refused the delete (${a.status} ${STATUS_CODES[a.status]})${says ? `: ${says}` : ''}; nothing was deleted`);
    }
    if (a.status === 404) return; // none stored (or a retried DELETE that the first attempt carried out)
    if (a.status !== 200 && a.status !== 202 && a.status !== 204) throw this.unexpected('delete the state', 'DELETE', a);
    // GitLab answers 200 and keeps a locked state (its API drops the "Cannot remove a locked state" of
    // TriggerDestroyService): look, rather than report a delete that did not happen.
    const after = await this.send('read the state', 'GET', this.address);
    if (after.status === 200 && after.text.length > 0) {
      // A refusal because of the lock, whatever the status said.
      throw new StateConflictError(`state ${this.name}: the server answered ${a.status} to DELETE but still holds the state (GitLab keeps a locked state: unlock it first); nothing was deleted`);
    }
  }

  async lock(info: Omit<LockHolder, 'id'>): Promise<LockHolder> {
    const holder: LockHolder = { id: randomUUID(), ...info };
    if (!this.lockAddress) return holder; // Terraform's http backend without lock_address: no locking at all
    const ours: LockInfo = {
      ID: holder.id,
      Operation: holder.command,
      Info: JSON.stringify({ host: holder.host, ...(holder.pid !== undefined ? { pid: holder.pid } : {}), ...(holder.ciRunUrl ? { ciRunUrl: holder.ciRunUrl } : {}), ...(holder.machine ? { machine: holder.machine } : {}) }),
      Who: holder.who,
      Version: VERSION,
      Created: holder.created,
      Path: '',
    };
    const body = JSON.stringify(ours);
    const a = await this.send('lock the state', this.lockMethod, this.lockAddress, body);
    if (a.status >= 200 && a.status < 300) {
      this.taken.set(holder.id, body);
      return holder;
    }
    if (a.status === 409 || a.status === 423) {
      const other = holderFrom(a.text, ours);
      if (other?.id === holder.id) {
        // An earlier attempt took it and its answer was lost: the retry found our own lock.
        this.taken.set(holder.id, body);
        return holder;
      }
      if (!other) throw new LockError(`state ${this.name} is locked by someone else (the server did not say who)`, { id: '', who: '', host: '', command: '', created: '' });
      throw new LockError(`state ${this.name} is locked: ${describeHolder(other)}`, other);
    }
    throw this.unexpected('lock the state', this.lockMethod, a);
  }

  async unlock(id: string): Promise<void> {
    if (!this.unlockAddress) return; // never locked (no lock address)
    await this.release(id, false);
  }

  async forceUnlock(id: string): Promise<void> {
    if (!this.unlockAddress) throw new LockError(`state ${this.name} takes no locks (no lock address is set): there is nothing to unlock`);
    await this.release(id, true);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** unlockMethod on unlockAddress with the LockInfo holding `id` (and ?ID=, which GitLab also reads). */
  private async release(id: string, force: boolean): Promise<void> {
    const url = new URL(this.unlockAddress!);
    url.searchParams.set('ID', id);
    const body = this.lockInfoFor(id);
    const what = force ? 'force-unlock the state' : 'unlock the state';
    const a = await this.send(what, this.unlockMethod, url, body);
    if (a.status >= 200 && a.status < 300) {
      this.taken.delete(id);
      return;
    }
    if (a.status === 409 || a.status === 423) {
      const holder = holderFrom(a.text);
      // A retried unlock that an earlier attempt carried out: GitLab then answers 409 (no lock to match).
      if (a.mayHaveApplied && (!holder || holder.id === id)) {
        this.taken.delete(id);
        return;
      }
      if (holder && holder.id !== id) {
        throw new LockError(`state ${this.name} is locked under ${holder.id}, not ${id}: ${describeHolder(holder)}; nothing was unlocked`, holder);
      }
      throw new LockError(`state ${this.name} is not locked under ${id} (the server refused the unlock: ${a.status}); nothing was unlocked`, holder);
    }
    throw this.unexpected(what, this.unlockMethod, a);
  }

  /** The LockInfo this backend locked `id` with, or one naming only that id and this process (force-unlock). */
  private lockInfoFor(id: string): string {
    const taken = this.taken.get(id);
    if (taken) return taken;
    const info: LockInfo = { ID: id, Operation: '', Info: '', Who: '', Version: VERSION, Created: new Date().toISOString(), Path: '' };
    return JSON.stringify(info);
  }

  /**
   * One request, retried as Terraform's client retries: on connection errors, 429 and 5xx but 501, at most
   * retryMax times, waiting retryWaitMin doubling up to retryWaitMax (or the server's Retry-After, capped).
   * Answers the last status whatever it is; throws BackendError when no answer came.
   */
  private async send(what: string, verb: string, url: URL, body?: string): Promise<Answer> {
    const headers: Record<string, string> = { 'user-agent': `opsync/${VERSION}`, accept: 'application/json, */*' };
    if (this.authorization) headers.authorization = this.authorization;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      const md5 = contentMd5(body);
      if (md5) headers['content-md5'] = md5;
    }
    let mayHaveApplied = false;
    for (let attempt = 1; ; attempt++) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), this.timeoutMs);
      let status: number | undefined;
      let retryAfter: string | string[] | undefined;
      try {
        const res = await request(url, {
          method: verb,
          headers,
          body,
          dispatcher: this.agent,
          signal: controller.signal,
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
        });
        status = res.statusCode;
        const retryable = status === 429 || (status >= 500 && status !== 501);
        if (!retryable || attempt > this.retryMax) {
          const text = await readText(res.body, this.name);
          return { status, headers: res.headers, text, attempts: attempt, mayHaveApplied };
        }
        retryAfter = res.headers['retry-after'];
        await res.body.dump().catch(() => undefined);
        // 429 and 503 say the request was not processed; any other 5xx may come after the work was done.
        if (status !== 429 && status !== 503) mayHaveApplied = true;
      } catch (err) {
        if (err instanceof BackendError) throw err;
        const code = controller.signal.aborted ? 'TIMEOUT' : networkCode(err);
        const sent = !CONNECT_PHASE_CODES.has(code);
        if (PERMANENT_CODES.has(code) || attempt > this.retryMax) {
          const after = attempt > 1 ? ` (after ${attempt} attempts)` : '';
          const maybe = sent && verb !== 'GET' ? '; it may have been carried out' : '';
          const why = code === 'TIMEOUT' ? `no answer within ${this.timeoutMs} ms` : `${describeNetworkCode(code)} (${code})`;
          throw new BackendError(`state ${this.name}: could not ${what}: ${why}${after}${maybe}`);
        }
        if (sent) mayHaveApplied = true;
      } finally {
        clearTimeout(timer);
      }
      await sleep(this.retryWait(attempt - 1, status, retryAfter));
    }
  }

  /** go-retryablehttp's DefaultBackoff: min × 2^n, capped; Retry-After of a 429 or 503 when given. */
  private retryWait(retry: number, status: number | undefined, retryAfter: string | string[] | undefined): number {
    if (status === 429 || status === 503) {
      const ms = parseRetryAfter(retryAfter);
      if (ms !== undefined) return Math.min(this.waitMaxMs, ms);
    }
    return Math.min(this.waitMaxMs, this.waitMinMs * 2 ** Math.min(retry, 30));
  }

  /** An answer the protocol does not expect, as one line: never the password, never a body this sent. */
  private unexpected(what: string, verb: string, a: Answer, hint?: string): BackendError {
    const reason = `${a.status} ${STATUS_CODES[a.status] ?? ''}`.trim();
    const after = a.attempts > 1 ? ` after ${a.attempts} attempts` : '';
    if (a.status === 401 || a.status === 403) {
      const given = this.authorization ? 'check the username and OPSYNC_HTTP_PASSWORD' : 'no username or password was given (OPSYNC_HTTP_PASSWORD)';
      const how = a.status === 401 ? 'authentication was refused' : 'authentication was refused for this operation (not allowed)';
      return new BackendError(`state ${this.name}: could not ${what}: ${how} (${reason}); ${given}`);
    }
    const says = this.serverSays(a);
    const maybe = a.mayHaveApplied && verb !== 'GET' ? '; an earlier attempt may have been carried out' : '';
    return new BackendError(`state ${this.name}: could not ${what}: ${verb} answered ${reason}${after}${says ? `: ${says}` : ''}${hint ? ` (${hint})` : ''}${maybe}`);
  }

  /** What the server said, as it may be shown: its JSON message or a short plain text, scrubbed, one line, cut. */
  private serverSays(a: Answer): string {
    const type = String(first(a.headers['content-type']) ?? '');
    const trimmed = a.text.trim();
    if (!trimmed) return '';
    let message: string | undefined;
    if (trimmed.startsWith('{')) {
      try {
        const doc = JSON.parse(trimmed) as Record<string, unknown>;
        const m = doc.message ?? doc.error ?? doc.detail;
        if (typeof m === 'string') message = m;
        else if (m && typeof m === 'object') message = JSON.stringify(m);
      } catch {
        /* not the JSON it looks like: as text below */
      }
    }
    if (message === undefined && !/html|xml/i.test(type) && !trimmed.startsWith('<')) message = trimmed;
    if (!message) return '';
    const shown = new Redactor(this.password ? [this.password] : []).serverText(oneLine(message));
    if (shown === undefined) return "(the server's text is not shown)";
    return shown.length > MAX_QUOTED ? `${shown.slice(0, MAX_QUOTED)}…` : shown;
  }
}

/** A LockHolder from the LockInfo a server answered, or undefined when it is not one. */
function holderFrom(text: string, sent?: LockInfo): LockHolder | undefined {
  let doc: Record<string, unknown>;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    doc = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const id = str(doc.ID);
  if (!id) return undefined;
  const who = str(doc.Who);
  // GitLab's answer echoes the Operation and Info the request sent: they describe us, not the holder.
  const echo = sent !== undefined && str(doc.Info) === sent.Info && str(doc.Operation) === sent.Operation;
  let info: Record<string, unknown> = {};
  if (!echo) {
    try {
      const parsed = JSON.parse(str(doc.Info)) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) info = parsed as Record<string, unknown>;
    } catch {
      /* another tool's Info (Terraform leaves it empty) */
    }
  }
  const at = who.lastIndexOf('@');
  const host = str(info.host) || (at >= 0 ? who.slice(at + 1) : '');
  const pid = typeof info.pid === 'number' && Number.isSafeInteger(info.pid) && info.pid > 0 ? info.pid : undefined;
  return {
    id,
    who,
    host,
    ...(pid !== undefined ? { pid } : {}),
    command: echo ? '' : str(doc.Operation),
    ...(str(info.ciRunUrl) ? { ciRunUrl: str(info.ciRunUrl) } : {}),
    ...(str(info.machine) ? { machine: str(info.machine) } : {}),
    created: str(doc.Created),
  };
}

/** An http(s) URL without its credentials (returned apart), or UserError naming it without them. */
function parseAddress(raw: string, what: string): { url: URL; username?: string; password?: string } {
  const trimmed = (raw ?? '').trim();
  // Never echo credentials (user:password@): everything up to the last "@" before the path is hidden.
  const shown = trimmed.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/?#]*@/i, (_m, scheme: string | undefined) => `${scheme ?? ''}***@`);
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new UserError(`http backend ${what} "${shown}" is not a valid URL, e.g. https://gitlab.example/api/v4/projects/1/terraform/state/prod`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UserError(`http backend ${what} "${shown}" must be an http:// or https:// URL`);
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  url.username = '';
  url.password = '';
  url.hash = '';
  return { url, ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}

function method(given: string | undefined, fallback: string, what: string): string {
  const m = given?.trim() || fallback;
  if (!TOKEN.test(m)) throw new UserError(`http backend ${what} "${m.slice(0, 40)}" is not an HTTP method name`);
  return m;
}

function count(given: number | undefined, fallback: number, min: number, what: string): number {
  if (given === undefined) return fallback;
  if (!Number.isSafeInteger(given) || given < min) throw new UserError(`http backend ${what} must be a whole number >= ${min}, got ${String(given)}`);
  return given;
}

/** Base64 MD5, as Terraform's Content-MD5; undefined where MD5 is unavailable (FIPS). */
function contentMd5(text: string): string | undefined {
  try {
    return createHash('md5').update(text, 'utf8').digest('base64');
  } catch {
    return undefined;
  }
}

async function readText(body: { text(): Promise<string> } & AsyncIterable<Buffer | Uint8Array>, name: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > LIMITS.state) throw new BackendError(`state ${name}: the server's answer is larger than ${LIMITS.state / 1024 / 1024} MiB; nothing was read`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** One line: whitespace runs as one space, other control and invisible characters escaped. */
function oneLine(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

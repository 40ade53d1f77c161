// The HTTP side of the Connect client: a keep-alive undici pool, a bound on requests in flight, per-attempt
// timeouts, retries with backoff, request counting, and ConnectErrors that never carry a secret.

import { STATUS_CODES } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import {
  CONNECT_PHASE_CODES,
  ConnectError,
  PERMANENT_CODES,
  describeNetworkCode,
  networkCode,
} from './errors.js';
import { Redactor, sensitiveStrings } from './redact.js';
import {
  CONFLICT_MAX_DELAY_MS,
  CONFLICT_RETRIES,
  NOT_PROCESSED_STATUSES,
  RETRYABLE_STATUSES,
  isIdempotent,
  parseRetryAfter,
  retryDelay,
  type BackoffPolicy,
} from './retry.js';
import type { RequestLog } from './log.js';
import { RequestCounter } from './cost.js';
import type { WritePacer } from './pacing.js';
import { Semaphore } from './semaphore.js';
import { VaultGate } from './vaultGate.js';
import { UserError } from '../errors.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestStats {
  /** Every HTTP attempt, retries included. */
  total: number;
  /** Attempts by operation, e.g. "GET /v1/vaults/{vault}/items". */
  byOperation: Record<string, number>;
  /** Attempts that were retries of an earlier one. */
  retries: number;
}

/** Told before each retry, e.g. to log it. Carries no secret. */
export interface RetryEvent {
  operation: string;
  /** The request as sent, ids included, query left out. */
  path: string;
  /** The attempt about to be made (2 for the first retry). */
  attempt: number;
  delayMs: number;
  /** Why: an HTTP status ("503") or a network code ("ECONNRESET", "TIMEOUT"). */
  reason: string;
  /** Milliseconds Connect asked for in Retry-After, when it did. */
  retryAfterMs?: number;
}

export interface TransportOptions {
  host: string;
  token: string;
  concurrency: number;
  retries: number;
  timeoutMs: number;
  backoff: BackoffPolicy;
  userAgent: string;
  keepAlive: boolean;
  onRetry?: (event: RetryEvent) => void;
  /** OPSYNC_LOG's request log: told of every attempt (method, path, status, time; never a value). */
  log?: RequestLog;
}

export type Expect = 'json' | 'buffer' | 'none';

export interface SendSpec {
  method: HttpMethod;
  /** Path template with {vault}, {item}, {file} placeholders: names the operation in stats and errors. */
  template: string;
  params?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  expect: Expect;
  /** Send the bearer token (every /v1 route); /heartbeat and /health need none. */
  auth?: boolean;
  /** Overrides the client's retry count for this call. */
  retries?: number;
  /**
   * Statuses that mean "already done" when an earlier attempt of this same call may have been applied:
   * a retried DELETE answered 404 deleted the item the first time.
   */
  doneIfAppliedStatuses?: readonly number[];
}

export interface SendResult<T> {
  status: number;
  data: T;
}

type Outcome =
  | { kind: 'ok'; status: number; data: unknown }
  | { kind: 'http'; status: number; connectMessage?: string; detail?: string; withheld?: boolean; retryAfterMs?: number }
  | { kind: 'network'; code: string; cause: unknown };

class AttemptTimeout extends Error {
  readonly code = 'TIMEOUT';
}

const TIMEOUT_CODES = new Set(['TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Where Connect lives: origin for the pool, path prefix for requests (a Connect behind a reverse proxy path). */
export function parseHost(host: string): { origin: string; basePath: string; display: string } {
  const trimmed = host.trim();
  // Never echo credentials a URL may carry (user:password@), with or without a scheme: all up to the last "@".
  const shown = trimmed.replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/i, (_m, scheme: string | undefined) => `${scheme ?? ''}***@`);
  if (!/^https?:\/\//i.test(trimmed)) {
    throw new UserError(`Connect host "${shown}" must be an http:// or https:// URL, e.g. http://localhost:8080`);
  }
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new UserError(`Connect host "${shown}" is not a valid URL, e.g. http://localhost:8080`);
  }
  if (url.username || url.password) {
    // Connect takes its token as a bearer header, so credentials in the URL have nowhere to go; and shown or
    // recorded (plans, state, errors) they would leak. Refused, never stripped silently.
    throw new UserError(
      `Connect host "${shown}" must not carry credentials (user:password@): give the Connect token in OP_CONNECT_TOKEN or --connect-token`,
    );
  }
  if (url.search || url.hash) throw new UserError(`Connect host "${url.origin}" must not carry a query or fragment`);
  const basePath = url.pathname.replace(/\/+$/, '');
  return { origin: url.origin, basePath, display: url.origin + basePath };
}

export class Transport {
  readonly stats: RequestStats = { total: 0, byOperation: {}, retries: 0 };
  /** The requests sent, by kind (cost.ts): what plan and apply report a run cost. */
  readonly cost = new RequestCounter();
  /** Set while writes are paced (pacing.ts): every write attempt, retries included, takes a token first. */
  writePacer: WritePacer | undefined;
  private readonly pool: Pool;
  private readonly semaphore: Semaphore;
  /** Writes per vault, adapting to 409s; the semaphore still bounds everything together. */
  readonly vaultGate: VaultGate;
  private readonly basePath: string;
  /** The host as shown in messages: no credentials, no trailing slash. */
  readonly hostDisplay: string;
  private readonly token: string;

  constructor(private readonly opts: TransportOptions) {
    const { origin, basePath, display } = parseHost(opts.host);
    this.basePath = basePath;
    this.hostDisplay = display;
    this.token = opts.token.trim();
    if (!this.token) throw new UserError('no Connect token given: set OP_CONNECT_TOKEN or pass --connect-token');
    if (!/^[\x21-\x7e]+$/.test(this.token)) {
      // Never quoted: it is the token. A line break inside is the usual cause (a pasted or a multi-line file).
      throw new UserError('the Connect token holds spaces, line breaks or other characters that cannot be sent in an HTTP header: check OP_CONNECT_TOKEN');
    }
    for (const [name, v, min] of [
      ['concurrency', opts.concurrency, 1],
      ['retries', opts.retries, 0],
      ['timeoutMs', opts.timeoutMs, 1],
    ] as const) {
      if (!Number.isInteger(v) || v < min) throw new RangeError(`Connect client ${name} must be an integer >= ${min}, got ${v}`);
    }
    this.semaphore = new Semaphore(opts.concurrency);
    this.vaultGate = new VaultGate(opts.concurrency);
    this.pool = new Pool(origin, {
      connections: opts.concurrency,
      pipelining: 1,
      connect: { timeout: Math.min(opts.timeoutMs, 10_000) },
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  async send<T>(spec: SendSpec): Promise<SendResult<T>> {
    const operation = `${spec.method} ${spec.template}`;
    const shownPath = fillTemplate(spec.template, spec.params ?? {});
    const path = this.basePath + shownPath;
    const fullPath = path + queryString(spec.query);
    const bodyText = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    // Built only when an answer has to be read for an error: most calls never need it.
    let redactor: Redactor | undefined;
    const redact = () => (redactor ??= new Redactor([this.token, ...(spec.body === undefined ? [] : sensitiveStrings(spec.body))]));
    const retries = spec.retries ?? this.opts.retries;
    const idempotent = isIdempotent(spec.method);
    const hasEffect = spec.method !== 'GET';
    let mayHaveApplied = false;
    let took = 0; // the last attempt's milliseconds, for the request log
    const logAttempt = (attempt: number, outcome: Outcome, retryInMs?: number) =>
      this.opts.log?.request({
        method: spec.method,
        path,
        query: fullPath.slice(path.length),
        ...(outcome.kind === 'network' ? { code: TIMEOUT_CODES.has(outcome.code) ? 'TIMEOUT' : outcome.code } : { status: outcome.status }),
        durationMs: took,
        attempt,
        maxAttempts: (outcome.kind === 'http' && outcome.status === 409 && retries > 0 ? Math.max(retries, CONFLICT_RETRIES) : retries) + 1,
        ...(retryInMs !== undefined ? { retryInMs } : {}),
      });

    const fail = (
      attempts: number,
      outcome: Exclude<Outcome, { kind: 'ok' }>,
      retryable: boolean,
      thisAttemptMayHaveApplied: boolean,
    ): ConnectError => {
      logAttempt(attempts, outcome);
      const ambiguous = hasEffect && (mayHaveApplied || thisAttemptMayHaveApplied);
      const after = attempts > 1 ? ` (after ${attempts} attempts)` : '';
      const maybe = ambiguous ? '; the request may have been applied' : '';
      const what = `${spec.method} ${shownPath}`;
      if (outcome.kind === 'http') {
        const reason =
          outcome.connectMessage ??
          outcome.detail ??
          `${STATUS_CODES[outcome.status] ?? 'no message'}${outcome.withheld ? " (the server's message is not shown: the request carried secret values it could quote)" : ''}`;
        return new ConnectError(redact().scrub(`Connect answered ${outcome.status} for ${what}: ${reason}${after}${maybe}`), {
          status: outcome.status,
          operation,
          connectMessage: outcome.connectMessage,
          retryable,
          ambiguous,
          attempts,
        });
      }
      const { code } = outcome;
      let message: string;
      if (TIMEOUT_CODES.has(code)) {
        message = `Connect at ${this.hostDisplay} did not answer ${what} within ${this.opts.timeoutMs} ms${after}${maybe}`;
      } else if (CONNECT_PHASE_CODES.has(code)) {
        message = `could not reach Connect at ${this.hostDisplay}: ${describeNetworkCode(code)} (${code})${after}`;
      } else {
        message = `lost the connection to Connect at ${this.hostDisplay} during ${what}: ${describeNetworkCode(code)} (${code})${after}${maybe}`;
      }
      return new ConnectError(redact().scrub(message), {
        operation,
        retryable,
        ambiguous,
        attempts,
        code: TIMEOUT_CODES.has(code) ? 'TIMEOUT' : code,
        cause: outcome.cause,
      });
    };

    for (let attempt = 1; ; attempt++) {
      this.stats.total++;
      this.stats.byOperation[operation] = (this.stats.byOperation[operation] ?? 0) + 1;
      if (attempt > 1) this.stats.retries++;

      // Before a slot is held, so reads are not kept waiting behind a paced write.
      if (hasEffect && this.writePacer) await this.writePacer.take();
      const exchange = () =>
        this.semaphore.run(async () => {
          const t0 = performance.now();
          const o = await this.attempt(spec, fullPath, bodyText, redact);
          took = performance.now() - t0;
          // Counted once it went out: a connection never made sent nothing (and cost nothing).
          if (o.kind !== 'network' || !CONNECT_PHASE_CODES.has(o.code)) this.cost.record(spec.method, spec.template, attempt > 1);
          return o;
        });
      const vault = spec.method !== 'GET' ? spec.params?.vault : undefined;
      const outcome = vault
        ? await this.vaultGate.run(vault, exchange, (o) => (o.kind === 'ok' ? 'ok' : o.kind === 'http' && o.status === 409 ? 'conflict' : 'other'))
        : await exchange();
      if (outcome.kind === 'ok') {
        logAttempt(attempt, outcome);
        return { status: outcome.status, data: outcome.data as T };
      }

      let retryAfterMs: number | undefined;
      let reason: string;
      if (outcome.kind === 'http') {
        if (mayHaveApplied && spec.doneIfAppliedStatuses?.includes(outcome.status)) {
          logAttempt(attempt, outcome);
          return { status: outcome.status, data: undefined as T };
        }
        const notProcessed = NOT_PROCESSED_STATUSES.has(outcome.status);
        if (!RETRYABLE_STATUSES.has(outcome.status)) throw fail(attempt, outcome, false, false);
        // A 500/502/504 may come after the work was done: only idempotent requests are sent again.
        if (!idempotent && !notProcessed) throw fail(attempt, outcome, true, true);
        const conflict = outcome.status === 409;
        if (attempt > (conflict && retries > 0 ? Math.max(retries, CONFLICT_RETRIES) : retries)) throw fail(attempt, outcome, true, !notProcessed);
        if (!notProcessed) mayHaveApplied = true;
        retryAfterMs = outcome.retryAfterMs;
        reason = String(outcome.status);
      } else {
        const sent = !CONNECT_PHASE_CODES.has(outcome.code);
        if (PERMANENT_CODES.has(outcome.code)) throw fail(attempt, outcome, false, false);
        // Reset or timed out after sending: a POST or PATCH may have been applied; the caller must look, not resend.
        if (sent && !idempotent) throw fail(attempt, outcome, true, true);
        if (attempt > retries) throw fail(attempt, outcome, true, sent);
        if (sent) mayHaveApplied = true;
        reason = TIMEOUT_CODES.has(outcome.code) ? 'TIMEOUT' : outcome.code;
      }

      // A conflict clears when the other write to the vault ends: short waits, however many tries.
      const backoff = reason === '409' ? { ...this.opts.backoff, maxMs: Math.min(this.opts.backoff.maxMs, CONFLICT_MAX_DELAY_MS) } : this.opts.backoff;
      const delayMs = retryDelay(attempt - 1, backoff, retryAfterMs);
      logAttempt(attempt, outcome, delayMs);
      this.opts.onRetry?.({ operation, path: shownPath, attempt: attempt + 1, delayMs, reason, retryAfterMs });
      await sleep(delayMs);
    }
  }

  /**
   * One HTTP exchange, bounded by the per-attempt timeout; never throws. The answer's headers must come within
   * the timeout (undici's headersTimeout, once the request is on a connection; connecting has its own bound), and
   * its body within the timeout again (one timer that destroys it: cheaper than an AbortController per request,
   * which an apply of 10,000 creates felt), so an answer whose headers came late still has time for its body.
   */
  private async attempt(spec: SendSpec, fullPath: string, bodyText: string | undefined, redact: () => Redactor): Promise<Outcome> {
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const headers: Record<string, string> = {
      'user-agent': this.opts.userAgent,
      accept: spec.expect === 'buffer' ? '*/*' : 'application/json',
    };
    if (spec.auth !== false) headers.authorization = `Bearer ${this.token}`;
    if (bodyText !== undefined) headers['content-type'] = 'application/json';
    try {
      const res = await this.pool.request({
        method: spec.method,
        path: fullPath,
        headers,
        body: bodyText,
        headersTimeout: this.opts.timeoutMs,
        bodyTimeout: this.opts.timeoutMs,
        reset: !this.opts.keepAlive,
      });
      timer = setTimeout(() => {
        timedOut = true;
        res.body.destroy(new AttemptTimeout('timeout'));
      }, this.opts.timeoutMs);
      const status = res.statusCode;
      if (status >= 200 && status < 300) {
        if (spec.expect === 'buffer') return { kind: 'ok', status, data: Buffer.from(await res.body.arrayBuffer()) };
        const text = await res.body.text();
        if (spec.expect === 'none' || status === 204) return { kind: 'ok', status, data: undefined };
        try {
          return { kind: 'ok', status, data: JSON.parse(text) };
        } catch {
          // Not retryable and not a transport failure: report as an HTTP answer we cannot read.
          return { kind: 'http', status, detail: 'the answer is not JSON' };
        }
      }
      const text = await res.body.text();
      return {
        kind: 'http',
        status,
        ...readErrorBody(text, String(res.headers['content-type'] ?? ''), redact()),
        retryAfterMs: parseRetryAfter(res.headers['retry-after']),
      };
    } catch (err) {
      if (timedOut) return { kind: 'network', code: 'TIMEOUT', cause: undefined };
      return { kind: 'network', code: networkCode(err), cause: err };
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Connect's `{"status":N,"message":"..."}`, or a short line of a plain-text body, as it may be shown (see
 * Redactor.serverText): scrubbed of every echo of what the request carried, or withheld.
 */
function readErrorBody(text: string, contentType: string, redactor: Redactor): { connectMessage?: string; detail?: string; withheld?: boolean } {
  const trimmed = text.trim();
  let message: string | undefined;
  let isConnect = false;
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as { message?: unknown };
      if (typeof parsed.message === 'string' && parsed.message.trim()) {
        message = parsed.message;
        isConnect = true;
      }
    } catch {
      // fall through: a body that is not the JSON it claims to be
    }
  }
  if (!message && /^text\/plain/i.test(contentType) && trimmed && trimmed.length <= 200 && !trimmed.includes('\n')) message = trimmed;
  if (!message) return {};
  const shown = redactor.serverText(message);
  if (shown === undefined) return { withheld: true };
  return isConnect ? { connectMessage: shown } : { detail: shown };
}

function fillTemplate(template: string, params: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined || v === '') throw new Error(`no ${name} id given for ${template}`);
    return encodeURIComponent(v);
  });
}

function queryString(query: SendSpec['query']): string {
  if (!query) return '';
  const parts = Object.entries(query)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

// The request log (OPSYNC_LOG=debug|trace): one line per HTTP attempt to Connect, written to a sink the caller
// gives (the CLI's stderr). It sees only what transport.ts hands it: the method, the path as sent (ids, never
// a value), the status or network code, the time taken and the attempt; never a header, a body or the token.
// The query string (a Connect filter such as `title eq "db"`: titles, not secrets) only at trace.

import { UserError } from '../errors.js';

export type LogLevel = 'off' | 'debug' | 'trace';

/** What the transport reports of one attempt. */
export interface RequestLogEntry {
  method: string;
  /** The path as sent, without its query: `/v1/vaults/<id>/items/<id>`. */
  path: string;
  /** The encoded query string with its `?`, or ''. Logged at trace only. */
  query: string;
  /** The HTTP status, when one came back. */
  status?: number;
  /** The network failure instead of a status: ECONNRESET, TIMEOUT, ... */
  code?: string;
  durationMs: number;
  /** 1 for the first try. */
  attempt: number;
  /** The most attempts this request may take (its retries + 1). */
  maxAttempts: number;
  /** Set when the transport will try again after this wait. */
  retryInMs?: number;
}

export interface RequestLog {
  readonly level: Exclude<LogLevel, 'off'>;
  request(entry: RequestLogEntry): void;
}

const OFF = new Set(['', 'off', 'none', '0', 'false', 'error', 'warn', 'info']);

/** OPSYNC_LOG's level; a value opsync does not know is a mistake, said in one line. */
export function parseLogLevel(value: string | undefined): LogLevel {
  const v = (value ?? '').trim().toLowerCase();
  if (OFF.has(v)) return 'off';
  if (v === 'debug' || v === 'trace') return v;
  throw new UserError(`OPSYNC_LOG must be debug or trace (or unset), got "${value!.replace(/[^\x20-\x7e]/g, '?').slice(0, 40)}"`);
}

/**
 * `opsync debug: GET /v1/vaults/abc/items 200 12ms` ; `... 503 8ms attempt 1/5, retry in 250ms` ;
 * at trace, with the time and the query: `opsync trace: 2025-01-01T00:00:00.000Z GET /v1/vaults?filter=... 200 3ms attempt 1/5`.
 */
export function formatRequestLine(level: Exclude<LogLevel, 'off'>, e: RequestLogEntry, now: Date = new Date()): string {
  const target = level === 'trace' ? e.path + e.query : e.path;
  const result = e.status !== undefined ? String(e.status) : (e.code ?? 'no answer');
  const parts = [`${e.method} ${target}`, result, `${Math.round(e.durationMs)}ms`];
  if (e.attempt > 1 || e.retryInMs !== undefined || level === 'trace') parts.push(`attempt ${e.attempt}/${e.maxAttempts}`);
  const retry = e.retryInMs !== undefined ? `, retry in ${Math.round(e.retryInMs)}ms` : '';
  return `opsync ${level}: ${level === 'trace' ? `${now.toISOString()} ` : ''}${parts.join(' ')}${retry}`;
}

/** A request log writing lines to `sink`, or undefined when OPSYNC_LOG asks for none. */
export function createRequestLog(level: LogLevel, sink: (line: string) => void, now: () => Date = () => new Date()): RequestLog | undefined {
  if (level === 'off') return undefined;
  return {
    level,
    request: (entry) => sink(`${formatRequestLine(level, entry, now())}\n`),
  };
}

/** The request log OPSYNC_LOG asks for in `env`, to `sink`. */
export function requestLogFromEnv(env: NodeJS.ProcessEnv, sink: (line: string) => void): RequestLog | undefined {
  return createRequestLog(parseLogLevel(env.OPSYNC_LOG), sink);
}

// Errors the Connect client throws. A ConnectError says which request failed, how, and whether it may have been
// applied; it never carries a request body, a header value (the token) or a field value.

export interface ConnectErrorDetails {
  /** HTTP status; absent for network errors and timeouts. */
  status?: number;
  /** The request's shape, ids elided: e.g. "GET /v1/vaults/{vault}/items/{item}". */
  operation: string;
  /** The `message` of Connect's `{"status":N,"message":"..."}` error body, when it sent one. */
  connectMessage?: string;
  /** The failure is transient (429, 5xx, network); set even when the client has run out of retries. */
  retryable: boolean;
  /** The request may have been applied although no answer arrived (e.g. a reset or timeout after sending a POST). */
  ambiguous: boolean;
  /** How many HTTP attempts were made for this call. */
  attempts?: number;
  /** Network errors: the system or undici code (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET, TIMEOUT, ...). */
  code?: string;
  cause?: unknown;
}

export class ConnectError extends Error {
  override readonly name = 'ConnectError';
  readonly status?: number;
  readonly operation: string;
  readonly connectMessage?: string;
  readonly retryable: boolean;
  readonly ambiguous: boolean;
  readonly attempts: number;
  readonly code?: string;

  constructor(message: string, details: ConnectErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.status = details.status;
    this.operation = details.operation;
    this.connectMessage = details.connectMessage;
    this.retryable = details.retryable;
    this.ambiguous = details.ambiguous;
    this.attempts = details.attempts ?? 1;
    this.code = details.code;
  }
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed by the other side',
  UND_ERR_CLOSED: 'client closed',
  UND_ERR_DESTROYED: 'client destroyed',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'response body stalled',
  CERT_HAS_EXPIRED: 'TLS certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate chain is self-signed',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate could not be verified',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host name',
};

/** The most specific error code of a network failure (causes and dual-stack AggregateErrors included). */
export function networkCode(err: unknown): string {
  const codes: string[] = [];
  const queue: unknown[] = [err];
  for (let seen = 0; queue.length > 0 && seen < 8; seen++) {
    const e = queue.shift() as { code?: unknown; errors?: unknown; cause?: unknown } | null | undefined;
    if (!e || typeof e !== 'object') continue;
    if (typeof e.code === 'string') codes.push(e.code);
    if (e.cause) queue.push(e.cause);
    if (Array.isArray(e.errors)) queue.push(...e.errors);
  }
  // undici's generic "other side closed" is less telling than a system code found beneath it.
  return codes.find((c) => c !== 'UND_ERR_SOCKET') ?? codes[0] ?? 'UNKNOWN';
}

/** A short human phrase for a network error code ("connection refused"). */
export function describeNetworkCode(code: string): string {
  return NETWORK_REASONS[code] ?? 'network error';
}

/** Codes raised before any byte of the request could reach Connect: safe to retry whatever the method. */
export const CONNECT_PHASE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Codes that will not get better by retrying. */
export const PERMANENT_CODES: ReadonlySet<string> = new Set([
  'ENOTFOUND',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

// HTTP plumbing for the server: the error type every handler throws, JSON/text responses, and body reading
// with a size limit. Error messages built here never quote request bodies (they may hold secret values).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorBody } from '../connect/types.js';

/** A 4xx/5xx answer in Connect's `{"status":N,"message":"..."}` shape. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.headers = headers;
  }
}

/**
 * The client went away before its request was read in full (the connection closed mid-body). Not an error
 * of the server: logged and counted as status 499 (as nginx does), with no answer (nobody is listening).
 */
export class ClientAbortError extends Error {
  constructor() {
    super('The client closed the connection before sending the whole request');
    this.name = 'ClientAbortError';
  }
}

/** The status logs and metrics record for a request its client abandoned. */
export const CLIENT_ABORT_STATUS = 499;

/** Deepest nesting of arrays and objects accepted in a JSON body. */
export const MAX_JSON_DEPTH = 64;
/**
 * Most arrays and objects in one JSON body. An item at its limits (1,000 fields with sections and recipes) or
 * a patch of 1,000 operations holds a few thousand; a 1 MiB body of `{},{},...` holds 350,000, which cost more
 * to parse than any answer it could get.
 */
export const MAX_JSON_CONTAINERS = 50_000;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJsonText(res, status, JSON.stringify(body), headers);
}

/** Sends `text`, already the JSON of the answer. */
export function sendJsonText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  const body: ErrorBody = { status: err.status, message: err.message };
  sendJson(res, err.status, body, err.headers);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendBytes(res: ServerResponse, bytes: Buffer): void {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length });
  res.end(bytes);
}

/** Reads the whole body, refusing (413) more than `limit` bytes, whether announced by Content-Length or not. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new HttpError(413, `Request body is larger than the server's limit of ${limit} bytes`);
  const announced = Number(req.headers['content-length']);
  if (Number.isFinite(announced) && announced > limit) {
    req.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > limit) {
        req.resume();
        throw tooLarge();
      }
      chunks.push(buf);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    // The stream fails ('aborted', ECONNRESET) when the connection closes before the body's end.
    if (!req.complete) throw new ClientAbortError();
    throw err;
  }
  // A stream can also just end early when its socket closes; a complete message is the only whole body.
  if (!req.complete) throw new ClientAbortError();
  return Buffer.concat(chunks);
}

function lineColumn(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `line ${line} column ${column}`;
}

/**
 * Where `text` first nests arrays/objects deeper than `maxDepth`, or holds more than `maxContainers` of them
 * (an offset into it and which limit), or undefined. One pass, no recursion, strings skipped: run before
 * JSON.parse, so that nothing recursive (cloning, validation, serialising) ever meets a document deep enough
 * to overflow the stack, and nothing parses a body made of hundreds of thousands of tiny objects.
 */
export function jsonShapeProblem(text: string, maxDepth: number, maxContainers: number): { at: number; limit: 'depth' | 'containers' } | undefined {
  let depth = 0;
  let containers = 0;
  let inString = false;
  let nextSlash = -1;
  let nextQuote = -1;
  let plain = 0; // characters of the current string scanned one by one since its start or the last jump
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      else if (++plain > 16) {
        plain = 0;
        // Past a string's first characters, jump to the next quote or backslash with native searches: a body
        // of long values (a patch near the body limit) is mostly string, which one by one took ~4 ms per MiB.
        // Where the next of each is found is remembered, not searched for again at every stop (a string of
        // many escapes, or many strings without one, would make that quadratic). None left: 2^32 - 1.
        if (nextSlash < i) nextSlash = text.indexOf('\\', i) >>> 0;
        if (nextQuote < i) nextQuote = text.indexOf('"', i) >>> 0;
        const stop = Math.min(nextQuote, nextSlash);
        if (stop >= text.length) break; // an unterminated string: JSON.parse says where
        i = stop - 1;
      }
    } else if (c === 0x22) {
      inString = true;
      plain = 0;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return { at: i, limit: 'depth' };
      if (++containers > maxContainers) return { at: i, limit: 'containers' };
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return undefined;
}

/**
 * Parses a JSON body. The message says where parsing broke but never echoes the text: V8's own messages
 * quote a slice of the input, which may be a secret value.
 */
export function parseJsonBody(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'Request body is empty; a JSON document is required');
  const shape = jsonShapeProblem(text, MAX_JSON_DEPTH, MAX_JSON_CONTAINERS);
  if (shape?.limit === 'depth') {
    throw new HttpError(400, `Request body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels (at ${lineColumn(text, shape.at)})`);
  }
  if (shape) {
    throw new HttpError(400, `Request body holds more than ${MAX_JSON_CONTAINERS} arrays and objects (at ${lineColumn(text, shape.at)})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const m = /position (\d+)/.exec(String((err as Error).message));
    if (m) throw new HttpError(400, `Request body is not valid JSON (syntax error at ${lineColumn(text, Number(m[1]))})`);
    throw new HttpError(400, 'Request body is not valid JSON');
  }
}

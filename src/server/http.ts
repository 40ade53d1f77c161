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

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
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
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      req.resume();
      throw tooLarge();
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/**
 * Parses a JSON body. The message says where parsing broke but never echoes the text: V8's own messages
 * quote a slice of the input, which may be a secret value.
 */
export function parseJsonBody(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'Request body is empty; a JSON document is required');
  try {
    return JSON.parse(text);
  } catch (err) {
    const m = /position (\d+)/.exec(String((err as Error).message));
    if (m) {
      const pos = Number(m[1]);
      const before = text.slice(0, pos);
      const line = before.split('\n').length;
      const column = pos - before.lastIndexOf('\n');
      throw new HttpError(400, `Request body is not valid JSON (syntax error at line ${line} column ${column})`);
    }
    throw new HttpError(400, 'Request body is not valid JSON');
  }
}

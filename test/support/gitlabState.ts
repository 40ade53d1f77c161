// A real HTTP server on 127.0.0.1 with GitLab's Terraform state API (lib/api/terraform/state.rb and
// app/services/terraform/remote_state_handler.rb), as far as a state client can tell:
//  - GET    /api/v4/projects/:id/terraform/state/:name       200 body; 204 when created (by a lock) but never
//    written; 404 when there is no such state;
//  - POST   …/:name[?ID=]  stores the body (an empty body: 204, nothing stored); the lock must match: the
//    state's lock id equals ?ID=, or neither is set; otherwise 409. A `serial` in a JSON body that a stored
//    version has already: 422 (GitLab keeps a version per serial);
//  - DELETE …/:name        404 when none; a locked state is kept and 200 answered all the same (GitLab's API
//    drops TriggerDestroyService's "Cannot remove a locked state"); otherwise removed (at once, where GitLab
//    schedules it: it then answers 422 until its worker ran);
//  - POST   …/:name/lock   LockInfo body, every field required (400); 200 when taken, 409 when held; either
//    way the body is {Operation, Info, Version, Path} as sent, with the holder's ID, Who (the GitLab user
//    name) and Created: the holder's own Operation and Info are not kept;
//  - DELETE …/:name/lock[?ID=] (or ID in a JSON body): no ID unlocks whoever holds it (Terraform's
//    force-unlock sends none); an ID must equal the lock's, and an unlocked state has none to equal: 409.
// Basic auth with one username and password for everything (401 otherwise); only project 1 exists.

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface GitlabStateOptions {
  username: string;
  password: string;
  /** The first N requests (of any kind) answer `failStatus` instead. */
  failFirst?: number;
  /** Default 500. */
  failStatus?: number;
}

export interface SeenRequest {
  method: string;
  /** Without the query. */
  path: string;
  /** With its '?', or ''. */
  query: string;
  /** What was answered. */
  status: number;
  /** Content-Type and Content-MD5 as sent (never the Authorization header). */
  contentType?: string;
  contentMd5?: string;
}

interface StoredState {
  file?: string;
  versions: Set<number>;
  lock?: { id: string; who: string; at: Date };
}

export interface GitlabState {
  /** The base of every state's address: `${url}/${name}`. */
  url: string;
  address(name: string): string;
  lockAddress(name: string): string;
  requests: SeenRequest[];
  /**
   * The next `n` requests answer `status` (default 500) without being handled; with `after`, they are
   * carried out first and answered `status` all the same (an answer lost after the work was done).
   */
  fail(n: number, status?: number, after?: boolean): void;
  /** The stored document, if any. */
  stored(name: string): string | undefined;
  /** The lock id held on a state, if any. */
  lockId(name: string): string | undefined;
  close(): Promise<void>;
}

const PREFIX = '/api/v4/projects/';
const LOCK_FIELDS = ['ID', 'Operation', 'Info', 'Who', 'Version', 'Created', 'Path'] as const;

export async function startGitlabState(opts: GitlabStateOptions): Promise<GitlabState> {
  const states = new Map<string, StoredState>();
  const requests: SeenRequest[] = [];
  let failing = opts.failFirst ?? 0;
  let failStatus = opts.failStatus ?? 500;
  let failAfter = false;
  const expected = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
  const sockets = new Set<Socket>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const full = new URL(req.url ?? '/', 'http://stub');
      const seen: SeenRequest = { method: req.method ?? '', path: full.pathname, query: full.search, status: 0 };
      if (req.headers['content-type']) seen.contentType = req.headers['content-type'];
      if (typeof req.headers['content-md5'] === 'string') seen.contentMd5 = req.headers['content-md5'];
      requests.push(seen);
      const send = (status: number, body = '', type = 'application/json') => {
        seen.status = status;
        res.writeHead(status, body ? { 'content-type': type, 'content-length': Buffer.byteLength(body) } : { 'content-length': 0 });
        res.end(body);
      };
      const json = (status: number, doc: unknown) => send(status, JSON.stringify(doc));
      const failure = () => json(failStatus, { message: `${failStatus} stub failure` });
      if (failing > 0) {
        failing--;
        if (!failAfter) return failure();
        // Carried out, its answer replaced.
        return handle(req, Buffer.concat(chunks).toString('utf8'), full, failure, failure);
      }
      handle(req, Buffer.concat(chunks).toString('utf8'), full, send, json);
    });
  });

  function handle(
    req: http.IncomingMessage,
    body: string,
    url: URL,
    send: (status: number, body?: string, type?: string) => void,
    json: (status: number, doc: unknown) => void,
  ): void {
    if (req.headers.authorization !== expected) return json(401, { message: '401 Unauthorized' });
    // /api/v4/projects/:id/terraform/state/:name[/lock]; a name never holds an unencoded '/'.
    const m = /^\/api\/v4\/projects\/([^/]+)\/terraform\/state\/([^/]+)(\/lock)?$/.exec(url.pathname);
    if (!m) return json(404, { error: '404 Not Found' });
    if (decodeURIComponent(m[1]) !== '1') return json(404, { message: '404 Project Not Found' });
    const name = decodeURIComponent(m[2]);
    const isLock = m[3] !== undefined;

    // Grape's params: the query, and a JSON body's top-level keys over it.
    const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
    if (/^application\/json/i.test(req.headers['content-type'] ?? '') && body.trim()) {
      try {
        const doc = JSON.parse(body) as unknown;
        if (doc && typeof doc === 'object' && !Array.isArray(doc)) Object.assign(params, doc);
      } catch {
        return json(400, { message: '400 Bad request - invalid JSON' });
      }
    }
    const lockParam = typeof params.ID === 'string' ? params.ID : undefined;
    if (lockParam !== undefined && lockParam.length > 255) return json(400, { error: 'ID is too long' });
    // RemoteStateHandler#lock_matches?
    const matches = (s: StoredState) => (s.lock === undefined && lockParam === undefined) || (s.lock?.id ?? '') === (lockParam ?? '');
    const createOrFind = () => {
      let s = states.get(name);
      if (!s) states.set(name, (s = { versions: new Set() }));
      return s;
    };

    if (!isLock && req.method === 'GET') {
      const s = states.get(name);
      if (!s) return json(404, { message: "404 Couldn't find state Not Found" });
      if (s.file === undefined) return send(204);
      return send(200, s.file, 'application/octet-stream');
    }
    if (!isLock && req.method === 'POST') {
      if (body.length === 0) return send(204);
      const s = createOrFind();
      if (!matches(s)) return json(409, { message: 'state is locked' });
      const serial = typeof params.serial === 'number' ? params.serial : undefined;
      if (serial !== undefined && s.versions.has(serial)) return json(422, { message: 'PG::UniqueViolation: a version of this serial exists' });
      if (serial !== undefined) s.versions.add(serial);
      s.file = body;
      return send(200);
    }
    if (!isLock && req.method === 'DELETE') {
      const s = states.get(name);
      if (!s) return json(404, { message: "404 Couldn't find state Not Found" });
      if (!s.lock) states.delete(name);
      return send(200);
    }
    if (isLock && req.method === 'POST') {
      const missing = LOCK_FIELDS.filter((k) => typeof params[k] !== 'string');
      if (missing.length) return json(400, { error: missing.map((k) => `${k} is missing`).join(', ') });
      if (!params.ID) return json(400, { error: 'ID is empty' });
      const s = createOrFind();
      let status = 200;
      if (s.lock) status = 409;
      else s.lock = { id: params.ID as string, who: opts.username, at: new Date() };
      const lock = s.lock!;
      return send(
        status,
        JSON.stringify({ Operation: params.Operation, Info: params.Info, Version: params.Version, Path: params.Path, ID: lock.id, Who: lock.who, Created: lock.at.toISOString() }),
        'application/octet-stream',
      );
    }
    if (isLock && req.method === 'DELETE') {
      const s = createOrFind();
      if (lockParam !== undefined && !matches(s)) return send(409);
      s.lock = undefined;
      return send(200);
    }
    return json(405, { error: '405 Not Allowed' });
  }

  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}${PREFIX}1/terraform/state`;
  return {
    url,
    address: (name) => `${url}/${encodeURIComponent(name)}`,
    lockAddress: (name) => `${url}/${encodeURIComponent(name)}/lock`,
    requests,
    fail(n, status = 500, after = false) {
      failing = n;
      failStatus = status;
      failAfter = after;
    },
    stored: (name) => states.get(name)?.file,
    lockId: (name) => states.get(name)?.lock?.id,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// opsync server: a persistent Connect-compatible server. startServer() opens the store, seeds it, makes sure
// a token exists, and serves the API over node:http until close() (in-flight requests finish, db closed).
import { randomUUID } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { ApiRequest } from '../connect/types.js';
import { apiRoutes, resourceType, type ActivityResource, type ApiHandler } from './api.js';
import { activityAction, activityResourceType, CONNECT_MESSAGES, CONNECT_VERSION, healthBody, VERSION_HEADER } from './compat.js';
import { Realism, REALISTIC, type RealismOptions } from './realism.js';
import { CLIENT_ABORT_STATUS, ClientAbortError, HttpError, sendError, sendText, sendJson } from './http.js';
import { isId, newId } from './ids.js';
import { createMetrics } from './metrics.js';
import { Router } from './router.js';
import { applySeed } from './seed.js';
import { Store, type TokenRecord } from './store.js';
import { issueToken, verifyToken, type GrantSpec } from './tokens.js';
import { loadValidators } from './validate.js';

export interface ServerOptions {
  host?: string;
  /** 0 = a random free port. Default 8080. */
  port?: number;
  /** Default .opsync/server */
  dataDir?: string;
  /** Throwaway in-memory store (nothing written to disk). */
  memory?: boolean;
  seedFiles?: string[];
  /** No log lines (unless `log` is given). */
  quiet?: boolean;
  log?: (line: string) => void;
  /** Largest accepted request body; larger ones get 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Largest file whose content `inline_files=true` inlines; larger ones are 413, as real Connect. Default 100 KiB. */
  maxInlineFileBytes?: number;
  /** Reads see a write only this many ms after it (real Connect's eventual consistency). Default 0. */
  consistencyDelayMs?: number;
  /** Overlapping writes to one vault get 409 (a DELETE 500), as real Connect. Default false. */
  conflicts?: boolean;
  /** With `conflicts`, how long each write holds its vault. Default 200 ms. */
  writeHoldMs?: number;
  /** All of real Connect's timing, with the defaults of realism.ts REALISTIC; the options above override it. */
  realistic?: boolean;
  /** Versions kept of each remote state (/state/NAME/versions). Default 20. */
  stateVersions?: number;
  /** Largest remote state document accepted (POST /state/NAME); larger ones get 413. Default 64 MiB. */
  maxStateBytes?: number;
}

export interface ServerHandle {
  /** http://127.0.0.1:PORT */
  url: string;
  host: string;
  port: number;
  createToken(opts?: { name?: string; vaults?: { vault: string; read: boolean; write: boolean }[]; states?: string[] }): string;
  /** A token that may read and write these remote states (default: every one, '*') and no vault. */
  stateToken(names?: string[]): string;
  /** The full-access token in DIR/token (created if missing); in memory mode the auto-created token. */
  localToken(): string;
  close(): Promise<void>;
}

import { DB_FILE, DEFAULT_DATA_DIR, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_STATE_BYTES, DEFAULT_PORT, DEFAULT_STATE_VERSIONS, TOKEN_FILE } from './defaults.js';
import { authenticateState, isStatePath, stateRoutes, type StateHandler } from './stateApi.js';
import { writeFileAtomic } from '../files.js';
const SERVER_ACTOR_KEY = 'server_actor';

/** Opens (creating if needed) the store of a data directory, or an in-memory one. */
export function openStore(opts: { dataDir?: string; memory?: boolean }): { store: Store; dir?: string } {
  if (opts.memory) return { store: new Store(':memory:') };
  const dir = resolve(opts.dataDir ?? DEFAULT_DATA_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // The store holds secret values: its owner alone may read it. SQLite gives the -wal and -shm files it
  // creates the main file's permissions; ones left by an older run (or a kill -9) are narrowed too.
  const file = join(dir, DB_FILE);
  closeSync(openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  return { store: new Store(file), dir };
}

/** Writes a token file readable by its owner only, atomically. */
export function writeTokenFile(path: string, token: string): void {
  writeFileAtomic(path, `${token}\n`, 0o600);
}

function serverActor(store: Store): string {
  let id = store.getMeta(SERVER_ACTOR_KEY);
  if (!id) {
    id = newId();
    store.setMeta(SERVER_ACTOR_KEY, id);
  }
  return id;
}

type PublicHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export async function startServer(opts: ServerOptions = {}): Promise<ServerHandle> {
  const log = opts.log ?? (opts.quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`));
  const logRequests = opts.log !== undefined || !opts.quiet;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const { store, dir } = openStore(opts);
  store.onActivityError = (err, n) => log(`opsync server: could not record ${n} activity entr${n === 1 ? 'y' : 'ies'}: ${err.message}`);
  const tokenPath = dir ? join(dir, TOKEN_FILE) : undefined;
  let memoryToken: string | undefined;

  const localToken = (): string => {
    if (!tokenPath) return (memoryToken ??= issueToken(store, { name: 'local' }));
    if (existsSync(tokenPath)) {
      const t = readFileSync(tokenPath, 'utf8').trim();
      if (verifyToken(store, t)) return t;
    }
    const t = issueToken(store, { name: 'local' });
    writeTokenFile(tokenPath, t);
    log(`opsync server: wrote a full-access token to ${tokenPath}`);
    return t;
  };

  try {
    const actor = serverActor(store);
    for (const file of opts.seedFiles ?? []) {
      const r = applySeed(store, file, actor);
      for (const name of r.created) log(`opsync server: seeded vault "${name}" from ${file}`);
      for (const name of r.skipped) log(`opsync server: vault "${name}" already exists; seed left it alone`);
    }
    if (store.listVaults().length === 0 && (opts.seedFiles ?? []).length === 0) {
      store.insertVault({ id: newId(), name: 'Private', type: 'USER_CREATED', now: new Date().toISOString() });
      log('opsync server: created vault "Private"');
    }
    // DIR/token always holds a valid full-access token, as the start-up line says (re-issued if deleted);
    // in memory, one is made when the store has none.
    if (tokenPath || store.countTokens() === 0) localToken();
  } catch (err) {
    store.close();
    throw err;
  }

  loadValidators();
  const metrics = createMetrics(store);
  const api = apiRoutes();
  const stateApi = stateRoutes();
  const stateLimits = { maxStateBytes: opts.maxStateBytes ?? DEFAULT_MAX_STATE_BYTES, versionsKept: Math.max(1, opts.stateVersions ?? DEFAULT_STATE_VERSIONS) };
  // Real Connect's timing (rows 22-23): off unless asked for; --realistic turns it all on.
  const realistic: RealismOptions = opts.realistic ? REALISTIC : {};
  const realism = new Realism({
    consistencyDelayMs: opts.consistencyDelayMs ?? realistic.consistencyDelayMs,
    conflicts: opts.conflicts ?? realistic.conflicts,
    writeHoldMs: opts.writeHoldMs ?? realistic.writeHoldMs,
  });
  const dbName = dir ? join(dir, DB_FILE) : ':memory:';
  const publicRoutes = new Router<PublicHandler>()
    .add('GET', '/heartbeat', (_req, res) => sendText(res, 200, '.'))
    // Real Connect's shape (row 34): its name, the Connect version spoken, and its four dependencies.
    .add('GET', '/health', (_req, res) => sendJson(res, 200, healthBody({ ok: store.healthy(), file: dbName })))
    .add('GET', '/metrics', async (_req, res) => {
      sendText(res, 200, await metrics.registry.metrics(), metrics.registry.contentType);
    });

  const inFlight = new Set<ServerResponse>();
  let closing = false;

  const authenticate = (req: IncomingMessage): TokenRecord => {
    const header = req.headers.authorization;
    if (!header) throw new HttpError(401, 'Missing Authorization header: send "Authorization: Bearer <token>"');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const token = m && verifyToken(store, m[1]);
    if (!token) throw new HttpError(401, 'Invalid bearer token');
    return token;
  };

  const record = (req: IncomingMessage, token: TokenRecord | undefined, resource: ActivityResource, status: number) => {
    const entry: ApiRequest = {
      requestId: randomUUID(),
      timestamp: new Date().toISOString(),
      action: activityAction(req.method ?? 'GET'),
      // The spec's APIRequest knows only SUCCESS and DENY: a request refused for its token, or one its client
      // abandoned before it was served (499), did not succeed.
      result: status === 401 || status === 403 || status === CLIENT_ABORT_STATUS ? 'DENY' : 'SUCCESS',
      actor: {
        // A request without a valid token has no actor id (the spec's id is an id, never "").
        ...(token ? { id: token.id, jti: token.jti } : {}),
        account: 'opsync',
        userAgent: String(req.headers['user-agent'] ?? ''),
        requestIp: req.socket.remoteAddress ?? '',
      },
      resource,
    };
    store.addActivity(entry);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = process.hrtime.bigint();
    inFlight.add(res);
    if (closing) res.shouldKeepAlive = false;
    // Every answer says which Connect it speaks, as real Connect's do (row 28; the Go SDK's file methods need it).
    res.setHeader(VERSION_HEADER, CONNECT_VERSION);
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const pathname = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));
    const method = req.method ?? 'GET';
    const isApi = pathname === '/v1' || pathname.startsWith('/v1/');
    let template: string | undefined;
    let token: TokenRecord | undefined;
    const resource: ActivityResource = { type: 'UNKNOWN' };
    let aborted = false;
    try {
      if (isApi) {
        const m = api.match(method, pathname);
        template = m.route.template;
        resource.type = resourceType(template);
        if (isId(m.params.vault ?? '')) resource.vault = { id: m.params.vault };
        if (isId(m.params.item ?? '')) resource.item = { id: m.params.item };
        token = authenticate(req);
        const ctx = { req, res, params: m.params, query, token, store: realism.storeFor(method, store), resource, maxBodyBytes, maxInlineFileBytes: opts.maxInlineFileBytes };
        await realism.guardWrite(method, m.params.vault, async () => (m.route.handler as ApiHandler)(ctx));
      } else if (isStatePath(pathname)) {
        // Remote state (stateApi.ts): its own tokens (a state grant; Bearer or Basic), no realism, no activity.
        const m = stateApi.match(method, pathname);
        template = m.route.template;
        token = authenticateState(store, req);
        await (m.route.handler as StateHandler)({ req, res, params: m.params, query, token, store, ...stateLimits });
      } else {
        const m = publicRoutes.match(method, pathname);
        template = m.route.template;
        await m.route.handler(req, res);
      }
    } catch (err) {
      let httpErr: HttpError;
      if (err instanceof ClientAbortError) {
        // Nobody to answer: the connection is gone. Not an internal error, no trace.
        aborted = true;
        if (!res.destroyed) res.destroy();
        return;
      }
      if (err instanceof HttpError) httpErr = err;
      else {
        log(`opsync server: internal error on ${method} ${template ?? 'unmatched'}: ${(err as Error)?.stack ?? String(err)}`);
        httpErr = new HttpError(500, CONNECT_MESSAGES.somethingWentWrong);
      }
      if (!res.headersSent && !res.destroyed) sendError(res, httpErr);
      else if (!res.writableEnded) res.end();
    } finally {
      // A client that closed its connection before its request was read in full abandoned it, whatever
      // status the response object holds (200 by default).
      if (!req.complete && (req.destroyed || res.destroyed)) aborted = true;
      const status = aborted ? CLIENT_ABORT_STATUS : res.statusCode;
      // Real Connect logs requests for items and vaults (row 35); reading the log itself and unknown routes are not entries.
      const activityType = activityResourceType(template);
      if (isApi && activityType !== undefined) {
        resource.type = activityType;
        try {
          record(req, token, resource, status);
        } catch (err) {
          log(`opsync server: could not record activity: ${(err as Error).message}`);
        }
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.observe(method, template ?? 'unmatched', status, seconds);
      if (logRequests) log(`${method} ${pathname} ${status} ${(seconds * 1000).toFixed(1)}ms`);
      inFlight.delete(res);
      if (closing) server.closeIdleConnections();
    }
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return;
    // Malformed HTTP never reaches a handler; it still gets a Connect-shaped error body.
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const body = JSON.stringify({ status, message: status === 431 ? 'Request headers are too large' : 'Malformed HTTP request' });
    const reason = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\n${VERSION_HEADER}: ${CONNECT_VERSION}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (err) => {
      store.close();
      reject(err);
    });
    server.listen(opts.port ?? DEFAULT_PORT, host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    host,
    port,
    createToken: (o = {}) => issueToken(store, { name: o.name, vaults: o.vaults as GrantSpec[] | undefined, states: o.states }),
    stateToken: (names = ['*']) => issueToken(store, { name: 'state', states: names }),
    localToken,
    close: () =>
      (closed ??= new Promise<void>((resolveClose) => {
        closing = true;
        for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
        const force = setTimeout(() => server.closeAllConnections(), 10_000);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          store.close();
          resolveClose();
        });
        server.closeIdleConnections();
      })),
  };
}

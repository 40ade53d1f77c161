// The typed client of the 1Password Connect Server API (spec/connect-openapi.yaml): one method per
// operation opsync uses, over a keep-alive undici pool with bounded concurrency and retries (see transport.ts).

import { UserError } from '../errors.js';
import { VERSION } from '../version.js';
import { ConnectError } from './errors.js';
import { filterEq } from './filter.js';
import { DEFAULT_SETTLE, settle, type SettlePolicy } from './settle.js';
import type { RequestLog } from './log.js';
import type { RequestCost } from './cost.js';
import type { WritePacer } from './pacing.js';
import { Transport, type RequestStats, type RetryEvent } from './transport.js';
import {
  CONNECT_ID,
  type ApiRequest,
  type ConnectFile,
  type FullItem,
  type ItemInput,
  type ItemSummary,
  type JsonPatchOp,
  type ServerHealth,
  type Vault,
} from './types.js';

export { ConnectError } from './errors.js';
export { filterEq } from './filter.js';
export type { RequestStats, RetryEvent } from './transport.js';

export interface ConnectClientOptions {
  /** Where Connect listens, e.g. http://localhost:8080 (a trailing slash or a path prefix is fine). */
  host: string;
  /** A Connect access token, sent as `Authorization: Bearer`. */
  token: string;
  /** Requests in flight at most (and pooled keep-alive connections); the rest wait. Default 8. */
  concurrency?: number;
  /** Retries after the first attempt. Default 4. */
  retries?: number;
  /** Time limit per attempt, response body included. Default 30000. */
  timeoutMs?: number;
  /** First retry delay before jitter; doubles each retry. Default 250. */
  backoffBaseMs?: number;
  /** Longest wait before a retry, Retry-After included. Default 30000. */
  backoffMaxMs?: number;
  /** Default opsync/<version>. */
  userAgent?: string;
  /** Reuse connections between requests. Default true (off only to measure what keep-alive buys). */
  keepAlive?: boolean;
  /** Called before each retry (e.g. to log it); the event holds no secret. */
  onRetry?: (event: RetryEvent) => void;
  /** How long to wait for reads to show a write (see settle.ts). */
  settle?: SettlePolicy;
  /** The request log (OPSYNC_LOG; see log.ts): every attempt, never a value. */
  log?: RequestLog;
}

const VAULT = '/v1/vaults/{vault}';
const ITEMS = `${VAULT}/items`;
const ITEM = `${ITEMS}/{item}`;
const FILES = `${ITEM}/files`;
const FILE = `${FILES}/{file}`;

export class ConnectClient {
  private readonly transport: Transport;
  private readonly settlePolicy: SettlePolicy;

  constructor(opts: ConnectClientOptions) {
    this.settlePolicy = opts.settle ?? DEFAULT_SETTLE;
    this.transport = new Transport({
      host: opts.host,
      token: opts.token,
      concurrency: opts.concurrency ?? 8,
      retries: opts.retries ?? 4,
      timeoutMs: opts.timeoutMs ?? 30_000,
      backoff: { baseMs: opts.backoffBaseMs ?? 250, maxMs: opts.backoffMaxMs ?? 30_000 },
      userAgent: opts.userAgent ?? `opsync/${VERSION}`,
      keepAlive: opts.keepAlive ?? true,
      onRetry: opts.onRetry,
      log: opts.log,
    });
  }

  /** Every HTTP attempt so far (retries included), in total and by operation. */
  get stats(): RequestStats {
    return this.transport.stats;
  }

  /** Starts counting afresh (e.g. to count the requests of one plan). */
  resetStats(): void {
    const s = this.transport.stats;
    s.total = 0;
    s.retries = 0;
    for (const k of Object.keys(s.byOperation)) delete s.byOperation[k];
  }

  /** The requests sent so far (retries included and counted apart), by kind: what the run cost (cost.ts). */
  get cost(): RequestCost {
    return this.transport.cost.snapshot();
  }

  /** Paces every write from now on (each attempt takes a token first); undefined stops pacing. */
  paceWrites(pacer: WritePacer | undefined): void {
    this.transport.writePacer = pacer;
  }

  /** How many writes to a vault may be in flight now (halved by each 409, grown back by successes). */
  vaultWriteLimit(vaultId: string): number {
    return this.transport.vaultGate.limitOf(vaultId);
  }

  /** The host as messages show it (no trailing slash). */
  get host(): string {
    return this.transport.hostDisplay;
  }

  // ---- vaults ----

  async listVaults(filter?: string): Promise<Vault[]> {
    return this.json<Vault[]>('GET', '/v1/vaults', {}, { filter });
  }

  async getVault(vaultId: string): Promise<Vault> {
    return this.json<Vault>('GET', VAULT, { vault: vaultId });
  }

  /**
   * A vault by id or by name; undefined when there is none. An id-shaped argument is looked up as an id first
   * (and by name when no vault has that id). Throws when several vaults carry the name.
   */
  async findVault(nameOrId: string): Promise<Vault | undefined> {
    if (CONNECT_ID.test(nameOrId)) {
      try {
        return await this.getVault(nameOrId);
      } catch (err) {
        if (!(err instanceof ConnectError && err.status === 404)) throw err;
      }
    }
    const matches = (await this.listVaults(filterEq('name', nameOrId))).filter((v) => v.name === nameOrId);
    if (matches.length > 1) {
      throw new UserError(
        `${matches.length} vaults are named "${nameOrId}" (${matches.map((v) => v.id).join(', ')}); name the vault by its id`,
      );
    }
    return matches[0];
  }

  // ---- items ----

  /** Item summaries (no fields, no values); filter like `title eq "x"` (see filterEq). */
  async listItems(vaultId: string, filter?: string): Promise<ItemSummary[]> {
    return this.json<ItemSummary[]>('GET', ITEMS, { vault: vaultId }, { filter });
  }

  /** Summaries of the items titled exactly `title` (Connect's filter is asked first; the match is then exact). */
  async findItemsByTitle(vaultId: string, title: string): Promise<ItemSummary[]> {
    return (await this.listItems(vaultId, filterEq('title', title))).filter((s) => s.title === title);
  }

  async getItem(vaultId: string, itemId: string): Promise<FullItem> {
    return this.json<FullItem>('GET', ITEM, { vault: vaultId, item: itemId });
  }

  /**
   * The item once Connect's reads show it at `minVersion` or later (see settle.ts): re-read with backoff while it
   * 404s or is older. Returns the last read, which may still be older; undefined when it was 404 every time.
   */
  async getItemSettled(vaultId: string, itemId: string, minVersion: number): Promise<FullItem | undefined> {
    const read = () =>
      this.getItem(vaultId, itemId).catch((err: unknown) => {
        if (err instanceof ConnectError && err.status === 404) return undefined;
        throw err;
      });
    return settle(read, (item) => item !== undefined && item.version >= minVersion, this.settlePolicy);
  }

  /** Items titled exactly `title`, re-listed with backoff while there are none (a create may not show yet). */
  async findItemsByTitleSettled(vaultId: string, title: string): Promise<ItemSummary[]> {
    return settle(() => this.findItemsByTitle(vaultId, title), (found) => found.length > 0, this.settlePolicy);
  }

  /** Creates an item in the vault (the body's vault reference is set to it). Never retried once sent. */
  async createItem(vaultId: string, item: ItemInput): Promise<FullItem> {
    return this.json<FullItem>('POST', ITEMS, { vault: vaultId }, undefined, { ...item, vault: { id: vaultId } });
  }

  /** Replaces the whole item (PUT); the body's id and vault are set to the path's. */
  async replaceItem(vaultId: string, itemId: string, item: ItemInput): Promise<FullItem> {
    return this.json<FullItem>('PUT', ITEM, { vault: vaultId, item: itemId }, undefined, {
      ...item,
      id: itemId,
      vault: { id: vaultId },
    });
  }

  /** Applies an RFC 6902 patch (add/remove/replace) atomically. Never retried once sent. */
  async patchItem(vaultId: string, itemId: string, ops: JsonPatchOp[]): Promise<FullItem> {
    return this.json<FullItem>('PATCH', ITEM, { vault: vaultId, item: itemId }, undefined, ops);
  }

  /** Deletes the item. A retry answered 404 after an attempt that may have gone through counts as done. */
  async deleteItem(vaultId: string, itemId: string): Promise<void> {
    await this.transport.send<void>({
      method: 'DELETE',
      template: ITEM,
      params: { vault: vaultId, item: itemId },
      expect: 'none',
      doneIfAppliedStatuses: [404],
    });
  }

  // ---- files ----

  async listFiles(vaultId: string, itemId: string, opts: { inline?: boolean } = {}): Promise<ConnectFile[]> {
    return this.json<ConnectFile[]>('GET', FILES, { vault: vaultId, item: itemId }, inlineQuery(opts));
  }

  async getFile(vaultId: string, itemId: string, fileId: string, opts: { inline?: boolean } = {}): Promise<ConnectFile> {
    return this.json<ConnectFile>('GET', FILE, { vault: vaultId, item: itemId, file: fileId }, inlineQuery(opts));
  }

  async getFileContent(vaultId: string, itemId: string, fileId: string): Promise<Buffer> {
    const { data } = await this.transport.send<Buffer>({
      method: 'GET',
      template: `${FILE}/content`,
      params: { vault: vaultId, item: itemId, file: fileId },
      expect: 'buffer',
    });
    return data;
  }

  // ---- activity and health ----

  /** API requests Connect recorded, newest first. */
  async listActivity(opts: { limit?: number; offset?: number } = {}): Promise<ApiRequest[]> {
    return this.json<ApiRequest[]>('GET', '/v1/activity', {}, { limit: opts.limit, offset: opts.offset });
  }

  /** True when Connect answers its heartbeat now (one attempt, no retries, no token sent); never throws. */
  async heartbeat(): Promise<boolean> {
    try {
      await this.transport.send<void>({ method: 'GET', template: '/heartbeat', expect: 'none', auth: false, retries: 0 });
      return true;
    } catch {
      return false;
    }
  }

  async health(): Promise<ServerHealth> {
    const { data } = await this.transport.send<ServerHealth>({
      method: 'GET',
      template: '/health',
      expect: 'json',
      auth: false,
    });
    return data;
  }

  /** Closes pooled connections once requests in flight are done. */
  async close(): Promise<void> {
    await this.transport.close();
  }

  private async json<T>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH',
    template: string,
    params: Record<string, string>,
    query?: Record<string, string | number | boolean | undefined>,
    body?: unknown,
  ): Promise<T> {
    const { data } = await this.transport.send<T>({ method, template, params, query, body, expect: 'json' });
    return data;
  }
}

function inlineQuery(opts: { inline?: boolean }): Record<string, string | undefined> {
  return { inline_files: opts.inline ? 'true' : undefined };
}

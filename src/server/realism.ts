// Real Connect's timing, switchable (ledger rows 21-23): off by default, all on with `--realistic`.
//
// - consistency delay: a read (GET of an item, the item list and its filters, an item's files) sees a write
//   only `consistencyDelayMs` after the write was committed; until then it sees the item as it was before the
//   write (a new item is not there, a deleted one still is, an updated one has its old version). Real Connect
//   answers from a local copy that its sync container fills from 1Password.com: terraform-provider-onepassword
//   polls up to ~1.5 s (5 tries, 100 ms -> 500 ms) after every write, and External Secrets created duplicates
//   by looking an item up by title right after creating it (external-secrets #3129).
//   Writes always act on the true, latest state: a PATCH never applies to a stale copy, and a write that was
//   answered 2xx is never lost; the delay hides it from reads only.
// - conflicts: a write to a vault holds the vault for `writeHoldMs` (the round trip real Connect makes to
//   1Password.com, which locks the vault's version) and then runs; another write to the same vault arriving
//   meanwhile is refused at once, without effect: 409 `Internal server conflict`, or for a DELETE 500
//   `Something went wrong` (terraform-provider-onepassword util/retry.go: RetryOnConflict,
//   Retry500ForConnectDelete "because Connect returns 500 for conflicts").
//
// The boundary is small: index.ts asks `storeFor(method, store)` for the store a request works on (a read
// view for reads, a recording one for writes) and runs each write through `guardWrite`.
import { CONNECT_MESSAGES } from './compat.js';
import { HttpError } from './http.js';
import type { Store, StoredItem } from './store.js';

export interface RealismOptions {
  /** Reads see a write only this many milliseconds after it. 0 (default): at once. */
  consistencyDelayMs?: number;
  /** Overlapping writes to one vault are refused (409; a DELETE 500). Default false. */
  conflicts?: boolean;
  /** With `conflicts`, how long each write holds its vault before it runs. Default 200 ms. */
  writeHoldMs?: number;
}

/** What `--realistic` turns on. */
export const REALISTIC: Required<RealismOptions> = { consistencyDelayMs: 1000, conflicts: true, writeHoldMs: 200 };
export const DEFAULT_WRITE_HOLD_MS = 200;

/** `500ms`, `1s`, `1.5s`, `2m`, or `0`: milliseconds. Throws on anything else. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (text.trim() === '0') return 0;
  if (!m) throw new Error(`"${text}" is not a duration; use e.g. 500ms, 1s, 2.5s or 1m`);
  const n = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
  if (!Number.isFinite(n) || n > 3_600_000) throw new Error(`"${text}" is longer than an hour`);
  return Math.round(n);
}

interface Change {
  vaultId: string;
  itemId: string;
  /** The item before the write; undefined: it did not exist. */
  before: StoredItem | undefined;
  at: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The store methods a request uses; a Store, or a view of one. */
export type RequestStore = Store;

export class Realism {
  readonly delayMs: number;
  readonly conflicts: boolean;
  readonly holdMs: number;
  private readonly changes: Change[] = [];
  private readonly busy = new Set<string>();

  constructor(opts: RealismOptions = {}, private readonly now: () => number = Date.now) {
    this.delayMs = Math.max(0, opts.consistencyDelayMs ?? 0);
    this.conflicts = opts.conflicts ?? false;
    this.holdMs = Math.max(0, opts.writeHoldMs ?? DEFAULT_WRITE_HOLD_MS);
  }

  get enabled(): boolean {
    return this.delayMs > 0 || this.conflicts;
  }

  /** The store a request works on: reads get the delayed view, writes a store that records what they change. */
  storeFor(method: string, store: Store): RequestStore {
    if (this.delayMs === 0) return store;
    const m = method.toUpperCase();
    return m === 'GET' || m === 'HEAD' ? this.readView(store) : this.recording(store);
  }

  /** Runs one write request; with conflicts on, holds its vault and refuses overlapping writes to it. */
  async guardWrite<T>(method: string, vaultId: string | undefined, run: () => Promise<T>): Promise<T> {
    const m = method.toUpperCase();
    if (!this.conflicts || vaultId === undefined || m === 'GET' || m === 'HEAD') return run();
    if (this.busy.has(vaultId)) {
      throw m === 'DELETE' ? new HttpError(500, CONNECT_MESSAGES.somethingWentWrong) : new HttpError(409, CONNECT_MESSAGES.conflict);
    }
    this.busy.add(vaultId);
    try {
      if (this.holdMs > 0) await sleep(this.holdMs);
      return await run();
    } finally {
      this.busy.delete(vaultId);
    }
  }

  private record(vaultId: string, itemId: string, before: StoredItem | undefined): void {
    this.prune();
    this.changes.push({ vaultId, itemId, before: before && structuredClone(before), at: this.now() });
  }

  private prune(): void {
    const horizon = this.now() - this.delayMs;
    while (this.changes.length > 0 && this.changes[0].at <= horizon) this.changes.shift();
  }

  /** The changes of one vault still hidden from reads: item id -> what reads see (the state before the first). */
  private hidden(vaultId: string): Map<string, StoredItem | undefined> {
    this.prune();
    const out = new Map<string, StoredItem | undefined>();
    for (const c of this.changes) if (c.vaultId === vaultId && !out.has(c.itemId)) out.set(c.itemId, c.before);
    return out;
  }

  private readView(store: Store): RequestStore {
    const getItem = (vaultId: string, id: string): StoredItem | undefined => {
      const hidden = this.hidden(vaultId);
      return hidden.has(id) ? hidden.get(id) && structuredClone(hidden.get(id)) : store.getItem(vaultId, id);
    };
    const listItems = (vaultId: string): StoredItem[] => {
      const hidden = this.hidden(vaultId);
      if (hidden.size === 0) return store.listItems(vaultId);
      const out: StoredItem[] = [];
      for (const item of store.listItems(vaultId)) {
        if (!hidden.has(item.id)) out.push(item);
        else if (hidden.get(item.id)) out.push(structuredClone(hidden.get(item.id)!));
      }
      // Deleted, still visible: after the live ones.
      for (const [id, before] of hidden) if (before && !out.some((i) => i.id === id)) out.push(structuredClone(before));
      return out;
    };
    const listItemSummaries = (vaultId: string) => {
      const own = (store as unknown as { listItemSummaries?: (v: string) => Omit<StoredItem, 'fields' | 'sections'>[] }).listItemSummaries;
      if (!own) return listItems(vaultId).map(({ fields: _f, sections: _s, ...rest }) => rest);
      const hidden = this.hidden(vaultId);
      const live = own.call(store, vaultId);
      if (hidden.size === 0) return live;
      const summary = (i: StoredItem) => {
        const { fields: _f, sections: _s, ...rest } = structuredClone(i);
        return rest;
      };
      const out: Omit<StoredItem, 'fields' | 'sections'>[] = [];
      for (const item of live) {
        if (!hidden.has(item.id)) out.push(item);
        else if (hidden.get(item.id)) out.push(summary(hidden.get(item.id)!));
      }
      for (const [id, before] of hidden) if (before && !out.some((i) => i.id === id)) out.push(summary(before));
      return out;
    };
    return delegate(store, { getItem, listItems, listItemSummaries });
  }

  private recording(store: Store): RequestStore {
    const s = store as unknown as Record<string, (...args: never[]) => unknown>;
    const overrides: Record<string, unknown> = {
      insertItem: (item: StoredItem) => {
        const r = (s.insertItem as (i: StoredItem) => unknown).call(store, item);
        this.record(item.vault.id, item.id, undefined);
        return r;
      },
      deleteItem: (vaultId: string, id: string, now: string) => {
        const before = store.getItem(vaultId, id);
        const r = (s.deleteItem as (v: string, i: string, n: string) => unknown).call(store, vaultId, id, now);
        if (before && r !== false) this.record(vaultId, id, before);
        return r;
      },
    };
    if (typeof s.updateItem === 'function') {
      overrides.updateItem = (vaultId: string, id: string, change: (cur: StoredItem) => StoredItem) => {
        let before: StoredItem | undefined;
        const r = (s.updateItem as (v: string, i: string, c: (cur: StoredItem) => StoredItem) => unknown).call(store, vaultId, id, (cur: StoredItem) => {
          before = structuredClone(cur);
          return change(cur);
        });
        this.record(vaultId, id, before);
        return r;
      };
    }
    if (typeof s.replaceItem === 'function') {
      overrides.replaceItem = (item: StoredItem) => {
        const before = store.getItem(item.vault.id, item.id);
        const r = (s.replaceItem as (i: StoredItem) => unknown).call(store, item);
        this.record(item.vault.id, item.id, before);
        return r;
      };
    }
    return delegate(store, overrides);
  }
}

/** A view of `store` with some methods replaced; every other method is the store's own, bound to it. */
function delegate(store: Store, overrides: Record<string, unknown>): RequestStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && Object.hasOwn(overrides, prop)) return overrides[prop];
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

// What a run costs in Connect requests: every request the transport actually sends (retries included, and
// counted apart as well), by kind, read or write. 1Password service accounts are limited in reads and writes
// an hour, so plan and apply end by saying what they spent (src/ui/requests.ts renders it). Counted at one
// place, Transport.send, never guessed from a plan. Holds no path, id or value: kinds and numbers only.

/** What a request does, by method and path template (GET is a read; anything else a write). */
export type RequestKind =
  | 'list_vaults'
  | 'get_vault'
  | 'list_items'
  | 'get_item'
  | 'create'
  | 'update'
  | 'patch'
  | 'delete'
  | 'list_files'
  | 'get_file'
  | 'get_file_content'
  | 'list_activity'
  | 'health'
  | 'other';

/** Every kind, reads first, in the order the renderers list them. */
export const REQUEST_KINDS: readonly RequestKind[] = [
  'list_vaults',
  'get_vault',
  'list_items',
  'get_item',
  'list_files',
  'get_file',
  'get_file_content',
  'list_activity',
  'health',
  'create',
  'update',
  'patch',
  'delete',
  'other',
];

const WRITE_KINDS: ReadonlySet<RequestKind> = new Set(['create', 'update', 'patch', 'delete']);

/** The requests of a run (or of a part of it). Plain data: it goes into the Plan and the apply result. */
export interface RequestCost {
  /** Requests sent, retries included. */
  total: number;
  reads: number;
  writes: number;
  /** Of `total`, the requests that were retries of an earlier attempt. */
  retries: number;
  /** Requests by kind, retries included; kinds never sent are absent. */
  byKind: Partial<Record<RequestKind, number>>;
  /** Retries by kind; kinds never retried are absent. */
  retriesByKind: Partial<Record<RequestKind, number>>;
}

const ROUTES: Record<string, RequestKind> = {
  'GET /v1/vaults': 'list_vaults',
  'GET /v1/vaults/{vault}': 'get_vault',
  'GET /v1/vaults/{vault}/items': 'list_items',
  'GET /v1/vaults/{vault}/items/{item}': 'get_item',
  'POST /v1/vaults/{vault}/items': 'create',
  'PUT /v1/vaults/{vault}/items/{item}': 'update',
  'PATCH /v1/vaults/{vault}/items/{item}': 'patch',
  'DELETE /v1/vaults/{vault}/items/{item}': 'delete',
  'GET /v1/vaults/{vault}/items/{item}/files': 'list_files',
  'GET /v1/vaults/{vault}/items/{item}/files/{file}': 'get_file',
  'GET /v1/vaults/{vault}/items/{item}/files/{file}/content': 'get_file_content',
  'GET /v1/activity': 'list_activity',
  'GET /heartbeat': 'health',
  'GET /health': 'health',
};

/** The kind of a request by its method and the client's path template (client.ts). */
export function requestKind(method: string, template: string): RequestKind {
  return ROUTES[`${method} ${template}`] ?? 'other';
}

/** A write: anything but a read (an unknown non-GET request counts against the write budget too). */
export function isWriteMethod(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD';
}

export function isWriteKind(kind: RequestKind): boolean {
  return WRITE_KINDS.has(kind);
}

export function emptyCost(): RequestCost {
  return { total: 0, reads: 0, writes: 0, retries: 0, byKind: {}, retriesByKind: {} };
}

/** Counts requests as they are sent. One per client (the transport's); `snapshot` copies it. */
export class RequestCounter {
  private cost: RequestCost = emptyCost();

  /** One request sent: `retry` when it is an attempt after the first of the same call. */
  record(method: string, template: string, retry: boolean): void {
    const kind = requestKind(method, template);
    const c = this.cost;
    c.total += 1;
    if (isWriteMethod(method)) c.writes += 1;
    else c.reads += 1;
    c.byKind[kind] = (c.byKind[kind] ?? 0) + 1;
    if (retry) {
      c.retries += 1;
      c.retriesByKind[kind] = (c.retriesByKind[kind] ?? 0) + 1;
    }
  }

  /** The counts so far, as a copy the counter never changes. */
  snapshot(): RequestCost {
    const c = this.cost;
    return { ...c, byKind: { ...c.byKind }, retriesByKind: { ...c.retriesByKind } };
  }

  reset(): void {
    this.cost = emptyCost();
  }
}

/** What was sent between two snapshots of one counter (`earlier` taken first). */
export function costSince(later: RequestCost, earlier: RequestCost): RequestCost {
  const sub = (a: Partial<Record<RequestKind, number>>, b: Partial<Record<RequestKind, number>>) => {
    const out: Partial<Record<RequestKind, number>> = {};
    for (const k of REQUEST_KINDS) {
      const n = (a[k] ?? 0) - (b[k] ?? 0);
      if (n > 0) out[k] = n;
    }
    return out;
  };
  return {
    total: later.total - earlier.total,
    reads: later.reads - earlier.reads,
    writes: later.writes - earlier.writes,
    retries: later.retries - earlier.retries,
    byKind: sub(later.byKind, earlier.byKind),
    retriesByKind: sub(later.retriesByKind, earlier.retriesByKind),
  };
}

// The /v1 operations of the Connect API: vaults, items, files and activity. Each handler checks scope
// (403 outside the token's vaults, 401 for a write with a read-only grant), ids (400 "Invalid ... UUID" as
// real Connect answers for a malformed id), existence (404), then validates and acts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FullItem, JsonPatchOp, Vault } from '../connect/types.js';
import { activityContentRange, CONNECT_MESSAGES, contentDisposition, DEFAULT_MAX_INLINE_FILE_BYTES } from './compat.js';
import { compileFilter, FilterError } from './filter.js';
import { HttpError, parseJsonBody, readBody, sendBytes, sendJson, sendJsonText } from './http.js';
import { isId } from './ids.js';
import { answeredAsStored, buildItem, fileView, fullItemView, itemSummary } from './items.js';
import { finishItemBody, normalizeItemInput } from './normalize.js';
import { applyItemPatch, PatchError } from './patch.js';
import { applyPatchWithSpecForms, isEmptyPatch, normalizePatchOps } from './patchforms.js';
import { Router, type Params } from './router.js';
import { ItemGoneError, storedItemJson, type Store, type StoredItem, type TokenRecord } from './store.js';

type ItemListEntry = Omit<StoredItem, 'fields' | 'sections'>;
import { tokenAllows, tokenSeesVault, type Access } from './tokens.js';
import { validateBody } from './validate.js';

/** What a request touched, for the activity log. */
export interface ActivityResource {
  type: string;
  vault?: { id: string };
  item?: { id: string };
  itemVersion?: number;
}

export interface ApiContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Params;
  query: URLSearchParams;
  token: TokenRecord;
  store: Store;
  resource: ActivityResource;
  maxBodyBytes: number;
  /** Largest file whose content is inlined (`inline_files=true`); larger ones are 413 (row 36). */
  maxInlineFileBytes?: number;
}

export type ApiHandler = (ctx: ApiContext) => Promise<void> | void;

/** Largest page of /v1/activity; larger `limit`s are cut to it. */
export const MAX_ACTIVITY_LIMIT = 1000;
export const DEFAULT_ACTIVITY_LIMIT = 50;
/** Largest `offset` of /v1/activity (2^53 - 1, the largest integer a JSON number holds exactly). */
export const MAX_ACTIVITY_OFFSET = Number.MAX_SAFE_INTEGER;
/** Most operations one PATCH may carry. */
export const MAX_PATCH_OPERATIONS = 1000;

export const MESSAGES = {
  noVaultAccess: 'Authorization: token does not have access to vault',
  noWriteAccess: 'Unauthorized Request, token does not have write access to the Vault',
  invalidVaultId: 'Invalid Vault UUID',
  invalidItemId: 'Invalid Item UUID',
  invalidFileId: 'Invalid File UUID',
  vaultNotFound: 'Vault not found',
  itemNotFound: 'Item not found',
  fileNotFound: 'File not found',
} as const;

/** The vault of the path, checked (id, scope, existence): only its id, as counting its items costs a scan of them. */
function vaultFor(ctx: ApiContext, access: Access): Pick<Vault, 'id'> {
  const id = ctx.params.vault;
  if (!isId(id)) throw new HttpError(400, MESSAGES.invalidVaultId);
  ctx.resource.vault = { id };
  if (!tokenSeesVault(ctx.token, id)) throw new HttpError(403, MESSAGES.noVaultAccess);
  if (!tokenAllows(ctx.token, id, access)) {
    throw access === 'write' ? new HttpError(401, MESSAGES.noWriteAccess) : new HttpError(403, MESSAGES.noVaultAccess);
  }
  if (!ctx.store.hasVault(id)) throw new HttpError(404, MESSAGES.vaultNotFound);
  return { id };
}

function itemFor(ctx: ApiContext, vault: Pick<Vault, 'id'>): StoredItem {
  const id = ctx.params.item;
  if (!isId(id)) throw new HttpError(400, MESSAGES.invalidItemId);
  ctx.resource.item = { id };
  const item = ctx.store.getItem(vault.id, id);
  if (!item) throw new HttpError(404, MESSAGES.itemNotFound);
  ctx.resource.itemVersion = item.version;
  return item;
}

/** The item id of the path, checked to exist (404 before a body is read); the write re-reads it in its transaction. */
function itemIdFor(ctx: ApiContext, vault: Pick<Vault, 'id'>): string {
  const id = ctx.params.item;
  if (!isId(id)) throw new HttpError(400, MESSAGES.invalidItemId);
  ctx.resource.item = { id };
  if (!ctx.store.getItem(vault.id, id)) throw new HttpError(404, MESSAGES.itemNotFound);
  return id;
}

/**
 * Read-check-write of one item in one store transaction, after the body has been read: `change` gets the
 * item as stored at that moment, so concurrent writers never overwrite each other's changes.
 */
function updateItem(ctx: ApiContext, vault: Pick<Vault, 'id'>, id: string, change: (existing: StoredItem) => StoredItem): StoredItem {
  try {
    return ctx.store.updateItem(vault.id, id, change);
  } catch (err) {
    if (err instanceof ItemGoneError) throw new HttpError(404, MESSAGES.itemNotFound);
    throw err;
  }
}

function fileIdFor(ctx: ApiContext): string {
  const id = ctx.params.file;
  if (!isId(id)) throw new HttpError(400, MESSAGES.invalidFileId);
  return id;
}

async function jsonBody(ctx: ApiContext): Promise<unknown> {
  return parseJsonBody(await readBody(ctx.req, ctx.maxBodyBytes));
}

function filterOf<T>(
  ctx: ApiContext,
  attrs: Record<string, (x: T) => string | string[] | undefined>,
  opts: { foldCase?: boolean } = {},
): (x: T) => boolean {
  const expr = ctx.query.get('filter');
  if (expr === null || expr.trim() === '') return () => true;
  try {
    return compileFilter(expr, attrs, opts);
  } catch (err) {
    if (err instanceof FilterError) throw new HttpError(400, err.message);
    throw err;
  }
}

function now(): string {
  return new Date().toISOString();
}

/** Answers with the item; `answeredVersion` is the version the answer says (real Connect's PUT: the previous one). */
function respondItem(ctx: ApiContext, item: StoredItem, answeredVersion: number = item.version): void {
  ctx.resource.itemVersion = item.version;
  ctx.resource.item = { id: item.id };
  const files = ctx.store.listFiles(item.vault.id, item.id);
  const asStored = answeredVersion === item.version && answeredAsStored(item, files) ? storedItemJson(item) : undefined;
  if (asStored !== undefined) return sendJsonText(ctx.res, 200, asStored);
  sendJson(ctx.res, 200, { ...fullItemView(item, files), version: answeredVersion });
}

// ---- handlers

const listVaults: ApiHandler = (ctx) => {
  // Both official SDKs (connect-sdk-js listVaultsByTitle, connect-sdk-go GetVaultsByTitle) send `title eq "..."`
  // for vaults; the docs say `name eq "..."`. Real Connect answers both, so `title` is the vault's name too.
  // Vault names match regardless of case, as real Connect's do (row 29); item titles do not.
  const keep = filterOf<Vault>(ctx, { name: (v) => v.name, title: (v) => v.name }, { foldCase: true });
  sendJson(
    ctx.res,
    200,
    ctx.store.listVaults().filter((v) => tokenSeesVault(ctx.token, v.id) && keep(v)),
  );
};

const getVault: ApiHandler = (ctx) => {
  const vault = ctx.store.getVault(vaultFor(ctx, 'read').id);
  if (!vault) throw new HttpError(404, MESSAGES.vaultNotFound);
  sendJson(ctx.res, 200, vault);
};

const listItems: ApiHandler = (ctx) => {
  const vault = vaultFor(ctx, 'read');
  const keep = filterOf<ItemListEntry>(ctx, { title: (i) => i.title, tag: (i) => i.tags ?? [] });
  sendJson(ctx.res, 200, ctx.store.listItemSummaries(vault.id).filter(keep).map(itemSummary));
};

const createItem: ApiHandler = async (ctx) => {
  const vault = vaultFor(ctx, 'write');
  const body = normalizeItemInput(await jsonBody(ctx), 'create');
  validateBody('FullItem', body);
  const b = finishItemBody(body as Partial<FullItem>, 'create');
  const item = buildItem(b, { vaultId: vault.id, actorId: ctx.token.id, now: now() });
  ctx.store.insertItem(item);
  respondItem(ctx, item);
};

const getItem: ApiHandler = (ctx) => {
  const vault = vaultFor(ctx, 'read');
  respondItem(ctx, itemFor(ctx, vault));
};

const replaceItem: ApiHandler = async (ctx) => {
  const vault = vaultFor(ctx, 'write');
  const id = itemIdFor(ctx, vault);
  const body = normalizeItemInput(await jsonBody(ctx), 'replace');
  validateBody('FullItem', body);
  const b = body as Partial<FullItem>;
  if (b.id !== undefined && b.id !== id) {
    throw new HttpError(400, "Invalid item: id in the body does not match the item id in the request's path");
  }
  let previous = 0;
  const item = updateItem(ctx, vault, id, (existing) => {
    previous = existing.version;
    const finished = finishItemBody(b, 'replace', { existingCategory: existing.category });
    return buildItem(finished, { vaultId: vault.id, actorId: ctx.token.id, now: now(), existing });
  });
  // Real Connect answers a PUT with the version the item had before it (row 21).
  respondItem(ctx, item, previous);
};

const patchItem: ApiHandler = async (ctx) => {
  const vault = vaultFor(ctx, 'write');
  const id = itemIdFor(ctx, vault);
  const body = await jsonBody(ctx);
  if (Array.isArray(body) && body.length > MAX_PATCH_OPERATIONS) {
    throw new HttpError(400, `Invalid JSON Patch: a patch may have at most ${MAX_PATCH_OPERATIONS} operations; this one has ${body.length}`);
  }
  validateBody('JsonPatch', body);
  // An empty patch leaves the item unmodified (row 26): no write, no new version.
  if (isEmptyPatch(body)) return respondItem(ctx, itemFor(ctx, vault));
  const ops = normalizePatchOps(body) as JsonPatchOp[];
  const item = updateItem(ctx, vault, id, (existing) => {
    let patched: FullItem;
    try {
      patched = applyPatchWithSpecForms(existing as FullItem, ops, applyItemPatch);
    } catch (err) {
      if (!(err instanceof PatchError)) throw err;
      throw new HttpError(400, `Invalid JSON Patch: ${err.message.replace(/^invalid patch: /, '')}`);
    }
    patched = normalizeItemInput(patched, 'patch') as FullItem;
    validateBody('FullItem', patched);
    if (patched.id !== existing.id) throw new HttpError(400, 'Invalid JSON Patch: an item id cannot be changed');
    if (patched.vault?.id !== undefined && patched.vault.id !== existing.vault.id) {
      throw new HttpError(400, 'Invalid JSON Patch: an item cannot be moved to another vault');
    }
    const finished = finishItemBody(patched, 'patch', { existingCategory: existing.category });
    return buildItem(finished, { vaultId: vault.id, actorId: ctx.token.id, now: now(), existing });
  });
  respondItem(ctx, item);
};

const deleteItem: ApiHandler = (ctx) => {
  const vault = vaultFor(ctx, 'write');
  const item = itemFor(ctx, vault);
  ctx.store.deleteItem(vault.id, item.id, now());
  ctx.res.writeHead(204);
  ctx.res.end();
};

function inline(ctx: ApiContext): boolean {
  return ctx.query.get('inline_files') === 'true';
}

/** Row 36: content above the inline limit is a 413 pointing at the content endpoint. */
function inlinable(ctx: ApiContext, f: { id: string; vaultId: string; itemId: string; size: number }): void {
  if (f.size > (ctx.maxInlineFileBytes ?? DEFAULT_MAX_INLINE_FILE_BYTES)) {
    throw new HttpError(413, CONNECT_MESSAGES.fileTooLargeToInline(f.vaultId, f.itemId, f.id));
  }
}

const listFiles: ApiHandler = (ctx) => {
  const vault = vaultFor(ctx, 'read');
  const item = itemFor(ctx, vault);
  const withContent = inline(ctx);
  const files = ctx.store.listFiles(vault.id, item.id);
  if (withContent) files.forEach((f) => inlinable(ctx, f));
  sendJson(
    ctx.res,
    200,
    files.map((f) => fileView(f, withContent ? ctx.store.fileContent(vault.id, item.id, f.id) : undefined)),
  );
};

function fileFor(ctx: ApiContext) {
  const vault = vaultFor(ctx, 'read');
  const item = itemFor(ctx, vault);
  const fileId = fileIdFor(ctx);
  const file = ctx.store.listFiles(vault.id, item.id).find((f) => f.id === fileId);
  if (!file) throw new HttpError(404, MESSAGES.fileNotFound);
  return file;
}

const getFile: ApiHandler = (ctx) => {
  const file = fileFor(ctx);
  if (inline(ctx)) inlinable(ctx, file);
  const content = inline(ctx) ? ctx.store.fileContent(file.vaultId, file.itemId, file.id) : undefined;
  sendJson(ctx.res, 200, fileView(file, content));
};

const getFileContent: ApiHandler = (ctx) => {
  const file = fileFor(ctx);
  ctx.res.setHeader('Content-Disposition', contentDisposition(file.name));
  sendBytes(ctx.res, ctx.store.fileContent(file.vaultId, file.itemId, file.id) ?? Buffer.alloc(0));
};

function intParam(ctx: ApiContext, name: string, dflt: number, max: number): number {
  const raw = ctx.query.get(name);
  if (raw === null || raw === '') return dflt;
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!(n <= max)) throw new HttpError(400, `Query parameter ${name} must be a non-negative integer no larger than ${max}`);
  return n;
}

const listActivity: ApiHandler = (ctx) => {
  // A larger limit is cut to the page size rather than refused, as before; it still has to be a number.
  const limit = Math.min(intParam(ctx, 'limit', DEFAULT_ACTIVITY_LIMIT, Number.MAX_SAFE_INTEGER), MAX_ACTIVITY_LIMIT);
  const offset = intParam(ctx, 'offset', 0, MAX_ACTIVITY_OFFSET);
  // A full-access token sees every entry; a scoped one the entries on its vaults and its own requests
  // (those without a vault included), never another token's requests elsewhere.
  const grants = ctx.token.grants;
  const scope = grants === null ? undefined : { vaults: grants.map((g) => g.vault), actorId: ctx.token.id };
  const page = ctx.store.listActivity(limit, offset, scope);
  sendJson(ctx.res, 200, page, { 'Content-Range': activityContentRange(offset, page.length, ctx.store.countActivity(scope)) });
};

/** The /v1 routes. */
export function apiRoutes(): Router<ApiHandler> {
  const V = '/v1/vaults/:vault';
  const I = `${V}/items/:item`;
  return new Router<ApiHandler>()
    .add('GET', '/v1/vaults', listVaults)
    .add('GET', V, getVault)
    .add('GET', `${V}/items`, listItems)
    .add('POST', `${V}/items`, createItem)
    .add('GET', I, getItem)
    .add('PUT', I, replaceItem)
    .add('PATCH', I, patchItem)
    .add('DELETE', I, deleteItem)
    .add('GET', `${I}/files`, listFiles)
    .add('GET', `${I}/files/:file`, getFile)
    .add('GET', `${I}/files/:file/content`, getFileContent)
    .add('GET', '/v1/activity', listActivity);
}

/** The activity resource type for a route template. */
export function resourceType(template: string | undefined): string {
  if (!template) return 'UNKNOWN';
  if (template.includes('/files')) return 'FILE';
  if (template.includes('/items')) return 'ITEM';
  if (template.startsWith('/v1/vaults')) return 'VAULT';
  if (template.startsWith('/v1/activity')) return 'ACTIVITY';
  return 'UNKNOWN';
}

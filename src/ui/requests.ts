// A run's Connect requests (src/connect/cost.ts) as each output shows them: a sentence for text and Markdown,
// an object for the JSON plan and the apply result. Renders only: the counts come from the client.

import { REQUEST_KINDS, type RequestCost, type RequestKind } from '../connect/cost.js';
import { aboutDuration, formatPace } from '../connect/pacing.js';
import type { Budget, WritePacing } from '../plan/budget.js';

const LABELS: Record<RequestKind, string> = {
  list_vaults: 'list vaults',
  get_vault: 'get vault',
  list_items: 'list items',
  get_item: 'get item',
  list_files: 'list files',
  get_file: 'get file',
  get_file_content: 'file content',
  list_activity: 'activity',
  health: 'health',
  create: 'create',
  update: 'update (PUT)',
  patch: 'patch',
  delete: 'delete',
  other: 'other',
};

const WRITES: ReadonlySet<RequestKind> = new Set(['create', 'update', 'patch', 'delete']);
const count = (n: number) => n.toLocaleString('en-US');

function kinds(byKind: RequestCost['byKind'], write: boolean | undefined): string {
  return REQUEST_KINDS.filter((k) => (byKind[k] ?? 0) > 0 && (write === undefined || WRITES.has(k) === write))
    .map((k) => `${count(byKind[k]!)} ${LABELS[k]}`)
    .join(', ');
}

/**
 * `9 reads (1 list vaults, 2 list items, 6 get item), 3 writes (2 create, 1 patch); 1 retry included (get item)`.
 * Kind `other` (a request opsync does not send today) is listed in the reads' parentheses whatever its method.
 */
export function requestsSentence(c: RequestCost): string {
  if (c.total === 0) return 'no requests';
  const readKinds = kinds(c.byKind, false);
  const writeKinds = kinds(c.byKind, true);
  const reads = `${count(c.reads)} read${c.reads === 1 ? '' : 's'}${readKinds ? ` (${readKinds})` : ''}`;
  const writes = `${count(c.writes)} write${c.writes === 1 ? '' : 's'}${writeKinds ? ` (${writeKinds})` : ''}`;
  const retries = c.retries > 0 ? `; ${count(c.retries)} ${c.retries === 1 ? 'retry' : 'retries'} included (${kinds(c.retriesByKind, undefined)})` : '';
  return `${reads}, ${writes}${retries}`;
}

/** The last line of a text plan or apply. */
export function requestsLine(c: RequestCost): string {
  return `Connect requests: ${requestsSentence(c)}.`;
}

export interface RequestsJson {
  total: number;
  reads: number;
  writes: number;
  retries: number;
  /** Every kind, zeros included, retries included. */
  by_kind: Record<RequestKind, number>;
  /** Only the kinds retried. */
  retries_by_kind: Partial<Record<RequestKind, number>>;
}

export function requestsJson(c: RequestCost): RequestsJson {
  const byKind = Object.fromEntries(REQUEST_KINDS.map((k) => [k, c.byKind[k] ?? 0])) as Record<RequestKind, number>;
  const retries: Partial<Record<RequestKind, number>> = {};
  for (const k of REQUEST_KINDS) if ((c.retriesByKind[k] ?? 0) > 0) retries[k] = c.retriesByKind[k];
  return { total: c.total, reads: c.reads, writes: c.writes, retries: c.retries, by_kind: byKind, retries_by_kind: retries };
}

/**
 * Said before a paced apply starts: `Pacing 1,200 writes at 0.33/s (budget.writesPerHour 1,200): about 1 h.`
 */
export function pacingLine(p: WritePacing, budget?: Budget): string {
  const why = p.source === 'flag' ? `--max-writes-per-second ${p.perSecond}` : `budget.writesPerHour ${count(budget?.writesPerHour ?? Math.round(p.perSecond * 3600))}`;
  const writes = `${count(p.estimatedWrites)} write${p.estimatedWrites === 1 ? '' : 's'}`;
  return `Pacing ${writes} at ${formatPace(p.perSecond)} (${why}): ${aboutDuration(p.estimatedMs)}.`;
}

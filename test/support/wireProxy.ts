// A real HTTP proxy that records every request opsync sends and checks it against what real 1Password Connect
// accepts (docs/connect-fidelity.md): a test that goes through it fails on any request real Connect would refuse,
// even where our own server would have let it pass.

import { startHttpProxy } from './httpProxy.js';

export interface WireRequest {
  method: string;
  path: string;
  body?: unknown;
}

const BUILTIN_IDS: Record<string, string> = { USERNAME: 'username', PASSWORD: 'password', NOTES: 'notesPlain' };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What real Connect would refuse in one item body (POST, PUT), with the ledger row that says so. */
function itemViolations(item: Obj, create: boolean): string[] {
  const out: string[] = [];
  const fields = Array.isArray(item.fields) ? (item.fields as Obj[]) : [];
  const count: Record<string, number> = {};
  for (const [i, f] of fields.entries()) {
    const type = String(f.type ?? '').toUpperCase();
    if (type === 'TOTP') out.push(`fields[${i}]: type TOTP (row 1: real Connect wants OTP)`);
    const purpose = typeof f.purpose === 'string' ? f.purpose : '';
    if (purpose) count[purpose] = (count[purpose] ?? 0) + 1;
    if (create && BUILTIN_IDS[purpose] && f.id !== BUILTIN_IDS[purpose]) out.push(`fields[${i}]: ${purpose} field without the built-in id ${BUILTIN_IDS[purpose]} (row 12)`);
    const value = typeof f.value === 'string' ? f.value : undefined;
    if (value !== undefined && type === 'MONTH_YEAR' && !/^\d{4}\/?\d{2}$/.test(value)) out.push(`fields[${i}]: MONTH_YEAR not YYYYMM or YYYY/MM (row 15)`);
    if (value !== undefined && type === 'DATE' && !/^(\d{4}-\d{2}-\d{2}|-?\d+)$/.test(value)) out.push(`fields[${i}]: DATE neither YYYY-MM-DD nor unix seconds (row 15)`);
    const recipe = f.recipe as Obj | undefined;
    if (isObj(recipe) && recipe.length !== undefined && !(Number.isInteger(recipe.length) && (recipe.length as number) >= 1 && (recipe.length as number) <= 64)) {
      out.push(`fields[${i}]: recipe length outside 1-64 (row 17)`);
    }
  }
  for (const p of ['USERNAME', 'PASSWORD']) if ((count[p] ?? 0) > 1) out.push(`${count[p]} ${p} purpose fields (row 9)`);
  if (create && ['CUSTOM', 'DOCUMENT'].includes(String(item.category))) out.push(`create of a ${String(item.category)} item (rows 5, 6)`);
  if (String(item.category) === 'PASSWORD' && !fields.some((f) => f.purpose === 'PASSWORD')) out.push('PASSWORD item without its PASSWORD field (row 8)');
  const sectionIds = (Array.isArray(item.sections) ? (item.sections as Obj[]) : []).map((s) => s.id);
  if (new Set(sectionIds).size !== sectionIds.length) out.push('repeated section id (row 16)');
  return out;
}

export function violations(req: WireRequest): string[] {
  const out: string[] = [];
  const filter = new URL(req.path, 'http://x').searchParams.get('filter');
  if (filter && /'/.test(filter)) out.push(`single-quoted filter ${filter} (row 30)`);
  if ((req.method === 'POST' || req.method === 'PUT') && isObj(req.body)) out.push(...itemViolations(req.body, req.method === 'POST'));
  if (req.method === 'PATCH' && Array.isArray(req.body)) {
    for (const [i, op] of (req.body as Obj[]).entries()) {
      if (!['add', 'remove', 'replace'].includes(String(op.op))) out.push(`patch[${i}]: op ${String(op.op)} (Connect takes add, remove, replace)`);
      if (isObj(op.value) && String(op.value.type ?? '').toUpperCase() === 'TOTP') out.push(`patch[${i}]: type TOTP (row 1)`);
      if (/\/type$/.test(String(op.path)) && String(op.value).toUpperCase() === 'TOTP') out.push(`patch[${i}]: type TOTP (row 1)`);
    }
  }
  return out.map((v) => `${req.method} ${req.path.split('?')[0]}: ${v}`);
}

export interface WireProxy {
  url: string;
  readonly requests: WireRequest[];
  /** Every request so far that real Connect would refuse, with why. */
  violations(): string[];
  close(): Promise<void>;
}

export async function startWireProxy(upstream: string): Promise<WireProxy> {
  const requests: WireRequest[] = [];
  const proxy = await startHttpProxy(upstream, (req, raw) => {
    let body: unknown;
    try {
      body = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
    } catch {
      body = '(not JSON)';
    }
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', ...(body === undefined ? {} : { body }) });
    return undefined;
  });
  return { url: proxy.url, requests, violations: () => requests.flatMap(violations), close: proxy.close };
}

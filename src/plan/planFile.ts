// Saved plans (`plan -out FILE`): the Plan as JSON, written 0600, with no secret value in it. A secret
// field's literal (allowed with `allowLiteral: true`) is left out and read again from the manifests when
// the plan is applied; the plan's digest proves it is the same value.
//
// A saved plan is input like any other, and it says which items to delete or rewrite: before anything is
// sent, apply checks its shape (schemas/plan-file.schema.json), its signature (an HMAC under a key derived
// from the digest key, so an edit is refused), and every change against the state, so that even an unsigned
// or forged plan can only act on the items the state says this address manages.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { relative } from 'node:path';
import { ConnectError } from '../connect/errors.js';
import { UserError } from '../errors.js';
import { FileReadError, LIMITS, readRegularFile } from '../files.js';
import { formatDiagnostic, loadManifests } from '../manifest/load.js';
import type { VariableInputs } from '../manifest/expand/index.js';
import { validateDocument } from '../manifest/schema.js';
import type { StateFile, StateResource } from '../state/types.js';
import { canonicalJson } from './digest.js';
import { PLAN_FORMAT_VERSION, type Plan, type ResourceChange } from './types.js';
import { writeFileAtomic } from '../files.js';

const REDACTED_LITERAL = { kind: 'literal', value: '', redacted: true } as const;

function redacted(plan: Plan): Plan {
  return {
    ...plan,
    changes: plan.changes.map((c) =>
      c.desired
        ? {
            ...c,
            desired: {
              ...c.desired,
              fields: c.desired.fields.map((f) => (f.sensitive && f.source.kind === 'literal' ? { ...f, source: { ...REDACTED_LITERAL } } : f)),
            },
          }
        : c,
    ),
  };
}

/** The signing key: derived from the digest key, so that a plan signature is never a digest of a spec. */
function signingKey(digestKey: Buffer): Buffer {
  return createHmac('sha256', digestKey).update('opsync saved plan v1').digest();
}

/** HMAC of the canonical JSON of the document without its signature: key order and spacing do not count. */
function signatureOf(doc: Record<string, unknown>, digestKey: Buffer): string {
  const { signature: _signature, ...rest } = doc;
  return 'hmac-sha256:' + createHmac('sha256', signingKey(digestKey)).update(canonicalJson(rest)).digest('hex');
}

/**
 * Writes the plan, redacted. With the digest key the file is signed, and apply refuses any edit of it; the
 * key is the one every command derives from the Connect token (or OPSYNC_DIGEST_KEY).
 */
export function writePlanFile(path: string, plan: Plan, digestKey?: Buffer): void {
  const doc = JSON.parse(JSON.stringify(redacted(plan))) as Record<string, unknown>;
  if (digestKey) doc.signature = signatureOf(doc, digestKey);
  writeFileAtomic(path, `${JSON.stringify(doc, null, 2)}\n`, 0o600);
}

const MAX_DEPTH = 64;

/** Whether `value` nests objects or arrays more than `max` deep (iteratively: the check itself cannot overflow). */
function tooDeep(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) stack.push([child, depth + 1]);
  }
  return false;
}

/** A saved plan as read: shape-checked, literals not yet restored, signature not yet verified. */
export interface SavedPlan {
  /** The path as the user gave it (for messages). */
  path: string;
  plan: Plan;
  signature?: string;
  /** The document as parsed, for verifying the signature. */
  doc: Record<string, unknown>;
}

const shown = (path: string) => {
  const rel = path.startsWith('/') ? relative(process.cwd(), path) : '';
  return rel && !rel.startsWith('..') ? rel : path;
};

/** One line: `saved plan FILE: what`. */
export function planError(path: string, what: string): UserError {
  return new UserError(`saved plan ${shown(path)}: ${what}`);
}

/**
 * Reads a saved plan and checks its shape against schemas/plan-file.schema.json: regular files of at most
 * LIMITS.plan bytes; anything malformed is one line naming the file and the place.
 */
export function readSavedPlan(path: string): SavedPlan {
  let text: string;
  try {
    text = readRegularFile(path, { maxBytes: LIMITS.plan });
  } catch (err) {
    throw planError(path, `cannot read: ${err instanceof FileReadError ? err.reason : (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw planError(path, 'is not a saved opsync plan (not JSON)');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc) || !('changes' in doc)) throw planError(path, 'is not a saved opsync plan');
  // Plans opsync writes are a dozen levels deep; deeper JSON would overflow the stack of whatever walks it.
  if (tooDeep(doc, MAX_DEPTH)) throw planError(path, `is nested deeper than ${MAX_DEPTH} levels; it was edited or damaged: plan again`);
  const d = doc as Record<string, unknown>;
  if (d.formatVersion !== PLAN_FORMAT_VERSION) {
    throw planError(path, `is a plan of format ${JSON.stringify(d.formatVersion) ?? 'none'}; this opsync reads format ${PLAN_FORMAT_VERSION}`);
  }
  let problems: ReturnType<typeof validateDocument>;
  try {
    problems = validateDocument(d, 'plan-file');
  } catch (err) {
    throw planError(path, `cannot be checked (${err instanceof RangeError ? 'nested too deeply' : (err as Error).message})`);
  }
  if (problems.length > 0) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    throw planError(path, `${problems[0].message}${more}; it was edited or damaged: plan again`);
  }
  const plan = d as unknown as Plan;
  return { path, plan, doc: d, ...(typeof d.signature === 'string' ? { signature: d.signature } : {}) };
}

/**
 * Refuses a plan whose signature does not verify under `digestKey`, and an unsigned one: `opsync plan -out`
 * always signs, so a plan without a signature was made by hand or had it cut off.
 */
export function verifyPlanSignature(saved: SavedPlan, digestKey: Buffer): void {
  if (saved.signature === undefined) throw planError(saved.path, 'is not signed (opsync plan -out signs every plan it saves); plan again');
  const expected = Buffer.from(signatureOf(saved.doc, digestKey));
  const got = Buffer.from(saved.signature);
  if (expected.length !== got.length || !timingSafeEqual(expected, got)) {
    throw planError(
      saved.path,
      'its signature does not match: the file was edited, or it was made with another Connect token or OPSYNC_DIGEST_KEY; plan again',
    );
  }
}

/**
 * Every change of a saved plan against the state it claims to be made on, before anything is sent:
 * - update, replace, delete and noop act on the item and vault the state records for the address (or for the
 *   address it was moved from);
 * - a create is for an address the state does not hold, unless the plan says its item was deleted outside
 *   opsync (then `liveMissing` lists it, and apply checks that the item really is gone);
 * - adoption and recovery (`adopt: true`) only for addresses without a state entry (or, recovering an
 *   interrupted create, whose recorded item is gone), of items nothing in the state manages;
 * - one change per address and per item; the desired spec (which the digest binds) is for that address.
 * Returns the state records whose items a re-create claims are gone.
 */
export function checkPlanAgainstState(saved: SavedPlan, state: StateFile): { liveMissing: StateResource[] } {
  const fail = (c: ResourceChange, what: string) => planError(saved.path, `change for ${c.address}: ${what}; it was edited or does not belong to this state: plan again`);
  const managedBy = new Map(Object.values(state.resources).map((r) => [r.itemId, r.address]));
  const addresses = new Set<string>();
  const items = new Set<string>();
  const liveMissing: StateResource[] = [];
  for (const c of saved.plan.changes) {
    if (addresses.has(c.address)) throw fail(c, 'the address has more than one change');
    addresses.add(c.address);
    if (c.itemId !== undefined) {
      if (items.has(c.itemId)) throw fail(c, `item ${c.itemId} has more than one change`);
      items.add(c.itemId);
    }
    if (c.desired && c.desired.address !== c.address) throw fail(c, `its desired item is ${c.desired.address}`);
    if (c.desired && c.desired.vault !== c.vault.id && c.desired.vault !== c.vault.name) {
      throw fail(c, `vault ${c.vault.name} (${c.vault.id ?? 'no id'}) is not the manifest's vault "${c.desired.vault}"`);
    }
    const own = state.resources[c.address];
    if (c.movedFrom !== undefined) {
      if (c.action === 'delete' || c.adopt) throw fail(c, `a ${c.adopt ? 'adoption' : c.action} cannot be moved`);
      if (!state.resources[c.movedFrom]) throw fail(c, `it is moved from ${c.movedFrom}, which the state does not hold`);
      if (own) throw fail(c, `it is moved from ${c.movedFrom}, but the state already holds ${c.address}`);
    }
    const held = c.movedFrom !== undefined ? state.resources[c.movedFrom] : own;
    if (c.replace) {
      // A replace deletes only items the state ties to this address: its item, those an earlier replace left
      // (retired), and the one an interrupted create of a replace was replacing.
      if (c.action !== 'replace') throw fail(c, `a ${c.action} cannot retire items`);
      const mine = new Set([held?.itemId, ...(held?.retired ?? []).map((r) => r.itemId), state.pending[c.address]?.replaces]);
      for (const r of c.replace.retire) {
        if (!mine.has(r.itemId)) throw fail(c, `it deletes item ${r.itemId}, which the state does not record for this address`);
        if (r.vaultId !== c.vault.id) throw fail(c, `it deletes item ${r.itemId} in vault ${r.vaultId}, not the change's vault`);
        if (r.itemId === c.itemId) continue;
        if (items.has(r.itemId)) throw fail(c, `item ${r.itemId} has more than one change`);
        items.add(r.itemId);
      }
    }
    if (c.adopt) {
      if (c.action === 'create' || c.action === 'delete') throw fail(c, `a ${c.action} cannot adopt`);
      // Recovering the interrupted create of a replace or re-create: the state still names the old item, which
      // must be gone (checked live).
      if (held && !state.pending[c.address]) throw fail(c, 'it adopts an item for an address the state already manages');
      // Not when the old item is the one an interrupted create-before-destroy replaces: it is still there, retired.
      if (held && state.pending[c.address]?.replaces !== held.itemId) liveMissing.push(held);
      const other = managedBy.get(c.itemId!);
      if (other !== undefined) throw fail(c, `it adopts item ${c.itemId}, which the state manages as ${other}`);
      const pending = state.pending[c.address];
      if (pending && pending.vaultId !== c.vault.id) throw fail(c, `the interrupted create was in vault ${pending.vaultName} (${pending.vaultId})`);
      continue;
    }
    if (c.action === 'create') {
      if (c.itemId !== undefined) throw fail(c, 'a create names an item');
      if (held) {
        if (!c.drift?.liveMissing && !state.pending[c.address]) throw fail(c, `it creates an address the state already manages (item ${held.itemId})`);
        if (held.vaultId !== c.vault.id) throw fail(c, `the state records vault ${held.vaultName} (${held.vaultId}), not ${c.vault.id}`);
        liveMissing.push(held);
      }
      continue;
    }
    if (!held) throw fail(c, `a ${c.action} of an address the state does not manage`);
    if (held.itemId !== c.itemId) throw fail(c, `item ${c.itemId} is not the one the state records (${held.itemId})`);
    if (held.vaultId !== c.vault.id) throw fail(c, `vault ${c.vault.id} is not the one the state records (${held.vaultId})`);
  }
  return { liveMissing };
}

/** What the live check needs of a Connect client. */
export interface PlanCheckClient {
  listVaults(): Promise<{ id: string; name: string }[]>;
  getItem(vaultId: string, itemId: string): Promise<unknown>;
}

/**
 * The checks that need Connect, still before anything is sent: each vault a change writes to exists and is
 * the manifest's (by id or name), and each item a re-create says was deleted outside opsync is really gone.
 */
export async function checkPlanLive(saved: SavedPlan, liveMissing: StateResource[], client: PlanCheckClient): Promise<void> {
  const writes = saved.plan.changes.filter((c) => c.desired && (c.action !== 'noop' || c.adopt));
  if (writes.length > 0) {
    const vaults = new Map((await client.listVaults()).map((v) => [v.id, v]));
    for (const c of writes) {
      const v = vaults.get(c.vault.id!);
      if (!v || (v.id !== c.desired!.vault && v.name !== c.desired!.vault)) {
        throw planError(saved.path, `change for ${c.address}: vault ${c.vault.id} is not the manifest's vault "${c.desired!.vault}"; plan again`);
      }
    }
  }
  for (const r of liveMissing) {
    const gone = await client.getItem(r.vaultId, r.itemId).then(
      () => false,
      (err: unknown) => {
        if (err instanceof ConnectError && err.status === 404) return true;
        throw err;
      },
    );
    if (!gone) throw planError(saved.path, `change for ${r.address}: it creates the item again, but item ${r.itemId} still exists; plan again`);
  }
}

/** Put back the literals a saved plan left out, from the manifests it was made from. */
export function restoreLiterals(plan: Plan, env: NodeJS.ProcessEnv, path = 'plan', variables?: VariableInputs): Plan {
  const needs = plan.changes.some((c) => c.desired?.fields.some((f) => f.source.kind === 'literal' && f.source.redacted));
  if (!needs) return plan;
  // With the variables this apply is given: a value that differs from the plan's leaves a literal that the
  // digest check refuses, as a changed manifest does.
  const { manifest, diagnostics } = loadManifests(plan.manifests, { env, checkEnv: false, ...(variables ? { variables } : {}) });
  const first = diagnostics.find((d) => d.severity === 'error');
  if (first) throw planError(path, `its manifests do not load: ${formatDiagnostic(first)}`);
  const items = new Map(manifest.items.map((i) => [i.address, i]));
  for (const c of plan.changes) {
    if (!c.desired) continue;
    const current = items.get(c.address);
    c.desired.fields = c.desired.fields.map((f) => {
      if (f.source.kind !== 'literal' || !f.source.redacted) return f;
      const now = current?.fields.find((x) => x.key === f.key)?.source;
      // A literal that is gone or changed leaves the placeholder: apply's digest check then refuses the plan.
      return now?.kind === 'literal' ? { ...f, source: now } : f;
    });
  }
  return plan;
}

/**
 * A saved plan, shape-checked, for `show`: its secret literals stay left out (a rendering never needs them),
 * so showing a plan reads no manifest. apply checks more (signature, state) and restores them.
 */
export function readPlanFile(path: string, _env?: NodeJS.ProcessEnv): Plan {
  return readSavedPlan(path).plan;
}

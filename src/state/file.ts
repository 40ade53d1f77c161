// Reading, checking, migrating and atomically writing the state file.

import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { STATE_FORMAT_VERSION, type StateFile } from './types.js';
import { applyChange, journalPath, JournalFormatError, parseJournal, type JournalEntry } from './journal.js';
import { FileReadError, LIMITS, readRegularFile, writeFileAtomic } from '../files.js';
import { FIELD_DIGEST_PATTERN } from '../plan/digest.js';

export class StateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateError';
  }
}

export function emptyState(): StateFile {
  return { version: STATE_FORMAT_VERSION, lineage: randomUUID(), serial: 0, resources: {}, pending: {} };
}

/**
 * Format migrations, oldest first: each takes the document of version `from` to `from + 1`, and runs only on
 * a document that has that version's shape (`is`): a file that merely lacks a version, or says an old one
 * over a newer shape, is refused rather than migrated (a migration that found no `items` would forget every
 * resource, and the next write would make that permanent).
 */
const MIGRATIONS: {
  from: number;
  is: (doc: Record<string, unknown>) => boolean;
  migrate: (doc: Record<string, unknown>) => Record<string, unknown>;
}[] = [
  // v0 (pre-release) kept resources under `items`, had no pending creates and no version property.
  // Every migration keeps the properties it does not rename (`...rest`), so an optional one such as `vaults` survives.
  {
    from: 0,
    is: (doc) => isObject(doc.items) && !('resources' in doc) && !('pending' in doc),
    migrate: ({ items, ...rest }) => ({ ...rest, version: 1, resources: items, pending: {} }),
  },
  // v1 had no field digests (`fields`): its resources are v2 resources without them, and get them at their
  // next write. Nothing else changed.
  {
    from: 1,
    is: (doc) => isObject(doc.resources) && isObject(doc.pending) && Object.values(doc.resources).every((r) => !isObject(r) || !('fields' in r)),
    migrate: (doc) => ({ ...doc, version: 2 }),
  },
  // v3 added optional properties only (connectMovedFrom; a resource's generatedAt): a v2 document is a v3 one.
  {
    from: 2,
    is: (doc) => isObject(doc.resources) && isObject(doc.pending),
    migrate: (doc) => ({ ...doc, version: 3 }),
  },
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function migrate(doc: Record<string, unknown>, path: string): Record<string, unknown> {
  const bad = (what: string) => new StateError(`state ${path}: ${what}; restore it from a backup or version control`);
  let version: number;
  if (!('version' in doc)) {
    // Only v0 had no version; anything else without one is damaged, not old.
    if (!MIGRATIONS[0].is(doc)) throw bad('"version" is missing and it is not an old (v0) state file');
    version = 0;
  } else if (typeof doc.version !== 'number' || !Number.isSafeInteger(doc.version) || doc.version < 0) {
    throw bad(`"version" must be a whole number, not ${JSON.stringify(doc.version) ?? String(doc.version)}`);
  } else {
    version = doc.version;
  }
  if (version > STATE_FORMAT_VERSION) {
    throw new StateError(`state ${path} has state format ${version}; this opsync reads up to ${STATE_FORMAT_VERSION}: upgrade opsync`);
  }
  while (version < STATE_FORMAT_VERSION) {
    const step = MIGRATIONS.find((m) => m.from === version);
    if (!step) throw new StateError(`state ${path}: no migration from state format ${version}`);
    if (!step.is(doc)) throw bad(`it says state format ${version} but does not have that format's shape`);
    doc = step.migrate(doc);
    version += 1;
  }
  return doc;
}

const TOP_KEYS = new Set(['version', 'lineage', 'serial', 'connect', 'connectMovedFrom', 'resources', 'pending', 'vaults']);
const RESOURCE_KEYS: Record<string, 'string' | 'number' | 'boolean' | 'object'> = {
  address: 'string',
  vaultId: 'string',
  vaultName: 'string',
  itemId: 'string',
  title: 'string',
  category: 'string',
  version: 'number',
  digest: 'string',
  fields: 'object',
  rotations: 'object',
  generatedAt: 'object',
  protect: 'boolean',
  retired: 'object',
  updatedAt: 'string',
};
const PENDING_KEYS: Record<string, 'string'> = { address: 'string', vaultId: 'string', vaultName: 'string', title: 'string', startedAt: 'string', replaces: 'string' };
const OPTIONAL = new Set(['fields', 'rotations', 'generatedAt', 'protect', 'retired', 'replaces']);

/** A generation time (StateResource.generatedAt): an ISO 8601 timestamp in UTC, as apply writes it; nothing else rides along. */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** The state's shape, strictly: unknown keys are refused, so nothing (a value, say) can ride along. */
export function validateStateShape(doc: Record<string, unknown>, path: string): StateFile {
  const bad = (where: string, what: string) => new StateError(`state ${path}: ${where}: ${what}`);
  for (const k of Object.keys(doc)) if (!TOP_KEYS.has(k)) throw bad(k, 'unknown property');
  if (doc.version !== STATE_FORMAT_VERSION) throw bad('version', `must be ${STATE_FORMAT_VERSION}`);
  if (typeof doc.lineage !== 'string' || doc.lineage === '') throw bad('lineage', 'must be a non-empty string');
  if (!Number.isInteger(doc.serial) || (doc.serial as number) < 0) throw bad('serial', 'must be a whole number');
  if (doc.connect !== undefined && typeof doc.connect !== 'string') throw bad('connect', 'must be a string');
  if (doc.connectMovedFrom !== undefined && typeof doc.connectMovedFrom !== 'string') throw bad('connectMovedFrom', 'must be a string');
  for (const [section, keys] of [
    ['resources', RESOURCE_KEYS],
    ['pending', PENDING_KEYS],
  ] as const) {
    const entries = doc[section];
    if (!entries || typeof entries !== 'object' || Array.isArray(entries)) throw bad(section, 'must be an object');
    for (const [address, entry] of Object.entries(entries as Record<string, unknown>)) {
      const where = `${section}["${address}"]`;
      if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw bad(where, 'must be an object');
      const e = entry as Record<string, unknown>;
      for (const k of Object.keys(e)) if (!(k in keys)) throw bad(`${where}.${k}`, 'unknown property');
      for (const [k, type] of Object.entries(keys)) {
        if (e[k] === undefined && OPTIONAL.has(k)) continue;
        if (typeof e[k] !== type || e[k] === null) throw bad(`${where}.${k}`, `must be a ${type}`);
      }
      if (e.address !== address) throw bad(`${where}.address`, 'must equal its key');
      if (e.fields !== undefined) {
        if (Array.isArray(e.fields)) throw bad(`${where}.fields`, 'must be an object');
        for (const [k, v] of Object.entries(e.fields as Record<string, unknown>)) {
          // Digests only: nothing else (a value, say) can ride along.
          if (typeof v !== 'string' || !FIELD_DIGEST_PATTERN.test(v)) throw bad(`${where}.fields.${k}`, 'must be a field digest (hmac-sha256:<key id>:<64 hex digits>)');
        }
      }
      if (e.retired !== undefined) {
        // Old items of a replace still to delete (src/apply/replace.ts): ids only.
        if (!Array.isArray(e.retired)) throw bad(`${where}.retired`, 'must be an array');
        for (const [i, r] of (e.retired as unknown[]).entries()) {
          if (!isObject(r) || Object.keys(r).some((k) => k !== 'itemId' && k !== 'vaultId') || typeof r.itemId !== 'string' || typeof r.vaultId !== 'string') {
            throw bad(`${where}.retired[${i}]`, 'must be an object with a string itemId and vaultId');
          }
        }
      }
      if (e.generatedAt !== undefined) {
        if (Array.isArray(e.generatedAt)) throw bad(`${where}.generatedAt`, 'must be an object');
        for (const [k, v] of Object.entries(e.generatedAt as Record<string, unknown>)) {
          // A real instant, as toISOString writes it (2026-02-30 is no day: Date.parse would roll it over).
          if (typeof v !== 'string' || !TIMESTAMP.test(v) || Number.isNaN(Date.parse(v)) || new Date(v).toISOString().slice(0, 19) !== v.slice(0, 19)) {
            throw bad(`${where}.generatedAt.${k}`, 'must be a UTC timestamp (e.g. 2026-08-01T09:30:00.000Z)');
          }
        }
      }
      if (e.rotations !== undefined) {
        if (Array.isArray(e.rotations)) throw bad(`${where}.rotations`, 'must be an object');
        for (const [k, v] of Object.entries(e.rotations as Record<string, unknown>)) {
          if (typeof v !== 'string') throw bad(`${where}.rotations.${k}`, 'must be a string');
        }
      }
    }
  }
  if (doc.vaults !== undefined) {
    if (!isObject(doc.vaults)) throw bad('vaults', 'must be an object');
    for (const [id, entry] of Object.entries(doc.vaults)) {
      const where = `vaults["${id}"]`;
      if (!isObject(entry)) throw bad(where, 'must be an object');
      for (const k of Object.keys(entry)) if (k !== 'name' && k !== 'contentVersion') throw bad(`${where}.${k}`, 'unknown property');
      if (typeof entry.name !== 'string') throw bad(`${where}.name`, 'must be a string');
      if (!Number.isSafeInteger(entry.contentVersion) || (entry.contentVersion as number) < 0) {
        throw bad(`${where}.contentVersion`, 'must be a whole number');
      }
    }
  }
  return doc as unknown as StateFile;
}

/**
 * The state at `path`, with the journal a crashed run left beside it replayed over it (read-only: nothing is
 * written; the next store that opens it compacts). A missing file is a new, empty state.
 */
export function readState(path: string): StateFile {
  const state = readStateFile(path);
  replayJournal(state, path);
  return state;
}

/** The state file alone, without its journal. */
export function readStateFile(path: string): StateFile {
  let text: string;
  try {
    text = readRegularFile(path, { maxBytes: LIMITS.state });
  } catch (err) {
    if (err instanceof FileReadError && err.code === 'ENOENT') return emptyState();
    throw new StateError(`cannot read state ${path}: ${err instanceof FileReadError ? err.reason : (err as Error).message}`);
  }
  return parseStateDocument(text, path);
}

/**
 * A state document's text (a file's, or what a remote backend stored) as a checked, migrated state; `path`
 * names it in errors. Refuses anything that is not exactly an opsync state (a Terraform state, say).
 */
export function parseStateDocument(text: string, path: string): StateFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new StateError(`state ${path} is not valid JSON (${(err as Error).message}); restore it from a backup or version control`);
  }
  if (!isObject(doc)) throw new StateError(`state ${path} is not an opsync state file (not a JSON object)`);
  if ('terraform_version' in doc) throw new StateError(`state ${path} is a Terraform state, not an opsync state: opsync keeps its own state (one per backend address)`);
  return validateStateShape(migrate(doc, path), path);
}

/**
 * Replay `<path>.journal` over `state` in place: the entries newer than the state's serial, in order, each
 * checked as strictly as the state file. Returns how many were applied, and whether a journal file exists.
 */
export function replayJournal(state: StateFile, path: string): { applied: number; exists: boolean } {
  const jpath = journalPath(path);
  let text: string;
  try {
    text = readRegularFile(jpath, { maxBytes: LIMITS.state });
  } catch (err) {
    if (err instanceof FileReadError && err.code === 'ENOENT') return { applied: 0, exists: false };
    throw new StateError(`cannot read state journal ${jpath}: ${err instanceof FileReadError ? err.reason : (err as Error).message}`);
  }
  const bad = (what: string) => new StateError(`state journal ${jpath}: ${what}`);
  let journal: ReturnType<typeof parseJournal>;
  try {
    journal = parseJournal(text);
  } catch (err) {
    if (err instanceof JournalFormatError) throw bad(`${err.message}; if the state file is known good, remove the journal`);
    throw err;
  }
  const { header, entries } = journal;
  if (!header) return { applied: 0, exists: true };
  if (header.lineage !== state.lineage) {
    // A first apply that died before the state file was ever written: the journal holds the lineage.
    if (state.serial === 0 && header.base === 0) state.lineage = header.lineage;
    else throw bad(`it belongs to another state (lineage ${header.lineage}, the state's is ${state.lineage}); if the state was replaced on purpose, remove the journal`);
  }
  let applied = 0;
  for (const entry of entries) {
    if (entry.serial <= state.serial) continue; // the state file already has it (compacted before a crash)
    if (entry.serial !== state.serial + 1) {
      throw bad(`it goes on from serial ${entry.serial - 1} but the state file is at serial ${state.serial} (an older state file restored?); if the state file is what you want, remove the journal`);
    }
    checkJournalEntry(entry, jpath);
    applyChange(state, entry);
    state.serial = entry.serial;
    applied += 1;
  }
  return { applied, exists: true };
}

/** A journal entry's resource, pending create or vault, as strictly as in the state file. */
function checkJournalEntry(entry: JournalEntry, jpath: string): void {
  const doc: Record<string, unknown> = { version: STATE_FORMAT_VERSION, lineage: 'l', serial: 0, resources: {}, pending: {} };
  if (entry.op === 'resource') doc.resources = { [entry.resource.address]: entry.resource };
  else if (entry.op === 'pending') doc.pending = { [entry.pending.address]: entry.pending };
  else if (entry.op === 'vault' && entry.vault) doc.vaults = { [entry.id]: entry.vault };
  else return;
  validateStateShape(doc, `${jpath} (serial ${entry.serial})`);
}

/** Stable key order, so that diffs of the state stay readable. What every backend stores. */
export function serialiseState(state: StateFile): string {
  const sortKeys = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const ordered = {
    version: state.version,
    lineage: state.lineage,
    serial: state.serial,
    ...(state.connect ? { connect: state.connect } : {}),
    ...(state.connectMovedFrom ? { connectMovedFrom: state.connectMovedFrom } : {}),
    resources: sortKeys(state.resources),
    pending: sortKeys(state.pending),
    ...(state.vaults ? { vaults: sortKeys(state.vaults) } : {}),
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** Temp file in the same folder (0600), fsync, rename over the target, fsync the folder. */
export function writeStateAtomic(path: string, state: StateFile): void {
  try {
    const dir = dirname(path);
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(path, serialiseState(state), 0o600);
  } catch (err) {
    throw new StateError(`cannot write state ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

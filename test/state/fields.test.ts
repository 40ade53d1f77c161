// Field digests in the state (issue 13): format 2 keeps a keyed digest per managed field value, never a value.
// Version 1 files are read and upgraded in memory; `fields` round-trips through the file, the journal and compaction.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { fieldDigest } from '../../src/plan/digest.js';
import { readState, readStateFile, StateError, StateStore, writeStateAtomic, emptyState } from '../../src/state/index.js';
import { STATE_FORMAT_VERSION } from '../../src/state/types.js';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'opsync-fields-'));
  path = join(dir, 'state.json');
});

const KEY = Buffer.alloc(32, 7);
const SECRET = 'Hunter2-generated-Secret-9';

const resource = (address: string, extra: Record<string, unknown> = {}) => ({
  address,
  vaultId: 'v'.repeat(26),
  vaultName: 'Private',
  itemId: 'i'.repeat(26),
  title: address,
  category: 'LOGIN',
  version: 1,
  digest: 'hmac-sha256:00',
  updatedAt: '2026-01-01T00:00:00.000Z',
  ...extra,
});

describe('state format 2: field digests', () => {
  it('is written as format 3 (2 with optional properties only)', () => {
    expect(STATE_FORMAT_VERSION).toBe(3);
    expect(emptyState().version).toBe(3);
  });

  it('reads a version 1 file and upgrades it in memory: resources without fields; the next write is version 2', () => {
    const v1 = { version: 1, lineage: 'l', serial: 3, resources: { 'P/a': resource('P/a', { rotations: { pw: '' } }) }, pending: {} };
    writeFileSync(path, JSON.stringify(v1));
    const s = readState(path);
    expect(s.version).toBe(3);
    expect(s.resources['P/a']).toEqual(v1.resources['P/a']);
    expect(s.resources['P/a'].fields).toBeUndefined();
    expect(JSON.parse(readFileSync(path, 'utf8')).version).toBe(1); // reading writes nothing
    writeStateAtomic(path, s);
    expect(JSON.parse(readFileSync(path, 'utf8')).version).toBe(3);
  });

  it('keeps field digests through the file, and refuses anything in fields that is not a digest', () => {
    const s = emptyState();
    const fields = { password: fieldDigest(SECRET, KEY), username: fieldDigest('app', KEY) };
    s.resources['P/a'] = resource('P/a', { fields });
    writeStateAtomic(path, s);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain(SECRET);
    expect(readStateFile(path).resources['P/a'].fields).toEqual(fields);

    for (const [bad, message] of [
      [{ password: SECRET }, /resources\["P\/a"\]\.fields\.password: must be a field digest/],
      [{ password: 'hmac-sha256:' + 'a'.repeat(64) }, /fields\.password: must be a field digest/],
      [{ password: 7 }, /fields\.password: must be a field digest/],
      [[fieldDigest('x', KEY)], /fields: must be an object/],
      ['hmac', /fields: must be a object/],
    ] as const) {
      writeFileSync(path, JSON.stringify({ ...s, resources: { 'P/a': resource('P/a', { fields: bad }) } }));
      expect(() => readStateFile(path), JSON.stringify(bad)).toThrow(StateError);
      expect(() => readStateFile(path)).toThrow(message);
    }
  });

  it('refuses a version 1 file that has field digests (a newer shape under an old version)', () => {
    writeFileSync(path, JSON.stringify({ version: 1, lineage: 'l', serial: 3, resources: { 'P/a': resource('P/a', { fields: {} }) }, pending: {} }));
    expect(() => readState(path)).toThrow(/says state format 1 but does not have that format's shape/);
  });

  it('refuses a newer format in one line naming the file', () => {
    mkdirSync(join(dir, 'sub'));
    const p = join(dir, 'sub/state.json');
    writeFileSync(p, JSON.stringify({ ...emptyState(), version: 4 }));
    let message = '';
    try {
      readState(p);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(`state ${p} has state format 4; this opsync reads up to 3: upgrade opsync`);
  });

  it('field digests round-trip through the journal (replayed after a crash) and compaction', async () => {
    writeFileSync(path, JSON.stringify({ version: 1, lineage: 'l', serial: 1, resources: { 'P/old': resource('P/old') }, pending: {} }));
    const fields = { password: fieldDigest(SECRET, KEY) };
    const store = await StateStore.open(path, { lockTimeoutMs: 0, command: 'test' });
    await store.change({ op: 'resource', resource: resource('P/a', { fields }) });
    const journal = readFileSync(`${path}.journal`, 'utf8');
    expect(journal).toContain(fields.password);
    expect(journal).not.toContain(SECRET);
    // A reader replays the journal over the (still version 1) file.
    expect(readState(path).resources['P/a'].fields).toEqual(fields);
    expect(readState(path).resources['P/old'].fields).toBeUndefined();
    store.close(); // compacts
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(doc.version).toBe(3);
    expect(doc.resources['P/a'].fields).toEqual(fields);
    expect(doc.resources['P/old'].fields).toBeUndefined();
    // A journal line whose fields hold a value is refused like the state file.
    const again = await StateStore.open(path, { lockTimeoutMs: 0, command: 'test' });
    again.close();
    writeFileSync(
      `${path}.journal`,
      `${JSON.stringify({ opsyncJournal: 1, lineage: 'l', base: doc.serial })}\n${JSON.stringify({ serial: doc.serial + 1, op: 'resource', resource: resource('P/b', { fields: { pw: SECRET } }) })}\n`,
    );
    expect(() => readState(path)).toThrow(/fields\.pw: must be a field digest/);
  });
});

import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { JournalWriter, parseJournal, readState, readStateFile, StateError, StateStore, writeStateAtomic, emptyState, type StateChange } from '../../src/state/index.js';

let dir: string;
let path: string;
let jpath: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'opsync-journal-'));
  path = join(dir, 'state.json');
  jpath = `${path}.journal`;
});

const resource = (address: string, version = 1) => ({
  address,
  vaultId: 'v'.repeat(26),
  vaultName: 'Private',
  itemId: 'i'.repeat(26),
  title: address,
  category: 'LOGIN',
  version,
  digest: 'hmac-sha256:00',
  updatedAt: '2026-01-01T00:00:00.000Z',
});
const pending = (address: string) => ({ address, vaultId: 'v'.repeat(26), vaultName: 'Private', title: address, startedAt: '2026-01-01T00:00:00.000Z' });
const open = (compact?: { changes?: number; ms?: number }) => StateStore.open(path, { lockTimeoutMs: 0, command: 'test', ...(compact ? { compact } : {}) });

/** What a kill -9 leaves: the journal as written so far, no compaction, the lock abandoned. */
function crash(store: StateStore): void {
  Object.defineProperty(store, 'closed', { value: true });
  (store as unknown as { lock: { release(): void } }).lock.release();
}

describe('state journal', () => {
  it('journals each change as one line (0600, no values), and is replayed by the next open and by readState', async () => {
    const store = await open();
    await store.change({ op: 'pending', pending: pending('P/a') });
    await store.change({ op: 'resource', resource: resource('P/a') });
    await store.change({ op: 'pending', pending: pending('P/b') }, { op: 'settle', address: 'P/b' });
    await store.change({ op: 'vault', id: 'v'.repeat(26), vault: { name: 'Private', contentVersion: 3 } });
    expect(store.state.serial).toBe(5);
    expect(existsSync(path)).toBe(false); // nothing compacted yet: a change costs one line
    const lines = readFileSync(jpath, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    expect(JSON.parse(lines[0])).toEqual({ opsyncJournal: 1, lineage: store.state.lineage, base: 0 });
    expect(JSON.parse(lines[2])).toMatchObject({ serial: 2, op: 'resource', resource: { address: 'P/a' } });
    expect(statSync(jpath).mode & 0o777).toBe(0o600);
    const lineage = store.state.lineage;
    crash(store);

    // A reader without the lock sees the crashed run's work.
    const seen = readState(path);
    expect(seen).toMatchObject({ lineage, serial: 5, pending: {}, vaults: { ['v'.repeat(26)]: { contentVersion: 3 } } });
    expect(Object.keys(seen.resources)).toEqual(['P/a']);

    // The next store replays and compacts it at once.
    const again = await open();
    expect(again.stats.replayed).toBe(5);
    expect(existsSync(jpath)).toBe(false);
    expect(readStateFile(path)).toEqual(seen);
    again.close();
  });

  it('ignores a torn last line, and refuses damage elsewhere, another lineage and a gap', async () => {
    const store = await open();
    await store.change({ op: 'resource', resource: resource('P/a') });
    await store.change({ op: 'resource', resource: resource('P/b') });
    crash(store);
    const good = readFileSync(jpath, 'utf8');
    appendFileSync(jpath, '{"serial":3,"op":"resource","resource":{"address":"P/c"'); // cut short by the crash
    expect(parseJournal(readFileSync(jpath, 'utf8')).torn).toBe(true);
    expect(Object.keys(readState(path).resources)).toEqual(['P/a', 'P/b']);

    // A torn header: nothing to replay.
    writeFileSync(jpath, '{"opsyncJournal":1,"lin');
    expect(readState(path).serial).toBe(0);

    // A damaged line that is not the last is refused, not skipped.
    const [header, l1, l2] = good.trimEnd().split('\n');
    writeFileSync(jpath, `${header}\n${l1}\ngarbage\n${l2}\n`);
    expect(() => readState(path)).toThrow(/line 3: not valid JSON .*remove the journal/);
    // A value riding along is refused as in the state file.
    writeFileSync(jpath, `${header}\n${JSON.stringify({ serial: 1, op: 'resource', resource: { ...resource('P/a'), value: 'x' } })}\n`);
    expect(() => readState(path)).toThrow(/value: unknown property/);
    writeFileSync(jpath, `${header}\n${JSON.stringify({ serial: 1, op: 'forget', address: 'P/a', value: 'x' })}\n`);
    expect(() => readState(path)).toThrow(/value: unknown property/);

    // Another lineage, over a state file that exists.
    writeStateAtomic(path, { ...emptyState(), serial: 1 });
    writeFileSync(jpath, good);
    expect(() => readState(path)).toThrow(StateError);
    expect(() => readState(path)).toThrow(/belongs to another state/);
    // A gap: the journal goes on from a later state than the file's.
    const lineage = JSON.parse(header).lineage as string;
    writeStateAtomic(path, { ...emptyState(), lineage, serial: 0 });
    writeFileSync(jpath, `${header}\n${l2}\n`);
    expect(() => readState(path)).toThrow(/goes on from serial 1 but the state file is at serial 0/);
  });

  it('skips what the state file already has: a crash between a compaction and the truncation replays cleanly', async () => {
    const store = await open();
    for (let i = 0; i < 5; i++) await store.change({ op: 'resource', resource: resource(`P/${i}`) });
    const journal = readFileSync(jpath, 'utf8');
    store.compact(); // state file at serial 5, journal emptied
    expect(readStateFile(path).serial).toBe(5);
    expect(readFileSync(jpath, 'utf8')).toBe('');
    await store.change({ op: 'forget', address: 'P/0' });
    expect(readFileSync(jpath, 'utf8').split('\n')[0]).toContain('"base":5');
    crash(store);
    // As if the truncation had not happened: the old lines (serials 1-5) are already in the file.
    writeFileSync(jpath, journal);
    expect(readState(path).serial).toBe(5);
    const again = await open();
    expect(again.stats.replayed).toBe(0);
    expect(Object.keys(again.state.resources)).toHaveLength(5);
    again.close();
  });

  it('compacts every N changes and on close, and keeps the serial counting changes', async () => {
    const store = await open({ changes: 10 });
    for (let i = 0; i < 25; i++) await store.change({ op: 'resource', resource: resource(`P/${i}`) });
    expect(store.state.serial).toBe(25);
    expect(readStateFile(path).serial).toBeGreaterThanOrEqual(20); // compacted twice on the way
    expect(store.stats.stateWrites).toBe(2);
    // A one-off update writes the whole state and empties the journal.
    store.update((s) => {
      s.connect = 'local';
    });
    expect(readStateFile(path)).toMatchObject({ serial: 26, connect: 'local' });
    expect(readFileSync(jpath, 'utf8')).toBe('');
    await store.change({ op: 'forget', address: 'P/0' });
    store.close();
    expect(existsSync(jpath)).toBe(false);
    const s = readStateFile(path);
    expect(s.serial).toBe(27);
    expect(Object.keys(s.resources)).toHaveLength(24);
    expect(readdirSync(dir).sort()).toEqual(['state.json']);
  });

  it('group commit: 1,000 concurrent changes cost a handful of fsyncs, each durable when it resolves', async () => {
    const store = await open();
    const changes: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) changes.push(store.change({ op: 'pending', pending: pending(`P/${i}`) }));
    // More arrive while the first batch is being synced.
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 1000; i++) changes.push(store.change({ op: 'resource', resource: resource(`P/${i}`) }));
    await Promise.all(changes);
    expect(store.stats.lines).toBe(2000);
    expect(store.stats.fsyncs).toBeLessThanOrEqual(5);
    expect(store.stats.fsyncs).toBeGreaterThanOrEqual(1);
    const parsed = parseJournal(readFileSync(jpath, 'utf8'));
    expect(parsed.entries).toHaveLength(2000);
    expect(parsed.entries.map((e) => e.serial)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    crash(store);
    const s = readState(path);
    expect(Object.keys(s.resources)).toHaveLength(1000);
    expect(s.pending).toEqual({});
  });

  it('N workers each waiting for their own change share fsyncs', async () => {
    const store = await open();
    const worker = async (w: number) => {
      for (let i = 0; i < 50; i++) await store.change({ op: 'resource', resource: resource(`P/${w}-${i}`) } as StateChange);
    };
    await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
    expect(store.stats.lines).toBe(800);
    expect(store.stats.fsyncs).toBeLessThan(800 / 4);
    store.close();
    expect(Object.keys(readStateFile(path).resources)).toHaveLength(800);
  });

  it('lazy changes (note) wait to share one fsync; a change, a sync or a flush commits them at once', async () => {
    const store = await open();
    const notes = Array.from({ length: 100 }, (_, i) => store.note({ op: 'resource', resource: resource(`P/${i}`) }));
    // Applied in memory at once, on disk only after the commit delay.
    expect(Object.keys(store.state.resources)).toHaveLength(100);
    await new Promise((r) => setImmediate(r));
    expect(store.stats.fsyncs).toBe(0);
    await Promise.all(notes);
    expect(store.stats.fsyncs).toBe(1);
    // An urgent change takes every lazy one queued before it along, without waiting for the delay.
    const t0 = Date.now();
    const lazy = store.note({ op: 'forget', address: 'P/0' });
    await store.change({ op: 'forget', address: 'P/1' });
    await lazy;
    expect(store.stats.fsyncs).toBe(2);
    expect(Date.now() - t0).toBeLessThan(15); // the delay is 20 ms; well under it means no wait
    // flush() too.
    const late = store.note({ op: 'forget', address: 'P/2' });
    await store.flush();
    await late;
    expect(store.stats.fsyncs).toBe(3);
    crash(store);
    expect(Object.keys(readState(path).resources)).toHaveLength(97);
  });

  it('compacts in proportion to the state: after twice as many changes as it has resources (at least the count set)', async () => {
    const store = await StateStore.open(path, { lockTimeoutMs: 0, command: 'test', compact: { changes: 10, scaled: true } });
    for (let i = 0; i < 70; i++) await store.change({ op: 'resource', resource: resource(`P/${i}`) });
    // At 10 changes (10 resources), then after 20 more (30), then 60 more (not yet): never more often than twice the state's size.
    expect(store.stats.stateWrites).toBe(2);
    store.close();
    expect(store.stats.stateWrites).toBe(3);
    expect(Object.keys(readStateFile(path).resources)).toHaveLength(70);
  });

  it('a failed journal write rejects the change and every later one, and the state on disk stays whole', async () => {
    const store = await open();
    await store.change({ op: 'resource', resource: resource('P/a') });
    // Make the journal unwritable under the writer: its descriptor closes.
    const writer = (store as unknown as { writer: JournalWriter }).writer;
    const fd = (writer as unknown as { fd: number }).fd;
    (await import('node:fs')).closeSync(fd);
    await expect(store.change({ op: 'resource', resource: resource('P/b') })).rejects.toThrow(/cannot write the state journal/);
    await expect(store.change({ op: 'resource', resource: resource('P/c') })).rejects.toThrow(StateError);
    Object.defineProperty(writer, 'fd', { value: undefined, writable: true });
    store.close();
    expect(Object.keys(readStateFile(path).resources).length).toBeGreaterThanOrEqual(1);
  });
});

// Pending records declared ahead of their creates (src/apply/pending.ts), on a real local state store.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PendingAhead } from '../../src/apply/pending.js';
import type { ResourceChange } from '../../src/plan/types.js';
import { readState, StateStore } from '../../src/state/index.js';

let store: StateStore;
let path: string;
beforeEach(async () => {
  path = join(mkdtempSync(join(tmpdir(), 'opsync-pending-')), 'state.json');
  store = await StateStore.open(path, { lockTimeoutMs: 0, command: 'test' });
});
afterEach(() => store.close());

const create = (i: number) =>
  ({ address: `P/i${i}`, action: 'create', vault: { name: 'P', id: 'v'.repeat(26) }, desired: { title: `item ${i}` } }) as unknown as ResourceChange;

describe('pending records declared ahead', () => {
  it('declares the next creates with the first, one fsync for a window, refilled when half is used', async () => {
    const line = Array.from({ length: 100 }, (_, i) => create(i));
    const ahead = new PendingAhead(store, line, 8);
    await ahead.declare(line[0], 'item 0');
    // Its own record and the next 7 (the window), durable together.
    expect(Object.keys(store.state.pending).sort()).toEqual(line.slice(0, 8).map((c) => c.address).sort());
    expect(store.stats.fsyncs).toBe(1);
    ahead.sent(line[0]);
    for (let i = 1; i <= 3; i++) {
      await ahead.declare(line[i], `item ${i}`);
      ahead.sent(line[i]);
    }
    expect(store.stats.fsyncs).toBe(1); // already durable: nothing waited for
    await ahead.declare(line[4], 'item 4'); // half the window left: the next batch, while 4 is already durable
    expect(store.stats.fsyncs).toBe(1);
    expect(Object.keys(store.state.pending)).toHaveLength(12);
    await store.flush();
    expect(store.stats.fsyncs).toBe(2);
  });

  it('a record is durable before its create is sent, even one declared out of line', async () => {
    const line = Array.from({ length: 20 }, (_, i) => create(i));
    const ahead = new PendingAhead(store, line, 4);
    await ahead.declare(line[10], 'item 10');
    expect(store.state.pending['P/i10']).toBeDefined();
    // What a kill -9 now would leave on disk: the record is there.
    expect(readState(path).pending['P/i10']).toMatchObject({ title: 'item 10', vaultName: 'P' });
    // A create outside the line (or a replace's, with its own title) is declared alone.
    const other = create(99);
    await ahead.declare(other, 'item 99');
    expect(readState(path).pending['P/i99']).toBeDefined();
  });

  it('settles the records of creates never sent, and leaves the sent ones to their results', async () => {
    const line = Array.from({ length: 10 }, (_, i) => create(i));
    const ahead = new PendingAhead(store, line, 6);
    await ahead.declare(line[0], 'item 0');
    ahead.sent(line[0]);
    await ahead.declare(line[1], 'item 1');
    ahead.sent(line[1]);
    expect(Object.keys(store.state.pending)).toHaveLength(6);
    await ahead.settleUnsent();
    expect(Object.keys(store.state.pending).sort()).toEqual(['P/i0', 'P/i1']);
    expect(Object.keys(readState(path).pending).sort()).toEqual(['P/i0', 'P/i1']);
  });

  it('declares again a record declared too long ago (a slowly paced apply), so recovery still knows its create', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2026-12-01T10:00:00Z'));
      const line = Array.from({ length: 10 }, (_, i) => create(i));
      const ahead = new PendingAhead(store, line, 8);
      await ahead.declare(line[0], 'item 0');
      ahead.sent(line[0]);
      expect(store.state.pending['P/i1'].startedAt).toBe('2026-12-01T10:00:00.000Z');
      vi.setSystemTime(new Date('2026-12-01T10:05:00Z'));
      await ahead.declare(line[1], 'item 1');
      expect(readState(path).pending['P/i1'].startedAt).toBe('2026-12-01T10:05:00.000Z');
    } finally {
      vi.useRealTimers();
    }
  });

  it("leaves a crashed run's record alone until its create's turn, so a create this run never sends keeps it", async () => {
    const old = { address: 'P/i3', vaultId: 'v'.repeat(26), vaultName: 'P', title: 'item 3', startedAt: '2026-12-01T09:00:00.000Z' };
    await store.change({ op: 'pending', pending: old });
    const line = Array.from({ length: 10 }, (_, i) => create(i));
    const ahead = new PendingAhead(store, line, 8);
    await ahead.declare(line[0], 'item 0');
    ahead.sent(line[0]);
    expect(store.state.pending['P/i3']).toEqual(old); // not declared ahead over it
    await ahead.settleUnsent(); // the run ends before i3's turn
    expect(readState(path).pending['P/i3']).toEqual(old);
    expect(Object.keys(readState(path).pending).sort()).toEqual(['P/i0', 'P/i3']);
  });
});

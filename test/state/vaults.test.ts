import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyState, readState, writeStateAtomic } from '../../src/state/index.js';

describe('state vaults field', () => {
  it('is optional, round-trips, survives the v0 migration and is checked strictly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsync-vaults-'));
    const path = join(dir, 'state.json');
    const s = emptyState();
    expect(s.vaults).toBeUndefined();
    writeStateAtomic(path, s);
    expect(readState(path).vaults).toBeUndefined();
    s.vaults = { ['v'.repeat(26)]: { name: 'Private', contentVersion: 7 } };
    writeStateAtomic(path, s);
    expect(readState(path)).toEqual(s);

    mkdirSync(join(dir, 'x'));
    writeFileSync(path, JSON.stringify({ lineage: 'l', serial: 3, items: {}, vaults: { a: { name: 'A', contentVersion: 1 } } }));
    expect(readState(path).vaults).toEqual({ a: { name: 'A', contentVersion: 1 } });

    writeFileSync(path, JSON.stringify({ ...emptyState(), vaults: { a: { name: 'A', contentVersion: 1, secret: 'x' } } }));
    expect(() => readState(path)).toThrow(/vaults\["a"\]\.secret: unknown property/);
    writeFileSync(path, JSON.stringify({ ...emptyState(), vaults: { a: { name: 'A', contentVersion: -1 } } }));
    expect(() => readState(path)).toThrow(/contentVersion: must be a whole number/);
    writeFileSync(path, JSON.stringify({ ...emptyState(), vaults: [] }));
    expect(() => readState(path)).toThrow(/vaults: must be an object/);
  });
});

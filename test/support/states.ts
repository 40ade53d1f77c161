// State documents and holders for the state backends' tests (contract, http, postgres): one sample with
// something in every section, so a backend that drops or reorders a part is caught.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { emptyState } from '../../src/state/file.js';
import type { LockHolder } from '../../src/state/backend.js';
import type { StateFile } from '../../src/state/types.js';

const DIGEST = (n: number) => `hmac-sha256:00ab:${n.toString(16).padStart(64, '0')}`;

/** A state with something in every section, so a backend that drops or reorders a part is caught. */
export function sampleState(lineage: string = randomUUID(), serial = 1): StateFile {
  const s = emptyState();
  s.lineage = lineage;
  s.serial = serial;
  s.connect = 'https://connect.example';
  s.resources['Private/db'] = {
    address: 'Private/db',
    vaultId: 'v'.repeat(26),
    vaultName: 'Private',
    itemId: 'i'.repeat(26),
    title: 'db',
    category: 'LOGIN',
    version: 3,
    digest: DIGEST(1),
    fields: { password: DIGEST(2), username: DIGEST(3) },
    rotations: { password: '2026-01' },
    protect: true,
    retired: [{ itemId: 'r'.repeat(26), vaultId: 'v'.repeat(26) }],
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
  const { protect: _p, retired: _r, ...plain } = s.resources['Private/db'];
  s.resources['Private/api'] = { ...structuredClone(plain), address: 'Private/api', title: 'api' };
  s.pending['Private/new'] = { address: 'Private/new', vaultId: 'v'.repeat(26), vaultName: 'Private', title: 'new', startedAt: '2026-01-02T00:00:00.000Z' };
  s.vaults = { ['v'.repeat(26)]: { name: 'Private', contentVersion: 7 } };
  return s;
}

export const next = (s: StateFile, serial = s.serial + 1): StateFile => ({ ...structuredClone(s), serial });

/** A holder of this host and process, with `who` in its user and command. */
export function holderInfo(who: string, over: Partial<Omit<LockHolder, 'id'>> = {}): Omit<LockHolder, 'id'> {
  return { who: `${who}@${hostname()}`, host: hostname(), pid: process.pid, command: `opsync test ${who}`, created: new Date().toISOString(), ...over };
}

/** The error `p` rejects with; fails when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('it succeeded; it should have been refused');
}

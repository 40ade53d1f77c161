// Every state backend against the one contract (test/state/contract.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend } from '../../src/state/backends/local.js';
import { backendContract } from './contract.js';

backendContract('local', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-contract-'));
  const path = join(dir, '.opsync/state.json');
  return { backend: () => new LocalBackend(path), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

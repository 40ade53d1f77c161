// The rule every backend's write holds to (Terraform's, for `state push`): the same lineage, and a serial
// above the stored one. Backends that store elsewhere check it where they can do so atomically (the opsync
// server, PostgreSQL); the others before they write.

import { StateConflictError } from '../backend.js';
import type { StateFile } from '../types.js';

/** Throws StateConflictError when `next` may not replace `stored`. */
export function checkWrite(stored: Pick<StateFile, 'lineage' | 'serial'> | undefined, next: Pick<StateFile, 'lineage' | 'serial'>, name: string): void {
  if (!stored) return;
  if (stored.lineage !== next.lineage) {
    throw new StateConflictError(
      `state ${name} has lineage ${stored.lineage}, not ${next.lineage}: it is another state; nothing was written (--force replaces it)`,
    );
  }
  if (next.serial <= stored.serial) {
    throw new StateConflictError(
      `state ${name} is at serial ${stored.serial}; serial ${next.serial} is not newer: nothing was written (--force replaces it)`,
    );
  }
}

// `opsync export`: live items of a vault -> manifests (secrets as {env: NAME}), the variable mapping, and
// optionally state entries so that the exported items are managed at once.

import type { ConnectionFlags } from '../session.js';
import type { IO } from './common.js';

export interface ExportFlags extends ConnectionFlags {
  /** State file path (already resolved from flag / env / opsync.yaml). */
  state: string;
  /** Vault name or id. */
  vault: string;
  /** Folder the manifest is written to. */
  out: string;
  /** A Connect item filter, e.g. `title sw "db"` or `tag eq "prod"`. */
  filter?: string;
  /** Write NAME=value lines (real values) to this file, mode 0600. */
  valuesFile?: string;
  /** Write state entries for the exported items. */
  import?: boolean;
  lockTimeoutMs: number;
}

export async function exportCommand(_flags: ExportFlags, _io: IO): Promise<number> {
  throw new Error('not implemented yet');
}

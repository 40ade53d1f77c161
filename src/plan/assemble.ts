// The Plan document around a run's changes: what every kind of plan (makePlan, refresh-only) says of itself,
// in one place so that the formats' header fields never drift apart.

import { relative } from 'node:path';
import { VERSION } from '../version.js';
import { PLAN_FORMAT_VERSION, summarise, type Plan, type PlanDiagnostic, type ResourceChange } from './types.js';

export interface PlanParts {
  connectHost: string;
  state: { lineage: string; serial: number };
  manifestFiles: readonly string[];
  targets: Plan['targets'];
  rotate: Plan['rotate'];
  replace: Plan['replace'];
  mode: Plan['mode'];
  changes: ResourceChange[];
  diagnostics: PlanDiagnostic[];
}

export function assemblePlan(p: PlanParts): Plan {
  return {
    formatVersion: PLAN_FORMAT_VERSION,
    opsyncVersion: VERSION,
    createdAt: new Date().toISOString(),
    connectHost: p.connectHost,
    state: { lineage: p.state.lineage, serial: p.state.serial },
    // Relative, so a plan saved in one checkout applies in another.
    manifests: p.manifestFiles.map((f) => relative(process.cwd(), f) || f),
    targets: p.targets,
    rotate: p.rotate,
    replace: p.replace,
    mode: p.mode,
    changes: p.changes,
    diagnostics: p.diagnostics,
    summary: summarise(p.changes),
  };
}

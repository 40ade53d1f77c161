// What the stages of a plan share: the live view, the state as `moved` blocks renamed it, the manifests'
// resources by address, and one place to report errors. Built once per plan by makePlan (build.ts).

import type { ConnectClient } from '../connect/client.js';
import type { DesiredItem, RotationPolicy } from '../manifest/types.js';
import type { StateFile, StateResource } from '../state/types.js';
import type { LiveView } from './refresh.js';
import type { Resolver } from './resolve.js';
import type { DependencyGraph } from './graph.js';
import type { PlanDiagnostic, ResourceChange } from './types.js';

export interface PlanScope {
  client: ConnectClient;
  /** Digest key (see digest.ts). */
  key: Buffer;
  live: LiveView;
  resolver: Resolver;
  /** The state as read (its pending creates). */
  state: StateFile;
  /** The state's resources by address, after `moved` blocks. */
  resources: Record<string, StateResource>;
  /** New address -> the address a `moved` block renamed it from. */
  movedFrom: ReadonlyMap<string, string>;
  /** Every manifest resource by address (targets or not). */
  desiredByAddress: ReadonlyMap<string, DesiredItem>;
  /** Addresses `removed:` blocks name: forgotten, not deleted, when they leave the manifests (forget.ts). */
  removed?: ReadonlySet<string>;
  /** Managed item id -> its address. */
  managedIds: ReadonlyMap<string, string>;
  rotate: readonly string[];
  /**
   * Rotation policies (src/plan/rotation.ts): the plan's time, the manifests' policies by address and field key,
   * and whether due rotations are planned (false: --no-rotate-due, each left out is listed in `skipped`).
   */
  rotation?: { now: Date; policies: Readonly<Record<string, Readonly<Record<string, RotationPolicy>>>>; include: boolean; skipped: string[] };
  /** --replace: addresses to replace (create-before-destroy) although nothing requires it (src/plan/replace.ts). */
  replace: readonly string[];
  mode: 'normal' | 'destroy';
  /** `ref:` edges between the resources planned. */
  graph: DependencyGraph;
  /** Address -> its planned change (undefined when it has errors), for dependents to wait on. */
  planned: Map<string, Promise<ResourceChange | undefined>>;
  /** Address -> its resolved values (in memory only, never in the Plan), for dependents that copy one. */
  resolved: Map<string, ReadonlyMap<string, string>>;
  error(message: string, address?: string, pos?: PlanDiagnostic['pos']): void;
}

/** Categories real Connect can hold and return but refuses to create (CHANGELOG v1.2.0, v1.7.0). */
export const UNCREATABLE_CATEGORIES: ReadonlySet<string> = new Set(['CUSTOM', 'DOCUMENT']);

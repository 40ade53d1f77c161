// What the stages of a plan share: the live view, the state as `moved` blocks renamed it, the manifests'
// resources by address, and one place to report errors. Built once per plan by makePlan (build.ts).

import type { ConnectClient } from '../connect/client.js';
import type { DesiredItem } from '../manifest/types.js';
import type { StateFile, StateResource } from '../state/types.js';
import type { LiveView } from './refresh.js';
import type { Resolver } from './resolve.js';
import type { PlanDiagnostic } from './types.js';

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
  /** Managed item id -> its address. */
  managedIds: ReadonlyMap<string, string>;
  rotate: readonly string[];
  mode: 'normal' | 'destroy';
  error(message: string, address?: string, pos?: PlanDiagnostic['pos']): void;
}

/** Categories real Connect can hold and return but refuses to create (CHANGELOG v1.2.0, v1.7.0). */
export const UNCREATABLE_CATEGORIES: ReadonlySet<string> = new Set(['CUSTOM', 'DOCUMENT']);

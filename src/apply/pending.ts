// Pending records of creates, declared ahead of their requests. A create's pending record must be durable
// before its request is sent (a crash then leaves a record the next plan follows up, never an unknown item).
// Waiting for that fsync on every create puts the disk on each request's path; so when a create starts, the
// records of the next creates in line are journaled with it, under the same group commit, and by the time
// their turn comes they are already durable. A record declared for a create that is never sent (its values
// failed their check, a dependency failed, the run was interrupted) is settled at the end of the apply. After
// a crash, such a record means what any pending record means: the next plan looks for the item, finds none
// (after waiting out a lagging listing) and plans the create again.

import { RECOVERY_WINDOW_MS } from '../plan/recovery.js';
import type { ResourceChange } from '../plan/types.js';
import type { StateHandle } from '../state/handle.js';
import type { PendingCreate } from '../state/types.js';

/** The pending record of a plain create (a replace's create says what it replaces, and is declared on its own). */
export function pendingRecord(change: ResourceChange, title: string, replaces?: PendingCreate['replaces']): PendingCreate {
  return {
    address: change.address,
    vaultId: change.vault.id!,
    vaultName: change.vault.name,
    title,
    startedAt: new Date().toISOString(),
    ...(replaces ? { replaces } : {}),
  };
}

/** A record declared ahead is used as it is for this long; after it, declared again. Well inside RECOVERY_WINDOW_MS. */
const MAX_AGE_MS = Math.min(60_000, RECOVERY_WINDOW_MS / 10);

export class PendingAhead {
  /** Position in line of each create that may be declared ahead. */
  private readonly index = new Map<string, number>();
  /** Durability of each record declared whose create has not been sent. */
  private readonly declared = new Map<string, Promise<void>>();
  /** Every create in line before this position has been declared. */
  private next = 0;

  /**
   * `line`: the creates in the order the scheduler starts them (plain creates with no dependency, in turns across vaults);
   * `window`: how many records are declared ahead of the one starting (refilled when half are used).
   */
  constructor(
    private readonly store: StateHandle,
    private readonly line: readonly ResourceChange[],
    private readonly window: number,
  ) {
    line.forEach((c, i) => this.index.set(c.address, i));
  }

  /**
   * Resolves once the pending record of this create (whose body has `title`) is durable: declared now, with the
   * next ones in line, unless it already was. The caller sends the create next, and calls `sent()` first.
   */
  declare(change: ResourceChange, title: string, replaces?: PendingCreate['replaces']): Promise<void> {
    const at = this.index.get(change.address);
    if (at === undefined || replaces !== undefined || title !== change.desired?.title) return this.declareOwn(change, title, replaces);
    // Out of line (started before its turn), or half the window used: declare a window's worth from it on.
    if (at >= this.next || this.next - at <= this.window / 2) this.fill(at + this.window - 1);
    const declared = this.declared.get(change.address);
    // Recovery adopts an item created within RECOVERY_WINDOW_MS of its record's startedAt: a record declared
    // long ago (a slowly paced apply) is declared again, fresh, before its create goes out.
    const startedAt = this.store.state.pending[change.address]?.startedAt;
    if (declared && startedAt && Date.now() - Date.parse(startedAt) < MAX_AGE_MS) return declared;
    return this.declareOwn(change, title);
  }

  /** This create's record alone, now. */
  private declareOwn(change: ResourceChange, title: string, replaces?: PendingCreate['replaces']): Promise<void> {
    const done = this.store.change({ op: 'pending', pending: pendingRecord(change, title, replaces) });
    this.declared.set(change.address, done);
    return done;
  }

  /** The create's request goes out now: its record is settled by its result (or by the create's own failure). */
  sent(change: ResourceChange): void {
    this.declared.delete(change.address);
  }

  /** Settle every record declared for a create that was never sent: nothing was created for them. */
  async settleUnsent(): Promise<void> {
    const unsent = [...this.declared.keys()].filter((a) => this.store.state.pending[a]);
    this.declared.clear();
    if (unsent.length > 0) await this.store.change(...unsent.map((address) => ({ op: 'settle' as const, address })));
  }

  /**
   * Declare the creates in line from `next` through `last`, under one group commit. One with a pending record
   * already (a crashed run's, which the plan followed up) is left to its own turn: if this run never sends it,
   * that record must stay, for the next plan to look for what the crashed run may have made.
   */
  private fill(last: number): void {
    const end = Math.min(last, this.line.length - 1);
    const records = this.line.slice(this.next, end + 1).filter((c) => !this.store.state.pending[c.address]);
    this.next = Math.max(this.next, end + 1);
    if (records.length === 0) return;
    const done = this.store.change(...records.map((c) => ({ op: 'pending' as const, pending: pendingRecord(c, c.desired!.title) })));
    for (const c of records) this.declared.set(c.address, done);
  }
}

// Writes to one vault, paced by how Connect answers them. Real Connect locks a vault's version for each write and
// answers 409 Conflict to writes that overlap; so the writes to each vault get their own limit, halved on a 409
// and grown back by one after as many successes as the limit (AIMD, as TCP does), between 1 and the client's
// overall concurrency (which still bounds all requests together).

interface VaultLane {
  limit: number;
  active: number;
  successes: number;
  waiting: (() => void)[];
}

export type WriteOutcome = 'ok' | 'conflict' | 'other';

export class VaultGate {
  private readonly lanes = new Map<string, VaultLane>();

  constructor(private readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`vault gate limit must be a positive integer, got ${max}`);
  }

  /** The current write limit of a vault (max until it has seen a conflict). */
  limitOf(vault: string): number {
    return this.lanes.get(vault)?.limit ?? this.max;
  }

  private lane(vault: string): VaultLane {
    let l = this.lanes.get(vault);
    if (!l) this.lanes.set(vault, (l = { limit: this.max, active: 0, successes: 0, waiting: [] }));
    return l;
  }

  async acquire(vault: string): Promise<void> {
    const l = this.lane(vault);
    if (l.active < l.limit) {
      l.active++;
      return;
    }
    await new Promise<void>((resolve) => l.waiting.push(resolve));
  }

  release(vault: string, outcome: WriteOutcome): void {
    const l = this.lane(vault);
    l.active--;
    if (outcome === 'conflict') {
      l.limit = Math.max(1, Math.floor(l.limit / 2));
      l.successes = 0;
    } else if (outcome === 'ok' && l.limit < this.max && ++l.successes >= l.limit) {
      l.limit++;
      l.successes = 0;
    }
    while (l.active < l.limit && l.waiting.length > 0) {
      l.active++;
      l.waiting.shift()!();
    }
  }

  async run<T>(vault: string, fn: () => Promise<T>, outcomeOf: (value: T) => WriteOutcome): Promise<T> {
    await this.acquire(vault);
    let outcome: WriteOutcome = 'other';
    try {
      const value = await fn();
      outcome = outcomeOf(value);
      return value;
    } finally {
      this.release(vault, outcome);
    }
  }
}

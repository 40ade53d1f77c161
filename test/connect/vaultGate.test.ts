import { describe, expect, it } from 'vitest';
import { VaultGate } from '../../src/connect/vaultGate.js';

describe('VaultGate', () => {
  it('halves a vault\'s limit on a conflict, grows it back by one per limit successes, and keeps vaults apart', async () => {
    const gate = new VaultGate(8);
    await gate.acquire('a');
    gate.release('a', 'conflict');
    expect(gate.limitOf('a')).toBe(4);
    expect(gate.limitOf('b')).toBe(8);
    for (const _ of [1, 2, 3]) {
      await gate.acquire('a');
      gate.release('a', 'conflict');
    }
    expect(gate.limitOf('a')).toBe(1);
    await gate.acquire('a');
    gate.release('a', 'ok');
    expect(gate.limitOf('a')).toBe(2);
    for (const _ of [1, 2]) {
      await gate.acquire('a');
      gate.release('a', 'ok');
    }
    expect(gate.limitOf('a')).toBe(3);
    await gate.acquire('a');
    gate.release('a', 'other');
    expect(gate.limitOf('a')).toBe(3);
  });

  it('never lets more than the limit in at once, and lets the waiting in as the limit grows', async () => {
    const gate = new VaultGate(4);
    await gate.acquire('v');
    gate.release('v', 'conflict'); // limit 2
    let active = 0;
    let most = 0;
    const job = () =>
      gate.run(
        'v',
        async () => {
          most = Math.max(most, ++active);
          await new Promise((r) => setTimeout(r, 5));
          active--;
          return 'ok' as const;
        },
        (o) => o,
      );
    await Promise.all(Array.from({ length: 10 }, job));
    expect(most).toBeLessThanOrEqual(4);
    expect(most).toBeGreaterThanOrEqual(2);
    expect(gate.limitOf('v')).toBe(4);
  });
});

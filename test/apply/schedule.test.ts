// Graph order: each task after those it depends on, at most `parallelism` at once; a failed dependency skips.
import { describe, expect, it } from 'vitest';
import { interleave, runInGraphOrder, type GraphTask } from '../../src/apply/schedule.js';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('runInGraphOrder', () => {
  it('runs a dependent after its dependency wherever it is listed, within the parallelism', async () => {
    const tasks: GraphTask[] = [
      { address: 'app', after: ['db'] },
      { address: 'db', after: [] },
      { address: 'x', after: [] },
      { address: 'y', after: ['app', 'elsewhere'] },
    ];
    const order: string[] = [];
    let active = 0;
    let most = 0;
    await runInGraphOrder(tasks, {
      parallelism: 2,
      run: async (t) => {
        active++;
        most = Math.max(most, active);
        await tick();
        order.push(t.address);
        active--;
      },
      skip: () => expect.unreachable(),
      failed: () => expect.unreachable(),
      stop: () => undefined,
    });
    expect(order.indexOf('db')).toBeLessThan(order.indexOf('app'));
    expect(order.indexOf('app')).toBeLessThan(order.indexOf('y'));
    expect(order).toHaveLength(4);
    expect(most).toBeLessThanOrEqual(2);
  });
  it('skips what depends on a failure, transitively, and stops starting on stop()', async () => {
    const skipped: [string, string][] = [];
    const failed: string[] = [];
    await runInGraphOrder(
      [
        { address: 'db', after: [] },
        { address: 'app', after: ['db'] },
        { address: 'web', after: ['app'] },
        { address: 'other', after: [] },
      ],
      {
        parallelism: 4,
        run: async (t) => {
          if (t.address === 'db') throw new Error('refused');
        },
        skip: (t, why) => skipped.push([t.address, why]),
        failed: (t) => failed.push(t.address),
        stop: () => undefined,
      },
    );
    expect(failed).toEqual(['db']);
    expect(skipped).toEqual([
      ['app', 'db failed'],
      ['web', 'app was not applied'],
    ]);
    const ran: string[] = [];
    let stopped = false;
    const reasons: string[] = [];
    await runInGraphOrder(
      [
        { address: 'a', after: [] },
        { address: 'b', after: ['a'] },
      ],
      { parallelism: 1, run: async (t) => void (ran.push(t.address), (stopped = true)), skip: (_t, why) => reasons.push(why), failed: () => undefined, stop: () => (stopped ? 'interrupted' : undefined) },
    );
    expect(ran).toEqual(['a']);
    expect(reasons).toEqual(['interrupted']);
  });
});

describe('interleave', () => {
  it('takes turns across lanes, keeping each lane\'s order and every task once', () => {
    const tasks = ['a1', 'a2', 'a3', 'b1', 'c1', 'c2'];
    expect(interleave(tasks, (t) => t[0])).toEqual(['a1', 'b1', 'c1', 'a2', 'c2', 'a3']);
    expect(interleave([], (t: string) => t)).toEqual([]);
    expect(interleave(['x', 'y'], () => 'one')).toEqual(['x', 'y']);
  });
});

// Running a plan's operations in graph order: each once every operation it depends on has succeeded, at most
// `parallelism` at a time, the ready ones in the order given. One whose dependency failed or was skipped is skipped.

import { Semaphore } from '../connect/semaphore.js';

export interface GraphTask {
  address: string;
  /** Addresses (among the tasks) this one runs after. Others are ignored: nothing of this run writes them. */
  after: readonly string[];
}

export type TaskOutcome = 'done' | 'failed' | 'skipped';

export interface GraphRun<T extends GraphTask> {
  parallelism: number;
  /** Runs one task; throws when it fails. */
  run(task: T): Promise<void>;
  /** Called instead of `run` when the task is not started: why (a dependency failed, or `stop()` said so). */
  skip(task: T, reason: string): void;
  /** Asked before each start: a reason to start nothing more (an interrupt), or undefined. */
  stop(): string | undefined;
  failed(task: T, err: unknown): void;
}

export async function runInGraphOrder<T extends GraphTask>(tasks: readonly T[], opts: GraphRun<T>): Promise<void> {
  const slots = new Semaphore(Math.max(1, opts.parallelism));
  const outcome = new Map<string, Promise<TaskOutcome>>();
  const inRun = new Set(tasks.map((t) => t.address));
  const one = async (task: T): Promise<TaskOutcome> => {
    for (const dep of task.after) {
      if (!inRun.has(dep) || dep === task.address) continue;
      const o = await outcome.get(dep)!;
      if (o !== 'done') {
        opts.skip(task, `${dep} ${o === 'failed' ? 'failed' : 'was not applied'}`);
        return 'skipped';
      }
    }
    await slots.acquire();
    try {
      const stop = opts.stop();
      if (stop) {
        opts.skip(task, stop);
        return 'skipped';
      }
      await opts.run(task);
      return 'done';
    } catch (err) {
      opts.failed(task, err);
      return 'failed';
    } finally {
      slots.release();
    }
  };
  // Registered before any awaits, so each task finds its dependencies' outcomes (the plan has no cycles; an
  // edge to a task later in the list is awaited all the same).
  const deferred = new Map<string, (o: TaskOutcome) => void>();
  for (const t of tasks) outcome.set(t.address, new Promise<TaskOutcome>((resolve) => deferred.set(t.address, resolve)));
  await Promise.all(tasks.map(async (t) => deferred.get(t.address)!(await one(t))));
}

/**
 * The tasks in turns across lanes: the first of each lane (in order of first appearance), then the second of
 * each, and so on; each lane's own order kept. For writes, a lane is a vault: Connect locks a vault for each
 * write and answers 409 to an overlapping one, so operations started together should go to different vaults,
 * not, in plan order, all to the first.
 */
export function interleave<T>(tasks: readonly T[], laneOf: (task: T) => string): T[] {
  const lanes = new Map<string, T[]>();
  for (const t of tasks) {
    const key = laneOf(t);
    let lane = lanes.get(key);
    if (!lane) lanes.set(key, (lane = []));
    lane.push(t);
  }
  const out: T[] = [];
  const all = [...lanes.values()];
  for (let i = 0; out.length < tasks.length; i++) for (const lane of all) if (i < lane.length) out.push(lane[i]);
  return out;
}

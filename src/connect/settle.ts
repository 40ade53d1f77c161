// Real Connect's reads lag its writes: right after a write a GET can 404 or show the older version, and a list or
// title filter can miss a new item, for up to a few seconds. `settle` reads again, with backoff, until what it
// reads is what a write said it would be, or the tries run out; the caller decides what an unsettled read means.
// The default (10 tries, 50 ms doubling to 500 ms, ~3.5 s in all) is what 1Password's Terraform provider waits.

import { setTimeout as sleep } from 'node:timers/promises';

export interface SettlePolicy {
  tries: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_SETTLE: SettlePolicy = { tries: 10, baseMs: 50, maxMs: 500 };

/** Reads until `done(value)`, at most `policy.tries` times; returns the last value read. */
export async function settle<T>(read: () => Promise<T>, done: (value: T) => boolean, policy: SettlePolicy = DEFAULT_SETTLE): Promise<T> {
  let value = await read();
  for (let i = 1; i < policy.tries && !done(value); i++) {
    await sleep(Math.min(policy.maxMs, policy.baseMs * 2 ** (i - 1)));
    value = await read();
  }
  return value;
}

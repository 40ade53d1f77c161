// Ids as real 1Password Connect gives them: 26 lowercase alphanumerics (1Password's SDKs test `^[a-z0-9]{26}$`
// to tell an id from a title). Drawn from a CSPRNG without modulo bias: random bytes below 252 (7 x 36) taken
// mod 36, the others skipped. The bytes come from a pool refilled 4 KiB at a time, not one crypto.randomInt per
// character: an item of 1,000 fields without ids took 26,000 randomInt calls (~35 ms of event loop).
import { randomFillSync } from 'node:crypto';
import { CONNECT_ID } from '../connect/types.js';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const LENGTH = 26;
/** The largest multiple of the alphabet's size not above 256: bytes from it up are skipped. */
const UNBIASED = 256 - (256 % ALPHABET.length);

const pool = Buffer.alloc(4096);
let next = pool.length;

function randomByte(): number {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  return pool[next++];
}

/** A fresh id: 26 characters from [a-z0-9], each uniformly random (~134 bits). */
export function newId(): string {
  let id = '';
  while (id.length < LENGTH) {
    const b = randomByte();
    if (b < UNBIASED) id += ALPHABET[b % ALPHABET.length];
  }
  return id;
}

/** True when `s` has the shape of a Connect id. */
export function isId(s: string): boolean {
  return typeof s === 'string' && CONNECT_ID.test(s);
}

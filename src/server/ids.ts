// Ids as real 1Password Connect gives them: 26 lowercase alphanumerics (1Password's SDKs test `^[a-z0-9]{26}$`
// to tell an id from a title). Drawn from a CSPRNG with crypto.randomInt, which is uniform (no modulo bias).
import { randomInt } from 'node:crypto';
import { CONNECT_ID } from '../connect/types.js';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const LENGTH = 26;

/** A fresh id: 26 characters from [a-z0-9], each uniformly random (~134 bits). */
export function newId(): string {
  let id = '';
  for (let i = 0; i < LENGTH; i++) id += ALPHABET[randomInt(ALPHABET.length)];
  return id;
}

/** True when `s` has the shape of a Connect id. */
export function isId(s: string): boolean {
  return typeof s === 'string' && CONNECT_ID.test(s);
}

// Generated field values (`generate: true` with an optional `recipe`), drawn from the OS CSPRNG.
//
// Rules:
// - length: integer 1–64, default 32.
// - characterSets: any of LETTERS (A–Z a–z), DIGITS (0–9), SYMBOLS (the 32 printable ASCII punctuation
//   characters, SYMBOLS below); default all three. Listing a set twice is the same as listing it once;
//   an empty list is an error.
// - excludeCharacters: every character in it is removed from the pool (matched exactly, case-sensitive).
// - The value holds at least one character of every requested set. It is drawn UNIFORMLY from all strings
//   of that length over the pool that satisfy this: each candidate is `length` independent crypto.randomInt
//   picks from the pool, and candidates missing a set are rejected and redrawn (rejection sampling). Unlike
//   "one of each set, then fill and shuffle", this keeps every valid value equally likely.
// - entropy: log2 of the number of valid values, computed exactly (inclusion–exclusion over the sets),
//   rounded to 2 decimals. It is at most length * log2(pool size) and very close to it except for short values.
import { randomInt } from 'node:crypto';
import { CHARACTER_SETS, type CharacterSet, type GeneratorRecipe } from '../connect/types.js';

export const MIN_LENGTH = 1;
export const MAX_LENGTH = 64;
export const DEFAULT_LENGTH = 32;

export const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const DIGITS = '0123456789';
/** The 32 printable ASCII punctuation characters (0x21–0x2F, 0x3A–0x40, 0x5B–0x60, 0x7B–0x7E). */
export const SYMBOLS = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

export const SET_CHARACTERS: Record<CharacterSet, string> = { LETTERS, DIGITS, SYMBOLS };

export class RecipeError extends Error {
  constructor(message: string) {
    super(`invalid recipe: ${message}`);
    this.name = 'RecipeError';
  }
}

export interface Generated {
  value: string;
  /** Bits of entropy of the value's distribution. */
  entropy: number;
}

interface Plan {
  length: number;
  /** Characters of each requested set after exclusions. */
  sets: { name: CharacterSet; chars: string[] }[];
  pool: string[];
}

function plan(recipe: GeneratorRecipe | undefined): Plan {
  if (recipe === null || recipe === undefined) recipe = {};
  if (typeof recipe !== 'object' || Array.isArray(recipe)) throw new RecipeError('recipe must be an object');

  const length = recipe.length ?? DEFAULT_LENGTH;
  if (typeof length !== 'number' || !Number.isInteger(length) || length < MIN_LENGTH || length > MAX_LENGTH) {
    throw new RecipeError(`length must be an integer from ${MIN_LENGTH} to ${MAX_LENGTH}, got ${JSON.stringify(length)}`);
  }

  const requested = recipe.characterSets ?? [...CHARACTER_SETS];
  if (!Array.isArray(requested)) throw new RecipeError(`characterSets must be a list of ${CHARACTER_SETS.join(', ')}`);
  if (requested.length === 0) {
    throw new RecipeError(`characterSets must name at least one of ${CHARACTER_SETS.join(', ')}`);
  }
  for (const s of requested) {
    if (!(CHARACTER_SETS as readonly unknown[]).includes(s)) {
      throw new RecipeError(`unknown character set ${JSON.stringify(s)}, expected one of ${CHARACTER_SETS.join(', ')}`);
    }
  }
  const names = CHARACTER_SETS.filter((s) => requested.includes(s));

  const exclude = recipe.excludeCharacters ?? '';
  if (typeof exclude !== 'string') throw new RecipeError('excludeCharacters must be a string');
  const excluded = new Set(Array.from(exclude));

  const sets = names.map((name) => ({ name, chars: Array.from(SET_CHARACTERS[name]).filter((c) => !excluded.has(c)) }));
  for (const s of sets) {
    if (s.chars.length === 0) throw new RecipeError(`excludeCharacters removes every character of ${s.name}`);
  }
  if (length < sets.length) {
    throw new RecipeError(
      `length ${length} is too short to hold one character of each of ${sets.length} character sets (${names.join(', ')})`,
    );
  }
  return { length, sets, pool: sets.flatMap((s) => s.chars) };
}

/** Throws RecipeError if the recipe cannot be satisfied; otherwise does nothing. */
export function checkRecipe(recipe?: GeneratorRecipe): void {
  plan(recipe);
}

/** Generates a value following `recipe` (see the rules at the top of this module). Throws RecipeError. */
export function generateValue(recipe?: GeneratorRecipe): Generated {
  const p = plan(recipe);
  const setOf = new Map<string, number>();
  p.sets.forEach((s, i) => s.chars.forEach((c) => setOf.set(c, i)));
  for (;;) {
    const chars: string[] = [];
    const seen = new Set<number>();
    for (let i = 0; i < p.length; i++) {
      const c = p.pool[randomInt(p.pool.length)];
      chars.push(c);
      seen.add(setOf.get(c)!);
    }
    if (seen.size === p.sets.length) return { value: chars.join(''), entropy: entropyOf(p) };
  }
}

/** log2(number of strings of p.length over p.pool that contain a character of every set). */
function entropyOf(p: Plan): number {
  const sizes = p.sets.map((s) => s.chars.length);
  const total = sizes.reduce((a, b) => a + b, 0);
  const L = BigInt(p.length);
  let count = 0n;
  for (let mask = 0; mask < 1 << sizes.length; mask++) {
    let missing = 0;
    let bits = 0;
    sizes.forEach((n, i) => {
      if (mask & (1 << i)) {
        missing += n;
        bits++;
      }
    });
    const term = BigInt(total - missing) ** L;
    count += bits % 2 === 0 ? term : -term;
  }
  return Math.round(log2BigInt(count) * 100) / 100;
}

function log2BigInt(n: bigint): number {
  const bitLength = n.toString(2).length;
  if (bitLength <= 53) return Math.log2(Number(n));
  const shift = bitLength - 53;
  return shift + Math.log2(Number(n >> BigInt(shift)));
}

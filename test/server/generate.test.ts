import { describe, expect, it } from 'vitest';
import type { GeneratorRecipe } from '../../src/connect/types.js';
import {
  checkRecipe,
  DIGITS,
  generateValue,
  LETTERS,
  RecipeError,
  SYMBOLS,
} from '../../src/server/generate.js';

const has = (value: string, set: string) => Array.from(value).some((c) => set.includes(c));
const only = (value: string, set: string) => Array.from(value).every((c) => set.includes(c));

describe('generateValue: defaults', () => {
  it('is 32 characters from letters, digits and symbols, with each present', () => {
    for (let i = 0; i < 200; i++) {
      const { value } = generateValue();
      expect(value).toHaveLength(32);
      expect(only(value, LETTERS + DIGITS + SYMBOLS)).toBe(true);
      expect(has(value, LETTERS) && has(value, DIGITS) && has(value, SYMBOLS)).toBe(true);
    }
  });

  it('treats an empty recipe as the defaults', () => {
    expect(generateValue({}).value).toHaveLength(32);
  });

  it('reports entropy close to length * log2(pool)', () => {
    const { entropy } = generateValue();
    const upper = 32 * Math.log2(94);
    expect(entropy).toBeLessThanOrEqual(upper);
    expect(entropy).toBeGreaterThan(upper - 1);
  });

  it('does not repeat values', () => {
    const values = new Set(Array.from({ length: 500 }, () => generateValue({ length: 12 }).value));
    expect(values.size).toBe(500);
  });
});

describe('generateValue: SYMBOLS', () => {
  it('is the 32 printable ASCII punctuation characters', () => {
    const expected = Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i))
      .filter((c) => /[!-/:-@[-`{-~]/.test(c))
      .join('');
    expect(SYMBOLS).toBe(expected);
    expect(SYMBOLS).toHaveLength(32);
  });
});

describe('generateValue: recipes', () => {
  it('honours length at both bounds', () => {
    expect(generateValue({ length: 1, characterSets: ['DIGITS'] }).value).toMatch(/^[0-9]$/);
    expect(generateValue({ length: 64 }).value).toHaveLength(64);
  });

  it.each<[GeneratorRecipe['characterSets'], string]>([
    [['LETTERS'], LETTERS],
    [['DIGITS'], DIGITS],
    [['SYMBOLS'], SYMBOLS],
    [['LETTERS', 'DIGITS'], LETTERS + DIGITS],
    [['DIGITS', 'SYMBOLS'], DIGITS + SYMBOLS],
  ])('uses only %j and every requested set, over many runs', (sets, pool) => {
    for (let i = 0; i < 300; i++) {
      const { value } = generateValue({ length: sets!.length, characterSets: sets });
      expect(only(value, pool)).toBe(true);
      for (const s of sets!) expect(has(value, { LETTERS, DIGITS, SYMBOLS }[s])).toBe(true);
    }
  });

  it('every requested set appears even when one set is almost entirely excluded', () => {
    const recipe: GeneratorRecipe = { length: 3, excludeCharacters: '012345678' };
    for (let i = 0; i < 300; i++) {
      const { value } = generateValue(recipe);
      expect(value).toContain('9');
      expect(has(value, LETTERS) && has(value, SYMBOLS)).toBe(true);
    }
  });

  it('never uses excluded characters', () => {
    const excludeCharacters = 'lI1O0oS5Z2"\'\\`';
    const values = Array.from({ length: 300 }, () => generateValue({ length: 64, excludeCharacters }).value).join('');
    for (const c of excludeCharacters) expect(values).not.toContain(c);
  });

  it('reaches every character of the pool over many runs', () => {
    const seen = new Set(Array.from({ length: 200 }, () => generateValue({ length: 64 }).value).join(''));
    expect(seen.size).toBe(94);
  });

  it('treats a set listed twice as listed once', () => {
    const { value, entropy } = generateValue({ length: 10, characterSets: ['DIGITS', 'DIGITS'] });
    expect(value).toMatch(/^[0-9]{10}$/);
    expect(entropy).toBeCloseTo(10 * Math.log2(10), 1);
  });

  it('computes exact entropy for a constrained value', () => {
    // length 2 over digits (10) + one letter ("a" after exclusions): strings with both = 2 * 10 * 1 = 20
    const excludeCharacters = LETTERS.replace('a', '');
    const r = generateValue({ length: 2, characterSets: ['LETTERS', 'DIGITS'], excludeCharacters });
    expect(r.entropy).toBeCloseTo(Math.log2(20), 2);
    expect(r.value).toMatch(/^(a[0-9]|[0-9]a)$/);
  });
});

describe('generateValue: invalid recipes throw RecipeError', () => {
  it.each<[string, unknown, string]>([
    ['length 0', { length: 0 }, 'length must be an integer from 1 to 64, got 0'],
    ['length 65', { length: 65 }, 'got 65'],
    ['fractional length', { length: 12.5 }, 'got 12.5'],
    ['string length', { length: '12' }, 'got "12"'],
    ['negative length', { length: -1 }, 'got -1'],
    ['unknown set', { characterSets: ['LETTERS', 'EMOJI'] }, 'unknown character set "EMOJI"'],
    ['lowercase set', { characterSets: ['letters'] }, 'unknown character set "letters"'],
    ['empty sets', { characterSets: [] }, 'at least one of LETTERS, DIGITS, SYMBOLS'],
    ['sets not a list', { characterSets: 'LETTERS' }, 'characterSets must be a list'],
    ['whole set excluded', { characterSets: ['DIGITS'], excludeCharacters: DIGITS }, 'removes every character of DIGITS'],
    ['excludeCharacters not a string', { excludeCharacters: 5 }, 'excludeCharacters must be a string'],
    ['too short for the sets', { length: 2 }, 'length 2 is too short to hold one character of each of 3 character sets'],
    ['not an object', 'abc', 'recipe must be an object'],
  ])('%s', (_why, recipe, message) => {
    expect(() => generateValue(recipe as GeneratorRecipe)).toThrow(RecipeError);
    expect(() => generateValue(recipe as GeneratorRecipe)).toThrow(message);
    expect(() => checkRecipe(recipe as GeneratorRecipe)).toThrow(RecipeError);
  });

  it('messages start with "invalid recipe:"', () => {
    expect(() => generateValue({ length: 0 })).toThrow(/^invalid recipe: /);
  });
});

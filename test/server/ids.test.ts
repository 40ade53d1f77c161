import { describe, expect, it } from 'vitest';
import { isId, newId } from '../../src/server/ids.js';

describe('newId', () => {
  it('makes 26 lowercase alphanumerics', () => {
    for (let i = 0; i < 200; i++) expect(newId()).toMatch(/^[a-z0-9]{26}$/);
  });

  it('does not repeat', () => {
    const ids = new Set(Array.from({ length: 2000 }, () => newId()));
    expect(ids.size).toBe(2000);
  });

  it('uses the whole alphabet', () => {
    const seen = new Set(Array.from({ length: 200 }, () => newId()).join(''));
    expect(seen.size).toBe(36);
  });
});

describe('isId', () => {
  it('accepts Connect ids', () => {
    expect(isId('abcdefghijklmnopqrstuvwxyz')).toBe(true);
    expect(isId(newId())).toBe(true);
  });

  it.each([
    ['too short', 'abc'],
    ['too long', 'a'.repeat(27)],
    ['uppercase', 'A'.repeat(26)],
    ['a UUID', '3f2504e0-4f89-11d3-9a0c-0305e82c3301'],
    ['a title with spaces', 'my item title with spaces!'],
    ['trailing newline', `${'a'.repeat(26)}\n`],
    ['empty', ''],
  ])('rejects %s', (_why, s) => {
    expect(isId(s)).toBe(false);
  });
});

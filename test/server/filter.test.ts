import { describe, expect, it } from 'vitest';
import { compileFilter, FilterError } from '../../src/server/filter.js';

interface Thing {
  title: string;
  tags?: string[];
}
const attrs = { title: (x: Thing) => x.title, tag: (x: Thing) => x.tags };

const things: Thing[] = [
  { title: 'Alpha', tags: ['prod', 'db'] },
  { title: 'Beta', tags: ['dev'] },
  { title: 'Alphabet' },
  { title: 'say "hi" \\ bye', tags: [] },
  { title: 'gamma', tags: ['prod'] },
];

function titles(expr: string): string[] {
  return things.filter(compileFilter(expr, attrs)).map((t) => t.title);
}

function errorOf(expr: string): FilterError {
  try {
    compileFilter(expr, attrs);
  } catch (e) {
    expect(e).toBeInstanceOf(FilterError);
    return e as FilterError;
  }
  throw new Error(`expected ${expr} to be rejected`);
}

describe('compileFilter: operators', () => {
  it('eq is an exact, case-sensitive match (as real Connect)', () => {
    expect(titles('title eq "Alpha"')).toEqual(['Alpha']);
    expect(titles('title eq "alpha"')).toEqual([]);
  });

  it('co is contains', () => {
    expect(titles('title co "lph"')).toEqual(['Alpha', 'Alphabet']);
    expect(titles('title co ""')).toHaveLength(things.length);
  });

  it('sw is starts with', () => {
    expect(titles('title sw "Alpha"')).toEqual(['Alpha', 'Alphabet']);
    expect(titles('title sw "lpha"')).toEqual([]);
  });

  it('array attributes match when any element matches; missing ones never match', () => {
    expect(titles('tag eq "prod"')).toEqual(['Alpha', 'gamma']);
    expect(titles('tag eq "db"')).toEqual(['Alpha']);
    expect(titles('tag sw "d"')).toEqual(['Alpha', 'Beta']);
    expect(titles('tag co ""')).toEqual(['Alpha', 'Beta', 'gamma']);
  });

  it('attribute names, operators and and/or are case-insensitive (RFC 7644)', () => {
    expect(titles('TITLE EQ "Alpha" OR Tag Eq "dev"')).toEqual(['Alpha', 'Beta']);
  });

  it('unescapes \\" and \\\\ in strings', () => {
    expect(titles('title eq "say \\"hi\\" \\\\ bye"')).toEqual(['say "hi" \\ bye']);
  });

  it('ignores whitespace around tokens', () => {
    expect(titles('  ( title   eq"Alpha" )  ')).toEqual(['Alpha']);
  });
});

describe('compileFilter: and/or/parentheses', () => {
  it('and', () => {
    expect(titles('tag eq "prod" and title sw "A"')).toEqual(['Alpha']);
  });

  it('or', () => {
    expect(titles('title eq "Beta" or title eq "gamma"')).toEqual(['Beta', 'gamma']);
  });

  it('and binds tighter than or', () => {
    // Beta or (prod and starts with g) -> Beta, gamma; not Alpha
    expect(titles('title eq "Beta" or tag eq "prod" and title sw "g"')).toEqual(['Beta', 'gamma']);
    // (prod and starts with A) or Beta
    expect(titles('tag eq "prod" and title sw "A" or title eq "Beta"')).toEqual(['Alpha', 'Beta']);
  });

  it('parentheses override precedence', () => {
    expect(titles('(title eq "Beta" or tag eq "prod") and title sw "g"')).toEqual(['gamma']);
    expect(titles('tag eq "prod" and (title sw "A" or title eq "Beta")')).toEqual(['Alpha']);
    expect(titles('((title eq "Beta"))')).toEqual(['Beta']);
  });

  it('chains', () => {
    expect(titles('title eq "Alpha" or title eq "Beta" or title eq "gamma"')).toEqual(['Alpha', 'Beta', 'gamma']);
    expect(titles('title co "a" and title co "l" and title co "b"')).toEqual(['Alphabet']);
  });

  it('works with vault attributes', () => {
    const vaults = [{ name: 'Private' }, { name: 'Shared' }];
    const f = compileFilter('name eq "Shared"', { name: (v: { name: string }) => v.name });
    expect(vaults.filter(f)).toEqual([{ name: 'Shared' }]);
  });
});

describe('compileFilter: errors name the column and what was expected', () => {
  it.each([
    // [filter, column, message fragment]
    ['', 1, 'expected an attribute ("title" or "tag") or "(", found end of filter'],
    ['   ', 4, 'found end of filter'],
    ['name eq "x"', 1, 'expected an attribute ("title" or "tag"), found "name"'],
    ['title == "x"', 7, 'expected "eq", "co" or "sw", found "="'],
    ['title ne "x"', 7, 'expected "eq", "co" or "sw", found "ne"'],
    ['title eq "x" and tag gt "y"', 22, 'expected "eq", "co" or "sw", found "gt"'],
    ['title', 6, 'expected "eq", "co" or "sw", found end of filter'],
    ['title eq x', 10, 'expected a string in double quotes, found "x"'],
    ['title eq', 9, 'expected a string in double quotes, found end of filter'],
    ['title eq "abc', 14, `expected '"' to close the string opened at column 10, found end of filter`],
    ['title eq "a\\x"', 13, `expected '\\"' or '\\\\' after '\\', found "x"`],
    ['title eq "a\\', 13, 'found end of filter (string opened at column 10)'],
    ['title eq "x" tag eq "y"', 14, 'expected "and", "or" or end of filter, found "tag"'],
    ['title eq "x")', 13, 'expected "and", "or" or end of filter, found ")"'],
    ['(title eq "x"', 14, 'expected ")" to close the "(" at column 1, found end of filter'],
    ['((title eq "x") or tag eq "y"', 30, 'expected ")" to close the "(" at column 1'],
    ['(title eq "x" tag', 15, 'expected "and", "or" or ")" to close the "(" at column 1, found "tag"'],
    ['()', 2, 'expected an attribute ("title" or "tag") or "(", found ")"'],
    ['title eq "x" and', 17, 'expected an attribute ("title" or "tag") or "(", found end of filter'],
    ['title eq "x" or or', 17, 'found "or"'],
    ['title eq "x" & tag eq "y"', 14, 'found "&"'],
  ])('%j -> column %i', (expr, column, fragment) => {
    const e = errorOf(expr);
    expect(e.column).toBe(column);
    expect(e.message).toMatch(new RegExp(`^invalid filter at column ${column}: `));
    expect(e.message).toContain(fragment);
  });
});

// --target, --rotate and --replace that name nothing: one message each, with the closest names (select.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inTargets } from '../../src/plan/build.js';
import { checkSelection, closest, editDistance, type SelectItem } from '../../src/plan/select.js';

const gen = (key: string) => ({ key, source: { kind: 'generate' } });
const lit = (key: string) => ({ key, source: { kind: 'literal' } });
const item = (address: string, ...fields: SelectItem['fields']): SelectItem => ({ address, fields });

const ITEMS: SelectItem[] = [
  item('Production/db-primary', gen('password'), gen('api_key'), lit('user')),
  item('Production/db-replica', gen('password')),
  item('Production/plain', lit('user')),
  item('Staging/db-primary', gen('password')),
];
/** In state: what the manifests hold but Staging/db-primary (not applied yet), plus one removed from them. */
const RESOURCES = Object.fromEntries(
  ['Production/db-primary', 'Production/db-replica', 'Production/plain', 'Legacy/old-token'].map((a) => [a, { address: a }]),
);
const check = (req: { targets?: string[]; rotate?: string[]; replace?: string[] }) => checkSelection({ items: ITEMS, resources: RESOURCES, ...req });

describe('editDistance', () => {
  it('counts insertions, deletions and substitutions', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('abc', '')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('pasword', 'password')).toBe(1);
    expect(editDistance('Production', 'production')).toBe(1);
    expect(editDistance('flaw', 'lawn')).toBe(2);
    expect(editDistance('nope', 'db-primary')).toBe(9);
  });

  it('is a metric: zero only for equals, symmetric, triangle inequality, bounded by the longer length', () => {
    const s = fc.string({ maxLength: 12 });
    fc.assert(
      fc.property(s, s, s, (a, b, c) => {
        const ab = editDistance(a, b);
        expect(ab === 0).toBe(a === b);
        expect(editDistance(b, a)).toBe(ab);
        expect(editDistance(a, c)).toBeLessThanOrEqual(ab + editDistance(b, c));
        expect(ab).toBeLessThanOrEqual(Math.max(a.length, b.length));
        expect(ab).toBeGreaterThanOrEqual(Math.abs(a.length - b.length));
      }),
    );
  });

  it('one edit is distance 1', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 12 }), fc.nat(), fc.constantFrom('x', '-', 'Q'), (a, at, ch) => {
        const i = at % a.length;
        const inserted = a.slice(0, i) + ch + a.slice(i);
        const deleted = a.slice(0, i) + a.slice(i + 1);
        expect(editDistance(a, inserted)).toBe(1);
        expect(editDistance(a, deleted)).toBe(1);
      }),
    );
  });
});

describe('closest', () => {
  it('puts the ones equal but for case first, then up to 3 nearest by distance and name', () => {
    expect(closest('production', ['Production', 'PRODUCTION', 'Staging'])).toEqual({ caseOnly: ['PRODUCTION', 'Production'], near: [] });
    expect(closest('abcdefghi', ['abcdefghX', 'abcdefgXX', 'abcdefghY', 'Xbcdefghi', 'abcdefXXX', 'zzz'])).toEqual({
      caseOnly: [],
      near: ['Xbcdefghi', 'abcdefghX', 'abcdefghY'],
    });
  });

  it('offers nothing far unless a fallback is given; the input itself is never offered', () => {
    expect(closest('nope', ['db-primary'])).toEqual({ caseOnly: [], near: [] });
    expect(closest('nope', ['db-primary', 'nope'], ['db-primary'])).toEqual({ caseOnly: [], near: ['db-primary'] });
    expect(closest('x', ['x'])).toEqual({ caseOnly: [], near: [] });
  });
});

describe('--target', () => {
  it('an address or a vault, written exactly, is fine: in the manifests or only in state', () => {
    expect(check({ targets: ['Production/db-primary', 'Production', 'Production/', 'Staging/db-primary', 'Legacy/old-token', 'Legacy'] })).toEqual([]);
  });

  it('an unknown key in a known vault: the nearest addresses of that vault', () => {
    expect(check({ targets: ['Production/nope'] })).toEqual([
      '--target Production/nope: no resource or vault matches; did you mean Production/plain, Production/db-primary or Production/db-replica?',
    ]);
    expect(check({ targets: ['Production/db-primry'] })).toEqual(['--target Production/db-primry: no resource or vault matches; did you mean Production/db-primary?']);
    expect(checkSelection({ items: [ITEMS[0]], resources: {}, targets: ['Production/nope'] })).toEqual([
      '--target Production/nope: no resource or vault matches; did you mean Production/db-primary?',
    ]);
  });

  it('a vault in the wrong case, with or without its slash; an address in the wrong case', () => {
    expect(check({ targets: ['production'] })).toEqual(['--target production: no vault "production"; did you mean Production? (addresses are case-sensitive)']);
    expect(check({ targets: ['production/'] })).toEqual(['--target production/: no vault "production"; did you mean Production/? (addresses are case-sensitive)']);
    expect(check({ targets: ['production/db-primary'] })).toEqual([
      '--target production/db-primary: no resource "production/db-primary"; did you mean Production/db-primary? (addresses are case-sensitive)',
    ]);
    expect(check({ targets: ['legacy/OLD-token'] })).toEqual([
      '--target legacy/OLD-token: no resource "legacy/OLD-token"; did you mean Legacy/old-token? (addresses are case-sensitive)',
    ]);
  });

  it('a misspelt vault; a bare key; a trailing slash after an address; nothing near at all', () => {
    expect(check({ targets: ['Prodution'] })).toEqual(['--target Prodution: no resource or vault matches; did you mean Production?']);
    expect(check({ targets: ['db-replica'] })).toEqual(['--target db-replica: no resource or vault matches; did you mean Production/db-replica?']);
    expect(check({ targets: ['Production/plain/'] })).toEqual(['--target Production/plain/: no resource or vault matches; did you mean Production/plain?']);
    expect(check({ targets: ['Nowhere/thing'] })).toEqual(['--target Nowhere/thing: no resource or vault matches']);
    expect(check({ targets: [''] })).toEqual(['--target "": no resource or vault matches']);
  });

  it('a vault prefix is a whole vault: "Prod" is not Production', () => {
    expect(check({ targets: ['Prod'] })).toEqual(['--target Prod: no resource or vault matches']);
    expect(check({ targets: ['Production/db'] })).toHaveLength(1);
  });

  it('one message per bad target, in order; good ones say nothing', () => {
    expect(check({ targets: ['Production/db-primary', 'production', 'Production/nope'] }).map((m) => m.split(':')[0])).toEqual([
      '--target production',
      '--target Production/nope',
    ]);
  });

  it('property: a target that is any address or vault of the manifests or the state never errors, and selects it', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,8}$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(name, name), { minLength: 1, maxLength: 8, selector: ([v, k]) => `${v}/${k}` }),
        fc.nat(),
        fc.nat(),
        fc.constantFrom('address', 'vault', 'vault/'),
        (pairs, split, pick, form) => {
          const addresses = pairs.map(([v, k]) => `${v}/${k}`);
          const cut = split % (addresses.length + 1);
          const items = addresses.slice(0, cut).map((a) => item(a, gen('password')));
          const resources = Object.fromEntries(addresses.slice(Math.max(0, cut - 1)).map((a) => [a, { address: a }]));
          const [v] = pairs[pick % pairs.length];
          const address = addresses[pick % addresses.length];
          const target = form === 'address' ? address : form === 'vault' ? v : `${v}/`;
          expect(checkSelection({ items, resources, targets: [target] })).toEqual([]);
          expect(addresses.some((a) => inTargets(a, [target]))).toBe(true);
        },
      ),
    );
  });

  it('property: a target that selects nothing always errors, with one line', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 24 }), (target) => {
        const all = [...ITEMS.map((i) => i.address), ...Object.keys(RESOURCES)];
        const errors = check({ targets: [target] });
        expect(errors.length).toBe(all.some((a) => inTargets(a, [target])) ? 0 : 1);
      }),
    );
  });
});

describe('--rotate', () => {
  it('an item with a generated field, or one of its generated fields, is fine', () => {
    expect(check({ rotate: ['Production/db-primary', 'Production/db-primary:password', 'Production/db-primary:api_key', 'Staging/db-primary:password'] })).toEqual([]);
  });

  it('a misspelt field: the nearest generated field keys', () => {
    expect(check({ rotate: ['Production/db-primary:pasword'] })).toEqual(['--rotate Production/db-primary:pasword: no field pasword; did you mean password?']);
    expect(check({ rotate: ['Production/db-primary:nope'] })).toEqual(['--rotate Production/db-primary:nope: no field nope; did you mean api_key or password?']);
    expect(check({ rotate: ['Production/db-primary:Password'] })).toEqual([
      '--rotate Production/db-primary:Password: no field Password; did you mean password? (field keys are case-sensitive)',
    ]);
    expect(check({ rotate: ['Production/db-primary:'] })).toEqual(['--rotate Production/db-primary:: no field ""; did you mean api_key or password?']);
  });

  it('a field that exists but is not generated; an item with no generated field', () => {
    expect(check({ rotate: ['Production/db-primary:user'] })).toEqual(['--rotate Production/db-primary:user: field user is not generated (only fields with `generate` are rotated)']);
    expect(check({ rotate: ['Production/plain'] })).toEqual(['--rotate Production/plain: Production/plain has no generated field (only fields with `generate` are rotated)']);
    expect(check({ rotate: ['Production/plain:user'] })).toEqual(['--rotate Production/plain:user: field user is not generated (only fields with `generate` are rotated)']);
    expect(check({ rotate: ['Production/plain:pw'] })).toEqual(['--rotate Production/plain:pw: no field pw, and Production/plain has no generated field']);
  });

  it('an unknown address, one only in state, one in the wrong case', () => {
    expect(check({ rotate: ['Production/db-primry:password'] })).toEqual([
      '--rotate Production/db-primry:password: no resource Production/db-primry in the manifests; did you mean Production/db-primary?',
    ]);
    expect(check({ rotate: ['Legacy/old-token'] })).toEqual(['--rotate Legacy/old-token: no resource Legacy/old-token in the manifests']);
    expect(check({ rotate: ['production/db-primary'] })).toEqual([
      '--rotate production/db-primary: no resource "production/db-primary"; did you mean Production/db-primary? (addresses are case-sensitive)',
    ]);
  });

  it('a vault name may hold a colon: the field starts after the address', () => {
    const items = [item('Team:EU/app', gen('password'))];
    expect(checkSelection({ items, resources: {}, rotate: ['Team:EU/app', 'Team:EU/app:password'] })).toEqual([]);
    expect(checkSelection({ items, resources: {}, rotate: ['Team:EU/app:pw'] })).toEqual(['--rotate Team:EU/app:pw: no field pw; did you mean password?']);
  });

  it('property: every manifest item with a generated field, and each such field, never errors', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ITEMS), fc.boolean(), (i, whole) => {
        const keys = i.fields.filter((f) => f.source.kind === 'generate').map((f) => f.key);
        fc.pre(keys.length > 0);
        expect(check({ rotate: whole ? [i.address] : keys.map((k) => `${i.address}:${k}`) })).toEqual([]);
      }),
    );
  });
});

describe('--replace', () => {
  it('a resource in the manifests and in state is fine', () => {
    expect(check({ replace: ['Production/db-primary', 'Production/plain'] })).toEqual([]);
  });

  it('one not applied yet, one removed from the manifests, one misspelt, one in the wrong case', () => {
    expect(check({ replace: ['Staging/db-primary'] })).toEqual(['--replace Staging/db-primary: Staging/db-primary is not in the state yet; apply creates it (nothing to replace)']);
    expect(check({ replace: ['Legacy/old-token'] })).toEqual(['--replace Legacy/old-token: Legacy/old-token is no longer in the manifests; apply deletes it (nothing to replace)']);
    expect(check({ replace: ['Production/db-replika'] })).toEqual([
      '--replace Production/db-replika: no resource Production/db-replika in the manifests and the state; did you mean Production/db-replica?',
    ]);
    expect(check({ replace: ['PRODUCTION/plain'] })).toEqual([
      '--replace PRODUCTION/plain: no resource "PRODUCTION/plain"; did you mean Production/plain? (addresses are case-sensitive)',
    ]);
  });
});

it('targets, rotations and replacements are all checked, each bad one a message of one line', () => {
  const messages = check({ targets: ['production'], rotate: ['Production/plain'], replace: ['Nope/x'] });
  expect(messages).toHaveLength(3);
  for (const m of messages) expect(m).not.toContain('\n');
});

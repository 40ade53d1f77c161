// The dependency graph: edges from `ref:` sources to managed items, by name or (with aliases) by id; cycles.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DesiredField, DesiredItem } from '../../src/manifest/types.js';
import { buildGraph, cycleDiagnostics, findCycle } from '../../src/plan/graph.js';

const pos = { file: 'm.yaml', line: 1, col: 1 };
function item(key: string, title: string, refs: Record<string, string> = {}, extra: Partial<DesiredField>[] = []): DesiredItem {
  const fields: DesiredField[] = [
    ...Object.entries(refs).map(([k, ref], i) => ({ key: k, label: k, type: 'CONCEALED' as const, source: { kind: 'ref' as const, ref }, sensitive: true, pos: { ...pos, line: 10 + i } })),
    ...extra.map((f) => ({ key: 'x', label: 'x', type: 'STRING' as const, source: { kind: 'literal' as const, value: '' }, sensitive: false, pos, ...f })),
  ];
  return { address: `Prod/${key}`, vault: 'Prod', key, title, category: 'PASSWORD', tags: [], urls: [], sections: [], fields, ignore: [], protect: false, adopt: false, pos };
}

describe('buildGraph', () => {
  it('links a ref to a managed item by vault and title, and names the declared field', () => {
    const db = item('db', 'DB', {}, [{ key: 'pw', label: 'password', purpose: 'PASSWORD' }]);
    const app = item('app', 'App', { a: 'op://Prod/DB/password', b: 'op://Prod/Unmanaged/password', c: 'op://Other/DB/password' });
    const g = buildGraph([db, app]);
    expect(g.edges).toHaveLength(1);
    expect(g.edges[0]).toMatchObject({ from: 'Prod/app', field: 'a', to: 'Prod/db', toField: 'pw' });
  });
  it('matches a built-in purpose id and item or vault ids from the state', () => {
    const db = item('db', 'DB', {}, [{ key: 'pw', label: 'secret', purpose: 'PASSWORD' }]);
    const app = item('app', 'App', { a: 'op://vaultid123/itemid456/password' });
    const g = buildGraph([db, app], { vaultIds: new Map([['Prod/db', 'vaultid123']]), itemIds: new Map([['Prod/db', 'itemid456']]) });
    expect(g.edges[0]).toMatchObject({ to: 'Prod/db', toField: 'pw' });
  });
});

describe('findCycle', () => {
  it('finds a two-item cycle and a self-reference, and reports it at the first reference', () => {
    expect(findCycle(buildGraph([item('a', 'A', { p: 'op://Prod/B/p' }), item('b', 'B', { p: 'op://Prod/A/p' })]))!.map((e) => e.from)).toEqual(['Prod/a', 'Prod/b']);
    expect(findCycle(buildGraph([item('a', 'A', { p: 'op://Prod/A/q' })]))).toHaveLength(1);
    const d = cycleDiagnostics([item('a', 'A', { p: 'op://Prod/B/p' }), item('b', 'B', { p: 'op://Prod/A/p' })]);
    expect(d[0].message).toMatch(/^reference cycle: Prod\/a -> Prod\/b -> Prod\/a \(Prod\/a field "p" at m\.yaml:10:1; Prod\/b field "p" at m\.yaml:10:1\)/);
  });
  it('finds none in a chain, and finds one exactly when edges go back (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(7), fc.nat(7)), { maxLength: 20 }), (pairs) => {
        const titles = Array.from({ length: 8 }, (_, i) => `T${i}`);
        const refs = titles.map(() => ({}) as Record<string, string>);
        pairs.forEach(([from, to], i) => (refs[from][`f${i}`] = `op://Prod/T${to}/p`));
        const g = buildGraph(titles.map((t, i) => item(`k${i}`, t, refs[i])));
        const forwardOnly = pairs.every(([from, to]) => to > from);
        const cycle = findCycle(g);
        if (forwardOnly) expect(cycle).toBeUndefined();
        if (cycle) expect(cycle[0].from).toBe(cycle[cycle.length - 1].to);
      }),
    );
  });
});

import { describe, expect, it } from 'vitest';
import { checkSafety, DEFAULT_SAFETY } from '../../src/plan/safety.js';
import { summarise, type Plan, type ResourceChange } from '../../src/plan/types.js';

const change = (i: number, action: ResourceChange['action'], extra: Partial<ResourceChange> = {}): ResourceChange => ({
  address: `V/i${i}`,
  action,
  vault: { name: 'V' },
  title: `i${i}`,
  category: 'LOGIN',
  reasons: [],
  changes: [],
  ...extra,
});

function plan(changes: ResourceChange[], mode: Plan['mode'] = 'normal'): Plan {
  return {
    formatVersion: 1,
    opsyncVersion: 'test',
    createdAt: '',
    connectHost: 'local',
    state: { lineage: 'l', serial: 1 },
    manifests: [],
    targets: [],
    rotate: [],
    mode,
    changes,
    diagnostics: [],
    summary: summarise(changes),
  };
}

const deletes = (n: number, extra: Partial<ResourceChange> = {}) => Array.from({ length: n }, (_, i) => change(i, 'delete', extra));

describe('safety limits', () => {
  it('defaults: more than 10% and at least 3', () => {
    expect(checkSafety(plan(deletes(2)), 10, DEFAULT_SAFETY)).toEqual([]); // 20%, but only 2
    expect(checkSafety(plan(deletes(3)), 30, DEFAULT_SAFETY)).toEqual([]); // exactly 10%
    const [v] = checkSafety(plan(deletes(4)), 30, DEFAULT_SAFETY);
    expect(v).toMatchObject({ action: 'delete', count: 4, managed: 30, limit: 10 });
    expect(v.message).toBe(
      'the plan deletes 4 of 30 managed item(s) (13.3%), over the delete limit of 10% by 3.3% (safety.maxDeletePercent in opsync.yaml; only 3 or more deletes count)',
    );
  });

  it('does not count forgets (removed: blocks) as deletes: they delete nothing', () => {
    const forgets = Array.from({ length: 8 }, (_, i) => change(i, 'forget'));
    expect(checkSafety(plan(forgets), 10, DEFAULT_SAFETY)).toEqual([]);
    expect(checkSafety(plan([...forgets, ...deletes(3).map((c, i) => ({ ...c, address: `V/d${i}` }))]), 10, DEFAULT_SAFETY).map((v) => v.count)).toEqual([3]);
  });

  it('counts replaces on their own limit, and not deletes of items already gone', () => {
    const changes = [...Array.from({ length: 3 }, (_, i) => change(i, 'replace')), ...deletes(5, { forgetOnly: true })];
    const out = checkSafety(plan(changes), 10, DEFAULT_SAFETY);
    expect(out.map((v) => v.action)).toEqual(['replace']);
    expect(checkSafety(plan(changes), 10, { ...DEFAULT_SAFETY, maxReplacePercent: 30 })).toEqual([]);
  });

  it('exempts destroy plans and empty states', () => {
    expect(checkSafety(plan(deletes(10), 'destroy'), 10, DEFAULT_SAFETY)).toEqual([]);
    expect(checkSafety(plan([change(0, 'create')]), 0, DEFAULT_SAFETY)).toEqual([]);
  });
});

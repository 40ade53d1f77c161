// plan --refresh-only, the pure parts: compareWithState (live against what the state recorded, the manifests used
// only where they are what was applied), the flags it refuses, and how every renderer shows its plan.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { checkRefreshOnlyFlags } from '../../src/commands/plan.js';
import type { FullItem } from '../../src/connect/types.js';
import type { DesiredField, DesiredItem } from '../../src/manifest/types.js';
import { GENERATED_DRIFT_NOTE, liveFieldsOf } from '../../src/plan/diff.js';
import { desiredDigest, fieldDigests } from '../../src/plan/digest.js';
import { createBody } from '../../src/plan/itemBody.js';
import { compareWithState, VALUE_DRIFT_NOTE } from '../../src/plan/refreshOnly.js';
import { hasChanges, summarise, type Plan, type ResourceChange } from '../../src/plan/types.js';
import type { StateResource } from '../../src/state/types.js';
import { renderPlanJson } from '../../src/ui/json.js';
import { renderPlanMarkdown } from '../../src/ui/markdown.js';
import { summaryLine } from '../../src/ui/present.js';
import { renderPlanText } from '../../src/ui/text.js';
import { headerLines } from '../../src/ui/tui/review.js';
import { findLeak } from '../support/leaks.js';

const SECRET = 'Qw7Er4Ty1Ui8Op3A';
const HAND = 'Zx5Cv2Bn9Ml6Kj0H';
const GENERATED = 'Gn4Rt8Yp2Wq6Es1D';
const key = Buffer.alloc(32, 7);
const pos = { file: 'm.yaml', line: 1, col: 1 };

function field(k: string, over: Partial<DesiredField> = {}): DesiredField {
  return { key: k, label: k, type: 'STRING', source: { kind: 'literal', value: `${k}-value` }, sensitive: false, pos, ...over };
}

function desired(over: Partial<DesiredItem> = {}): DesiredItem {
  return {
    address: 'Private/db',
    vault: 'Private',
    key: 'db',
    title: 'Database',
    category: 'DATABASE',
    tags: ['prod'],
    urls: [],
    sections: [],
    fields: [
      field('host'),
      field('password', { type: 'CONCEALED', purpose: 'PASSWORD', sensitive: true, source: { kind: 'env', name: 'DB_PW' } }),
      field('admin', { type: 'CONCEALED', sensitive: true, source: { kind: 'generate', recipe: { length: 20 } } }),
      field('expires', { type: 'DATE', source: { kind: 'literal', value: '2027-01-31' } }),
    ],
    ignore: [],
    protect: false,
    adopt: false,
    pos,
    ...over,
  };
}

const values = new Map([
  ['host', 'host-value'],
  ['password', SECRET],
  ['expires', '2027-01-31'],
]);

/** What Connect holds after creating `d` with `v`: a generated value, a DATE as unix seconds (as real Connect). */
function liveOf(d: DesiredItem, v: ReadonlyMap<string, string> = values): FullItem {
  const body = createBody(d, v);
  return {
    id: 'a'.repeat(26),
    vault: { id: 'v'.repeat(26) },
    version: 3,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    ...body,
    fields: (body.fields ?? []).map((f, i) => {
      const { generate: _g, recipe: _r, ...rest } = f;
      const value = f.generate ? GENERATED : f.type === 'DATE' ? String(Date.UTC(2027, 0, 31) / 1000) : f.value;
      return { ...rest, id: `f${i}`.padEnd(26, '0'), value };
    }),
  };
}

/** The state entry an apply of `d` with `v` leaves (the digests as execute.ts records them). */
function recorded(d: DesiredItem, live: FullItem, v: ReadonlyMap<string, string> = values): StateResource {
  return {
    address: d.address,
    vaultId: live.vault.id,
    vaultName: 'Private',
    itemId: live.id,
    title: live.title,
    category: live.category,
    version: live.version,
    digest: desiredDigest(d, v, key),
    fields: fieldDigests(d, v, liveFieldsOf(d, live), key),
    updatedAt: '2026-01-01T00:00:00Z',
  };
}

/** `live` after a change by hand: one version on. */
function byHand(live: FullItem, change: (i: FullItem) => void): FullItem {
  const next: FullItem = JSON.parse(JSON.stringify(live));
  change(next);
  next.version = live.version + 1;
  return next;
}
const setValue = (label: string, value: string) => (i: FullItem) => void (i.fields!.find((f) => f.label === label)!.value = value);

describe('compareWithState', () => {
  const d = desired();
  const live = liveOf(d);
  const st = recorded(d, live);

  it('finds nothing when only the version moved (a DATE in Connect form is the value written)', () => {
    const moved = byHand(live, () => undefined);
    expect(compareWithState(st, moved, key, { item: d, values })).toEqual({ changes: [], unattributed: [] });
  });

  it('reports a secret changed by hand by its note only, whether or not the manifests changed it too', () => {
    const moved = byHand(live, setValue('password', HAND));
    const want = [{ path: 'field password', kind: 'change', sensitive: true, note: VALUE_DRIFT_NOTE }];
    expect(compareWithState(st, moved, key, { item: d, values }).changes).toEqual(want);
    const edited = new Map(values).set('password', 'another-manifest-value');
    expect(compareWithState(st, moved, key, { item: d, values: edited }).changes).toEqual(want);
    // Without the manifest's values (they could not be read), the digests still tell.
    expect(compareWithState(st, moved, key, { item: d }).changes).toEqual(want);
    const text = JSON.stringify(compareWithState(st, moved, key, { item: d, values }));
    for (const s of [SECRET, HAND]) expect(findLeak(text, s)).toBeUndefined();
  });

  it('never reports an edit of the manifests: a value, a title, tags', () => {
    const moved = byHand(live, () => undefined);
    const edited = desired({ title: 'Primary', tags: ['prod', 'eu'], fields: d.fields.map((f) => (f.key === 'host' ? field('host', { source: { kind: 'literal', value: 'new-host' } }) : f)) });
    const r = compareWithState(st, moved, key, { item: edited, values: new Map(values).set('host', 'new-host') });
    expect(r.changes).toEqual([]);
    // The tags differ from the manifests, which changed too: named (drift or an edit), never shown as drift.
    expect(r.unattributed).toEqual(['tags']);
    expect(r.note).toMatch(/the manifests changed since the last apply too/);
  });

  it('shows a plain value changed by hand as recorded -> live', () => {
    const moved = byHand(live, setValue('host', 'db2.internal'));
    expect(compareWithState(st, moved, key, { item: d, values }).changes).toEqual([
      { path: 'field host', kind: 'change', sensitive: false, before: 'host-value', after: 'db2.internal' },
    ]);
  });

  it('reports a generated value changed by hand, and cannot tell without a digest made with this key', () => {
    const moved = byHand(live, setValue('admin', HAND));
    expect(compareWithState(st, moved, key, { item: d, values }).changes).toEqual([{ path: 'field admin', kind: 'change', sensitive: true, note: GENERATED_DRIFT_NOTE }]);
    expect(compareWithState(st, moved, Buffer.alloc(32, 9), { item: d, values }).changes).toEqual([]);
  });

  it('reports title, category and tags changed by hand; tags (not in the state) only while the manifests are as applied', () => {
    const moved = byHand(live, (i) => {
      i.title = 'Database (old)';
      i.tags = ['prod', 'legacy'];
    });
    expect(compareWithState(st, moved, key, { item: d, values }).changes).toEqual([
      { path: 'title', kind: 'change', sensitive: false, before: 'Database', after: 'Database (old)' },
      { path: 'tags', kind: 'change', sensitive: false, before: ['prod'], after: ['prod', 'legacy'] },
    ]);
    const cat = byHand(live, (i) => void (i.category = 'LOGIN'));
    expect(compareWithState(st, cat, key, { item: d, values }).changes).toContainEqual({ path: 'category', kind: 'change', sensitive: false, before: 'DATABASE', after: 'LOGIN' });
  });

  it('reports a field removed or added by hand while the manifests are as applied', () => {
    const removed = byHand(live, (i) => void (i.fields = i.fields!.filter((f) => f.label !== 'host')));
    expect(compareWithState(st, removed, key, { item: d, values }).changes).toEqual([{ path: 'field host', kind: 'remove', sensitive: false, note: 'removed outside opsync' }]);
    const added = byHand(live, (i) => void i.fields!.push({ id: 'x'.repeat(26), label: 'extra', type: 'CONCEALED', value: HAND }));
    const r = compareWithState(st, added, key, { item: d, values });
    expect(r.changes).toEqual([{ path: 'field extra', kind: 'add', sensitive: true, note: 'added outside opsync' }]);
    expect(findLeak(JSON.stringify(r), HAND)).toBeUndefined();
  });

  it('leaves out what the manifests ignore', () => {
    const ignoring = desired({ ignore: ['title', 'tags', 'fields.host'] });
    const st2 = recorded(ignoring, live);
    const moved = byHand(live, (i) => {
      i.title = 'x';
      i.tags = [];
      i.fields!.find((f) => f.label === 'host')!.value = 'y';
    });
    expect(compareWithState(st2, moved, key, { item: ignoring, values })).toEqual({ changes: [], unattributed: [] });
  });

  it('compares only what the state records of a resource that left the manifests', () => {
    const moved = byHand(live, (i) => void (i.title = 'Renamed'));
    const r = compareWithState(st, moved, key);
    expect(r.changes).toEqual([{ path: 'title', kind: 'change', sensitive: false, before: 'Database', after: 'Renamed' }]);
    expect(r.note).toMatch(/not in the manifests/);
  });
});

describe('checkRefreshOnlyFlags', () => {
  const none = { rotate: [], replace: [] };
  it('refuses --out, --rotate, --replace and --json-stream, one line each', () => {
    expect(() => checkRefreshOnlyFlags({ ...none })).not.toThrow();
    expect(() => checkRefreshOnlyFlags({ ...none, out: 'p.opsplan' })).toThrow(/cannot be saved or applied/);
    expect(() => checkRefreshOnlyFlags({ ...none, rotate: ['a/b'] })).toThrow(/drop --rotate/);
    expect(() => checkRefreshOnlyFlags({ ...none, replace: ['a/b'] })).toThrow(/drop --replace/);
    expect(() => checkRefreshOnlyFlags({ ...none, jsonStream: true })).toThrow(/--format json/);
  });
});

function refreshOnlyPlan(changes: ResourceChange[], diagnostics: Plan['diagnostics'] = []): Plan {
  return {
    formatVersion: 1,
    opsyncVersion: '0.0.0-test',
    createdAt: '2026-12-01T00:00:00.000Z',
    connectHost: 'http://connect.test',
    state: { lineage: 'l', serial: 3 },
    manifests: ['m.yaml'],
    targets: [],
    rotate: [],
    replace: [],
    mode: 'refresh-only',
    changes,
    diagnostics,
    summary: summarise(changes),
  };
}

const base = (address: string, over: Partial<ResourceChange> = {}): ResourceChange => ({
  address,
  action: 'noop',
  vault: { id: 'v'.repeat(26), name: 'Private' },
  title: address.split('/')[1],
  category: 'LOGIN',
  itemId: 'a'.repeat(26),
  plannedVersion: 3,
  reasons: [],
  changes: [],
  ...over,
});

const drifted = refreshOnlyPlan([
  base('Private/db', {
    reasons: ['drift: changed outside opsync'],
    drift: { stateVersion: 2, liveVersion: 3 },
    changes: [
      { path: 'title', kind: 'change', sensitive: false, before: 'db', after: 'db (old)' },
      { path: 'field password', kind: 'change', sensitive: true, note: VALUE_DRIFT_NOTE },
    ],
  }),
  base('Private/gone', { reasons: ['item was deleted outside opsync'], drift: { stateVersion: 2, liveVersion: 0, liveMissing: true } }),
  base('Private/ok'),
  base('Private/tolerated', { drift: { stateVersion: 2, liveVersion: 3, ignored: true } }),
]);
const quiet = refreshOnlyPlan([base('Private/ok')]);

describe('a refresh-only plan in every view', () => {
  it('counts drift and says manifest changes are not shown', () => {
    expect(hasChanges(drifted)).toBe(true);
    expect(hasChanges(quiet)).toBe(false);
    expect(summaryLine(drifted, true)).toBe(
      'Drift: 2 drifted, 1 changed only in ignored paths (tolerated), 1 in sync; manifest changes not shown (--refresh-only).',
    );
    expect(summaryLine(quiet, false)).toBe('No drift. Live items match what the state recorded: 0 drifted, 1 in sync; manifest changes not shown (--refresh-only).');
    const errored = refreshOnlyPlan([], [{ severity: 'error', message: 'vault x not found' }]);
    expect(summaryLine(errored, false)).toMatch(/^Drift check incomplete: 1 error\(s\) above/);
  });

  it('text: the mode, recorded -> live, no action words', () => {
    const text = renderPlanText(drifted);
    expect(text).toContain('Mode: refresh-only');
    expect(text).toContain('! drift Private/db');
    expect(text).toContain('~ title: "db" -> "db (old)"');
    expect(text).toContain('~ field password: (changed outside opsync)');
    expect(text).toContain('deleted outside opsync');
    expect(text).not.toMatch(/will perform|to create/);
  });

  it('Markdown: a drift check with recorded and live columns and no apply command', () => {
    const md = renderPlanMarkdown(drifted);
    expect(md).toContain('### opsync drift check (plan --refresh-only)');
    expect(md).toContain('| Vault | Drifted | Checked |');
    expect(md).toContain('| ± | Attribute | Recorded | Live |');
    expect(md).toContain('#### Drift');
    expect(md).toContain('<b>Private</b> · 3 drifted, 4 checked</summary>');
    expect(md).not.toMatch(/apply with|Delete \|/);
  });

  it('JSON: mode refresh-only, valid against the schema', () => {
    const schema = JSON.parse(readFileSync(new URL('../../schemas/plan-output.schema.json', import.meta.url), 'utf8')) as object;
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats.default(ajv);
    const validate = ajv.compile(schema);
    for (const plan of [drifted, quiet]) {
      const doc = JSON.parse(renderPlanJson(plan));
      expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
      expect(doc.mode).toBe('refresh-only');
      expect(doc.has_changes).toBe(plan === drifted);
    }
  });

  it('the Ink view says the mode in its header', () => {
    const lines = headerLines(drifted, 200, 10).map((l) => l.text).join('\n');
    expect(lines).toContain('refresh-only: drift since the state recorded it');
    expect(lines).toContain('manifest changes not shown (--refresh-only)');
  });
});

import { describe, expect, it } from 'vitest';
import type { FullItem } from '../../src/connect/types.js';
import type { DesiredField, DesiredItem } from '../../src/manifest/types.js';
import { compare } from '../../src/plan/compare.js';
import { createChanges, diffItem, GENERATED_DRIFT_NOTE, generatedDrift, liveFieldsOf } from '../../src/plan/diff.js';
import { desiredDigest, fieldDigest, fieldDigests, madeWithKey } from '../../src/plan/digest.js';
import { createBody } from '../../src/plan/itemBody.js';
import { hasChanges, summarise, type Plan, type ResourceChange } from '../../src/plan/types.js';
import type { StateResource } from '../../src/state/types.js';
import { findLeak } from '../support/leaks.js';

const SECRET = 'Sup3r-s3cret-value-XYZ';
const pos = { file: 'm.yaml', line: 1, col: 1 };

function field(key: string, over: Partial<DesiredField> = {}): DesiredField {
  return { key, label: key, type: 'STRING', source: { kind: 'literal', value: `${key}-value` }, sensitive: false, pos, ...over };
}

function desired(over: Partial<DesiredItem> = {}): DesiredItem {
  return {
    address: 'Private/db',
    vault: 'Private',
    key: 'db',
    title: 'Database',
    category: 'DATABASE',
    tags: ['prod'],
    urls: [{ href: 'https://db.example.com', primary: true }],
    sections: [{ key: 'conn', label: 'Connection' }],
    fields: [
      field('host', { section: 'conn' }),
      field('password', { type: 'CONCEALED', purpose: 'PASSWORD', sensitive: true, source: { kind: 'env', name: 'DB_PW' } }),
      field('admin', { type: 'CONCEALED', sensitive: true, source: { kind: 'generate', recipe: { length: 20 } } }),
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
]);

/** What Connect would hold after creating `desired()` with `values`. */
function liveOf(d: DesiredItem, v = values): FullItem {
  const body = createBody(d, v);
  return {
    id: 'a'.repeat(26),
    vault: { id: 'v'.repeat(26) },
    version: 3,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    ...body,
    title: body.title,
    category: body.category,
    fields: (body.fields ?? []).map((f, i) => {
      const { generate, recipe, ...rest } = f;
      return { ...rest, id: `f${i}`.padEnd(26, '0'), ...(generate ? { value: 'generated-value-123' } : {}) };
    }),
  };
}

describe('diffItem', () => {
  it('finds nothing to do when live matches', () => {
    const d = desired();
    const diff = diffItem(d, values, liveOf(d), { rotate: new Set() });
    expect(diff.changes).toEqual([]);
    expect(diff.ops).toEqual([]);
    expect(diff.recreate).toBe(false);
  });

  it('patches a changed secret by field id and never shows its value', () => {
    const d = desired();
    const live = liveOf(d, new Map([...values, ['password', 'old-secret']]));
    const diff = diffItem(d, values, live, { rotate: new Set() });
    expect(diff.changes).toEqual([{ path: 'field password', kind: 'change', sensitive: true, note: 'sensitive value changed' }]);
    expect(diff.ops).toEqual([{ op: 'replace', path: `/fields/${live.fields![1].id}/value`, value: SECRET }]);
    expect(JSON.stringify(diff.redactedOps)).not.toContain(SECRET);
    expect(JSON.stringify(diff.changes)).not.toContain('old-secret');
    expect(diff.needsPut).toBe(false);
  });

  it('shows non-secret changes with before and after', () => {
    const d = desired({ title: 'Primary DB', tags: ['prod', 'pg'] });
    const live = liveOf(desired());
    const diff = diffItem(d, values, live, { rotate: new Set() });
    expect(diff.changes).toContainEqual({ path: 'title', kind: 'change', sensitive: false, before: 'Database', after: 'Primary DB' });
    expect(diff.ops).toContainEqual({ op: 'replace', path: '/title', value: 'Primary DB' });
    expect(diff.ops).toContainEqual({ op: 'replace', path: '/tags', value: ['prod', 'pg'] });
  });

  it('needs a full replace to regenerate a rotated field', () => {
    const d = desired();
    const diff = diffItem(d, values, liveOf(d), { rotate: new Set(['admin']) });
    expect(diff.needsPut).toBe(true);
    expect(diff.changes).toEqual([{ path: 'field admin', kind: 'change', sensitive: true, note: 'regenerated on rotation' }]);
    const admin = diff.put.fields!.find((f) => f.label === 'admin')!;
    expect(admin.generate).toBe(true);
    expect(admin.value).toBeUndefined();
    // Other fields keep their ids and values in the replacement.
    expect(diff.put.fields!.find((f) => f.label === 'password')!.id).toBe(liveOf(d).fields![1].id);
  });

  it('recreates on a category change', () => {
    const d = desired({ category: 'LOGIN' });
    expect(diffItem(d, values, liveOf(desired()), { rotate: new Set() }).recreate).toBe(true);
  });

  it('removes fields added outside opsync, but keeps empty built-ins and ignored ones', () => {
    const d = desired();
    const live = liveOf(d);
    live.fields!.push({ id: 'x'.repeat(26), label: 'extra', type: 'CONCEALED', value: 'hidden' });
    live.fields!.push({ id: 'n'.repeat(26), label: 'notesPlain', purpose: 'NOTES', value: '' });
    const diff = diffItem(d, values, live, { rotate: new Set() });
    expect(diff.changes).toEqual([{ path: 'field extra', kind: 'remove', sensitive: true, note: 'field removed' }]);
    expect(diff.ops).toEqual([{ op: 'remove', path: `/fields/${'x'.repeat(26)}` }]);
    expect(JSON.stringify(diff.changes)).not.toContain('hidden');
  });

  it('tolerates drift in ignored paths', () => {
    const d = desired({ ignore: ['tags', 'fields.host'] });
    const live = liveOf(d);
    live.tags = ['changed-by-hand'];
    live.fields![0].value = 'changed-by-hand';
    expect(diffItem(d, values, live, { rotate: new Set() }).changes).toEqual([]);
  });

  it('adds a new field into a new section, sections first', () => {
    const d = desired({
      sections: [...desired().sections, { key: 'extra', label: 'Extra' }],
      fields: [...desired().fields, field('port', { section: 'extra' })],
    });
    const diff = diffItem(d, new Map([...values, ['port', 'port-value']]), liveOf(desired()), { rotate: new Set() });
    const paths = diff.ops.map((o) => `${o.op} ${o.path}`);
    expect(paths).toEqual(['replace /sections', 'add /fields/-']);
    expect(diff.changes).toContainEqual({ path: 'field extra.port', kind: 'add', sensitive: false, after: 'port-value' });
  });

  it('sends purpose fields with the built-in ids of real Connect\'s templates', () => {
    const body = createBody(desired({ fields: [field('user', { purpose: 'USERNAME' }), ...desired().fields, field('notes', { purpose: 'NOTES' })] }), values);
    expect(body.fields!.map((f) => f.id)).toEqual(['username', undefined, 'password', undefined, 'notesPlain']);
  });

  it('takes the live built-in of a purpose for the manifest\'s purpose field, relabelling it, never adding a second', () => {
    const d = desired();
    const live = liveOf(d);
    // Real Connect's template: the built-in password field has id and label "password"; the manifest calls it "db pass".
    const pw = live.fields!.find((f) => f.purpose === 'PASSWORD')!;
    pw.id = 'password';
    const relabelled = desired({ fields: d.fields.map((f) => (f.purpose === 'PASSWORD' ? { ...f, label: 'db pass' } : f)) });
    const diff = diffItem(relabelled, values, live, { rotate: new Set() });
    expect(diff.ops).toEqual([{ op: 'replace', path: '/fields/password/label', value: 'db pass' }]);
    expect(diff.put.fields!.filter((f) => f.purpose === 'PASSWORD')).toHaveLength(1);
  });

  it('never gives two sections one id (real Connect refuses it): ids match first, then labels of free sections', () => {
    const d = desired({ sections: [{ key: 'a', label: 'A' }, { key: 'b', label: 'B' }], fields: [field('x', { section: 'a' }), field('y', { section: 'b' })] });
    const live = { ...liveOf(desired({ sections: [], fields: [] })), sections: [{ id: 'b', label: 'A' }] };
    const diff = diffItem(d, values, live, { rotate: new Set() });
    const ids = diff.put.sections!.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(diff.put.sections).toEqual(expect.arrayContaining([{ id: 'b', label: 'B' }, { id: 'a', label: 'A' }]));
  });

  it('takes the field it made, not the template\'s empty built-in of the same label', () => {
    const d = desired({ category: 'LOGIN', sections: [], tags: [], urls: [], fields: [field('username')] });
    const v = new Map([['username', 'app']]);
    const live = liveOf(d, v);
    // As our server (and real Connect's template) adds them: the built-ins after the fields sent.
    live.fields = [...live.fields!, { id: 'username', label: 'username', type: 'STRING', purpose: 'USERNAME', value: '' }, { id: 'notesPlain', label: 'notesPlain', type: 'STRING', purpose: 'NOTES', value: '' }];
    const diff = diffItem(d, v, live, { rotate: new Set() });
    expect(diff.changes).toEqual([]);
  });

  it('describes a create without secret values', () => {
    const changes = createChanges(desired());
    expect(changes).toContainEqual({ path: 'field password', kind: 'add', sensitive: true, note: 'sensitive value' });
    expect(changes).toContainEqual({ path: 'field admin', kind: 'add', sensitive: true, note: 'generated on create' });
    expect(JSON.stringify(changes)).not.toContain(SECRET);
  });
});

describe('field digests', () => {
  const KEY = Buffer.alloc(32, 1);
  const OTHER = Buffer.alloc(32, 2);

  it('are keyed HMACs that name their key, domain-separated from every other digest', () => {
    const dg = fieldDigest(SECRET, KEY);
    expect(dg).toMatch(/^hmac-sha256:[0-9a-f]{4}:[0-9a-f]{64}$/);
    expect(dg).toBe(fieldDigest(SECRET, KEY));
    expect(fieldDigest(SECRET, OTHER)).not.toBe(dg);
    expect(fieldDigest('other', KEY)).not.toBe(dg);
    expect(madeWithKey(dg, KEY)).toBe(true);
    expect(madeWithKey(dg, OTHER)).toBe(false);
    expect(findLeak(dg, SECRET)).toBeUndefined();
    // Not the plain HMAC of the value, nor a desired digest of an item holding only it.
    const { createHmac } = require('node:crypto') as typeof import('node:crypto');
    expect(dg.split(':')[2]).not.toBe(createHmac('sha256', KEY).update(SECRET).digest('hex'));
    const only = desired({ fields: [field('pw', { source: { kind: 'env', name: 'X' } })] });
    expect(desiredDigest(only, new Map([['pw', SECRET]]), KEY).slice(-64)).not.toBe(dg.slice(-64));
  });

  it('cover every managed field: generated ones from live, others from the resolved values; not unmanaged nor ignored values', () => {
    const d = desired({
      fields: [...desired().fields, field('note', { source: { kind: 'unmanaged' } }), field('port', { source: { kind: 'env', name: 'P' } })],
      ignore: ['fields.port'],
    });
    const live = liveOf(d);
    const out = fieldDigests(d, values, liveFieldsOf(d, live), KEY);
    expect(out).toEqual({
      host: fieldDigest('host-value', KEY),
      password: fieldDigest(SECRET, KEY),
      admin: fieldDigest('generated-value-123', KEY),
    });
    expect(findLeak(JSON.stringify(out), SECRET)).toBeUndefined();
  });

  it('liveFieldsOf matches fields as diffItem does (a purpose built-in of another label)', () => {
    const d = desired();
    const live = liveOf(d);
    const pw = live.fields!.find((f) => f.purpose === 'PASSWORD')!;
    const relabelled = desired({ fields: d.fields.map((f) => (f.purpose === 'PASSWORD' ? { ...f, label: 'db pass' } : f)) });
    expect(liveFieldsOf(relabelled, live).get('password')).toBe(pw);
    expect(liveFieldsOf(d, liveOf(desired({ fields: [] }))).get('admin')).toBeUndefined();
  });

  it('generatedDrift: a generated value whose digest differs from the recorded one, unless ignored, rotated, gone or of another key', () => {
    const d = desired();
    const live = liveOf(d);
    const recorded = { admin: fieldDigest('generated-value-123', KEY) };
    expect(generatedDrift(d, liveFieldsOf(d, live), recorded, new Set(), KEY)).toEqual([]);
    live.fields![2].value = 'set-by-hand-456';
    const lf = liveFieldsOf(d, live);
    expect(generatedDrift(d, lf, recorded, new Set(), KEY)).toEqual([{ path: 'field admin', kind: 'change', sensitive: true, note: GENERATED_DRIFT_NOTE }]);
    expect(generatedDrift(d, lf, undefined, new Set(), KEY)).toEqual([]);
    expect(generatedDrift(d, lf, {}, new Set(), KEY)).toEqual([]);
    expect(generatedDrift(d, lf, recorded, new Set(['admin']), KEY)).toEqual([]);
    expect(generatedDrift(desired({ ignore: ['fields.admin'] }), lf, recorded, new Set(), KEY)).toEqual([]);
    expect(generatedDrift(d, lf, { admin: fieldDigest('generated-value-123', OTHER) }, new Set(), KEY)).toEqual([]);
    expect(generatedDrift(d, new Map(), recorded, new Set(), KEY)).toEqual([]);
  });
});

describe('compare: generated values changed outside opsync', () => {
  const KEY = Buffer.alloc(32, 3);
  const BY_HAND = 'Set-by-hand-Passw0rd!';
  const errors: string[] = [];
  const scope = { key: KEY, error: (m: string) => void errors.push(m) };

  const stateOf = (d: DesiredItem, over: Partial<StateResource> = {}): StateResource => ({
    address: d.address,
    vaultId: 'v'.repeat(26),
    vaultName: 'Private',
    itemId: 'a'.repeat(26),
    title: d.title,
    category: d.category,
    version: 3,
    digest: desiredDigest(d, values, KEY),
    fields: fieldDigests(d, values, liveFieldsOf(d, liveOf(d)), KEY),
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...over,
  });
  const baseOf = (d: DesiredItem): ResourceChange => ({
    address: d.address,
    action: 'noop',
    vault: { id: 'v'.repeat(26), name: 'Private' },
    title: d.title,
    category: d.category,
    reasons: [],
    changes: [],
    desired: d,
    desiredDigest: desiredDigest(d, values, KEY),
  });
  /** Live at version 4, its generated value set by hand. */
  const handEdited = (d: DesiredItem) => {
    const live = liveOf(d);
    live.version = 4;
    live.fields!.find((f) => f.label === 'admin')!.value = BY_HAND;
    return live;
  };
  const planOf = (c: ResourceChange): Plan => ({ changes: [c], summary: summarise([c]) }) as unknown as Plan;

  it('is real drift: a sensitive change noted, not tolerated, a noop with changes; apply records the live digest', () => {
    const d = desired();
    const c = compare(scope, d, baseOf(d), values, handEdited(d), stateOf(d), new Set(), []);
    expect(c.action).toBe('noop');
    expect(c.changes).toEqual([{ path: 'field admin', kind: 'change', sensitive: true, note: 'changed outside opsync (generated value; --rotate to replace it)' }]);
    expect(c.drift).toEqual({ stateVersion: 3, liveVersion: 4 });
    expect(c.reasons).toContain('drift: changed outside opsync');
    expect(hasChanges(planOf(c))).toBe(true);
    expect(c.fieldDigests).toEqual({ host: fieldDigest('host-value', KEY), password: fieldDigest(SECRET, KEY), admin: fieldDigest(BY_HAND, KEY) });
    expect(findLeak(JSON.stringify(c), BY_HAND)).toBeUndefined();
    expect(findLeak(JSON.stringify(c), SECRET)).toBeUndefined();
    expect(errors).toEqual([]);
  });

  it('is tolerated with ignore: [fields.<key>], as before', () => {
    const d = desired({ ignore: ['fields.admin'] });
    const c = compare(scope, d, baseOf(d), values, handEdited(d), stateOf(d), new Set(), []);
    expect(c.action).toBe('noop');
    expect(c.changes).toEqual([]);
    expect(c.drift).toEqual({ stateVersion: 3, liveVersion: 4, ignored: true });
    expect(hasChanges(planOf(c))).toBe(false);
  });

  it('falls back to today\'s behaviour without digests in state (a version 1 state) or under another key', () => {
    const d = desired();
    for (const st of [stateOf(d, { fields: undefined }), stateOf(d, { fields: fieldDigests(d, values, liveFieldsOf(d, liveOf(d)), Buffer.alloc(32, 9)) })]) {
      const c = compare(scope, d, baseOf(d), values, handEdited(d), st, new Set(), []);
      expect(c.changes).toEqual([]);
      expect(c.drift?.ignored).toBe(true);
      expect(c.fieldDigests?.admin).toBe(fieldDigest(BY_HAND, KEY));
    }
  });

  it('is not drift when live did not move, nor for a field being rotated', () => {
    const d = desired();
    const live = handEdited(d);
    live.version = 3;
    expect(compare(scope, d, baseOf(d), values, live, stateOf(d, { digest: 'hmac-sha256:old' }), new Set(), []).changes).toEqual([]);
    const rotated = compare(scope, d, baseOf(d), values, handEdited(d), stateOf(d), new Set(['admin']), []);
    expect(rotated.action).toBe('update');
    expect(rotated.changes).toEqual([{ path: 'field admin', kind: 'change', sensitive: true, note: 'regenerated on rotation' }]);
    expect(rotated.fieldDigests).toBeUndefined();
  });

  it('shows beside other drift of an update, which keeps the live value', () => {
    const d = desired();
    const live = handEdited(d);
    live.title = 'Renamed by hand';
    const c = compare(scope, d, baseOf(d), values, live, stateOf(d), new Set(), []);
    expect(c.action).toBe('update');
    expect(c.changes).toEqual([
      { path: 'title', kind: 'change', sensitive: false, before: 'Renamed by hand', after: 'Database' },
      { path: 'field admin', kind: 'change', sensitive: true, note: GENERATED_DRIFT_NOTE },
    ]);
    expect(c.patch).toEqual([{ op: 'replace', path: '/title', value: 'Database' }]);
  });
});

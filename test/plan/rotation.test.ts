// Rotation policies (issue 17) with an injected clock: durations and month arithmetic, where a policy comes from
// (field, item, vault default), due and not due against a real server in-process, --no-rotate-due, generation
// times recorded on create, rotation and replace, an older state without them, a value changed by hand (drift,
// nothing restarts), and what the plan's renderings say. Nothing sleeps: every plan and apply is given its time.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyPlan } from '../../src/apply/execute.js';
import { ConnectClient } from '../../src/connect/client.js';
import { loadManifests } from '../../src/manifest/load.js';
import type { Manifest, VaultDefaults } from '../../src/manifest/types.js';
import { makePlan, type PlanRequest } from '../../src/plan/build.js';
import { digestKey } from '../../src/plan/digest.js';
import {
  addDuration,
  clockFromEnv,
  dueAt,
  parseRotationDuration,
  ROTATION_EVERY_PATTERN,
  rotationRows,
} from '../../src/plan/rotation.js';
import type { Plan } from '../../src/plan/types.js';
import { parseStateDocument, serialiseState } from '../../src/state/file.js';
import { StateStore } from '../../src/state/store.js';
import type { StateFile } from '../../src/state/types.js';
import { planToJson, renderPlanJson } from '../../src/ui/json.js';
import { renderPlanMarkdown } from '../../src/ui/markdown.js';
import { renderPlanText } from '../../src/ui/text.js';
import { renderRotationsJson, renderRotationsMarkdown, renderRotationsText, rotationsToJson } from '../../src/commands/rotations.js';
import { startTestServer } from '../support/server.js';

const at = (iso: string) => new Date(iso);
const d = (text: string) => parseRotationDuration(text)!;

describe('durations', () => {
  it('reads days, weeks and months, and nothing else', () => {
    expect(parseRotationDuration('90d')).toEqual({ amount: 90, unit: 'd' });
    expect(parseRotationDuration('12w')).toEqual({ amount: 12, unit: 'w' });
    expect(parseRotationDuration('3m')).toEqual({ amount: 3, unit: 'm' });
    for (const bad of ['0d', '90', '1y', '90D', '-1d', '1.5m', 'never', '', '10000d']) expect(parseRotationDuration(bad), bad).toBeUndefined();
  });

  it('days and weeks are 24-hour days in UTC', () => {
    expect(addDuration(at('2026-08-01T09:30:00.000Z'), d('90d')).toISOString()).toBe('2026-10-30T09:30:00.000Z');
    expect(addDuration(at('2026-08-01T09:30:00.000Z'), d('12w')).toISOString()).toBe('2026-10-24T09:30:00.000Z');
    // Across a daylight-saving change of any zone: still exactly 24 hours a day.
    expect(addDuration(at('2026-03-28T12:00:00.000Z'), d('1d')).getTime() - at('2026-03-28T12:00:00.000Z').getTime()).toBe(86_400_000);
  });

  it('months are calendar months: the same day, or the last day of a shorter month, at the same UTC time', () => {
    const plus = (from: string, n: string) => addDuration(at(from), d(n)).toISOString();
    expect(plus('2026-01-15T08:00:00.000Z', '1m')).toBe('2026-02-15T08:00:00.000Z');
    expect(plus('2026-01-31T08:00:00.000Z', '1m')).toBe('2026-02-28T08:00:00.000Z');
    expect(plus('2028-01-31T08:00:00.000Z', '1m')).toBe('2028-02-29T08:00:00.000Z'); // leap year
    expect(plus('2026-03-31T23:59:59.999Z', '1m')).toBe('2026-04-30T23:59:59.999Z');
    expect(plus('2026-11-30T00:00:00.000Z', '3m')).toBe('2027-02-28T00:00:00.000Z'); // across a year
    expect(plus('2026-05-31T00:00:00.000Z', '12m')).toBe('2027-05-31T00:00:00.000Z');
    expect(plus('2026-08-31T00:00:00.000Z', '6m')).toBe('2027-02-28T00:00:00.000Z');
    // Not a chain: 31 Jan + 2m is 31 Mar, not 28 Mar.
    expect(plus('2026-01-31T00:00:00.000Z', '2m')).toBe('2026-03-31T00:00:00.000Z');
  });

  it('never is no due date', () => {
    expect(dueAt('2026-08-01T00:00:00.000Z', 'never')).toBeUndefined();
    expect(dueAt('2026-08-01T00:00:00.000Z', '3m')?.toISOString()).toBe('2026-11-01T00:00:00.000Z');
  });

  it('the schema takes exactly what the engine reads', () => {
    const schema = JSON.parse(readFileSync(new URL('../../schemas/manifest.schema.json', import.meta.url), 'utf8')) as { definitions: Record<string, { pattern?: string }> };
    expect(schema.definitions.rotationEvery.pattern).toBe(ROTATION_EVERY_PATTERN);
  });
});

describe('the clock', () => {
  it('is OPSYNC_NOW when set, else the real time', () => {
    expect(clockFromEnv({ OPSYNC_NOW: '2026-11-01T00:00:00Z' })().toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(clockFromEnv({ OPSYNC_NOW: '2026-11-01' })().toISOString()).toBe('2026-11-01T00:00:00.000Z');
    const real = clockFromEnv({})().getTime();
    expect(Math.abs(real - Date.now())).toBeLessThan(5_000);
  });
  it('refuses an OPSYNC_NOW that is not a timestamp, in one line', () => {
    for (const bad of ['tomorrow', '2026-13-45', '2026-02-30T00:00:00Z', '1700000000']) expect(() => clockFromEnv({ OPSYNC_NOW: bad })(), bad).toThrow(/OPSYNC_NOW: .* is not an ISO 8601 timestamp/);
  });
});

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'opsync-rotation-'));
}

function loadText(text: string, vaultDefaults: Record<string, VaultDefaults> = {}) {
  const dir = tmp();
  writeFileSync(join(dir, 'm.yaml'), text);
  return loadManifests([join(dir, 'm.yaml')], { env: {}, vaultDefaults });
}

describe('manifests', () => {
  it('a policy comes from the field, else its item, else the vault default; a text rotate stays a manual key', () => {
    const { manifest, diagnostics } = loadText(
      `vault: Production
items:
  db:
    rotate: { every: 12w }
    fields:
      password: { generate: { length: 20, rotate: { every: 90d } } }
      pin: { generate: { characterSets: [DIGITS] } }
      keyed: { generate: { rotate: "2026-11" } }
      user: alice
  api:
    fields:
      token: { generate: true }
      legacy: { generate: { rotate: { every: never } } }
  plain:
    fields:
      note: hello
`,
      { Production: { rotate: { every: '3m' } } },
    );
    expect(diagnostics).toEqual([]);
    expect(manifest.rotation).toEqual({
      'Production/db': { password: { every: '90d', from: 'field' }, pin: { every: '12w', from: 'item' }, keyed: { every: '12w', from: 'item' } },
      'Production/api': { token: { every: '3m', from: 'vault' }, legacy: { every: 'never', from: 'field' } },
    });
    const db = manifest.items.find((i) => i.key === 'db')!;
    // The policy is not part of the desired spec (its digest, saved plans): only the manual key is.
    expect(db.fields.find((f) => f.key === 'password')!.source).toEqual({ kind: 'generate', recipe: { length: 20 } });
    expect(db.fields.find((f) => f.key === 'keyed')!.source).toEqual({ kind: 'generate', recipe: {}, rotate: '2026-11' });
  });

  it('without a policy anywhere there is none', () => {
    const { manifest } = loadText('vault: Staging\nitems:\n  db:\n    fields:\n      password: { generate: true }\n', { Production: { rotate: { every: '3m' } } });
    expect(manifest.rotation).toBeUndefined();
  });

  it('refuses a malformed policy at its line, in words', () => {
    const { diagnostics } = loadText(
      `vault: Production
items:
  a:
    rotate: { every: 90 }
    fields:
      p: { generate: { rotate: { every: 90x } } }
  b:
    rotate: { each: 90d }
    fields:
      q: { generate: { rotate: "" } }
`,
    );
    const lines = diagnostics.map((x) => `${x.line}: ${x.message}`);
    expect(lines).toContain('4: items.a.rotate.every must be string');
    expect(lines).toContain('6: items.a.fields.p.generate.rotate.every must be a duration of days, weeks or months (e.g. 90d, 12w, 3m) or never');
    expect(lines.some((l) => l.startsWith('8: ') && l.includes('unknown property'))).toBe(true);
    expect(lines.some((l) => l.startsWith('10: ') && l.includes('items.b.fields.q.generate.rotate'))).toBe(true);
  });
});

describe('state', () => {
  const doc = (generatedAt: unknown) =>
    JSON.stringify({
      version: 2,
      lineage: 'l',
      serial: 1,
      resources: {
        'V/a': { address: 'V/a', vaultId: 'v', vaultName: 'V', itemId: 'i', title: 'a', category: 'LOGIN', version: 1, digest: 'd', updatedAt: '2026-01-01T00:00:00.000Z', ...(generatedAt === undefined ? {} : { generatedAt }) },
      },
      pending: {},
    });
  it('keeps generation times, and reads a state without them', () => {
    const s = parseStateDocument(doc({ password: '2026-08-01T09:30:00.000Z' }), 's.json');
    expect(s.resources['V/a'].generatedAt).toEqual({ password: '2026-08-01T09:30:00.000Z' });
    expect(parseStateDocument(serialiseState(s), 's.json')).toEqual(s);
    expect(parseStateDocument(doc(undefined), 's.json').resources['V/a'].generatedAt).toBeUndefined();
  });
  it('refuses anything but UTC timestamps there (no value rides along)', () => {
    for (const bad of [{ password: 'hunter2-secret' }, { password: 5 }, ['2026-08-01T09:30:00.000Z'], { password: '2026-08-01' }, { password: '2026-02-30T00:00:00Z' }]) {
      expect(() => parseStateDocument(doc(bad), 's.json'), JSON.stringify(bad)).toThrow(/generatedAt/);
    }
  });
});

// Against a real server, in-process, with the clock given to every plan and apply.
let srv: Awaited<ReturnType<typeof startTestServer>>;
let dir: string;

beforeEach(async () => {
  dir = tmp();
  writeFileSync(join(dir, 'seed.yaml'), 'vaults:\n  - name: Production\n  - name: Staging\n');
  srv = await startTestServer({ seedFiles: [join(dir, 'seed.yaml')] });
});

afterEach(async () => {
  await srv.close();
});

const T0 = '2026-08-01T09:30:00.000Z';
const days = (n: number, from = T0) => new Date(Date.parse(from) + n * 86_400_000);

interface Run {
  manifest: Manifest;
  store: StateStore;
  client: ConnectClient;
  key: Buffer;
  plan(now: Date, req?: Partial<PlanRequest>): Promise<Plan>;
  apply(plan: Plan, now: Date): Promise<void>;
  value(address: string, label: string): Promise<string>;
  close(): Promise<void>;
}

async function setup(text: string, vaultDefaults: Record<string, VaultDefaults> = {}): Promise<Run> {
  writeFileSync(join(dir, 'm.yaml'), text);
  const { manifest, diagnostics } = loadManifests([join(dir, 'm.yaml')], { env: {}, vaultDefaults });
  expect(diagnostics).toEqual([]);
  const key = digestKey(srv.token, {});
  const store = await StateStore.open(join(dir, 'state.json'), { lockTimeoutMs: 0, command: 'test' });
  const client = new ConnectClient({ host: srv.url, token: srv.token });
  const run: Run = {
    manifest,
    store,
    client,
    key,
    plan: (now, req = {}) => makePlan({ client, env: {}, key, connectHost: 'test', now: () => now }, { manifest, state: store.state, ...req }),
    apply: async (plan, now) => {
      const result = await applyPlan({ client, env: {}, key, store, now: () => now }, plan, { parallelism: 4 });
      expect(result.failed).toEqual([]);
    },
    value: async (address, label) => {
      const st = store.state.resources[address];
      const item = await client.getItem(st.vaultId, st.itemId);
      return item.fields!.find((f) => f.label === label)!.value!;
    },
    close: async () => {
      store.close();
      await client.close();
    },
  };
  const first = await run.plan(at(T0));
  expect(first.diagnostics.filter((x) => x.severity === 'error')).toEqual([]);
  await run.apply(first, at(T0));
  return run;
}

const DB = `vault: Production
items:
  db:
    category: DATABASE
    fields:
      username: app
      password: { generate: { length: 24, rotate: { every: 90d } } }
`;

describe('plans with an injected clock', () => {
  it('records the generation time on create, plans nothing until due, then rotates with the reason and moves the time', async () => {
    const r = await setup(DB);
    expect(r.store.state.resources['Production/db'].generatedAt).toEqual({ password: T0 });

    const before = await r.plan(days(89));
    expect(before.summary).toMatchObject({ update: 0, noop: 1, rotateDue: 0 });

    const due = await r.plan(days(90));
    const c = due.changes[0];
    expect(c).toMatchObject({ action: 'update', method: 'put', rotate: ['password'] });
    expect(c.reasons).toEqual(['rotation due: generated 2026-08-01, every 90d']);
    expect(c.rotateDue).toEqual([{ field: 'password', every: '90d', generatedAt: T0, recorded: true, dueAt: '2026-10-30T09:30:00.000Z' }]);
    expect(due.summary).toMatchObject({ update: 1, rotateDue: 1 });

    const old = await r.value('Production/db', 'password');
    await r.apply(due, days(91));
    expect(await r.value('Production/db', 'password')).not.toBe(old);
    expect(r.store.state.resources['Production/db'].generatedAt).toEqual({ password: days(91).toISOString() });
    // Rotated: nothing due again until 90 days after the rotation.
    expect((await r.plan(days(91 + 89))).summary).toMatchObject({ update: 0, rotateDue: 0 });
    expect((await r.plan(days(91 + 90))).summary).toMatchObject({ update: 1, rotateDue: 1 });
    await r.close();
  });

  it('--no-rotate-due leaves due rotations out for one run, with a warning naming them', async () => {
    const r = await setup(DB);
    const plan = await r.plan(days(100), { rotateDue: false });
    expect(plan.summary).toMatchObject({ update: 0, noop: 1, rotateDue: 0 });
    expect(plan.diagnostics).toEqual([
      {
        severity: 'warning',
        message: '1 rotation due left out of this plan (--no-rotate-due): Production/db:password; the next plan without --no-rotate-due includes it',
      },
    ]);
    await r.apply(plan, days(100));
    expect(r.store.state.resources['Production/db'].generatedAt).toEqual({ password: T0 });
    expect((await r.plan(days(100))).summary.rotateDue).toBe(1);
    await r.close();
  });

  it('a vault default covers every generated field that says nothing; a field or item policy beats it', async () => {
    const r = await setup(
      `vault: Production
items:
  a:
    fields:
      password: { generate: true }
  b:
    rotate: { every: 1m }
    fields:
      password: { generate: true }
      pin: { generate: { rotate: { every: never } } }
`,
      { Production: { rotate: { every: '12w' } } },
    );
    // 1m from 1 Aug is 1 Sep (31 days); 12w is 84 days.
    const sep1 = await r.plan(at('2026-09-01T09:30:00.000Z'));
    expect(sep1.changes.map((c) => [c.address, c.rotate ?? []])).toEqual([
      ['Production/a', []],
      ['Production/b', ['password']],
    ]);
    expect(sep1.changes[1].reasons).toEqual(['rotation due: password generated 2026-08-01, every 1m']);
    const w12 = await r.plan(days(84));
    expect(w12.changes.map((c) => [c.address, c.rotate ?? []])).toEqual([
      ['Production/a', ['password']],
      ['Production/b', ['password']],
    ]);
    expect(w12.changes[0].reasons).toEqual(['rotation due: generated 2026-08-01, every 12w']);
    expect(w12.summary.rotateDue).toBe(2);
    await r.close();
  });

  it('an item policy rotates all its generated fields, in one reason per generation day and policy', async () => {
    const r = await setup(`vault: Production
items:
  api:
    category: API_CREDENTIAL
    rotate: { every: 30d }
    fields:
      credential: { generate: true }
      secondary: { generate: { characterSets: [LETTERS] } }
      user: svc
`);
    const plan = await r.plan(days(30));
    expect(plan.changes[0].rotate?.sort()).toEqual(['credential', 'secondary']);
    expect(plan.changes[0].reasons).toEqual(['rotation due: credential, secondary generated 2026-08-01, every 30d']);
    expect(plan.summary.rotateDue).toBe(2);
    await r.close();
  });

  it('an item that copies a due value is updated in the same plan, after it', async () => {
    const r = await setup(`vault: Production
items:
  db:
    fields:
      password: { generate: { rotate: { every: 30d } } }
  reader:
    fields:
      password: { type: CONCEALED, value: { ref: "op://Production/db/password" } }
`);
    const plan = await r.plan(days(31));
    const reader = plan.changes.find((c) => c.address === 'Production/reader')!;
    expect(reader.action).toBe('update');
    expect(reader.reasons).toEqual(['Production/db password rotated']);
    expect(reader.refs).toEqual([{ field: 'password', on: 'Production/db', onField: 'password', mode: 'after' }]);
    await r.apply(plan, days(31));
    expect(await r.value('Production/reader', 'password')).toBe(await r.value('Production/db', 'password'));
    expect((await r.plan(days(31))).summary).toMatchObject({ update: 0, noop: 2 });
    await r.close();
  });

  it('--rotate of a due field is a requested rotation, not a due one', async () => {
    const r = await setup(DB);
    const plan = await r.plan(days(100), { rotate: ['Production/db:password'] });
    expect(plan.changes[0].reasons).toEqual(['rotation requested']);
    expect(plan.changes[0].rotateDue).toBeUndefined();
    expect(plan.summary.rotateDue).toBe(0);
    await r.close();
  });

  it('a state without generation times counts from updatedAt, says so, and the next write freezes that time', async () => {
    const r = await setup(DB);
    await r.store.update((s: StateFile) => {
      delete s.resources['Production/db'].generatedAt;
      s.resources['Production/db'].updatedAt = '2026-07-01T00:00:00.000Z';
    });
    const plan = await r.plan(at('2026-09-29T00:00:00.000Z'));
    expect(plan.changes[0].reasons).toEqual(['rotation due: generated by 2026-07-01 (time not recorded), every 90d']);
    expect(plan.changes[0].rotateDue?.[0]).toMatchObject({ recorded: false, generatedAt: '2026-07-01T00:00:00.000Z' });
    // A write that does not rotate (a protect change) records the time it counted from, not the write's.
    writeFileSync(join(dir, 'm.yaml'), DB.replace('    category: DATABASE', '    category: DATABASE\n    protect: true'));
    r.manifest = loadManifests([join(dir, 'm.yaml')], { env: {} }).manifest;
    const protect = await makePlan({ client: r.client, env: {}, key: r.key, connectHost: 'test', now: () => at('2026-08-15T00:00:00.000Z') }, { manifest: r.manifest, state: r.store.state });
    expect(protect.changes[0]).toMatchObject({ action: 'noop', protectChanged: true });
    await r.apply(protect, at('2026-08-15T00:00:00.000Z'));
    expect(r.store.state.resources['Production/db'].generatedAt).toEqual({ password: '2026-07-01T00:00:00.000Z' });
    await r.close();
  });

  it('a value changed outside opsync is drift and restarts nothing', async () => {
    const r = await setup(DB);
    const st = r.store.state.resources['Production/db'];
    const item = await r.client.getItem(st.vaultId, st.itemId);
    const pw = item.fields!.find((f) => f.label === 'password')!;
    await r.client.patchItem(st.vaultId, st.itemId, [{ op: 'replace', path: `/fields/${pw.id}/value`, value: 'changed-by-hand-1' }]);
    const plan = await r.plan(days(10));
    expect(plan.changes[0]).toMatchObject({ action: 'noop', drift: { stateVersion: st.version } });
    expect(plan.changes[0].changes.map((c) => c.note)).toEqual(['changed outside opsync (generated value; --rotate to replace it)']);
    expect(plan.summary.rotateDue).toBe(0);
    await r.apply(plan, days(10)); // accepts the value: its digest, not its generation time
    expect(r.store.state.resources['Production/db'].generatedAt).toEqual({ password: T0 });
    expect((await r.plan(days(90))).summary.rotateDue).toBe(1);
    await r.close();
  });

  it('turning a manual key into a policy regenerates nothing until the policy is due', async () => {
    const keyed = DB.replace('rotate: { every: 90d }', 'rotate: "2026-08"');
    const r = await setup(keyed);
    writeFileSync(join(dir, 'm.yaml'), DB);
    const manifest = loadManifests([join(dir, 'm.yaml')], { env: {} }).manifest;
    const plan = (now: Date) => makePlan({ client: r.client, env: {}, key: r.key, connectHost: 'test', now: () => now }, { manifest, state: r.store.state });
    expect((await plan(days(30))).changes[0].rotate).toBeUndefined();
    expect((await plan(days(90))).changes[0].rotateDue?.map((x) => x.field)).toEqual(['password']);
    await r.close();
  });

  it('a replace records a new time for what it regenerates, and keeps it for what it carries over', async () => {
    const r = await setup(`vault: Production
items:
  db:
    category: DATABASE
    fields:
      password: { generate: { rotate: { every: 90d } } }
      pin: { generate: { characterSets: [DIGITS] } }
`);
    const pin = await r.value('Production/db', 'pin');
    const plan = await r.plan(days(95), { replace: ['Production/db'] });
    const c = plan.changes[0];
    expect(c).toMatchObject({ action: 'replace', rotate: ['password'] });
    expect(c.changes.find((x) => x.path === 'field password')?.note).toBe('regenerated: rotation due');
    expect(c.changes.find((x) => x.path === 'field pin')?.note).toBe('carried over');
    await r.apply(plan, days(95));
    expect(r.store.state.resources['Production/db'].generatedAt).toEqual({ password: days(95).toISOString(), pin: T0 });
    expect(await r.value('Production/db', 'pin')).toBe(pin);
    await r.close();
  });

  it('renders due rotations in text, JSON (against its schema) and Markdown, with no value', async () => {
    const r = await setup(DB);
    const secret = await r.value('Production/db', 'password');
    const plan = await r.plan(days(90));
    const text = renderPlanText(plan);
    expect(text).toContain('# because: rotation due: generated 2026-08-01, every 90d');
    expect(text).toContain('Plan: 0 to create, 1 to update, 0 to replace, 0 to delete, 1 rotation due, 0 unchanged, 0 drifted.');
    const json = planToJson(plan);
    expect(json.summary.rotate_due).toBe(1);
    expect(json.resource_changes[0].rotate_due).toEqual([{ field: 'password', every: '90d', generated_at: T0, generated_at_recorded: true, due_at: '2026-10-30T09:30:00.000Z' }]);
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats.default(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(new URL('../../schemas/plan-output.schema.json', import.meta.url), 'utf8')) as object);
    expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
    const markdown = renderPlanMarkdown(plan);
    expect(markdown).toContain('> <b>Rotations due</b>: 1 generated value is regenerated because its rotation policy is due.');
    expect(markdown).toContain('> - <code>Production/db</code> <code>password</code>: generated 2026-08-01, every 90d, due 2026-10-30');
    expect(markdown).toMatch(/\| Vault \|.*\| Rotations due \|/);
    for (const out of [text, renderPlanJson(plan), markdown]) expect(out).not.toContain(secret);
    await r.close();
  });
});

describe('the rotations table', () => {
  it('lists every managed generated value, soonest due first, then those without a due date', async () => {
    const r = await setup(
      `vault: Production
items:
  db:
    fields:
      password: { generate: { rotate: { every: 90d } } }
  api:
    rotate: { every: 12w }
    fields:
      token: { generate: true }
      spare: { generate: { rotate: { every: never } } }
  plain:
    fields:
      password: { generate: true }
  literal:
    fields:
      user: x
`,
    );
    const now = days(85);
    const rows = rotationRows(r.manifest.items, r.store.state.resources, r.manifest.rotation ?? {}, now);
    expect(rows.map((x) => [x.address, x.field, x.policy?.every ?? null, x.dueAt ?? null, x.overdue])).toEqual([
      ['Production/api', 'token', '12w', '2026-10-24T09:30:00.000Z', true],
      ['Production/db', 'password', '90d', '2026-10-30T09:30:00.000Z', false],
      ['Production/api', 'spare', 'never', null, false],
      ['Production/plain', 'password', null, null, false],
    ]);
    const view = { rows, total: rows.length, overdue: 1, now };
    const text = renderRotationsText(view);
    expect(text).toContain('Rotations as of 2026-10-25: 4 managed generated values; 1 overdue: the next plan rotates it.');
    expect(text).toMatch(/Production\/api\s+token\s+12w \(item\)\s+2026-08-01\s+2026-10-24\s+overdue by 1 day\n/);
    expect(text).toMatch(/Production\/db\s+password\s+90d \(field\)\s+2026-08-01\s+2026-10-30\s+due in 5 days\n/);
    expect(text).toMatch(/Production\/plain\s+password\s+—\s+2026-08-01\s+—\s+no policy\n/);
    const json = rotationsToJson(view);
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats.default(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(new URL('../../schemas/rotations-output.schema.json', import.meta.url), 'utf8')) as object);
    expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
    expect(json.rotations.map((x) => x.status)).toEqual(['overdue', 'due', 'never', 'none']);
    const markdown = renderRotationsMarkdown(view);
    expect(markdown).toContain('| <code>Production/api</code> | <code>token</code> | 12w (item) | 2026-08-01 | 2026-10-24 | <b>overdue by 1 day</b> |');
    const secret = await r.value('Production/db', 'password');
    for (const out of [text, renderRotationsJson(view), markdown]) expect(out).not.toContain(secret);
    await r.close();
  });
});

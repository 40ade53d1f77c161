// The machine formats against their schemas: every --json-stream event type (schemas/events.schema.json) and
// the apply result document (schemas/apply-result.schema.json), built by the same functions the CLI uses.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import type { ApplyEvent, ApplyResult } from '../../src/apply/types.js';
import { applyResultJson, doneDetails, renderApplyResultJson } from '../../src/ui/applyResult.js';
import { createEventStream, jsonLine, planned, planStarted, type EventType } from '../../src/ui/events.js';
import { fixturePlan, noChangePlan, SECRET } from './fixtures/plan.js';
import { validateJson } from '../../src/ui/validateJson.js';

function validator(file: string) {
  const schema = JSON.parse(readFileSync(new URL(`../../schemas/${file}`, import.meta.url), 'utf8')) as object;
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats.default(ajv);
  return ajv.compile(schema);
}

const ALL_TYPES: EventType[] = [
  'plan_started',
  'resource_refreshed',
  'planned',
  'apply_start',
  'apply_complete',
  'apply_errored',
  'apply_skipped',
  'diagnostic',
  'summary',
];

/** A stream's lines as parsed events, stamped at a fixed time. */
function capture() {
  const lines: string[] = [];
  const events = createEventStream((l) => lines.push(l), () => new Date('2025-06-01T12:00:00.000Z'));
  return { events, lines, parsed: () => lines.map((l) => JSON.parse(l) as { type: string; timestamp: string } & Record<string, unknown>) };
}

const applyEvents: ApplyEvent[] = [
  { type: 'start', address: 'Production/stripe-key', action: 'create' },
  { type: 'done', address: 'Production/stripe-key', action: 'create', itemId: 'n3wn3wn3wn3wn3wn3wn3wn3wn3', version: 1 },
  { type: 'start', address: 'Staging/old-token', action: 'delete' },
  { type: 'done', address: 'Staging/old-token', action: 'delete' },
  { type: 'start', address: 'Production/db-primary', action: 'update' },
  { type: 'failed', address: 'Production/db-primary', action: 'update', error: 'Connect answered 403 for PATCH /v1/vaults/v/items/i: Forbidden' },
  { type: 'skipped', address: 'Production/tls-cert', action: 'replace', reason: 'interrupted' },
];

describe('--json-stream events', () => {
  const validate = validator('events.schema.json');
  const plan = fixturePlan();

  function everyEvent() {
    const c = capture();
    c.events.emit('plan_started', planStarted('apply', { connectHost: plan.connectHost, targets: ['Production'] }));
    c.events.emit('plan_started', planStarted('apply', { connectHost: 'local', savedPlan: 'plan.opsplan' }));
    c.events.emit('resource_refreshed', { address: 'Production/db-primary', action: 'update', drifted: false, done: 1, total: 2 });
    c.events.emit('resource_refreshed', { address: 'Production/broken', drifted: false, done: 2, total: 2 });
    c.events.diagnostics(plan.diagnostics);
    c.events.emit('diagnostic', { severity: 'error', message: 'no such vault', pos: { file: 'm.yaml', line: 1, col: 8 } });
    c.events.emit('planned', planned(plan));
    for (const e of applyEvents) c.events.apply(e);
    c.events.emit('summary', { command: 'plan', status: 'planned', has_changes: true, plan: planned(plan).summary });
    c.events.emit('summary', {
      command: 'apply',
      status: 'failed',
      has_changes: true,
      plan: planned(plan).summary,
      operations: { done: 2, failed: 1, skipped: 1 },
      state: { lineage: 'lineage-0001', serial: 14 },
      elapsed_ms: 1234,
    });
    c.events.emit('summary', { command: 'destroy', status: 'errored' });
    return c;
  }

  it('writes one JSON object per line, each valid against the schema', () => {
    const { lines, parsed } = everyEvent();
    for (const line of lines) {
      expect(line.endsWith('\n')).toBe(true);
      expect(line.slice(0, -1)).not.toContain('\n');
    }
    for (const e of parsed()) expect(validate(e), `${e.type}: ${JSON.stringify(validate.errors)}`).toBe(true);
  });

  it('covers every event type, each with type and timestamp first', () => {
    const { lines, parsed } = everyEvent();
    expect(new Set(parsed().map((e) => e.type))).toEqual(new Set(ALL_TYPES));
    for (const l of lines) expect(l).toMatch(/^\{"type":"[a-z_]+","timestamp":"2025-06-01T12:00:00\.000Z",/);
  });

  it('maps apply events to apply_start, apply_complete (item id, version), apply_errored and apply_skipped', () => {
    const c = capture();
    for (const e of applyEvents) c.events.apply(e);
    const [, done, , deleted, , failed, skipped] = c.parsed();
    expect(done).toMatchObject({ type: 'apply_complete', address: 'Production/stripe-key', action: 'create', item_id: 'n3wn3wn3wn3wn3wn3wn3wn3wn3', version: 1 });
    expect(deleted).not.toHaveProperty('item_id');
    expect(failed).toMatchObject({ type: 'apply_errored', error: expect.stringContaining('403') });
    expect(skipped).toMatchObject({ type: 'apply_skipped', reason: 'interrupted' });
  });

  it('the schema refuses what a consumer could trip on', () => {
    const at = { timestamp: '2025-06-01T12:00:00.000Z' };
    expect(validate({ type: 'apply_start', ...at, address: 'a/b' })).toBe(false); // no action
    expect(validate({ type: 'nope', ...at })).toBe(false);
    expect(validate({ type: 'summary', ...at, command: 'plan', status: 'planned', value: 'x' })).toBe(false);
    expect(validate({ type: 'summary', command: 'plan', status: 'planned' })).toBe(false); // no timestamp
  });

  it('holds no value of the plan: the fixture secret is nowhere in the events', () => {
    expect(everyEvent().lines.join('')).not.toContain(SECRET);
  });

  it('escapes terminal controls a title may carry, C1 included, and stays the same JSON', () => {
    const text = 'evil\u001b[2J\u009b31m\u2028x';
    const line = jsonLine({ message: text });
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029](?!$)/);
    expect(JSON.parse(line)).toEqual({ message: text });
  });
});

describe('apply --format json result', () => {
  const validate = validator('apply-result.schema.json');
  const plan = fixturePlan();
  const result: ApplyResult = {
    done: [
      { address: 'Production/stripe-key', action: 'create' },
      { address: 'Staging/old-token', action: 'delete' },
    ],
    failed: [{ address: 'Production/db-primary', action: 'update', error: 'Connect answered 403 for PATCH /v1/vaults/v/items/i: Forbidden' }],
    skipped: [{ address: 'Production/tls-cert', action: 'replace', reason: 'interrupted' }],
    interrupted: true,
    elapsedMs: 1234.6,
  };
  const collected = doneDetails();
  for (const e of applyEvents) collected.onEvent(e);
  const doc = applyResultJson({ command: 'apply', plan, status: 'interrupted', result, details: collected.details, state: { lineage: 'lineage-0001', serial: 15 } });

  it('is valid against its schema, in every status', () => {
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    for (const status of ['applied', 'failed', 'no_changes', 'aborted', 'errored'] as const) {
      const d = applyResultJson({ command: 'destroy', plan: status === 'no_changes' ? noChangePlan() : plan, status, state: { lineage: 'l', serial: 0 } });
      expect(validate(d), `${status}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    const saved = applyResultJson({
      command: 'apply',
      plan,
      status: 'applied',
      result,
      state: { lineage: 'l', serial: 3 },
      savedPlan: 'plan.opsplan',
      extraDiagnostics: [{ severity: 'warning', message: 'deletes 50% of the managed items; applying anyway (--force)' }],
    });
    expect(validate(saved), JSON.stringify(validate.errors)).toBe(true);
  });

  it('lists each operation in plan order with its outcome, item id, version and error', () => {
    const byAddress = new Map(doc.operations.map((o) => [o.address, o]));
    expect(byAddress.get('Production/db-primary')).toEqual({
      address: 'Production/db-primary',
      action: 'update',
      outcome: 'failed',
      item_id: 'a1b2c3d4e5f6g7h8i9j0k1l2m3',
      error: expect.stringContaining('403'),
    });
    expect(byAddress.get('Production/stripe-key')).toEqual({
      address: 'Production/stripe-key',
      action: 'create',
      outcome: 'done',
      item_id: 'n3wn3wn3wn3wn3wn3wn3wn3wn3',
      version: 1,
    });
    expect(byAddress.get('Production/tls-cert')).toEqual({ address: 'Production/tls-cert', action: 'replace', outcome: 'skipped', item_id: 'c3c3c3c3c3c3c3c3c3c3c3c3c3', reason: 'interrupted' });
    // A delete names the item it deleted (the plan's), and has no version after it.
    const deleted = plan.changes.find((c) => c.address === 'Staging/old-token')!;
    expect(byAddress.get('Staging/old-token')).toEqual({ address: 'Staging/old-token', action: 'delete', outcome: 'done', item_id: deleted.itemId });
    const order = plan.changes.map((c) => c.address).filter((a) => byAddress.has(a));
    expect(doc.operations.map((o) => o.address)).toEqual(order);
  });

  it('has the totals, the state serial after, and the plan counts', () => {
    expect(doc.totals).toEqual({
      operations: plan.changes.filter((c) => c.action !== 'noop').length,
      done: 2,
      failed: 1,
      skipped: 1,
      done_by_action: { create: 1, update: 0, replace: 0, delete: 1, forget: 0 },
    });
    expect(doc.state).toEqual({ lineage: 'lineage-0001', serial: 15 });
    expect(doc.elapsed_ms).toBe(1235);
    expect(doc.plan.summary).toEqual(planned(plan).summary);
    expect(doc.diagnostics).toHaveLength(plan.diagnostics.length);
  });

  it('renders as one JSON document without a value', () => {
    const text = renderApplyResultJson({ command: 'apply', plan, status: 'interrupted', result, state: { lineage: 'l', serial: 1 } });
    expect(JSON.parse(text)).toMatchObject({ status: 'interrupted', command: 'apply' });
    expect(text).not.toContain(SECRET);
  });

  it('the schema refuses an operation that failed without its error', () => {
    const bad = { ...doc, operations: [{ address: 'a/b', action: 'update', outcome: 'failed' }] };
    expect(validate(bad)).toBe(false);
  });
});

describe('validate --format json', () => {
  const validate = validator('validate-output.schema.json');
  it('is valid against its schema, valid or not, with each diagnostic at its place', () => {
    const ok = validateJson({ files: [`${process.cwd()}/m.yaml`], items: 3, uncheckedSources: 2, diagnostics: [] });
    expect(validate(ok), JSON.stringify(validate.errors)).toBe(true);
    expect(ok).toMatchObject({ valid: true, files: ['m.yaml'], items: 3, unchecked_sources: 2, error_count: 0, warning_count: 0 });
    const bad = validateJson({
      files: ['/elsewhere/m.yaml'],
      items: 1,
      uncheckedSources: 0,
      diagnostics: [
        { severity: 'error', message: 'items.x.category must be one of ...', file: `${process.cwd()}/m.yaml`, line: 5, col: 15 },
        { severity: 'warning', message: 'something to look at', file: '/elsewhere/m.yaml', line: 1, col: 1 },
      ],
    });
    expect(validate(bad), JSON.stringify(validate.errors)).toBe(true);
    expect(bad).toMatchObject({ valid: false, files: ['/elsewhere/m.yaml'], error_count: 1, warning_count: 1 });
    expect(bad.diagnostics[0]).toEqual({ severity: 'error', message: 'items.x.category must be one of ...', pos: { file: 'm.yaml', line: 5, col: 15 } });
    expect(validate({ ...bad, diagnostics: [{ severity: 'error', message: 'no place' }] })).toBe(false);
  });
});

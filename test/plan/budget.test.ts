// The budget (src/plan/budget.ts): what apply would send for a plan's changes, the warnings of a plan over
// opsync.yaml's budget, the pace of an apply's writes; and the requests and pacing as the JSON plan and the
// apply result carry them, valid against their schemas, in text and Markdown, and never with a value.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import type { ApplyResult } from '../../src/apply/types.js';
import { RequestCounter } from '../../src/connect/cost.js';
import { budgetWarnings, estimateApply, writePacing } from '../../src/plan/budget.js';
import type { Plan, ResourceChange } from '../../src/plan/types.js';
import { applyResultJson } from '../../src/ui/applyResult.js';
import { renderPlanJson } from '../../src/ui/json.js';
import { renderPlanMarkdown } from '../../src/ui/markdown.js';
import { renderApplyResult } from '../../src/ui/progress.js';
import { pacingLine } from '../../src/ui/requests.js';
import { renderPlanText } from '../../src/ui/text.js';
import { fixturePlan, SECRET } from '../ui/fixtures/plan.js';

function validator(file: string) {
  const schema = JSON.parse(readFileSync(new URL(`../../schemas/${file}`, import.meta.url), 'utf8')) as object;
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats.default(ajv);
  return ajv.compile(schema);
}

const V = { id: 'v'.repeat(26), name: 'Production' };

function change(address: string, action: ResourceChange['action'], extra: Partial<ResourceChange> = {}): ResourceChange {
  return { address, action, vault: V, title: address, category: 'LOGIN', reasons: [], changes: [], ...extra };
}

const desired = (fields: { key: string; ref: string }[]) =>
  ({
    address: 'x',
    vault: 'Production',
    title: 'x',
    category: 'LOGIN',
    fields: fields.map((f) => ({ key: f.key, label: f.key, type: 'CONCEALED', source: { kind: 'ref', ref: f.ref } })),
  }) as unknown as ResourceChange['desired'];

function plan(changes: ResourceChange[]): Plan {
  return { ...fixturePlan(), changes, diagnostics: [] };
}

describe('estimateApply', () => {
  it('counts a POST per create, a PUT or PATCH per update, a DELETE per delete, and what apply reads', () => {
    const est = estimateApply(
      plan([
        change('Production/a', 'create'),
        change('Production/b', 'create'),
        change('Production/c', 'update', { method: 'patch', itemId: 'c', plannedVersion: 1 }),
        change('Production/d', 'update', { method: 'put', itemId: 'd', plannedVersion: 1 }),
        change('Production/e', 'delete', { itemId: 'e', plannedVersion: 1 }),
        change('Production/f', 'delete', { itemId: 'f', forgetOnly: true }), // already gone: only forgotten
        change('Production/g', 'noop'),
        change('Production/h', 'forget'),
      ]),
    );
    expect(est.writesByKind).toEqual({ create: 2, update: 1, patch: 1, delete: 1 });
    expect(est.writes).toBe(5);
    // A GET of c, d and e at their planned versions; the vault list first and last; one listing of the vault.
    expect(est.reads).toBe(3 + 2 + 1);
  });

  it('counts a replace as its create and a delete of each item it retires, or the update that finishes it', () => {
    const est = estimateApply(
      plan([
        change('Production/r', 'replace', { itemId: 'old', plannedVersion: 2, replace: { stage: 'create', retire: [{ itemId: 'older', vaultId: V.id }] } }),
        change('Production/s', 'replace', {
          itemId: 'new',
          plannedVersion: 1,
          method: 'put',
          changes: [{ path: 'title', kind: 'change', sensitive: false, before: 'a', after: 'b' }],
          replace: { stage: 'finish', retire: [{ itemId: 'gone', vaultId: V.id }] },
        }),
      ]),
    );
    expect(est.writesByKind).toEqual({ create: 1, update: 1, patch: 0, delete: 3 });
    expect(est.reads).toBe(2 + 2 + 1);
  });

  it('counts the reads of values resolved again: an item referenced by id once, by title twice, a copy from the plan once', () => {
    const est = estimateApply(
      plan([
        change('Production/a', 'create', {
          desired: desired([
            { key: 'k1', ref: `op://Other/${'i'.repeat(26)}/password` },
            { key: 'k2', ref: `op://Other/${'i'.repeat(26)}/username` }, // the same item: read once
            { key: 'k3', ref: 'op://Other/Shared DB/password' },
            { key: 'k4', ref: 'op://Production/b/password' },
          ]),
          refs: [{ field: 'k4', on: 'Production/b', mode: 'after' }],
        }),
        change('Production/b', 'create'),
      ]),
    );
    expect(est.writes).toBe(2);
    expect(est.reads).toBe(2 + 1 + (1 + 2 + 1));
  });

  it('is nothing for a plan without changes', () => {
    expect(estimateApply(plan([change('Production/a', 'noop')]))).toEqual({ writes: 0, writesByKind: { create: 0, update: 0, patch: 0, delete: 0 }, reads: 0 });
  });
});

describe('budgetWarnings', () => {
  const creates = (n: number) => plan(Array.from({ length: n }, (_, i) => change(`Production/i${i}`, 'create')));

  it('warns when the writes pass writesPerHour, saying the pace and how long', () => {
    const warnings = budgetWarnings(creates(1201), { writesPerHour: 1200 }, 2);
    expect(warnings).toEqual([
      {
        severity: 'warning',
        message:
          'this apply needs about 1,201 writes (1,201 create), more than budget.writesPerHour allows (1,200): apply paces them at 0.33/s, about 1 h (--max-writes-per-second sets another pace for one run)',
      },
    ]);
    expect(budgetWarnings(creates(1200), { writesPerHour: 1200 }, 2)).toEqual([]);
    expect(budgetWarnings(creates(1201), undefined, 2)).toEqual([]);
  });

  it('warns when this plan\'s reads and its apply\'s pass readsPerHour', () => {
    // 10 creates: the vault list twice and a listing of the vault; 998 reads planning.
    expect(budgetWarnings(creates(10), { readsPerHour: 1000 }, 997)).toEqual([]);
    const [w] = budgetWarnings(creates(10), { readsPerHour: 1000 }, 998);
    expect(w.message).toBe(
      'this apply needs about 1,001 reads (998 to plan, about 3 to apply), more than budget.readsPerHour allows (1,000): Connect may refuse requests (429) before it is done; apply a saved plan (`opsync plan --out`), or fewer changes at a time (--target)',
    );
    expect(budgetWarnings(plan([change('Production/a', 'noop')]), { readsPerHour: 1 }, 5)).toEqual([]); // nothing to apply
  });

  it('says nothing of a refresh-only plan', () => {
    expect(budgetWarnings({ ...creates(5), mode: 'refresh-only' }, { writesPerHour: 1 }, 0)).toEqual([]);
  });
});

describe('writePacing', () => {
  it('paces at writesPerHour / 3600, or at --max-writes-per-second for one run, or not at all', () => {
    const p = plan(Array.from({ length: 1200 }, (_, i) => change(`Production/i${i}`, 'create')));
    const byBudget = writePacing(p, { writesPerHour: 1200 }, undefined)!;
    expect(byBudget).toMatchObject({ source: 'budget', estimatedWrites: 1200 });
    expect(byBudget.perSecond).toBeCloseTo(1 / 3);
    expect(pacingLine(byBudget, { writesPerHour: 1200 })).toBe('Pacing 1,200 writes at 0.33/s (budget.writesPerHour 1,200): about 1 h.');
    const byFlag = writePacing(p, { writesPerHour: 1200 }, 5)!;
    expect(byFlag).toMatchObject({ source: 'flag', perSecond: 5, estimatedWrites: 1200 });
    expect(pacingLine(byFlag)).toBe('Pacing 1,200 writes at 5/s (--max-writes-per-second 5): about 4 min.');
    expect(writePacing(p, undefined, undefined)).toBeUndefined();
    expect(writePacing(p, { readsPerHour: 10 }, undefined)).toBeUndefined();
  });
});

describe('the requests in each output', () => {
  const counter = new RequestCounter();
  counter.record('GET', '/v1/vaults', false);
  counter.record('GET', '/v1/vaults/{vault}/items', false);
  counter.record('GET', '/v1/vaults/{vault}/items/{item}', false);
  counter.record('GET', '/v1/vaults/{vault}/items/{item}', true);
  const planned: Plan = { ...fixturePlan(), requests: counter.snapshot() };
  const line = 'Connect requests: 4 reads (1 list vaults, 1 list items, 2 get item), 0 writes; 1 retry included (1 get item).';

  it('ends the text plan, after the counts', () => {
    const lines = renderPlanText(planned).trimEnd().split('\n');
    expect(lines.at(-1)).toBe(line);
    expect(lines.at(-2)).toMatch(/^Plan: /);
    expect(renderPlanText(fixturePlan())).not.toContain('Connect requests');
  });

  it('is in the Markdown footer, of every part', () => {
    const md = renderPlanMarkdown(planned);
    expect(md.trimEnd().split('\n').at(-1)).toContain('Connect requests: 4 reads (1 list vaults, 1 list items, 2 get item), 0 writes; 1 retry included (1 get item)');
  });

  it('is in the JSON plan, valid against its schema', () => {
    const json = JSON.parse(renderPlanJson(planned)) as { requests: unknown };
    expect(json.requests).toEqual({
      total: 4,
      reads: 4,
      writes: 0,
      retries: 1,
      by_kind: { list_vaults: 1, get_vault: 0, list_items: 1, get_item: 2, list_files: 0, get_file: 0, get_file_content: 0, list_activity: 0, health: 0, create: 0, update: 0, patch: 0, delete: 0, other: 0 },
      retries_by_kind: { get_item: 1 },
    });
    const validate = validator('plan-output.schema.json');
    expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
  });

  it('ends the text apply and is in the apply result, with the pacing, valid against its schema', () => {
    const c = new RequestCounter();
    c.record('GET', '/v1/vaults', false);
    c.record('POST', '/v1/vaults/{vault}/items', false);
    c.record('POST', '/v1/vaults/{vault}/items', true);
    const result: ApplyResult = {
      done: [{ address: 'Production/stripe-key', action: 'create' }],
      failed: [],
      skipped: [],
      interrupted: false,
      elapsedMs: 10,
      requests: c.snapshot(),
      pacing: { perSecond: 5, source: 'flag', estimatedWrites: 1, estimatedMs: 0 },
    };
    expect(renderApplyResult(result).trimEnd().split('\n').at(-1)).toBe(
      'Connect requests: 1 read (1 list vaults), 2 writes (2 create); 1 retry included (1 create).',
    );
    const doc = applyResultJson({ command: 'apply', plan: fixturePlan(), status: 'applied', result, state: { lineage: 'l', serial: 2 } });
    expect(doc.requests).toMatchObject({ total: 3, reads: 1, writes: 2, retries: 1, retries_by_kind: { create: 1 } });
    expect(doc.pacing).toEqual({ writes_per_second: 5, source: 'flag', estimated_writes: 1, estimated_seconds: 0 });
    const validate = validator('apply-result.schema.json');
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    // Nothing ran (aborted, errored): the run's requests still come with the document.
    const aborted = applyResultJson({ command: 'apply', plan: fixturePlan(), status: 'aborted', state: { lineage: 'l', serial: 2 }, requests: c.snapshot() });
    expect(aborted.requests?.total).toBe(3);
    expect(validate(aborted), JSON.stringify(validate.errors)).toBe(true);
  });

  it('never carries a value', () => {
    for (const out of [renderPlanText(planned), renderPlanMarkdown(planned), renderPlanJson(planned)]) expect(out).not.toContain(SECRET);
  });
});

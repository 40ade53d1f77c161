import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { renderPlanText } from '../../src/ui/text.js';
import { planToJson, renderPlanJson } from '../../src/ui/json.js';
import { md, renderPlanMarkdown } from '../../src/ui/markdown.js';
import { expectGolden } from './golden.js';
import { bigPlan, fixturePlan, noChangePlan, SECRET } from './fixtures/plan.js';
import { summarise, type Plan, type PlanSummary, type ResourceChange } from '../../src/plan/types.js';
import { summaryCounts, summaryLine } from '../../src/ui/present.js';

const schema = JSON.parse(readFileSync(new URL('../../schemas/plan-output.schema.json', import.meta.url), 'utf8')) as object;

function validator() {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats.default(ajv);
  return ajv.compile(schema);
}

describe('plan renderings (golden)', () => {
  it('text', () => expectGolden('plan.txt', renderPlanText(fixturePlan())));
  it('json', () => expectGolden('plan.json', renderPlanJson(fixturePlan())));
  it('markdown', () => expectGolden('plan.md', renderPlanMarkdown(fixturePlan())));
  it('text, no changes', () => expectGolden('plan-nochange.txt', renderPlanText(noChangePlan())));
});

describe('text', () => {
  const text = renderPlanText(fixturePlan());
  it('has one block per shown item with its action words', () => {
    for (const h of [
      '+ create Production/stripe-key',
      '~ update (patch) Production/db-primary',
      '~ update (replace whole item) Production/admin-login',
      '-/+ replace Production/tls-cert',
      '- delete Staging/old-token',
      '. forget Staging/legacy-webhook',
      '> protect Staging/signing-key',
      '! drift (ignored) Staging/cache',
    ]) {
      expect(text.split('\n')).toContain(h);
    }
    expect(text).not.toContain('Production/redis');
  });
  it('shows attributes the Terraform way', () => {
    const lines = text.split('\n');
    expect(lines).toContain('  ~ field connection.password: (sensitive value changed)');
    expect(lines).toContain('  + tag postgres');
    expect(lines).toContain('  - tag staging');
    expect(lines).toContain('  ~ title: "Primary DB" -> "Primary database"');
    expect(lines).toContain('  + field api.credential: (generated on create)');
    expect(lines).toContain('      -Owner: platform team');
    expect(lines).toContain('      +Owner: data team');
  });
  it('ends with the counts', () => {
    expect(text.trimEnd().split('\n').at(-1)).toBe('Plan: 2 to create, 3 to update, 1 to replace, 2 to delete, 2 to move, 1 to (un)protect, 1 to forget, 5 unchanged, 4 drifted.');
    expect(renderPlanText(noChangePlan()).trimEnd().split('\n').at(-1)).toMatch(/^No changes\. /);
  });
  it('is colourless unless asked, and coloured with plain ANSI when asked', () => {
    expect(text).not.toMatch(/\u001b/);
    const prev = process.env.NO_COLOR;
    delete process.env.NO_COLOR;
    try {
      const coloured = renderPlanText(fixturePlan(), { color: true });
      expect(coloured).toContain('\u001b[32m+ create Production/stripe-key\u001b[0m');
      expect(coloured.replace(/\u001b\[[0-9;]*m/g, '')).toBe(text);
      process.env.NO_COLOR = '1';
      expect(renderPlanText(fixturePlan(), { color: true })).toBe(text);
    } finally {
      if (prev === undefined) delete process.env.NO_COLOR;
      else process.env.NO_COLOR = prev;
    }
  });
  it('escapes control characters coming from live values', () => {
    const plan = fixturePlan();
    plan.changes[1].changes[0] = { path: 'title', kind: 'change', sensitive: false, before: 'evil\u001b[2J', after: 'x' };
    plan.changes[1].title = 'bad\u001b]0;title\u0007';
    const out = renderPlanText(plan);
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
    expect(out).toContain('"evil\\u001b[2J" -> "x"');
  });
});

describe('json', () => {
  it('validates against schemas/plan-output.schema.json', () => {
    const validate = validator();
    for (const plan of [fixturePlan(), noChangePlan(), bigPlan(50)]) {
      const ok = validate(JSON.parse(renderPlanJson(plan)));
      expect(validate.errors ?? []).toEqual([]);
      expect(ok).toBe(true);
    }
  });
  it('the schema rejects a sensitive change carrying a value', () => {
    const validate = validator();
    const out = planToJson(fixturePlan());
    out.resource_changes[1].changes.push({ path: 'field x', kind: 'change', sensitive: true, note: 'n', after: 'v' });
    expect(validate(out)).toBe(false);
  });
  it('drops before/after of a sensitive change even if a buggy plan carried them', () => {
    const plan = fixturePlan();
    plan.changes[0].changes.push({ path: 'field leak', kind: 'change', sensitive: true, before: SECRET, after: SECRET });
    expect(renderPlanJson(plan)).not.toContain(SECRET);
    expect(renderPlanText(plan)).not.toContain(SECRET);
    expect(renderPlanMarkdown(plan)).not.toContain(SECRET);
  });
  it('keeps every resource, no-ops included, with snake_case keys', () => {
    const out = planToJson(fixturePlan());
    expect(out.format_version).toBe('1.4');
    expect(out.resource_changes.map((r) => r.action)).toContain('noop');
    const db = out.resource_changes.find((r) => r.address === 'Production/db-primary');
    expect(db).toMatchObject({ method: 'patch', item_id: 'a1b2c3d4e5f6g7h8i9j0k1l2m3', planned_version: 7, drift: { state_version: 5, live_version: 7 } });
  });
});

describe('markdown', () => {
  const out = renderPlanMarkdown(fixturePlan());
  it('puts the counts first and a collapsible section per vault', () => {
    expect(out.split('\n')[2]).toContain('2 to create, 3 to update, 1 to replace, 2 to delete, 2 to move, 1 to (un)protect, 1 to forget, 5 unchanged, 4 drifted');
    expect(out.match(/<details>/g)).toHaveLength(2);
    expect(out.match(/<\/details>/g)).toHaveLength(2);
    expect(out).toContain('<summary><b>Production</b>');
    expect(out).toContain('> [!WARNING]');
  });
  it('escapes values so they cannot break the table or mention anyone', () => {
    expect(out).not.toContain('<b>@ops</b>');
    expect(out).not.toContain('@ops');
    expect(out).toContain('smtp.old &#124; &#60;b&#62;&#64;&#8288;ops&#60;/b&#62;');
    expect(md('a|b`c`@d#1 :x: $y$ [l](u) *e* _f_ ~~g~~ <b>').replace(/&#\d+;/g, '')).not.toMatch(/[|`@#:$[\]*_~<>&]/);
    let cells = 0; // each row has as many cells as its table's header: no stray pipes
    for (const [i, line] of out.split('\n').entries()) {
      if (!line.startsWith('|')) cells = 0;
      else if (cells === 0) cells = line.split('|').length;
      else expect(line.split('|').length, `line ${i + 1}: ${line}`).toBe(cells);
    }
  });
  it('keeps a comment under maxChars: part 1 of the numbered parts, nothing left out (test/ui/markdown.test.ts)', () => {
    const big = renderPlanMarkdown(bigPlan(5000));
    expect(big.length).toBeLessThanOrEqual(65_000);
    expect(big).toMatch(/^### opsync plan · part 1 of \d+\n/);
    expect(big).not.toMatch(/left out/);
    expect(big.match(/<details>/g)?.length ?? 0).toBe(big.match(/<\/details>/g)?.length ?? 0);
    expect(renderPlanMarkdown(bigPlan(5000), { maxChars: Infinity }).length).toBeGreaterThan(65_000);
  });
});

describe('no secret in any rendering', () => {
  const plans: Plan[] = [fixturePlan(), noChangePlan()];
  it('the marker is in the fixture (so the check means something)', () => {
    expect(JSON.stringify(fixturePlan())).toContain(SECRET);
  });
  for (const [name, render] of [
    ['text', (p: Plan) => renderPlanText(p)],
    ['text (colour)', (p: Plan) => renderPlanText(p, { color: true })],
    ['json', renderPlanJson],
    ['markdown', (p: Plan) => renderPlanMarkdown(p)],
  ] as const) {
    it(name, () => {
      for (const p of plans) expect(render(p)).not.toContain(SECRET);
    });
  }
  it('sensitive changes show their note and nothing else', () => {
    const text = renderPlanText(fixturePlan());
    const json = planToJson(fixturePlan());
    for (const rc of json.resource_changes) {
      for (const c of rc.changes.filter((x) => x.sensitive)) {
        expect(Object.keys(c).sort()).toEqual(['kind', 'note', 'path', 'sensitive']);
        const line = text.split('\n').find((l) => l.includes(` ${c.path}:`) && l.includes(`(${c.note})`));
        expect(line, `${rc.address} ${c.path}`).toMatch(new RegExp(`^  [+~-] ${c.path}: \\(.*\\)$`));
      }
    }
  });
});

describe('summary counts', () => {
  const base = (address: string, action: ResourceChange['action'], extra: Partial<ResourceChange> = {}): ResourceChange => ({
    address,
    action,
    vault: { id: 'q4kc2m7bz3x5w9n1r8t6y0v2ha', name: 'Production' },
    title: address,
    category: 'LOGIN',
    reasons: [],
    changes: [],
    ...extra,
  });

  it('summarise counts moves and protect changes beside the action, and forgets as their own action', () => {
    const s = summarise([
      base('Production/a', 'create'),
      base('Production/b', 'noop', { movedFrom: 'Production/old-b' }),
      base('Production/c', 'update', { movedFrom: 'Production/old-c', protectChanged: true, protect: true }),
      base('Production/d', 'noop', { protectChanged: true }),
      base('Production/e', 'forget', { itemId: 'e'.repeat(26) }),
      base('Production/f', 'delete', { forgetOnly: true }),
    ]);
    expect(s).toEqual({ create: 1, update: 1, replace: 0, delete: 1, forget: 1, noop: 2, drifted: 0, move: 2, protect: 2, rotateDue: 0 });
  });

  it('shows the four actions always, the new kinds only when there are any', () => {
    const zero = summarise([]);
    expect(summaryCounts(zero)).toBe('0 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged, 0 drifted');
    expect(summaryCounts({ ...zero, create: 1, move: 1, forget: 1 })).toBe(
      '1 to create, 0 to update, 0 to replace, 0 to delete, 1 to move, 1 to forget, 0 unchanged, 0 drifted',
    );
    expect(summaryCounts({ ...zero, protect: 2, noop: 2 })).toBe('0 to create, 0 to update, 0 to replace, 0 to delete, 2 to (un)protect, 2 unchanged, 0 drifted');
  });

  it('a plan that only moves, protects or forgets is a change, and says which', () => {
    const changes = [base('Production/b', 'noop', { movedFrom: 'Production/a', itemId: 'b'.repeat(26), plannedVersion: 1 }), base('Production/z', 'forget', { itemId: 'z'.repeat(26) })];
    const plan: Plan = { ...fixturePlan(), changes, diagnostics: [], summary: summarise(changes) };
    const text = renderPlanText(plan);
    expect(text.trimEnd().split('\n').at(-1)).toBe('Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 1 to move, 1 to forget, 1 unchanged, 0 drifted.');
    expect(text).toContain('. forget Production/z\n');
    expect(text).toContain('  # will be removed from the state but not destroyed: the item stays in Connect as it is');
    expect(renderPlanMarkdown(plan)).toContain('1 to move, 1 to forget');
    expect(planToJson(plan)).toMatchObject({ has_changes: true, summary: { move: 1, forget: 1, protect: 0 } });
  });

  it('a forget has its own symbol and colour, not a delete\'s', () => {
    const prev = process.env.NO_COLOR;
    delete process.env.NO_COLOR;
    try {
      const coloured = renderPlanText(fixturePlan(), { color: true });
      expect(coloured).toContain('\u001b[34m. forget Staging/legacy-webhook\u001b[0m');
      expect(coloured).toContain('\u001b[31m- delete Staging/old-token\u001b[0m');
    } finally {
      if (prev !== undefined) process.env.NO_COLOR = prev;
    }
  });

  it('a saved plan whose summary predates these counts renders as before, and its JSON has zeros', () => {
    const { move: _m, protect: _p, forget: _f, ...old } = summarise([base('Production/a', 'create')]);
    const plan: Plan = { ...fixturePlan(), changes: [base('Production/a', 'create')], diagnostics: [], summary: old as PlanSummary };
    expect(summaryLine(plan, true)).toBe('Plan: 1 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged, 0 drifted.');
    const json = planToJson(plan);
    expect(json.summary).toEqual({ create: 1, update: 0, replace: 0, delete: 0, forget: 0, noop: 0, drifted: 0, move: 0, protect: 0, rotate_due: 0 });
    expect(validator()(json)).toBe(true);
  });
});

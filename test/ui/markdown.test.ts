// The pull-request Markdown: the table of changed addresses (destructive first), cautions for deletes and
// replaces, warnings for safety limits, every vault's counts, numbered parts under GitHub's comment limit with
// every delete in part 1, the footer, and escaping, checked as text (goldens) and as HTML from a
// GitHub-flavoured renderer (marked, which like GitHub's parser passes raw HTML through before sanitising).
import { marked } from 'marked';
import { describe, expect, it } from 'vitest';
import { checkSafety, DEFAULT_SAFETY } from '../../src/plan/safety.js';
import { summarise, type Plan, type PlanDiagnostic, type ResourceChange } from '../../src/plan/types.js';
import { GITHUB_COMMENT_LIMIT, renderPlanMarkdown, renderPlanMarkdownParts } from '../../src/ui/markdown.js';
import { findLeak } from '../support/leaks.js';
import { expectGolden } from './golden.js';
import { bigPlan, fixturePlan, noChangePlan, SECRET } from './fixtures/plan.js';

const html = (markdown: string): string => marked.parse(markdown, { gfm: true, async: false });

const SECRET_SPEC = fixturePlan().changes.find((c) => JSON.stringify(c.desired ?? {}).includes(SECRET))!.desired;

const VAULTS = ['Production', 'Staging', 'Dev', 'Payments', 'Platform'].map((name, i) => ({ id: `${String(i).repeat(2)}v${'x'.repeat(23)}`, name }));

function change(i: number, action: ResourceChange['action'], vault = VAULTS[Math.floor(i / 7) % VAULTS.length]): ResourceChange {
  const key = `svc-${String(i).padStart(4, '0')}`;
  return {
    address: `${vault.name}/${key}`,
    action,
    ...(action === 'update' ? { method: 'patch' as const } : {}),
    vault,
    title: `Service ${i}`,
    category: 'LOGIN',
    ...(action === 'create' ? {} : { itemId: `i${String(i).padStart(25, '0')}`, plannedVersion: 3 }),
    reasons: [action === 'delete' ? 'removed from the manifests' : action === 'create' ? 'new resource' : 'manifest changed'],
    changes:
      action === 'delete' || action === 'noop'
        ? []
        : action === 'create'
          ? [
              { path: 'title', kind: 'add', sensitive: false, after: `Service ${i}` },
              { path: 'field password', kind: 'add', sensitive: true, note: 'sensitive value' },
            ]
          : [
            { path: 'title', kind: 'change', sensitive: false, before: `Old ${i}`, after: `Service ${i}` },
            { path: 'tags', kind: 'change', sensitive: false, before: ['old'], after: ['old', 'prod'] },
            { path: 'field password', kind: 'change', sensitive: true, note: 'sensitive value changed' },
          ],
    // A desired spec holding a secret value source: no part may show it.
    ...(action === 'delete' ? {} : { desired: SECRET_SPEC }),
  };
}

const SAFETY: PlanDiagnostic = {
  severity: 'warning',
  kind: 'safety',
  message:
    'the plan deletes 600 of 3000 managed item(s) (20%), over the delete limit of 10% by 10% (safety.maxDeletePercent in opsync.yaml; only 3 or more deletes count): apply will refuse this plan without --force',
};

function planOf(changes: ResourceChange[], diagnostics: PlanDiagnostic[] = []): Plan {
  return { ...fixturePlan(), rotate: [], changes, diagnostics, summary: summarise(changes) };
}

/** 5,000 changes over 5 vaults: 600 deletes and 150 replaces spread among 2,000 updates and 2,250 creates. */
function plan5000(): Plan {
  const changes: ResourceChange[] = [];
  for (let i = 0; i < 5000; i++) {
    const action = i % 25 < 3 ? 'delete' : [10, 60, 99].includes(i % 100) ? 'replace' : i % 5 < 2 ? 'update' : 'create';
    changes.push(change(i, action));
  }
  return planOf(changes, [SAFETY]);
}

/** The rows of the table of changes (two cells: action and address; escaping keeps every other | out of a cell). */
const PLAN_5000 = plan5000();
const SPLIT = renderPlanMarkdownParts(PLAN_5000, { commit: '3f9a1c0d5e7b2a4c6e8f0a1b3c5d7e9f1a2b3c4d' });

const tableRows = (part: string) => part.split('\n').filter((l) => l.startsWith('| ') && l.split('|').length === 4 && l !== '| Action | Address |');

describe('the table of changes', () => {
  const out = renderPlanMarkdown(fixturePlan());
  it('lists every changed address once, destructive first, then update, create, forget, state-only, drift', () => {
    const start = out.indexOf('#### Changes');
    const rows = out.slice(start).split('\n\n')[1].split('\n').slice(2);
    expect(rows).toEqual([
      '| <b>delete</b> | Staging/old-token |',
      '| delete (forget only) | Staging/ghost |',
      '| <b>replace</b> · moved from Production/cert | Production/tls-cert |',
      '| update (patch) · drifted | Production/db-primary |',
      '| update (replace whole item) | Production/admin-login |',
      '| update (patch) | Staging/smtp |',
      '| create | Production/stripe-key |',
      '| create · deleted outside opsync | Staging/queue |',
      '| forget | Staging/legacy-webhook |',
      '| moved from Production/gateway | Production/api-gateway |',
      '| protect | Staging/signing-key |',
      '| drift (ignored) | Staging/cache |',
    ]);
    expect(start).toBeLessThan(out.indexOf('<details>'));
  });
  it('has every vault\'s counts, destructive first, zeros written out', () => {
    expect(out).toContain('| Vault | Delete | Replace | Update | Create | Forget | Move | (Un)protect | Drifted | Unchanged |');
    expect(out).toContain('| Production | 0 | <b>1</b> | 2 | 1 | 0 | 2 | 0 | 1 | 2 |');
    expect(out).toContain('| <b>All</b> | <b>2</b> | <b>1</b> | 3 | 2 | 1 | 2 | 1 | 4 | 5 |');
  });
  it('has no empty cell in any table', () => {
    for (const line of out.split('\n').filter((l) => l.startsWith('|'))) {
      expect(line, line).not.toMatch(/\|\s*\|/);
    }
    const doc = html(out);
    expect(doc).not.toMatch(/<td[^>]*>\s*<\/td>/);
    expect(out).toContain('| + | tag prod | <i>absent</i> | <i>added</i> |');
    expect(out).toContain('| - | tag staging | <i>present</i> | <i>removed</i> |');
    expect(out).toContain('| &#126; | field connection.password | <i>sensitive</i> | <i>sensitive value changed</i> |');
  });
  it('a plan without changes has no tables, only the line and the footer', () => {
    const none = renderPlanMarkdown(noChangePlan());
    expect(none).not.toContain('|');
    expect(none).toContain('No changes.');
    expect(none.trimEnd().split('\n').at(-1)).toMatch(/^<sub>opsync 0\.1\.0 · .* · apply with <code>opsync apply<\/code><\/sub>$/);
  });
});

describe('cautions and warnings', () => {
  it('deletes and replaces are cautions, in the summary and on each item; forget-only deletes are not counted', () => {
    const out = renderPlanMarkdown(fixturePlan());
    expect(out).toContain('> [!CAUTION]\n> <b>This plan deletes 1 item and replaces 1 item.</b>');
    expect(out).toContain('#### - delete <code>Staging/old-token</code>\n\nOld deploy token · API&#95;CREDENTIAL · item <code>o1d7o1d7o1d7o1d7o1d7o1d7o1</code> version 9\n\n> [!CAUTION]\n> Deletes this item');
    expect(out).toMatch(/#### -\/\+ replace <code>Production\/tls-cert<\/code>\n\n.*\n\n> \[!CAUTION\]\n> Replaces this item/);
    const ghost = out.slice(out.indexOf('#### - delete (forget only)'));
    expect(ghost.slice(0, ghost.indexOf('####', 5))).not.toContain('[!CAUTION]');
  });
  it('a safety-limit breach is a warning of its own, not a note, before the other diagnostics', () => {
    const plan = fixturePlan();
    plan.diagnostics.push(SAFETY);
    const out = renderPlanMarkdown(plan);
    expect(out).toContain('> [!WARNING]\n> <b>Over the safety limits</b>: `opsync apply` refuses this plan unless given --force.\n>\n> - the plan deletes 600 of 3000');
    expect(out).not.toContain('[!NOTE]');
    expect(out.indexOf('Over the safety limits')).toBeLessThan(out.indexOf('<b>Warnings</b>'));
    expect(out.match(/the plan deletes 600 of 3000/g)).toHaveLength(1);
  });
  it('errors are a caution that nothing can be applied', () => {
    const plan = fixturePlan();
    plan.diagnostics.unshift({ severity: 'error', address: 'Production/db', message: 'ref: Production/x is not declared' });
    expect(renderPlanMarkdown(plan)).toContain('> [!CAUTION]\n> <b>Errors</b>: nothing can be applied until they are fixed.\n>\n> - <b>Error</b> <code>Production/db</code>: ref&#58; Production/x is not declared');
  });
  it('golden: a plan over the safety limit', () => {
    const changes = [change(0, 'delete'), change(1, 'delete'), change(2, 'delete'), change(3, 'replace'), change(4, 'update'), change(5, 'create')];
    const plan = planOf(changes);
    // As `opsync plan` adds them (src/commands/plan.ts), for 20 managed items.
    for (const v of checkSafety(plan, 20, DEFAULT_SAFETY)) {
      plan.diagnostics.push({ severity: 'warning', kind: 'safety', message: `${v.message}: apply will refuse this plan without --force` });
    }
    expect(plan.diagnostics).toHaveLength(1);
    expectGolden('plan-safety.md', renderPlanMarkdown(plan, { commit: '3f9a1c0d5e7b2a4c6e8f0a1b3c5d7e9f1a2b3c4d' }));
  });
});

describe('as GitHub renders it', () => {
  const HOSTILE = '<img src=x onerror=alert(1)><script>alert(1)</script></details></summary>|`x`@team #1';
  function hostilePlan(): Plan {
    const plan = fixturePlan();
    const vault = { id: 'h'.repeat(26), name: `Ops <b>${HOSTILE}` };
    const c = change(9, 'delete', vault);
    c.title = HOSTILE;
    c.address = `${vault.name}/evil`;
    const u = change(10, 'update', vault);
    u.title = `</td></tr></table>${HOSTILE}`;
    u.reasons = [HOSTILE];
    u.changes = [
      { path: `field <i>${HOSTILE}`, kind: 'change', sensitive: false, before: HOSTILE, after: `<svg/onload=alert(1)>` },
      { path: 'tags', kind: 'add', sensitive: false, after: [`<iframe src=javascript:alert(1)>`] },
      { path: 'field notes', kind: 'change', sensitive: false, before: `a\n${HOSTILE}`, after: `b\n<style>*{}</style>` },
    ];
    plan.changes.push(c, u);
    plan.diagnostics.push({ severity: 'warning', address: c.address, message: `title ${HOSTILE}` }, { ...SAFETY, message: `${HOSTILE} limit` });
    plan.targets = [`x<script>`];
    plan.summary = summarise(plan.changes);
    return plan;
  }
  const ALLOWED = new Set(['h3', 'h4', 'p', 'b', 'i', 'code', 'sub', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'blockquote', 'details', 'summary', 'ul', 'li', 'pre', 'br']);

  it('has the tables and the alerts as blockquotes', () => {
    const doc = html(renderPlanMarkdown(fixturePlan()));
    expect(doc.match(/<table>/g)?.length).toBeGreaterThanOrEqual(2);
    expect(doc).toContain('<th>Action</th>');
    expect(doc).toMatch(/<td><b>delete<\/b><\/td>\s*<td>Staging\/old-token<\/td>/);
    expect(doc).toMatch(/<blockquote>\s*<p>\[!CAUTION\]/);
    expect(doc).toMatch(/<blockquote>\s*<p>\[!WARNING\]/);
    expect(doc.match(/<details>/g)).toHaveLength(2);
  });
  it('no tag comes from a title, vault, label, value, reason, target or message', () => {
    const parts = renderPlanMarkdownParts(hostilePlan());
    expect(html(parts[0])).toContain('&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(1)&lt;/script&gt;'); // shown as text
    for (const part of parts) {
      const doc = html(part);
      const tags = new Set([...doc.matchAll(/<\/?([a-zA-Z][\w-]*)/g)].map((m) => m[1].toLowerCase()));
      expect([...tags].filter((t) => !ALLOWED.has(t))).toEqual([]);
      expect(doc).not.toMatch(/<(img|script|svg|iframe|style)\b/i);
      expect(doc).not.toMatch(/<[a-z]+[^>]*\son[a-z]+=/i); // no event handler on any tag
      // A word joiner after @ and # keeps GitHub from mentioning or linking (a diff's code block is literal).
      expect(doc.replace(/<pre>[\s\S]*?<\/pre>/g, '')).not.toMatch(/@team|#1\b/);
      // Every <details> and <table> opened by opsync is closed by opsync: a title cannot close one early.
      expect(doc.match(/<details>/g)?.length).toBe(doc.match(/<\/details>/g)?.length);
      expect(doc.match(/<table>/g)?.length).toBe(doc.match(/<\/table>/g)?.length);
    }
  });
  it('every part of a split plan renders with its tables and closes what it opens', () => {
    for (const part of SPLIT) {
      const doc = html(part);
      expect(doc).toContain('<table>');
      expect(doc.match(/<details>/g)?.length ?? 0).toBe(doc.match(/<\/details>/g)?.length ?? 0);
      expect(doc).not.toMatch(/<td[^>]*>\s*<\/td>/);
    }
  });
});

describe('split into parts', () => {
  const plan = PLAN_5000;
  const parts = SPLIT;
  const deletes = plan.changes.filter((c) => c.action === 'delete');
  const replaces = plan.changes.filter((c) => c.action === 'replace');

  it('keeps each part under GitHub\'s 65,536 characters, numbered', () => {
    expect(parts.length).toBeGreaterThan(2);
    parts.forEach((p, i) => {
      expect(p.length, `part ${i + 1}`).toBeLessThan(GITHUB_COMMENT_LIMIT);
      expect(p.startsWith(`### opsync plan · part ${i + 1} of ${parts.length}\n`)).toBe(true);
      expect(p.trimEnd().split('\n').at(-1)).toContain(`part ${i + 1} of ${parts.length} · commit 3f9a1c0d5e7b2a4c6e8f0a1b3c5d7e9f1a2b3c4d · opsync 0.1.0`);
    });
  });
  it('puts every delete and replace in part 1, first in the table, with the safety warning and every vault\'s counts', () => {
    expect(deletes).toHaveLength(600);
    const rows = tableRows(parts[0]);
    const destructive = rows.slice(0, deletes.length + replaces.length);
    expect(destructive.every((r) => r.startsWith('| <b>delete</b> |') || r.startsWith('| <b>replace</b> |'))).toBe(true);
    for (const c of [...deletes, ...replaces]) expect(parts[0]).toContain(` | ${c.address} |\n`);
    for (const c of [...deletes, ...replaces]) for (const p of parts.slice(1)) expect(p).not.toContain(` | ${c.address} |\n`);
    expect(parts[0]).toContain('> <b>This plan deletes 600 items and replaces 150 items.</b>');
    expect(parts[0]).not.toContain('are at the top of part 2');
    expect(parts[0]).toContain('> <b>Over the safety limits</b>');
    for (const v of VAULTS) {
      const n = summarise(plan.changes.filter((c) => c.vault.name === v.name));
      const b = (k: number) => (k ? `<b>${k}</b>` : '0');
      expect(parts[0]).toContain(`\n| ${v.name} | ${b(n.delete)} | ${b(n.replace)} | ${n.update} | ${n.create} | 0 | 0 |\n`);
    }
  });
  it('lists every address once in the table and every item once in the details, across the parts', () => {
    const all = parts.flatMap(tableRows);
    expect(all).toHaveLength(5000);
    expect(new Set(all.map((r) => r.split(' | ').at(-1))).size).toBe(5000);
    const heads = parts.join('\n').match(/^#### .* <code>[^<]+<\/code>$/gm) ?? [];
    expect(heads).toHaveLength(5000);
    for (const p of parts.slice(1)) expect(p).toMatch(/\(continued\)/);
  });
  it('says nothing is left out and holds no secret', () => {
    for (const p of parts) {
      expect(p).not.toMatch(/left out/);
      expect(findLeak(p, SECRET)).toBeUndefined();
    }
  });
  it('golden: part 1, and the shape of every part', () => {
    expectGolden('plan-5000.1.md', parts[0]);
    const shape = parts.map((p, i) => {
      const heads = p.split('\n').filter((l) => l.startsWith('#### Changes') || l.startsWith('<details>') || l.startsWith('#### More'));
      return `part ${i + 1}: ${p.length} characters, ${tableRows(p).length} table rows\n${heads.map((h) => `  ${h}`).join('\n')}`;
    });
    expectGolden('plan-5000.parts.txt', `${shape.join('\n')}\n`);
  });
  it('when the deletes and replaces alone pass a comment, part 1 has every delete and says how many replaces open part 2', () => {
    const big = bigPlan(5000); // 1,000 deletes and 1,000 replaces: more than one comment's rows
    const split = renderPlanMarkdownParts(big);
    const first = tableRows(split[0]);
    for (const c of big.changes.filter((x) => x.action === 'delete')) expect(split[0]).toContain(` | ${c.address} |\n`);
    const listed = first.filter((r) => r.startsWith('| <b>replace</b>')).length;
    expect(listed).toBeGreaterThan(0);
    expect(split[0]).toContain(`> <b>This part lists ${(1000 + listed).toLocaleString('en-US')} of them; the other ${1000 - listed} are at the top of part 2.</b>`);
    const second = tableRows(split[1]);
    expect(second.slice(0, 1000 - listed).every((r) => r.startsWith('| <b>replace</b>'))).toBe(true);
    for (const p of split) expect(p.length).toBeLessThan(GITHUB_COMMENT_LIMIT);
  });
  it('an item too long for a comment keeps its head and says where the rest is', () => {
    const huge = change(1, 'update');
    huge.changes = [{ path: 'field notes', kind: 'change', sensitive: false, before: 'a', after: Array.from({ length: 4000 }, (_, i) => `line ${i} of a long note`).join('\n') }];
    const split = renderPlanMarkdownParts(planOf([change(0, 'delete'), huge]));
    for (const p of split) expect(p.length).toBeLessThan(GITHUB_COMMENT_LIMIT);
    expect(split.join('\n')).toContain('#### &#126; update (patch) <code>Production/svc-0001</code>');
    expect(split.join('\n')).toContain('<i>Its 1 changed attribute(s) are too long for a comment: `opsync plan` shows them.</i>');
  });
  it('one part when it fits, and Infinity for no limit', () => {
    expect(renderPlanMarkdownParts(fixturePlan())).toHaveLength(1);
    expect(renderPlanMarkdownParts(plan, { maxChars: Infinity })).toHaveLength(1);
  });
});

describe('the footer', () => {
  it('names the commit, the version, when, and how to apply, flags quoted for a shell', () => {
    const plan = fixturePlan();
    plan.targets = ['Production', "it's/x"];
    plan.replace = ['Production/tls-cert'];
    const last = renderPlanMarkdown(plan, { commit: 'abc1234' }).trimEnd().split('\n').at(-1);
    expect(last).toBe(
      "<sub>commit abc1234 · opsync 0.1.0 · plan created 2025-06-01T12&#58;00&#58;00.000Z · apply with <code>opsync apply --target Production --target &#39;it&#39;&#92;&#39;&#39;s/x&#39; --rotate Production/admin-login --replace Production/tls-cert</code></sub>",
    );
    expect(renderPlanMarkdown(plan, { applyCommand: 'opsync apply plan.opsplan' })).toContain('apply with <code>opsync apply plan.opsplan</code></sub>');
    expect(renderPlanMarkdown({ ...fixturePlan(), mode: 'destroy' })).toContain('apply with <code>opsync destroy --rotate Production/admin-login</code>');
    expect(renderPlanMarkdown(plan, { commit: '<b>x' })).toContain('commit <code>&#60;b&#62;x</code>');
  });
});

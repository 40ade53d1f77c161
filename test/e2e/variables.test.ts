// Variables, templates and for_each end to end (issue 16): one manifest applied for two environments, each
// value from another place (--var, --var-file, OPSYNC_VAR_NAME, a default); an element added to and removed
// from the for_each (plans of exactly its items); `opsync render`; errors inside an instance; saved plans
// made with variables. The real CLI as a process against a real opsync server.
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { FullItem } from '../../src/connect/types.js';
import { useSeededProject } from './cli.js';

const SEED = `vaults:
  - name: Production
  - name: Staging
  - name: QA
`;

const ctx = useSeededProject(SEED);
const { cli, write } = ctx;

// Declarations and templates in one document, the environments in another. Each variable's value comes from
// another place: domain --var, owner --var-file, region OPSYNC_VAR_region, db_port its default.
const DECLARATIONS = `variables:
  domain: { type: string, description: the app's DNS domain, validation: { pattern: "^[a-z0-9.-]+$" } }
  owner: { type: string }
  region: { type: string, validation: { allowed: [eu-west-1, us-east-1] } }
  db_port: { type: number, default: 5432 }
templates:
  app:
    tags: [webapp, "\${var.owner}"]
  database:
    extends: app
    category: DATABASE
    sections: { conn: Connection }
    fields:
      username: { purpose: USERNAME, value: app }
      host: { section: conn, value: "db.\${each.key}.\${var.domain}" }
      port: { section: conn, value: "\${var.db_port}" }
      password: { purpose: PASSWORD, value: { env: "\${each.value.password_env}" } }
`;

const ENVIRONMENTS = {
  production: '  production: { vault: Production, password_env: PROD_DB_PASSWORD, size: large }\n',
  staging: '  staging: { vault: Staging, password_env: STAGING_DB_PASSWORD, size: small }\n',
  qa: '  qa: { vault: QA, password_env: QA_DB_PASSWORD, size: small }\n',
};

const manifest = (envs: (keyof typeof ENVIRONMENTS)[]) => `${DECLARATIONS}---
for_each:
${envs.map((e) => ENVIRONMENTS[e]).join('')}vault: \${each.value.vault}
items:
  db:
    extends: database
    title: "Database (\${each.key}, \${var.region})"
  api:
    extends: app
    title: "API \${each.key}"
    category: API_CREDENTIAL
    urls: ["https://api.\${each.key}.\${var.domain}"]
    fields:
      tier: "\${each.value.size}"
      key: { type: CONCEALED, generate: { length: 20 } }
`;

const PASSWORDS = { PROD_DB_PASSWORD: 'prod-pw-1', STAGING_DB_PASSWORD: 'staging-pw-1', QA_DB_PASSWORD: 'qa-pw-1' };
const ENV = { ...PASSWORDS, OPSYNC_VAR_region: 'eu-west-1' };
const VARS = ['--var', 'domain=example.com', '--var-file', 'vars.yaml'];

async function liveItems(vault: string): Promise<FullItem[]> {
  const v = (await ctx.client.findVault(vault))!;
  const list = await ctx.client.listItems(v.id);
  return Promise.all(list.map((s) => ctx.client.getItem(v.id, s.id)));
}

const field = (item: FullItem, label: string) => item.fields!.find((f) => f.label === label);

/** The plan's changes other than no-ops, as "action address", sorted. */
async function planned(extraEnv: Record<string, string> = {}): Promise<string[]> {
  const r = await cli(['plan', 'm.yaml', ...VARS, '--format', 'json'], { ...ENV, ...extraEnv });
  expect(r.code, r.stderr).toBe(0);
  const plan = JSON.parse(r.stdout) as { resource_changes: { address: string; action: string }[] };
  return plan.resource_changes
    .filter((c) => c.action !== 'noop')
    .map((c) => `${c.action} ${c.address}`)
    .sort();
}

async function expectEnvironment(env: 'production' | 'staging' | 'qa', vault: string, password: string): Promise<void> {
  const items = await liveItems(vault);
  expect(items.map((i) => i.title).sort()).toEqual([`API ${env}`, `Database (${env}, eu-west-1)`]);
  const db = items.find((i) => i.title.startsWith('Database'))!;
  expect(db.category).toBe('DATABASE');
  expect(db.tags).toEqual(['webapp', 'team-a']);
  expect(field(db, 'username')?.value).toBe('app');
  expect(field(db, 'host')?.value).toBe(`db.${env}.example.com`);
  expect(field(db, 'port')?.value).toBe('5432');
  expect(field(db, 'password')?.value).toBe(password);
  const api = items.find((i) => i.title.startsWith('API'))!;
  expect(api.category).toBe('API_CREDENTIAL');
  expect(api.urls?.map((u) => u.href)).toEqual([`https://api.${env}.example.com`]);
  expect(field(api, 'tier')?.value).toBe(env === 'production' ? 'large' : 'small');
  expect(field(api, 'key')?.value).toMatch(/^.{20}$/);
}

describe('one manifest, many environments', () => {
  it('applies both environments, plans no changes, then exactly the items of an element added or removed', async () => {
    write('vars.yaml', 'owner: team-a\n');
    write('m.yaml', manifest(['production', 'staging']));
    expect(await planned()).toEqual(['create Production/api', 'create Production/db', 'create Staging/api', 'create Staging/db']);
    let r = await cli(['apply', 'm.yaml', ...VARS, '--auto-approve'], ENV);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expectEnvironment('production', 'Production', PASSWORDS.PROD_DB_PASSWORD);
    await expectEnvironment('staging', 'Staging', PASSWORDS.STAGING_DB_PASSWORD);
    expect(Object.keys(ctx.state().resources).sort()).toEqual(['Production/api', 'Production/db', 'Staging/api', 'Staging/db']);

    r = await cli(['plan', 'm.yaml', ...VARS, '--detailed-exitcode'], ENV);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/No changes/);

    // A third environment: the plan is exactly its creates; the others' items stay as they are.
    write('m.yaml', manifest(['production', 'staging', 'qa']));
    expect(await planned()).toEqual(['create QA/api', 'create QA/db']);
    r = await cli(['apply', 'm.yaml', ...VARS, '--auto-approve'], ENV);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expectEnvironment('qa', 'QA', PASSWORDS.QA_DB_PASSWORD);

    // Removed again: exactly its deletes (2 of 6 managed items: under safety.minItems, so no --force).
    write('m.yaml', manifest(['production', 'staging']));
    expect(await planned()).toEqual(['delete QA/api', 'delete QA/db']);
    r = await cli(['apply', 'm.yaml', ...VARS, '--auto-approve'], ENV);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await liveItems('QA')).toEqual([]);
    expect((await liveItems('Production')).length).toBe(2);
    expect((await liveItems('Staging')).length).toBe(2);
    r = await cli(['plan', 'm.yaml', ...VARS, '--detailed-exitcode'], ENV);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('a value changed by --var is a plan of exactly the items that use it', async () => {
    write('vars.yaml', 'owner: team-a\n');
    write('m.yaml', manifest(['production', 'staging']));
    expect((await cli(['apply', 'm.yaml', ...VARS, '--auto-approve'], ENV)).code).toBe(0);
    // --var beats OPSYNC_VAR_region; the region is in the databases' titles only.
    const r = await cli(['plan', 'm.yaml', ...VARS, '--var', 'region=us-east-1', '--format', 'json'], ENV);
    expect(r.code, r.stderr).toBe(0);
    const changes = (JSON.parse(r.stdout) as { resource_changes: { address: string; action: string; title: string }[] }).resource_changes.filter((c) => c.action !== 'noop');
    expect(changes.map((c) => [c.action, c.address, c.title])).toEqual([
      ['update', 'Production/db', 'Database (production, us-east-1)'],
      ['update', 'Staging/db', 'Database (staging, us-east-1)'],
    ]);
    // A later --var-file beats an earlier one; --var beats both.
    write('more.yaml', 'owner: team-b\ndomain: example.org\n');
    const tags = await cli(['plan', 'm.yaml', '--var-file', 'vars.yaml', '--var-file', 'more.yaml', '--var', 'domain=example.com', '--format', 'json'], ENV);
    expect(tags.code, tags.stderr).toBe(0);
    const updated = (JSON.parse(tags.stdout) as { resource_changes: { address: string; action: string }[] }).resource_changes.filter((c) => c.action !== 'noop');
    expect(updated.map((c) => `${c.action} ${c.address}`).sort()).toEqual(['update Production/api', 'update Production/db', 'update Staging/api', 'update Staging/db']);
    expect(tags.stdout).toContain('team-b');
    expect(tags.stdout).not.toContain('example.org');
  });
});

describe('opsync render', () => {
  it('prints the expanded manifests: every instance, templates merged, value sources as written', async () => {
    write('vars.yaml', 'owner: team-a\n');
    write('m.yaml', manifest(['production', 'staging']));
    const r = await cli(['render', 'm.yaml', ...VARS], ENV);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const docs = parseAllDocuments(r.stdout).map((d) => {
      expect(d.errors).toEqual([]);
      return d.toJS() as unknown;
    });
    const expected = (env: string, vault: string, passwordEnv: string, size: string) => ({
      vault,
      items: {
        db: {
          title: `Database (${env}, eu-west-1)`,
          category: 'DATABASE',
          tags: ['webapp', 'team-a'],
          sections: { conn: 'Connection' },
          fields: {
            username: { purpose: 'USERNAME', value: 'app' },
            host: { section: 'conn', value: `db.${env}.example.com` },
            port: { section: 'conn', value: 5432 },
            password: { purpose: 'PASSWORD', value: { env: passwordEnv } },
          },
        },
        api: {
          title: `API ${env}`,
          category: 'API_CREDENTIAL',
          tags: ['webapp', 'team-a'],
          urls: [`https://api.${env}.example.com`],
          fields: { tier: size, key: { type: 'CONCEALED', generate: { length: 20 } } },
        },
      },
    });
    expect(docs).toEqual([expected('production', 'Production', 'PROD_DB_PASSWORD', 'large'), expected('staging', 'Staging', 'STAGING_DB_PASSWORD', 'small')]);
    // Each document says the file it came from; the environment's secret values are nowhere.
    expect(r.stdout.match(/^# m\.yaml$/gm)).toHaveLength(2);
    for (const v of Object.values(PASSWORDS)) expect(r.stdout).not.toContain(v);

    // JSON: the same documents, per file.
    const j = await cli(['render', 'm.yaml', ...VARS, '--format', 'json'], ENV);
    expect(j.code, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout)).toEqual({ files: [{ file: 'm.yaml', documents: docs }] });

    // Without a value for a variable nobody gave: an error at its use, exit 1, nothing on stdout.
    const unset = await cli(['render', 'm.yaml', '--var-file', 'vars.yaml'], ENV);
    expect(unset.code).toBe(1);
    expect(unset.stdout).toBe('');
    expect(unset.stderr).toContain('variable domain has no value; give it with --var domain=..., a --var-file, OPSYNC_VAR_domain, or a default');
  });
});

describe('opsync render, read back', () => {
  // bugs16.md: a literal ${ (written $${) comes out of render unescaped, so its output means something else.
  it('renders manifests that read back as the same documents, a literal ${ included', async () => {
    write('m.yaml', `for_each: [a, b]\nvault: Production\nitems:\n  x-\${each.key}:\n    title: "X \${each.key} costs $\${price}"\n`);
    const first = await cli(['render', 'm.yaml', '--format', 'json']);
    expect(first.code, first.stderr).toBe(0);
    const yaml = await cli(['render', 'm.yaml']);
    write('rendered.yaml', yaml.stdout);
    const again = await cli(['render', 'rendered.yaml', '--format', 'json']);
    expect(again.code, again.stderr).toBe(0);
    const docs = (r: { stdout: string }) => (JSON.parse(r.stdout) as { files: { documents: unknown[] }[] }).files.flatMap((f) => f.documents);
    expect(docs(again)).toEqual(docs(first));
    expect(JSON.stringify(docs(first))).toContain('X a costs ${price}');
  });
});

describe('errors inside an expansion', () => {
  const BAD = `for_each:
  production: { category: NOPE }
  staging: { category: DATABASE }
vault: \${each.key}
items:
  db:
    title: "Database \${each.key}"
    category: \${each.value.category}
`;

  it('names the instance after the position: file:line:col (for_each "production")', async () => {
    write('m.yaml', BAD);
    const r = await cli(['validate', 'm.yaml']);
    expect(r.code).toBe(1);
    const errors = r.stdout.concat(r.stderr).split('\n').filter((l) => l.includes('error:'));
    // Only production's element is wrong; staging's instance of the same line is fine.
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^m\.yaml:8:15 \(for_each "production"\): error: items\.db\.category must be one of LOGIN, /);

    const j = await cli(['validate', 'm.yaml', '--format', 'json']);
    expect(j.code).toBe(1);
    const doc = JSON.parse(j.stdout) as { valid: boolean; diagnostics: { severity: string; message: string; pos: Record<string, unknown> }[] };
    expect(doc.valid).toBe(false);
    expect(doc.diagnostics).toHaveLength(1);
    expect(doc.diagnostics[0].pos).toEqual({ file: 'm.yaml', line: 8, col: 15, instance: 'for_each "production"' });
  });

  it('an undeclared variable is an error at its use, exit 1', async () => {
    write('m.yaml', `variables:\n  domain: { type: string, default: example.com }\nvault: Production\nitems:\n  db:\n    title: "Database \${var.domian}"\n`);
    const r = await cli(['validate', 'm.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('m.yaml:6:12: error: ${var.domian}: no variable "domian" is declared; did you mean domain?');
    const j = await cli(['validate', 'm.yaml', '--format', 'json']);
    expect(j.code).toBe(1);
    const doc = JSON.parse(j.stdout) as { diagnostics: { message: string; pos: Record<string, unknown> }[] };
    expect(doc.diagnostics.map((d) => d.pos)).toEqual([{ file: 'm.yaml', line: 6, col: 12 }]);
    // plan stops at the same error, before Connect is asked anything.
    const p = await cli(['plan', 'm.yaml']);
    expect(p.code).toBe(1);
    expect(p.stderr).toContain('m.yaml:6:12: error: ${var.domian}');
  });

  it('an error in a template names the template line, the element and the template', async () => {
    write(
      'm.yaml',
      `templates:\n  db:\n    category: DATABASE\n    fields:\n      host: { value: "\${each.value.host}" }\n---\nfor_each:\n  production: { host: db.example.com }\n  staging: {}\nvault: \${each.key}\nitems:\n  db:\n    extends: db\n`,
    );
    const r = await cli(['validate', 'm.yaml', '--format', 'json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { diagnostics: { message: string; pos: Record<string, unknown> }[] };
    expect(doc.diagnostics).toEqual([
      {
        severity: 'error',
        message: expect.stringContaining('each.value has no key "host"'),
        pos: { file: 'm.yaml', line: 5, col: 22, instance: 'for_each "staging", extends "db"' },
      },
    ]);
  });
});

describe('plan errors inside an expansion', () => {
  const TYPO = `for_each: { production: Production, staging: Stagging }\nvault: \${each.value}\nitems:\n  db: { title: DB, fields: { username: app } }\n`;

  it('name the instance on stderr and in the JSON plan', async () => {
    write('m.yaml', TYPO);
    const r = await cli(['plan', 'm.yaml', '--format', 'json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('m.yaml:2:8 (for_each "staging"): error: vault "Stagging" not found');
    const plan = JSON.parse(r.stdout) as { diagnostics: { pos?: Record<string, unknown> }[] };
    expect(plan.diagnostics.map((d) => d.pos)).toEqual([{ file: 'm.yaml', line: 2, col: 8, instance: 'for_each "staging"' }]);
  });

  // The text and Markdown plans print a position with its instance, as stderr does.
  it('name the instance in the text and Markdown plans', async () => {
    write('m.yaml', TYPO);
    const text = await cli(['plan', 'm.yaml']);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('at m.yaml:2:8 (for_each "staging")');
    const md = await cli(['plan', 'm.yaml', '--format', 'markdown']);
    expect(md.stdout).toContain('<code>m.yaml&#58;2&#58;8 (for&#95;each &#34;staging&#34;)</code>');
  });
});

describe('saved plans made with variables', () => {
  const SECRET_LITERAL = `variables:
  api_token: { type: string }
  domain: { type: string }
vault: Production
items:
  api:
    title: API
    urls: ["https://api.\${var.domain}"]
    fields:
      token: { type: CONCEALED, value: "\${var.api_token}", allowLiteral: true }
`;

  it('applies with the same --var', async () => {
    write('m.yaml', SECRET_LITERAL);
    const vars = ['--var', 'api_token=tok-1', '--var', 'domain=example.com'];
    let r = await cli(['plan', 'm.yaml', ...vars, '--out', 'p.opsplan']);
    expect(r.code, r.stderr).toBe(0);
    expect(ctx.read('p.opsplan')).not.toContain('tok-1');
    r = await cli(['apply', 'p.opsplan', ...vars, '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const [item] = await liveItems('Production');
    expect(field(item, 'token')?.value).toBe('tok-1');
    expect(item.urls?.map((u) => u.href)).toEqual(['https://api.example.com']);
  });

  it('refuses another value of a variable that a secret literal takes', async () => {
    write('m.yaml', SECRET_LITERAL);
    let r = await cli(['plan', 'm.yaml', '--var', 'api_token=tok-1', '--var', 'domain=example.com', '--out', 'p.opsplan']);
    expect(r.code, r.stderr).toBe(0);
    r = await cli(['apply', 'p.opsplan', '--var', 'api_token=tok-2', '--var', 'domain=example.com', '--auto-approve']);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/changed since the plan was made/);
    expect(await liveItems('Production')).toEqual([]);
    // Without the variable, its manifests do not load: refused before anything is sent.
    r = await cli(['apply', 'p.opsplan', '--var', 'domain=example.com', '--auto-approve']);
    expect(r.code).toBe(1);
    expect(await liveItems('Production')).toEqual([]);
  });

  // A saved plan holds its non-secret values and applies exactly them, as Terraform's does: --var at apply only
  // gives back the secret literals a plan file never holds (and a different one of those is refused).
  it('applies the non-secret values it planned, whatever --var says at apply', async () => {
    write('m.yaml', SECRET_LITERAL);
    let r = await cli(['plan', 'm.yaml', '--var', 'api_token=tok-1', '--var', 'domain=example.com', '--out', 'p.opsplan']);
    expect(r.code, r.stderr).toBe(0);
    r = await cli(['apply', 'p.opsplan', '--var', 'api_token=tok-1', '--var', 'domain=other.example', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect((await liveItems('Production')).map((i) => i.urls?.map((u) => u.href))).toEqual([['https://api.example.com']]);
  });
});

// Messages a new user meets (issue 14), end to end: the real CLI against a real server. A mistyped vault is one
// error at its `vault:` line with the vaults the token sees and the nearest, and plans no deletes; no message
// repeats the address it is shown with; each command names itself when it refuses to run unattended; the plain
// question on a terminal applies only on `yes` typed in full.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, opsyncFiles, useSeededProject, writeRequests, type CliResult } from './cli.js';

const ctx = useSeededProject(`vaults:
  - name: Production
  - name: Staging
`);

const APPS = Array.from({ length: 6 }, (_, i) => `  app${i + 1}:\n    title: App ${i + 1}\n    category: LOGIN\n    fields:\n      username: { value: user${i + 1} }\n`).join('');

/** Production's db-primary (protected unless told), then a Staging document of six items, whose `vault:` is line 11. */
const MANIFEST = (stagingVault = 'Staging', protect = true) => `vault: Production
items:
  db-primary:
    title: Primary database
    category: DATABASE
    protect: ${protect}
    fields:
      password: { type: CONCEALED, purpose: PASSWORD, generate: true }
      user: { type: STRING, value: admin }
---
vault: ${stagingVault}
items:
${APPS}`;

const snapshot = () => opsyncFiles(ctx.dir);
const writes = () => writeRequests(ctx.client);

async function applied(manifest = MANIFEST()): Promise<void> {
  ctx.write('m.yaml', manifest);
  const r = await ctx.cli(['apply', 'm.yaml', '--auto-approve']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

const errorLines = (text: string) => text.split('\n').filter((l) => /^(Error|Warning):/.test(l));

/** No diagnostic line, on stdout (`Error: A: ...`) or stderr (`[file:l:c: ]error: A: ...`), says its address twice in a row. */
function expectNoDoubledAddress(r: CliResult): void {
  for (const line of (r.stdout + r.stderr).split('\n')) {
    const m = /^(?:\S+:\d+:\d+: )?(?:Error|Warning|error|warning): ([^\s:]+\/[^\s:]+): (.*)$/.exec(line);
    if (m) expect(m[2].startsWith(m[1]), line).toBe(false);
  }
}

describe('a mistyped vault', () => {
  it('is one error at its vault: line, with the visible vaults and "did you mean", and no deletes are planned', async () => {
    await applied();
    ctx.write('m.yaml', MANIFEST('Stagging'));
    const before = { files: snapshot(), writes: await writes() };
    const line = 'Error: vault "Stagging" not found, or this token cannot see it; did you mean Staging? (this token sees Production, Staging)';

    let r = await ctx.cli(['plan', 'm.yaml']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout + r.stderr).not.toMatch(/^\s{4}at /m);
    expect(errorLines(r.stdout)).toEqual([line]);
    const lines = r.stdout.split('\n');
    expect(lines[lines.indexOf(line) + 1]).toBe('  at m.yaml:11:8');
    expect(r.stdout).not.toMatch(/^- delete/m);
    expect(r.stdout).toContain('0 to delete');
    expect(r.stderr).toBe('');

    // JSON: one diagnostic with its position, and no delete among the changes.
    r = await ctx.cli(['plan', 'm.yaml', '--format', 'json']);
    expect(r.code, r.stderr).toBe(1);
    const plan = JSON.parse(r.stdout) as { diagnostics: unknown[]; resource_changes: { actions?: string[]; action?: string; change?: { actions: string[] } }[] };
    expect(plan.diagnostics).toEqual([{ severity: 'error', message: line.slice('Error: '.length), pos: { file: 'm.yaml', line: 11, col: 8 } }]);
    expect(JSON.stringify(plan.resource_changes)).not.toContain('delete');
    expect(r.stderr).toBe(`m.yaml:11:8: error: ${line.slice('Error: '.length)}\n`);

    // apply refuses the same plan and writes nothing; Staging keeps its six items.
    r = await ctx.cli(['apply', 'm.yaml', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(errorLines(r.stdout)).toEqual([line]);
    expect(r.stdout).not.toMatch(/^- delete/m);
    expect(snapshot()).toEqual(before.files);
    expect(await writes()).toBe(before.writes);
    expect(Object.keys(ctx.state().resources).filter((a) => a.startsWith('Staging/'))).toHaveLength(6);
  });

  it('far from every name: the visible vaults, no guess', async () => {
    await applied();
    ctx.write('m.yaml', MANIFEST('Nowhere'));
    const r = await ctx.cli(['plan', 'm.yaml']);
    expect(r.code).toBe(1);
    expect(errorLines(r.stdout)).toEqual(['Error: vault "Nowhere" not found, or this token cannot see it (this token sees Production, Staging)']);
    expect(r.stdout).not.toMatch(/^- delete/m);
  });
});

describe('no message repeats its address', () => {
  it('a protected resource left out of the manifests, in text and on stderr', async () => {
    await applied();
    ctx.write('m.yaml', MANIFEST().replace(/^vault: Production[\s\S]*?---\n/, ''));
    const line = 'Production/db-primary: would be deleted, but it is protected; set protect: false and apply first, or forget it with `opsync state rm Production/db-primary`';
    let r = await ctx.cli(['plan', 'm.yaml']);
    expect(r.code).toBe(1);
    expect(errorLines(r.stdout)).toEqual([`Error: ${line}`]);
    expectNoDoubledAddress(r);
    r = await ctx.cli(['plan', 'm.yaml', '--format', 'json']);
    expect(r.stderr).toBe(`error: ${line}\n`);
    expectNoDoubledAddress(r);
  });

  it('a reference that cannot be resolved, and a replace of a protected item', async () => {
    await applied();
    const broken = MANIFEST().replace('      username: { value: user1 }\n', '      username: { value: { ref: op://Production/Nope/password } }\n');
    ctx.write('m.yaml', broken);
    let r = await ctx.cli(['plan', 'm.yaml']);
    expect(r.code).toBe(1);
    expect(errorLines(r.stdout)).toHaveLength(1);
    expect(errorLines(r.stdout)[0]).toMatch(/^Error: Staging\/app1: field "username": item "Nope" not found in vault "Production"/);
    expectNoDoubledAddress(r);

    ctx.write('m.yaml', MANIFEST().replace('category: DATABASE', 'category: PASSWORD'));
    r = await ctx.cli(['plan', 'm.yaml']);
    expect(r.code).toBe(1);
    expect(errorLines(r.stdout)).toEqual([
      'Error: Production/db-primary: protected, but its category change would replace its item (a new item created, the old one deleted); keep it as it is, or set protect: false first',
    ]);
    expectNoDoubledAddress(r);
  });
});

describe('without a terminal, each command names itself', () => {
  it('destroy and apply say which needs --auto-approve, and change nothing', async () => {
    await applied(MANIFEST('Staging', false));
    const before = { files: snapshot(), writes: await writes() };
    let r = await ctx.cli(['destroy']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('opsync: error: destroy needs --auto-approve when not run on a terminal; nothing was changed\n');
    ctx.write('m.yaml', MANIFEST('Staging', false).replace('value: admin', 'value: root'));
    r = await ctx.cli(['apply', 'm.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('opsync: error: apply needs --auto-approve when not run on a terminal; nothing was changed\n');
    expect(snapshot()).toEqual(before.files);
    expect(await writes()).toBe(before.writes);
  });
});

describe('a usage mistake is one line that says what to do', () => {
  it('an unknown command or option, with the nearest and where the usage is', async () => {
    let r = await ctx.cli(['plna', 'm.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("opsync: error: unknown command 'plna'; did you mean plan? (see `opsync --help`)\n");
    r = await ctx.cli(['plan', 'm.yaml', '--frmat', 'json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("opsync: error: unknown option '--frmat'; did you mean --format? (see `opsync plan --help`)\n");
    r = await ctx.cli(['state', 'rm']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("opsync: error: missing required argument 'addresses' (see `opsync state rm --help`)\n");
  });

  it('an address or item that is not there, with the nearest', async () => {
    await applied(MANIFEST('Staging', false));
    let r = await ctx.cli(['state', 'show', 'Staging/ap1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('opsync: error: Staging/ap1 is not in .opsync/state.json; did you mean Staging/app1, Staging/app2 or Staging/app3? (see `opsync state list`)\n');
    r = await ctx.cli(['import', 'Staging/app1', 'Staging/App1', 'm.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('opsync: error: no item "App1" (by id or exact title) in vault Staging; did you mean "App 1"?\n');
    r = await ctx.cli(['import', 'Staging/app1', 'Stagin/x', 'm.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('opsync: error: vault "Stagin" not found, or this token cannot see it; did you mean Staging? (this token sees Production, Staging)\n');
  });
});

// The plain question (a terminal with --format) on a real pseudo-terminal: tmux, as test/e2e/tty.test.ts.
const hasTmux = existsSync('/usr/bin/tmux') || existsSync('/usr/local/bin/tmux');
const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const sessions: string[] = [];
afterEach(() => {
  for (const s of sessions.splice(0)) {
    try {
      tmux('kill-session', '-t', s);
    } catch {
      /* already gone */
    }
  }
});

/** Runs `opsync ARGS` on a terminal, answers the question with `answer` and Enter; the screen once it exits. */
async function answered(args: string[], answer: string): Promise<string> {
  const name = `opsync-msg-${process.pid}-${sessions.length}`;
  sessions.push(name);
  const command = `env -u CI NO_COLOR=1 OP_CONNECT_HOST=${ctx.env.OP_CONNECT_HOST} OP_CONNECT_TOKEN=${ctx.env.OP_CONNECT_TOKEN} ${process.execPath} ${BIN} ${args.join(' ')}; echo "EXIT=$?"; sleep 60`;
  tmux('new-session', '-d', '-s', name, '-x', '160', '-y', '50', '-c', ctx.dir, command);
  const waitFor = async (pattern: RegExp, what: string) => {
    for (let i = 0; i < 600; i++) {
      const text = tmux('capture-pane', '-p', '-t', name);
      if (pattern.test(text)) return text;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the terminal never showed ${what}; it shows:\n${tmux('capture-pane', '-p', '-t', name)}`);
  };
  const asked = await waitFor(/Enter a value:/, 'the question');
  expect(asked).toContain("Only 'yes' will be accepted to approve.");
  tmux('send-keys', '-t', name, '-l', answer);
  tmux('send-keys', '-t', name, 'Enter');
  return waitFor(/EXIT=\d+/, 'the exit code');
}

describe.skipIf(!hasTmux)('the plain question on a terminal', () => {
  it('a stray y aborts; only yes applies, and destroy asks the same', async () => {
    await applied(MANIFEST('Staging', false));
    ctx.write('m.yaml', MANIFEST('Staging', false).replace('value: admin', 'value: root'));
    const before = { files: snapshot(), writes: await writes() };

    let end = await answered(['apply', 'm.yaml', '--format', 'text'], 'y');
    expect(end).toContain('Apply these changes on');
    expect(end).toContain("Aborted: nothing was changed. Only 'yes', typed in full, approves.");
    expect(end).toContain('EXIT=1');
    expect(snapshot()).toEqual(before.files);
    expect(await writes()).toBe(before.writes);

    end = await answered(['apply', 'm.yaml', '--format', 'text'], 'yes');
    expect(end).toContain('Apply complete: 1 done');
    expect(end).toContain('EXIT=0');

    end = await answered(['destroy', '--format', 'text'], 'y');
    expect(end).toContain('Destroy these items on');
    expect(end).toContain('EXIT=1');
    expect(Object.keys(ctx.state().resources)).toHaveLength(7);
  });
});

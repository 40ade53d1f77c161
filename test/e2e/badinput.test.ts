// Bad input, end to end: the real CLI against a real server. Every user mistake (and every hostile file) is
// one line on stderr naming what and where, exit 1, no stack trace, no hang, nothing half-written: YAML alias
// bombs, FIFOs and devices where files belong, a state under a regular file, state files with a bad version,
// edited or malformed saved plans, binary {file:} sources, and escape sequences in keys and titles.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnCli, useSeededProject, type CliResult } from './cli.js';

const SEED = `vaults:
  - name: Production
    items:
      - title: Not managed
        category: PASSWORD
        fields:
          - { label: password, type: CONCEALED, purpose: PASSWORD, value: unmanaged-Secret-9931 }
      - title: "Evil\\e[31m\\n::warning::x"
        category: LOGIN
      - title: "Evil\\e[31m\\n::warning::x"
        category: LOGIN
`;

const ctx = useSeededProject(SEED);
const { read, state } = ctx;
const write = (path: string, text: string) => {
  mkdirSync(dirname(join(ctx.dir, path)), { recursive: true });
  ctx.write(path, text);
};

/** The CLI with a deadline: a hang is a failure with what it printed so far, not a test timeout. */
function cli(args: string[], extraEnv: Record<string, string | undefined> = {}, deadlineMs = 30_000): Promise<CliResult & { hung: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, { cwd: ctx.dir, env: { ...ctx.env, ...extraEnv } });
    let stdout = '';
    let stderr = '';
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, deadlineMs);
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, hung });
    });
  });
}

/** Exit 1 with exactly one line on stderr matching `pattern`, and no stack trace anywhere. */
function expectOneLine(r: CliResult & { hung: boolean }, pattern: RegExp): void {
  expect(r.hung, `hung; stderr so far: ${r.stderr}`).toBe(false);
  expect(r.stderr + r.stdout).not.toMatch(/^\s{4}at /m);
  expect(r.stderr).not.toContain('internal error');
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr.split('\n').filter(Boolean), r.stderr).toHaveLength(1);
  expect(r.stderr.trimEnd()).toMatch(pattern);
}

const MANIFEST = (items: string[]) =>
  `vault: Production\nitems:\n${items.map((k) => `  ${k}:\n    category: PASSWORD\n    fields:\n      password: { type: CONCEALED, purpose: PASSWORD, generate: true }\n`).join('')}`;

const mkfifo = (path: string) => execFileSync('mkfifo', [join(ctx.dir, path)]);

describe('crashes and hangs become one line', () => {
  it('YAML alias bombs and undefined aliases, in manifests and in opsync.yaml', async () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) levels.push(`${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(10).fill(`*${'abcdefghi'[i - 1]}`).join(', ')}]`);
    write('bomb.yaml', `vault: Production\n${levels.join('\n')}\nitems: {}\n`);
    expectOneLine(await cli(['validate', 'bomb.yaml']), /^bomb\.yaml:3:\d+: error: YAML: aliases expand to more than 100 nodes/);

    write('undef.yaml', 'vault: Production\nitems:\n  x: *nope\n');
    expectOneLine(await cli(['validate', 'undef.yaml']), /^undef\.yaml:3:6: error: YAML: alias \*nope has no anchor &nope before it$/m);

    write('opsync.yaml', 'parallelism: *nope\n');
    expectOneLine(await cli(['validate', 'undef.yaml']), /^opsync\.yaml:1:1: error: YAML: an alias has no anchor before it$/);
  });

  it('a manifest that is /dev/zero, a FIFO or a folder of FIFOs; {file:} sources that are devices or FIFOs', async () => {
    expectOneLine(await cli(['validate', '/dev/zero']), /^\/dev\/zero:1:1: error: cannot read: is a character device; only regular files are read$/);
    expectOneLine(await cli(['plan', '/dev/zero']), /^\/dev\/zero:1:1: error: cannot read: is a character device/);
    expectOneLine(await cli(['apply', '/dev/zero', '--auto-approve']), /^\/dev\/zero:1:1: error: cannot read: is a character device/);
    mkfifo('fifo.yaml');
    expectOneLine(await cli(['validate', 'fifo.yaml']), /^fifo\.yaml:1:1: error: cannot read: is a FIFO \(named pipe\); only regular files are read$/);
    expectOneLine(await cli(['--config', '/dev/zero', 'validate', 'fifo.yaml']), /^opsync: error: cannot read config file \/dev\/zero: is a character device/);
    expectOneLine(await cli(['--config', 'fifo.yaml', 'validate', 'fifo.yaml']), /^opsync: error: cannot read config file fifo\.yaml: is a FIFO/);
    write('manifests/ok.yaml', MANIFEST(['a']));
    mkfifo('manifests/pipe.yaml');
    expectOneLine(await cli(['plan', 'manifests']), /^manifests\/pipe\.yaml:1:1: error: cannot read: is a FIFO/);
    write('f.yaml', 'vault: Production\nitems:\n  x:\n    fields:\n      a: { type: CONCEALED, value: { file: /dev/zero } }\n');
    expectOneLine(await cli(['validate', '--check-sources', 'f.yaml']), /^f\.yaml:5:\d+: error: field "a": file \/dev\/zero is not a regular file \(a device\)$/);
    write('f.yaml', 'vault: Production\nitems:\n  x:\n    fields:\n      a: { type: CONCEALED, value: { file: fifo.yaml } }\n');
    expectOneLine(await cli(['validate', '--check-sources', 'f.yaml']), /^f\.yaml:5:\d+: error: field "a": file fifo\.yaml is not a regular file \(a FIFO\)$/);
  });

  it('a manifest or a {file:} source over its size limit', async () => {
    write('big.yaml', `vault: Production\nitems: {}\n# ${'x'.repeat(10 * 1024 * 1024)}\n`);
    expectOneLine(await cli(['validate', 'big.yaml']), /^big\.yaml:1:1: error: cannot read: is larger than 10 MiB/);
    write('big.pem', 'x'.repeat(1024 * 1024 + 1));
    write('f.yaml', 'vault: Production\nitems:\n  x:\n    fields:\n      a: { type: CONCEALED, value: { file: big.pem } }\n');
    expectOneLine(await cli(['validate', '--check-sources', 'f.yaml']), /^f\.yaml:5:\d+: error: field "a": file big\.pem is larger than 1 MiB$/);
  });

  it('--state under a regular file, a FIFO or a device as the state', async () => {
    write('m.yaml', MANIFEST(['a']));
    write('somefile', 'not a folder\n');
    expectOneLine(await cli(['plan', 'm.yaml', '--state', 'somefile/state.json']), /^opsync: error: cannot read state somefile\/state\.json: a part of its path is a file, not a folder$/);
    expectOneLine(await cli(['state', 'list', '--state', 'somefile/state.json']), /^opsync: error: cannot read state somefile\/state\.json: a part of its path is a file/);
    // apply takes the lock beside the state first: its folder is the file.
    expectOneLine(await cli(['apply', 'm.yaml', '--auto-approve', '--state', 'somefile/state.json']), /^opsync: error: cannot create the state folder somefile: a file is in the way$/);
    expect(read('somefile')).toBe('not a folder\n');
    mkfifo('state.fifo');
    expectOneLine(await cli(['plan', 'm.yaml', '--state', 'state.fifo']), /^opsync: error: cannot read state state\.fifo: is a FIFO \(named pipe\); only regular files are read$/);
    expectOneLine(await cli(['apply', 'm.yaml', '--auto-approve', '--state', 'state.fifo']), /^opsync: error: cannot read state state\.fifo: is a FIFO/);
    expectOneLine(await cli(['plan', 'm.yaml', '--state', '/dev/zero']), /^opsync: error: cannot read state \/dev\/zero: is a character device/);
  });
});

describe('state version', () => {
  const base = () => ({ lineage: 'l-1', serial: 3, resources: {}, pending: {} });
  for (const [what, doc, pattern] of [
    ['a string version', { ...base(), version: '1' }, /"version" must be a whole number, not "1"/],
    ['a fractional version', { ...base(), version: 1.5 }, /"version" must be a whole number, not 1\.5/],
    ['a negative version', { ...base(), version: -1 }, /"version" must be a whole number, not -1/],
    ['a missing version on a v1 shape', base(), /"version" is missing and it is not an old \(v0\) state file/],
    ['version 0 on a v1 shape', { ...base(), version: 0 }, /says state format 0 but does not have that format's shape/],
    ['a newer version', { ...base(), version: 4 }, /has state format 4; this opsync reads up to 3: upgrade opsync/],
  ] as const) {
    it(`refuses ${what}, naming the file, and leaves it as it was`, async () => {
      write('m.yaml', MANIFEST(['a']));
      const text = `${JSON.stringify(doc, null, 2)}\n`;
      write('.opsync/state.json', text);
      for (const args of [['state', 'list'], ['plan', 'm.yaml'], ['apply', 'm.yaml', '--auto-approve']]) {
        const r = await cli(args);
        expectOneLine(r, /^opsync: error: (cannot read )?state \.opsync\/state\.json/);
        expect(r.stderr).toMatch(pattern);
      }
      expect(read('.opsync/state.json')).toBe(text);
    });
  }

  it('migrates a v0 file (resources under items, no version)', async () => {
    write('.opsync/state.json', JSON.stringify({ lineage: 'l-0', serial: 1, items: {} }));
    const r = await cli(['state', 'list']);
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('edited and malformed saved plans', () => {
  const unmanagedId = async () => (await ctx.client.findItemsByTitle((await ctx.client.findVault('Production'))!.id, 'Not managed'))[0].id;

  it('refuses a delete whose itemId was edited to an item opsync does not manage; nothing is sent', async () => {
    write('m.yaml', MANIFEST(['a', 'b']));
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
    write('m.yaml', MANIFEST(['a']));
    expect((await cli(['plan', 'm.yaml', '-out', 'p.opsplan'])).code).toBe(0);
    const plan = JSON.parse(read('p.opsplan'));
    const del = plan.changes.find((c: { action: string }) => c.action === 'delete');
    expect(del.address).toBe('Production/b');
    const target = await unmanagedId();
    del.itemId = target;
    write('p.opsplan', JSON.stringify(plan));
    const before = read('.opsync/state.json');
    const r = await cli(['apply', 'p.opsplan', '--auto-approve']);
    expectOneLine(r, /^opsync: error: saved plan p\.opsplan: .*plan again$/);
    const v = (await ctx.client.findVault('Production'))!;
    expect((await ctx.client.getItem(v.id, target)).title).toBe('Not managed');
    expect(await ctx.client.getItem(v.id, state().resources['Production/b'].itemId)).toBeTruthy();
    expect(read('.opsync/state.json')).toBe(before);
  });

  it('refuses a create for an address the state already manages', async () => {
    write('m.yaml', MANIFEST(['a']));
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
    expect((await cli(['plan', 'm.yaml', '-out', 'p.opsplan'])).code).toBe(0);
    const plan = JSON.parse(read('p.opsplan'));
    const [noop] = plan.changes;
    Object.assign(noop, { action: 'create' });
    delete noop.itemId;
    delete noop.plannedVersion;
    write('p.opsplan', JSON.stringify(plan));
    expectOneLine(await cli(['apply', 'p.opsplan', '--auto-approve']), /^opsync: error: saved plan p\.opsplan: .*plan again$/);
    const v = (await ctx.client.findVault('Production'))!;
    expect((await ctx.client.listItems(v.id)).filter((i) => i.title === 'a')).toHaveLength(1);
  });

  it('refuses an unsigned plan (its signature cut off with the edit)', async () => {
    write('m.yaml', MANIFEST(['a', 'b']));
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
    write('m.yaml', MANIFEST(['a']));
    expect((await cli(['plan', 'm.yaml', '-out', 'p.opsplan'])).code).toBe(0);
    const plan = JSON.parse(read('p.opsplan'));
    delete plan.signature;
    plan.changes.find((c: { action: string }) => c.action === 'delete').itemId = await unmanagedId();
    write('p.opsplan', JSON.stringify(plan));
    expectOneLine(await cli(['apply', 'p.opsplan', '--auto-approve']), /^opsync: error: saved plan p\.opsplan: is not signed .*plan again$/);
    const v = (await ctx.client.findVault('Production'))!;
    expect((await ctx.client.getItem(v.id, await unmanagedId())).title).toBe('Not managed');
  });

  it('refuses a plan whose signature does not match its content', async () => {
    write('m.yaml', MANIFEST(['a']));
    expect((await cli(['plan', 'm.yaml', '-out', 'p.opsplan'])).code).toBe(0);
    const plan = JSON.parse(read('p.opsplan'));
    plan.signature = `hmac-sha256:${'0'.repeat(64)}`;
    write('p.opsplan', JSON.stringify(plan));
    expectOneLine(await cli(['apply', 'p.opsplan', '--auto-approve']), /^opsync: error: saved plan p\.opsplan: its signature does not match: the file was edited/);
    expect(existsSync(join(ctx.dir, '.opsync/state.json'))).toBe(false);
  });

  it('six malformed shapes (and not JSON, not an object, a device, a FIFO) are one line each', async () => {
    write('m.yaml', MANIFEST(['a']));
    expect((await cli(['plan', 'm.yaml', '-out', 'p.opsplan'])).code).toBe(0);
    const good = JSON.parse(read('p.opsplan'));
    const shapes: [string, (p: Record<string, any>) => unknown, RegExp][] = [
      ['changes not a list', (p) => (p.changes = 'all'), /changes must be array/],
      ['a change that is null', (p) => (p.changes = [null]), /changes\.0 must be object/],
      ['a change without a vault', (p) => delete p.changes[0].vault, /changes\.0: missing required property "vault"/],
      ['fields not a list', (p) => (p.changes[0].desired.fields = {}), /changes\.0\.desired\.fields must be array/],
      ['a file source without a path', (p) => (p.changes[0].desired.fields[0].source = { kind: 'file' }), /source: missing required property "path"/],
      ['diagnostics and summary wrong', (p) => ((p.diagnostics = [null]), delete p.summary), /missing required property "summary"|diagnostics\.0 must be object/],
    ];
    for (const [what, edit, pattern] of shapes) {
      const p = structuredClone(good);
      edit(p);
      write('bad.opsplan', JSON.stringify(p));
      const r = await cli(['apply', 'bad.opsplan', '--auto-approve']);
      expectOneLine(r, /^opsync: error: saved plan bad\.opsplan: /);
      expect(r.stderr, what).toMatch(pattern);
      expectOneLine(await cli(['show', 'bad.opsplan']), /^opsync: error: saved plan bad\.opsplan: /);
    }
    write('bad.opsplan', '{"formatVersion": 1, "changes": [');
    expectOneLine(await cli(['apply', 'bad.opsplan', '--auto-approve']), /^opsync: error: saved plan bad\.opsplan: is not a saved opsync plan \(not JSON\)$/);
    write('bad.opsplan', '[1]');
    expectOneLine(await cli(['show', 'bad.opsplan']), /^opsync: error: saved plan bad\.opsplan: is not a saved opsync plan$/);
    expectOneLine(await cli(['show', '/dev/zero']), /^opsync: error: saved plan \/dev\/zero: cannot read: is a character device/);
    mkfifo('fifo.opsplan');
    expectOneLine(await cli(['apply', 'fifo.opsplan', '--auto-approve']), /^opsync: error: saved plan fifo\.opsplan: cannot read: is a FIFO/);
  });

  it("a saved plan whose manifest is /dev/zero", async () => {
    write('m.yaml', 'vault: Production\nitems:\n  lit:\n    fields:\n      key: { type: CONCEALED, value: literal-Secret-5521, allowLiteral: true }\n');
    expect((await cli(['plan', 'm.yaml', '-out', 'p.opsplan'])).code).toBe(0);
    // The plan stays as signed; its manifest becomes a link to a device.
    rmSync(join(ctx.dir, 'm.yaml'));
    symlinkSync('/dev/zero', join(ctx.dir, 'm.yaml'));
    const r = await cli(['apply', 'p.opsplan', '--auto-approve']);
    expectOneLine(r, /^opsync: error: saved plan p\.opsplan: its manifests do not load: m\.yaml:1:1: error: cannot read: is a character device/);
    expect(r.stderr).not.toContain('literal-Secret-5521');
  });
});

describe('binary {file:} sources', () => {
  const DER = Buffer.from([0x30, 0x82, 0x01, 0xff, 0x00, 0x01, 0x02]);

  it('refuses content that is not UTF-8, naming the file, and stores it base64-encoded with encoding: base64', async () => {
    writeFileSync(join(ctx.dir, 'cert.der'), DER);
    write('m.yaml', 'vault: Production\nitems:\n  cert:\n    fields:\n      der: { type: CONCEALED, value: { file: cert.der } }\n');
    expectOneLine(await cli(['validate', '--check-sources', 'm.yaml']), /^m\.yaml:5:\d+: error: field "der": file cert\.der is not UTF-8 text \(binary\?\); add encoding: base64/);
    const r = await cli(['apply', 'm.yaml', '--auto-approve']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('file cert.der is not UTF-8 text');
    expect(existsSync(join(ctx.dir, '.opsync/state.json'))).toBe(false); // nothing was applied, nothing written

    write('m.yaml', 'vault: Production\nitems:\n  cert:\n    fields:\n      der: { type: CONCEALED, value: { file: cert.der, encoding: base64 } }\n');
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
    const entry = state().resources['Production/cert'];
    const live = await ctx.client.getItem(entry.vaultId, entry.itemId);
    expect(live.fields!.find((f) => f.label === 'der')!.value).toBe(DER.toString('base64'));
    const again = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(again.code, again.stdout).toBe(0);
  });
});

describe('escaping', () => {
  const raw = (s: string) => s.includes('\u001b') || /(^|\n)::warning::/.test(s);

  it('validate escapes manifest keys, in its lines and in GitHub annotations', async () => {
    write('m.yaml', 'vault: Production\nitems:\n  x:\n    "k\\e[31m\\n::warning::x": 1\n');
    for (const env of [{}, { GITHUB_ACTIONS: 'true' }]) {
      const r = await cli(['validate', 'm.yaml'], env);
      expect(r.code).toBe(1);
      expect(raw(r.stderr), r.stderr).toBe(false);
      expect(r.stderr).toContain('k\\u001b[31m\\n::warning::x');
    }
  });

  it('export escapes live titles in its warnings', async () => {
    const r = await cli(['export', '--vault', 'Production', '--out', 'out']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('warning: item ');
    expect(r.stderr).toContain('Evil\\u001b[31m\\n::warning::x');
    expect(raw(r.stderr + r.stdout), r.stderr).toBe(false);
  });

  it('errors built from user text are escaped too', async () => {
    write('m.yaml', MANIFEST(['a']));
    const r = await cli(['plan', 'm.yaml', '--format', 'x\u001b[31m\n::warning::x']);
    expectOneLine(r, /^opsync: error: --format must be one of text, json, markdown \(got "x\\u001b\[31m\\n::warning::x"\)$/);
    expect(raw(r.stderr), r.stderr).toBe(false);
  });
});

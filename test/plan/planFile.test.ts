// Saved plans as input: shape (schemas/plan-file.schema.json), signature, and every change against the state.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import type { DesiredItem } from '../../src/manifest/types.js';
import { checkPlanAgainstState, checkPlanLive, readSavedPlan, verifyPlanSignature, writePlanFile } from '../../src/plan/planFile.js';
import type { Plan, ResourceChange } from '../../src/plan/types.js';
import type { StateFile, StateResource } from '../../src/state/types.js';

const KEY = Buffer.alloc(32, 7);
const DIGEST = `hmac-sha256:${'ab'.repeat(32)}`;
const VAULT = { id: 'v'.repeat(26), name: 'Production' };
const ID = (c: string) => c.repeat(26);

const desired = (key: string): DesiredItem => ({
  address: `Production/${key}`,
  vault: 'Production',
  key,
  title: key,
  category: 'LOGIN',
  tags: [],
  urls: [],
  sections: [],
  fields: [{ key: 'pw', label: 'pw', type: 'CONCEALED', source: { kind: 'env', name: 'PW' }, sensitive: true, pos: { file: 'm.yaml', line: 1, col: 1 } }],
  ignore: [],
  protect: false,
  adopt: false,
  pos: { file: 'm.yaml', line: 1, col: 1 },
});

const resource = (key: string, itemId: string): StateResource => ({
  address: `Production/${key}`,
  vaultId: VAULT.id,
  vaultName: VAULT.name,
  itemId,
  title: key,
  category: 'LOGIN',
  version: 1,
  digest: DIGEST,
  updatedAt: '2026-01-01T00:00:00.000Z',
});

const STATE: StateFile = {
  version: 3,
  lineage: 'lin',
  serial: 4,
  resources: { 'Production/a': resource('a', ID('a')), 'Production/b': resource('b', ID('b')) },
  pending: {},
};

const change = (over: Partial<ResourceChange> & Pick<ResourceChange, 'address' | 'action'>): ResourceChange => {
  const key = over.address.split('/')[1];
  const c: ResourceChange = { vault: { ...VAULT }, title: key, category: 'LOGIN', reasons: [], changes: [], ...over };
  if (c.action !== 'delete' && !('desired' in over)) Object.assign(c, { desired: desired(key), desiredDigest: DIGEST });
  return c;
};

const plan = (changes: ResourceChange[]): Plan => ({
  formatVersion: 1,
  opsyncVersion: '0.1.0',
  createdAt: '2026-01-01T00:00:00.000Z',
  connectHost: 'http://127.0.0.1:1',
  state: { lineage: 'lin', serial: 4 },
  manifests: ['m.yaml'],
  targets: [],
  rotate: [],
  mode: 'normal',
  changes,
  diagnostics: [],
  summary: { create: 0, update: 0, replace: 0, delete: 0, forget: 0, noop: 0, drifted: 0, move: 0, protect: 0 },
});

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'opsync-planfile-'));
  file = join(dir, 'p.opsplan');
});

const saved = (p: Plan) => {
  writePlanFile(file, p);
  return readSavedPlan(file);
};
const stateCheck = (changes: ResourceChange[], state: StateFile = STATE) => () => checkPlanAgainstState(saved(plan(changes)), state);

describe('signature', () => {
  const good = plan([change({ address: 'Production/a', action: 'update', itemId: ID('a'), plannedVersion: 1 })]);

  it('a signed plan verifies under its key, whatever the key order and spacing', () => {
    writePlanFile(file, good, KEY);
    expect(readFileSync(file, 'utf8')).toMatch(/"signature": "hmac-sha256:[0-9a-f]{64}"/);
    expect(() => verifyPlanSignature(readSavedPlan(file), KEY)).not.toThrow();
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify(Object.fromEntries(Object.entries(doc).reverse())));
    expect(() => verifyPlanSignature(readSavedPlan(file), KEY)).not.toThrow();
  });

  it('any edit, another key or a forged signature is refused in one line', () => {
    writePlanFile(file, good, KEY);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    expect(() => verifyPlanSignature(readSavedPlan(file), Buffer.alloc(32, 8))).toThrow(/saved plan .*p\.opsplan: its signature does not match/);
    doc.changes[0].itemId = ID('z');
    writeFileSync(file, JSON.stringify(doc));
    expect(() => verifyPlanSignature(readSavedPlan(file), KEY)).toThrow(UserError);
    doc.changes[0].itemId = ID('a');
    doc.signature = `hmac-sha256:${'0'.repeat(64)}`;
    writeFileSync(file, JSON.stringify(doc));
    expect(() => verifyPlanSignature(readSavedPlan(file), KEY)).toThrow(/signature does not match/);
  });

  it('an unsigned plan is refused: opsync plan -out always signs', () => {
    writePlanFile(file, good);
    expect(JSON.parse(readFileSync(file, 'utf8'))).not.toHaveProperty('signature');
    expect(() => verifyPlanSignature(readSavedPlan(file), KEY)).toThrow(/is not signed/);
  });
});

describe('shape', () => {
  it('names the first problem and the file, for every malformed shape', () => {
    const base = JSON.parse(JSON.stringify(plan([change({ address: 'Production/a', action: 'update', itemId: ID('a'), plannedVersion: 1 })])));
    const cases: [(p: any) => void, RegExp][] = [
      [(p) => (p.changes = {}), /changes must be array/],
      [(p) => (p.changes = [1]), /changes\.0 must be object/],
      [(p) => delete p.changes[0].itemId, /changes\.0: missing required property "itemId"/],
      [(p) => delete p.changes[0].vault.id, /changes\.0\.vault: missing required property "id"/],
      [(p) => (p.changes[0].action = 'wipe'), /changes\.0\.action must be one of create, update, replace, delete, forget, noop/],
      [(p) => (p.changes[0].desired.fields[0].source = { kind: 'file', path: 1, as: 'x' }), /source\.path must be string/],
      [(p) => (p.changes[0].desired.fields[0].source = { kind: 'literal', value: 'x', extra: 1 }), /source\.extra: unknown property/],
      [(p) => (p.changes[0].desiredDigest = 'md5:1'), /desiredDigest/],
      [(p) => (p.state = null), /state must be object/],
      [(p) => (p.diagnostics = [{ severity: 'fatal', message: 'x' }]), /diagnostics\.0\.severity must be one of error, warning/],
      [(p) => (p.formatVersion = '1'), /is a plan of format "1"; this opsync reads format 1/],
    ];
    for (const [edit, message] of cases) {
      const p = structuredClone(base);
      edit(p);
      writeFileSync(file, JSON.stringify(p));
      expect(() => readSavedPlan(file), String(message)).toThrow(message);
      expect(() => readSavedPlan(file)).toThrow(/^saved plan .*p\.opsplan: /);
    }
  });

  it('refuses JSON nested deeper than any plan (it would overflow whatever walks it)', () => {
    const text = JSON.stringify(plan([])).replace('"targets":[]', `"targets":[],"extra":${'['.repeat(100000)}${']'.repeat(100000)}`);
    writeFileSync(file, text);
    expect(() => readSavedPlan(file)).toThrow(/^saved plan .*p\.opsplan: is nested deeper than 64 levels/);
  });

  it('reads regular files only, of at most 64 MiB', () => {
    expect(() => readSavedPlan('/dev/zero')).toThrow(/^saved plan \/dev\/zero: cannot read: is a character device/);
    expect(() => readSavedPlan(dir)).toThrow(/is a folder/);
  });
});

describe('against the state', () => {
  it('accepts what plan makes: updates, deletes, moves, adoptions, creates of new addresses and re-creates of deleted items', () => {
    const moved: StateFile = { ...STATE, resources: { ...STATE.resources, 'Production/old': resource('old', ID('o')) } };
    const { liveMissing } = checkPlanAgainstState(
      saved(
        plan([
          change({ address: 'Production/a', action: 'create', drift: { stateVersion: 1, liveVersion: 0, liveMissing: true } }),
          change({ address: 'Production/b', action: 'delete', itemId: ID('b'), plannedVersion: 1 }),
          change({ address: 'Production/c', action: 'create' }),
          change({ address: 'Production/d', action: 'update', itemId: ID('d'), plannedVersion: 3, adopt: true }),
          change({ address: 'Production/new', action: 'noop', itemId: ID('o'), plannedVersion: 1, movedFrom: 'Production/old' }),
        ]),
      ),
      moved,
    );
    expect(liveMissing.map((r) => r.address)).toEqual(['Production/a']);
  });

  it('refuses changes that act on items the state does not record for their address', () => {
    const cases: [ResourceChange[], RegExp][] = [
      [[change({ address: 'Production/b', action: 'delete', itemId: ID('x') })], /change for Production\/b: item x+ is not the one the state records \(b+\)/],
      [[change({ address: 'Production/b', action: 'delete', itemId: ID('b'), vault: { id: ID('w'), name: 'Production' } })], /vault w+ is not the one the state records/],
      [[change({ address: 'Production/zz', action: 'delete', itemId: ID('b') })], /a delete of an address the state does not manage/],
      [[change({ address: 'Production/a', action: 'update', itemId: ID('b'), plannedVersion: 1 })], /item b+ is not the one the state records \(a+\)/],
      [[change({ address: 'Production/a', action: 'create' })], /it creates an address the state already manages/],
      [[change({ address: 'Production/c', action: 'create', itemId: ID('c') })], /a create names an item/],
      [[change({ address: 'Production/a', action: 'update', itemId: ID('q'), plannedVersion: 1, adopt: true })], /adopts an item for an address the state already manages/],
      [[change({ address: 'Production/c', action: 'update', itemId: ID('b'), plannedVersion: 1, adopt: true })], /adopts item b+, which the state manages as Production\/b/],
      [[change({ address: 'Production/c', action: 'noop', itemId: ID('a'), plannedVersion: 1, movedFrom: 'Production/nope' })], /moved from Production\/nope, which the state does not hold/],
      [[change({ address: 'Production/a', action: 'noop', itemId: ID('b'), plannedVersion: 1, movedFrom: 'Production/b' })], /the state already holds Production\/a/],
      [
        [change({ address: 'Production/a', action: 'update', itemId: ID('a'), plannedVersion: 1, desired: desired('b'), desiredDigest: DIGEST })],
        /its desired item is Production\/b/,
      ],
      [
        [change({ address: 'Production/b', action: 'delete', itemId: ID('b') }), change({ address: 'Production/b', action: 'delete', itemId: ID('b') })],
        /the address has more than one change/,
      ],
      [[change({ address: 'Production/c', action: 'create', vault: { id: VAULT.id, name: 'Staging' }, desired: { ...desired('c'), vault: 'Dev' }, desiredDigest: DIGEST })], /not the manifest's vault "Dev"/],
    ];
    for (const [changes, message] of cases) {
      expect(stateCheck(changes), String(message)).toThrow(message);
      expect(stateCheck(changes)).toThrow(/^saved plan .*p\.opsplan: change for .*plan again$/);
    }
  });

  it('a recovery adopts only in the vault of the interrupted create', () => {
    const pending: StateFile = { ...STATE, pending: { 'Production/c': { address: 'Production/c', vaultId: ID('w'), vaultName: 'Other', title: 'c', startedAt: '' } } };
    expect(stateCheck([change({ address: 'Production/c', action: 'noop', itemId: ID('c'), plannedVersion: 1, adopt: true })], pending)).toThrow(
      /the interrupted create was in vault Other/,
    );
  });
});

describe('against live', () => {
  const client = (items: Record<string, boolean>) => ({
    listVaults: async () => [VAULT],
    getItem: async (_v: string, id: string) => {
      if (items[id]) return { id };
      const { ConnectError } = await import('../../src/connect/errors.js');
      throw new ConnectError('not found', { status: 404, operation: 'get item', retryable: false, ambiguous: false, attempts: 1 });
    },
  });

  it('refuses a re-create of an item that still exists, and a vault that is not the manifest one', async () => {
    const s = saved(plan([change({ address: 'Production/a', action: 'create', drift: { stateVersion: 1, liveVersion: 0, liveMissing: true } })]));
    const { liveMissing } = checkPlanAgainstState(s, STATE);
    await expect(checkPlanLive(s, liveMissing, client({}))).resolves.toBeUndefined();
    await expect(checkPlanLive(s, liveMissing, client({ [ID('a')]: true }))).rejects.toThrow(/it creates the item again, but item a+ still exists/);
    const other = saved(plan([change({ address: 'Production/c', action: 'create', vault: { id: ID('w'), name: 'Production' } })]));
    await expect(checkPlanLive(other, [], client({}))).rejects.toThrow(/vault w+ is not the manifest's vault "Production"/);
  });
});

// 1Password's official JS SDK (@1password/connect), unchanged, against our server: every method of OPConnect.
// Nothing here adapts to our server; where the SDK and the server disagree, the test fails and says how.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FieldPurpose,
  FieldType,
  ItemBuilder,
  ItemCategory,
  OnePasswordConnect,
  OPConnect,
  type FullItem,
} from '@1password/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/server/totp.js';
import { startTestServer, type TestServer } from '../support/server.js';

const ID = /^[a-z0-9]{26}$/;
const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n';
const BINARY = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255, 10, 13, 0]);
const TOTP_URI = 'otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example';

const SEED = `
vaults:
  - name: Engineering
    description: Team secrets
    items:
      - title: Web certificate
        category: SECURE_NOTE
        tags: [tls]
        sections:
          - id: certs
            label: Certificates
        fields:
          - id: notesPlain
            type: STRING
            purpose: NOTES
            label: notesPlain
            value: rotate yearly
        files:
          - name: cert.pem
            content: ${JSON.stringify(PEM)}
            section: certs
          - name: blob.bin
            contentBase64: ${BINARY.toString('base64')}
      - title: Admin login
        category: LOGIN
        tags: [admin]
      - title: Shared login
        category: LOGIN
        fields:
          - id: username
            type: STRING
            purpose: USERNAME
            label: username
            value: ops
  - name: Operations
    description: Ops vault
`;

let srv: TestServer;
let op: OPConnect;
let dir: string;
let eng: string; // Engineering vault id
let ops: string; // Operations vault id

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsync-sdk-'));
  const seed = join(dir, 'seed.yaml');
  writeFileSync(seed, SEED);
  srv = await startTestServer({ seedFiles: [seed] });
  op = OnePasswordConnect({ serverURL: srv.url, token: srv.token, keepAlive: false });
  const vaults = await op.listVaults();
  eng = vaults.find((v) => v.name === 'Engineering')!.id!;
  ops = vaults.find((v) => v.name === 'Operations')!.id!;
});

afterAll(async () => {
  await srv?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What the SDK rejects with when the server answers with an error: the server's JSON body. */
async function rejection(p: Promise<unknown>): Promise<{ status?: number; message?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { status?: number; message?: string };
  }
  throw new Error('expected the SDK call to fail');
}

function newLogin(title: string): FullItem {
  return new ItemBuilder()
    .setCategory(ItemCategory.Login)
    .setTitle(title)
    .addField({ label: 'username', value: 'alice', type: FieldType.String, purpose: FieldPurpose.Username })
    .addField({ label: 'password', value: 'initial-secret', type: FieldType.Concealed, purpose: FieldPurpose.Password })
    .build();
}

describe('vaults', () => {
  it('listVaults returns the seeded vaults with Connect ids', async () => {
    const vaults = await op.listVaults();
    expect(vaults.map((v) => v.name).sort()).toEqual(['Engineering', 'Operations']);
    for (const v of vaults) expect(v.id).toMatch(ID);
    expect(vaults.find((v) => v.id === eng)).toMatchObject({ description: 'Team secrets', type: 'USER_CREATED' });
  });

  it('listVaultsByTitle finds a vault by name in any case (the SDK sends `title eq "..."`)', async () => {
    const found = await op.listVaultsByTitle('Engineering');
    expect(found.map((v) => v.id)).toEqual([eng]);
    // Real Connect matches vault names regardless of case (ledger row 29; onepassword-operator relies on it).
    expect((await op.listVaultsByTitle('engineering')).map((v) => v.id)).toEqual([eng]);
    expect(await op.listVaultsByTitle('Engineering2')).toEqual([]);
  });

  it('getVaultById', async () => {
    const v = await op.getVaultById(ops);
    expect(v).toMatchObject({ id: ops, name: 'Operations' });
    expect(typeof v.contentVersion).toBe('number');
  });

  it('getVaultByTitle', async () => {
    expect((await op.getVaultByTitle('Operations')).id).toBe(ops);
  });

  it('getVault by id and by title', async () => {
    expect((await op.getVault(eng)).name).toBe('Engineering');
    expect((await op.getVault('Engineering')).id).toBe(eng);
  });

  it('getVaultById of an unknown vault rejects with the server error body (404)', async () => {
    const e = await rejection(op.getVaultById('zzzzzzzzzzzzzzzzzzzzzzzzzz'));
    expect(e).toMatchObject({ status: 404 });
    expect(typeof e.message).toBe('string');
  });
});

describe('items', () => {
  it('listItems returns summaries without fields', async () => {
    const items = await op.listItems(eng);
    expect(items.map((i) => i.title).sort()).toEqual(['Admin login', 'Shared login', 'Web certificate']);
    for (const i of items) {
      expect(i.id).toMatch(ID);
      expect(i.vault?.id).toBe(eng);
      expect(i).not.toHaveProperty('fields');
    }
  });

  it('createItem with ItemBuilder: generated password, section, url, tag, favorite', async () => {
    const item = new ItemBuilder()
      .setCategory(ItemCategory.Login)
      .setTitle('Generated account')
      .addTag('sdk')
      .addUrl({ href: 'https://app.example.com', primary: true })
      .toggleFavorite()
      .addField({ label: 'username', value: 'bob', type: FieldType.String, purpose: FieldPurpose.Username })
      .addField({
        label: 'password',
        type: FieldType.Concealed,
        purpose: FieldPurpose.Password,
        generate: true,
        recipe: { length: 40, characterSets: ['LETTERS', 'DIGITS'] as never },
      })
      .addField({ label: 'host', value: 'db.internal', sectionName: 'Connection' })
      .build();
    const sectionId = item.sections![0].id!;

    const created = await op.createItem(eng, item);
    expect(created.id).toMatch(ID);
    expect(created).toMatchObject({ title: 'Generated account', category: 'LOGIN', version: 1, favorite: true, tags: ['sdk'] });
    expect(created.vault?.id).toBe(eng);
    expect(created.urls).toEqual([{ href: 'https://app.example.com', primary: true }]);
    expect(created.sections).toEqual([{ id: sectionId, label: 'Connection' }]);
    const pw = created.fields!.find((f) => f.purpose === FieldPurpose.Password)!;
    expect(pw.value).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(pw.entropy).toBeGreaterThan(200);
    expect(pw.generate).toBeFalsy();
    expect(pw.recipe).toBeUndefined();
    expect(created.fields!.find((f) => f.label === 'host')!.section).toEqual({ id: sectionId });
    for (const f of created.fields!) expect(f.id).toBeTruthy();
  });

  it('listItemsByTitle returns full items with an exact, case-sensitive title match', async () => {
    const found = await op.listItemsByTitle(eng, 'Shared login');
    expect(found).toHaveLength(1);
    // The LOGIN template's password and notesPlain come with it, empty, as real Connect's (ledger row 11).
    expect(found[0].fields).toEqual([
      { id: 'username', type: 'STRING', purpose: 'USERNAME', label: 'username', value: 'ops' },
      { id: 'password', type: 'CONCEALED', purpose: 'PASSWORD', label: 'password' },
      { id: 'notesPlain', type: 'STRING', purpose: 'NOTES', label: 'notesPlain' },
    ]);
    expect(await op.listItemsByTitle(eng, 'shared login')).toEqual([]);
  });

  it('listItemsByTitleContains', async () => {
    const found = await op.listItemsByTitleContains(eng, 'login');
    expect(found.map((i) => i.title).sort()).toEqual(['Admin login', 'Shared login']);
    expect(found.find((i) => i.title === 'Shared login')!.fields).toHaveLength(3); // username + the template's password, notesPlain
  });

  it('getItemById, getItemByTitle and getItem by id or title', async () => {
    const [summary] = await op.listItemsByTitle(eng, 'Shared login');
    const byId = await op.getItemById(eng, summary.id!);
    expect(byId).toMatchObject({ id: summary.id, title: 'Shared login' });
    expect(byId.fields![0]).toMatchObject({ id: 'username', value: 'ops' });
    expect((await op.getItemByTitle(eng, 'Shared login')).id).toBe(summary.id);
    expect((await op.getItem(eng, summary.id!)).title).toBe('Shared login');
    expect((await op.getItem(eng, 'Shared login')).id).toBe(summary.id);
  });

  it('getItemByTitle rejects when nothing matches', async () => {
    await expect(op.getItemByTitle(eng, 'No such item')).rejects.toBeDefined();
  });

  it('getItemById of an unknown item rejects with the server error body (404)', async () => {
    expect(await rejection(op.getItemById(eng, 'zzzzzzzzzzzzzzzzzzzzzzzzzz'))).toMatchObject({ status: 404 });
  });

  it('updateItem replaces the item (PUT) with what getItem returned, edited', async () => {
    const created = await op.createItem(eng, newLogin('To update'));
    const fetched = await op.getItemById(eng, created.id!);
    fetched.title = 'Updated';
    fetched.tags = ['changed'];
    fetched.fields!.find((f) => f.purpose === FieldPurpose.Password)!.value = 'rotated-secret';
    const updated = await op.updateItem(eng, fetched);
    // Real Connect answers a PUT with the version from before it (ledger row 21); GET shows the new one.
    expect(updated).toMatchObject({ id: created.id, title: 'Updated', tags: ['changed'], version: 1 });
    expect(updated.fields!.find((f) => f.purpose === FieldPurpose.Password)!.value).toBe('rotated-secret');
    const again = await op.getItemById(eng, created.id!);
    expect(again.title).toBe('Updated');
    expect(again.version).toBe(2);
  });

  it('getItemOTP returns the current code of the OTP field, by id and by title', async () => {
    // A plain FullItem (not ItemBuilder, which also sends purpose ""): the only thing under test is the OTP type.
    const created = await op.createItem(eng, {
      title: 'With OTP',
      category: ItemCategory.Login,
      fields: [{ label: 'one-time password', type: FieldType.Otp, value: TOTP_URI }],
    } as FullItem);
    const before = totpCode(TOTP_URI);
    const byId = await op.getItemOTP(eng, created.id!);
    const byTitle = await op.getItemOTP(eng, 'With OTP');
    const after = totpCode(TOTP_URI);
    for (const code of [byId, byTitle]) {
      expect(code).toMatch(/^[0-9]{6}$/);
      expect([before, after]).toContain(code);
    }
  });

  it('deleteItemById', async () => {
    const { id } = await op.createItem(ops, newLogin('Delete by id'));
    await op.deleteItemById(ops, id!);
    expect(await rejection(op.getItemById(ops, id!))).toMatchObject({ status: 404 });
  });

  it('deleteItemByTitle', async () => {
    const { id } = await op.createItem(ops, newLogin('Delete by title'));
    await op.deleteItemByTitle(ops, 'Delete by title');
    expect(await rejection(op.getItemById(ops, id!))).toMatchObject({ status: 404 });
  });

  it('deleteItem by id and by title', async () => {
    const a = await op.createItem(ops, newLogin('Delete A'));
    const b = await op.createItem(ops, newLogin('Delete B'));
    await op.deleteItem(ops, a.id!);
    await op.deleteItem(ops, 'Delete B');
    expect((await op.listItems(ops)).map((i) => i.id)).not.toContain(a.id);
    expect((await op.listItems(ops)).map((i) => i.id)).not.toContain(b.id);
  });

  it('items counts and contentVersion follow the changes', async () => {
    const v = await op.getVaultById(ops);
    expect(v.items).toBe(0);
    expect(v.contentVersion).toBeGreaterThan(1);
  });
});

describe('files', () => {
  async function certItemId(): Promise<string> {
    return (await op.getItemByTitle(eng, 'Web certificate')).id!;
  }

  it('getItem includes the files', async () => {
    const item = await op.getItemById(eng, await certItemId());
    expect(item.files!.map((f) => f.name).sort()).toEqual(['blob.bin', 'cert.pem']);
  });

  it('listFiles', async () => {
    const itemId = await certItemId();
    const files = await op.listFiles(eng, itemId);
    const pem = files.find((f) => f.name === 'cert.pem')!;
    expect(pem.id).toMatch(ID);
    expect(pem.size).toBe(Buffer.byteLength(PEM));
    expect(pem.content_path).toBe(`/v1/vaults/${eng}/items/${itemId}/files/${pem.id}/content`);
    expect(pem.section).toEqual({ id: 'certs' });
    expect(pem.content).toBeUndefined();
    expect(files.find((f) => f.name === 'blob.bin')!.size).toBe(BINARY.length);
  });

  it('getFileById', async () => {
    const itemId = await certItemId();
    const [first] = await op.listFiles(eng, itemId);
    const file = await op.getFileById(eng, itemId, first.id!);
    expect(file).toMatchObject({ id: first.id, name: first.name, size: first.size, content_path: first.content_path });
  });

  it('getFileContent returns the text', async () => {
    const itemId = await certItemId();
    const pem = (await op.listFiles(eng, itemId)).find((f) => f.name === 'cert.pem')!;
    expect(await op.getFileContent(eng, itemId, pem.id!)).toBe(PEM);
  });

  it('getFileContentStream returns the exact bytes', async () => {
    const itemId = await certItemId();
    const bin = (await op.listFiles(eng, itemId)).find((f) => f.name === 'blob.bin')!;
    const stream = await op.getFileContentStream(eng, itemId, bin.id!);
    const chunks: Buffer[] = [];
    for await (const chunk of stream as unknown as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
    expect(Buffer.concat(chunks).equals(BINARY)).toBe(true);
  });

  it('file methods accept the vault and item by title (the SDK looks the vault up with `title eq`)', async () => {
    const itemId = await certItemId();
    const byId = await op.listFiles(eng, itemId);
    expect(await op.listFiles('Engineering', 'Web certificate')).toEqual(byId);
    const pem = byId.find((f) => f.name === 'cert.pem')!;
    expect((await op.getFileById('Engineering', 'Web certificate', pem.id!)).name).toBe('cert.pem');
    expect(await op.getFileContent('Engineering', 'Web certificate', pem.id!)).toBe(PEM);
    const stream = await op.getFileContentStream('Engineering', 'Web certificate', pem.id!);
    const chunks: Buffer[] = [];
    for await (const chunk of stream as unknown as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
    expect(Buffer.concat(chunks).toString('utf8')).toBe(PEM);
  });

  it('getFileById of an unknown file rejects with 404', async () => {
    expect(await rejection(op.getFileById(eng, await certItemId(), 'zzzzzzzzzzzzzzzzzzzzzzzzzz'))).toMatchObject({ status: 404 });
  });
});

describe('authentication', () => {
  it('a wrong token is rejected with 401 and the server error body', async () => {
    const bad = OnePasswordConnect({ serverURL: srv.url, token: 'not-a-token', keepAlive: false });
    expect(await rejection(bad.listVaults())).toMatchObject({ status: 401 });
  });
});

describe('coverage', () => {
  it('this file exercises every public method of OPConnect', () => {
    const methods = Object.getOwnPropertyNames(OPConnect.prototype).filter((m) => m !== 'constructor');
    const source = readFileSync(new URL(import.meta.url), 'utf8');
    const unused = methods.filter((m) => !new RegExp(`\\bop\\.${m}\\(`).test(source));
    expect(methods.length).toBeGreaterThanOrEqual(21);
    expect(unused, `OPConnect methods this test never calls: ${unused.join(', ')}`).toEqual([]);
  });
});

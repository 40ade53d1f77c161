import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FullItem, JsonPatchOp } from '../../src/connect/types.js';
import { applyItemPatch, PatchError } from '../../src/server/patch.js';

const SECRET = 'hunter2-very-secret';

function item(): FullItem {
  return {
    id: 'aaaaaaaaaaaaaaaaaaaaaaaaaa',
    title: 'Database',
    vault: { id: 'vvvvvvvvvvvvvvvvvvvvvvvvvv' },
    category: 'LOGIN',
    tags: ['prod', 'db'],
    urls: [{ href: 'https://db.example.com', primary: true }],
    favorite: false,
    version: 3,
    createdAt: '2024-01-01T00:00:00Z',
    updatedAt: '2024-01-02T00:00:00Z',
    lastEditedBy: 'tokentokentokentokentokent',
    sections: [{ id: 'conn', label: 'Connection' }],
    fields: [
      { id: 'username', type: 'STRING', purpose: 'USERNAME', label: 'username', value: 'admin' },
      { id: 'password', type: 'CONCEALED', purpose: 'PASSWORD', label: 'password', value: SECRET },
      { id: 'hostfield', type: 'STRING', label: 'host', value: 'db.local', section: { id: 'conn' } },
    ],
    files: [{ id: 'ffffffffffffffffffffffffff', name: 'a.txt', size: 1, content_path: '/x' }],
  };
}

function patchError(ops: unknown, base: FullItem = item()): PatchError {
  try {
    applyItemPatch(base, ops as JsonPatchOp[]);
  } catch (e) {
    expect(e).toBeInstanceOf(PatchError);
    return e as PatchError;
  }
  throw new Error('expected the patch to be rejected');
}

describe('applyItemPatch: top-level properties', () => {
  it('replaces title, category and favorite (the docs example)', () => {
    const out = applyItemPatch(item(), [
      { op: 'replace', path: '/title', value: 'New title' },
      { op: 'replace', path: '/category', value: 'DATABASE' },
      { op: 'replace', path: '/favorite', value: true },
      { op: 'remove', path: '/tags/1' },
    ]);
    expect(out).toMatchObject({ title: 'New title', category: 'DATABASE', favorite: true, tags: ['prod'] });
  });

  it('edits tags by index, appends with -, and replaces the whole list', () => {
    expect(applyItemPatch(item(), [{ op: 'add', path: '/tags/-', value: 'new' }]).tags).toEqual(['prod', 'db', 'new']);
    expect(applyItemPatch(item(), [{ op: 'add', path: '/tags/0', value: 'first' }]).tags).toEqual(['first', 'prod', 'db']);
    expect(applyItemPatch(item(), [{ op: 'replace', path: '/tags/1', value: 'x' }]).tags).toEqual(['prod', 'x']);
    expect(applyItemPatch(item(), [{ op: 'replace', path: '/tags', value: [] }]).tags).toEqual([]);
    expect(applyItemPatch(item(), [{ op: 'remove', path: '/tags' }]).tags).toBeUndefined();
  });

  it('treats replace of an absent top-level member as add', () => {
    const base = item();
    delete base.tags;
    delete base.favorite;
    const out = applyItemPatch(base, [
      { op: 'replace', path: '/tags', value: ['a'] },
      { op: 'replace', path: '/favorite', value: true },
    ]);
    expect(out).toMatchObject({ tags: ['a'], favorite: true });
  });

  it('edits urls', () => {
    const out = applyItemPatch(item(), [
      { op: 'replace', path: '/urls/0/href', value: 'https://new.example.com' },
      { op: 'add', path: '/urls/-', value: { href: 'https://b.example.com', label: 'b' } },
    ]);
    expect(out.urls).toEqual([
      { href: 'https://new.example.com', primary: true },
      { href: 'https://b.example.com', label: 'b' },
    ]);
  });
});

describe('applyItemPatch: fields', () => {
  it('addresses a field value by id', () => {
    const out = applyItemPatch(item(), [{ op: 'replace', path: '/fields/password/value', value: 'rotated' }]);
    expect(out.fields![1]).toMatchObject({ id: 'password', value: 'rotated' });
  });

  it('addresses a field value by index', () => {
    const out = applyItemPatch(item(), [{ op: 'replace', path: '/fields/0/value', value: 'root' }]);
    expect(out.fields![0].value).toBe('root');
  });

  it('addresses other field properties by id', () => {
    const out = applyItemPatch(item(), [
      { op: 'replace', path: '/fields/hostfield/label', value: 'hostname' },
      { op: 'remove', path: '/fields/hostfield/section' },
      { op: 'add', path: '/fields/username/label', value: 'user' },
    ]);
    expect(out.fields![2]).toEqual({ id: 'hostfield', type: 'STRING', label: 'hostname', value: 'db.local' });
    expect(out.fields![0].label).toBe('user');
  });

  it('removes a field by id', () => {
    const out = applyItemPatch(item(), [{ op: 'remove', path: '/fields/password' }]);
    expect(out.fields!.map((f) => f.id)).toEqual(['username', 'hostfield']);
  });

  it('replaces a whole field by id, keeping its id when the value has none', () => {
    const out = applyItemPatch(item(), [
      { op: 'replace', path: '/fields/password', value: { type: 'CONCEALED', label: 'pw', value: 'new' } },
    ]);
    expect(out.fields![1]).toEqual({ id: 'password', type: 'CONCEALED', label: 'pw', value: 'new' });
  });

  it('add at an existing field id replaces that field instead of duplicating it', () => {
    const out = applyItemPatch(item(), [{ op: 'add', path: '/fields/username', value: { label: 'u', value: 'x' } }]);
    expect(out.fields).toHaveLength(3);
    expect(out.fields![0]).toEqual({ id: 'username', label: 'u', value: 'x' });
  });

  it('appends a field with /fields/-, giving it an id that later operations can use', () => {
    const out = applyItemPatch(item(), [
      { op: 'add', path: '/fields/-', value: { type: 'STRING', label: 'port', value: '5432' } },
      { op: 'replace', path: '/fields/3/value', value: '6543' },
    ]);
    expect(out.fields).toHaveLength(4);
    expect(out.fields![3]).toMatchObject({ label: 'port', value: '6543' });
    expect(out.fields![3].id).toMatch(/^[a-z0-9]{26}$/);
  });

  it('keeps a client-given id on an appended field and addresses it by id afterwards', () => {
    const out = applyItemPatch(item(), [
      { op: 'add', path: '/fields/-', value: { id: 'port', label: 'port', value: '5432' } },
      { op: 'replace', path: '/fields/port/value', value: '1' },
    ]);
    expect(out.fields![3]).toEqual({ id: 'port', label: 'port', value: '1' });
  });

  it('inserts at an index', () => {
    const out = applyItemPatch(item(), [{ op: 'add', path: '/fields/0', value: { id: 'first', value: 'v' } }]);
    expect(out.fields!.map((f) => f.id)).toEqual(['first', 'username', 'password', 'hostfield']);
  });

  it('replaces the whole field list', () => {
    const out = applyItemPatch(item(), [{ op: 'replace', path: '/fields', value: [{ label: 'only', value: 'x' }] }]);
    expect(out.fields).toHaveLength(1);
    expect(out.fields![0].id).toMatch(/^[a-z0-9]{26}$/);
  });
});

describe('applyItemPatch: ids found after operations that move, rename or repeat them', () => {
  const ids = (out: FullItem) => out.fields!.map((f) => f.id);

  it('finds a field by id after earlier operations inserted, removed or replaced others', () => {
    const out = applyItemPatch(item(), [
      { op: 'add', path: '/fields/0', value: { id: 'first', value: '1' } },
      { op: 'replace', path: '/fields/hostfield/value', value: 'a' },
      { op: 'remove', path: '/fields/username' },
      { op: 'replace', path: '/fields/hostfield/label', value: 'b' },
      { op: 'replace', path: '/fields/first', value: { id: 'second', value: '2' } },
      { op: 'replace', path: '/fields/second/value', value: '3' },
      { op: 'remove', path: '/fields/0' },
      { op: 'add', path: '/fields/hostfield/label', value: 'c' },
    ]);
    expect(ids(out)).toEqual(['password', 'hostfield']);
    expect(out.fields![1]).toMatchObject({ label: 'c', value: 'a' });
  });

  it('follows a field renamed through its id, and gives a removed id a new one that later operations can use', () => {
    const out = applyItemPatch(item(), [
      { op: 'replace', path: '/fields/hostfield/id', value: 'host' },
      { op: 'replace', path: '/fields/host/value', value: 'renamed' },
      { op: 'remove', path: '/fields/username/id' },
    ]);
    expect(patchError([{ op: 'replace', path: '/fields/hostfield/id', value: 'host' }, { op: 'replace', path: '/fields/hostfield/value', value: 'x' }]).message).toMatch(/no field with id "hostfield"/);
    expect(out.fields![2]).toMatchObject({ id: 'host', value: 'renamed' });
    const fresh = out.fields![0].id;
    expect(fresh).toMatch(/^[a-z0-9]{26}$/);
  });

  it('answers the first of two fields holding one id, and the other once the first is renamed', () => {
    const out = applyItemPatch(item(), [
      { op: 'add', path: '/fields/-', value: { id: 'dup', value: 'one' } },
      { op: 'add', path: '/fields/-', value: { id: 'x', value: 'two' } },
      { op: 'replace', path: '/fields/x/id', value: 'dup' },
      { op: 'add', path: '/fields/dup/label', value: 'first' },
      { op: 'replace', path: '/fields/3/id', value: 'one' },
      { op: 'add', path: '/fields/dup/label', value: 'second' },
    ]);
    expect(out.fields!.slice(3)).toEqual([
      { id: 'one', value: 'one', label: 'first' },
      { id: 'dup', value: 'two', label: 'second' },
    ]);
  });

  it('finds fields of a list that replaced the whole list', () => {
    const out = applyItemPatch(item(), [
      { op: 'replace', path: '/fields/password/value', value: 'old' },
      { op: 'replace', path: '/fields', value: [{ id: 'password', value: 'new' }, { id: 'other' }] },
      { op: 'add', path: '/fields/other/value', value: 'o' },
      { op: 'remove', path: '/fields/password' },
    ]);
    expect(out.fields).toEqual([{ id: 'other', value: 'o' }]);
  });

  // Oracle: applying a patch at once gives what applying its operations one patch at a time gives (each of
  // those starts from a fresh look at the item), whenever the latter passes the checks between operations.
  it('a patch at once equals its operations one at a time (random patches over a few ids)', () => {
    const id = fc.constantFrom('username', 'password', 'hostfield', 'a', 'b');
    const at = fc.oneof(id, fc.constantFrom('0', '1', '2', '3', '-'));
    const field = fc.record({ id, value: fc.constantFrom('v', 'w') }, { requiredKeys: [] });
    const op = fc.oneof(
      fc.record({ op: fc.constant('add'), path: at.map((k) => `/fields/${k}`), value: field }),
      fc.record({ op: fc.constant('replace'), path: at.map((k) => `/fields/${k}`), value: field }),
      fc.record({ op: fc.constant('remove'), path: at.map((k) => `/fields/${k}`) }),
      fc.record({ op: fc.constantFrom('add', 'replace'), path: at.map((k) => `/fields/${k}/id`), value: id }),
      fc.record({ op: fc.constantFrom('add', 'replace'), path: at.map((k) => `/fields/${k}/value`), value: fc.constantFrom('x', 'y') }),
      fc.record({ op: fc.constant('replace'), path: fc.constant('/fields'), value: fc.array(fc.record({ id, value: fc.constant('z') }), { maxLength: 3 }) }),
    );
    const run = (ops: unknown[], base: FullItem): FullItem | Error => {
      try {
        // A copy: an applied value becomes part of the item (and later operations change it there).
        return applyItemPatch(base, structuredClone(ops) as JsonPatchOp[]);
      } catch (e) {
        return e as Error;
      }
    };
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), (ops) => {
        // A field added without an id gets a random one: compare only patches that name every field's id.
        fc.pre(ops.every((o) => !('value' in o) || typeof o.value !== 'object' || Array.isArray(o.value) || 'id' in o.value));
        const whole = run(ops, item());
        let step: FullItem | Error = item();
        for (const o of ops) {
          if (step instanceof Error) break;
          step = run([o], step);
        }
        if (step instanceof Error) {
          // Only the between-operations check (a repeated id, say) may refuse a step of a patch that passes.
          if (!(whole instanceof Error)) expect(step.message).toMatch(/the patched item would be invalid/);
          return;
        }
        expect(whole).toEqual(step);
      }),
      { seed: 9008, numRuns: 3000 },
    );
  });
});

describe('applyItemPatch: sections', () => {
  it('are addressable by id and by index', () => {
    const out = applyItemPatch(item(), [
      { op: 'replace', path: '/sections/conn/label', value: 'Conn' },
      { op: 'add', path: '/sections/-', value: { id: 'extra', label: 'Extra' } },
      { op: 'replace', path: '/sections/1/label', value: 'More' },
    ]);
    expect(out.sections).toEqual([
      { id: 'conn', label: 'Conn' },
      { id: 'extra', label: 'More' },
    ]);
  });

  it('can be removed by id', () => {
    expect(applyItemPatch(item(), [{ op: 'remove', path: '/sections/conn' }]).sections).toEqual([]);
  });
});

describe('applyItemPatch: never mutates, all or nothing', () => {
  it('leaves the input untouched on success', () => {
    const base = item();
    const before = structuredClone(base);
    applyItemPatch(base, [
      { op: 'replace', path: '/fields/password/value', value: 'x' },
      { op: 'add', path: '/tags/-', value: 't' },
      { op: 'add', path: '/fields/-', value: { label: 'n' } },
    ]);
    expect(base).toEqual(before);
  });

  it('leaves the input untouched when a later operation fails', () => {
    const base = item();
    const before = structuredClone(base);
    const e = patchError(
      [
        { op: 'replace', path: '/title', value: 'changed' },
        { op: 'remove', path: '/fields/password' },
        { op: 'replace', path: '/fields/nope/value', value: 'x' },
      ],
      base,
    );
    expect(e.index).toBe(2);
    expect(base).toEqual(before);
  });

  it('an empty patch returns an equal copy', () => {
    const base = item();
    const out = applyItemPatch(base, []);
    expect(out).toEqual(base);
    expect(out).not.toBe(base);
  });
});

describe('applyItemPatch: errors say which operation and why', () => {
  it.each<[string, unknown, number, string]>([
    ['not an array', { op: 'add' }, -1, 'the body must be a JSON array of operations'],
    ['operation not an object', ['x'], 0, 'operation 0: an operation must be an object'],
    ['move', [{ op: 'move', from: '/title', path: '/tags/0' }], 0, '"op" must be "add", "remove" or "replace"'],
    ['copy', [{ op: 'copy', from: '/title', path: '/tags/0' }], 0, '"op" must be "add", "remove" or "replace"'],
    ['test', [{ op: 'test', path: '/title', value: 'Database' }], 0, '"op" must be "add", "remove" or "replace"'],
    ['path missing', [{ op: 'remove' }], 0, '"path" must be a string'],
    ['path without /', [{ op: 'replace', path: 'title', value: 'x' }], 0, 'must be a JSON Pointer starting with "/"'],
    ['whole document', [{ op: 'replace', path: '', value: {} }], 0, 'use PUT'],
    ['replace without value', [{ op: 'replace', path: '/title' }], 0, '"replace" needs a "value"'],
    ['add without value', [{ op: 'add', path: '/tags/-' }], 0, '"add" needs a "value"'],
    ['/id', [{ op: 'replace', path: '/id', value: 'x' }], 0, '"/id" is set by the server'],
    ['/version', [{ op: 'replace', path: '/version', value: 9 }], 0, '"/version" is set by the server'],
    ['/vault/id', [{ op: 'replace', path: '/vault/id', value: 'x' }], 0, '"/vault" is set by the server'],
    ['/createdAt', [{ op: 'remove', path: '/createdAt' }], 0, '"/createdAt" is set by the server'],
    ['/updatedAt', [{ op: 'replace', path: '/updatedAt', value: 'x' }], 0, '"/updatedAt" is set by the server'],
    ['/lastEditedBy', [{ op: 'replace', path: '/lastEditedBy', value: 'x' }], 0, '"/lastEditedBy" is set by the server'],
    ['/files', [{ op: 'remove', path: '/files/0' }], 0, '"/files" is set by the server'],
    ['unknown top-level', [{ op: 'add', path: '/colour', value: 'red' }], 0, '"/colour" is not an item property that can be patched'],
    ['missing field id', [{ op: 'replace', path: '/fields/nope/value', value: 'x' }], 0, 'no field with id "nope"'],
    ['missing field id, remove', [{ op: 'remove', path: '/fields/nope' }], 0, 'no field with id "nope"'],
    ['missing section id', [{ op: 'replace', path: '/sections/nope/label', value: 'x' }], 0, 'no section with id "nope"'],
    ['- for replace', [{ op: 'replace', path: '/fields/-', value: {} }], 0, '"-" (the end of /fields) can only be the target of "add"'],
    ['- with more path', [{ op: 'add', path: '/fields/-/value', value: 'x' }], 0, 'can only be the target of "add"'],
    ['index out of range', [{ op: 'replace', path: '/fields/9/value', value: 'x' }], 0, 'the path does not exist'],
    ['add past the end', [{ op: 'add', path: '/tags/5', value: 'x' }], 0, 'past the end'],
    ['missing nested member', [{ op: 'remove', path: '/fields/username/section' }], 0, 'the path does not exist'],
    ['field not an object', [{ op: 'add', path: '/fields/-', value: 'x' }], 0, 'a field must be an object'],
    ['title not a string', [{ op: 'replace', path: '/title', value: 5 }], 0, '"title" must be a string'],
    ['remove title', [{ op: 'remove', path: '/title' }], 0, '"title" must be a string'],
    ['bad category', [{ op: 'replace', path: '/category', value: 'CAR' }], 0, '"category" must be one of LOGIN'],
    ['favorite not boolean', [{ op: 'replace', path: '/favorite', value: 'yes' }], 0, '"favorite" must be true or false'],
    ['tag not a string', [{ op: 'add', path: '/tags/-', value: 1 }], 0, 'tags[2] must be a string'],
    ['url without href', [{ op: 'add', path: '/urls/-', value: { label: 'x' } }], 0, 'urls[1] must be an object with a string "href"'],
    ['field value not a string', [{ op: 'replace', path: '/fields/password/value', value: 42 }], 0, 'fields[1].value must be a string'],
    ['duplicate field id', [{ op: 'add', path: '/fields/-', value: { id: 'username' } }], 0, 'fields[3].id "username" is used twice'],
    ['second op fails', [{ op: 'replace', path: '/title', value: 'ok' }, { op: 'replace', path: '/id', value: 'x' }], 1, 'operation 1 (replace "/id")'],
  ])('%s', (_why, ops, index, fragment) => {
    const e = patchError(ops);
    expect(e.message).toMatch(/^invalid patch: /);
    expect(e.message).toContain(fragment);
    expect(e.index).toBe(index === -1 ? undefined : index);
  });

  it('names the operation and its path', () => {
    expect(patchError([{ op: 'replace', path: '/fields/nope/value', value: 'x' }]).message).toBe(
      'invalid patch: operation 0 (replace "/fields/nope/value"): no field with id "nope"',
    );
  });

  it('never puts values from the patch or the item into the message', () => {
    const attempts: unknown[] = [
      [{ op: 'replace', path: '/fields/9/value', value: SECRET }],
      [{ op: 'add', path: '/tags/7', value: SECRET }],
      [{ op: 'replace', path: '/fields/password/value', value: { secret: SECRET } }],
      [{ op: 'remove', path: '/fields/username/section' }],
      [{ op: 'replace', path: '/nothing', value: SECRET }],
    ];
    for (const ops of attempts) expect(patchError(ops).message).not.toContain(SECRET);
  });
});

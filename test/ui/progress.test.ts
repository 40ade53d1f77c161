import { describe, expect, it } from 'vitest';
import { formatElapsed, renderApplyEvent, renderApplyResult } from '../../src/ui/progress.js';

describe('renderApplyEvent', () => {
  it('reads like a log line per event', () => {
    expect(renderApplyEvent({ type: 'start', address: 'Production/db', action: 'update' })).toBe('~ Production/db: updating...');
    expect(renderApplyEvent({ type: 'done', address: 'Production/db', action: 'create', itemId: 'a'.repeat(26), version: 1 })).toBe(
      `+ Production/db: created (item ${'a'.repeat(26)}, version 1)`,
    );
    expect(renderApplyEvent({ type: 'done', address: 'Staging/x', action: 'delete' })).toBe('- Staging/x: deleted');
    expect(renderApplyEvent({ type: 'failed', address: 'Staging/x', action: 'replace', error: '409 conflict:\nversion moved' })).toBe(
      '-/+ Staging/x: replace failed: 409 conflict:\\nversion moved',
    );
    expect(renderApplyEvent({ type: 'skipped', address: 'Staging/y', action: 'create', reason: 'interrupted' })).toBe(
      '+ Staging/y: create skipped: interrupted',
    );
  });
});

describe('renderApplyResult', () => {
  it('summarises a complete apply', () => {
    expect(
      renderApplyResult({
        done: [
          { address: 'a/1', action: 'create' },
          { address: 'a/2', action: 'update' },
          { address: 'a/3', action: 'update' },
        ],
        failed: [],
        skipped: [],
        interrupted: false,
        elapsedMs: 1234,
      }),
    ).toBe('Apply complete: 3 done, 0 failed, 0 skipped (1 created, 2 updated), in 1.2s.\n');
  });
  it('lists failures with reasons and what was left undone', () => {
    const out = renderApplyResult({
      done: [{ address: 'a/1', action: 'delete' }],
      failed: [{ address: 'a/2', action: 'update', error: 'item version moved (planned 3, live 4)' }],
      skipped: [{ address: 'a/3', action: 'create', reason: 'interrupted' }],
      interrupted: true,
      elapsedMs: 61_000,
    });
    expect(out).toBe(
      [
        'Apply interrupted: 1 done, 1 failed, 1 skipped (1 deleted), in 1m01s.',
        'interrupted: 1 operation not started',
        'Failed:',
        '  ~ a/2 (update): item version moved (planned 3, live 4)',
        'Left undone:',
        '  + a/3 (create): interrupted',
        '',
      ].join('\n'),
    );
  });
  it('formats elapsed time', () => {
    expect(formatElapsed(12)).toBe('12ms');
    expect(formatElapsed(59_949)).toBe('59.9s');
    expect(formatElapsed(125_000)).toBe('2m05s');
  });
});

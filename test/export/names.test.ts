import { describe, expect, it } from 'vitest';
import { EnvNames, envNameBase, itemKeyBase, slug, uniqueName } from '../../src/export/names.js';

describe('slug and item keys', () => {
  it('lowercases and turns runs of other characters into one "-", trimmed', () => {
    expect(slug('Primary DB (eu-west)')).toBe('primary-db-eu-west');
    expect(slug('  --Ünïcode ✓ key__ ')).toBe('n-code-key');
    expect(itemKeyBase('Stripe API key')).toBe('stripe-api-key');
  });
  it('falls back to "item" when nothing is left', () => {
    expect(itemKeyBase('✓✓')).toBe('item');
    expect(itemKeyBase('---')).toBe('item');
  });
  it('makes names unique with -2, -3, skipping taken ones', () => {
    const used = new Set<string>(['db-3']);
    expect(uniqueName('db', used)).toBe('db');
    expect(uniqueName('db', used)).toBe('db-2');
    expect(uniqueName('db', used)).toBe('db-4');
    expect(uniqueName('x', used, '_')).toBe('x');
    expect(uniqueName('x', used, '_')).toBe('x_2');
  });
});

describe('environment variable names', () => {
  it('is OPSYNC_<VAULT>_<ITEMKEY>_<FIELDKEY>, uppercased, runs of others -> "_", trimmed', () => {
    expect(envNameBase('Production', 'db-primary', 'connection.api key')).toBe('OPSYNC_PRODUCTION_DB_PRIMARY_CONNECTION_API_KEY');
    expect(envNameBase('My vault!', 'x', '__pass--word__')).toBe('OPSYNC_MY_VAULT_X_PASS_WORD');
    expect(envNameBase('v', 'k', 'ü')).toBe('OPSYNC_V_K');
    expect(envNameBase('v', 'k', 'f')).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
  });
  it('gives every variable of one export a distinct name', () => {
    const names = new EnvNames();
    expect(names.next('V', 'a-b', 'c')).toBe('OPSYNC_V_A_B_C');
    expect(names.next('V', 'a', 'b.c')).toBe('OPSYNC_V_A_B_C_2');
    expect(names.next('V', 'a', 'b c')).toBe('OPSYNC_V_A_B_C_3');
    expect(names.next('V', 'a', 'b_c_2')).toBe('OPSYNC_V_A_B_C_2_2');
  });
});

describe('opsync\'s own variables', () => {
  it('are never given to a secret, so that loading the values file cannot change a setting', () => {
    const names = new EnvNames();
    expect(names.next('Продакшн', 'state', 'Пароль')).toBe('OPSYNC_STATE_2');
    expect(names.next('digest', 'key', '')).toBe('OPSYNC_DIGEST_KEY_2');
    expect(names.next('', 'config', '')).toBe('OPSYNC_CONFIG_2');
    expect(names.next('', 'parallelism', '')).toBe('OPSYNC_PARALLELISM_2');
  });
});

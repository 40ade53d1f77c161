// The spec lives in the repository (spec/connect-openapi.yaml) and schemas/connect-api.schema.json, which the
// server validates request bodies and seeds with, is generated from it by scripts/connect-schema.mjs. These
// tests fail when the committed schema is not what the spec gives, and when anything the tests, the sources or
// the benchmarks read lies outside the repository (a clone with nothing beside it must pass).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildConnectSchema, renderConnectSchema, SCHEMA_URL, SPEC_URL } from '../../scripts/connect-schema.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|tsx|mjs|js)$/.test(name) ? [p] : [];
  });
}

describe('spec/connect-openapi.yaml and schemas/connect-api.schema.json', () => {
  it('the committed schema is exactly what scripts/connect-schema.mjs makes of the spec', () => {
    const committed = readFileSync(SCHEMA_URL, 'utf8');
    const generated = renderConnectSchema(readFileSync(SPEC_URL, 'utf8'));
    expect(committed, 'schemas/connect-api.schema.json is stale: run node scripts/connect-schema.mjs').toBe(generated);
  });

  it('the spec is 1Password\'s, MIT, with its header kept', () => {
    const text = readFileSync(SPEC_URL, 'utf8');
    const spec = parse(text) as { openapi: string; info: { title: string; version: string; license: { name: string } } };
    expect(spec.openapi).toBe('3.1.0');
    expect(spec.info.title).toBe('1Password Connect Server API');
    expect(spec.info.license.name).toBe('MIT');
    expect(text.split('\n')[0]).toMatch(/^# Copied unchanged from 1Password's published Connect Server API description/);
  });

  it('every component schema of the spec is in the generated schema, departures only where documented', () => {
    const spec = parse(readFileSync(SPEC_URL, 'utf8')) as { components: { schemas: Record<string, unknown> } };
    const schema = buildConnectSchema(readFileSync(SPEC_URL, 'utf8')) as { $defs: Record<string, any> };
    expect(Object.keys(schema.$defs).sort()).toEqual(Object.keys(spec.components.schemas).sort());
    const type = schema.$defs.Field.properties.type.enum as string[];
    for (const t of ['STRING', 'EMAIL', 'CONCEALED', 'URL', 'TOTP', 'DATE', 'MONTH_YEAR', 'MENU', 'OTP', 'SSHKEY', 'PHONE']) expect(type).toContain(t);
    expect(schema.$defs.Field.properties.purpose.enum).toEqual(['', 'USERNAME', 'PASSWORD', 'NOTES']);
    expect(JSON.stringify(schema)).not.toContain('"format":"uuid"');
  });
});

describe('nothing reads outside the repository', () => {
  it('no source, test or benchmark file names a path above the repository', () => {
    const outside = ['..', 'shared'].join('/');
    const offenders: string[] = [];
    for (const dir of ['src', 'test', 'bench', 'scripts']) {
      for (const f of files(join(ROOT, dir))) {
        const text = readFileSync(f, 'utf8');
        if (text.includes(outside) || /new URL\('(\.\.\/){3,}/.test(text)) offenders.push(f.slice(ROOT.length));
      }
    }
    expect(offenders).toEqual([]);
  });
});

// A PostgreSQL server for the tests of the postgres state backend: the one OPSYNC_TEST_PG_URL names, or a
// throwaway cluster that test/support/postgres-global.ts (vitest's globalSetup) starts once per test run
// from the server binaries on this machine. Tests that need one skip, saying why, when there is none.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { FILE_FAILED, FILE_READY, NO_BINARIES } from './postgres-global.js';

export { NO_BINARIES };

/** What the global setup hands the test workers. */
export interface PostgresProvided {
  /** OPSYNC_TEST_PG_URL, when set. */
  url?: string;
  /** The folder of the cluster being started: its `ready` (JSON: PostgresTarget) or `failed` (a reason) file says when it is up. */
  dir?: string;
  /** Why there is no server. */
  reason?: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    opsyncPostgres: PostgresProvided;
  }
}

export interface PostgresTarget {
  /** A superuser's URL (the throwaway cluster's trusts every local connection). */
  url?: string;
  /** Why there is none: a skip message. */
  reason?: string;
  /**
   * A role that must log in with a password over TCP (the throwaway cluster's pg_hba.conf asks it for one;
   * its tests create it). Absent for OPSYNC_TEST_PG_URL, whose authentication is unknown.
   */
  passwordRole?: string;
}

let cached: Promise<PostgresTarget> | undefined;

/** The server to test against, once it is up (the global setup starts it beside the first tests). */
export function postgresTarget(): Promise<PostgresTarget> {
  // .ci/run installs the server binaries: in CI their absence is a failure, not a skip.
  cached ??= resolveTarget().then((t) => {
    if (!t.url && process.env.CI) throw new Error(`the postgres backend's tests need PostgreSQL in CI: ${t.reason ?? 'no PostgreSQL server'}`);
    return t;
  });
  return cached;
}

/** Its URL, or undefined when there is none (then `postgresReason()` says why). */
export async function postgresUrl(): Promise<string | undefined> {
  return (await postgresTarget()).url;
}

/** Why there is no server, or undefined when there is one. */
export async function postgresReason(): Promise<string | undefined> {
  const t = await postgresTarget();
  return t.url ? undefined : (t.reason ?? 'no PostgreSQL server');
}

/** A schema name of its own for one test (or one contract store), so tests sharing a server never meet. */
export function freshSchema(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

async function resolveTarget(): Promise<PostgresTarget> {
  let provided: PostgresProvided | undefined;
  try {
    provided = inject('opsyncPostgres');
  } catch {
    /* not under vitest's runner */
  }
  if (!provided) {
    return process.env.OPSYNC_TEST_PG_URL
      ? { url: process.env.OPSYNC_TEST_PG_URL }
      : { reason: 'the PostgreSQL test server is started by the vitest globalSetup (vitest.config.ts): run the tests with vitest, or set OPSYNC_TEST_PG_URL' };
  }
  if (provided.url) return { url: provided.url };
  if (!provided.dir) return { reason: provided.reason ?? NO_BINARIES };
  // The cluster starts while the first tests run; wait for it (initdb takes a second or two).
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      return JSON.parse(readFileSync(join(provided.dir, FILE_READY), 'utf8')) as PostgresTarget;
    } catch {
      /* not yet */
    }
    try {
      return { reason: readFileSync(join(provided.dir, FILE_FAILED), 'utf8') };
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) return { reason: `the throwaway PostgreSQL cluster in ${provided.dir} did not start in 90 s` };
    await new Promise((r) => setTimeout(r, 50));
  }
}

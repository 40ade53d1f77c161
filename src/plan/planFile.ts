// Saved plans (`plan -out FILE`): the Plan as JSON, written 0600, with no secret value in it. A secret
// field's literal (allowed with `allowLiteral: true`) is left out and read again from the manifests when
// the plan is applied; the plan's digest proves it is the same value.

import { readFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import { loadManifests } from '../manifest/load.js';
import { PLAN_FORMAT_VERSION, type Plan } from './types.js';
import { writeFileAtomic } from '../files.js';

const REDACTED_LITERAL = { kind: 'literal', value: '', redacted: true } as const;

function redacted(plan: Plan): Plan {
  return {
    ...plan,
    changes: plan.changes.map((c) =>
      c.desired
        ? {
            ...c,
            desired: {
              ...c.desired,
              fields: c.desired.fields.map((f) => (f.sensitive && f.source.kind === 'literal' ? { ...f, source: { ...REDACTED_LITERAL } } : f)),
            },
          }
        : c,
    ),
  };
}

export function writePlanFile(path: string, plan: Plan): void {
  writeFileAtomic(path, `${JSON.stringify(redacted(plan), null, 2)}\n`, 0o600);
}

/** Put back the literals a saved plan left out, from the manifests it was made from. */
function restoreLiterals(plan: Plan, env: NodeJS.ProcessEnv): Plan {
  const needs = plan.changes.some((c) => c.desired?.fields.some((f) => f.source.kind === 'literal' && f.source.redacted));
  if (!needs) return plan;
  const { manifest } = loadManifests(plan.manifests, { env });
  const items = new Map(manifest.items.map((i) => [i.address, i]));
  for (const c of plan.changes) {
    if (!c.desired) continue;
    const current = items.get(c.address);
    c.desired.fields = c.desired.fields.map((f) => {
      if (f.source.kind !== 'literal' || !f.source.redacted) return f;
      const now = current?.fields.find((x) => x.key === f.key)?.source;
      // A literal that is gone or changed leaves the placeholder: apply's digest check then refuses the plan.
      return now?.kind === 'literal' ? { ...f, source: now } : f;
    });
  }
  return plan;
}

export function readPlanFile(path: string, env: NodeJS.ProcessEnv): Plan {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read plan file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let plan: Plan;
  try {
    plan = JSON.parse(text) as Plan;
  } catch {
    throw new UserError(`${path} is not a saved opsync plan (not JSON)`);
  }
  if (!plan || typeof plan !== 'object' || !Array.isArray(plan.changes)) throw new UserError(`${path} is not a saved opsync plan`);
  if (plan.formatVersion !== PLAN_FORMAT_VERSION) {
    throw new UserError(`${path} is a plan of format ${String(plan.formatVersion)}; this opsync reads format ${PLAN_FORMAT_VERSION}`);
  }
  return restoreLiterals(plan, env);
}

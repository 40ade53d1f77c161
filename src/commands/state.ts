// `opsync state list | show | rm | mv | pull | push | migrate | set-connect` and `opsync force-unlock`: read
// and edit the state by hand, under its lock, whatever its backend. Never touches an item in Connect, and the
// state holds no secret values, so nothing here can print one.

import { UserError } from '../errors.js';
import { closest, suggest } from '../plan/select.js';
import { parseHost } from '../connect/transport.js';
import { FileReadError, LIMITS, readRegularFile } from '../files.js';
import { StateConflictError, type StateBackend } from '../state/backend.js';
import { checkWrite } from '../state/backends/compare.js';
import { parseStateDocument, serialiseState, StateError } from '../state/file.js';
import { acquire } from '../state/lock.js';
import { currentState, openState, targetBackend, type StateTarget } from '../state/open.js';
import type { StateFile, StateResource } from '../state/types.js';
import { inline } from '../ui/sanitize.js';
import type { IO } from './common.js';

export interface StateFlags extends StateTarget {
  lockTimeoutMs: number;
}

const ADDRESS = /^[^/]+\/[^/]+$/;

/** `; did you mean Y?` with the nearest of the state's addresses, or nothing. */
function nearest(address: string, state: StateFile): string {
  return suggest(closest(address, [...Object.keys(state.resources), ...Object.keys(state.pending)]), 'addresses');
}

/** `X is not in PATH; did you mean Y? (see \`opsync state list\`)`. */
function notInState(address: string, state: StateFile, path: string): string {
  return `${address} is not in ${path}${nearest(address, state)} (see \`opsync state list\`)`;
}

function checkAddress(address: string): void {
  if (!ADDRESS.test(address)) throw new UserError(`"${address}" is not an address: write <vault>/<key>, as manifests make them`);
}

export async function stateListCommand(flags: StateFlags, io: IO): Promise<number> {
  const state = await currentState(flags);
  const rows = Object.values(state.resources).sort((a, b) => (a.address < b.address ? -1 : 1));
  for (const r of rows) {
    io.out(`${inline(r.address)}\t${inline(r.vaultName)}\t${r.itemId}\tv${r.version}${r.protect ? '\tprotected' : ''}\n`);
  }
  const pending = Object.values(state.pending).sort((a, b) => (a.address < b.address ? -1 : 1));
  for (const p of pending) io.out(`${inline(p.address)}\t${inline(p.vaultName)}\t(interrupted create of "${inline(p.title)}")\n`);
  if (rows.length === 0 && pending.length === 0) io.err(`No resources in ${flags.state}.\n`);
  return 0;
}

export async function stateShowCommand(address: string, json: boolean, flags: StateFlags, io: IO): Promise<number> {
  const state = await currentState(flags);
  const r = state.resources[address];
  const p = state.pending[address];
  if (!r && !p) throw new UserError(notInState(address, state, flags.state));
  if (json) {
    io.out(`${JSON.stringify(r ?? { ...p, pending: true }, null, 2)}\n`);
    return 0;
  }
  if (!r) {
    io.out(`${inline(address)}\n  interrupted create of "${inline(p!.title)}" in vault ${inline(p!.vaultName)} (${p!.vaultId}), started ${p!.startedAt}\n`);
    return 0;
  }
  const lines: [string, string][] = [
    ['vault', `${r.vaultName} (${r.vaultId})`],
    ['item', r.itemId],
    ['title', r.title],
    ['category', r.category],
    ['version', String(r.version)],
    ['protected', r.protect ? 'yes' : 'no'],
    ['digest', r.digest ? `${r.digest.slice(0, 19)}... (keyed hash of the applied spec; not a value)` : '(none yet: imported, compared in full at the next plan)'],
    ['updated', r.updatedAt],
  ];
  for (const [k, v] of Object.entries(r.rotations ?? {})) lines.push([`rotation ${k}`, v === '' ? '(initial)' : v]);
  for (const [k, v] of Object.entries(r.generatedAt ?? {})) lines.push([`generated ${k}`, v]);
  io.out(`${inline(address)}\n${lines.map(([k, v]) => `  ${`${k}:`.padEnd(12)} ${inline(v)}`).join('\n')}\n`);
  return 0;
}

export async function stateRmCommand(addresses: string[], flags: StateFlags, io: IO): Promise<number> {
  if (addresses.length === 0) throw new UserError('name the addresses to forget: opsync state rm <vault>/<key>...');
  const store = await openState(flags, { lockTimeoutMs: flags.lockTimeoutMs, command: 'opsync state rm', env: io.env });
  try {
    const missing = addresses.filter((a) => !store.state.resources[a] && !store.state.pending[a]);
    if (missing.length === 1) throw new UserError(`${notInState(missing[0], store.state, flags.state)}; nothing was removed`);
    if (missing.length) {
      const each = missing.map((a) => `${a}${nearest(a, store.state).replace(/^; (.*)$/, ' ($1)')}`);
      throw new UserError(`not in ${flags.state}: ${each.join(', ')}; nothing was removed (see \`opsync state list\`)`);
    }
    const removed: StateResource[] = [];
    await store.update((s) => {
      for (const a of addresses) {
        if (s.resources[a]) removed.push(s.resources[a]);
        delete s.resources[a];
        delete s.pending[a];
      }
    });
    for (const a of addresses) {
      const r = removed.find((x) => x.address === a);
      io.out(`Removed ${a} from state${r ? ` (item ${r.itemId} in vault ${r.vaultName} is left as it is)` : ''}.\n`);
    }
    if (removed.length) io.err('A manifest that still declares a removed address will plan to create it, or refuse if its title exists: `opsync import` takes it back.\n');
    return 0;
  } finally {
    await store.close();
  }
}

/**
 * A resource's vault is the vault id the state records; an address names its vault by name only as a key. So
 * `state mv` renames within that vault: NEW's vault part must be the recorded vault's name or id (or the name
 * the state last saw it under, for a renamed vault). Anything else is refused, as plan refuses a manifest
 * resource whose vault is not its state vault: nothing here or there moves an item between vaults.
 */
function checkSameVault(state: StateFile, from: string, to: string): void {
  const held = state.resources[from] ?? state.pending[from];
  const toVault = to.slice(0, to.indexOf('/'));
  const names = [held.vaultName, held.vaultId, state.vaults?.[held.vaultId]?.name];
  if (names.includes(toVault)) return;
  const what = state.resources[from] ? `item ${state.resources[from].itemId}` : `the interrupted create of ${from}`;
  const toKey = to.slice(to.indexOf('/') + 1);
  const key = toKey === from.slice(from.indexOf('/') + 1) ? '<new-key>' : toKey;
  throw new UserError(
    `state mv moves addresses within a vault; ${what} lives in vault ${held.vaultName} (id ${held.vaultId}), and ${to} names vault "${toVault}"; nothing was changed. ` +
      `To keep the item where it is under a new address: \`opsync state mv ${from} ${held.vaultName}/${key}\`. ` +
      `To manage an item in "${toVault}" instead: move it there in 1Password, then \`opsync state rm ${from}\` and \`opsync import\` it. ` +
      `If "${toVault}" is the vault's new name, rename the address with a moved: block (plan matches vaults by id)`,
  );
}

export async function stateMvCommand(from: string, to: string, flags: StateFlags, io: IO): Promise<number> {
  checkAddress(to);
  const store = await openState(flags, { lockTimeoutMs: flags.lockTimeoutMs, command: 'opsync state mv', env: io.env });
  try {
    const s0 = store.state;
    if (!s0.resources[from] && !s0.pending[from]) throw new UserError(notInState(from, s0, flags.state));
    if (s0.resources[to] || s0.pending[to]) throw new UserError(`${to} is already in ${flags.state}; remove it first with \`opsync state rm ${to}\``);
    checkSameVault(s0, from, to);
    await store.update((s) => {
      if (s.resources[from]) s.resources[to] = { ...s.resources[from], address: to };
      if (s.pending[from]) s.pending[to] = { ...s.pending[from], address: to };
      delete s.resources[from];
      delete s.pending[from];
    });
    io.out(`Moved ${from} to ${to} in state; the item was not touched.\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/** `opsync state pull`: the state document on stdout as stored, in today's format (it holds no values). */
export async function statePullCommand(flags: StateFlags, io: IO): Promise<number> {
  const backend = await targetBackend(flags);
  try {
    const state = await backend.read();
    if (!state) {
      io.err(`No state in ${flags.state}.\n`);
      return 0;
    }
    io.out(serialiseState(state));
    return 0;
  } finally {
    await backend.close();
  }
}

/** A state document from a file the user names (`state push FILE`). */
function readStateArg(file: string): ReturnType<typeof parseStateDocument> {
  let text: string;
  try {
    text = readRegularFile(file, { maxBytes: LIMITS.state });
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${err instanceof FileReadError ? err.reason : (err as Error).message}`);
  }
  try {
    return parseStateDocument(text, file);
  } catch (err) {
    throw new UserError((err as StateError).message);
  }
}

/**
 * Write `next` to `backend` under its lock, as `state push` and `state migrate` do: refused on another
 * lineage, an older serial, or a different state at the same serial, unless `force` (then its serial goes
 * above the stored one, so saved plans made on the old one are refused). Says nothing; returns what it did.
 */
async function pushUnderLock(
  backend: StateBackend,
  next: ReturnType<typeof parseStateDocument>,
  opts: { force: boolean; lockTimeoutMs: number; command: string; env: NodeJS.ProcessEnv },
): Promise<{ what: 'written' | 'same'; serial: number }> {
  const lock = await acquire(backend, { timeoutMs: opts.lockTimeoutMs, command: opts.command, env: opts.env });
  try {
    const stored = await backend.read();
    if (stored && stored.lineage === next.lineage && stored.serial === next.serial) {
      if (serialiseState(stored) === serialiseState(next)) return { what: 'same', serial: stored.serial };
      if (!opts.force) {
        throw new UserError(`state ${backend.name} is at serial ${stored.serial} too, with other contents: the two have diverged; pull it, compare, and push with --force to replace it`);
      }
    }
    const doc = { ...next };
    if (opts.force && stored && doc.serial <= stored.serial) doc.serial = stored.serial + 1;
    if (!opts.force) {
      try {
        checkWrite(stored, doc, backend.name);
      } catch (err) {
        throw new UserError((err as StateConflictError).message);
      }
    }
    await backend.write(doc, { lockId: lock.id, force: opts.force });
    return { what: 'written', serial: doc.serial };
  } finally {
    await backend.unlock(lock.id).catch(() => undefined);
  }
}

/** `opsync state push FILE [--force]`: replace the stored state with FILE's (e.g. opsync.errored.json). */
export async function statePushCommand(file: string, force: boolean, flags: StateFlags, io: IO): Promise<number> {
  const next = readStateArg(file);
  const backend = await targetBackend(flags);
  try {
    const { what, serial } = await pushUnderLock(backend, next, { force, lockTimeoutMs: flags.lockTimeoutMs, command: 'opsync state push', env: io.env });
    io.out(
      what === 'same'
        ? `State ${flags.state} already holds ${file} (serial ${serial}); nothing was written.\n`
        : `Pushed ${file} (lineage ${next.lineage}, ${Object.keys(next.resources).length} resource(s)) to ${flags.state}, now at serial ${serial}.\n`,
    );
    return 0;
  } finally {
    await backend.close();
  }
}

/**
 * `opsync state migrate --to K=V...` (or `--from K=V...`): copy the state between the configured backend and
 * another, both locked for the copy. The source is left as it is.
 */
export async function stateMigrateCommand(
  from: StateTarget,
  to: StateTarget,
  /** toConfigured: the destination is the backend opsync.yaml already names (`--from`). */
  opts: { force: boolean; lockTimeoutMs: number; toConfigured?: boolean },
  io: IO,
): Promise<number> {
  if (from.state === to.state && from.backend?.type === to.backend?.type) throw new UserError(`state migrate: the source and the destination are both ${from.state}`);
  const source = await targetBackend(from);
  try {
    const lock = await acquire(source, { timeoutMs: opts.lockTimeoutMs, command: 'opsync state migrate', env: io.env });
    try {
      const state = await source.read();
      if (!state) throw new UserError(`state migrate: no state in ${from.state}; nothing to copy`);
      const dest = await targetBackend(to);
      try {
        const { what, serial } = await pushUnderLock(dest, state, { force: opts.force, lockTimeoutMs: opts.lockTimeoutMs, command: 'opsync state migrate', env: io.env });
        io.out(
          what === 'same'
            ? `${to.state} already holds this state (serial ${serial}); nothing was written.\n`
            : `Copied the state (lineage ${state.lineage}, ${Object.keys(state.resources).length} resource(s)) from ${from.state} to ${to.state}, now at serial ${serial}.\n`,
        );
        io.err(
          opts.toConfigured
            ? `The state in ${from.state} is left as it is: remove it once runs use ${to.state}.\n`
            : `The state in ${from.state} is left as it is: point opsync.yaml's backend: at ${to.state}, and remove the old one once runs use the new.\n`,
        );
      } finally {
        await dest.close();
      }
    } finally {
      await source.unlock(lock.id).catch(() => undefined);
    }
    return 0;
  } finally {
    await source.close();
  }
}

/** `opsync state set-connect URL`: the Connect server moved; the state's items stay matched by id. */
export async function stateSetConnectCommand(url: string, flags: StateFlags, io: IO): Promise<number> {
  const to = url.trim().toLowerCase() === 'local' ? 'local' : parseHost(url).display;
  const store = await openState(flags, { lockTimeoutMs: flags.lockTimeoutMs, command: 'opsync state set-connect', env: io.env });
  try {
    const was = store.state.connect;
    if (store.state.serial === 0) throw new UserError(`no state in ${flags.state} to re-point; the first apply records its Connect server`);
    if (was === to) {
      io.out(`State ${flags.state} is already on ${to}; nothing was changed.\n`);
      return 0;
    }
    await store.update((s) => {
      s.connect = to;
      if (was) s.connectMovedFrom = s.connectMovedFrom ?? was;
      if (s.connectMovedFrom === to) delete s.connectMovedFrom;
    });
    io.out(`State ${flags.state} now points at ${to}${was ? ` (was ${was})` : ''}; the next plan says so, and matches items by the ids it holds.\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/** `opsync force-unlock LOCK_ID`: release a lock whose run is gone, by the id its lock error named. */
export async function forceUnlockCommand(id: string, autoApprove: boolean, flags: StateFlags, io: IO): Promise<number> {
  if (!autoApprove) {
    if (!io.interactive || !io.ask) throw new UserError('force-unlock asks before it unlocks: pass --auto-approve when not on a terminal');
    io.err(`Unlocking ${flags.state} while its run is still going lets two runs write at once.\n`);
    const answer = await io.ask(`Force-unlock lock ${id}? Only 'yes' will be accepted: `);
    if (answer.trim() !== 'yes') {
      io.err('Force-unlock cancelled; nothing was changed.\n');
      return 1;
    }
  }
  const backend = await targetBackend(flags);
  try {
    await backend.forceUnlock(id);
  } finally {
    await backend.close();
  }
  io.out(`Unlocked ${flags.state} (lock ${id}).\n`);
  return 0;
}

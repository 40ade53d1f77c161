// `opsync state list | show | rm | mv`: read and edit the state file by hand, under its lock. Never touches
// an item in Connect, and the state holds no secret values, so nothing here can print one.

import { UserError } from '../errors.js';
import { closest, suggest } from '../plan/select.js';
import { readState } from '../state/file.js';
import { StateStore } from '../state/store.js';
import type { StateFile, StateResource } from '../state/types.js';
import { inline } from '../ui/sanitize.js';
import type { IO } from './common.js';

export interface StateFlags {
  state: string;
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

export function stateListCommand(flags: StateFlags, io: IO): number {
  const state = readState(flags.state);
  const rows = Object.values(state.resources).sort((a, b) => (a.address < b.address ? -1 : 1));
  for (const r of rows) {
    io.out(`${inline(r.address)}\t${inline(r.vaultName)}\t${r.itemId}\tv${r.version}${r.protect ? '\tprotected' : ''}\n`);
  }
  const pending = Object.values(state.pending).sort((a, b) => (a.address < b.address ? -1 : 1));
  for (const p of pending) io.out(`${inline(p.address)}\t${inline(p.vaultName)}\t(interrupted create of "${inline(p.title)}")\n`);
  if (rows.length === 0 && pending.length === 0) io.err(`No resources in ${flags.state}.\n`);
  return 0;
}

export function stateShowCommand(address: string, json: boolean, flags: StateFlags, io: IO): number {
  const state = readState(flags.state);
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
  io.out(`${inline(address)}\n${lines.map(([k, v]) => `  ${`${k}:`.padEnd(12)} ${inline(v)}`).join('\n')}\n`);
  return 0;
}

export async function stateRmCommand(addresses: string[], flags: StateFlags, io: IO): Promise<number> {
  if (addresses.length === 0) throw new UserError('name the addresses to forget: opsync state rm <vault>/<key>...');
  const store = await StateStore.open(flags.state, { lockTimeoutMs: flags.lockTimeoutMs, command: 'opsync state rm' });
  try {
    const missing = addresses.filter((a) => !store.state.resources[a] && !store.state.pending[a]);
    if (missing.length === 1) throw new UserError(`${notInState(missing[0], store.state, flags.state)}; nothing was removed`);
    if (missing.length) {
      const each = missing.map((a) => `${a}${nearest(a, store.state).replace(/^; (.*)$/, ' ($1)')}`);
      throw new UserError(`not in ${flags.state}: ${each.join(', ')}; nothing was removed (see \`opsync state list\`)`);
    }
    const removed: StateResource[] = [];
    store.update((s) => {
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
    store.close();
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
  const store = await StateStore.open(flags.state, { lockTimeoutMs: flags.lockTimeoutMs, command: 'opsync state mv' });
  try {
    const s0 = store.state;
    if (!s0.resources[from] && !s0.pending[from]) throw new UserError(notInState(from, s0, flags.state));
    if (s0.resources[to] || s0.pending[to]) throw new UserError(`${to} is already in ${flags.state}; remove it first with \`opsync state rm ${to}\``);
    checkSameVault(s0, from, to);
    store.update((s) => {
      if (s.resources[from]) s.resources[to] = { ...s.resources[from], address: to };
      if (s.pending[from]) s.pending[to] = { ...s.pending[from], address: to };
      delete s.resources[from];
      delete s.pending[from];
    });
    io.out(`Moved ${from} to ${to} in state; the item was not touched.\n`);
    return 0;
  } finally {
    store.close();
  }
}

export { emptyState, parseStateDocument, readState, readStateFile, serialiseState, replayJournal, writeStateAtomic, validateStateShape, StateError } from './file.js';
export { applyChange, journalPath, parseJournal, JournalWriter, type JournalEntry, type JournalHeader, type StateChange } from './journal.js';
export { acquire, acquireLock, heldError, localLockHolder, lockFile, unlockFile, type Lock, type LocalLock, type LockInfo } from './lock.js';
export { StateStore, type CompactPolicy, type StoreStats } from './store.js';
export * from './types.js';
export * from './backend.js';

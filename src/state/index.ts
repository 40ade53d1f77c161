export { emptyState, readState, readStateFile, replayJournal, writeStateAtomic, validateStateShape, StateError } from './file.js';
export { applyChange, journalPath, parseJournal, JournalWriter, type JournalEntry, type JournalHeader, type StateChange } from './journal.js';
export { acquireLock, forceUnlock, LockError, type Lock, type LockInfo } from './lock.js';
export { StateStore, type CompactPolicy, type StoreStats } from './store.js';
export * from './types.js';

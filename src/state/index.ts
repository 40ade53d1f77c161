export { emptyState, readState, writeStateAtomic, validateStateShape, StateError } from './file.js';
export { acquireLock, forceUnlock, LockError, type Lock, type LockInfo } from './lock.js';
export { StateStore } from './store.js';
export * from './types.js';

// The server's defaults, apart from its code so that the CLI can show them without loading the server.
export const DEFAULT_PORT = 8080;
export const DEFAULT_DATA_DIR = '.opsync/server';
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DB_FILE = 'opsync.db';
export const TOKEN_FILE = 'token';
/** Versions of each remote state kept (and listed at /state/NAME/versions). */
export const DEFAULT_STATE_VERSIONS = 20;
/** Largest state document accepted by POST /state/NAME; a state of 100k items is several MB. */
export const DEFAULT_MAX_STATE_BYTES = 64 * 1024 * 1024;

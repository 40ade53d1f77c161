import { readFileSync } from 'node:fs';

/** opsync's version, from package.json (read once; works from src/ and dist/). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

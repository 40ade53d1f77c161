// Connect's SCIM-style filters, as the `filter` query parameter carries them.

/** `title eq "Primary database"`, with `"` and `\` escaped so that any title can be looked up. */
export function filterEq(attr: 'title' | 'name' | 'tag', value: string): string {
  return `${attr} eq "${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

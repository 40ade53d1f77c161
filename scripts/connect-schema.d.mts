// Types for scripts/connect-schema.mjs, so that TypeScript tests can import it.
export declare const SPEC_URL: URL;
export declare const SCHEMA_URL: URL;
export declare const RESPONSE_FIELD_TYPES: string[];
export declare function buildConnectSchema(specText: string): Record<string, unknown>;
export declare function renderConnectSchema(specText: string): string;

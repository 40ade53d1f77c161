// An independent check that text holds no trace of a secret: the value itself, its JSON, double-JSON and Go
// escapes, URL and base64 encodings (every byte alignment), in any letter case, whole or as any run of 8 or more
// characters. Written apart from src/connect/redact.ts on purpose, so the two do not share a blind spot.

const b64Runs = (value: string): string[] => {
  const out: string[] = [];
  for (let k = 0; k < 3; k++) {
    const b = Buffer.concat([Buffer.alloc(k), Buffer.from(value)]).toString('base64');
    out.push(b.slice(k ? 4 : 0, -4));
  }
  return out.flatMap((s) => [s, s.replace(/\+/g, '-').replace(/\//g, '_')]);
};

function encodings(value: string): string[] {
  const json = JSON.stringify(value).slice(1, -1);
  const go = json.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  return [value, json, JSON.stringify(json).slice(1, -1), go, JSON.stringify(go).slice(1, -1), encodeURIComponent(value), ...b64Runs(value)].filter(
    (s) => s.length > 0,
  );
}

/** The first trace of `secret` found in `text` (a short description), or undefined. */
export function findLeak(text: string, secret: string, minRun = 8): string | undefined {
  const hay = text.toLowerCase();
  for (const enc of encodings(secret)) {
    const e = enc.toLowerCase();
    if (e.length < minRun) {
      if (e.length >= 4 && hay.includes(e)) return `the whole of an encoding (${e.length} chars)`;
      continue;
    }
    for (let i = 0; i + minRun <= e.length; i++) {
      if (hay.includes(e.slice(i, i + minRun))) return `a run of ${minRun} characters of an encoding: ${JSON.stringify(e.slice(i, i + minRun))}`;
    }
  }
  return undefined;
}

// A small router over route templates like `/v1/vaults/:vault/items/:item`. Trailing slashes are tolerated
// (the official JS SDK requests `v1/vaults/` and `.../items/`). Unknown paths -> 404, known path with another
// method -> 405 with an Allow header. HEAD is served wherever GET is (node drops the body).
import { HttpError } from './http.js';

export type Params = Record<string, string>;

export interface Route<H> {
  method: string;
  template: string;
  handler: H;
}

export interface Match<H> {
  route: Route<H>;
  params: Params;
}

interface Compiled<H> {
  route: Route<H>;
  segments: string[];
}

export class Router<H> {
  private readonly routes: Compiled<H>[] = [];

  add(method: string, template: string, handler: H): this {
    this.routes.push({ route: { method, template, handler }, segments: split(template) });
    return this;
  }

  /** The matching route, or throws 404/405. `pathname` is the raw (still percent-encoded) path. */
  match(method: string, pathname: string): Match<H> {
    const parts = split(pathname);
    const allowed = new Set<string>();
    for (const c of this.routes) {
      const params = matchSegments(c.segments, parts);
      if (!params) continue;
      const m = method === 'HEAD' ? 'GET' : method;
      if (c.route.method === m) return { route: c.route, params };
      allowed.add(c.route.method);
    }
    if (allowed.size === 0) throw new HttpError(404, `Not found: no route for ${method} ${pathname}`);
    if (allowed.has('GET')) allowed.add('HEAD');
    const allow = [...allowed].join(', ');
    throw new HttpError(405, `Method ${method} is not allowed on ${pathname}; allowed: ${allow}`, { Allow: allow });
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function matchSegments(template: string[], parts: string[]): Params | undefined {
  if (template.length !== parts.length) return undefined;
  const params: Params = {};
  for (let i = 0; i < template.length; i++) {
    const t = template[i];
    if (t.startsWith(':')) {
      let value: string;
      try {
        value = decodeURIComponent(parts[i]);
      } catch {
        value = parts[i];
      }
      params[t.slice(1)] = value;
    } else if (t !== parts[i]) {
      return undefined;
    }
  }
  return params;
}

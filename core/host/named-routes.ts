/**
 * The table of named routes (`/call`, `/tools/{name}`, `/health` …), collected
 * from the Fastify routes the route modules register. The host consults it
 * before Fastify so that a named path with the wrong method answers 405 with
 * `Allow` (Fastify would say 404), and so the auth stage knows, from the same
 * decision the router makes, whether a path is named or passthrough.
 */

/** Who may call a named route. */
export type RouteAccess =
  /** No auth at all (`/health`, JWKS, probes). */
  | 'public'
  /** Caller auth (JWT / virtual key / dev mode). */
  | 'caller'
  /** The admin bearer only; bypasses sig-verify and caller auth (as in the reference). */
  | 'admin';

export interface NamedRoute {
  /** Template with `:param` segments, as registered with Fastify. */
  template: string;
  methods: Set<string>;
  access: RouteAccess;
}

interface Compiled {
  route: NamedRoute;
  segments: string[];
}

export class NamedRouteTable {
  private readonly exact = new Map<string, NamedRoute>();
  private readonly patterns: Compiled[] = [];
  /**
   * First path segments of the patterns (`tools` for `/tools/:name`), so a
   * passthrough path is rejected with one lookup instead of a split and a scan;
   * null when a pattern starts with a parameter or wildcard.
   */
  private patternHeads: Set<string> | null = new Set();

  add(template: string, method: string, access: RouteAccess): void {
    const existing = this.exact.get(template) ?? this.patterns.find((p) => p.route.template === template)?.route;
    if (existing) {
      existing.methods.add(method);
      if (method === 'GET') existing.methods.add('HEAD');
      return;
    }
    const route: NamedRoute = { template, methods: new Set([method]), access };
    if (method === 'GET') route.methods.add('HEAD');
    if (template.includes(':') || template.includes('*')) {
      const segments = template.split('/');
      this.patterns.push({ route, segments });
      const head = segments[1] ?? '';
      if (head.startsWith(':') || head.includes('*')) this.patternHeads = null;
      else this.patternHeads?.add(head);
    } else {
      this.exact.set(template, route);
    }
  }

  /** The named route for a canonical path, whatever the method. */
  match(path: string): NamedRoute | undefined {
    const hit = this.exact.get(path);
    if (hit) return hit;
    if (this.patterns.length === 0) return undefined;
    if (this.patternHeads !== null) {
      const end = path.indexOf('/', 1);
      if (!this.patternHeads.has(end < 0 ? path.slice(1) : path.slice(1, end))) return undefined;
    }
    const segs = path.split('/');
    for (const p of this.patterns) {
      const tpl = p.segments;
      let ok = true;
      for (let i = 0; i < tpl.length && ok; i++) {
        const t = tpl[i]!;
        if (t === '*') return p.route; // wildcard tail: the rest matches
        if (i >= segs.length) ok = false;
        else if (t.startsWith(':')) ok = segs[i] !== '';
        else ok = t === segs[i];
      }
      if (ok && segs.length === tpl.length) return p.route;
    }
    return undefined;
  }

  all(): NamedRoute[] {
    return [...this.exact.values(), ...this.patterns.map((p) => p.route)];
  }
}

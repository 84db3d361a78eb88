/**
 * A tool's request plan, compiled once at provision from its `input_schema`
 * (plugins/http/README.md#parameters): legacy or location-aware mode, where each declared
 * parameter goes, collection formats, defaults to merge, required names, body
 * encoding and the endpoint split around `{param}` placeholders. Hand-written
 * `http` tools and generated `openapi` tools both run from a plan, so the
 * request code exists once.
 */
import type { HttpMethod } from '../../sdk/plugin.js';

export const PARAM_LOCATIONS = ['path', 'query', 'header', 'body', 'cookie'] as const;
export type ParamLocation = (typeof PARAM_LOCATIONS)[number];

export const COLLECTION_FORMATS = ['multi', 'csv', 'ssv', 'pipes'] as const;
export type CollectionFormat = (typeof COLLECTION_FORMATS)[number];

export interface ParamSpec {
  location: ParamLocation;
  collection: CollectionFormat;
}

export type EndpointPart = string | { readonly param: string };

export interface RequestPlan {
  readonly method: HttpMethod;
  /** The endpoint as sent in legacy mode (no substitution; URL-encoded like a parser would). */
  readonly endpoint: string;
  /** Some property has `x-ati-param-location`. */
  readonly locationAware: boolean;
  readonly params: ReadonlyMap<string, ParamSpec>;
  /** `[name, default]` for properties whose default is not null, `[]` or `{}`. */
  readonly defaults: ReadonlyArray<readonly [string, unknown]>;
  readonly required: readonly string[];
  /** `x-ati-body-encoding = "form"`. */
  readonly formBody: boolean;
  /** The endpoint split at `{name}` placeholders (location-aware mode substitutes them). */
  readonly endpointParts: readonly EndpointPart[];
}

function isEmptyDefault(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Percent-encodes what a URL parser would in a literal path (space, `"`, `<`,
 * `>`, `` ` ``, `{`, `}`, controls, non-ASCII), so the wire form matches the
 * reference's (`{id}` left in a legacy endpoint is sent as `%7Bid%7D`). The
 * query part, if the endpoint has one, is kept as written apart from the same set.
 */
export function encodeLiteralPath(p: string): string {
  return p.replace(/[\u0000-\u0020"<>`{}\u007f]|[^\u0000-\u007f]/gu, (c) => encodeURIComponent(c));
}

/** Splits `/pets/{petId}/photos` into literal and `{param}` parts (literals URL-encoded as a parser would). */
export function splitEndpoint(endpoint: string): EndpointPart[] {
  const parts: EndpointPart[] = [];
  const re = /\{([^{}]+)\}/g;
  let last = 0;
  for (const m of endpoint.matchAll(re)) {
    if (m.index > last) parts.push(encodeLiteralPath(endpoint.slice(last, m.index)));
    parts.push({ param: m[1]! });
    last = m.index + m[0].length;
  }
  if (last < endpoint.length) parts.push(encodeLiteralPath(endpoint.slice(last)));
  return parts;
}

/** Compiles the plan of one tool. Unknown location values are reported by `validate`, and treated as `body` here. */
export function compileRequestPlan(
  method: HttpMethod,
  endpoint: string,
  inputSchema: Record<string, unknown> | null | undefined,
): RequestPlan {
  const props = isRecord(inputSchema?.['properties']) ? (inputSchema['properties'] as Record<string, unknown>) : {};
  const params = new Map<string, ParamSpec>();
  const defaults: Array<readonly [string, unknown]> = [];
  let locationAware = false;
  for (const [name, raw] of Object.entries(props)) {
    if (!isRecord(raw)) continue;
    const loc = raw['x-ati-param-location'];
    if (typeof loc === 'string') locationAware = true;
    const cf = raw['x-ati-collection-format'];
    params.set(name, {
      location: (PARAM_LOCATIONS as readonly string[]).includes(loc as string) ? (loc as ParamLocation) : 'body',
      collection: (COLLECTION_FORMATS as readonly string[]).includes(cf as string) ? (cf as CollectionFormat) : 'multi',
    });
    if ('default' in raw && !isEmptyDefault(raw['default'])) defaults.push([name, raw['default']]);
  }
  const required = Array.isArray(inputSchema?.['required'])
    ? (inputSchema['required'] as unknown[]).filter((r): r is string => typeof r === 'string')
    : [];
  return {
    method,
    endpoint: encodeLiteralPath(endpoint),
    locationAware,
    params,
    defaults,
    required,
    formBody: inputSchema?.['x-ati-body-encoding'] === 'form',
    endpointParts: splitEndpoint(endpoint),
  };
}

/** Problems with the `x-ati-*` keys of an input schema, as `[relative field, message]`. */
export function inputSchemaProblems(inputSchema: Record<string, unknown> | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (!inputSchema) return out;
  const props = inputSchema['properties'];
  if (props !== undefined && !isRecord(props)) {
    out.push(['properties', 'must be a table']);
    return out;
  }
  for (const [name, raw] of Object.entries(props ?? {})) {
    if (!isRecord(raw)) continue;
    const loc = raw['x-ati-param-location'];
    if (loc !== undefined && !(PARAM_LOCATIONS as readonly unknown[]).includes(loc)) {
      out.push([
        `properties.${name}.x-ati-param-location`,
        `must be one of ${PARAM_LOCATIONS.map((l) => `"${l}"`).join(', ')} (found ${JSON.stringify(loc)})`,
      ]);
    }
    const cf = raw['x-ati-collection-format'];
    if (cf !== undefined && !(COLLECTION_FORMATS as readonly unknown[]).includes(cf)) {
      out.push([
        `properties.${name}.x-ati-collection-format`,
        `must be one of ${COLLECTION_FORMATS.map((l) => `"${l}"`).join(', ')} (found ${JSON.stringify(cf)})`,
      ]);
    }
  }
  const enc = inputSchema['x-ati-body-encoding'];
  if (enc !== undefined && enc !== 'form' && enc !== 'json') {
    out.push(['x-ati-body-encoding', `must be "form" or "json" (found ${JSON.stringify(enc)})`]);
  }
  return out;
}

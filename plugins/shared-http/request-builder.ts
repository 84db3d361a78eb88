/**
 * Turns a tool's request plan and the caller's arguments into the parts of an
 * upstream request (ref-01 §6.1–6.3): defaults merged, required arguments
 * checked, then legacy mode (GET → query, other methods → JSON body) or
 * location-aware mode (path / query / header / cookie / body buckets, collection
 * formats, form bodies, path encoding with its forbidden characters, denied
 * header names). Bad arguments are ATI_ERR_TOOL_ARGS (400), never a 502.
 * Auth and `extra_headers` are added later by the engine.
 */
import { AtiError, percentEncode } from '../../sdk/plugin.js';
import type { CollectionFormat, RequestPlan } from './request-plan.js';

export interface BuiltRequest {
  /** Endpoint with path parameters substituted (may carry the endpoint's own `?query`). */
  path: string;
  /** Query parameters in order; encoded as application/x-www-form-urlencoded when sent. */
  query: Array<[string, string]>;
  /** Lower-case header names (set semantics: a later writer replaces). */
  headers: Record<string, string>;
  body?: string;
}

/**
 * Header names a caller may never set through a `header` parameter (ref-01 §6.3).
 * The engine adds the provider's effective auth header name (§16.10: always,
 * not only when `auth_header_name` is explicit).
 */
export const DENIED_HEADER_PARAMS: readonly string[] = [
  'authorization',
  'host',
  'cookie',
  'set-cookie',
  'content-type',
  'content-length',
  'transfer-encoding',
  'connection',
  'proxy-authorization',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
];

const FORBIDDEN_IN_PATH = ['..', '\\', '?', '#', '\0'];
const MAX_ECHO = 200;

function argsError(message: string): AtiError {
  return new AtiError('ATI_ERR_TOOL_ARGS', message);
}

/** Scalar → text: strings raw, numbers and booleans as text, null as "", arrays and objects as compact JSON. */
export function valueToText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** Percent-encodes every byte except `A–Z a–z 0–9 - _ . ~`, upper-case hex (ref-01 §6.3). */
export const encodePathValue = percentEncode;

function echo(s: string): string {
  const clean = s.replace(/\0/g, '\\0');
  return clean.length > MAX_ECHO ? `${clean.slice(0, MAX_ECHO)}…` : clean;
}

function pathValue(key: string, v: unknown): string {
  const text = valueToText(v);
  if (FORBIDDEN_IN_PATH.some((f) => text.includes(f))) {
    throw argsError(`Invalid path parameter '${key}': value '${echo(text)}' contains forbidden characters`);
  }
  try {
    return encodePathValue(text);
  } catch {
    throw argsError(`Invalid path parameter '${key}': value is not valid Unicode text`);
  }
}

function pushQuery(out: Array<[string, string]>, key: string, v: unknown, format: CollectionFormat): void {
  if (!Array.isArray(v)) {
    out.push([key, valueToText(v)]);
    return;
  }
  if (format === 'multi') {
    for (const item of v) out.push([key, valueToText(item)]);
    return;
  }
  const sep = format === 'csv' ? ',' : format === 'ssv' ? ' ' : '|';
  out.push([key, v.map(valueToText).join(sep)]);
}

/** Header values may not carry CR, LF or NUL (request splitting); undici would throw a less helpful error. */
function headerValue(key: string, v: unknown): string {
  const text = valueToText(v);
  if (/[\r\n\0]/.test(text)) throw argsError(`Invalid header parameter '${key}': value contains a line break or NUL`);
  return text;
}

/** The caller's arguments as an object: absent/null → `{}`, anything else but an object → 400. */
export function argsObject(args: unknown): Record<string, unknown> {
  if (args === undefined || args === null) return {};
  if (typeof args !== 'object' || Array.isArray(args)) {
    throw argsError(`tool arguments must be a JSON object (got ${Array.isArray(args) ? 'an array' : typeof args})`);
  }
  return args as Record<string, unknown>;
}

/** Merges defaults (ref-01 §6.1 step 3) and checks required arguments. */
export function mergeArgs(plan: RequestPlan, args: Record<string, unknown>): Record<string, unknown> {
  let merged = args;
  for (const [name, def] of plan.defaults) {
    if (merged[name] === undefined) {
      if (merged === args) merged = { ...args };
      merged[name] = def;
    }
  }
  const missing = plan.required.filter((r) => merged[r] === undefined);
  if (missing.length > 0) {
    throw argsError(
      `missing required argument${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')}`,
    );
  }
  return merged;
}

/**
 * Builds the parameter part of the request. `deniedHeaders` holds lower-case
 * names a `header` parameter may not use.
 */
export function buildRequest(plan: RequestPlan, rawArgs: unknown, deniedHeaders: ReadonlySet<string>): BuiltRequest {
  const args = mergeArgs(plan, argsObject(rawArgs));
  const headers: Record<string, string> = {};
  const query: Array<[string, string]> = [];

  if (!plan.locationAware) {
    if (plan.method === 'GET') {
      for (const [k, v] of Object.entries(args)) query.push([k, valueToText(v)]);
      return { path: plan.endpoint, query, headers };
    }
    headers['content-type'] = 'application/json';
    return { path: plan.endpoint, query, headers, body: JSON.stringify(args) };
  }

  const pathValues = new Map<string, string>();
  const cookies: string[] = [];
  let body: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(args)) {
    if (v === undefined) continue;
    const spec = plan.params.get(k);
    switch (spec?.location ?? 'body') {
      case 'path':
        pathValues.set(k, pathValue(k, v));
        break;
      case 'query':
        pushQuery(query, k, v, spec!.collection);
        break;
      case 'header': {
        const lower = k.toLowerCase();
        if (deniedHeaders.has(lower)) throw argsError(`Header '${k}' is not allowed as a user-supplied parameter`);
        headers[lower] = headerValue(k, v);
        break;
      }
      case 'cookie':
        cookies.push(`${encodeURIComponent(k)}=${encodeURIComponent(valueToText(v))}`);
        break;
      default:
        (body ??= {})[k] = v;
    }
  }
  if (cookies.length > 0) headers['cookie'] = cookies.join('; ');

  let path = '';
  for (const part of plan.endpointParts) {
    if (typeof part === 'string') {
      path += part;
      continue;
    }
    const value = pathValues.get(part.param);
    if (value !== undefined) path += value;
    else if (plan.params.get(part.param)?.location === 'path')
      throw argsError(`missing path parameter '${part.param}'`);
    else path += `%7B${encodePathValue(part.param)}%7D`;
  }

  const out: BuiltRequest = { path, query, headers };
  if (body && plan.method !== 'GET' && plan.method !== 'DELETE') {
    if (plan.formBody) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      out.body = new URLSearchParams(
        Object.entries(body).map(([k, v]): [string, string] => [k, valueToText(v)]),
      ).toString();
    } else {
      headers['content-type'] = 'application/json';
      out.body = JSON.stringify(body);
    }
  }
  return out;
}

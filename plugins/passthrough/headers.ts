/**
 * Header rules of the passthrough route, for HTTP and the WebSocket handshake
 * (the reference's, plus dropping injected names and `Expect`, `Proxy-Connection`
 * and Connection-named response headers, which the reference forwarded):
 *
 * caller → upstream drops
 *   - the hop-by-hop list, plus every header named in a `Connection` value;
 *   - `host` (set from `host_override` or `base_url`), `expect` and
 *     `proxy-connection` (hop-by-hop in practice; undici refuses `expect`);
 *   - `authorization` unless the path is a forward-auth path;
 *   - `traceparent` / `tracestate` (as the reference does);
 *   - every `x-sandbox-*` header (signatures and job ids stay at the edge);
 *   - every header the route injects itself (auth header, extra_headers), so
 *     the upstream never sees two values of one name;
 * upstream → caller drops the hop-by-hop list and Connection-named headers.
 *
 * The per-route drop sets are built once per provision; a request does one
 * lower-casing and one Set lookup per header.
 */

/** RFC 9110 token: a valid header name. */
export const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Bytes a header value may carry (what undici accepts: no CR, LF, NUL or other controls except tab). */
const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

export function isValidHeaderValue(v: string): boolean {
  return !BAD_HEADER_VALUE.test(v);
}

/** Hop-by-hop headers (the reference's list). */
export const HOP_BY_HOP: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
];

/** Dropped from every forwarded request, whatever the route. */
export const REQUEST_ALWAYS_DROPPED: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  'host',
  'expect',
  'proxy-connection',
  'traceparent',
  'tracestate',
]);

/** Headers that `extra_headers` may not set: the proxy owns framing and routing. */
export const RESERVED_EXTRA_HEADERS: ReadonlySet<string> = new Set([...REQUEST_ALWAYS_DROPPED, 'content-length']);

const RESPONSE_DROPPED: ReadonlySet<string> = new Set(HOP_BY_HOP);

/**
 * Names listed in `Connection` values that are not hop-by-hop already
 * (`keep-alive`, `close` and `upgrade` are the usual tokens and need no set).
 */
export function connectionTokens(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined) return null;
  // Fast path for the two values nearly every client sends.
  if (typeof value === 'string' && (value.length === 10 || value.length === 5) && /^(?:keep-alive|close)$/i.test(value))
    return null;
  const joined = Array.isArray(value) ? value.join(',') : value;
  let out: Set<string> | null = null;
  for (const raw of joined.split(',')) {
    const t = raw.trim().toLowerCase();
    if (t === '' || t === 'close' || RESPONSE_DROPPED.has(t)) continue;
    (out ??= new Set()).add(t);
  }
  return out;
}

/**
 * Appends the caller's headers that survive the route's rules to `out`
 * (flat `[name, value, …]`, duplicates and order kept).
 *
 * @param raw `IncomingMessage.rawHeaders`
 * @param drop the route's drop set for this kind of path (normal or forward-auth)
 * @param connection the request's `Connection` header
 * @param alsoDrop an extra predicate for the WebSocket leg (sec-websocket-*), or null
 */
export function filterRequestHeaders(
  raw: readonly string[],
  drop: ReadonlySet<string>,
  connection: string | string[] | undefined,
  out: string[],
  alsoDrop: ((lowerName: string) => boolean) | null = null,
): string[] {
  const named = connection === undefined ? null : connectionTokens(connection);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (drop.has(lower)) continue;
    if (lower.length > 10 && lower.startsWith('x-sandbox-')) continue;
    if (named !== null && named.has(lower)) continue;
    if (alsoDrop !== null && alsoDrop(lower)) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/** Result of filtering upstream response headers. */
export interface ResponseHead {
  /** Flat `[name, value, …]` for `ServerResponse.writeHead`. */
  headers: string[];
  /** The upstream's Content-Length, or -1 when absent or unparsable. */
  contentLength: number;
}

/** Response headers never relayed, grouped by name length so most names are rejected by length alone. */
const RESPONSE_DROPPED_BY_LENGTH: ReadonlyMap<number, readonly string[]> = (() => {
  const m = new Map<number, string[]>();
  for (const n of HOP_BY_HOP) m.set(n.length, [...(m.get(n.length) ?? []), n]);
  return m;
})();

/** ASCII case-insensitive comparison of a raw header name with a lower-case name of the same length. */
function bufferEqualsLower(b: Buffer, lower: string): boolean {
  for (let j = 0; j < lower.length; j++) if ((b[j]! | 0x20) !== lower.charCodeAt(j)) return false;
  return true;
}

function droppedResponseHeader(b: Buffer): boolean {
  const names = RESPONSE_DROPPED_BY_LENGTH.get(b.length);
  if (names === undefined) return false;
  for (const n of names) if (bufferEqualsLower(b, n)) return true;
  return false;
}

/**
 * Converts undici's raw response headers (Buffers) to a flat string list
 * without hop-by-hop and Connection-named headers, and reads the upstream's
 * Content-Length (the caller decides whether to keep it, see limits.ts).
 * Names are compared as bytes, so a response converts each kept header to a
 * string once and lower-cases nothing on the common path.
 */
export function filterResponseHeaders(raw: readonly Buffer[]): ResponseHead {
  const headers: string[] = [];
  let contentLength = -1;
  let named: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length === 10 && bufferEqualsLower(n, 'connection')) {
      const t = connectionTokens(raw[i + 1]!.toString('latin1'));
      if (t) for (const x of t) (named ??= new Set()).add(x);
    }
  }
  for (let i = 0; i < raw.length; i += 2) {
    const nb = raw[i]!;
    if (droppedResponseHeader(nb)) continue;
    const name = nb.toString('latin1');
    if (named !== null && named.has(name.toLowerCase())) continue;
    const value = raw[i + 1]!.toString('latin1');
    if (nb.length === 14 && bufferEqualsLower(nb, 'content-length')) {
      const v = Number(value);
      contentLength = Number.isSafeInteger(v) && v >= 0 ? v : -1;
    }
    headers.push(name, value);
  }
  return { headers, contentLength };
}

/** Removes `content-length` from a flat header list in place (the body will be chunked). */
export function dropContentLength(headers: string[]): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.length === 14 && headers[i]!.toLowerCase() === 'content-length') {
      headers.splice(i, 2);
      i -= 2;
    }
  }
}

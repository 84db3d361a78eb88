/**
 * Secret redaction for everything that leaves the process as text: log lines,
 * error bodies, reload status, tool results. One implementation, used two ways:
 *
 * - the keyring-wide matcher: every value of the serving keyring (and the one
 *   before it, so a rotated-out key that in-flight requests still carry stays
 *   hidden) is removed from every log line (`scrubLogLine`) and error body
 *   (`redactText`);
 * - per-call matchers: a plugin builds a `SecretMatcher` from the secrets it
 *   injected into one call or one provider (`injectedSecretMatcher`) and scrubs
 *   upstream error texts, child output and results with it.
 *
 * A secret is matched in every spelling it can take on the way out: as written,
 * percent-encoded (URL component, form and strict RFC 3986 forms), JSON-escaped,
 * as the base64 of `secret:` (HTTP basic auth with the secret as user name), and
 * each long line of a multi-line secret (a PEM key printed line by line).
 *
 * URLs are handled apart from values (`redactUrl`): their userinfo and the values
 * of query parameters whose names look like credentials (`api_key`, `token`, `sig`,
 * …) are replaced, because a query credential (`auth_type = "query"`) travels in
 * the upstream URL that HTTP client errors quote. Header values whose names carry
 * credentials go through `redactHeaders`.
 *
 * A matcher is one precompiled regular expression; the keyring-wide one is rebuilt
 * only when the set of values changes (`setRedactionValues`, at generation swap),
 * so the per-line cost on the hot path is one `RegExp.test`.
 */
import { createHash } from 'node:crypto';
import { percentEncode } from './percent-encode.js';

/** What a redacted value is replaced with. */
export const REDACTED = '[REDACTED]';

/**
 * Default minimum length of a value worth redacting, used for the whole keyring:
 * shorter keyring values are settings (`"1"`, `"eu"`), not secrets, and matching
 * them would shred every log line.
 */
export const MIN_REDACT_LENGTH = 6;

/**
 * Minimum length for the secrets one call injected (`injectedSecretMatcher`): these
 * are known to be credentials, so shorter ones are still worth hiding; below 4
 * characters replacing them would wreck the text and protect nothing.
 */
export const MIN_INJECTED_SECRET_LENGTH = 4;

/** A line of a multi-line secret is redacted on its own when at least this long (trimmed). */
const MIN_SECRET_LINE_LENGTH = 16;

/** Query parameter names treated as credentials (matched on the decoded, lower-cased name). */
const SENSITIVE_PARAM =
  /key|token|secret|passw|pwd|credential|(?:^|[_.-])(?:auth|authorization|sig|signature|session|sessionid)$|^auth/;

/** Header names whose values are credentials. */
const SENSITIVE_HEADER =
  /^(?:authorization|proxy-authorization|cookie|set-cookie)$|key|token|secret|signature|passw|session|credential|auth/i;

/** A URL with a scheme, up to the first character that cannot be part of it in text or a JSON string. */
const URL_IN_TEXT = /\b[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s"'<>\\`]+/g;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * Every spelling of one secret that may appear in outgoing text: raw, URL-component,
 * form (`+` for space, as `URLSearchParams` writes it) and strict percent-encodings,
 * JSON-escaped, the base64 of `secret:` without padding (basic auth), and each long
 * line of a multi-line secret.
 */
function secretForms(value: string): string[] {
  const forms = new Set([value]);
  try {
    const enc = encodeURIComponent(value);
    forms.add(enc);
    forms.add(enc.replace(/%20/g, '+'));
    forms.add(new URLSearchParams([['', value]]).toString().slice(1));
    forms.add(percentEncode(value));
  } catch {
    // lone surrogates cannot be percent-encoded; the raw form is still matched
  }
  forms.add(JSON.stringify(value).slice(1, -1));
  forms.add(Buffer.from(`${value}:`).toString('base64').replace(/=+$/, ''));
  if (value.includes('\n')) {
    for (const line of value.split(/\r?\n/)) {
      const t = line.trim();
      if (t.length >= MIN_SECRET_LINE_LENGTH) forms.add(t);
    }
  }
  return [...forms];
}

/** A regex matching any of `literals` (longest first, so a value wins over its own prefix). */
function alternation(literals: Iterable<string>): RegExp | undefined {
  const list = [...new Set(literals)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  if (list.length === 0) return undefined;
  return new RegExp(list.map(escapeRegExp).join('|'), 'g');
}

export interface SecretMatcherOptions {
  /** Values shorter than this are ignored. Default `MIN_REDACT_LENGTH` (6). */
  minLength?: number;
}

/** How URLs found in a text are redacted. */
export interface UrlRedactionOptions {
  /** Query parameter names known to carry a credential (e.g. a provider's `auth_query_name`), case-insensitive. */
  paramNames?: Iterable<string>;
  /**
   * `credentials` (default): replace the values of credential-looking parameters and of `paramNames`;
   * `all`: replace the whole query string (`?[REDACTED]`), for URLs whose query holds data of the caller
   * together with an injected credential.
   */
  query?: 'credentials' | 'all';
}

/**
 * A compiled set of secret values. `redact` works on plain text; `redactText`
 * also redacts the URLs in it; `scrubJsonLine` works on one serialized JSON log
 * line, where values appear JSON-escaped, and always returns valid JSON when it
 * was given valid JSON; `redactValue` redacts a JSON value structurally.
 */
export class SecretMatcher {
  /** Matches the secrets as they appear in plain (unescaped) text. */
  private readonly raw: RegExp | undefined;
  /** Matches the secrets as they appear inside a serialized JSON string. */
  private readonly json: RegExp | undefined;
  /** Number of values matched (after the minimum-length filter and de-duplication). */
  readonly size: number;

  constructor(values: Iterable<string>, options: SecretMatcherOptions = {}) {
    const minLength = options.minLength ?? MIN_REDACT_LENGTH;
    const rawForms: string[] = [];
    let n = 0;
    for (const v of new Set(values)) {
      if (typeof v !== 'string' || v.length < minLength) continue;
      n++;
      rawForms.push(...secretForms(v));
    }
    this.size = n;
    this.raw = alternation(rawForms);
    this.json = alternation(rawForms.map((f) => JSON.stringify(f).slice(1, -1)));
  }

  /** True when `text` contains any secret (plain text). */
  contains(text: string): boolean {
    if (!this.raw) return false;
    this.raw.lastIndex = 0;
    return this.raw.test(text);
  }

  /** Replaces every secret in plain text. */
  redact(text: string): string {
    if (!this.raw) return text;
    this.raw.lastIndex = 0;
    return this.raw.test(text) ? text.replace(this.raw, REDACTED) : text;
  }

  /** Makes arbitrary text (an error message, an upstream client error) safe: its URLs (`redactUrl`), then the secrets. */
  redactText(text: string, urls: UrlRedactionOptions = {}): string {
    return this.redact(redactUrlsIn(text, urls));
  }

  /**
   * Scrubs one serialized JSON line. The common case (no secret) costs one
   * regex test. On a hit the line is parsed and every string, key and number
   * is redacted structurally, so the output stays valid JSON even when a
   * secret happens to look like a number or sits next to an escape.
   */
  scrubJsonLine(line: string): string {
    if (!this.json) return line;
    this.json.lastIndex = 0;
    if (!this.json.test(line)) return line;
    const nl = line.endsWith('\n') ? '\n' : '';
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return line.replace(this.json, REDACTED);
    }
    return JSON.stringify(this.redactValue(parsed)) + nl;
  }

  /** A copy of a JSON value with every secret in its strings, keys and numbers replaced (the value itself when clean). */
  redactValue<T>(v: T): T {
    if (!this.raw) return v;
    if (typeof v === 'string') return this.redact(v) as T;
    if (typeof v === 'number') return (this.contains(String(v)) ? REDACTED : v) as T;
    if (Array.isArray(v)) return v.map((x: unknown) => this.redactValue(x)) as T;
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[this.redact(k)] = this.redactValue(x);
      return out as T;
    }
    return v;
  }
}

/** A matcher for the secrets one call or provider injected (minimum length `MIN_INJECTED_SECRET_LENGTH`). */
export function injectedSecretMatcher(values: Iterable<string>): SecretMatcher {
  return new SecretMatcher(values, { minLength: MIN_INJECTED_SECRET_LENGTH });
}

/**
 * The keyring values every log line and error body is scrubbed of: the serving
 * generation's, the one before it, and those of a candidate build in progress.
 * `matcher` is rebuilt only when that set changes (compared by fingerprint).
 */
export class KeyringRedaction {
  matcher = new SecretMatcher([]);
  private fingerprint = '';
  /** Values of the serving generation's keyring and of the one before it (set at swap). */
  private serving: string[] = [];
  /** Values of the keyring a candidate build loaded (set by the keyring loader, cleared at swap). */
  private candidate: string[] = [];

  /** Sets the serving values and clears the candidate ones (they now serve, or were rejected and superseded). */
  setServing(values: Iterable<string>): void {
    this.serving = [...values];
    this.candidate = [];
    this.rebuild();
  }

  /** Adds the values of a keyring just loaded for a candidate generation; the serving values stay. */
  setCandidate(values: Iterable<string>): void {
    this.candidate = [...values];
    this.rebuild();
  }

  private rebuild(): void {
    const list = [...new Set([...this.serving, ...this.candidate])]
      .filter((v) => typeof v === 'string' && v.length >= MIN_REDACT_LENGTH)
      .sort();
    const h = createHash('sha256');
    for (const v of list) h.update(v).update('\0');
    const fp = h.digest('hex');
    if (fp === this.fingerprint) return;
    this.fingerprint = fp;
    this.matcher = new SecretMatcher(list);
  }
}

const keyringRedaction = new KeyringRedaction();

/**
 * Sets the values every log line and error body is scrubbed of: the serving
 * keyring's (and, during a swap, the retiring one's). Clears the candidate
 * values. Cheap when nothing changed.
 */
export function setRedactionValues(values: Iterable<string>): void {
  keyringRedaction.setServing(values);
}

/**
 * Adds the values of a keyring that was just loaded for a candidate
 * generation, so that they are redacted even if that build then fails (its
 * errors are logged before any swap). The serving values stay redacted.
 */
export function setCandidateRedactionValues(values: Iterable<string>): void {
  keyringRedaction.setCandidate(values);
}

/**
 * Redacts userinfo and the query of one URL: by default the values of
 * credential-looking parameters and of `paramNames` (a bare list is taken as
 * `paramNames`); with `query: 'all'` the whole query string.
 */
export function redactUrl(url: string, options: UrlRedactionOptions | Iterable<string> = {}): string {
  const opts: UrlRedactionOptions = isUrlOptions(options) ? options : { paramNames: options };
  let out = url.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/?#@]*)@/, (_m, scheme: string) => `${scheme}${REDACTED}@`);
  const q = out.indexOf('?');
  if (q < 0) return out;
  const hash = out.indexOf('#', q);
  const end = hash < 0 ? out.length : hash;
  if (opts.query === 'all') return end === q + 1 ? out : `${out.slice(0, q + 1)}${REDACTED}${out.slice(end)}`;
  const extra = new Set([...(opts.paramNames ?? [])].map((n) => n.toLowerCase()));
  const query = out
    .slice(q + 1, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const rawName = pair.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        // keep the raw name
      }
      const lower = name.toLowerCase();
      return extra.has(lower) || SENSITIVE_PARAM.test(lower) ? `${rawName}=${REDACTED}` : pair;
    })
    .join('&');
  out = out.slice(0, q + 1) + query + out.slice(end);
  return out;
}

function isUrlOptions(o: UrlRedactionOptions | Iterable<string>): o is UrlRedactionOptions {
  return typeof (o as Iterable<string>)[Symbol.iterator] !== 'function';
}

/**
 * Every URL in `text` through `redactUrl`. Punctuation that closes the sentence
 * around a URL (a `)` the URL did not open, a trailing `.`, `,`, `;` or `:`) stays
 * outside it: `(https://h/x?token=t)` keeps its parenthesis.
 */
function redactUrlsIn(text: string, opts: UrlRedactionOptions): string {
  if (!text.includes('://')) return text;
  return text.replace(URL_IN_TEXT, (u) => {
    let end = u.length;
    for (;;) {
      const c = u[end - 1];
      if (c === '.' || c === ',' || c === ';' || c === ':') end--;
      else if (c === ')' && count(u, ')', end) > count(u, '(', end)) end--;
      else break;
    }
    return redactUrl(u.slice(0, end), opts) + u.slice(end);
  });
}

function count(s: string, ch: string, end: number): number {
  let n = 0;
  for (let i = s.indexOf(ch); i >= 0 && i < end; i = s.indexOf(ch, i + 1)) n++;
  return n;
}

/**
 * Makes arbitrary text (an error message, an upstream client error) safe to
 * show or log: every URL in it goes through `redactUrl`, then every keyring
 * value is replaced.
 */
export function redactText(text: string, paramNames: Iterable<string> = []): string {
  return keyringRedaction.matcher.redactText(text, { paramNames });
}

/**
 * Scrubs one serialized JSON log line: URLs inside it (userinfo, credential
 * query parameters), then keyring values. Used by the logger for every line.
 */
export function scrubLogLine(line: string): string {
  return keyringRedaction.matcher.scrubJsonLine(redactUrlsIn(line, {}));
}

/** True when a header's value is a credential (`Authorization`, `Cookie`, `X-Api-Key`, …). */
export function isSensitiveHeader(name: string): boolean {
  return SENSITIVE_HEADER.test(name);
}

/** A copy of `headers` with credential-carrying values replaced, for logging. */
export function redactHeaders<T extends string | string[] | number | undefined>(
  headers: Record<string, T>,
): Record<string, T | string> {
  const out: Record<string, T | string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (isSensitiveHeader(k)) out[k] = REDACTED;
    else if (typeof v === 'string') out[k] = redactText(v);
    else out[k] = v;
  }
  return out;
}

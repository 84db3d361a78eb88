/**
 * Secret redaction for everything that leaves the process as text: log lines,
 * error bodies, reload status. Three things are removed:
 *
 * - every value of the serving keyring (and the one before it, so a rotated-out
 *   key that in-flight requests still carry stays hidden), in its raw, URL-encoded
 *   and JSON-escaped forms;
 * - URL userinfo (`https://user:pass@host` → `https://[REDACTED]@host`) and the
 *   values of query parameters whose names look like credentials (`api_key`,
 *   `token`, `sig`, …) — the reference leaks `auth_type = "query"` secrets this
 *   way in 502 bodies and logs (ref-02 §8.3);
 * - header values whose names carry credentials (`redactHeaders`).
 *
 * The keyring matcher is one precompiled regular expression, rebuilt only when
 * the set of values changes (`setRedactionValues`, called at generation swap),
 * so the per-line cost on the hot path is one `RegExp.test`.
 */
import { createHash } from 'node:crypto';

/** What a redacted value is replaced with. */
export const REDACTED = '[REDACTED]';

/**
 * Keyring values shorter than this are not redacted: such values are settings
 * (`"1"`, `"eu"`), not secrets, and matching them would shred every log line.
 */
export const MIN_REDACT_LENGTH = 6;

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

/** The spellings under which a secret can appear in text: raw, percent-encoded, form-encoded. */
function textForms(value: string): string[] {
  const forms = new Set([value]);
  try {
    const enc = encodeURIComponent(value);
    forms.add(enc);
    forms.add(enc.replace(/%20/g, '+'));
  } catch {
    // lone surrogates cannot be percent-encoded; the raw form is still matched
  }
  return [...forms];
}

/** A regex matching any of `literals` (longest first, so a value wins over its own prefix). */
function alternation(literals: Iterable<string>): RegExp | undefined {
  const list = [...new Set(literals)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  if (list.length === 0) return undefined;
  return new RegExp(list.map(escapeRegExp).join('|'), 'g');
}

/**
 * A compiled set of secret values. `redact` works on plain text; `scrubJsonLine`
 * on one serialized JSON log line, where values appear JSON-escaped, and always
 * returns valid JSON when it was given valid JSON.
 */
export class SecretMatcher {
  /** Matches the secrets as they appear in plain (unescaped) text. */
  private readonly raw: RegExp | undefined;
  /** Matches the secrets as they appear inside a serialized JSON string. */
  private readonly json: RegExp | undefined;
  readonly size: number;

  constructor(values: Iterable<string>) {
    const rawForms: string[] = [];
    let n = 0;
    for (const v of new Set(values)) {
      if (typeof v !== 'string' || v.length < MIN_REDACT_LENGTH) continue;
      n++;
      rawForms.push(...textForms(v));
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

  private redactValue(v: unknown): unknown {
    if (typeof v === 'string') return this.redact(v);
    if (typeof v === 'number') return this.contains(String(v)) ? REDACTED : v;
    if (Array.isArray(v)) return v.map((x) => this.redactValue(x));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[this.redact(k)] = this.redactValue(x);
      return out;
    }
    return v;
  }
}

let current = new SecretMatcher([]);
let currentFingerprint = '';
/** Values of the serving generation's keyring and of the one before it (set at swap). */
let servingValues: string[] = [];
/** Values of the keyring a candidate build loaded (set by the keyring loader, cleared at swap). */
let candidateValues: string[] = [];

function rebuild(): void {
  const list = [...new Set([...servingValues, ...candidateValues])]
    .filter((v) => typeof v === 'string' && v.length >= MIN_REDACT_LENGTH)
    .sort();
  const h = createHash('sha256');
  for (const v of list) h.update(v).update('\0');
  const fp = h.digest('hex');
  if (fp === currentFingerprint) return;
  currentFingerprint = fp;
  current = new SecretMatcher(list);
}

/**
 * Sets the values every log line and error body is scrubbed of: the serving
 * keyring's (and, during a swap, the retiring one's). Clears the candidate
 * values (they are now serving, or were rejected and superseded). Cheap when
 * nothing changed: a fingerprint is compared and the matcher rebuilt only on a change.
 */
export function setRedactionValues(values: Iterable<string>): void {
  servingValues = [...values];
  candidateValues = [];
  rebuild();
}

/**
 * Adds the values of a keyring that was just loaded for a candidate
 * generation, so that they are redacted even if that build then fails (its
 * errors are logged before any swap). The serving values stay redacted.
 */
export function setCandidateRedactionValues(values: Iterable<string>): void {
  candidateValues = [...values];
  rebuild();
}

/** The matcher built by the last `setRedactionValues`. */
export function currentSecretMatcher(): SecretMatcher {
  return current;
}

/**
 * Redacts userinfo and credential-looking query parameters of one URL.
 * `paramNames` adds names known to carry a credential (e.g. a provider's
 * `auth_query_name`), matched case-insensitively.
 */
export function redactUrl(url: string, paramNames: Iterable<string> = []): string {
  const extra = new Set([...paramNames].map((n) => n.toLowerCase()));
  let out = url.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/?#@]*)@/, (_m, scheme: string) => `${scheme}${REDACTED}@`);
  const q = out.indexOf('?');
  if (q < 0) return out;
  const hash = out.indexOf('#', q);
  const end = hash < 0 ? out.length : hash;
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

/**
 * Makes arbitrary text (an error message, an upstream client error) safe to
 * show or log: every URL in it goes through `redactUrl`, then every keyring
 * value is replaced.
 */
export function redactText(text: string, paramNames: Iterable<string> = []): string {
  const names = [...paramNames];
  const urlsDone = text.includes('://') ? text.replace(URL_IN_TEXT, (u) => redactUrl(u, names)) : text;
  return current.redact(urlsDone);
}

/**
 * Scrubs one serialized JSON log line: URLs inside it (userinfo, credential
 * query parameters), then keyring values. Used by the logger for every line.
 */
export function scrubLogLine(line: string): string {
  const withUrls = line.includes('://') ? line.replace(URL_IN_TEXT, (u) => redactUrl(u)) : line;
  return current.scrubJsonLine(withUrls);
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

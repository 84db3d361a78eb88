/**
 * What of a tool call's arguments goes into the call log (`request_args`):
 * secrets redacted at every depth, strings cut on a character boundary, and
 * the whole value bounded in size and work — fixing the reference's file
 * audit, which checked only top-level keys, matched `keyword` and `author`,
 * logged CLI argument arrays verbatim and could panic cutting a multi-byte
 * character (ref-04 §0.7, §4.3).
 *
 * Redacted:
 * - the value of any object key whose words (split on `_ - .`, spaces and
 *   camelCase) include a secret word (`password`, `token`, `key`, `secret`,
 *   `auth`, …) or that is a known compound (`apikey`, `accesstoken`, …);
 * - in string arrays (CLI arguments): the value after a secret-named flag
 *   (`--api-key sk-…`, `--password=…`) and `NAME=value` pairs with a secret name;
 * - any string that looks like a credential (`Bearer …`, JWTs, `sk-…`,
 *   GitHub/Slack tokens, `ati-key_…`).
 */
import { REDACTED } from '../../kernel/redact.js';

export const TRUNCATED_SUFFIX = '...[truncated]';

export interface RedactionLimits {
  /** Characters (code points) kept of each string (default 200). */
  maxStringChars: number;
  maxDepth: number;
  maxKeys: number;
  maxItems: number;
  /** Values visited in total; the rest is summarised (default 2,000). */
  maxNodes: number;
}

export const DEFAULT_LIMITS: RedactionLimits = {
  maxStringChars: 200,
  maxDepth: 8,
  maxKeys: 64,
  maxItems: 64,
  maxNodes: 2_000,
};

const SECRET_WORDS = new Set([
  'password',
  'passwd',
  'pwd',
  'pass',
  'passphrase',
  'secret',
  'token',
  'key',
  'apikey',
  'credential',
  'credentials',
  'auth',
  'authorization',
  'cookie',
  'bearer',
  'signature',
  'jwt',
  'otp',
  'pin',
]);

const SECRET_COMPOUNDS =
  /^(api|access|refresh|id|session|auth|bearer|client|private|secret|signing)_?(key|token|secret)s?$|^(x_?)?api_?key$|^privatekey$|^clientsecret$/;

const SECRET_VALUE = [
  /^bearer\s+\S/i,
  /^basic\s+[A-Za-z0-9+/=]{8,}$/i,
  /^eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*$/, // JWT
  /^(sk|rk|pk)[-_][A-Za-z0-9_-]{16,}$/,
  /^gh[pousr]_[A-Za-z0-9]{20,}$/,
  /^github_pat_[A-Za-z0-9_]{20,}$/,
  /^xox[abpors]-[A-Za-z0-9-]{10,}$/,
  /^AKIA[0-9A-Z]{16}$/,
  /^ati-key_[A-Za-z0-9_-]{22}$/,
];

/** Splits `apiKey`, `api_key`, `X-Api-Key`, `api.key` into lower-case words. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[\s_.\-/:]+/)
    .filter(Boolean);
}

/** Whether an argument or field name names a secret. */
export function isSecretName(name: string): boolean {
  const ws = words(name);
  if (ws.some((w) => SECRET_WORDS.has(w))) return true;
  return SECRET_COMPOUNDS.test(ws.join('_')) || SECRET_COMPOUNDS.test(ws.join(''));
}

function looksLikeSecret(s: string): boolean {
  if (s.length < 8) return false;
  const t = s.trim();
  return SECRET_VALUE.some((re) => re.test(t));
}

/** Cuts a string to `max` code points (never inside a surrogate pair), adding the reference's marker. */
export function truncateChars(s: string, max: number): string {
  s = clean(s);
  if (s.length <= max) return s; // UTF-16 length ≥ code points: nothing to cut
  let count = 0;
  let i = 0;
  while (i < s.length && count < max) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
    count++;
  }
  return i >= s.length ? s : s.slice(0, i) + TRUNCATED_SUFFIX;
}

/** The call-log form of a call's arguments. Never throws; never returns more than the limits allow. */
export function redactArgs(value: unknown, limits: RedactionLimits = DEFAULT_LIMITS): unknown {
  const budget = { nodes: limits.maxNodes };
  try {
    return walk(value, 0, limits, budget);
  } catch {
    return '[unserialisable arguments]';
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Postgres text and jsonb refuse NUL characters and lone surrogates: drop the first, repair the second. */
export function clean(s: string): string {
  const noNul = s.includes('\u0000') ? s.replace(/\u0000/g, '') : s;
  return noNul.replace(LONE_SURROGATE, '\ufffd');
}

function walk(v: unknown, depth: number, l: RedactionLimits, budget: { nodes: number }): unknown {
  if (budget.nodes-- <= 0) return '[truncated]';
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return looksLikeSecret(v) ? REDACTED : truncateChars(v, l.maxStringChars);
  if (typeof v !== 'object') return undefined; // functions, symbols, undefined: not JSON
  if (depth >= l.maxDepth) return '[depth limit]';
  if (Array.isArray(v)) return walkArray(v, depth, l, budget);
  const out: Record<string, unknown> = {};
  const keys = Object.keys(v);
  for (const k of keys.slice(0, l.maxKeys)) {
    const child = (v as Record<string, unknown>)[k];
    if (child === undefined) continue;
    out[truncateChars(k, l.maxStringChars)] =
      isSecretName(k) && child !== null && child !== '' ? REDACTED : walk(child, depth + 1, l, budget);
  }
  if (keys.length > l.maxKeys) out['[truncated]'] = `${keys.length - l.maxKeys} more keys`;
  return out;
}

function walkArray(a: unknown[], depth: number, l: RedactionLimits, budget: { nodes: number }): unknown[] {
  const out: unknown[] = [];
  let redactNext = false;
  for (const item of a.slice(0, l.maxItems)) {
    if (redactNext) {
      redactNext = false;
      if (typeof item === 'string' && !item.startsWith('-')) {
        out.push(REDACTED);
        continue;
      }
    }
    if (typeof item === 'string') {
      // CLI style: `--api-key value`, `--api-key=value`, `API_KEY=value`.
      const flag = /^(-{1,2})([A-Za-z][\w.-]*)(=(.*))?$/s.exec(item);
      if (flag && isSecretName(flag[2]!)) {
        if (flag[3] !== undefined) out.push(`${flag[1]}${flag[2]}=${REDACTED}`);
        else {
          out.push(item);
          redactNext = true;
        }
        continue;
      }
      const env = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/s.exec(item);
      if (env && isSecretName(env[1]!)) {
        out.push(`${env[1]}=${REDACTED}`);
        continue;
      }
    }
    out.push(walk(item, depth + 1, l, budget));
  }
  if (a.length > l.maxItems) out.push(`[${a.length - l.maxItems} more items]`);
  return out;
}

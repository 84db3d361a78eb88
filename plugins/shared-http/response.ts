/**
 * Upstream response classification (the reference's): 2xx bodies become the result
 * (parsed JSON, else the text as a JSON string, `""` when empty); a 404 whose
 * message means "no records" becomes the empty-records result; every other
 * status is an upstream error whose message is extracted from a JSON error
 * body (`error.message`, `error`, `message`) or, failing that, the body text
 * cut to a few KB (the reference returned the whole body).
 */

export type Classified =
  | { kind: 'ok'; value: unknown }
  | { kind: 'no_records' }
  | { kind: 'error'; status: number; message: string; type?: string };

/** How much upstream text an error message may carry. */
export const MAX_ERROR_TEXT = 2_048;

const NO_RECORDS_PREFIXES = [
  'records were found',
  'companies were found',
  'persons were found',
  'results were found',
  'matches were found',
  'records found',
  'companies found',
  'persons found',
  'results found',
  'matches found',
];

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** `{type, message}` from a JSON error body; only tried when the body starts with `{` or `[`. */
export function extractUpstreamError(text: string): { type?: string; message?: string } {
  const t = text.trimStart();
  if (!t.startsWith('{') && !t.startsWith('[')) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(t);
  } catch {
    return {};
  }
  const top = asRecord(parsed);
  if (!top) return {};
  const err = asRecord(top['error']);
  const type = str(err?.['type']) ?? str(top['type']) ?? str(top['error_type']);
  const message = str(err?.['message']) ?? str(top['error']) ?? str(top['message']);
  const out: { type?: string; message?: string } = {};
  if (type !== undefined) out.type = type;
  if (message !== undefined) out.message = message;
  return out;
}

/** The reference's "no records" rule for 404 bodies. */
export function isNoRecords(type: string | undefined, message: string | undefined): boolean {
  let m = (message ?? '').toLowerCase().trim();
  while (m.startsWith('no ')) m = m.slice(3).trimStart();
  if (NO_RECORDS_PREFIXES.some((p) => m.startsWith(p))) return true;
  return type === 'not_found' && (m === 'not found' || m === '');
}

export function truncateText(s: string, max = MAX_ERROR_TEXT): string {
  return s.length > max ? `${s.slice(0, max)}… [${s.length - max} more characters]` : s;
}

/** Classifies one upstream answer. `text` is the body decoded as UTF-8. */
export function classifyResponse(status: number, text: string): Classified {
  if (status >= 200 && status < 300) {
    if (text === '') return { kind: 'ok', value: '' };
    try {
      return { kind: 'ok', value: JSON.parse(text) as unknown };
    } catch {
      return { kind: 'ok', value: text };
    }
  }
  const { type, message } = extractUpstreamError(text);
  if (status === 404 && isNoRecords(type, message)) return { kind: 'no_records' };
  const out: Classified = { kind: 'error', status, message: truncateText(message ?? text.trim()) };
  if (type !== undefined) out.type = type;
  return out;
}

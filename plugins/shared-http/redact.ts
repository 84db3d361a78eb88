/**
 * Scrubs the credentials a request carried out of any text that may reach a
 * client or a log line (upstream error bodies that echo the request URL,
 * transport errors, generator stderr): PRODUCT §3.4.
 */

export const REDACTED = '[REDACTED]';

/** Secrets shorter than this are not scrubbed (replacing "a" everywhere would destroy the text and protects nothing). */
const MIN_SECRET_LENGTH = 4;

/**
 * Replaces every occurrence of each secret in `text`, also in the
 * percent-encoded and form-encoded forms a URL echo would show.
 */
export function redactSecrets(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) {
    if (s.length < MIN_SECRET_LENGTH) continue;
    const forms = new Set([s, encodeURIComponent(s), new URLSearchParams([['', s]]).toString().slice(1)]);
    for (const f of forms) if (out.includes(f)) out = out.split(f).join(REDACTED);
  }
  return out;
}

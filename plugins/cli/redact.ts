/**
 * Scrubs the keyring values a call injected out of text the proxy returns or
 * logs (stdout, the stderr tail in error messages). A CLI that echoes its token
 * ("invalid token abc123…") must not hand the secret to the agent.
 */

export const REDACTED = '[REDACTED]';

/** Values shorter than this are not scrubbed: replacing "1" or "ab" everywhere would destroy the output. */
export const MIN_REDACT_LENGTH = 4;

/** The forms of each secret worth looking for: as is, JSON-escaped, and each long line of a multi-line secret. */
function needles(secrets: readonly string[]): string[] {
  const set = new Set<string>();
  for (const s of secrets) {
    if (s.length < MIN_REDACT_LENGTH) continue;
    set.add(s);
    const escaped = JSON.stringify(s).slice(1, -1);
    if (escaped !== s) set.add(escaped);
    if (s.includes('\n')) {
      for (const line of s.split(/\r?\n/)) if (line.trim().length >= 16) set.add(line.trim());
    }
  }
  // Longest first, so a secret containing another one is replaced whole.
  return [...set].sort((a, b) => b.length - a.length);
}

export interface Redactor {
  (text: string): string;
}

export function makeRedactor(secrets: readonly string[]): Redactor {
  const list = needles(secrets);
  if (list.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const n of list) if (out.includes(n)) out = out.split(n).join(REDACTED);
    return out;
  };
}

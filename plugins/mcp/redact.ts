/**
 * Removes the secrets one provider uses (expanded `mcp_env` values, the auth
 * header's key, a key embedded in `mcp_url`) from text that leaves the plugin:
 * the child's stderr lines, upstream error messages. A child that prints its own
 * token must not put it into the proxy log.
 */

/** Shorter values are too likely to match ordinary text (`1`, `on`) to be worth replacing. */
const MIN_SECRET_LENGTH = 4;
export const REDACTED = '[REDACTED]';

export type Redactor = (text: string) => string;

export function makeRedactor(secrets: readonly string[]): Redactor {
  const list = [...new Set(secrets.filter((s) => s.length >= MIN_SECRET_LENGTH))].sort((a, b) => b.length - a.length);
  // The basic-auth form of a secret is as sensitive as the secret.
  for (const s of [...list]) list.push(Buffer.from(`${s}:`).toString('base64').replace(/=+$/, ''));
  if (list.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const s of list) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  };
}

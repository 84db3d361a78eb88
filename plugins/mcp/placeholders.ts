/**
 * `${key}` expansion for `mcp_url` and `mcp_env` values (ref-01 §5.7, dialect A),
 * done the way ref-01 §16 item 19 recommends: one left-to-right pass (a secret that
 * itself contains `${…}` is never expanded again, so nothing can loop), and every
 * missing keyring entry is reported instead of silently leaving the text in place.
 */

export interface Expansion {
  value: string;
  /** Keyring entries that were referenced but are absent (in order, without duplicates). */
  missing: string[];
  /** Values substituted into the text (secrets: the caller redacts them from logs). */
  used: string[];
}

const PLACEHOLDER = /\$\{([^}]*)\}/g;

/** Replaces every `${name}` with `lookup(name)`; an unterminated `${` is left as written. */
export function expandPlaceholders(text: string, lookup: (name: string) => string | undefined): Expansion {
  const missing: string[] = [];
  const used: string[] = [];
  const value = text.replace(PLACEHOLDER, (whole, name: string) => {
    const v = lookup(name);
    if (v === undefined) {
      if (!missing.includes(name)) missing.push(name);
      return whole;
    }
    used.push(v);
    return v;
  });
  return { value, missing, used };
}

/**
 * `${name}` placeholders in manifest strings (`base_url`, `mcp_url`, `extra_headers`,
 * `mcp_env` and `cli_env` values, auth-generator `args`/`env`). One scanner and one
 * expansion for every handler:
 *
 * - single pass, left to right: a substituted value is never scanned again, so a
 *   secret that itself contains `${x}` can neither loop nor pull in another entry;
 * - no nesting and no escaping: a placeholder runs from `${` to the next `}`;
 * - a name the lookup cannot resolve is reported by name (never by value); each
 *   handler turns that into its own error.
 *
 * What differs between handlers is an option (`TemplateSyntax`), not a copy:
 * fields checked when the manifest loads reject an unterminated or empty
 * placeholder (`strict`), the others keep an unterminated `${` as literal text;
 * a handler may restrict names to a pattern, so that `${` followed by anything
 * else is literal text.
 */

export type TemplatePart = string | { readonly key: string };

export interface Template {
  readonly source: string;
  readonly parts: readonly TemplatePart[];
  /** Placeholder names in order of appearance. */
  readonly keys: readonly string[];
  /** No placeholder: `source` is the value. */
  readonly isStatic: boolean;
}

export interface TemplateSyntax {
  /**
   * True (the default): an unterminated `${` or an empty `${}` is an error (for fields
   * validated when the manifest loads). False: an unterminated `${` is literal text and
   * `${}` names the entry `""`.
   */
  strict?: boolean;
  /** When set, `${…}` whose content does not match is literal text and scanning resumes after its `${`. */
  name?: RegExp;
}

/** The syntax of values that are not validated at load: an unterminated `${` stays as written. */
export const LENIENT_TEMPLATE: TemplateSyntax = { strict: false };

/** Parses `s`; in strict mode throws an Error with a plain-English reason on an unterminated or empty placeholder. */
export function compileTemplate(s: string, syntax: TemplateSyntax = {}): Template {
  const strict = syntax.strict ?? true;
  const parts: TemplatePart[] = [];
  const keys: string[] = [];
  let i = 0;
  let literal = '';
  for (;;) {
    const start = s.indexOf('${', i);
    if (start < 0) break;
    const end = s.indexOf('}', start + 2);
    if (end < 0) {
      if (strict) throw new Error(`unterminated "\${" placeholder at offset ${start}`);
      break;
    }
    const key = s.slice(start + 2, end);
    if (strict && key.trim() === '') throw new Error(`empty "\${}" placeholder at offset ${start}`);
    if (syntax.name && !syntax.name.test(key)) {
      literal += s.slice(i, start + 2);
      i = start + 2;
      continue;
    }
    literal += s.slice(i, start);
    if (literal) parts.push(literal);
    literal = '';
    parts.push({ key });
    keys.push(key);
    i = end + 1;
  }
  literal += s.slice(i);
  if (literal) parts.push(literal);
  return { source: s, parts, keys, isStatic: keys.length === 0 };
}

/** Returns the problem with `s` as a strict template, or undefined. */
export function templateProblem(s: string): string | undefined {
  try {
    compileTemplate(s);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Expands `t`, asking `resolve` for each placeholder (it throws for a missing name). */
export function expandTemplate(t: Template, resolve: (key: string) => string): string {
  if (t.isStatic) return t.source;
  let out = '';
  for (const p of t.parts) out += typeof p === 'string' ? p : resolve(p.key);
  return out;
}

export interface Expansion {
  /** The text with every resolved placeholder replaced; an unresolved one stays as written. */
  value: string;
  /** Names that `lookup` could not resolve (in order, without duplicates). */
  missing: string[];
  /** `[name, value]` of each substitution, in order (the values are secrets: redact them). */
  used: Array<[string, string]>;
}

/** Expands every placeholder of `text` with `lookup`, collecting the names it cannot resolve instead of throwing. */
export function expandPlaceholders(
  text: string,
  lookup: (key: string) => string | undefined,
  syntax: TemplateSyntax = LENIENT_TEMPLATE,
): Expansion {
  const missing: string[] = [];
  const used: Array<[string, string]> = [];
  const value = expandTemplate(compileTemplate(text, syntax), (key) => {
    const v = lookup(key);
    if (v === undefined) {
      if (!missing.includes(key)) missing.push(key);
      return `\${${key}}`;
    }
    used.push([key, v]);
    return v;
  });
  return { value, missing, used };
}

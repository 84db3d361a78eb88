/**
 * `${name}` placeholders in manifest strings (`extra_headers` values, `base_url`,
 * auth-generator `args`/`env`). One dialect for all of them (ref-01 §16.19):
 * compiled once at provision, expanded in a single pass (a substituted value
 * is never scanned again, so a secret containing `${x}` cannot loop or leak
 * another entry), and a name that cannot be resolved is an error naming it.
 * `${` without a closing `}` is a validation error.
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

/** Parses `s`; throws an Error with a plain-English reason on an unterminated or empty placeholder. */
export function compileTemplate(s: string): Template {
  const parts: TemplatePart[] = [];
  const keys: string[] = [];
  let i = 0;
  let literal = '';
  while (i < s.length) {
    const start = s.indexOf('${', i);
    if (start < 0) {
      literal += s.slice(i);
      break;
    }
    literal += s.slice(i, start);
    const end = s.indexOf('}', start + 2);
    if (end < 0) throw new Error(`unterminated "\${" placeholder at offset ${start}`);
    const key = s.slice(start + 2, end);
    if (key.trim() === '') throw new Error(`empty "\${}" placeholder at offset ${start}`);
    if (literal) parts.push(literal);
    literal = '';
    parts.push({ key });
    keys.push(key);
    i = end + 1;
  }
  if (literal) parts.push(literal);
  return { source: s, parts, keys, isStatic: keys.length === 0 };
}

/** Returns the problem with `s` as a template, or undefined. */
export function templateProblem(s: string): string | undefined {
  try {
    compileTemplate(s);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Expands `t`, asking `resolve` for each placeholder (which throws for a missing name). */
export function expandTemplate(t: Template, resolve: (key: string) => string): string {
  if (t.isStatic) return t.source;
  let out = '';
  for (const p of t.parts) out += typeof p === 'string' ? p : resolve(p.key);
  return out;
}

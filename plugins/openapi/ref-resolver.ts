/**
 * Local `$ref` resolution (`#/components/...` JSON pointers) with a depth limit
 * (32, the reference's) and cycle safety. References to other files or
 * URLs are not followed; they resolve to undefined and callers fall back.
 */

export const MAX_REF_DEPTH = 32;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Resolves one `#/a/b` pointer against `doc`; undefined when it does not exist or is not local. */
export function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(ref.slice(1));
  } catch {
    return undefined;
  }
  if (decoded === '') return doc;
  if (!decoded.startsWith('/')) return undefined;
  let cur: unknown = doc;
  for (const raw of decoded.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) cur = /^\d+$/.test(key) ? cur[Number(key)] : undefined;
    else if (isRecord(cur) && Object.hasOwn(cur, key)) cur = cur[key];
    else return undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

/**
 * Follows a chain of `$ref`s (a ref to a ref …) until a node without `$ref`.
 * Returns undefined for an unresolvable, external, cyclic or too-deep chain.
 */
export function deref(doc: unknown, node: unknown): unknown {
  let cur = node;
  const seen = new Set<string>();
  for (let depth = 0; depth <= MAX_REF_DEPTH; depth++) {
    if (!isRecord(cur) || typeof cur['$ref'] !== 'string') return cur;
    const ref = cur['$ref'];
    if (seen.has(ref)) return undefined;
    seen.add(ref);
    cur = resolvePointer(doc, ref);
    if (cur === undefined) return undefined;
  }
  return undefined;
}

/**
 * `response.extract`: a JSONPath run against a tool's upstream
 * JSON result. Evaluation uses jsonpath-plus (maintained, safe filter
 * evaluator). jsonpath-plus is lenient about syntax (`$[` silently means `$`),
 * so paths are checked here first with the grammar the reference accepts:
 * `$`, then `.name`, `..name`, `.*`, `[*]`, `[0]`, `[-1]`, `[0:2]`, `['a','b']`,
 * `[0,1]`, `[?(filter)]`. Manifest validation uses the same check, so a bad
 * path is a load error with file and line rather than a failed call.
 */
import { JSONPath } from 'jsonpath-plus';
import { AtiError } from '../../kernel/errors.js';

const NAME = /^[^\s.[\]()'"?,*]+/;
const INDEX_LIKE = /^\s*(-?\d+\s*(,\s*-?\d+\s*)*|-?\d*\s*:\s*-?\d*(\s*:\s*-?\d*)?)\s*$/;
const QUOTED_LIST = /^\s*('([^'\\]|\\.)*'|"([^"\\]|\\.)*")(\s*,\s*('([^'\\]|\\.)*'|"([^"\\]|\\.)*"))*\s*$/;

/** Returns why `path` is not a valid JSONPath, or undefined when it is. */
export function jsonPathProblem(path: string): string | undefined {
  const p = path.trim();
  if (!p.startsWith('$')) return 'must start with "$"';
  let i = 1;
  while (i < p.length) {
    const c = p[i]!;
    if (c === '.') {
      const deep = p[i + 1] === '.';
      i += deep ? 2 : 1;
      if (p[i] === '*') {
        i++;
        continue;
      }
      if (deep && p[i] === '[') continue;
      const m = NAME.exec(p.slice(i));
      if (!m) return `expected a member name at offset ${i}`;
      i += m[0].length;
      continue;
    }
    if (c === '[') {
      const end = closingBracket(p, i);
      if (end < 0) return `unclosed "[" at offset ${i}`;
      const inner = p.slice(i + 1, end);
      if (!bracketContentOk(inner)) return `invalid selector "[${inner}]" at offset ${i}`;
      i = end + 1;
      continue;
    }
    return `unexpected "${c}" at offset ${i}`;
  }
  return undefined;
}

/** Index of the `]` closing the `[` at `open`, skipping quoted strings and nested parentheses/brackets. */
function closingBracket(p: string, open: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < p.length; i++) {
    const c = p[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '[' || c === '(') depth++;
    else if (c === ']' || c === ')') {
      depth--;
      if (depth === 0) return c === ']' ? i : -1;
      if (depth < 0) return -1;
    }
  }
  return -1;
}

function bracketContentOk(inner: string): boolean {
  const t = inner.trim();
  if (t === '*') return true;
  if (INDEX_LIKE.test(t)) return true;
  if (QUOTED_LIST.test(t)) return true;
  // Filter `?(…)` and script `(…)` expressions: balanced parentheses (checked by closingBracket) and non-empty.
  if (/^\?\(.+\)$/s.test(t) || /^\(.+\)$/s.test(t)) return true;
  return false;
}

/**
 * Applies `path` to `value` with the reference's result shape: no match → null,
 * exactly one match → that value, several → an array of them.
 * An invalid path throws ATI_ERR_INTERNAL "JSONPath extraction failed: …".
 */
export function extractJsonPath(value: unknown, path: string): unknown {
  const problem = jsonPathProblem(path);
  if (problem)
    throw new AtiError('ATI_ERR_INTERNAL', `JSONPath extraction failed: Invalid JSONPath '${path}': ${problem}`);
  let matches: unknown[];
  try {
    // jsonpath-plus wants an object or array; a scalar has no members to select.
    if (value === null || typeof value !== 'object') return path.trim() === '$' ? value : null;
    matches = JSONPath({ path: path.trim(), json: value as object, wrap: true, eval: 'safe' }) as unknown[];
  } catch (err) {
    throw new AtiError(
      'ATI_ERR_INTERNAL',
      `JSONPath extraction failed: Invalid JSONPath '${path}': ${(err as Error).message}`,
    );
  }
  if (!Array.isArray(matches) || matches.length === 0) return null;
  return matches.length === 1 ? matches[0] : matches;
}

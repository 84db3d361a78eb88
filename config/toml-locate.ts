/**
 * Finds the line of a field in TOML text, for located error messages. smol-toml
 * reports lines for syntax errors only; schema errors need this best-effort scan.
 * Handles `[a.b]`, `[[tools]]` (indexed), quoted keys and dotted keys.
 */

/** Splits `tools[2].input_schema.x` into `['tools', 2, 'input_schema', 'x']`. */
export function parseFieldPath(field: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const part of field.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1]) out.push(m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

function splitKey(raw: string): string[] {
  const parts: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(\.|$)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(raw)) !== null) {
    parts.push(m[1] ?? m[2] ?? m[3] ?? '');
    if (m[4] === '') break;
  }
  return parts;
}

/** Returns the 1-based line of `field`, or of the closest enclosing table, or undefined. */
export function locateLine(text: string, field: string): number | undefined {
  const target = parseFieldPath(field);
  const lines = text.split(/\r?\n/);
  const arrayCounts = new Map<string, number>();
  let table: Array<string | number> = [];
  let best: { line: number; depth: number } | undefined;

  const consider = (path: Array<string | number>, line: number) => {
    let depth = 0;
    while (depth < path.length && depth < target.length && path[depth] === target[depth]) depth++;
    if (depth === path.length && (!best || depth > best.depth)) best = { line, depth };
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const arr = /^\[\[(.+?)\]\]/.exec(line);
    if (arr) {
      const keys = splitKey(arr[1]!);
      const name = keys.join('.');
      const idx = arrayCounts.get(name) ?? 0;
      arrayCounts.set(name, idx + 1);
      table = [...keys, idx];
      consider(table, i + 1);
      continue;
    }
    const tbl = /^\[(.+?)\]/.exec(line);
    if (tbl) {
      const keys = splitKey(tbl[1]!);
      // `[tools.input_schema]` belongs to the last `[[tools]]` element.
      const head = keys[0]!;
      const count = arrayCounts.get(head);
      table = count !== undefined ? [head, count - 1, ...keys.slice(1)] : keys;
      consider(table, i + 1);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) {
      const keys = splitKey(line.slice(0, eq));
      if (keys.length > 0) consider([...table, ...keys], i + 1);
    }
  }
  return best?.line;
}

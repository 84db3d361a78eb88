/**
 * JSON handling for files that hold secrets (keyring plaintext, `credentials`,
 * `op` output). V8's `JSON.parse` errors quote the input (`Unexpected token
 * 's', "{"a": supersecre"... is not valid JSON`), so its message must never
 * reach a log or an error body here: these helpers report only the position.
 * Writing uses the reference's exact bytes (pretty, keys sorted).
 */

/** Why `text` is not valid JSON, without quoting any of it (e.g. `invalid JSON at position 12`). */
export function describeJsonError(err: unknown): string {
  const msg = err instanceof Error ? err.message : '';
  const pos = /at position (\d+)/.exec(msg);
  if (pos) return `invalid JSON at position ${pos[1]}`;
  if (/end of (JSON )?input/i.test(msg)) return 'invalid JSON (unexpected end of input)';
  if (/unexpected token/i.test(msg)) return 'invalid JSON (unexpected token)';
  return 'invalid JSON';
}

/** `JSON.parse` whose error message never contains the input. `onError` builds the thrown error. */
export function parseJsonQuietly(text: string, onError: (reason: string) => Error): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw onError(describeJsonError(err));
  }
}

/** What a JSON value is, for error messages (`an array`, `a number`, …), never its content. */
export function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'object':
      return 'an object';
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    default:
      return typeof v;
  }
}

/**
 * Parses a JSON object whose values are all strings (keyring plaintext,
 * `credentials`, the `--from-json` source) into a Map. Errors name the problem
 * and the entry, never a value. `fail` builds the thrown error from the reason.
 */
export function parseStringMapJson(text: string, fail: (reason: string) => Error): Map<string, string> {
  const parsed = parseJsonQuietly(text, fail);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw fail(`expected a JSON object of strings, found ${jsonKind(parsed)}`);
  }
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof v !== 'string') throw fail(`entry '${k}' must be a string, found ${jsonKind(v)}`);
    out.set(k, v);
  }
  return out;
}

/** Compares two strings by their UTF-8 bytes — the order of Rust's BTreeMap<String, _>. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Pretty JSON of a string map with keys in UTF-8 byte order, 2-space indent, no
 * trailing newline: the bytes serde_json's `to_string_pretty` writes for a
 * BTreeMap, so files we write match the reference's byte for byte. Built by
 * hand so a key named `__proto__` is an ordinary key.
 */
export function prettySortedJson(map: ReadonlyMap<string, string>): string {
  const keys = [...map.keys()].sort(compareUtf8);
  if (keys.length === 0) return '{}';
  return `{\n${keys.map((k) => `  ${JSON.stringify(k)}: ${JSON.stringify(map.get(k))}`).join(',\n')}\n}`;
}

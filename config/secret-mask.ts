/**
 * How `ati key list` shows a stored value: ≤ 4 characters → that
 * many `*`; ≤ 10 → first 2 + `...` + last 2; else first 4 + `...` + last 4.
 * Lengths count Unicode code points, not bytes, so a multi-byte secret is
 * never cut inside a character (the reference slices bytes and panics);
 * for ASCII the output is identical to the reference's. An `@file:` reference
 * is not a secret and is shown as written.
 */
import { FILE_REF_PREFIX } from './credentials-file.js';

export function maskSecret(value: string): string {
  if (value.startsWith(FILE_REF_PREFIX)) return value;
  const cps = Array.from(value);
  const n = cps.length;
  if (n <= 4) return '*'.repeat(n);
  const keep = n <= 10 ? 2 : 4;
  return `${cps.slice(0, keep).join('')}...${cps.slice(n - keep).join('')}`;
}

/** Left-aligns `text` in `width` code points (Rust's `{:<30}`). */
export function padEndCodePoints(text: string, width: number): string {
  const n = Array.from(text).length;
  return n >= width ? text : text + ' '.repeat(width - n);
}

/** The lines `ati key list` prints, in key byte order; empty when there is nothing stored. */
export function formatKeyList(
  entries: ReadonlyMap<string, string>,
  compare: (a: string, b: string) => number,
): string[] {
  return [...entries.keys()].sort(compare).map((k) => `${padEndCodePoints(k, 30)} ${maskSecret(entries.get(k)!)}`);
}

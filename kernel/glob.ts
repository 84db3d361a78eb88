/**
 * The glob dialect of the reference (Rust `globset` with default options),
 * used by deny_paths, forward_authorization_paths and the
 * sig-verify exempt list. Unlike minimatch/picomatch, `*` and `?` DO cross `/`:
 * substituting those libraries would silently shrink deny lists.
 *
 * Globs are compiled once per generation into anchored regular expressions.
 */
import { AtiError } from './errors.js';

const ANY = '[\\s\\S]';
const REGEX_SPECIAL = /[.*+?^${}()|[\]\\/-]/g;

function lit(ch: string): string {
  return ch.replace(REGEX_SPECIAL, '\\$&');
}

function globError(pattern: string, reason: string): AtiError {
  return new AtiError('ATI_ERR_CONFIG', `invalid glob ${JSON.stringify(pattern)}: ${reason}`);
}

/** Translates a glob to a regex source (without anchors). */
export function globToRegexSource(pattern: string): string {
  if (pattern === '**') return `${ANY}*`;
  let out = '';
  let i = 0;
  const n = pattern.length;
  if (pattern.startsWith('**/')) {
    out += `(?:/?|${ANY}*/)`;
    i = 3;
  }
  let inBraces = false;
  while (i < n) {
    const c = pattern[i]!;
    if (c === '\\') {
      if (i + 1 >= n) throw globError(pattern, 'trailing lone "\\"');
      out += lit(pattern[i + 1]!);
      i += 2;
      continue;
    }
    if (c === '/' && pattern.startsWith('/**', i) && !inBraces) {
      if (i + 3 === n) {
        out += `/${ANY}*`;
        i += 3;
        continue;
      }
      if (pattern[i + 3] === '/') {
        out += `(?:/|/${ANY}*/)`;
        i += 4;
        continue;
      }
    }
    if (c === '*') {
      while (pattern[i] === '*') i++; // `**` not forming a whole component degrades to `*`
      out += `${ANY}*`;
      continue;
    }
    if (c === '?') {
      out += ANY;
      i++;
      continue;
    }
    if (c === '[') {
      let j = i + 1;
      let negate = false;
      if (pattern[j] === '!' || pattern[j] === '^') {
        negate = true;
        j++;
      }
      let cls = '';
      let first = true;
      for (;;) {
        if (j >= n) throw globError(pattern, 'unclosed "["');
        const ch = pattern[j]!;
        if (ch === ']' && !first) break;
        first = false;
        if (pattern[j + 1] === '-' && j + 2 < n && pattern[j + 2] !== ']') {
          const hi = pattern[j + 2]!;
          if (hi < ch) throw globError(pattern, `reversed range "${ch}-${hi}"`);
          cls += `${lit(ch)}-${lit(hi)}`;
          j += 3;
          continue;
        }
        cls += lit(ch);
        j++;
      }
      out += `[${negate ? '^' : ''}${cls}]`;
      i = j + 1;
      continue;
    }
    if (c === '{') {
      if (inBraces) throw globError(pattern, 'nested "{"');
      inBraces = true;
      out += '(?:';
      i++;
      continue;
    }
    if (c === '}' && inBraces) {
      inBraces = false;
      out += ')';
      i++;
      continue;
    }
    if (c === ',' && inBraces) {
      out += '|';
      i++;
      continue;
    }
    out += lit(c);
    i++;
  }
  if (inBraces) throw globError(pattern, 'unclosed "{"');
  return out;
}

/** A compiled glob: `test(path)` matches the whole string, case-sensitive. Throws ATI_ERR_CONFIG. */
export function compileGlob(pattern: string): RegExp {
  return new RegExp(`^(?:${globToRegexSource(pattern)})$`);
}

/**
 * The expansion applied to deny_paths and forward_authorization_paths
 * (as the reference does): `/x/*` also covers `/x/**`, a pattern without `*` also covers
 * everything below it. Sig-verify exempt globs are NOT expanded.
 */
export function expandPathPattern(p: string): string[] {
  if (p.includes('**') || !p.startsWith('/')) return [p];
  if (p.endsWith('/*')) return [p, `${p.slice(0, -1)}**`];
  if (!p.includes('*')) return [p, `${p.replace(/\/+$/, '')}/**`];
  return [p];
}

/** A set of globs OR-ed into one regular expression, compiled once. */
export class GlobSet {
  private readonly re: RegExp | null;
  readonly patterns: readonly string[];

  constructor(patterns: readonly string[], opts: { expand?: boolean } = {}) {
    this.patterns = patterns;
    const globs = opts.expand ? patterns.flatMap(expandPathPattern) : [...patterns];
    this.re =
      globs.length === 0 ? null : new RegExp(`^(?:${globs.map((g) => `(?:${globToRegexSource(g)})`).join('|')})$`);
  }

  get isEmpty(): boolean {
    return this.re === null;
  }

  matches(path: string): boolean {
    return this.re !== null && this.re.test(path);
  }
}

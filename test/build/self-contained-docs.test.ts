/**
 * Comments, tests and docs stand on their own: nothing cites the project's planning documents,
 * which are not in the repository (a reader could not follow `ref-02 §1.18`); differences from
 * the reference proxy are explained in place or in docs/reference-compat.md. And every relative
 * link of the Markdown docs, and every `docs/<page>.md#anchor` a source file names, resolves to
 * an existing file and heading.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SELF = path.relative(ROOT, fileURLToPath(import.meta.url));

/** What is scanned: the source, test, bench and doc trees, plus the top-level README. */
const SCANNED = [
  'kernel',
  'config',
  'core',
  'sdk',
  'plugins',
  'client',
  'cli',
  'bin',
  'test',
  'bench',
  'scripts',
  'docs',
  'deploy',
  'examples',
  'manifests',
  'README.md',
];

/** Files under SCANNED that git does not ignore (relative paths); without git, every file there but build output. */
function scannedFiles(): string[] {
  try {
    const out = execFileSync(
      'git',
      ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', ...SCANNED],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    return out.split('\0').filter((f) => f !== '' && existsSync(path.join(ROOT, f)));
  } catch {
    const files: string[] = [];
    const walk = (rel: string): void => {
      const abs = path.join(ROOT, rel);
      if (!existsSync(abs)) return;
      if (!statSync(abs).isDirectory()) return void files.push(rel);
      for (const name of readdirSync(abs)) {
        if (name === 'node_modules' || name === 'dist') continue;
        walk(path.join(rel, name));
      }
    };
    SCANNED.forEach(walk);
    return files;
  }
}

/** Text of a file, or undefined for binary files. */
function textOf(rel: string): string | undefined {
  const buf = readFileSync(path.join(ROOT, rel));
  return buf.includes(0) ? undefined : buf.toString('utf8');
}

/**
 * Citations of the out-of-repo documents: the reference descriptions (`ref-01`…`ref-05`,
 * `reference/01`…), the product and architecture briefs and the landscape survey, and a bare
 * section sign with a number (`§8.2`), which only those documents number. A section of an RFC
 * (`RFC 3986 §6.2.2.2`) is a public reference and allowed.
 */
const CITATIONS: readonly RegExp[] = [
  /\bref-0[1-5]\b/,
  /\breference\/0[1-5]/,
  /\bPRODUCT ?§/,
  /\bPRODUCT\.md\b/,
  /\bARCHITECTURE\.md\b/,
  /\blandscape ?§/,
  /shared\/spec\b/,
  /(?<!RFC \d{3,5} )§ ?\d/,
];

function citations(files: readonly string[]): string[] {
  const found: string[] = [];
  for (const rel of files) {
    if (rel === SELF) continue;
    const text = textOf(rel);
    if (text === undefined) continue;
    text.split('\n').forEach((line, i) => {
      if (CITATIONS.some((re) => re.test(line))) found.push(`${rel}:${i + 1}: ${line.trim()}`);
    });
  }
  return found;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces → `-`. */
function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(text: string): Array<[line: string, n: number]> {
  const out: Array<[string, number]> = [];
  let fence: string | undefined;
  text.split('\n').forEach((line, i) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (m) {
      if (fence === undefined) fence = m[1]![0]!;
      else if (m[1]![0] === fence) fence = undefined;
      return;
    }
    if (fence === undefined) out.push([line, i + 1]);
  });
  return out;
}

const anchorCache = new Map<string, Set<string>>();

/** The anchors a Markdown file defines: its headings (duplicates numbered) and explicit ids. */
function anchorsOf(rel: string): Set<string> {
  let anchors = anchorCache.get(rel);
  if (anchors) return anchors;
  anchors = new Set();
  const seen = new Map<string, number>();
  for (const [line] of proseLines(readFileSync(path.join(ROOT, rel), 'utf8'))) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      const base = slug(h[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const a of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(a[1]!);
  }
  anchorCache.set(rel, anchors);
  return anchors;
}

/** Checks one link target written in `from`; returns the problem, or undefined when it resolves. */
function linkProblem(from: string, target: string): string | undefined {
  const [file, anchor] = target.split('#', 2) as [string, string | undefined];
  const rel = file === '' ? from : path.normalize(path.join(path.dirname(from), decodeURI(file)));
  if (rel.startsWith('..')) return `${target}: outside the repository`;
  if (!existsSync(path.join(ROOT, rel))) return `${target}: no such file`;
  if (anchor !== undefined && anchor !== '' && rel.endsWith('.md') && !anchorsOf(rel).has(anchor.toLowerCase()))
    return `${target}: no heading with anchor #${anchor} in ${rel}`;
  return undefined;
}

/** Relative links (inline and reference-style) of a Markdown file, outside code. */
function markdownLinks(text: string): Array<[target: string, n: number]> {
  const out: Array<[string, number]> = [];
  for (const [raw, n] of proseLines(text)) {
    const line = raw.replace(/`[^`]*`/g, '');
    const targets = [
      ...[...line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!),
      ...[...line.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/g)].map((m) => m[1]!),
    ];
    for (const t of targets) if (!/^[a-z][a-z0-9+.-]*:/i.test(t)) out.push([t, n]);
  }
  return out;
}

describe('comments and docs stand on their own', () => {
  const files = scannedFiles();

  it('scans the source, test and doc trees', () => {
    for (const expected of ['README.md', 'kernel/errors.ts', 'docs/reference-compat.md', 'test/build/layers.test.ts'])
      expect(files).toContain(expected);
  });

  it('cite no document that is not in the repository', () => {
    expect(citations(files)).toEqual([]);
  });

  it('the citation check finds each kind of citation, and allows RFC sections', () => {
    const lines = [
      'see ref-02 §1.18',
      'as PRODUCT §3.13 asks',
      'PRODUCT.md says',
      'ARCHITECTURE.md layout',
      'landscape §7.5',
      'reference/03 section 4',
      '../shared/spec/x',
      'the fix of §8.2',
    ];
    for (const line of lines)
      expect(
        CITATIONS.some((re) => re.test(line)),
        line,
      ).toBe(true);
    for (const ok of ['RFC 3986 §6.2.2.2', 'RFC 6455 §7.4', 'a preference-02 value'])
      expect(
        CITATIONS.some((re) => re.test(ok)),
        ok,
      ).toBe(false);
  });

  it('every relative link of the Markdown docs points to an existing file and heading', () => {
    const problems: string[] = [];
    for (const rel of files.filter((f) => f.endsWith('.md'))) {
      for (const [target, n] of markdownLinks(readFileSync(path.join(ROOT, rel), 'utf8'))) {
        const p = linkProblem(rel, target);
        if (p) problems.push(`${rel}:${n}: ${p}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every docs page and anchor a source file names exists', () => {
    const problems: string[] = [];
    for (const rel of files.filter((f) => !f.endsWith('.md') && f !== SELF)) {
      const text = textOf(rel);
      if (text === undefined) continue;
      text.split('\n').forEach((line, i) => {
        for (const m of line.matchAll(/(?<![\w/.-])((?:docs\/[\w-]+|README)\.md)(?:#([\w-]+))?/g)) {
          const p = linkProblem('.', m[2] ? `${m[1]}#${m[2]}` : m[1]!);
          if (p) problems.push(`${rel}:${i + 1}: ${p}`);
        }
      });
    }
    expect(problems).toEqual([]);
  });

  it('resolves links and anchors as GitHub does', () => {
    expect(slug('2.4 Exempt paths (`--sig-exempt-paths`)')).toBe('24-exempt-paths---sig-exempt-paths');
    expect(slug('Admin: virtual keys (`/admin/keys/*`)')).toBe('admin-virtual-keys-adminkeys');
    expect(slug('Not (yet) supported')).toBe('not-yet-supported');
    expect(linkProblem('docs/auth.md', 'keyring.md#key-files')).toBeUndefined();
    expect(linkProblem('docs/auth.md', '#4-scopes')).toBeUndefined();
    expect(linkProblem('docs/auth.md', 'keyring.md#no-such-heading')).toMatch(/no heading/);
    expect(linkProblem('README.md', 'docs/no-such-page.md')).toMatch(/no such file/);
    expect(linkProblem('docs/auth.md', '../../outside.md')).toMatch(/outside/);
    expect(markdownLinks('[a](x.md) `[b](y.md)` [c](https://e.x) [d]: z.md\n```\n[e](w.md)\n```\n')).toEqual([
      ['x.md', 1],
    ]);
  });
});

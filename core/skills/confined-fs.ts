/**
 * File access confined to one skill folder. Every path a skill exposes (its
 * `SKILL.md`, `skill.toml`, `references/`, bundle files, the files hashed for
 * reload detection) is resolved with `realpath` and must stay inside the real
 * path of the skill's own folder: a `..` segment, an absolute path or a
 * symlink that points elsewhere (another skill, `/etc`, a loop) is refused.
 * Hidden entries (`.git/`, `.env`, editor swap files) are never served.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

/** A relative path or symlink that would leave the skill folder. */
export class PathEscapeError extends Error {
  constructor(
    readonly rel: string,
    reason: string,
  ) {
    super(`'${rel}' ${reason}`);
    this.name = 'PathEscapeError';
  }
}

/** Whether `p` (a real path) is `root` or below it. */
export function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/** A name the skill layer never exposes: dotfiles and dot-folders. */
export function isHiddenName(name: string): boolean {
  return name.startsWith('.');
}

/**
 * Checks a skill-relative path lexically: not empty, relative, `/`-separated,
 * no NUL or backslash, no `.`/`..` segment, no hidden segment.
 */
export function checkRelativePath(rel: string): string[] {
  if (rel === '') throw new PathEscapeError(rel, 'is empty');
  if (rel.includes('\0') || rel.includes('\\')) throw new PathEscapeError(rel, 'contains a NUL or backslash');
  if (rel.startsWith('/') || path.isAbsolute(rel)) throw new PathEscapeError(rel, 'is absolute');
  const segs = rel.split('/');
  for (const s of segs) {
    if (s === '..') throw new PathEscapeError(rel, 'leaves the skill folder');
    if (s === '' || s === '.') throw new PathEscapeError(rel, 'is not a normalised path');
    if (isHiddenName(s)) throw new PathEscapeError(rel, 'names a hidden entry');
  }
  return segs;
}

/**
 * Resolves `rel` inside `root` (a real path) and returns the real path of the
 * target, or throws PathEscapeError when it leaves `root` (lexically or through
 * a symlink). A missing target rejects with the fs error (ENOENT).
 */
export async function resolveInside(root: string, rel: string): Promise<string> {
  const segs = checkRelativePath(rel);
  const real = await realpath(path.join(root, ...segs));
  if (!isInside(root, real)) throw new PathEscapeError(rel, 'resolves outside the skill folder (symlink)');
  return real;
}

/** Like resolveInside, but a missing file gives `undefined` instead of an error. */
export async function resolveInsideIfExists(root: string, rel: string): Promise<string | undefined> {
  try {
    return await resolveInside(root, rel);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export interface WalkedFile {
  /** Path relative to the skill root, `/`-separated (the link's path, not the target's). */
  rel: string;
  /** Real path of the file (inside the root). */
  real: string;
  size: number;
}

export interface WalkSkip {
  rel: string;
  reason: 'outside' | 'loop' | 'unreadable' | 'limit';
}

export interface WalkOptions {
  /** Stop after this many files (the rest is reported once as a `limit` skip). */
  maxFiles?: number;
  /** Told about every entry that was left out (except hidden ones, which are skipped silently). */
  onSkip?: (skip: WalkSkip) => void;
}

/**
 * Every regular file below `root` (a real path), depth first in name order.
 * Hidden entries are skipped; a symlink is followed only when its target stays
 * inside `root`; a folder reached twice (symlink loop) is walked once.
 */
export async function walkFiles(root: string, opts: WalkOptions = {}): Promise<WalkedFile[]> {
  const out: WalkedFile[] = [];
  const seenDirs = new Set<string>([root]);
  const max = opts.maxFiles ?? Infinity;
  let limited = false;

  const walk = async (dirReal: string, relDir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dirReal, { withFileTypes: true });
    } catch {
      opts.onSkip?.({ rel: relDir || '.', reason: 'unreadable' });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (isHiddenName(e.name)) continue;
      if (out.length >= max) {
        if (!limited) opts.onSkip?.({ rel: relDir ? `${relDir}/${e.name}` : e.name, reason: 'limit' });
        limited = true;
        return;
      }
      const rel = relDir ? `${relDir}/${e.name}` : e.name;
      const full = path.join(dirReal, e.name);
      let real = full;
      if (e.isSymbolicLink()) {
        try {
          real = await realpath(full);
        } catch {
          opts.onSkip?.({ rel, reason: 'unreadable' }); // dangling link
          continue;
        }
        if (!isInside(root, real)) {
          opts.onSkip?.({ rel, reason: 'outside' });
          continue;
        }
      }
      let st;
      try {
        st = await stat(real);
      } catch {
        opts.onSkip?.({ rel, reason: 'unreadable' });
        continue;
      }
      if (st.isDirectory()) {
        if (seenDirs.has(real)) {
          opts.onSkip?.({ rel, reason: 'loop' });
          continue;
        }
        seenDirs.add(real);
        await walk(real, rel);
      } else if (st.isFile()) {
        out.push({ rel, real, size: st.size });
      }
    }
  };

  await walk(root, '');
  return out;
}

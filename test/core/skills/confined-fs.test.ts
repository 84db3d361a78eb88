import { mkdir, realpath, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PathEscapeError, resolveInside, walkFiles, type WalkSkip } from '../../../core/skills/confined-fs.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';

describe('file access confined to a skill folder', () => {
  let dir: TempAtiDir;
  let root: string;
  beforeEach(async () => {
    dir = await makeAtiDir({
      'outside.txt': 'secret',
      'skills/other/SKILL.md': 'other skill',
      'skills/s/SKILL.md': 'mine',
      'skills/s/references/a.md': 'a',
      'skills/s/assets/img.bin': 'x',
      'skills/s/.env': 'TOKEN=1',
      'skills/s/.git/config': 'c',
    });
    root = await realpath(path.join(dir.dir, 'skills', 's'));
  });
  afterEach(() => dir.cleanup());

  it('resolves normal relative paths inside the folder', async () => {
    expect(await resolveInside(root, 'references/a.md')).toBe(path.join(root, 'references', 'a.md'));
  });

  it.each([
    ['../other/SKILL.md'],
    ['references/../../other/SKILL.md'],
    ['/etc/passwd'],
    ['references\\a.md'],
    ['a\0b'],
    ['./SKILL.md'],
    ['.env'],
    ['.git/config'],
    [''],
  ])('refuses %j lexically', async (rel) => {
    await expect(resolveInside(root, rel)).rejects.toBeInstanceOf(PathEscapeError);
  });

  it('refuses a symlink that leads outside (file, sibling skill, parent folder)', async () => {
    await symlink(path.join(dir.dir, 'outside.txt'), path.join(root, 'leak.txt'));
    await symlink(path.join(dir.dir, 'skills', 'other'), path.join(root, 'sibling'));
    await symlink('..', path.join(root, 'up'));
    await expect(resolveInside(root, 'leak.txt')).rejects.toThrow(/outside the skill folder/);
    await expect(resolveInside(root, 'sibling/SKILL.md')).rejects.toThrow(/outside the skill folder/);
    await expect(resolveInside(root, 'up/other/SKILL.md')).rejects.toThrow(/outside the skill folder/);
  });

  it('follows a symlink that stays inside', async () => {
    await symlink('references/a.md', path.join(root, 'alias.md'));
    expect(await resolveInside(root, 'alias.md')).toBe(path.join(root, 'references', 'a.md'));
  });

  it('walks files in name order without hidden entries, escaping links or loops', async () => {
    await symlink(path.join(dir.dir, 'outside.txt'), path.join(root, 'leak.txt'));
    await symlink(path.join(dir.dir, 'skills', 'other'), path.join(root, 'sibling'));
    await symlink('.', path.join(root, 'loop'));
    await symlink('references', path.join(root, 'refs-alias'));
    await symlink('missing-target', path.join(root, 'dangling'));
    await mkdir(path.join(root, 'empty'));
    const skips: WalkSkip[] = [];
    const files = await walkFiles(root, { onSkip: (s) => skips.push(s) });
    expect(files.map((f) => f.rel)).toEqual(['SKILL.md', 'assets/img.bin', 'references/a.md']);
    expect(skips).toEqual(
      expect.arrayContaining([
        { rel: 'leak.txt', reason: 'outside' },
        { rel: 'sibling', reason: 'outside' },
        { rel: 'loop', reason: 'loop' },
        { rel: 'refs-alias', reason: 'loop' },
        { rel: 'dangling', reason: 'unreadable' },
      ]),
    );
  });

  it('stops at maxFiles and reports it once', async () => {
    const skips: WalkSkip[] = [];
    const files = await walkFiles(root, { maxFiles: 2, onSkip: (s) => skips.push(s) });
    expect(files).toHaveLength(2);
    expect(skips.filter((s) => s.reason === 'limit')).toHaveLength(1);
  });
});

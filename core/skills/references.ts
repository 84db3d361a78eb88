/** The `references/` listing of `GET /skills/{name}?refs=true` (docs/api.md#get-skillsname). */
import { readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { isHiddenName, isInside, resolveInsideIfExists } from './confined-fs.js';
import type { Skill } from './skill-manifest.js';

/**
 * Sorted names of the entries directly under the skill's `references/`
 * (folders too): `[]` when there is no such folder, `undefined` when it cannot
 * be listed or leads outside the skill (the route then leaves the key out).
 * Hidden entries and symlinks pointing outside the skill are not listed.
 */
export async function listReferences(skill: Skill): Promise<string[] | undefined> {
  let dir: string | undefined;
  try {
    dir = await resolveInsideIfExists(skill.root, 'references');
  } catch {
    return undefined;
  }
  if (!dir) return [];
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    const out: string[] = [];
    for (const e of entries) {
      if (isHiddenName(e.name)) continue;
      if (e.isSymbolicLink()) {
        const real = await realpath(path.join(dir, e.name)).catch(() => undefined);
        if (!real || !isInside(skill.root, real)) continue;
      }
      out.push(e.name);
    }
    return out.sort();
  } catch (err) {
    // A plain file named `references` is not a references folder.
    return (err as NodeJS.ErrnoException).code === 'ENOTDIR' ? [] : undefined;
  }
}

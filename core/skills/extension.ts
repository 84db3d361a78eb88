/**
 * The skills registry as part of every generation: `SKILLS.get(gen)` is a
 * SkillRegistry loaded from `<ati_dir>/skills/`, so skills hot-reload with
 * the manifests and keyring (the reference loaded them once at startup). Every
 * file a skill could serve is listed in `sourceFiles`, so a content change (or
 * a file added or removed) makes the reload's hash comparison rebuild.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { atiPaths } from '../../config/proxy-config.js';
import { defineExtension, type ExtensionValues, type GenerationExtension } from '../generation/extension.js';
import { isHiddenName, walkFiles } from './confined-fs.js';
import { loadSkillRegistry, SkillRegistry } from './registry.js';

/** The skill registry of a generation. */
export const SKILLS = defineExtension<SkillRegistry>('skills');
/** At most this many skill files take part in change detection (hashing is per reload). */
export const MAX_WATCHED_SKILL_FILES = 20_000;

/** Every servable file under `<skillsDir>/<skill>/` (hidden folders and escaping symlinks excluded). */
export async function skillSourceFiles(skillsDir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(skillsDir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (isHiddenName(e.name) || out.length >= MAX_WATCHED_SKILL_FILES) continue;
    const full = path.join(skillsDir, e.name);
    let root: string;
    try {
      if (!(await stat(full)).isDirectory()) continue;
      root = await realpath(full);
    } catch {
      continue;
    }
    const files = await walkFiles(root, { maxFiles: MAX_WATCHED_SKILL_FILES - out.length });
    // The hash map is keyed by these paths: use the path under skills/, not the symlink target.
    for (const f of files) out.push(path.join(full, ...f.rel.split('/')));
  }
  return out;
}

export const skillsExtension: GenerationExtension<SkillRegistry> = {
  key: SKILLS,
  sourceFiles: (options) => skillSourceFiles(atiPaths(options.atiDir).skills),
  load: ({ options, logger }) => loadSkillRegistry(atiPaths(options.atiDir).skills, logger),
};

/** The skill registry of a generation (an empty one when the extension is not installed). */
export function skillRegistryOf(gen: ExtensionValues): SkillRegistry {
  return SKILLS.get(gen) ?? EMPTY;
}

const EMPTY = SkillRegistry.empty();

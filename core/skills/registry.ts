/**
 * The local skill registry of one generation (docs/skills.md): every direct
 * subfolder of `<ati_dir>/skills/` that loads becomes a skill. Unlike the
 * reference, a folder that does not load (a stray `.git/`, one with neither
 * SKILL.md nor skill.toml, a broken skill.toml) is skipped with a WARN and the
 * rest still load; skills are kept sorted by name, so listings are stable.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { AtiError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { isHiddenName } from './confined-fs.js';
import { loadSkill, SkillLoadError, type Skill } from './skill-manifest.js';

/** Names that collide with the static routes `/skills/resolve` and `/skills/bundle` (the reference could not serve them). */
export const RESERVED_SKILL_NAMES: ReadonlySet<string> = new Set(['resolve', 'bundle']);

/** A folder under `skills/` that was left out, and why (also logged as WARN). */
export interface SkippedSkill {
  dir: string;
  reason: string;
}

function pushIndex(index: Map<string, Skill[]>, key: string, skill: Skill): void {
  const list = index.get(key);
  if (list) {
    if (!list.includes(skill)) list.push(skill);
  } else index.set(key, [skill]);
}

export class SkillRegistry {
  /** Every skill, sorted by name. */
  readonly skills: readonly Skill[];
  readonly skipped: readonly SkippedSkill[];
  private readonly byName = new Map<string, Skill>();
  private readonly byTool = new Map<string, Skill[]>();
  private readonly byProvider = new Map<string, Skill[]>();
  private readonly byCategory = new Map<string, Skill[]>();

  constructor(skills: Skill[], skipped: SkippedSkill[] = []) {
    this.skills = [...skills].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.skipped = skipped;
    for (const s of this.skills) {
      this.byName.set(s.name, s);
      for (const t of s.tools) pushIndex(this.byTool, t, s);
      for (const p of s.providers) pushIndex(this.byProvider, p, s);
      for (const c of s.categories) pushIndex(this.byCategory, c, s);
    }
  }

  static empty(): SkillRegistry {
    return new SkillRegistry([]);
  }

  /** Number of skills (the `/health` `skills` count). */
  get size(): number {
    return this.skills.length;
  }

  get(name: string): Skill | undefined {
    return this.byName.get(name);
  }

  /** Skills whose `tools` list this exact tool name. */
  forTool(tool: string): readonly Skill[] {
    return this.byTool.get(tool) ?? [];
  }

  forProvider(provider: string): readonly Skill[] {
    return this.byProvider.get(provider) ?? [];
  }

  forCategory(category: string): readonly Skill[] {
    return this.byCategory.get(category) ?? [];
  }

  /**
   * Names of skills bound to a tool name or to its provider (deduplicated, tool
   * bindings first) — what `GET /tools/{name}` merges into `skills`.
   */
  skillsForTool(toolName: string, providerName: string): string[] {
    const out = new Set<string>();
    for (const s of this.forTool(toolName)) out.add(s.name);
    for (const s of this.forProvider(providerName)) out.add(s.name);
    return [...out];
  }

  /**
   * Fuzzy search (the reference's scores): per lower-cased whitespace-separated term,
   * +10 name, +5 description, +8 keyword, +6 tool, +4 hint, +6 provider,
   * +4 category. Score > 0 kept, best first, ties in registry (name) order.
   */
  search(query: string): Skill[] {
    const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    const anyHas = (list: readonly string[], term: string) => list.some((x) => x.toLowerCase().includes(term));
    const scored: Array<{ skill: Skill; score: number; order: number }> = [];
    this.skills.forEach((skill, order) => {
      let score = 0;
      const name = skill.name.toLowerCase();
      const desc = skill.description.toLowerCase();
      const hint = skill.hint?.toLowerCase();
      for (const term of terms) {
        if (name.includes(term)) score += 10;
        if (desc.includes(term)) score += 5;
        if (anyHas(skill.keywords, term)) score += 8;
        if (anyHas(skill.tools, term)) score += 6;
        if (hint?.includes(term)) score += 4;
        if (anyHas(skill.providers, term)) score += 6;
        if (anyHas(skill.categories, term)) score += 4;
      }
      if (score > 0) scored.push({ skill, score, order });
    });
    scored.sort((a, b) => b.score - a.score || a.order - b.order);
    return scored.map((s) => s.skill);
  }
}

/**
 * Loads `<skillsDir>/*`. A missing folder gives an empty registry; a folder
 * that exists but cannot be listed throws (the candidate generation is
 * rejected and the serving one keeps its skills). Folders load in name order;
 * of two skills with the same name the first is kept and the second skipped.
 */
export async function loadSkillRegistry(skillsDir: string, logger: Logger): Promise<SkillRegistry> {
  let entries;
  try {
    entries = await readdir(skillsDir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return SkillRegistry.empty();
    if (code === 'ENOTDIR') {
      logger.warn({ path: skillsDir }, 'skills path is not a directory; no local skills loaded');
      return SkillRegistry.empty();
    }
    throw new AtiError('ATI_ERR_CONFIG', `cannot list the skills folder: ${(err as Error).message}`, {
      location: { file: skillsDir },
      cause: err,
    });
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const skills: Skill[] = [];
  const skipped: SkippedSkill[] = [];
  const seen = new Map<string, string>();
  const skip = (dir: string, reason: string, file?: string, line?: number) => {
    skipped.push({ dir, reason });
    logger.warn(
      { skill_dir: dir, reason, ...(file ? { file } : {}), ...(line ? { line } : {}) },
      'skill folder skipped',
    );
  };

  for (const e of entries) {
    const full = path.join(skillsDir, e.name);
    // Plain files at the top level are not skills; a symlink to a folder is.
    let isDir = e.isDirectory();
    if (e.isSymbolicLink())
      isDir = await stat(full).then(
        (s) => s.isDirectory(),
        () => false,
      );
    if (!isDir) continue;
    if (isHiddenName(e.name)) {
      skip(e.name, 'hidden folder');
      continue;
    }
    let skill: Skill;
    try {
      const root = await realpath(full);
      skill = await loadSkill(root, e.name, (message, file) =>
        logger.warn({ skill_dir: e.name, ...(file ? { file } : {}) }, `skill: ${message}`),
      );
    } catch (err) {
      if (err instanceof SkillLoadError) skip(e.name, err.message, err.file, err.line);
      else skip(e.name, (err as Error).message);
      continue;
    }
    const problem = nameProblem(skill.name);
    if (problem) {
      skip(e.name, `skill name "${skill.name}" ${problem}`);
      continue;
    }
    const other = seen.get(skill.name);
    if (other !== undefined) {
      skip(e.name, `duplicate skill name "${skill.name}" (already loaded from folder "${other}")`);
      continue;
    }
    seen.set(skill.name, e.name);
    skills.push(skill);
  }
  return new SkillRegistry(skills, skipped);
}

/** Why a skill name cannot be served under `/skills/{name}`, or undefined. */
function nameProblem(name: string): string | undefined {
  if (RESERVED_SKILL_NAMES.has(name)) return `is reserved (it collides with the route /skills/${name})`;
  if (name === '.' || name === '..' || /[/\\\u0000-\u001f\u007f]/.test(name))
    return 'contains a path separator or control character';
  if (name.length > 200) return 'is longer than 200 characters';
  return undefined;
}

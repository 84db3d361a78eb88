/**
 * The local-skills part of the `POST /help` prompt (ref-01 §12.2 step 4):
 * the skills resolved from the caller's scopes, as Markdown bullets under
 * "## Available Skills (methodology guides)". In dev mode (or with a `*`
 * scope) nothing is auto-loaded, so the section is empty, as in the reference.
 */
import type { CallerIdentity } from '../plugin/contract.js';
import { skillRegistryOf } from './extension.js';
import type { Skill } from './skill-manifest.js';
import { resolveSkills, type ToolCatalog } from './visibility.js';
import type { ExtensionValues } from '../generation/extension.js';

export const SKILLS_HELP_HEADING = '## Available Skills (methodology guides)';

/** One bullet per skill: name, description, hint, covered tools, related skills. */
export function formatSkillContext(skills: readonly Skill[]): string {
  return skills
    .map((s) => {
      let out = `- **${s.name}**: ${s.description}`;
      if (s.hint) out += `\n  Hint: ${s.hint}`;
      if (s.tools.length > 0) out += `\n  Covers tools: ${s.tools.join(', ')}`;
      if (s.suggests.length > 0) out += `\n  Related skills: ${s.suggests.join(', ')}`;
      return out;
    })
    .join('\n\n');
}

/**
 * The heading plus bullets for the skills `caller`'s scopes resolve to, or ""
 * when there are none. `caller` undefined = dev mode (scopes `*`).
 */
/** The skills text for the caller without its heading (for prompt builders that add their own), or undefined. */
export function localSkillsHelpBody(
  gen: ExtensionValues & ToolCatalog,
  caller: CallerIdentity | undefined,
): string | undefined {
  const section = localSkillsHelpSection(gen, caller);
  return section ? section.slice(SKILLS_HELP_HEADING.length).trim() : undefined;
}

export function localSkillsHelpSection(gen: ExtensionValues & ToolCatalog, caller: CallerIdentity | undefined): string {
  const registry = skillRegistryOf(gen);
  if (registry.size === 0) return '';
  const who: CallerIdentity = caller ?? { sub: 'dev', scopes: ['*'], unrestricted: true };
  const skills = resolveSkills(registry, gen, who);
  return skills.length === 0 ? '' : `${SKILLS_HELP_HEADING}\n\n${formatSkillContext(skills)}`;
}

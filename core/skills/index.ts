/** Public surface of the local skills feature (routes, /help, the startup line). */
export { skillsExtension, skillRegistryOf, SKILLS } from './extension.js';
export { SkillRegistry, RESERVED_SKILL_NAMES } from './registry.js';
export type { Skill, SkillFormat } from './skill-manifest.js';
export { resolveSkills, visibleSkills, visibleSkillNames, viewerOf, callerForScopes } from './visibility.js';
export type { SkillViewer, ToolCatalog } from './visibility.js';
export { localSkillsHelpSection, formatSkillContext, SKILLS_HELP_HEADING } from './help-context.js';

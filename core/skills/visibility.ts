/**
 * Which skills a caller may see, and which a set of scopes pulls in
 * (docs/skills.md#who-sees-which-skill). Visibility is always derived from the caller's scopes:
 * `skill:<name>` names a skill exactly; `tool:` scopes and the tools the
 * scopes allow bring in the skills bound to those tools, their providers and
 * the providers' categories; `depends_on` is followed transitively. A `*`
 * scope sees every skill but resolves to none ("everything is visible,
 * nothing is auto-loaded"). `category:` scopes grant nothing, as in the reference.
 */
import type { CallerIdentity, ToolDefinition } from '../plugin/contract.js';
import { toolAllowed } from '../pipeline/scopes.js';
import type { SkillRegistry } from './registry.js';
import type { Skill } from './skill-manifest.js';

/** The part of a generation visibility needs (Generation satisfies it). */
export interface ToolCatalog {
  readonly tools: ReadonlyMap<string, ToolDefinition>;
  publicTools(): ToolDefinition[];
}

/** Who is looking: everyone-sees-everything, or a caller with scopes. */
export type SkillViewer = { all: true } | { all: false; caller: CallerIdentity };

const ALL: SkillViewer = { all: true };

/**
 * The viewer for a request. No caller means no auth stage identified one: in
 * dev mode (auth not configured) that is unrestricted; with auth configured it
 * is an empty scope list (as in the reference), so nothing is visible.
 */
export function viewerOf(caller: CallerIdentity | undefined, authConfigured: boolean): SkillViewer {
  if (!caller)
    return authConfigured ? { all: false, caller: { sub: 'anonymous', scopes: [], unrestricted: false } } : ALL;
  if (caller.unrestricted || caller.scopes.includes('*')) return ALL;
  return { all: false, caller };
}

/** A caller holding exactly `scopes` (for `POST /skills/resolve`, which resolves scopes the client sends). */
export function callerForScopes(scopes: readonly string[]): CallerIdentity {
  return { sub: 'skills-resolve', scopes, unrestricted: false };
}

/**
 * `resolve(scopes)`: skills pulled in by the caller's scopes, de-duplicated,
 * in resolution order (explicit scopes first, then allowed tools in registry
 * order, then dependencies).
 */
export function resolveSkills(registry: SkillRegistry, catalog: ToolCatalog, caller: CallerIdentity): Skill[] {
  const out: Skill[] = [];
  const seen = new Set<Skill>();
  const add = (list: Iterable<Skill> | undefined) => {
    if (!list) return;
    for (const s of list) {
      if (!seen.has(s)) {
        seen.add(s);
        out.push(s);
      }
    }
  };
  const addBound = (toolName: string, tool: ToolDefinition | undefined) => {
    add(registry.forTool(toolName));
    if (tool) {
      add(registry.forProvider(tool.provider));
      if (tool.category) add(registry.forCategory(tool.category));
    }
  };

  // 1. Explicit scopes, in order.
  for (const scope of caller.scopes) {
    if (scope.startsWith('skill:')) {
      const s = registry.get(scope.slice('skill:'.length));
      if (s) add([s]);
    } else if (scope.startsWith('tool:')) {
      const name = scope.slice('tool:'.length);
      addBound(name, catalog.tools.get(name));
    }
  }

  // 2. Every public tool the scopes allow (wildcards and aliases included), unless the scopes are a wildcard.
  const wildcard = caller.unrestricted || caller.scopes.includes('*');
  if (!wildcard && registry.size > 0) {
    for (const t of catalog.publicTools()) {
      if (toolAllowed(caller, t)) addBound(t.name, t);
    }
  }

  // 3. depends_on, transitively (the list grows while it is walked).
  for (let i = 0; i < out.length; i++) {
    for (const dep of out[i]!.dependsOn) {
      const d = registry.get(dep);
      if (d) add([d]);
    }
  }
  return out;
}

/** Names of the skills `viewer` may see: all of them, or resolve(caller scopes). */
export function visibleSkillNames(
  registry: SkillRegistry,
  catalog: ToolCatalog,
  viewer: SkillViewer,
): ReadonlySet<string> {
  if (viewer.all) return new Set(registry.skills.map((s) => s.name));
  return new Set(resolveSkills(registry, catalog, viewer.caller).map((s) => s.name));
}

/** Skills visible to `viewer`, in registry (name) order. */
export function visibleSkills(registry: SkillRegistry, catalog: ToolCatalog, viewer: SkillViewer): Skill[] {
  if (viewer.all) return [...registry.skills];
  const names = visibleSkillNames(registry, catalog, viewer);
  return registry.skills.filter((s) => names.has(s.name));
}

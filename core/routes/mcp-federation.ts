/**
 * What `/mcp` shows of the resources and prompts of the MCP servers behind the
 * proxy, and who may see them. Per generation, one index over every provider
 * that is an MCP server (`Provisioned.mcp`), in load order:
 *
 * - prompts by exposed name (`<tool_prefix><name>`, like tools), scope `prompt:<name>`;
 * - resources by URI, and resource templates (a `resources/read` whose URI no
 *   listed resource has is routed to the provider whose template matches it),
 *   scope `resource:<provider>:<uri>` (a template needs `resource:<provider>:<template>`);
 * - the capabilities the proxy declares: those at least one provider offers.
 *
 * Providers with `internal = true` are left out of listings but usable with the scope,
 * as their tools are. A URI or prompt name offered by two providers goes to the first.
 */
import type { Generation } from '../generation/generation.js';
import type { CallerIdentity, McpFederation, McpListEntry, McpPromptEntry } from '../plugin/contract.js';
import { callerAllowed } from '../pipeline/scopes.js';

export interface FederatedProvider {
  name: string;
  internal: boolean;
  fed: McpFederation;
}

export interface PromptRef {
  provider: FederatedProvider;
  prompt: McpPromptEntry;
}

export interface ResourceRef {
  provider: FederatedProvider;
  resource: McpListEntry;
}

export interface TemplateRef {
  provider: FederatedProvider;
  template: McpListEntry;
  pattern: RegExp;
}

export interface FederationIndex {
  providers: FederatedProvider[];
  prompts: Map<string, PromptRef>;
  resources: Map<string, ResourceRef>;
  templates: TemplateRef[];
  has: { resources: boolean; subscribe: boolean; prompts: boolean; completions: boolean; logging: boolean };
}

const indexes = new WeakMap<Generation, FederationIndex>();

/**
 * An RFC 6570 URI template as a regular expression: `{x}` matches one path
 * segment, `{+x}`, `{#x}` and the other operators match anything.
 */
export function templatePattern(template: string): RegExp {
  let re = '';
  let last = 0;
  for (const m of template.matchAll(/\{([^}]*)\}/g)) {
    re += template.slice(last, m.index).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const op = m[1]!.charAt(0);
    re += /[A-Za-z0-9_%]/.test(op) ? '[^/?#]*' : '.*';
    last = m.index + m[0].length;
  }
  re += template.slice(last).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${re}$`);
}

export function federationOf(gen: Generation): FederationIndex {
  let idx = indexes.get(gen);
  if (idx) return idx;
  idx = {
    providers: [],
    prompts: new Map(),
    resources: new Map(),
    templates: [],
    has: { resources: false, subscribe: false, prompts: false, completions: false, logging: false },
  };
  for (const inst of gen.providers.values()) {
    const fed = inst.provisioned.mcp;
    if (!fed) continue;
    const p: FederatedProvider = { name: inst.name, internal: inst.manifest.provider.internal, fed };
    idx.providers.push(p);
    const c = fed.capabilities;
    if (c.resources) idx.has.resources = true;
    if (c.resources?.subscribe) idx.has.subscribe = true;
    if (c.prompts) idx.has.prompts = true;
    if (c.completions) idx.has.completions = true;
    if (c.logging) idx.has.logging = true;
    for (const prompt of fed.prompts)
      if (!idx.prompts.has(prompt.name)) idx.prompts.set(prompt.name, { provider: p, prompt });
    for (const resource of fed.resources) {
      const uri = resource['uri'];
      if (typeof uri === 'string' && !idx.resources.has(uri)) idx.resources.set(uri, { provider: p, resource });
    }
    for (const template of fed.resourceTemplates) {
      const t = template['uriTemplate'];
      if (typeof t === 'string') idx.templates.push({ provider: p, template, pattern: templatePattern(t) });
    }
  }
  indexes.set(gen, idx);
  return idx;
}

export interface Viewer {
  caller: CallerIdentity | undefined;
  authConfigured: boolean;
}

export const promptScope = (name: string): string => `prompt:${name}`;
export const resourceScope = (provider: string, uri: string): string => `resource:${provider}:${uri}`;

export function promptAllowed(v: Viewer, name: string): boolean {
  return callerAllowed(v.caller, promptScope(name), v.authConfigured);
}

export function resourceAllowed(v: Viewer, provider: string, uri: string): boolean {
  return callerAllowed(v.caller, resourceScope(provider, uri), v.authConfigured);
}

/** The prompts a viewer sees, as `prompts/list` entries. */
export function visiblePrompts(idx: FederationIndex, v: Viewer): McpListEntry[] {
  const out: McpListEntry[] = [];
  for (const [name, ref] of idx.prompts) {
    if (ref.provider.internal || !promptAllowed(v, name)) continue;
    out.push({ ...ref.prompt.fields, name });
  }
  return out;
}

export function visibleResources(idx: FederationIndex, v: Viewer): McpListEntry[] {
  const out: McpListEntry[] = [];
  for (const [uri, ref] of idx.resources) {
    if (ref.provider.internal || !resourceAllowed(v, ref.provider.name, uri)) continue;
    out.push(ref.resource);
  }
  return out;
}

export function visibleTemplates(idx: FederationIndex, v: Viewer): McpListEntry[] {
  return idx.templates
    .filter((t) => !t.provider.internal && resourceAllowed(v, t.provider.name, t.template['uriTemplate'] as string))
    .map((t) => t.template);
}

/** The provider that serves `uri`: a listed resource, else the first matching template, else the only resource provider. */
export function providerOfUri(idx: FederationIndex, uri: string): FederatedProvider | undefined {
  const listed = idx.resources.get(uri);
  if (listed) return listed.provider;
  for (const t of idx.templates) if (t.pattern.test(uri)) return t.provider;
  const withResources = idx.providers.filter((p) => p.fed.capabilities.resources);
  return withResources.length === 1 ? withResources[0] : undefined;
}

/** Turns a hand-written `[[tools]]` entry into a ToolDefinition. */
import type { ProviderManifest, ToolDefinition, ToolManifest } from '../plugin/contract.js';

/**
 * Default scope is `tool:<name>`. Unlike the reference, tools of `internal`
 * providers get one too (docs/reference-compat.md#scopes-and-expiry): an
 * internal tool is hidden, not public.
 * An explicit `scope = ""` still means "anyone may call it".
 */
export function defaultScope(toolName: string, explicit: string | undefined): string {
  return explicit ?? `tool:${toolName}`;
}

export function toolFromManifest(m: ProviderManifest, t: ToolManifest, data?: unknown): ToolDefinition {
  const p = m.provider;
  const def: ToolDefinition = {
    name: t.name,
    description: t.description,
    provider: p.name,
    handler: p.handler,
    method: t.method,
    endpoint: t.endpoint,
    scope: defaultScope(t.name, t.scope),
    inputSchema: t.input_schema ?? null,
    tags: t.tags,
    hint: t.hint ?? null,
    examples: t.examples,
    category: p.category ?? null,
    internal: p.internal,
    skills: p.skills,
  };
  if (t.response?.extract !== undefined) def.responseExtract = t.response.extract;
  if (t.response?.format !== undefined) def.responseFormat = t.response.format;
  if (data !== undefined) def.data = data;
  return def;
}

/**
 * What a caller sees through `/mcp` (tools, prompts, resources), and a
 * fingerprint of it per generation, so a reload can tell each session whether
 * its lists changed (`notifications/*\/list_changed`). Fingerprints are
 * memoised per generation and set of scopes: a reload costs one computation per
 * distinct grant, not one per session.
 */
import { sha256 } from '../../kernel/hash.js';
import type { Generation } from '../generation/generation.js';
import type { ToolDefinition } from '../plugin/contract.js';
import { toolAllowed } from '../pipeline/scopes.js';
import { federationOf, visiblePrompts, visibleResources, visibleTemplates, type Viewer } from './mcp-federation.js';

/**
 * An MCP `inputSchema` must be an object schema: a tool without a schema gets the
 * empty object schema; `x-ati-*` keys are kept (as the reference does).
 */
export function mcpInputSchema(schema: Record<string, unknown> | null): Record<string, unknown> {
  if (!schema) return { type: 'object', properties: {} };
  if (schema['type'] === 'object') return schema;
  if (schema['type'] === undefined) return { ...schema, type: 'object' };
  return { type: 'object', properties: {} };
}

/** The caller as scopes see it: no caller with auth configured means no scopes at all. */
export function toolVisible(v: Viewer, tool: ToolDefinition): boolean {
  if (v.authConfigured && !v.caller) return tool.scope === null || tool.scope === '';
  return toolAllowed(v.caller, tool);
}

export function visibleTools(gen: Generation, v: Viewer): ToolDefinition[] {
  return gen.publicTools().filter((t) => toolVisible(v, t));
}

/** A tool as `tools/list` shows it: every MCP field of an upstream tool passed through. */
export function toolEntry(t: ToolDefinition): Record<string, unknown> {
  const m = t.mcp;
  const entry: Record<string, unknown> = { name: t.name };
  if (m?.title !== undefined) entry['title'] = m.title;
  entry['description'] = t.description;
  entry['inputSchema'] = mcpInputSchema(t.inputSchema);
  if (m) {
    if (m.outputSchema !== undefined) entry['outputSchema'] = m.outputSchema;
    if (m.annotations !== undefined) entry['annotations'] = m.annotations;
    if (m.execution !== undefined) entry['execution'] = m.execution;
    if (m.icons !== undefined) entry['icons'] = m.icons;
    if (m._meta !== undefined) entry['_meta'] = m._meta;
  }
  return entry;
}

export interface ViewFingerprints {
  tools: string;
  prompts: string;
  resources: string;
}

const memo = new WeakMap<Generation, Map<string, ViewFingerprints>>();

function viewerKey(v: Viewer): string {
  const c = v.caller;
  if (!c) return v.authConfigured ? 'anonymous' : 'dev';
  return `${c.unrestricted ? '*' : ''}|${c.validUntil !== undefined && Date.now() / 1000 > c.validUntil ? 'expired' : ''}|${[...c.scopes].sort().join(' ')}`;
}

export function viewFingerprints(gen: Generation, v: Viewer): ViewFingerprints {
  let byViewer = memo.get(gen);
  if (!byViewer) {
    byViewer = new Map();
    memo.set(gen, byViewer);
  }
  const key = viewerKey(v);
  let fp = byViewer.get(key);
  if (!fp) {
    const idx = federationOf(gen);
    fp = {
      tools: sha256(JSON.stringify(visibleTools(gen, v).map(toolEntry))),
      prompts: sha256(JSON.stringify(visiblePrompts(idx, v))),
      resources: sha256(JSON.stringify([visibleResources(idx, v), visibleTemplates(idx, v)])),
    };
    byViewer.set(key, fp);
  }
  return fp;
}

/**
 * Resources, resource templates, prompts, completions and logging of an MCP
 * server, for `/mcp` to federate: listed once when the generation is built
 * (next to the tools), and requests relayed over the provider's one session.
 * A list that fails leaves that list empty with a warning; the tools still load.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { toAtiError } from '../../sdk/plugin.js';
import type { Logger, McpFederation, McpListEntry, McpPromptEntry, SecretMatcher } from '../../sdk/plugin.js';
import { listAll, promptEntries, type ListMethod } from './discovery.js';
import type { McpFields } from './schema.js';
import type { McpSession } from './session.js';

/** What discovery found, kept by the provider to compare on a reload and to serve `/mcp`. */
export interface Discovered {
  tools: readonly Tool[];
  capabilities: McpFederation['capabilities'];
  resources: McpListEntry[];
  resourceTemplates: McpListEntry[];
  prompts: McpPromptEntry[];
}

/** Whether two tool lists of the server are the same (names, schemas and every other field, in order). */
export function sameTools(a: readonly Tool[], b: readonly Tool[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export async function discoverFederation(
  session: McpSession,
  tools: readonly Tool[],
  f: McpFields,
  log: Logger,
  signal?: AbortSignal,
): Promise<Discovered> {
  const caps = session.serverCapabilities ?? {};
  const capabilities: McpFederation['capabilities'] = {};
  if (caps.resources) capabilities.resources = { subscribe: caps.resources.subscribe === true };
  if (caps.prompts) capabilities.prompts = {};
  if (caps.completions) capabilities.completions = {};
  if (caps.logging) capabilities.logging = {};
  const deadline = Date.now() + f.discoveryTimeoutMs;
  const list = async (method: ListMethod): Promise<McpListEntry[]> => {
    try {
      return await listAll(session, method, deadline, log, signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      log.warn({ method, error: toAtiError(err).message }, 'MCP list failed; that list stays empty until a reload');
      return [];
    }
  };
  const [resources, resourceTemplates, prompts] = await Promise.all([
    caps.resources ? list('resources/list') : [],
    caps.resources ? list('resources/templates/list') : [],
    caps.prompts ? list('prompts/list') : [],
  ]);
  return {
    tools,
    capabilities,
    resources,
    resourceTemplates,
    prompts: promptEntries(prompts, f.toolPrefix, log),
  };
}

export function createFederation(session: McpSession, found: Discovered, redactor: SecretMatcher): McpFederation {
  const listeners = new Map<string, Set<(params: Record<string, unknown>) => void>>();
  session.onResourceUpdated((params) => {
    const uri = params['uri'];
    if (typeof uri !== 'string') return;
    for (const l of listeners.get(uri) ?? []) l(params);
  });
  return {
    capabilities: found.capabilities,
    resources: found.resources,
    resourceTemplates: found.resourceTemplates,
    prompts: found.prompts,
    async request(method, params, ctx) {
      const result = await session.request(method, params, {
        signal: ctx.signal,
        ...(ctx.mcp ? { channel: ctx.mcp } : {}),
      });
      return redactor.redactValue(result);
    },
    async subscribe(uri, onUpdated) {
      let set = listeners.get(uri);
      if (!set) {
        set = new Set();
        listeners.set(uri, set);
        try {
          await session.request('resources/subscribe', { uri });
        } catch (err) {
          listeners.delete(uri);
          throw err;
        }
      }
      set.add(onUpdated);
      return async () => {
        const s = listeners.get(uri);
        if (!s?.delete(onUpdated) || s.size > 0) return;
        listeners.delete(uri);
        await session.request('resources/unsubscribe', { uri }).catch(() => undefined);
      };
    },
  };
}

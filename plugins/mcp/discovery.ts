/**
 * Discovery: connect, check the `tools` capability, page through `tools/list`
 * (at most 100 pages and 10,000 entries), all within one deadline, and turn
 * every MCP tool into a ToolDefinition named `<tool_prefix><tool>` (default
 * prefix `<provider>:`) with scope `tool:<that name>`. The same pager lists the
 * server's resources, resource templates and prompts when it offers them.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { AtiError } from '../../sdk/plugin.js';
import type { Logger, McpListEntry, McpPromptEntry, McpToolFields } from '../../sdk/plugin.js';
import type { ProviderManifest, ToolDefinition } from '../../sdk/plugin.js';
import type { McpSession } from './session.js';

export const MAX_PAGES = 100;
export const MAX_TOOLS = 10_000;

/** What a discovered or hand-written MCP tool keeps for the call. */
export interface McpToolData {
  /** The tool's name on the MCP server (without the prefix). */
  mcpName: string;
}

/** The list methods discovery pages through, and the result key of each. */
export const LIST_METHODS = {
  'tools/list': 'tools',
  'resources/list': 'resources',
  'resources/templates/list': 'resourceTemplates',
  'prompts/list': 'prompts',
} as const;
export type ListMethod = keyof typeof LIST_METHODS;

/** Pages through one list method within `deadline` (epoch ms). */
export async function listAll(
  session: McpSession,
  method: ListMethod,
  deadline: number,
  logger: Logger,
  signal?: AbortSignal,
): Promise<McpListEntry[]> {
  const key = LIST_METHODS[method];
  const out: McpListEntry[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const timeoutMs = Math.max(1, deadline - Date.now());
    const result = await session.request(method, cursor === undefined ? {} : { cursor }, {
      timeoutMs,
      ...(signal ? { signal } : {}),
    });
    const items = result[key];
    if (!Array.isArray(items)) throw new AtiError('ATI_ERR_UPSTREAM', `MCP ${method} answer has no "${key}" array`);
    out.push(...(items as McpListEntry[]));
    if (out.length > MAX_TOOLS) {
      logger.warn({ method, limit: MAX_TOOLS }, 'MCP server lists more entries than the limit; the rest are ignored');
      return out.slice(0, MAX_TOOLS);
    }
    const next = result['nextCursor'];
    cursor = typeof next === 'string' && next !== '' ? next : undefined;
    if (cursor === undefined) return out;
  }
  logger.warn({ method, pages: MAX_PAGES }, 'MCP list pagination stopped at the page limit');
  return out;
}

/** Lists every tool of the server within `timeoutMs` (connect included). */
export async function listAllTools(
  session: McpSession,
  timeoutMs: number,
  logger: Logger,
  signal?: AbortSignal,
): Promise<Tool[]> {
  const deadline = Date.now() + timeoutMs;
  await session.connect(timeoutMs, signal);
  if (!session.serverCapabilities?.tools) {
    throw new AtiError('ATI_ERR_UPSTREAM', 'MCP server did not return tools capability');
  }
  return (await listAll(session, 'tools/list', deadline, logger, signal)) as unknown as Tool[];
}

/** The fields of a tool `/mcp tools/list` passes through besides name, description and inputSchema. */
function toolFields(t: Tool): McpToolFields | undefined {
  const f: McpToolFields = {};
  if (typeof t.title === 'string') f.title = t.title;
  if (t.annotations) f.annotations = t.annotations as Record<string, unknown>;
  if (t.outputSchema) f.outputSchema = t.outputSchema as Record<string, unknown>;
  if (t.execution) f.execution = t.execution as Record<string, unknown>;
  if (Array.isArray(t.icons)) f.icons = t.icons;
  if (t._meta) f._meta = t._meta;
  return Object.keys(f).length > 0 ? f : undefined;
}

/** A tool the proxy cannot call: it must be called with task augmentation, which is not relayed. */
export function needsTask(t: Tool): boolean {
  return (t.execution as { taskSupport?: string } | undefined)?.taskSupport === 'required';
}

/**
 * The tool definitions of discovered tools; names already taken (hand-written tools,
 * repeats) are skipped with a warning, and so are tools that require task augmentation.
 */
export function discoveredToolDefinitions(
  m: ProviderManifest,
  tools: readonly Tool[],
  taken: ReadonlySet<string>,
  logger: Logger,
  prefix = `${m.provider.name}:`,
): ToolDefinition[] {
  const p = m.provider;
  const seen = new Set(taken);
  const out: ToolDefinition[] = [];
  for (const t of tools) {
    const name = `${prefix}${t.name}`;
    if (needsTask(t)) {
      logger.info(
        { tool: name },
        'MCP tool requires task augmentation (execution.taskSupport = "required"), which the proxy does not relay; not exposed',
      );
      continue;
    }
    if (seen.has(name)) {
      logger.warn(
        { tool: name },
        'MCP server lists a tool whose name is already taken (hand-written [[tools]] or a repeat); skipped',
      );
      continue;
    }
    seen.add(name);
    const data: McpToolData = { mcpName: t.name };
    const fields = toolFields(t);
    out.push({
      name,
      description: t.description ?? '',
      provider: p.name,
      handler: p.handler,
      method: 'POST',
      endpoint: '',
      // Set for internal providers too, so their tools are callable with the scope.
      scope: `tool:${name}`,
      inputSchema: (t.inputSchema as Record<string, unknown> | undefined) ?? null,
      tags: [],
      hint: null,
      examples: [],
      category: p.category ?? null,
      internal: p.internal,
      skills: p.skills,
      data,
      ...(fields ? { mcp: fields } : {}),
    });
  }
  return out;
}

/** Prompts under their exposed names (`<prefix><name>`); repeats are skipped with a warning. */
export function promptEntries(prompts: readonly McpListEntry[], prefix: string, logger: Logger): McpPromptEntry[] {
  const seen = new Set<string>();
  const out: McpPromptEntry[] = [];
  for (const p of prompts) {
    if (typeof p['name'] !== 'string') continue;
    const name = `${prefix}${p['name']}`;
    if (seen.has(name)) {
      logger.warn({ prompt: name }, 'MCP server lists a prompt name twice; the repeat is skipped');
      continue;
    }
    seen.add(name);
    const { name: upstreamName, ...fields } = p as { name: string } & McpListEntry;
    out.push({ name, upstreamName, fields });
  }
  return out;
}

/** The MCP name of a hand-written tool: its name without the prefix (the name unchanged when it lacks the prefix). */
export function upstreamName(toolName: string, prefix: string): string {
  return prefix !== '' && toolName.startsWith(prefix) ? toolName.slice(prefix.length) : toolName;
}

/**
 * Tool discovery: connect, check the `tools` capability, page
 * through `tools/list` (at most 100 pages and 10,000 tools), all within one
 * deadline, and turn every MCP tool into a ToolDefinition named
 * `<provider>:<tool>` with scope `tool:<provider>:<tool>` (the reference's naming).
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { AtiError } from '../../sdk/plugin.js';
import type { Logger } from '../../sdk/plugin.js';
import type { ProviderManifest, ToolDefinition } from '../../sdk/plugin.js';
import type { McpSession } from './session.js';

export const MAX_PAGES = 100;
export const MAX_TOOLS = 10_000;

/** What a discovered or hand-written MCP tool keeps for the call. */
export interface McpToolData {
  /** The tool's name on the MCP server (without the `<provider>:` prefix). */
  mcpName: string;
}

/** Lists every tool of the server within `timeoutMs` (connect included). */
export async function listAllTools(
  session: McpSession,
  timeoutMs: number,
  logger: Logger,
  signal?: AbortSignal,
): Promise<Tool[]> {
  const deadline = Date.now() + timeoutMs;
  const remaining = () => Math.max(1, deadline - Date.now());
  await session.connect(timeoutMs, signal);
  if (!session.serverCapabilities?.tools) {
    throw new AtiError('ATI_ERR_UPSTREAM', 'MCP server did not return tools capability');
  }
  const tools: Tool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const opts = signal ? { timeoutMs: remaining(), signal } : { timeoutMs: remaining() };
    const result = await session.listTools(cursor, opts);
    tools.push(...result.tools);
    if (tools.length > MAX_TOOLS) {
      logger.warn({ limit: MAX_TOOLS }, 'MCP server lists more tools than the limit; the rest are ignored');
      return tools.slice(0, MAX_TOOLS);
    }
    cursor = typeof result.nextCursor === 'string' && result.nextCursor !== '' ? result.nextCursor : undefined;
    if (cursor === undefined) return tools;
  }
  logger.warn({ pages: MAX_PAGES }, 'MCP tools/list pagination stopped at the page limit');
  return tools;
}

/** The tool definitions of discovered tools; names already taken (hand-written tools, repeats) are skipped with a warning. */
export function discoveredToolDefinitions(
  m: ProviderManifest,
  tools: readonly Tool[],
  taken: ReadonlySet<string>,
  logger: Logger,
): ToolDefinition[] {
  const p = m.provider;
  const seen = new Set(taken);
  const out: ToolDefinition[] = [];
  for (const t of tools) {
    const name = `${p.name}:${t.name}`;
    if (seen.has(name)) {
      logger.warn(
        { tool: name },
        'MCP server lists a tool whose name is already taken (hand-written [[tools]] or a repeat); skipped',
      );
      continue;
    }
    seen.add(name);
    const data: McpToolData = { mcpName: t.name };
    out.push({
      name,
      description: t.description ?? '',
      provider: p.name,
      handler: p.handler,
      method: 'POST',
      endpoint: '',
      // Set for internal providers too (docs/reference-compat.md#scopes-and-expiry).
      scope: `tool:${name}`,
      inputSchema: (t.inputSchema as Record<string, unknown> | undefined) ?? null,
      tags: [],
      hint: null,
      examples: [],
      category: p.category ?? null,
      internal: p.internal,
      skills: p.skills,
      data,
    });
  }
  return out;
}

/** The MCP name of a hand-written tool: its name without the `<provider>:` prefix (as in the reference). */
export function upstreamName(toolName: string, provider: string): string {
  const prefix = `${provider}:`;
  return toolName.startsWith(prefix) ? toolName.slice(prefix.length) : toolName;
}

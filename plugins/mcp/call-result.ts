/**
 * Turns an MCP `tools/call` result into what `/call` returns (the reference's shape),
 * except that `isError: true` is an error here whatever the number of content
 * items (the reference dropped it for a single item): `/call` answers 502 with
 * the text, and `/mcp` forwards the content with `isError: true`.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ToolContentError, type McpToolContent, type SecretMatcher, type ToolResult } from '../../sdk/plugin.js';

/** Longest error text taken from the content of an error result. */
const MAX_ERROR_TEXT = 4_000;

type Block = { type: string; text?: string; data?: string; mimeType?: string; [field: string]: unknown };

/**
 * A block as an object: the reference's four fields (`type`, `text`, `data`,
 * `mimeType`, null when absent) plus every other field the block has, so an
 * embedded `resource`, a `resource_link`'s `uri`/`name` or `annotations` survive.
 */
function blockObject(b: Block): Record<string, unknown> {
  return { ...b, type: b.type, text: b.text ?? null, data: b.data ?? null, mimeType: b.mimeType ?? null };
}

/** One content block as the reference renders it when it is the only one. */
function blockValue(b: Block): unknown {
  switch (b.type) {
    case 'text':
      if (b.text === undefined) return null;
      try {
        return JSON.parse(b.text);
      } catch {
        return b.text;
      }
    case 'image':
    case 'audio':
      return { type: b.type, data: b.data ?? null, mimeType: b.mimeType ?? null };
    default:
      return blockObject(b);
  }
}

/** The text of an error result: its text blocks joined, cut to a bounded length. */
export function errorText(content: readonly Block[]): string {
  const parts = content.filter((b) => b.type === 'text' && typeof b.text === 'string').map((b) => b.text!);
  const text = parts.join('\n').trim();
  if (text === '') return '(the tool returned no text)';
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text;
}

/** `redactor` removes the provider's secrets from every string, key and number of the content. */
export function toToolResult(toolName: string, result: CallToolResult, redactor: SecretMatcher): ToolResult {
  const content = redactor.redactValue((result.content ?? []) as Block[]);
  const mcp: McpToolContent = { content };
  if (result.structuredContent !== undefined) mcp.structuredContent = redactor.redactValue(result.structuredContent);
  if (typeof result.isError === 'boolean') mcp.isError = result.isError;
  if (result._meta !== undefined) mcp._meta = redactor.redactValue(result._meta);
  if (result.isError === true) {
    throw new ToolContentError(`MCP tool '${toolName}' returned an error: ${errorText(content)}`, mcp);
  }
  const value = content.length === 1 ? blockValue(content[0]!) : { content: content.map(blockObject), isError: false };
  return { value, mcp };
}

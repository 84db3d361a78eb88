/**
 * The system prompt of `POST /help`: the tools the caller
 * may use, as markdown bullets (name, provider, category, description, tags,
 * parameters), focused on one tool or one provider when asked. The wording is
 * ours; only the structure follows the reference.
 */
import type { ToolDefinition } from '../plugin/contract.js';

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parameter bullets; properties with a location and no description are skipped (noise from specs). */
function parameterLines(t: ToolDefinition, markRequired: boolean): string[] {
  const schema = t.inputSchema;
  const props = isRecord(schema?.['properties']) ? (schema['properties'] as Json) : {};
  const required = new Set(Array.isArray(schema?.['required']) ? (schema['required'] as string[]) : []);
  const out: string[] = [];
  for (const [name, raw] of Object.entries(props)) {
    const p = isRecord(raw) ? raw : {};
    const desc = typeof p['description'] === 'string' ? p['description'] : '';
    if (p['x-ati-param-location'] !== undefined && !desc) continue;
    const type =
      typeof p['type'] === 'string' ? p['type'] : Array.isArray(p['type']) ? (p['type'] as string[]).join('|') : 'any';
    const req = markRequired && required.has(name) ? ', required' : '';
    out.push(`    - \`${name}\` (${type}${req})${desc ? `: ${desc}` : ''}`);
  }
  return out;
}

/** One tool as a markdown bullet. */
export function toolBullet(t: ToolDefinition, detailed = false): string {
  const meta = [`provider: ${t.provider}`, ...(t.category ? [`category: ${t.category}`] : [])].join(', ');
  const lines = [`- **${t.name}** (${meta}): ${t.description}`];
  if (t.tags.length > 0) lines.push(`  tags: ${t.tags.join(', ')}`);
  if (t.handler === 'cli' && !t.inputSchema) {
    lines.push(`  usage: call with {"tool_name": "${t.name}", "args": ["<arg>", "..."]}`);
  } else {
    const params = parameterLines(t, detailed);
    if (params.length > 0) lines.push('  parameters:', ...params);
  }
  if (detailed && t.hint) lines.push(`  hint: ${t.hint}`);
  if (detailed && t.examples.length > 0) lines.push('  examples:', ...t.examples.map((e) => `    - ${e}`));
  return lines.join('\n');
}

export type HelpFocus =
  { kind: 'tool'; tool: ToolDefinition } | { kind: 'provider'; provider: string; tools: ToolDefinition[] };

const PREAMBLE = `You are the help assistant of an ATI proxy. An AI agent running in a sandbox asks you how to get something done with the tools it is allowed to call. Tools are called with POST /call and a JSON body {"tool_name": "<name>", "args": {...}}. Answer briefly: which tool or tools to use, in what order, and example arguments as JSON. Only recommend tools listed below; if none fits, say so.`;

/** Builds the system prompt from the visible tools, an optional focus and the skills section. */
export function buildHelpPrompt(
  visible: readonly ToolDefinition[],
  focus: HelpFocus | undefined,
  skills: string | undefined,
): string {
  const sections = [PREAMBLE];
  if (focus?.kind === 'tool') {
    sections.push(`## The tool the agent asks about\n\n${toolBullet(focus.tool, true)}`);
  } else if (focus?.kind === 'provider') {
    sections.push(
      `## Tools of provider "${focus.provider}"\n\n${focus.tools.map((t) => toolBullet(t, true)).join('\n')}`,
    );
  } else {
    sections.push(
      `## Available tools\n\n${visible.length > 0 ? visible.map((t) => toolBullet(t)).join('\n') : '(none: the caller may not use any tool)'}`,
    );
  }
  if (skills && skills.trim()) sections.push(`## Available Skills (methodology guides)\n\n${skills.trim()}`);
  return sections.join('\n\n');
}

/** Shared bits of the MCP plugin tests: fixture paths, a direct tool call, process checks. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Host } from '../../../core/host/host.js';
import { silentLogger } from '../../../kernel/logger.js';
import type { CallContext, ToolResult } from '../../../core/plugin/contract.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'mcp');
export const STDIO_SERVER = path.join(FIXTURES, 'stdio-server.mjs');
/** The conformance suite's reference server, ported (`stdio` or `http` as its first argument). */
export const CONFORMANCE_SERVER = path.join(FIXTURES, 'conformance-server.mjs');

/** A `[provider]` table for the stdio fixture; `args` are extra fixture flags. */
export function stdioManifest(
  name: string,
  opts: { args?: string[]; extra?: string; env?: Record<string, string> } = {},
): string {
  const args = [STDIO_SERVER, ...(opts.args ?? [])].map((a) => JSON.stringify(a)).join(', ');
  let toml = `[provider]\nname = "${name}"\ndescription = "test stdio MCP server"\nhandler = "mcp"\nmcp_transport = "stdio"\nmcp_command = ${JSON.stringify(process.execPath)}\nmcp_args = [${args}]\n${opts.extra ?? ''}\n`;
  if (opts.env) {
    toml += '\n[provider.mcp_env]\n';
    for (const [k, v] of Object.entries(opts.env)) toml += `${k} = ${JSON.stringify(v)}\n`;
  }
  return toml;
}

/** Calls a tool of the serving generation directly through its provider (what /call does after its checks). */
export async function callTool(
  host: Host,
  name: string,
  args: unknown = {},
  signal?: AbortSignal,
): Promise<ToolResult> {
  const gen = host.current;
  const tool = gen.tools.get(name);
  if (!tool) throw new Error(`no tool ${name}; have ${[...gen.tools.keys()].join(', ')}`);
  const provider = gen.providers.get(tool.provider)!;
  const ctx: CallContext = {
    requestId: 'test',
    caller: { sub: 'dev', scopes: ['*'], unrestricted: true },
    signal: signal ?? new AbortController().signal,
    logger: silentLogger(),
    keyring: gen.keyring.accessor(),
    requestedName: name,
    endpoint: 'call',
  };
  return provider.provisioned.call!(tool, args, ctx);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits until `pid` is gone from the process table. Another process's death has no
 * event we can subscribe to, so this polls /proc briefly (bounded).
 */
export async function waitForExit(pid: number, timeoutMs = 8_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > end) throw new Error(`process ${pid} still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The stdio transport: the SDK's StdioClientTransport, configured so the child
 * gets exactly the reference's environment (PATH, HOME, the expanded
 * `mcp_env`) and its stderr is piped into the log.
 */
import { DEFAULT_INHERITED_ENV_VARS, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { StderrLog } from './stderr-log.js';
import type { StdioTarget } from './target.js';

/**
 * The SDK merges a few "safe" variables of our own environment (LOGNAME, SHELL,
 * TERM, USER …) into the child's. Setting them to `undefined` removes them again:
 * Node's spawn skips undefined values, which gives the clean environment we want
 * without re-implementing the transport.
 */
export function cleanChildEnv(env: Record<string, string>): Record<string, string> {
  const cleared: Record<string, string | undefined> = {};
  for (const name of DEFAULT_INHERITED_ENV_VARS) cleared[name] = undefined;
  return { ...cleared, ...env } as Record<string, string>;
}

export function createStdioTransport(target: StdioTarget, stderr: StderrLog): StdioClientTransport {
  const transport = new StdioClientTransport({
    command: target.command,
    args: target.args,
    env: cleanChildEnv(target.env),
    stderr: 'pipe',
  });
  // Available before start(): nothing the child writes early is lost.
  const stream = transport.stderr!;
  stream.on('data', (chunk: Buffer) => stderr.write(chunk));
  stream.on('end', () => stderr.end());
  return transport;
}

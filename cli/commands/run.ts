/** `ati run <tool> [--name value]…`: call a tool through a running proxy (ATI_PROXY_URL). */
import type { Command } from 'commander';
import { argsFromFlags, clientConfigFromEnv, proxyRequest } from '../../client/proxy-client.js';
import type { GlobalOptions } from '../main.js';
import { reportFatal } from '../output.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('run')
    .description('Call a tool through the proxy at ATI_PROXY_URL (token: ATI_SESSION_TOKEN or ATI_SESSION_TOKEN_FILE)')
    .argument('<tool>', 'tool name, e.g. github:search_repositories')
    .argument('[args...]', 'tool arguments as --name value pairs')
    .allowUnknownOption(true)
    .helpOption('-h, --help')
    .action(async (tool: string, rest: string[]) => {
      const g = globals();
      try {
        const cfg = clientConfigFromEnv(process.env);
        const res = await proxyRequest(cfg, 'POST', '/call', { tool_name: tool, args: argsFromFlags(rest) });
        const body = res.body as { result?: unknown; error?: string } | string | null;
        if (res.status >= 400 || (typeof body === 'object' && body !== null && body.error)) {
          const msg = typeof body === 'object' && body !== null ? (body.error ?? JSON.stringify(body)) : String(body);
          process.stderr.write(
            g.output === 'json'
              ? `${JSON.stringify({ error: { status: res.status, message: msg } })}\n`
              : `error (${res.status}): ${msg}\n`,
          );
          process.exit(1);
        }
        const result = typeof body === 'object' && body !== null ? body.result : body;
        process.stdout.write(
          typeof result === 'string' && g.output === 'text' ? `${result}\n` : `${JSON.stringify(result, null, 2)}\n`,
        );
      } catch (err) {
        process.exit(reportFatal(err, g.output));
      }
    });
}

/** `ati tool list|info`: browse the tools a running proxy offers to this token. */
import type { Command } from 'commander';
import { clientConfigFromEnv, proxyRequest } from '../../client/proxy-client.js';
import type { GlobalOptions } from '../main.js';
import { reportFatal } from '../output.js';

async function show(g: GlobalOptions, path: string, text: (body: unknown) => string): Promise<void> {
  try {
    const res = await proxyRequest(clientConfigFromEnv(process.env), 'GET', path);
    if (res.status >= 400) {
      const msg =
        typeof res.body === 'object' && res.body !== null
          ? ((res.body as { error?: string }).error ?? JSON.stringify(res.body))
          : String(res.body);
      process.stderr.write(`error (${res.status}): ${msg}\n`);
      process.exit(1);
    }
    process.stdout.write(g.output === 'text' ? `${text(res.body)}\n` : `${JSON.stringify(res.body, null, 2)}\n`);
  } catch (err) {
    process.exit(reportFatal(err, g.output));
  }
}

export function register(program: Command, globals: () => GlobalOptions): void {
  const tool = program.command('tool').description('List and inspect the tools of the proxy at ATI_PROXY_URL');
  tool
    .command('list')
    .description('List the tools visible to your token')
    .option('--provider <name>', 'only this provider')
    .option('--search <text>', 'match name, description or tags')
    .action(async (o: { provider?: string; search?: string }) => {
      const q = new URLSearchParams();
      if (o.provider) q.set('provider', o.provider);
      if (o.search) q.set('search', o.search);
      await show(globals(), `/tools${q.size ? `?${q}` : ''}`, (b) =>
        (b as Array<{ name: string; description: string }>).map((t) => `${t.name}\t${t.description}`).join('\n'),
      );
    });
  tool
    .command('info')
    .description('Show one tool (schema, scope, hint)')
    .argument('<name>')
    .action(async (name: string) => {
      await show(globals(), `/tools/${encodeURIComponent(name)}`, (b) => JSON.stringify(b, null, 2));
    });
}

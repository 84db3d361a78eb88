/** In-process hosts for tests: the real Host on an ephemeral loopback port. */
import type { AddressInfo } from 'node:net';
import { Host, type HostInit } from '../../core/host/host.js';
import { silentLogger } from '../../kernel/logger.js';
import { PluginRegistry, type HandlerPlugin } from '../../core/plugin/contract.js';
import { ROUTE_MODULES } from '../../core/routes/index.js';
import { loadKeyring } from '../../config/keyring-loader.js';

export interface TestHost {
  host: Host;
  url: string;
  close(): Promise<void>;
}

export async function startHost(
  atiDir: string,
  plugins: HandlerPlugin[],
  overrides: Partial<HostInit> = {},
): Promise<TestHost> {
  const registry = new PluginRegistry();
  for (const p of plugins) registry.register(p);
  const host = new Host({
    options: { atiDir, enablePassthrough: true, checkOnly: false },
    registry,
    logger: silentLogger(),
    loadKeyring: () => loadKeyring({ atiDir, envKeys: false, env: {} }),
    routes: ROUTE_MODULES,
    drainMs: 5_000,
    ...overrides,
  });
  await host.start();
  const addr: AddressInfo = await host.listen(0, '127.0.0.1');
  return { host, url: `http://127.0.0.1:${addr.port}`, close: () => host.shutdown('test') };
}

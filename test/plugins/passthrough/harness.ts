/** In-process proxy with the passthrough plugin, a temp ATI dir and a memory log. */
import { Writable } from 'node:stream';
import pino from 'pino';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startHost, type TestHost } from '../../helpers/host.js';
import { passthroughPlugin } from '../../../plugins/passthrough/index.js';
import type { HostInit } from '../../../core/host/host.js';

export interface Harness {
  dir: TempAtiDir;
  th: TestHost;
  url: string;
  port: number;
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** A `[provider]` block for a passthrough manifest. */
export function ptManifest(name: string, baseUrl: string, extra = ''): string {
  return `[provider]\nname = "${name}"\ndescription = "${name} route"\nhandler = "passthrough"\nbase_url = "${baseUrl}"\n${extra}\n`;
}

export async function startPassthrough(
  manifests: Record<string, string>,
  opts: { credentials?: Record<string, string>; host?: Partial<HostInit>; enablePassthrough?: boolean } = {},
): Promise<Harness> {
  const files: Record<string, string> = {};
  for (const [n, t] of Object.entries(manifests)) files[`manifests/${n}.toml`] = t;
  if (opts.credentials) files['credentials'] = JSON.stringify(opts.credentials);
  const dir = await makeAtiDir(files);
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: 'debug', messageKey: 'message', base: undefined }, sink);
  let th: TestHost;
  try {
    th = await startHost(dir.dir, [passthroughPlugin], {
      logger,
      options: { atiDir: dir.dir, enablePassthrough: opts.enablePassthrough ?? true, checkOnly: false },
      ...opts.host,
    });
  } catch (err) {
    await dir.cleanup();
    throw err;
  }
  const port = Number(new URL(th.url).port);
  return {
    dir,
    th,
    url: th.url,
    port,
    logs,
    close: async () => {
      await th.close();
      await dir.cleanup();
    },
  };
}

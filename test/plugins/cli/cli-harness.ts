/**
 * Test harness for the cli plugin: parses a manifest with the real loader,
 * provisions it with a real Keyring, and builds CallContexts whose logger
 * keeps every line (so tests can scan logs for secrets).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseManifests } from '../../../config/manifest-loader.js';
import { sha256 } from '../../../kernel/hash.js';
import { Keyring } from '../../../config/keyring.js';
import { createLogger, type Logger } from '../../../kernel/logger.js';
import {
  PluginRegistry,
  type CallContext,
  type ProviderManifest,
  type Provisioned,
} from '../../../core/plugin/contract.js';
import { cliPlugin } from '../../../plugins/cli/index.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'cli');
export const fixture = (name: string) => path.join(FIXTURES, name);

/** A TOML string literal. */
export const q = (s: string) => JSON.stringify(s);

export interface MemoryLog {
  logger: Logger;
  lines: string[];
}

export function memoryLogger(): MemoryLog {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } });
  return { logger, lines };
}

export function registry(): PluginRegistry {
  const r = new PluginRegistry();
  r.register(cliPlugin);
  return r;
}

/** Parses one manifest; throws with every located error when it is invalid. */
export function loadManifest(toml: string, file = '/m/cli.toml'): ProviderManifest {
  const r = parseManifests([{ file, text: toml, hash: sha256(toml) }], registry());
  if (r.errors.length > 0) throw new Error(r.errors.map((e) => e.describe()).join('\n'));
  return r.manifests[0]!;
}

export interface Harness {
  manifest: ProviderManifest;
  provisioned: Provisioned;
  keyring: Keyring;
  log: MemoryLog;
  /** Calls the provider's first tool (or the named one). */
  call(
    args: unknown,
    opts?: { signal?: AbortSignal; tool?: string; endpoint?: CallContext['endpoint'] },
  ): ReturnType<NonNullable<Provisioned['call']>>;
}

export async function provisionCli(
  toml: string,
  opts: { keys?: Record<string, string>; checkOnly?: boolean; atiDir?: string } = {},
): Promise<Harness> {
  const manifest = loadManifest(toml);
  const keyring = new Keyring(Object.entries(opts.keys ?? {}), 'test keyring');
  const log = memoryLogger();
  const provisioned = await cliPlugin.provision(manifest, {
    options: {
      atiDir: opts.atiDir ?? '/nonexistent-ati-dir',
      enablePassthrough: false,
      checkOnly: opts.checkOnly ?? false,
    },
    atiDir: opts.atiDir ?? '/nonexistent-ati-dir',
    specsDir: '/nonexistent-ati-dir/specs',
    keyring: keyring.accessor(),
    logger: log.logger,
    signal: new AbortController().signal,
    generationId: 1,
  });
  return {
    manifest,
    provisioned,
    keyring,
    log,
    call(args, callOpts = {}) {
      const tool = callOpts.tool ? provisioned.tools.find((t) => t.name === callOpts.tool)! : provisioned.tools[0]!;
      return provisioned.call!(tool, args, {
        requestId: 'req-1',
        caller: { sub: 'dev', scopes: ['*'], unrestricted: true },
        signal: callOpts.signal ?? new AbortController().signal,
        logger: log.logger,
        keyring: keyring.accessor(),
        requestedName: tool.name,
        endpoint: callOpts.endpoint ?? 'call',
      });
    },
  };
}

/** A cli manifest running `node <script>` (node from this process, so PATH does not matter). */
export function nodeScriptManifest(script: string, extra = ''): string {
  return `[provider]
name = "scripted"
description = "runs ${script}"
handler = "cli"
cli_command = ${q(process.execPath)}
cli_default_args = [${q(fixture(script))}]
${extra}
`;
}

/** A cli manifest running a shell fixture directly. */
export function shellScriptManifest(script: string, extra = ''): string {
  return `[provider]
name = "scripted"
description = "runs ${script}"
handler = "cli"
cli_command = ${q(fixture(script))}
${extra}
`;
}

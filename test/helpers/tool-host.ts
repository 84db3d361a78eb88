import type { GenerationExtension } from '../../core/generation/extension.js';
/**
 * An in-process host with the built-in http and openapi plugins for tool-call
 * tests: a temp ATI dir (manifests, specs), an in-memory keyring, every log
 * line captured, and an optional test stage that takes the caller identity
 * from an `x-test-caller` header (JSON) so scope rules can be exercised before
 * JWT auth exists.
 */
import type { IncomingMessage } from 'node:http';
import { Keyring } from '../../config/keyring.js';
import { createLogger } from '../../kernel/logger.js';
import type { CallerIdentity, HandlerPlugin } from '../../core/plugin/contract.js';
import type { PipelineStage } from '../../core/pipeline/types.js';
import type { RequestState } from '../../core/host/request-state.js';
import { httpPlugin } from '../../plugins/http/index.js';
import { openapiPlugin } from '../../plugins/openapi/index.js';
import { makeAtiDir, type TempAtiDir } from './ati-dir.js';
import { startHost, type TestHost } from './host.js';

export interface ToolHost extends TestHost {
  dir: TempAtiDir;
  /** Raw JSON log lines. */
  logs: string[];
  /** Parsed log lines with `message === m`. */
  logsOf(message: string): Array<Record<string, unknown>>;
  /** Replaces the keyring the next reload (or call) sees. */
  setKeyring(entries: Record<string, string>): void;
  call(
    name: string,
    args?: unknown,
    opts?: { caller?: Partial<CallerIdentity>; body?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
}

export interface ToolHostOptions {
  manifests: Record<string, string>;
  /** Other files of the ATI dir, e.g. `specs/x.yaml`. */
  files?: Record<string, string>;
  keyring?: Record<string, string>;
  /** Pretend JWT auth is configured (the caller then comes from `x-test-caller`). */
  authConfigured?: boolean;
  plugins?: HandlerPlugin[];
  /** Generation extensions (e.g. the skills registry). */
  extensions?: GenerationExtension[];
}

export const CALLER_HEADER = 'x-test-caller';

/** Sets `state.caller` from the JSON in `x-test-caller` (tests only). */
export const testCallerStage: PipelineStage = {
  name: 'test-caller',
  run(req: IncomingMessage, state: RequestState) {
    const h = req.headers[CALLER_HEADER];
    if (typeof h === 'string')
      state.caller = { sub: 'agent', scopes: [], unrestricted: false, ...(JSON.parse(h) as Partial<CallerIdentity>) };
    return undefined;
  },
};

export async function startToolHost(opts: ToolHostOptions): Promise<ToolHost> {
  const files: Record<string, string> = { ...(opts.files ?? {}) };
  for (const [name, text] of Object.entries(opts.manifests)) files[`manifests/${name}.toml`] = text;
  const dir = await makeAtiDir(files);
  const logs: string[] = [];
  let keyring = new Keyring(Object.entries(opts.keyring ?? {}), 'test');
  let th: TestHost;
  try {
    th = await startHost(dir.dir, opts.plugins ?? [httpPlugin, openapiPlugin], {
      logger: createLogger({ level: 'debug', destination: { write: (s: string) => void logs.push(s) } }),
      loadKeyring: async () => keyring,
      stages: [testCallerStage],
      services: { authMode: () => (opts.authConfigured ? 'jwt' : 'disabled') },
      ...(opts.extensions ? { extensions: opts.extensions } : {}),
    });
  } catch (err) {
    await dir.cleanup();
    throw err;
  }
  return {
    ...th,
    dir,
    logs,
    logsOf: (message) =>
      logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['message'] === message),
    setKeyring: (entries) => {
      keyring = new Keyring(Object.entries(entries), 'test');
    },
    async call(name, args = {}, o = {}) {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...(o.headers ?? {}) };
      if (o.caller) headers[CALLER_HEADER] = JSON.stringify(o.caller);
      const res = await fetch(`${th.url}/call`, {
        method: 'POST',
        headers,
        body: o.body ?? JSON.stringify({ tool_name: name, args }),
      });
      const text = await res.text();
      return { status: res.status, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers };
    },
    close: async () => {
      await th.close();
      await dir.cleanup();
    },
  };
}

/** A minimal http manifest pointing at `baseUrl`. */
export function httpManifest(name: string, baseUrl: string, providerExtra = '', tools = ''): string {
  return `[provider]\nname = "${name}"\ndescription = "${name} test provider"\nbase_url = "${baseUrl}"\n${providerExtra}\n\n${tools}`;
}

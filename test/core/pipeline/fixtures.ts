/**
 * Shared fixtures of the pipeline tests: an in-process host wired with the
 * real request pipeline (buildRequestPipeline from a ProxyConfig), a probe
 * plugin that records every request reaching a handler or passthrough route,
 * and a log collector.
 */
import { Writable } from 'node:stream';
import type { DestinationStream } from 'pino';
import { Type } from '@sinclair/typebox';
import { createLogger, type Logger } from '../../../kernel/logger.js';
import { definePlugin, PLUGIN_API_VERSION, type HandlerPlugin } from '../../../core/plugin/contract.js';
import { buildRequestPipeline } from '../../../core/pipeline/build.js';
import type { KeyStore } from '../../../core/pipeline/key-store.js';
import type { RouteModule } from '../../../core/host/host.js';
import { ROUTE_MODULES } from '../../../core/routes/index.js';
import { toolFromManifest } from '../../../core/tools/tool-definition.js';
import { loadKeyring } from '../../../config/keyring-loader.js';
import { defaultProxyConfig, type ProxyConfig } from '../../../config/proxy-config.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startHost, type TestHost } from '../../helpers/host.js';

export interface LogLine {
  level: string;
  message: string;
  [k: string]: unknown;
}

/** A logger whose JSON lines land in `lines`. */
export function memoryLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination: dest as unknown as DestinationStream }), lines };
}

/** Requests that reached a passthrough route of the probe plugin (path + headers). */
export interface ProbeHit {
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

/** `handler = "probe"`: tools from `[[tools]]`; `route_prefix` adds a passthrough route that records hits. */
export function probePlugin(hits: ProbeHit[]): HandlerPlugin {
  return definePlugin({
    apiVersion: PLUGIN_API_VERSION,
    name: 'probe',
    version: '1.0.0',
    providerSchema: { route_prefix: Type.Optional(Type.String()) },
    async provision(m) {
      const prefix = m.provider['route_prefix'] as string | undefined;
      return {
        tools: m.tools.map((t) => toolFromManifest(m, t)),
        routes: prefix
          ? [
              {
                name: m.provider.name,
                hostMatch: null,
                pathPrefix: prefix,
                forwardWebsockets: false,
                handle(req, res, ctx) {
                  hits.push({ path: ctx.path, headers: req.headers });
                  res.writeHead(200, { 'content-type': 'application/json' });
                  res.end(JSON.stringify({ upstream: true, path: ctx.path }));
                },
              },
            ]
          : [],
        async call(tool, args) {
          return { value: { tool: tool.name, args } };
        },
        async close() {},
      };
    },
  });
}

/** A manifest for the probe plugin. */
export function probeManifest(
  name: string,
  opts: { routePrefix?: string; tools?: Array<{ name: string; scope?: string }>; internal?: boolean } = {},
): string {
  let s = `[provider]\nname = "${name}"\ndescription = "${name}"\nhandler = "probe"\n`;
  if (opts.internal) s += 'internal = true\n';
  if (opts.routePrefix) s += `route_prefix = "${opts.routePrefix}"\n`;
  for (const t of opts.tools ?? []) {
    s += `\n[[tools]]\nname = "${t.name}"\ndescription = "${t.name} tool"\n`;
    if (t.scope !== undefined) s += `scope = "${t.scope}"\n`;
  }
  return s;
}

export interface PipelineHost {
  th: TestHost;
  url: string;
  dir: TempAtiDir;
  logs: LogLine[];
  hits: ProbeHit[];
  close(): Promise<void>;
}

/**
 * Starts an in-process host with the real pipeline. `config` overrides the
 * ProxyConfig (passthrough is on by default; `env` carries ATI_JWT_*).
 */
export async function startPipelineHost(
  opts: {
    files?: Record<string, string>;
    config?: Partial<ProxyConfig>;
    keyStore?: KeyStore;
    routes?: RouteModule[];
  } = {},
): Promise<PipelineHost> {
  const dir = await makeAtiDir(opts.files ?? {});
  const { logger, lines } = memoryLogger();
  const hits: ProbeHit[] = [];
  const config = defaultProxyConfig({ atiDir: dir.dir, enablePassthrough: true, env: {}, ...opts.config });
  try {
    const pipeline = buildRequestPipeline(config, { logger, ...(opts.keyStore ? { keyStore: opts.keyStore } : {}) });
    const th = await startHost(dir.dir, [probePlugin(hits)], {
      options: { atiDir: dir.dir, enablePassthrough: config.enablePassthrough, checkOnly: false },
      logger,
      loadKeyring: () => loadKeyring(config),
      stages: pipeline.stages,
      extensions: pipeline.extensions,
      services: { authMode: pipeline.authMode },
      routes: [...ROUTE_MODULES, ...(opts.routes ?? [])],
    });
    return {
      th,
      url: th.url,
      dir,
      logs: lines,
      hits,
      close: async () => {
        await th.close();
        await dir.cleanup();
      },
    };
  } catch (err) {
    await dir.cleanup();
    throw err;
  }
}

/** 32 bytes as hex: a valid HS256 secret / signing secret for tests. */
export const HEX_SECRET = '0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0';

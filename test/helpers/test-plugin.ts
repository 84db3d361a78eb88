/**
 * A trivial handler plugin for host tests only (never registered by the product).
 * `handler = "test"`: each `[[tools]]` becomes a tool whose call echoes its args;
 * `route_prefix` adds a passthrough route answering `delay_ms` later.
 */
import { Type } from '@sinclair/typebox';
import { definePlugin, PLUGIN_API_VERSION, type HandlerPlugin } from '../../core/plugin/contract.js';
import { toolFromManifest } from '../../core/tools/tool-definition.js';

export interface TestPluginProbe {
  provisions: string[];
  closes: string[];
}

export function makeTestPlugin(probe: TestPluginProbe = { provisions: [], closes: [] }, name = 'test'): HandlerPlugin {
  return definePlugin({
    apiVersion: PLUGIN_API_VERSION,
    name,
    version: '1.0.0',
    providerSchema: {
      route_prefix: Type.Optional(Type.String()),
      delay_ms: Type.Optional(Type.Integer({ minimum: 0 })),
      fail_provision: Type.Optional(Type.Boolean()),
      secret_key: Type.Optional(Type.String()),
      throw_in_call: Type.Optional(Type.Boolean()),
      hang_in_close: Type.Optional(Type.Boolean()),
    },
    validate(m) {
      const p = m.provider['route_prefix'];
      return typeof p === 'string' && !p.startsWith('/')
        ? [{ field: 'provider.route_prefix', message: 'must start with "/"' }]
        : [];
    },
    async provision(m, ctx) {
      if (m.provider['fail_provision']) throw new Error('provision failed on purpose');
      const secretKey = m.provider['secret_key'] as string | undefined;
      const secret = secretKey ? ctx.keyring.get(secretKey) : undefined;
      probe.provisions.push(m.provider.name);
      const prefix = m.provider['route_prefix'] as string | undefined;
      const delay = (m.provider['delay_ms'] as number | undefined) ?? 0;
      return {
        tools: m.tools.map((t) => toolFromManifest(m, t)),
        routes: prefix
          ? [
              {
                name: m.provider.name,
                hostMatch: null,
                pathPrefix: prefix,
                forwardWebsockets: false,
                handle(_req, res, rctx) {
                  setTimeout(() => {
                    res.writeHead(200, { 'content-type': 'application/json' });
                    res.end(
                      JSON.stringify({
                        provider: m.provider.name,
                        path: rctx.path,
                        secret: secret ?? null,
                        generation: ctx.generationId,
                      }),
                    );
                  }, delay);
                },
              },
            ]
          : [],
        async call(tool, args) {
          if (m.provider['throw_in_call']) throw new Error('kaboom in call');
          return { value: { tool: tool.name, args } };
        },
        async close() {
          probe.closes.push(m.provider.name);
          if (m.provider['hang_in_close']) await new Promise(() => undefined);
        },
      };
    },
  });
}

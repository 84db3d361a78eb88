/**
 * The `passthrough` handler plugin: each manifest becomes one raw HTTP (and
 * optionally WebSocket) reverse-proxy route, served by the host for paths no
 * named route claims when `--enable-passthrough` is on. See README.md beside
 * this file for the fields and examples.
 *
 * provision = compile the route spec (prefix, globs, timeouts) + resolve the
 * credential and extra headers from the keyring (the reads are recorded, so a
 * keyring change re-provisions the route) + create the route's undici pool
 * (lazy: no connection is opened before the first request).
 */
import { definePlugin, PLUGIN_API_VERSION } from '../../sdk/plugin.js';
import { resolveInjection } from './credentials.js';
import { ProvisionedRoute } from './passthrough-route.js';
import { compileRouteSpec } from './route-spec.js';
import { IGNORED_COMMON_FIELDS, passthroughProviderSchema } from './schema.js';
import { upstreamPoolTimeouts } from './upstream-pool.js';
import { validatePassthrough } from './validate.js';

export const passthroughPlugin = definePlugin({
  apiVersion: PLUGIN_API_VERSION,
  name: 'passthrough',
  version: '1.0.0',
  providerSchema: passthroughProviderSchema,
  ignoredCommonFields: IGNORED_COMMON_FIELDS,
  requiresTools: false,
  validate: validatePassthrough,
  async provision(manifest, ctx) {
    const spec = compileRouteSpec(manifest);
    const injection = resolveInjection(manifest.provider, ctx.keyring);
    for (const problem of [injection.authProblem, injection.extrasProblem]) {
      if (problem) {
        ctx.logger.warn(
          { route: spec.name, code: problem.code, error: problem.message },
          'passthrough route credential unavailable; requests needing it answer 500',
        );
      }
    }
    const pool = ctx.createPool(spec.origin, upstreamPoolTimeouts(spec));
    const route = new ProvisionedRoute(spec, injection, pool, ctx.logger, manifest.hash);
    return {
      tools: [],
      routes: [route],
      close: () => route.close(),
    };
  },
});

export default passthroughPlugin;

/**
 * The `http` handler plugin (plugins/http/README.md): each hand-written `[[tools]]`
 * entry is one tool that calls `base_url + endpoint` with the provider's
 * credentials. Requests are built and sent by the shared engine in
 * plugins/shared-http, the same code the `openapi` handler uses.
 */
import { definePlugin, PLUGIN_API_VERSION, type PluginIssue } from '../../sdk/plugin.js';
import { toolFromManifest } from '../../sdk/plugin.js';
import { createHttpEngine } from '../shared-http/http-engine.js';
import { compileRequestPlan } from '../shared-http/request-plan.js';
import { providerProblems, toolProblems } from '../shared-http/validate.js';
import { HttpProviderFields } from './schema.js';

export const httpPlugin = definePlugin({
  apiVersion: PLUGIN_API_VERSION,
  name: 'http',
  version: '1.0.0',
  providerSchema: HttpProviderFields,
  validate(m): PluginIssue[] {
    return [...providerProblems(m.provider), ...m.tools.flatMap((t, i) => toolProblems(t, `tools[${i}]`))];
  },
  async provision(m, ctx) {
    const tools = m.tools.map((t) => toolFromManifest(m, t, compileRequestPlan(t.method, t.endpoint, t.input_schema)));
    const engine = createHttpEngine(m, ctx);
    return { tools, call: engine.call, close: engine.close };
  },
});

export default httpPlugin;

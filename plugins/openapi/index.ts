/**
 * The `openapi` handler plugin (plugins/openapi/README.md): tools generated from an
 * OpenAPI 3.0/3.1 spec in `<ati_dir>/specs/`, named `<provider>:<operationId>`,
 * executed by the shared request engine (plugins/shared-http) exactly like
 * `http` tools. The spec file is reported to the host as an input of the
 * provider, so editing it re-provisions the provider on the next reload.
 *
 * A spec that cannot be loaded fails provisioning with the file and the reason
 * (the reference logs a warning and serves zero tools; see README.md).
 */
import { definePlugin, PLUGIN_API_VERSION, type PluginIssue, type ToolDefinition } from '../../sdk/plugin.js';
import { jsonPathProblem } from '../../sdk/plugin.js';
import { toolFromManifest } from '../../sdk/plugin.js';
import { createHttpEngine } from '../shared-http/http-engine.js';
import { compileRequestPlan } from '../shared-http/request-plan.js';
import { providerProblems, toolProblems } from '../shared-http/validate.js';
import { filterOperations, walkOperations } from './operations.js';
import { OpenApiProviderFields, openApiSettings } from './schema.js';
import { SchemaConverter } from './schema-convert.js';
import { isUrlSpec, loadSpec, URL_SPEC_MESSAGE } from './spec-loader.js';
import { buildTool } from './tool-builder.js';

export const openapiPlugin = definePlugin({
  apiVersion: PLUGIN_API_VERSION,
  name: 'openapi',
  version: '1.0.0',
  providerSchema: OpenApiProviderFields,
  validate(m): PluginIssue[] {
    const out = [...providerProblems(m.provider)];
    const s = openApiSettings(m.provider);
    if (s.spec !== undefined && isUrlSpec(s.spec))
      out.push({ field: 'provider.openapi_spec', message: URL_SPEC_MESSAGE });
    if (s.spec !== undefined && s.spec.trim() === '')
      out.push({ field: 'provider.openapi_spec', message: 'must not be empty' });
    for (const [op, o] of Object.entries(s.overrides)) {
      if (o.response_extract === undefined) continue;
      const why = jsonPathProblem(o.response_extract);
      if (why)
        out.push({
          field: `provider.openapi_overrides.${op}.response_extract`,
          message: `invalid JSONPath "${o.response_extract}": ${why}`,
        });
    }
    if (s.spec === undefined) out.push(...m.tools.flatMap((t, i) => toolProblems(t, `tools[${i}]`)));
    return out;
  },
  async provision(m, ctx) {
    const s = openApiSettings(m.provider);
    let tools: ToolDefinition[];
    let inputFiles: Map<string, string> | undefined;
    if (s.spec === undefined) {
      // No spec: hand-written [[tools]] behave exactly like http tools (as in the reference).
      tools = m.tools.map((t) => toolFromManifest(m, t, compileRequestPlan(t.method, t.endpoint, t.input_schema)));
    } else {
      const spec = await loadSpec(s.spec, ctx.specsDir);
      inputFiles = new Map([[spec.file, spec.hash]]);
      if (m.tools.length > 0) {
        ctx.logger.warn(
          { file: m.file, ignored: m.tools.length },
          'openapi provider: [[tools]] are ignored when openapi_spec is set (tools come from the spec)',
        );
      }
      const walk = walkOperations(spec.doc);
      if (walk.duplicates.length > 0) {
        ctx.logger.warn(
          { spec: spec.file, operation_ids: walk.duplicates },
          'openapi spec: duplicate operationIds; later operations skipped',
        );
      }
      const unknown = Object.keys(s.overrides).filter((id) => !walk.allIds.has(id));
      if (unknown.length > 0) {
        ctx.logger.warn(
          { spec: spec.file, overrides: unknown },
          'openapi_overrides name operations the spec does not have',
        );
      }
      const conv = new SchemaConverter(spec.doc);
      tools = filterOperations(spec.doc, walk.operations, s).map((o) =>
        buildTool(m, spec.doc, o, conv, s.overrides[o.id]),
      );
      ctx.logger.debug(
        { spec: spec.file, openapi: spec.version, operations: walk.operations.length, tools: tools.length },
        'openapi spec loaded',
      );
    }
    const engine = createHttpEngine(m, ctx);
    return { tools, call: engine.call, close: engine.close, ...(inputFiles ? { inputFiles } : {}) };
  },
});

export default openapiPlugin;

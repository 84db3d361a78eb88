/**
 * One OpenAPI operation → one tool: name
 * `<provider>:<operationId>`, the method as written (PATCH stays PATCH; the
 * reference sends PUT), description from summary/description or the override,
 * input schema built from parameters and the request body with
 * `x-ati-param-location` on every property, sorted unique tags, scope
 * `tool:<name>` unless overridden. The tool's request plan is compiled here so
 * the shared engine runs it exactly like a hand-written http tool.
 */
import type { ProviderManifest, ToolDefinition } from '../../sdk/plugin.js';
import { compileRequestPlan, type ParamLocation } from '../shared-http/request-plan.js';
import type { Operation } from './operations.js';
import { deref } from './ref-resolver.js';
import type { OperationOverrideFields } from './schema.js';
import type { SchemaConverter } from './schema-convert.js';

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const RESPONSE_FORMATS = new Set(['markdown_table', 'json', 'raw', 'text']);

/** `summary — description` when both exist and differ (as in the reference). */
export function operationDescription(op: Json): string {
  const summary = typeof op['summary'] === 'string' ? op['summary'] : '';
  const description = typeof op['description'] === 'string' ? op['description'] : '';
  if (summary && description && summary !== description) return `${summary} — ${description}`;
  return summary || description;
}

/** Collection format of an array query parameter from its `style`/`explode`. */
function collectionFormat(param: Json): string | undefined {
  const style = typeof param['style'] === 'string' ? param['style'] : 'form';
  const explode = typeof param['explode'] === 'boolean' ? param['explode'] : style === 'form';
  if (style === 'form') return explode ? 'multi' : 'csv';
  if (style === 'spaceDelimited') return 'ssv';
  if (style === 'pipeDelimited') return 'pipes';
  return undefined;
}

function pickMedia(content: Json): { schema: unknown; form: boolean } | undefined {
  const types = Object.keys(content);
  const json =
    types.find((t) => t.toLowerCase().split(';')[0]!.trim() === 'application/json') ??
    types.find((t) => /\+json\b/i.test(t));
  if (json) return { schema: (content[json] as Json | undefined)?.['schema'], form: false };
  const form = types.find((t) => t.toLowerCase().startsWith('application/x-www-form-urlencoded'));
  if (form) return { schema: (content[form] as Json | undefined)?.['schema'], form: true };
  const first = types[0];
  return first ? { schema: (content[first] as Json | undefined)?.['schema'], form: false } : undefined;
}

/** The tool's input schema: parameters first (path-level, then operation-level), then top-level body properties. */
export function buildInputSchema(doc: Json, o: Operation, conv: SchemaConverter): Json {
  conv.resetBudget();
  const properties: Json = {};
  const required = new Set<string>();
  const params = [...o.pathParams, ...(Array.isArray(o.op['parameters']) ? o.op['parameters'] : [])];
  for (const raw of params) {
    const p = deref(doc, raw);
    if (!isRecord(p) || typeof p['name'] !== 'string') continue;
    const name = p['name'];
    const loc = p['in'];
    const location: ParamLocation = loc === 'path' || loc === 'header' || loc === 'cookie' ? loc : 'query';
    let schema: unknown = p['schema'];
    if (schema === undefined && isRecord(p['content'])) schema = pickMedia(p['content'])?.schema;
    const prop = schema === undefined ? { type: 'string' } : conv.convert(schema);
    if (typeof p['description'] === 'string') prop['description'] = p['description'];
    if (p['example'] !== undefined) prop['example'] = p['example'];
    prop['x-ati-param-location'] = location;
    if (location === 'query' && prop['type'] === 'array') {
      const cf = collectionFormat(p);
      if (cf) prop['x-ati-collection-format'] = cf;
    }
    properties[name] = prop;
    if (p['required'] === true || location === 'path') required.add(name);
    else required.delete(name);
  }

  let form = false;
  const rb = deref(doc, o.op['requestBody']);
  if (isRecord(rb) && isRecord(rb['content'])) {
    const media = pickMedia(rb['content']);
    if (media && media.schema !== undefined) {
      form = media.form;
      const body = conv.convert(media.schema);
      const bodyRequired = new Set(
        rb['required'] === true && Array.isArray(body['required']) ? (body['required'] as string[]) : [],
      );
      if (isRecord(body['properties'])) {
        for (const [k, v] of Object.entries(body['properties'])) {
          // Parameters and body fields share one namespace; a body field wins (as in the reference).
          properties[k] = { ...(v as Json), 'x-ati-param-location': 'body' };
          if (bodyRequired.has(k)) required.add(k);
          else required.delete(k);
        }
      }
    }
  }

  const schema: Json = { type: 'object', properties };
  if (required.size > 0) schema['required'] = [...required];
  if (form) schema['x-ati-body-encoding'] = 'form';
  return schema;
}

export function buildTool(
  m: ProviderManifest,
  doc: Json,
  o: Operation,
  conv: SchemaConverter,
  override: OperationOverrideFields | undefined,
): ToolDefinition {
  const p = m.provider;
  const name = `${p.name}:${o.id}`;
  const inputSchema = buildInputSchema(doc, o, conv);
  const tags = [...new Set([...o.tags, ...(override?.tags ?? [])])].sort();
  const def: ToolDefinition = {
    name,
    description: override?.description ?? operationDescription(o.op),
    provider: p.name,
    handler: p.handler,
    method: o.method,
    endpoint: o.path,
    scope: override?.scope ?? `tool:${name}`,
    inputSchema,
    tags,
    hint: override?.hint ?? null,
    examples: override?.examples ?? [],
    category: p.category ?? null,
    internal: p.internal,
    skills: p.skills,
    data: compileRequestPlan(o.method, o.path, inputSchema),
  };
  if (override?.response_extract !== undefined) def.responseExtract = override.response_extract;
  if (override?.response_format !== undefined)
    def.responseFormat = RESPONSE_FORMATS.has(override.response_format) ? override.response_format : 'text';
  return def;
}
